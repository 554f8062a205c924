"""``clover run`` / ``clover optimize`` under ``--protocol paper``: log columns, BASE on k·N
GPUs, carbon saved against it, one-line errors."""

import io
import json

import pandas as pd
import pytest

from clover.control.controller import LOG_COLUMNS

PROTO_COLS = ("protocol", "space", "dispatch", "base_gpu_factor", "request_batch")


def test_log_columns_end_with_the_protocol():
    assert LOG_COLUMNS[-5:] == PROTO_COLS


def _run(run_cli, *extra):
    code, out, err = run_cli("run", "--trace", "CISO-March", "--hours", "6", *extra)
    assert code == 0, err
    return pd.read_csv(io.StringIO(out))


def test_paper_runs_base_on_k_times_n_and_others_on_n(run_cli, shared_data):
    common = ("--protocol", "paper", "--n-gpus", "2", "--app", "efficientnet")
    base = _run(run_cli, *common, "--scheme", "base")
    clover = _run(run_cli, *common, "--scheme", "clover")
    assert (base["n_gpus"] == 10).all() and (clover["n_gpus"] == 2).all()
    row = clover.iloc[0]
    assert (row.protocol, row.space, row.dispatch, row.base_gpu_factor, row.request_batch) == (
        "paper", "replicated", "fcfs", 5, 8)
    assert (clover["lam"] == 0.1).all() and clover["sla_met"].all()
    assert (base["delta_carbon_pct"].abs() < 100).all()
    saved = 1 - clover["carbon_g_per_request"].mean() / base["carbon_g_per_request"].mean()
    assert 0.5 < saved < 0.95
    assert clover["evaluations"].sum() >= 1


def test_extended_run_states_its_protocol(run_cli, shared_data):
    log = _run(run_cli, "--n-gpus", "4", "--app", "albert", "--scheme", "oracle")
    assert (log["protocol"] == "extended").all() and (log["request_batch"] == 1).all()
    assert (log["space"] == "per-gpu").all() and (log["lam"] == 0.5).all()


def test_optimize_paper_json_reports_protocol_and_carbon_saved(run_cli):
    code, out, err = run_cli("optimize", "--protocol", "paper", "--app", "albert", "--gpus", "2",
                             "--ci", "250", "--scheme", "oracle", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["protocol"] == "paper" and d["base_gpus"] == 10 and d["n_gpus"] == 2
    assert d["lam"] == 0.1 and d["sla_met"]
    assert d["carbon_saved_pct"] == pytest.approx(
        (1 - d["carbon_g_per_request"] / d["base_carbon_g_per_request"]) * 100)
    # BASE at ci = 250 is C_base itself
    assert d["base_carbon_g_per_request"] == pytest.approx(d["base_carbon_g"])


@pytest.mark.parametrize("flags, msg", [
    (("--protocol", "nope"), "unknown protocol 'nope'"),
    (("--space", "x"), "unknown space 'x'"),
    (("--dispatch", "x"), "unknown dispatch 'x'"),
    (("--base-gpu-factor", "0"), "base_gpu_factor must be an integer >= 1"),
])
def test_bad_protocol_flags_are_one_line_exit_2(run_cli, flags, msg):
    code, out, err = run_cli("optimize", "--app", "yolo", "--ci", "250", *flags)
    assert code == 2 and out == "" and err.startswith(f"clover: error: {msg}")
    assert err.count("\n") == 1
    code, _, err = run_cli("run", "--app", "yolo", "--scheme", "base", "--trace", "CISO-March",
                           *flags)
    assert code == 2 and err.startswith(f"clover: error: {msg}")
