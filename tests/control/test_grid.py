"""The pipeline's run grid as a table, labels on every log, and clover run-grid."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from clover.control.grid import (
    GRID_COLUMNS,
    grid_schemes,
    grid_table,
    label_log,
    log_columns,
    profile_batch_sizes,
    run_path,
)
from clover.control.controller import LOG_COLUMNS
from clover.errors import CloverError
from tests.workflow.test_pipeline import REPO


def config(name="config/config.yaml"):
    return yaml.safe_load((REPO / name).read_text())


def test_default_grid_counts_and_labels():
    """Issue 11 defaults: main grid under paper and extended at λ 0.1; the rest under paper."""
    t = grid_table(config())
    assert list(t.columns) == list(GRID_COLUMNS)
    n = t.groupby(["protocol", "grid"]).size()
    # 3 apps x 3 traces x 8 schemes per protocol; 2 apps x 5 λ x (no floor, 4%) x 4 schemes;
    # 16 windows x 8 schemes; issue 18: 5 seeds for every seed-dependent run (paper: all,
    # FCFS windows are seeded; extended: Clover and Blover only, the 6 others once)
    assert n.to_dict() == {("extended", "main"): 9 * (6 + 2 * 5), ("paper", "main"): 72 * 5,
                           ("paper", "lam_sweep"): 80 * 5, ("paper", "regions"): 128 * 5}
    jobs = t.groupby("grid")["job"].nunique()
    assert jobs.to_dict() == {"main": 18, "lam_sweep": 20, "regions": 16}
    assert t["path"].is_unique
    assert set(t[t.grid != "lam_sweep"]["lam"]) == {"0.1"}  # like for like across protocols
    assert set(t[t.grid == "lam_sweep"]["floor"]) == {"none", "4"}
    r = t[(t.grid == "main") & (t.app == "albert") & (t.scheme == "clover")
          & (t.trace == "ESO-March") & (t.protocol == "extended")].iloc[0]
    assert r.path == "results/runs/extended/main/albert/ESO-March/clover_lam0.1_floornone.csv"
    runs = grid_schemes(t)[("paper", "lam_sweep")]
    assert [s for s, _, _ in runs[::5]] == ["clover", "oracle", "static", "static-daily"]
    assert runs[:2] == [("clover", 0, ""), ("clover", 1, "_seed1")]
    ext = grid_schemes(t)[("extended", "main")]
    assert [s for s, k, _ in ext if k == 0] == ["base", "co2opt", "jung", "blover", "clover",
                                              "oracle", "static", "static-daily"]
    assert {s for s, k, _ in ext if k != 0} == {"blover", "clover"}
    seeded = t[(t.protocol == "extended") & (t.scheme == "clover") & (t.seed == 3)]
    assert seeded.path.str.endswith("clover_lam0.1_floornone_seed3.csv").all()


def test_null_lam_is_each_protocols_preset():
    c = config()
    c["lam"] = None
    t = grid_table(c)
    lam = t[t.grid == "main"].groupby("protocol")["lam"].unique().to_dict()
    assert list(lam["paper"]) == ["0.1"] and list(lam["extended"]) == ["0.5"]


def test_adding_the_paper_protocol_is_a_config_change():
    c = config()
    c["protocols"] = ["paper", "extended"]
    c["lam_sweep"]["protocols"] = ["paper"]
    c["regions"]["protocols"] = ["paper"]
    t = grid_table(c)
    assert t.groupby(["protocol", "grid"]).size().to_dict() == {
        ("extended", "main"): 144, ("paper", "main"): 360, ("paper", "lam_sweep"): 400,
        ("paper", "regions"): 640}
    c["protocol"] = "paper"  # the preset key (issue 10) is the default of every grid
    del c["protocols"], c["lam_sweep"]["protocols"], c["regions"]["protocols"]
    assert set(grid_table(c)["protocol"]) == {"paper"}
    c["protocols"] = ["papr"]
    with pytest.raises(CloverError, match="unknown protocol"):
        grid_table(c)


def test_profile_batch_sizes_cover_the_gpu_count_protocol():
    """An extended-only grid still needs the paper batch rows: gpu-count runs under its own
    protocol (gpu_count.protocol, paper: yolo and efficientnet 8-image requests)."""
    c = config()
    assert [profile_batch_sizes(c, a) for a in ("yolo", "albert", "efficientnet")] == [
        [1, 8], [1], [1, 8]]
    c.update(protocol="extended", protocols=["extended"])
    c["lam_sweep"]["protocols"] = c["regions"]["protocols"] = ["extended"]
    assert set(grid_table(c)["protocol"]) == {"extended"}
    assert profile_batch_sizes(c, "yolo") == [1, 8]
    c["gpu_count"]["protocol"] = "extended"
    assert profile_batch_sizes(c, "yolo") == [1, 8]  # the year study's (paper) still needs 8
    c["year"] = {"protocol": "extended"}
    assert profile_batch_sizes(c, "yolo") == [1]


def test_test_config_grid():
    t = grid_table(config(".test/config/config.yaml"))  # CI runs both protocols' main grid
    # seeds [0, 1]: extended main 6 once + Clover, Blover twice; paper every run twice
    assert len(t) == 10 + 8 * 2 + 12 * 2 + 6 * 2 and t["job"].nunique() == 2 + 4 + 2


def test_one_seed_keeps_the_one_seed_names():
    c = config()
    c["seeds"] = [0]
    t = grid_table(c)
    assert len(t) == 72 * 2 + 80 + 128 and not t.path.str.contains("_seed").any()


def test_label_log_appends_labels():
    log = pd.DataFrame([{c: 0 for c in LOG_COLUMNS}])
    if "protocol" in log:  # the controller writes the protocol it ran (issue 10)
        log["protocol"] = "extended"
        with pytest.raises(CloverError, match="asked for paper"):
            label_log(log, "paper", "main")
    out = label_log(log, "extended", "regions")
    assert list(out.columns) == list(log_columns())
    assert out["grid"].iloc[0] == "regions" and out["protocol"].iloc[0] == "extended"
    assert run_path("paper", "main", "yolo", "CISO-Sep", "oracle", "0.1", "none") == \
        "results/runs/paper/main/yolo/CISO-Sep/oracle_lam0.1_floornone.csv"


def test_run_grid_writes_one_labelled_log_per_scheme(tmp_path, run_cli):
    outs = [tmp_path / "base.csv", tmp_path / "oracle.csv"]
    code, _, err = run_cli("run-grid", "--app", "efficientnet", "--trace", "CISO-March",
                           "--hours", "2", "--n-gpus", "2", "--grid", "lam_sweep", "--schemes",
                           "base", "oracle", "--out", *map(str, outs))
    assert code == 0, err
    for scheme, p in zip(("base", "oracle"), outs):
        df = pd.read_csv(p)
        assert list(df.columns) == list(log_columns()) and len(df) == 2
        assert (df["scheme"] == scheme).all() and (df["grid"] == "lam_sweep").all()
        assert (df["protocol"] == "extended").all()
    # the same run through `clover run` gives the same log (timing column aside)
    one = tmp_path / "one.csv"
    code, _, err = run_cli("run", "--app", "efficientnet", "--trace", "CISO-March", "--hours",
                           "2", "--n-gpus", "2", "--grid", "lam_sweep", "--scheme", "oracle",
                           "--out", str(one))
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(one).drop(columns="decision_s"),
                                  pd.read_csv(outs[1]).drop(columns="decision_s"))


def test_run_grid_paper_protocol(tmp_path, run_cli):
    """Under the paper protocol BASE runs on k x N GPUs, the others on N (issue 10)."""
    outs = [tmp_path / "base.csv", tmp_path / "clover.csv"]
    code, _, err = run_cli("run-grid", "--app", "albert", "--trace", "CISO-March", "--hours", "2",
                           "--protocol", "paper", "--schemes", "base", "clover",
                           "--out", *map(str, outs))
    assert code == 0, err
    base, clover = (pd.read_csv(p) for p in outs)
    assert (base["protocol"] == "paper").all() and (clover["grid"] == "main").all()
    assert base["n_gpus"].iloc[0] == base["base_gpu_factor"].iloc[0] * clover["n_gpus"].iloc[0]


def test_run_grid_errors(tmp_path, run_cli):
    code, _, err = run_cli("run-grid", "--app", "efficientnet", "--trace", "CISO-March",
                           "--schemes", "base", "clover", "--out", str(tmp_path / "a.csv"))
    assert code == 2 and err.startswith("clover: error:") and "--out" in err
    assert not (tmp_path / "a.csv").exists()
