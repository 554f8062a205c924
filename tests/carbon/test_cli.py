"""``clover carbon`` commands on the shared data."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest


@pytest.fixture()
def cli(run_cli, shared_data):
    def _run(*argv: str):
        return run_cli("carbon", *argv, "--data-dir", str(shared_data))
    return _run


def test_show_preset_prints_49_values_with_timestamps(cli):
    code, out, err = cli("show", "CISO-March")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == ("CISO-March: zone US-CAL-CISO, 49 hourly values from "
                        "2021-03-26T21:00:00Z, PUE 1")
    assert "mean 239.2" in lines[2]
    rows = lines[4:]
    assert len(rows) == 49
    assert rows[0].split() == ["0", "2021-03-26T21:00:00Z", "124.57"]
    assert rows[48].split() == ["48", "2021-03-28T21:00:00Z", "110.71"]


def test_show_json_csv_and_pue(cli):
    code, out, _ = cli("show", "ESO-March", "--json", "--pue", "1.5")
    data = json.loads(out)
    assert code == 0 and data["pue"] == 1.5 and len(data["ci_g_per_kwh"]) == 49
    assert data["ci_g_per_kwh"][0] == pytest.approx(1.5 * 97.0)
    assert data["timestamp_utc"][0] == "2021-03-13T22:00:00Z"
    code, out, _ = cli("show", "US-CAL-CISO:summer:2022", "--csv")
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.columns) == ["hour", "timestamp_utc", "zone", "ci_g_per_kwh", "pue"]
    assert len(frame) == 49 and frame["ci_g_per_kwh"].iloc[0] == pytest.approx(261.03)


def test_show_fill_and_zones(cli):
    code, out, _ = cli("show", "US-EIA-PJM:2022-03-13:24", "--fill", "interpolate")
    assert code == 0 and "17 missing hour(s) linearly interpolated" in out
    code, out, _ = cli("zones", "--csv")
    table = pd.read_csv(io.StringIO(out))
    assert code == 0 and len(table) == 28
    assert table.loc[table["zone"] == "US-EIA-CISO", "missing_hours"].item() == 3
    code, out, _ = cli("zones")
    assert "US-TEX-ERCO" in out and "electricitymaps" in out
    code, out, _ = cli("presets")
    assert code == 0 and "ESO-March" in out and "137.3" in out


def test_resample_flag(run_cli, tmp_path):
    (tmp_path / "carbon" / "electricitymaps").mkdir(parents=True)
    rows = "".join(f"2022-01-01T{h:02d}:{m:02d}:00Z,XX,{h * 10 + m}\n"
                   for h in range(3) for m in (0, 30))
    (tmp_path / "carbon/electricitymaps/XX.csv").write_text(
        "timestamp_utc,zone,carbon_intensity_g_per_kwh\n" + rows)
    code, _, err = run_cli("carbon", "show", "XX:2022-01-01:3", "--data-dir", str(tmp_path))
    assert code == 2 and "not strictly hourly" in err
    code, out, _ = run_cli("carbon", "show", "XX:2022-01-01:3", "--resample", "--json",
                           "--data-dir", str(tmp_path))
    assert code == 0 and json.loads(out)["ci_g_per_kwh"] == [15.0, 25.0, 35.0]
