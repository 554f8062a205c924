"""`clover optimize` end to end on the synthetic profile table."""

import json

import pytest


@pytest.fixture(scope="module")
def table(tmp_path_factory, profiles):
    path = tmp_path_factory.mktemp("prof") / "profiles.csv"
    profiles.to_csv(path, index=False)
    return str(path)


def test_optimize_prints_the_decision(run_cli, table):
    code, out, err = run_cli("optimize", "--app", "efficientnet", "--gpus", "10", "--ci", "250",
                             "--scheme", "oracle", "--profiles", table)
    assert code == 0, err
    assert "configuration:" in out and "x GPU [" in out
    assert "objective" in out and "vs SLA" in out and "(met)" in out
    assert "J/request" in out and "evaluations 0" in out


def test_optimize_json(run_cli, table):
    code, out, err = run_cli("optimize", "--app", "yolo", "--gpus", "10", "--ci", "300",
                             "--scheme", "clover", "--lam", "0.3", "--json", "--profiles", table,
                             "--param", "max_evaluations=4")
    assert code == 0, err
    d = json.loads(out)
    assert d["scheme"] == "clover" and d["n_gpus"] == 10 and d["lam"] == 0.3
    assert len(d["configuration"]["gpus"]) == 10
    assert 1 <= d["evaluations"] <= 4 and d["sla_met"]
    assert d["p95_ms"] <= d["sla_ms"] * (1 + 1e-6)


def test_optimize_base_scores_zero(run_cli, table):
    code, out, _ = run_cli("optimize", "--app", "albert", "--ci", "250", "--scheme", "base",
                           "--json", "--profiles", table)
    assert code == 0 and json.loads(out)["objective"] == pytest.approx(0.0, abs=1e-9)


def test_infeasible_sla_is_one_line_exit_2(run_cli, table):
    code, out, err = run_cli("optimize", "--app", "efficientnet", "--ci", "250", "--scheme",
                             "oracle", "--sla-factor", "0.05", "--profiles", table)
    assert code == 2 and out == ""
    assert err.startswith("clover: error: no configuration of 10 x a100-40gb")
    assert "Traceback" not in err


def test_missing_profile_file(run_cli, tmp_path):
    code, _, err = run_cli("optimize", "--app", "yolo", "--ci", "1", "--profiles",
                           str(tmp_path / "nope.csv"))
    assert code == 2 and "not found" in err
