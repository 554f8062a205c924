"""Bad carbon input: one CloverError naming the file or field; CLI exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clover.carbon import load_trace, load_zone, read_carbon_csv
from clover.errors import CloverError

HEADER = "timestamp_utc,zone,carbon_intensity_g_per_kwh\n"


def _rows(n: int = 4, zone: str = "XX", start_hour: int = 0, ci: float = 100.0) -> str:
    return "".join(f"2022-01-01T{start_hour + h:02d}:00:00Z,{zone},{ci + h}\n" for h in range(n))


@pytest.fixture()
def data_dir(tmp_path, monkeypatch) -> Path:
    """An empty data directory with the carbon/electricitymaps layout, used via CLOVER_DATA."""
    (tmp_path / "carbon" / "electricitymaps").mkdir(parents=True)
    monkeypatch.setenv("CLOVER_DATA", str(tmp_path))
    return tmp_path


def _zone_file(data_dir: Path, text: str, zone: str = "XX") -> Path:
    path = data_dir / "carbon" / "electricitymaps" / f"{zone}.csv"
    path.write_text(text)
    return path


CASES = {
    # name: (file text, spec, message regex)
    "missing_column": ("timestamp_utc,zone\n2022-01-01T00:00:00Z,XX\n", "XX",
                       r"XX\.csv: missing column\(s\) carbon_intensity_g_per_kwh"),
    "bad_timestamp": (HEADER + _rows(2) + "yesterday,XX,5\n", "XX",
                      r"XX\.csv line 4: unparsable timestamp_utc 'yesterday'"),
    "non_hourly": (HEADER + _rows(2) + "2022-01-01T01:30:00Z,XX,7\n", "XX",
                   r"XX\.csv line 4: timestamp .* is not on the hour.*resample"),
    "duplicate_hour": (HEADER + _rows(2) + _rows(1), "XX",
                       r"XX\.csv line 4: timestamp 2022-01-01T00:00:00Z repeats an earlier hour"),
    "nan": (HEADER + _rows(2) + "2022-01-01T02:00:00Z,XX,\n", "XX",
            r"XX\.csv line 4: carbon_intensity_g_per_kwh is missing \(NaN\)"),
    "text_value": (HEADER + "2022-01-01T00:00:00Z,XX,high\n", "XX",
                   r"XX\.csv line 2: carbon_intensity_g_per_kwh is 'high'"),
    "negative": (HEADER + _rows(2) + "2022-01-01T02:00:00Z,XX,-3\n", "XX",
                 r"XX\.csv line 4: carbon_intensity_g_per_kwh = -3\.0 is negative"),
    "gap": (HEADER + _rows(2) + _rows(2, start_hour=5), "XX",
            r"zone XX .*3 missing hour\(s\).*first at 2022-01-01T02:00:00Z.*interpolate"),
    "empty": ("", "XX", r"XX\.csv is empty"),
    "unknown_zone": (HEADER + _rows(2), "YY", r"unknown zone 'YY'.*known zones: XX"),
    "unknown_season": (HEADER + _rows(2), "XX:monsoon:2022",
                       r"'monsoon' is neither a season"),
    "unknown_dataset": (HEADER + _rows(2), "XX@nowhere", r"unknown carbon dataset 'nowhere'"),
    "bad_hours": (HEADER + _rows(2), "XX:2022-01-01:0", r"hours '0' is not a positive integer"),
    "outside": (HEADER + _rows(2), "XX:2023-01-01T00:4", r"outside the XX data"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_clover_error(data_dir, case):
    text, spec, message = CASES[case]
    _zone_file(data_dir, text)
    with pytest.raises(CloverError, match=message):
        load_trace(spec)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_cli_exit_2_one_line(data_dir, run_cli, case):
    text, spec, message = CASES[case]
    _zone_file(data_dir, text)
    code, out, err = run_cli("carbon", "show", spec, "--data-dir", str(data_dir))
    assert code == 2 and out == ""
    assert err.startswith("clover: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_missing_file_and_data_dir(tmp_path, run_cli):
    with pytest.raises(CloverError, match=r"carbon trace file .*nope\.csv not found"):
        load_trace(str(tmp_path / "nope.csv"))
    with pytest.raises(CloverError, match=r"carbon trace file .*CISO_March\.csv not found"):
        load_trace("CISO-March", data_dir=tmp_path)
    code, _, err = run_cli("carbon", "show", "CISO-March", "--data-dir", str(tmp_path / "gone"))
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    code, _, err = run_cli("carbon", "zones", "--data-dir", str(tmp_path))
    assert code == 2 and "no carbon traces" in err


def test_unknown_preset_lists_presets(data_dir):
    with pytest.raises(CloverError, match="presets: CISO-March, CISO-Sep, ESO-March"):
        load_trace("CISO-April")


def test_resample_averages_within_the_hour_and_interpolate_fills(data_dir, tmp_path):
    text = HEADER + "".join(f"2022-01-01T{h:02d}:{m:02d}:00Z,XX,{10 * h + m / 30}\n"
                            for h in range(3) for m in (0, 30))
    path = _zone_file(data_dir, text)
    with pytest.raises(CloverError, match="not strictly hourly"):
        read_carbon_csv(path)
    trace = load_zone("XX", resample=True)
    np.testing.assert_allclose(trace.ci_g_per_kwh, [0.5, 10.5, 20.5])
    gap = _zone_file(data_dir, HEADER + _rows(1) + _rows(1, start_hour=3, ci=103.0), zone="GG")
    filled = load_trace(str(gap), fill="interpolate")
    np.testing.assert_allclose(filled.ci_g_per_kwh, [100, 101, 102, 103])
    assert filled.filled_hours == 2


def test_pue_below_one_is_rejected(shared_data, run_cli):
    code, _, err = run_cli("carbon", "show", "CISO-March", "--pue", "0.5",
                           "--data-dir", str(shared_data))
    assert code == 2 and "--pue must be within [1, 10]" in err
