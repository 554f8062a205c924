"""A short real live run: the Clover scheme drives the CPU service over a compressed carbon trace."""

from __future__ import annotations

import math

import pandas as pd
import pytest

pytestmark = [pytest.mark.live, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_clover_drives_the_live_cpu_service(live_service, tmp_path, shared_data):
    from clover.serve.live import CONTRACT_COLUMNS, LOG_COLUMNS, LiveSettings, run_live

    s = LiveSettings(app="efficientnet", scheme="clover", trace="CISO-March", hours=2,
                     hour_seconds=4.0, search="sim", calib_iterations=3, out_dir=str(tmp_path),
                     seed=0, data_dir=str(shared_data))
    lines: list[str] = []
    log = run_live(s, log=lines.append, service=live_service)
    assert list(log.columns) == list(LOG_COLUMNS)
    assert list(log.columns[: len(CONTRACT_COLUMNS)]) == list(CONTRACT_COLUMNS)
    assert len(log) == 2 and list(log["hour"]) == [0, 1]
    assert set(log["source"]) == {"measured-cpu"} and set(log["backend"]) == {"live-cpu"}
    assert (log["answered"] == log["requests"]).all() and (log["requests"] > 0).all()
    assert (log["failed"] == 0).all()
    assert all(math.isfinite(x) and x > 0 for x in log["p95_ms"])
    assert all(math.isfinite(x) and x > 0 for x in log["energy_j_per_request"])
    assert set(log["energy_source"]) == {"modeled"}  # no RAPL here: labelled
    assert log["input_note"].iloc[0].startswith("inputs scaled to 0.15")
    assert 78.0 < log["accuracy"].min() <= log["accuracy"].max() < 85.0
    # the carbon column follows the measured energy and the hour's intensity (PUE 1.5)
    expect = log["energy_j_per_request"] / 3.6e6 * log["ci_g_per_kwh"] * 1.5
    assert (log["carbon_g_per_request"] - expect).abs().max() < 1e-12
    on_disk = pd.read_csv(tmp_path / f"{s.run_name}.csv")
    assert len(on_disk) == 2 and list(on_disk.columns) == list(LOG_COLUMNS)
    assert any("BASE measured" in line for line in lines)
    assert (tmp_path / f"{s.run_name}_requests").is_dir()
