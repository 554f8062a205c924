"""End to end: the Snakemake pipeline on .test/config (killed once, resumed, one rule rerun).

Runs ``snakemake --cores 2 all`` in a temporary working directory holding a copy of
``.test/config`` (the Snakemake workflow catalog's convention); about half a minute on 2 cores.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from clover.analysis.figure_list import FIGURE_NAMES as FIGURES
from clover.control.grid import log_columns
from clover.paths import resolve_data_dir

REPO = Path(__file__).resolve().parents[2]
TIMING = ("decision_s",)  # wall-clock columns: the only ones allowed to differ between runs

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(workdir), "--cores", "2", *args]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    """The test pipeline, killed (SIGKILL) once it has written a run log, then resumed."""
    work = tmp_path_factory.mktemp("pipeline")
    shutil.copytree(REPO / ".test" / "config", work / "config")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(work), "--cores", "2", "all"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    runs = work / "results" / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if runs.is_dir() and any(runs.rglob("*.csv")):
            break
        time.sleep(0.2)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    snakemake(work, "--unlock")
    snakemake(work, "--rerun-incomplete", "all")
    return work


def test_every_output_is_there(pipeline):
    for f in FIGURES:
        for ext in ("pdf", "png"):
            p = pipeline / "paper_figures" / f"{f}.{ext}"
            assert p.is_file() and p.stat().st_size > 1000, p
    md = (pipeline / "results" / "summary.md").read_text()
    assert "| 1 |" in md and "| 7 |" in md and "modeled, not measured" in md
    # issue 20: `all` runs the year study; its claims follow the paper's (8), beyond the paper
    for f in ("fig_j_year_tonnes", "fig_k_adapt_vs_swing", "fig_l_month_zone"):
        assert (pipeline / "paper_figures" / f"{f}.png").stat().st_size > 1000
    beyond = [line.split(" | ") for line in md.splitlines() if "*Beyond the paper" in line]
    assert [r[0] for r in beyond] == ["| 9", "| 10", "| 11", "| 12"]
    # one zone (DE), one app: Clover avoids carbon; no rank correlation over one zone
    verdicts = {r[1].split(":* ")[1]: r[4] for r in beyond}
    assert verdicts["Carbon-aware serving avoids carbon in every zone over a whole year"] == \
        "**holds**"
    assert verdicts["It avoids the most where the grid is dirtiest"] == "**not run**"
    assert all(r[5].startswith("modeled, paper protocol, 1000 req/s") for r in beyond)
    assert (pipeline / "results" / "mig" / "plan_a100-40gb.json").is_file()
    assert (pipeline / "results" / "data" / "verified.txt").is_file()
    # no temporary file left under a final name, no partial outputs
    assert not list((pipeline / "results").rglob("*.tmp"))


def test_run_logs_follow_the_contract(pipeline):
    logs = sorted((pipeline / "results" / "runs").rglob("*.csv"))
    # seeds [0, 1] (issue 18): extended main 6 seed-independent schemes once + Clover, Blover
    # twice; paper 8 schemes x 2 seeds; λ sweep 3 schemes x 2 λ x (no floor, floor) x 2 seeds;
    # 2 seasons x 3 schemes x 2 seeds
    assert len(logs) == 10 + 8 * 2 + 12 * 2 + 6 * 2
    assert len([p for p in logs if p.name.endswith("_seed1.csv")]) == 2 + 8 + 12 + 6
    for p in logs:
        df = pd.read_csv(p)
        assert list(df.columns) == list(log_columns())
        assert df["protocol"].nunique() == 1 and df["grid"].nunique() == 1
        assert df["protocol"].iloc[0] == p.relative_to(pipeline / "results" / "runs").parts[0]
        assert len(df) == 4 and (df["source"] == "modeled").all()
        assert (df["hour_s"] >= 3600).all() and (df["reconfig_s"] >= 0).all()
    base = pd.read_csv(pipeline / "results/runs/extended/main/efficientnet/CISO-March/base_lam0.1_floornone.csv")
    assert (base["reconfig_s"] == 0).all() and (base["evaluations"] == 0).all()
    summary = pd.read_csv(pipeline / "results" / "summary.csv")
    assert len(summary) == len(logs)


def test_paper_runs_charge_no_reconfiguration(pipeline):
    """Paper protocol = the artifact's run.py accounting: evaluations only, no downtime."""
    for p in sorted((pipeline / "results" / "runs" / "paper").rglob("*.csv")):
        assert (pd.read_csv(p)["reconfig_s"] == 0).all(), p


def test_decomposition_is_labelled_and_monotone(pipeline):
    d = pd.read_csv(pipeline / "results" / "decomposition.csv")
    assert set(d["grid"]) == {"decomposition"} and set(d["protocol"]) == {"paper"}
    o = d[(d["scheme"] == "oracle") & (d["trace"] != "mean")]
    assert not o.empty
    for _, g in o.groupby(["app", "trace"]):
        obj = g.set_index("step")["objective"]
        feasible = g.set_index("step")["sla_held_frac"] == 1.0
        # ORACLE with more knobs is never worse: full space ⊇ variants-only, ⊇ slices-only
        assert obj["full"] >= obj["variants"] - 1e-9
        # adapting hourly is never worse than the best single configuration (hindsight)
        assert obj["full"] >= obj["static"] - 1e-9
        if feasible["partitioning"]:
            assert obj["full"] >= obj["partitioning"] - 1e-9


def test_reference_check_has_one_row_per_artifact_log(pipeline):
    ref = pd.read_csv(pipeline / "results" / "reference_check.csv")
    logs = list((resolve_data_dir(None) / "clover_reference" / "arrival_logs").rglob("arrival=*.json"))
    assert len(logs) > 0 and len(ref) == len(logs)
    assert not ref.duplicated(["kind", "app", "load_index"]).any()
    for c in ("carbon_ratio_vs_base_light", "p95_ratio_vs_base_light"):
        assert ref[f"modeled_{c}"].notna().all() and ref[f"{c}_error_pct"].notna().all()
    md = (pipeline / "results" / "summary.md").read_text()
    assert "Where the savings come from" in md and "**Verdict:**" in md
    assert "adapting to carbon intensity pays" in md and "95% t interval" in md
    adapting = pd.read_csv(pipeline / "results" / "adapting.csv")
    assert set(adapting["reference"]) == {"static", "static-daily"}
    assert set(adapting["adaptive"]) == {"oracle", "clover"}


def _jobs(out: subprocess.CompletedProcess) -> set[str]:
    """Rules of the jobs a dry run would run (its "Job stats" table)."""
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return set()
    table = text.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
    return {row.split()[0] for row in table if row.split() and row.split()[0] != "total"}


def test_a_config_change_reruns_exactly_the_jobs_that_read_it(pipeline):
    """Each rule's rerun trigger is the config values its command reads (its `settings`
    param); the effective config file itself (results/config/<hash>.json) triggers nothing."""
    assert _jobs(snakemake(pipeline, "-n", "all")) == set()
    assert len(list((pipeline / "results" / "config").glob("*.json"))) == 1
    caption = snakemake(pipeline, "-n", "all", "--config", "embodied={source: another source}")
    assert _jobs(caption) == {"aggregate", "figure", "all"}
    # the year study's settings rerun the year's jobs and the claims table, nothing else
    service = _jobs(snakemake(pipeline, "-n", "all", "--config", "year={protocol: extended}"))
    assert service == {"year_run", "year_summary", "year_figure", "aggregate", "figure", "all"}
    seed = _jobs(snakemake(pipeline, "-n", "all", "--config", "seed=1"))
    assert {"run_paper_main", "run_extended_main", "run_paper_lam_sweep", "run_paper_regions",
            "gpu_count", "decomposition", "reference_check"} <= seed
    assert not seed & {"profile", "carbon_trace", "mig_setup", "data"}


def test_rerun_one_rule_gives_identical_results(pipeline):
    target = "results/runs/extended/main/efficientnet/CISO-March/clover_lam0.1_floornone.csv"
    before = pd.read_csv(pipeline / target)
    (pipeline / target).unlink()
    out = snakemake(pipeline, target)
    assert "1 of 1 steps" in out.stdout + out.stderr  # only that job ran (all its schemes)
    after = pd.read_csv(pipeline / target)
    pd.testing.assert_frame_equal(before.drop(columns=list(TIMING)), after.drop(columns=list(TIMING)))


def test_year_target(pipeline):
    """Issue 20: `snakemake year` on .test/config (DE 2023, efficientnet): the summary, the
    claims beyond the paper and figures (j)-(l); tonnes avoided by Clover are positive."""
    snakemake(pipeline, "year")
    summary = pd.read_csv(pipeline / "results" / "year" / "summary.csv")
    assert set(summary["scheme"]) == {"base", "static", "clover", "oracle"}
    assert (summary["hours"] == 8760).all() and (summary["zone"] == "DE").all()
    clover = summary[summary["scheme"] == "clover"].iloc[0]
    assert clover["avoided_t"] > 0 and clover["base_carbon_t"] > clover["carbon_t"]
    assert clover["adapt_value_t"] == pytest.approx(
        summary[summary["scheme"] == "static"].iloc[0]["carbon_t"] - clover["carbon_t"])
    claims = (pipeline / "results" / "year" / "claims.md").read_text()
    assert "modeled, paper protocol, 1000 req/s" in claims
    for f in ("fig_j_year_tonnes", "fig_k_adapt_vs_swing", "fig_l_month_zone"):
        assert (pipeline / "paper_figures" / f"{f}.png").stat().st_size > 1000
