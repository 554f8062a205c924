"""Means with 95 % confidence intervals over seeds × traces, and paired comparisons (issue 18).

Method (docs/pipeline.md, "Seeds and intervals"): a number of the claims table is the mean of
n per-run values (one per seed × trace, and × app where the claim pools apps); its interval is
the Student t interval ``mean ± t_{0.975, n−1} · s / √n`` (s the sample standard deviation).
A paired comparison of schemes A and B takes the per-run differences A − B over the same
seeds and traces and reports their mean, its t interval and the two-sided p-value of the paired
t test (H0: mean difference 0); "significant" means p < 0.05. Runs that do not depend on the
seed (run once) are paired with every seed of the scheme they are compared with
(:func:`per_seed`). With n = 1 there is no interval (NaN bounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

#: the confidence level of every interval, and the significance level of every test
LEVEL = 0.95
ALPHA = 0.05


@dataclass(frozen=True)
class Interval:
    """A mean and its t interval (``lo``, ``hi``) over ``n`` values; ``p`` is the two-sided
    p-value of the t test of mean 0 (paired comparisons), NaN when n < 2."""

    mean: float
    lo: float
    hi: float
    n: int
    p: float = math.nan

    @property
    def half(self) -> float:
        return (self.hi - self.lo) / 2.0

    @property
    def significant(self) -> bool:
        """p < 0.05 (a difference distinguishable from 0 at the 5 % level)."""
        return math.isfinite(self.p) and self.p < ALPHA

    def fmt(self, nd: int = 1, unit: str = "") -> str:
        """``78.5% [77.9, 79.1]`` (the interval in brackets; no brackets when n < 2)."""
        if not math.isfinite(self.mean):
            return "n/a"
        head = f"{self.mean:.{nd}f}{unit}"
        if not math.isfinite(self.lo):
            return head
        return f"{head} [{self.lo:.{nd}f}, {self.hi:.{nd}f}]"


def t_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """Mean of ``values`` (NaNs dropped) with its Student t interval and the t test of 0."""
    from scipy import stats

    x = np.asarray([v for v in np.asarray(values, dtype=float) if math.isfinite(v)])
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        return Interval(mean, mean, mean, n, 1.0 if mean == 0 else 0.0)
    se = sd / math.sqrt(n)
    q = float(stats.t.ppf(0.5 + level / 2.0, n - 1))
    t = mean / se
    p = float(2.0 * stats.t.sf(abs(t), n - 1))
    return Interval(mean, mean - q * se, mean + q * se, n, p)


def paired(a: Sequence[float], b: Sequence[float]) -> Interval:
    """The paired comparison of ``a`` and ``b`` (same order): t interval of a − b, p-value."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired: {a.shape} values against {b.shape}")
    return t_interval(a - b)


def per_seed(runs: pd.DataFrame, keys: Sequence[str] = ("protocol", "grid")) -> pd.DataFrame:
    """``runs`` with every seed-independent run (one seed where others of its ``keys`` group
    have several) repeated for each seed of that group, flagged ``seed_repeated``; pairing
    by seed then compares a seeded scheme's run k with the one deterministic run."""
    out = [runs.assign(seed_repeated=False)]
    run_keys = [c for c in ("protocol", "grid", "app", "trace", "scheme", "lam", "floor")
                if c in runs.columns]
    for _, g in runs.groupby(list(keys), sort=False):
        seeds = sorted(set(g["seed"]))
        if len(seeds) < 2:
            continue
        counts = g.groupby(run_keys)["seed"].transform("nunique")
        single = g[counts == 1]
        for s in seeds:
            extra = single[single["seed"] != s]
            if not extra.empty:
                out.append(extra.assign(seed=s, seed_repeated=True))
    return pd.concat(out, ignore_index=True)


def paired_schemes(runs: pd.DataFrame, a: str, b: str, col: str,
                   on: Sequence[str] = ("app", "trace", "lam", "floor", "seed")) -> Interval:
    """Paired ``col`` of scheme ``a`` minus scheme ``b`` over the runs both have (matched on
    ``on``; seed-independent runs repeated per seed, :func:`per_seed`)."""
    r = per_seed(runs) if "seed" in runs.columns else runs
    on = [c for c in on if c in r.columns]
    rep = "seed_repeated" if "seed_repeated" in r.columns else None
    cols = [col] + ([rep] if rep else [])
    x = r[r["scheme"] == a].set_index(on)[cols]
    y = r[r["scheme"] == b].set_index(on)[cols]
    both = x.add_suffix("_a").join(y.add_suffix("_r"), how="inner")
    if rep:  # two seed-independent runs form one pair, not one per seed
        both = both[~(both[f"{rep}_a"] & both[f"{rep}_r"])]
    both = both.rename(columns={f"{col}_a": "a", f"{col}_r": "b"})[["a", "b"]].dropna()
    return paired(both["a"].to_numpy(), both["b"].to_numpy())
