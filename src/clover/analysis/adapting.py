"""The value of adapting to carbon intensity (issue 18): adaptive schemes against the
non-adaptive references, in every study.

For each protocol, grid, app, trace, λ, floor and seed, an adaptive scheme (ORACLE, Clover)
is compared with a reference (``static``: the best single configuration over the whole trace,
chosen with **hindsight**; ``static-daily``: yesterday's best, no hindsight), on the realised
run totals of :func:`clover.analysis.aggregate.summarize_runs` (online evaluations and
reconfigurations included):

* ``objective_gain_pts`` = adaptive − reference mean hourly objective (points of f);
* ``carbon_saved_pct`` = (1 − adaptive ÷ reference carbon per request)·100 (% carbon per
  request that adapting saves; negative = adapting costs carbon);
* ``accuracy_gain_pts`` = adaptive − reference accuracy (percentage points).

Seed-independent runs (ORACLE, static, static-daily under the extended protocol) are paired
with every seed of the seeded scheme (:func:`clover.analysis.stats.per_seed`). Every number
comes from modeled profiles unless the runs' ``source`` says otherwise.
"""

from __future__ import annotations

import pandas as pd

from clover.analysis.stats import Interval, per_seed, t_interval

#: adaptive schemes and the references they are measured against
ADAPTIVE = ("oracle", "clover")
REFERENCES = ("static", "static-daily")
KEYS = ("protocol", "grid", "app", "trace", "lam", "floor", "seed")
COLUMNS = (*KEYS, "adaptive", "reference", "objective_gain_pts", "carbon_saved_pct",
           "accuracy_gain_pts", "adaptive_configurations", "source")
#: the columns of a gain, with their unit as the claims table writes it
GAINS = {"objective_gain_pts": ("points of f", 2, ""),
         "carbon_saved_pct": ("carbon per request", 1, "%"),
         "accuracy_gain_pts": ("accuracy points", 2, "")}


def adapting_table(runs: pd.DataFrame, hourly: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (study cell, seed, adaptive scheme, reference): :data:`COLUMNS`.
    ``adaptive_configurations``: distinct configurations the adaptive run deployed (from
    ``hourly``; NaN without)."""
    if runs.empty or not set(REFERENCES) & set(runs["scheme"]):
        return pd.DataFrame(columns=list(COLUMNS))
    r = per_seed(runs)
    keys = [k for k in KEYS if k in r.columns]
    idx = r.set_index(keys + ["scheme"])
    n_cfg = None
    if hourly is not None and "config_key" in hourly.columns:
        n_cfg = hourly.groupby(keys + ["scheme"])["config_key"].nunique()
    rows = []
    for a in ADAPTIVE:
        for ref in REFERENCES:
            x = idx.xs(a, level="scheme") if a in set(r["scheme"]) else None
            y = idx.xs(ref, level="scheme") if ref in set(r["scheme"]) else None
            if x is None or y is None:
                continue
            both = x.add_suffix("_a").join(y.add_suffix("_r"), how="inner")
            # two seed-independent runs form one pair, not one per seed
            both = both[~(both["seed_repeated_a"] & both["seed_repeated_r"])]
            for key, b in both.iterrows():
                cells = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
                rows.append({**cells, "adaptive": a, "reference": ref,
                             "objective_gain_pts": b["objective_a"] - b["objective_r"],
                             "carbon_saved_pct": (1 - b["carbon_g_per_request_a"]
                                                  / b["carbon_g_per_request_r"]) * 100.0,
                             "accuracy_gain_pts": b["accuracy_a"] - b["accuracy_r"],
                             "adaptive_configurations": float(n_cfg.get((*key, a), float("nan")))
                             if n_cfg is not None else float("nan"),
                             "source": b["source_a"]})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def gain(table: pd.DataFrame, adaptive: str, reference: str, col: str = "objective_gain_pts",
         **labels) -> Interval:
    """Mean [95 % t interval] of one gain over the rows (seeds × traces × apps) that match."""
    t = table[(table["adaptive"] == adaptive) & (table["reference"] == reference)]
    for k, v in labels.items():
        t = t[t[k] == v]
    return t_interval(t[col].to_numpy(float))


def gain_text(table: pd.DataFrame, adaptive: str, reference: str, **labels) -> str:
    """``+1.23 [0.9, 1.6] points of f, 2.1% [..] carbon per request, −0.1 [..] accuracy points``
    with the significance of the objective gain."""
    parts = []
    for col, (unit, nd, u) in GAINS.items():
        iv = gain(table, adaptive, reference, col, **labels)
        parts.append(f"{iv.fmt(nd, u)} {unit}")
    f = gain(table, adaptive, reference, **labels)
    sig = "significant" if f.significant else "not significant"
    return ", ".join(parts) + f" (n = {f.n}; {sig} at 5%)"


def claim_adapting(table: pd.DataFrame, lam: float) -> tuple[str, str] | None:
    """(measured, verdict) of the claim "adapting to carbon intensity pays" on the main grid
    at ``lam`` without a floor; None when the references did not run.

    reproduced: ORACLE beats static (hindsight) by ≥ 0.5 points of f and Clover beats
    static-daily, both significant at 5 %; partly: either of the two is a significant gain;
    else not reproduced."""
    t = table[(table["grid"] == "main") & (table["floor"] == "none")
              & ((table["lam"].astype(float) - lam).abs() < 1e-9)]
    if t.empty:
        return None
    o_s = gain(t, "oracle", "static")
    c_d = gain(t, "clover", "static-daily")
    measured = "; ".join(
        f"{a_l} − {r_l}: {gain_text(t, a, r)}"
        for a, a_l in (("oracle", "ORACLE"), ("clover", "Clover"))
        for r, r_l in (("static", "static (hindsight)"), ("static-daily", "static-daily"))
        if gain(t, a, r).n)
    cfg = t[(t["adaptive"] == "oracle") & (t["reference"] == "static")]["adaptive_configurations"]
    if cfg.notna().any():
        measured += (f"; ORACLE deploys {cfg.min():.0f}–{cfg.max():.0f} configurations per "
                     "trace")
    big = o_s.significant and o_s.mean >= 0.5
    daily = c_d.significant and c_d.mean > 0
    from clover.analysis.readings import ladder

    return measured, ladder((big and daily, "reproduced"),
                            ((o_s.significant and o_s.mean > 0) or daily, "partly"))


def adapting_lines(table: pd.DataFrame) -> list[str]:
    """Markdown table rows: per protocol, grid, app and λ (floor none), each adaptive scheme
    against each reference, the three gains with their intervals over seeds × traces."""
    if table.empty:
        return ["(static and static-daily not run)"]
    lines = ["| protocol | grid | app | λ | adaptive − reference | points of f | % carbon per "
             "request | accuracy points | n |", "|---|---|---|---|---|---|---|---|---|"]
    t = table[table["floor"] == "none"]
    for (p, g, app, lam), c in t.groupby(["protocol", "grid", "app", "lam"], sort=False):
        for (a, r), d in c.groupby(["adaptive", "reference"], sort=False):
            ivs = [t_interval(d[col].to_numpy(float)) for col in GAINS]
            lines.append(f"| {p} | {g} | {app} | {float(lam):g} | {a} − {r} | "
                         f"{ivs[0].fmt(2)} | {ivs[1].fmt(1, '%')} | {ivs[2].fmt(2)} | "
                         f"{ivs[0].n} |")
    return lines
