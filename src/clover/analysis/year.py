"""The year study's tables and claims (issue 20): month rows → annual summary → "beyond the
paper" claims.

Inputs are the month rows of :mod:`clover.control.year` (one file per app × zone). Every
number is **modeled** (modeled per-slice profiles, simulated FCFS serving) under the protocol
named in each row (the paper protocol by default), for a stated service of ``service_rps``
requests/s served all year (the N-GPU deployment replicated ``service_rps / R`` times).

Summary columns (one row per zone × app × scheme):

* ``carbon_t``: annual carbon, tonnes CO₂e, overheads included; ``base_carbon_t`` BASE's;
  ``avoided_t`` = BASE's − the scheme's; ``avoided_pct`` = ``avoided_t`` / BASE's × 100;
* ``accuracy_pct`` (hour mean), ``accuracy_change_pts`` = the scheme's − BASE's, in points;
  ``delta_accuracy_pct`` (the paper's relative ΔAccuracy, hour mean); ``objective`` (f,
  hour mean);
* ``hours``, ``hours_sla_met`` (hours whose chosen configuration met the SLA), ``filled_hours``;
* ``adapt_value_t`` = ``static``'s tonnes − the scheme's (carbon that adapting hourly avoids
  beyond the best fixed configuration chosen with hindsight) and ``adapt_value_f_pts`` = the
  scheme's mean f − ``static``'s (NaN where ``static`` did not run);
* ``ci_mean_g_per_kwh`` and ``daily_swing_g_per_kwh``: the zone's mean intensity and the mean
  over days of (max − min) within the UTC day.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from clover.errors import CloverError

#: figures of the year study (clover.analysis.year_figures), in order
YEAR_FIGURES = ("fig_j_year_tonnes", "fig_k_adapt_vs_swing", "fig_l_month_zone")
#: summary columns, in order
SUMMARY_COLUMNS = (
    "zone", "dataset", "year", "app", "scheme", "protocol", "seed", "lam", "service_rps",
    "carbon_t", "base_carbon_t", "avoided_t", "avoided_pct", "energy_mwh", "accuracy_pct",
    "accuracy_change_pts", "delta_accuracy_pct", "objective", "hours", "hours_sla_met",
    "filled_hours", "adapt_value_t", "adapt_value_f_pts", "ci_mean_g_per_kwh",
    "daily_swing_g_per_kwh", "source",
)
#: the schemes whose value of adapting is reported (adaptive, against ``static``)
ADAPTIVE = ("clover", "oracle")
_KEYS = ["zone", "dataset", "year", "app"]


def read_parts(paths: list[str]) -> pd.DataFrame:
    """The month rows of every part file, in the order given."""
    from clover.control.year import MONTH_COLUMNS
    from clover.tables import read_checked_csv

    frames = [read_checked_csv(p, "year part", MONTH_COLUMNS) for p in paths]
    if not frames:
        raise CloverError("year: no part files given")
    return pd.concat(frames, ignore_index=True)


def annual(monthly: pd.DataFrame) -> pd.DataFrame:
    """Month rows summed to one row per zone × app × scheme (means from sums / hours)."""
    keys = _KEYS + ["scheme", "protocol", "seed", "lam", "service_rps", "source"]
    sums = ["carbon_t", "energy_mwh", "accuracy_sum", "delta_accuracy_pct_sum",
            "objective_sum", "hours", "hours_sla_met", "swing_sum_g_per_kwh", "days",
            "ci_sum_g_per_kwh"]
    g = monthly.assign(ci_sum_g_per_kwh=monthly["ci_mean_g_per_kwh"] * monthly["hours"])
    a = g.groupby(keys, sort=False, dropna=False)[sums].sum().reset_index()
    a["filled_hours"] = g.groupby(keys, sort=False, dropna=False)["filled_hours"].first().values
    a["accuracy_pct"] = a["accuracy_sum"] / a["hours"]
    a["delta_accuracy_pct"] = a["delta_accuracy_pct_sum"] / a["hours"]
    a["objective"] = a["objective_sum"] / a["hours"]
    a["ci_mean_g_per_kwh"] = a["ci_sum_g_per_kwh"] / a["hours"]
    a["daily_swing_g_per_kwh"] = a["swing_sum_g_per_kwh"] / a["days"]
    return a


def _against(a: pd.DataFrame, scheme: str, cols: dict[str, str]) -> pd.DataFrame:
    """Columns ``cols`` (new name -> column) of ``scheme``'s row of each zone × app."""
    ref = a.loc[a["scheme"] == scheme, _KEYS + list(cols.values())]
    return a.merge(ref.rename(columns={v: k for k, v in cols.items()}), on=_KEYS, how="left")


def summarize(monthly: pd.DataFrame) -> pd.DataFrame:
    """The annual summary (module docstring), one row per zone × app × scheme."""
    a = annual(monthly)
    a = _against(a, "base", {"base_carbon_t": "carbon_t", "base_accuracy": "accuracy_pct"})
    a["avoided_t"] = a["base_carbon_t"] - a["carbon_t"]
    a["avoided_pct"] = a["avoided_t"] / a["base_carbon_t"] * 100.0
    a["accuracy_change_pts"] = a["accuracy_pct"] - a["base_accuracy"]
    if (a["scheme"] == "static").any():
        a = _against(a, "static", {"static_t": "carbon_t", "static_f": "objective"})
        a["adapt_value_t"] = a["static_t"] - a["carbon_t"]
        a["adapt_value_f_pts"] = a["objective"] - a["static_f"]
    else:
        a["adapt_value_t"] = a["adapt_value_f_pts"] = math.nan
    a.loc[~a["scheme"].isin(ADAPTIVE), ["adapt_value_t", "adapt_value_f_pts"]] = math.nan
    return a[list(SUMMARY_COLUMNS)].reset_index(drop=True)


def monthly_table(monthly: pd.DataFrame) -> pd.DataFrame:
    """The month rows with BASE's tonnes and the tonnes avoided beside each scheme's."""
    keys = _KEYS + ["month"]
    base = monthly.loc[monthly["scheme"] == "base", keys + ["carbon_t"]]
    out = monthly.merge(base.rename(columns={"carbon_t": "base_carbon_t"}), on=keys, how="left")
    out["avoided_t"] = out["base_carbon_t"] - out["carbon_t"]
    out["ci_mean_g_per_kwh"] = out["ci_mean_g_per_kwh"].astype(float)
    return out


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN for fewer than 3 points."""
    x, y = pd.Series(list(x), dtype=float), pd.Series(list(y), dtype=float)
    ok = x.notna() & y.notna()
    if ok.sum() < 3:
        return math.nan
    rx, ry = x[ok].rank(), y[ok].rank()
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def stated(summary: pd.DataFrame) -> str:
    """The caption's statement: modeled, protocol, service, datasets."""
    protocols = "/".join(sorted(summary["protocol"].astype(str).unique()))
    rps = "/".join(f"{x:g}" for x in sorted(summary["service_rps"].unique()))
    sets = ", ".join(f"{d} {y}" for d, y in
                     summary[["dataset", "year"]].drop_duplicates().itertuples(index=False))
    return f"modeled, {protocols} protocol, {rps} req/s served all year ({sets})"


def _fmt(x: float, nd: int = 1) -> str:
    return "n/a" if x is None or not math.isfinite(float(x)) else f"{float(x):,.{nd}f}"


def claim_everywhere(summary: pd.DataFrame) -> tuple[str, str]:
    """Clover avoids carbon against BASE in every zone and app over a year."""
    c = summary[summary["scheme"] == "clover"]
    if c.empty:
        return "clover not run", "not run"
    lo, hi = c["avoided_pct"].min(), c["avoided_pct"].max()
    total = c["avoided_t"].sum()
    worst = c.loc[c["avoided_pct"].idxmin()]
    measured = (f"Clover avoids {_fmt(lo)}–{_fmt(hi)} % of BASE's annual carbon in "
                f"{len(c)} zone × app years ({_fmt(total, 0)} t in all; least: "
                f"{worst['zone']} {worst['app']})")
    return measured, "holds" if lo > 0 else "does not hold"


def claim_where(summary: pd.DataFrame) -> tuple[str, str]:
    """Tonnes avoided follow the zone's mean intensity (Spearman, over zones, per app)."""
    c = summary[summary["scheme"] == "clover"]
    if c.empty:
        return "clover not run", "not run"
    rhos = {app: spearman(d["ci_mean_g_per_kwh"], d["avoided_t"]) for app, d in c.groupby("app")}
    top = (c.groupby("zone")["avoided_t"].sum().sort_values(ascending=False).head(3))
    measured = ("Spearman ρ(zone mean ci, tonnes avoided) " + ", ".join(
        f"{a} {_fmt(r, 2)}" for a, r in rhos.items()) + "; most tonnes: " + ", ".join(
        f"{z} {_fmt(t, 0)} t" for z, t in top.items()))
    ok = [r for r in rhos.values() if math.isfinite(r)]
    if not ok:  # a rank correlation needs 3 zones (with distinct values)
        return measured + " (fewer than 3 zones, or no spread: no correlation)", "not run"
    verdict = "holds" if min(ok) >= 0.8 else "partly" if min(ok) > 0 else "does not hold"
    return measured, verdict


def claim_adapting(summary: pd.DataFrame) -> tuple[str, str]:
    """Adapting hourly (Clover, ORACLE) beats the best fixed configuration (STATIC)."""
    a = summary[summary["scheme"].isin(ADAPTIVE) & summary["adapt_value_t"].notna()]
    if a.empty:
        return "static not run", "not run"
    parts, gains = [], []
    for scheme, d in a.groupby("scheme"):
        share = d["adapt_value_t"] / d["carbon_t"].where(d["carbon_t"] > 0) * 100.0
        gains.append(d["adapt_value_f_pts"].mean())
        parts.append(f"{scheme}: {_fmt(d['adapt_value_t'].sum(), 1)} t/year in all "
                     f"({_fmt(share.mean(), 2)} % of its carbon), f {_fmt(d['adapt_value_f_pts'].mean(), 3)} "
                     f"points, ρ(daily swing, t) "
                     f"{_fmt(spearman(d['daily_swing_g_per_kwh'], d['adapt_value_t']), 2)}")
    best = max(gains)
    verdict = "holds" if best >= 0.5 else "marginal" if best > 0 else "does not hold"
    return "; ".join(parts), verdict


def claim_season(monthly: pd.DataFrame) -> tuple[str, str]:
    """Clover's tonnes avoided per day vary by month (max / min, summed over zones and apps;
    per day, so that February's 28 days do not count as a season)."""
    m = monthly[monthly["scheme"] == "clover"]
    if m.empty:
        return "clover not run", "not run"
    by = (m["avoided_t"] / m["days"]).groupby(m["month"]).sum()
    ratio = by.max() / by.min() if by.min() > 0 else math.inf
    measured = (f"most per day in month {int(by.idxmax())} ({_fmt(by.max(), 1)} t/day), least "
                f"in month {int(by.idxmin())} ({_fmt(by.min(), 1)} t/day), ratio {_fmt(ratio, 2)}")
    return measured, "holds" if ratio >= 1.2 else "does not hold"


#: key -> (statement, basis, function of (summary, monthly))
YEAR_CLAIMS = {
    "year-everywhere": ("Carbon-aware serving avoids carbon in every zone over a whole year",
                        "Clover vs BASE, annual tonnes per zone × app; holds if > 0 everywhere",
                        lambda s, m: claim_everywhere(s)),
    "year-where": ("It avoids the most where the grid is dirtiest",
                   "Spearman ρ over zones of mean ci vs Clover's tonnes avoided; holds if "
                   "ρ ≥ 0.8 for every app, partly if > 0", lambda s, m: claim_where(s)),
    "year-adapting": ("Adapting hourly to carbon intensity pays over a year",
                      "adaptive − STATIC (one configuration, hindsight): tonnes and mean f; "
                      "holds if f gains ≥ 0.5 points, marginal if > 0",
                      lambda s, m: claim_adapting(s)),
    "year-season": ("The saving depends on the month",
                    "Clover's tonnes avoided per day of each month, summed over zones and "
                    "apps; holds if max/min ≥ 1.2", lambda s, m: claim_season(m)),
}
#: columns of the year claims table
CLAIM_COLUMNS = ("key", "statement", "measured", "verdict", "basis", "stated")


def year_claims(summary: pd.DataFrame, monthly: pd.DataFrame) -> pd.DataFrame:
    """The "beyond the paper" claims rows (:data:`CLAIM_COLUMNS`), all modeled."""
    rows = []
    for key, (statement, basis, fn) in YEAR_CLAIMS.items():
        measured, verdict = fn(summary, monthly)
        rows.append((key, statement, measured, verdict, basis, stated(summary)))
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


def claims_markdown(claims: pd.DataFrame) -> str:
    """``results/year/claims.md``: the year claims as a table."""
    lines = ["# Beyond the paper: a year in every zone", "",
             f"All numbers {claims['stated'].iloc[0]}.", "",
             "| Statement | Measured | Verdict | Basis |", "|---|---|---|---|"]
    for r in claims.itertuples():
        cells = [str(x).replace("|", "\\|") for x in (r.statement, r.measured, r.verdict, r.basis)]
        lines.append(f"| {cells[0]} | {cells[1]} | **{cells[2]}** | {cells[3]} |")
    return "\n".join(lines) + "\n"
