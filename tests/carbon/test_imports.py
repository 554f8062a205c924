"""Carbon data you bring (issue 22, item 4): Electricity Maps and WattTime exports read by
header, with hand-computed values (unit conversion, 5-minute averaging) and bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from clover.carbon import load_trace, parse_trace_spec
from clover.carbon.imports import LBS_PER_MWH_TO_G_PER_KWH, file_kind, read_trace_file
from clover.errors import CloverError

# the header of the shared traces' sources (sustain-cluster's Electricity Maps portal export)
EM_OLD = ("Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
          "Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,"
          "Data Source,Data Estimated,Data Estimation Method\n")
# the later portal layout
EM_NEW = ("Datetime (UTC),Country,Zone name,Zone id,Carbon intensity gCO₂eq/kWh (direct),"
          "Carbon intensity gCO₂eq/kWh (Life cycle),Carbon-free energy percentage (CFE%),"
          "Renewable energy percentage (RE%),Data source,Data estimated,Data estimation method\n")


def _em_rows(direct_lca: list[tuple[str, str]], zone: str = "DE") -> str:
    return "".join(f"2023-01-01 {h:02d}:00:00,Germany,Germany,{zone},{d},{l},50,40,x,false,\n"
                   for h, (d, l) in enumerate(direct_lca))


def _wt_points(hour: int, minutes, value) -> list[dict]:
    return [{"point_time": f"2023-07-01T{hour:02d}:{m:02d}:00+00:00",
             "value": value(m) if callable(value) else value, "version": "3.2"} for m in minutes]


def _wt_json(path, points, units="lbs_co2_per_mwh", region="CAISO_NORTH"):
    meta = {"region": region, "signal_type": "co2_moer", "units": units}
    path.write_text(json.dumps({"meta": meta, "data": points}))
    return path


@pytest.fixture()
def wt_points():
    """Hour 0: 12 points of 1000 lbs/MWh -> 453.59237 g/kWh. Hour 1: 9 of 12 points
    (10, 20, 30 missing), 500 + minute lbs/MWh: mean minute (0+5+15+25+35+40+45+50+55)/9 = 30,
    so 530 lbs/MWh -> 530 x 0.45359237 = 240.4039561 g/kWh."""
    return (_wt_points(0, range(0, 60, 5), 1000.0)
            + _wt_points(1, [m for m in range(0, 60, 5) if m not in (10, 20, 30)],
                         lambda m: 500.0 + m))


def test_pound_conversion_is_exact():
    assert LBS_PER_MWH_TO_G_PER_KWH == 0.45359237


@pytest.mark.parametrize("header", [EM_OLD, EM_NEW], ids=["LCA", "Life-cycle"])
def test_electricitymaps_export_reads_life_cycle_by_default(tmp_path, header):
    path = tmp_path / "de_export.csv"
    path.write_text(header + _em_rows([("300.5", "350.25"), ("310", "360"), ("290", "340.5")]))
    trace = load_trace(str(path))
    assert trace.zone == "DE" and trace.name == str(path)
    assert trace.timestamps_utc[0] == pd.Timestamp("2023-01-01T00:00Z")
    np.testing.assert_array_equal(trace.ci_g_per_kwh, [350.25, 360.0, 340.5])
    column = "LCA" if header is EM_OLD else "Life cycle"
    assert f"{path} (Electricity Maps export)" in trace.source
    assert f"(LCA)'" in trace.source or "(Life cycle)'" in trace.source
    assert column in trace.source and "life-cycle" in trace.source

    direct = load_trace(f"{path}#direct")
    np.testing.assert_array_equal(direct.ci_g_per_kwh, [300.5, 310.0, 290.0])
    assert direct.name == f"{path}#direct" and "(direct)'" in direct.source
    assert load_trace(direct.name).ci_g_per_kwh.tolist() == direct.ci_g_per_kwh.tolist()


def test_electricitymaps_empty_hour_is_missing_only_with_fill(tmp_path):
    path = tmp_path / "em.csv"
    path.write_text(EM_OLD + _em_rows([("1", "100"), ("1", ""), ("1", "200")]))
    with pytest.raises(CloverError, match=r"em\.csv line 3: carbon_intensity_g_per_kwh is "
                                          r"missing"):
        load_trace(str(path))
    trace = load_trace(str(path), fill="interpolate")
    np.testing.assert_allclose(trace.ci_g_per_kwh, [100.0, 150.0, 200.0])
    assert trace.filled_hours == 1 and "1 row(s) without a value" in trace.source


@pytest.mark.parametrize("form", ["json", "csv"])
def test_watttime_moer_converted_and_averaged_to_the_hour(tmp_path, wt_points, form):
    if form == "json":
        path = _wt_json(tmp_path / "moer.json", wt_points)
    else:
        path = tmp_path / "moer.csv"
        pd.DataFrame(wt_points).assign(region="CAISO_NORTH").to_csv(path, index=False)
    trace = load_trace(str(path))
    assert trace.zone == "CAISO_NORTH" and trace.hours == 2
    assert list(trace.timestamps_utc) == list(pd.date_range("2023-07-01", periods=2, freq="h",
                                                             tz="UTC"))
    np.testing.assert_allclose(trace.ci_g_per_kwh, [453.59237, 240.4039561], rtol=0, atol=1e-9)
    assert ("column 'value': lbs CO2/MWh x 0.45359237 = g/kWh, 5-minute points averaged to "
            "the hour (at least 9 of 12)") in trace.source
    assert str(path) in trace.source


def test_watttime_hour_with_too_few_points(tmp_path, wt_points):
    points = wt_points + _wt_points(2, range(0, 40, 5), 100.0)  # 8 of 12 points
    path = _wt_json(tmp_path / "sparse.json", points)
    with pytest.raises(CloverError) as err:
        load_trace(str(path))
    assert str(err.value) == (
        f"WattTime file {path}: hour 2023-07-01T02:00Z has 8 of 12 points, fewer than the 9 "
        "(75%) an hourly average needs; 1 such hour(s) (cut the file to whole hours, or "
        "--fill interpolate to treat them as missing)")
    trace = load_trace(str(path), fill="interpolate")  # the sparse last hour drops off the end
    assert trace.hours == 2 and "1 hour(s) with fewer than 9 points treated as missing" \
        in trace.source


def test_watttime_sparse_hour_inside_is_interpolated_with_fill(tmp_path):
    points = (_wt_points(0, range(0, 60, 5), 1000.0) + _wt_points(1, [0, 5], 1.0)
              + _wt_points(2, range(0, 60, 5), 2000.0))
    trace = load_trace(str(_wt_json(tmp_path / "gap.json", points)), fill="interpolate")
    np.testing.assert_allclose(trace.ci_g_per_kwh, [453.59237, 680.388555, 907.18474])
    assert trace.filled_hours == 1


def test_carbon_import_writes_the_tidy_format(run_cli, tmp_path, wt_points):
    src = _wt_json(tmp_path / "moer.json", wt_points)
    out = tmp_path / "tidy.csv"
    code, stdout, err = run_cli("carbon", "import", str(src), "--out", str(out))
    assert code == 0, err
    assert out.read_text() == ("timestamp_utc,zone,carbon_intensity_g_per_kwh\n"
                               "2023-07-01T00:00:00Z,CAISO_NORTH,453.59237\n"
                               "2023-07-01T01:00:00Z,CAISO_NORTH,240.4039561\n")
    assert stdout.startswith(f"{out}: 2 hourly values of zone CAISO_NORTH")
    assert read_trace_file(out).kind == "tidy"
    np.testing.assert_allclose(load_trace(str(out)).ci_g_per_kwh, [453.59237, 240.4039561])


def test_carbon_show_direct_flag(run_cli, tmp_path):
    path = tmp_path / "em.csv"
    path.write_text(EM_NEW + _em_rows([("80", "120")]))
    code, out, err = run_cli("carbon", "show", str(path), "--direct", "--csv")
    assert code == 0, err
    assert out.splitlines()[1].split(",")[3] == "80.0"
    code, _, err = run_cli("carbon", "show", "CISO-March", "--direct")
    assert code == 2 and err.startswith("clover: error: --direct applies to a trace file")


def test_file_kind_by_header():
    assert file_kind(["timestamp_utc", "zone", "carbon_intensity_g_per_kwh", "x"]) == "tidy"
    assert file_kind(EM_NEW.strip().split(",")) == "electricitymaps"
    assert file_kind(["point_time", "value", "version"]) == "watttime"
    assert file_kind(["time", "co2"]) is None
    assert parse_trace_spec("a/b.JSON").kind == "file"
    spec = parse_trace_spec("x.csv#direct")
    assert (spec.kind, spec.path, spec.basis) == ("file", "x.csv", "direct")


BAD = {
    # name: (file name, text, message regex)
    "unknown_columns": ("x.csv", "time,co2\n2023-01-01,1\n",
                        r"x\.csv has columns time, co2; expected a tidy trace \(timestamp_utc, "
                        r"zone, carbon_intensity_g_per_kwh\), an Electricity Maps export "
                        r"\('Datetime \(UTC\)' and .*\) or a WattTime MOER export"),
    "em_no_direct": ("em.csv", "Datetime (UTC),Carbon intensity gCO₂eq/kWh (Life cycle)\n"
                     "2023-01-01 00:00:00,5\n", None),
    "em_bad_value": ("em.csv", EM_OLD + _em_rows([("1", "lots")]),
                     r"em\.csv line 2: Carbon Intensity gCO₂eq/kWh \(LCA\) is 'lots', not a "
                     r"number"),
    "em_bad_time": ("em.csv", EM_OLD + "noon,G,G,DE,1,2,0,0,x,false,\n",
                    r"em\.csv line 2: unparsable Datetime \(UTC\) 'noon'"),
    "em_negative": ("em.csv", EM_OLD + _em_rows([("1", "-2")]),
                    r"em\.csv line 2: carbon_intensity_g_per_kwh = -2.0 is negative"),
    "wt_units": ("w.json", json.dumps({"meta": {"units": "percentile"}, "data": [
        {"point_time": "2023-01-01T00:00:00Z", "value": 50}]}),
                 r"w\.json: meta\.units is 'percentile'; only 'lbs_co2_per_mwh'"),
    "wt_not_json": ("w.json", "{oops", r"w\.json is not valid JSON"),
    "wt_no_data": ("w.json", json.dumps({"meta": {}}), r"w\.json is JSON without a 'data' list"),
    "wt_negative": ("w.csv", "point_time,value\n2023-01-01T00:00:00Z,-3\n",
                    r"w\.csv record 1: value '-3' is not a non-negative number \(lbs CO2/MWh\)"),
    "wt_repeat": ("w.csv", "point_time,value\n2023-01-01T00:00:00Z,3\n2023-01-01T00:00:00Z,4\n",
                  r"w\.csv record 2: point_time 2023-01-01T00:00:00Z repeats"),
    "wt_odd_step": ("w.csv", "point_time,value\n2023-01-01T00:00:00Z,3\n"
                    "2023-01-01T00:07:00Z,4\n", r"points are 420 s apart"),
    "wt_implausible": ("w.csv", "point_time,value\n2023-01-01T00:00:00Z,9000\n",
                       r"w\.csv line 2: carbon_intensity_g_per_kwh = 4082.33133 is above"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_are_one_line_errors(run_cli, tmp_path, name):
    file_name, text, message = BAD[name]
    path = tmp_path / file_name
    path.write_text(text)
    argv = ("carbon", "show", f"{path}#direct" if name == "em_no_direct" else str(path))
    code, out, err = run_cli(*argv)
    assert code == 2 and out == ""
    assert err.startswith("clover: error: ") and err.count("\n") == 1, err
    assert re.search(message or r"has no direct column \(expected 'Carbon Intensity "
                     r"gCO₂eq/kWh \(direct\)' or 'Carbon intensity gCO₂eq/kWh \(direct\)'\)",
                     err), err


def test_direct_of_a_non_electricitymaps_file_and_bad_suffix(tmp_path, wt_points):
    path = _wt_json(tmp_path / "m.json", wt_points)
    with pytest.raises(CloverError, match="direct .* only in Electricity Maps exports"):
        load_trace(f"{path}#direct")
    with pytest.raises(CloverError, match=r"column 'net' after '#' is not one of lifecycle, "
                                          r"direct"):
        parse_trace_spec("a.csv#net")


def test_run_reads_a_watttime_file_as_its_trace(run_cli, tmp_path, wt_points):
    """``clover run --trace FILE`` takes any spec load_trace reads: the log's intensity is the
    converted hourly mean and its trace column the file."""
    src = _wt_json(tmp_path / "moer.json", wt_points)
    out = tmp_path / "log.csv"
    code, _, err = run_cli("run", "--app", "efficientnet", "--scheme", "base", "--trace",
                           str(src), "--out", str(out))
    assert code == 0, err
    log = pd.read_csv(out)
    np.testing.assert_allclose(log["ci_g_per_kwh"], [453.59237, 240.4039561])
    assert set(log["trace"]) == {str(src)}
