"""Short real live runs: BASE and Clover drive the CPU service over a compressed carbon trace
through the one controller (``clover live`` = ``clover run --backend live``), and their logs
aggregate like simulated ones."""

from __future__ import annotations

import math

import pandas as pd
import pytest

pytestmark = [pytest.mark.live, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

G_PER_J = 1.5 / 3.6e6  # PUE / (J per kWh): carbon g = energy J x ci g/kWh x G_PER_J


@pytest.fixture(scope="module")
def live_logs(live_service, tmp_path_factory, shared_data):
    """``clover live`` runs of BASE and Clover, 2 hours of 3 s each, on the shared service."""
    from clover.cli import build_parser
    from clover.control.cli import live_command

    out = tmp_path_factory.mktemp("live")
    lines: list[str] = []
    logs = {}
    for scheme in ("base", "clover"):
        args = build_parser("live").parse_args([
            "live", "--app", "efficientnet", "--scheme", scheme, "--trace", "CISO-March",
            "--hours", "2", "--hour-seconds", "3", "--calib-iterations", "3", "--seed", "0",
            "--out-dir", str(out), "--data-dir", str(shared_data)])
        logs[scheme] = live_command(args, service=live_service, log=lines.append)
    return out, logs, lines


def test_clover_drives_the_live_cpu_service(live_logs):
    from clover.control.grid import log_columns
    from clover.sim.runlog import CONTRACT_COLUMNS, LIVE_COLUMNS, LOG_COLUMNS

    out, logs, lines = live_logs
    log = logs["clover"]
    # the simulated log's columns, then the live measured extras
    assert list(log.columns) == list(log_columns()) + list(LIVE_COLUMNS)
    assert list(log.columns[: len(LOG_COLUMNS)]) == list(LOG_COLUMNS)
    assert list(log.columns[: len(CONTRACT_COLUMNS)]) == list(CONTRACT_COLUMNS)
    assert len(log) == 2 and list(log["hour"]) == [0, 1]
    assert set(log["source"]) == {"measured-cpu"} and set(log["backend"]) == {"live-cpu"}
    assert set(log["grid"]) == {"live"} and set(log["protocol"]) == {"extended"}
    assert set(log["search"]) == {"sim"}
    assert (log["answered"] == log["requests"]).all() and (log["requests"] > 0).all()
    assert (log["failed"] == 0).all()
    assert all(math.isfinite(x) and x > 0 for x in log["p95_ms"])
    assert all(math.isfinite(x) and x > 0 for x in log["energy_j_per_request"])
    assert set(log["energy_source"]) == {"modeled"}  # no RAPL here: labelled
    assert log["input_note"].iloc[0].startswith("inputs scaled to 0.15")
    assert 78.0 < log["accuracy"].min() <= log["accuracy"].max() < 85.0
    # the carbon column follows the measured energy and the hour's intensity (PUE 1.5)
    expect = log["energy_j_per_request"] * log["ci_g_per_kwh"] * G_PER_J
    assert (log["carbon_g_per_request"] - expect).abs().max() < 1e-12
    # every hour deploys (measured), candidates were scored by the simulator (no windows)
    assert (log["reconfig_s"] > 0).all() and (log["evaluation_energy_j"] == 0).all()
    on_disk = pd.read_csv(out / "efficientnet_cpu_clover_CISO-March.csv")
    assert len(on_disk) == 2 and list(on_disk.columns) == list(log.columns)
    assert any("BASE measured" in line for line in lines)
    assert (out / "efficientnet_cpu_clover_CISO-March_requests").is_dir()


def test_live_logs_aggregate_like_simulated_ones(live_logs):
    from clover.analysis.aggregate import combine_logs, summarize_runs

    out, logs, _ = live_logs
    hourly = combine_logs(sorted(out.glob("efficientnet_cpu_*_CISO-March.csv")))
    assert len(hourly) == 4
    # each hour's totals: the measured deploy(s) plus the measured serving window (the CSV
    # keeps 10 significant digits, hence the relative tolerances)
    h = hourly
    assert h["hour_carbon_g"].to_numpy() == pytest.approx(
        (h["hour_energy_j"] * h["ci_g_per_kwh"] * G_PER_J).to_numpy(), rel=1e-9)
    serve_j = h["energy_j_per_request"] * h["answered"]
    assert h["hour_energy_j"].to_numpy() == pytest.approx(
        (h["reconfig_energy_j"] + serve_j).to_numpy(), rel=1e-9)
    assert (h["hour_requests"] == h["answered"]).all()  # a deploy serves no request
    assert h["hour_s"].to_numpy() == pytest.approx((h["reconfig_s"] + 3.0).to_numpy(), rel=1e-9)
    runs = summarize_runs(hourly).set_index("scheme")
    assert set(runs.index) == {"base", "clover"}
    for scheme, log in logs.items():
        r = runs.loc[scheme]
        assert r.hours == 2 and r.backend == "live-cpu" and r.source == "measured-cpu"
        assert r.carbon_g == pytest.approx(log["hour_carbon_g"].sum(), rel=1e-9)
        assert r.energy_j == pytest.approx(log["hour_energy_j"].sum(), rel=1e-9)
        assert r.requests == log["hour_requests"].sum() == log["answered"].sum()
        assert r.carbon_g_per_request == pytest.approx(r.carbon_g / r.requests, rel=1e-12)
        assert r.reconfig_s == pytest.approx(log["reconfig_s"].sum(), rel=1e-9)
    base, clover = runs.loc["base"], runs.loc["clover"]
    assert base.carbon_saved_pct == pytest.approx(0.0, abs=1e-9)
    assert clover.carbon_saved_pct == pytest.approx(
        (1 - clover.carbon_g_per_request / base.carbon_g_per_request) * 100, rel=1e-12)
    assert clover.base_accuracy == pytest.approx(base.accuracy, rel=1e-12)
