"""Aggregation, headline table and figures on synthetic logs with known totals."""

from __future__ import annotations

import pandas as pd
import pytest

from clover.analysis.aggregate import (
    combine_logs,
    embodied_savings,
    hourly_gap,
    read_log,
    summarize_runs,
)
from clover.analysis.summary import build_claims, render_markdown
from clover.errors import CloverError
from tests.analysis.synthetic import gpu_table, write_grid


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grid")
    paths = write_grid(tmp)
    hourly = combine_logs(paths)
    return paths, hourly, summarize_runs(hourly)


def test_carbon_saved_and_accuracy_change_against_base(grid):
    _, hourly, runs = grid
    r = runs[(runs.app == "efficientnet") & (runs.trace == "CISO-March") & (runs.scheme == "clover")
             & (runs.lam == 0.5) & (runs.floor == "none")].iloc[0]
    # same seed -> same ci: carbon ratio is exactly the scheme's factor
    assert r.carbon_saved_pct == pytest.approx(77.0)
    assert r.accuracy_change_pct == pytest.approx((83.6 / 84.582 - 1) * 100)
    assert r.hours == 6 and r.evaluations == 9  # 3 evaluations in hours 0, 2, 4
    base = runs[(runs.scheme == "base")]
    assert (base.carbon_saved_pct.abs() < 1e-9).all()


def test_gap_to_oracle(grid):
    _, hourly, runs = grid
    main = runs[(runs.lam == 0.5) & (runs.floor == "none")]
    o = main[main.scheme == "oracle"]
    assert (o.objective_gap_vs_oracle.abs() < 1e-9).all()
    gap = hourly_gap(hourly)
    assert len(gap) > 0 and {"gap", "oracle", "scheme"} <= set(gap.columns)


def test_embodied_savings():
    e = embodied_savings(gpu_table(), 318.0)
    c = e[(e.app == "yolo") & (e.scheme == "clover")].iloc[0]
    assert c.gpus_saved == 5 and c.embodied_saved_kg == pytest.approx(5 * 318.0)


def test_claims_and_markdown(grid):
    _, _, runs = grid
    gpus = embodied_savings(gpu_table(), 318.0)
    claims = {c.key: c for c in build_claims(runs, gpus, 0.5, 318.0, "Chien et al.")}
    ext = {k: c.result("extended").verdict for k, c in claims.items()}
    assert ext["carbon"] == "reproduced"  # 77% saved, SLA met every hour
    assert ext["oracle"] == "reproduced"
    assert ext["overhead"] == "reproduced"  # 1.5 vs 4 evaluations per hour
    assert ext["lambda"] == "reproduced"
    assert ext["regions"] == "reproduced"
    assert ext["gpus"] == "reproduced"
    # no paper-protocol rows: the paper column says so, the verdict says whose it is
    assert all(c.result("paper").verdict == "not run" for c in claims.values())
    assert claims["carbon"].verdict == "reproduced (extended only)"
    assert claims["carbon"].reason.startswith("paper protocol not run")
    # no data under any protocol (no GPU-count table): said plainly, not "under no protocol"
    bare = {c.key: c for c in build_claims(runs, None, 0.5, 318.0, "Chien et al.")}
    assert bare["gpus"].verdict == "not run"
    assert bare["gpus"].reason == "not run in this grid under either protocol"
    assert "no protocol" not in render_markdown(runs, None, 0.5, 318.0, "Chien et al.", "model")
    md = render_markdown(runs, gpus, 0.5, 318.0, "Chien et al.", "model")
    assert "| 1 |" in md and "modeled, not measured" in md and "**reproduced**" in md
    assert "| Paper's statement | Paper protocol | Extended protocol | Verdict |" in md
    row = next(line for line in md.splitlines() if line.startswith("| 1 |"))
    assert row.split(" | ")[2] == "not run"


def test_accuracy_loss_in_points(grid):
    _, _, runs = grid
    r = runs[(runs.grid == "main") & (runs.app == "yolo") & (runs.scheme == "clover")].iloc[0]
    assert r.accuracy_loss_points == pytest.approx(84.582 - 83.6)
    # the λ sweep runs no BASE: it is compared with the main grid's BASE, same app and trace
    s = runs[(runs.grid == "lam_sweep") & (runs.lam == 0.5) & (runs.floor == "none")
             & (runs.scheme == "clover")].iloc[0]
    assert s.carbon_saved_pct == pytest.approx(77.0)


def test_protocols_are_compared_apart(tmp_path):
    """Paper-protocol rows get their own BASE and ORACLE and their own column."""
    from tests.analysis.synthetic import synthetic_log

    paths = []
    for protocol, factor in (("paper", 1.0), ("extended", 1.0)):
        for scheme in ("base", "clover", "oracle", "blover"):
            df = synthetic_log("albert", "CISO-Sep", scheme, protocol=protocol)
            if protocol == "paper" and scheme == "base":  # BASE on k*N GPUs: twice the carbon
                df["hour_carbon_g"] *= 2.0
            p = tmp_path / f"{protocol}_{scheme}.csv"
            df.to_csv(p, index=False)
            paths.append(p)
    runs = summarize_runs(combine_logs(paths))
    c = runs[runs.scheme == "clover"].set_index("protocol")["carbon_saved_pct"]
    assert c["extended"] == pytest.approx(77.0)
    assert c["paper"] == pytest.approx((1 - 0.23 / 2.0) * 100)
    claims = {k.key: k for k in build_claims(runs, None, 0.5, 318.0, "x")}
    assert claims["carbon"].result("paper").verdict == "reproduced"
    assert claims["carbon"].verdict == "reproduced" and claims["carbon"].reason == ""


def test_bad_logs(tmp_path):
    with pytest.raises(CloverError, match="not found"):
        read_log(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"hour": [0]}).to_csv(bad, index=False)
    with pytest.raises(CloverError, match="missing column"):
        read_log(bad)
    with pytest.raises(CloverError, match="no controller logs"):
        combine_logs([])


def test_year_claims_are_rows_beyond_the_paper(grid):
    """Issue 20: the year study's claims follow the paper's, numbered on, in the protocol
    column they ran under, with their verdict and basis."""
    from clover.analysis.year import monthly_table, summarize, year_claims
    from tests.analysis.test_year import _monthly

    _, _, runs = grid
    gpus = embodied_savings(gpu_table(), 318.0)
    monthly = _monthly()
    yc = year_claims(summarize(monthly), monthly_table(monthly))
    md = render_markdown(runs, gpus, 0.5, 318.0, "Chien et al.", "model", year_claims=yc)
    n_paper = len(build_claims(runs, gpus, 0.5, 318.0, "Chien et al."))
    rows = [line for line in md.splitlines() if "*Beyond the paper" in line]
    assert [r.split(" | ")[0] for r in rows] == [f"| {n_paper + i}" for i in range(1, 5)]
    first = rows[0].split(" | ")
    assert first[1].endswith("Carbon-aware serving avoids carbon in every zone over a whole year")
    assert first[2].startswith("Clover avoids") and first[2].endswith("(**holds**)")
    assert first[3] == "not run"  # the year ran the paper protocol only
    assert first[4] == "**holds**"
    assert first[5].startswith("modeled, paper protocol, 1000 req/s served all year")
    assert first[6].startswith("Clover vs BASE, annual tonnes")
    # without the year's claims the table ends with the paper's
    assert "Beyond the paper" not in render_markdown(runs, gpus, 0.5, 318.0, "Chien et al.",
                                                     "model")
