"""The interval code against a textbook example, and the seed pairing of the claims table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from clover.analysis.stats import paired, paired_schemes, per_seed, t_interval

# Student (1908) / Cushny & Peebles (1905): extra hours of sleep of 10 patients under two
# drugs (R's `sleep` data set). R: t.test(g1, g2, paired = TRUE) gives t = -4.0621, df = 9,
# p-value = 0.002833, 95 percent CI -2.4598858 -0.7001142, mean difference -1.58.
G1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
G2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_paired_t_interval_matches_the_textbook():
    iv = paired(G1, G2)
    assert iv.n == 10
    assert iv.mean == pytest.approx(-1.58)
    assert iv.lo == pytest.approx(-2.4598858, abs=1e-6)
    assert iv.hi == pytest.approx(-0.7001142, abs=1e-6)
    assert iv.p == pytest.approx(0.002833, abs=1e-6)
    assert iv.significant
    assert iv.fmt(2) == "-1.58 [-2.46, -0.70]"


def test_one_sample_interval_by_hand():
    """Group 2: mean 2.33, s = 2.002; t_{0.975, 9} = 2.262157, so 2.33 ± 1.4323."""
    iv = t_interval(G2)
    s = pd.Series(G2).std()
    assert s == pytest.approx(2.002, abs=1e-3)
    assert iv.mean == pytest.approx(2.33)
    assert iv.half == pytest.approx(2.262157 * s / math.sqrt(10), rel=1e-6)


def test_degenerate_samples():
    one = t_interval([3.0])
    assert one.mean == 3.0 and math.isnan(one.lo) and one.fmt(1) == "3.0"
    flat = t_interval([2.0, 2.0, 2.0])
    assert (flat.lo, flat.hi) == (2.0, 2.0) and flat.significant
    assert not t_interval([0.0, 0.0]).significant
    assert t_interval([]).fmt() == "n/a"


def _runs():
    rows = []
    for trace in ("t1", "t2"):
        for seed in (0, 1, 2):  # a seeded scheme: one run per seed
            rows.append({"protocol": "extended", "grid": "main", "app": "a", "trace": trace,
                         "scheme": "clover", "lam": 0.1, "floor": "none", "seed": seed,
                         "objective": 1.0 + seed + (trace == "t2")})
        for scheme, f in (("oracle", 5.0), ("static", 4.0)):  # seed-independent: run once
            rows.append({"protocol": "extended", "grid": "main", "app": "a", "trace": trace,
                         "scheme": scheme, "lam": 0.1, "floor": "none", "seed": 0,
                         "objective": f + (trace == "t2")})
    return pd.DataFrame(rows)


def test_seed_independent_runs_pair_with_every_seed_but_count_once_against_each_other():
    runs = _runs()
    expanded = per_seed(runs)
    assert len(expanded[expanded["scheme"] == "oracle"]) == 6  # 2 traces × 3 seeds
    assert expanded[expanded["scheme"] == "oracle"]["seed_repeated"].sum() == 4
    c = paired_schemes(runs, "oracle", "clover", "objective")
    assert c.n == 6 and c.mean == pytest.approx(3.0)  # 5 − (1, 2, 3) per trace
    o = paired_schemes(runs, "oracle", "static", "objective")
    assert o.n == 2 and o.mean == pytest.approx(1.0)  # one pair per trace, not per seed
