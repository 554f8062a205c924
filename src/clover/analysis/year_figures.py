"""Figures (j)–(l) of the year study (issue 20), drawn from ``results/year/summary.csv`` and
``results/year/monthly.csv`` (:mod:`clover.analysis.year`). Every value is modeled, under the
protocol the rows name, at the stated service (requests/s served all year)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from clover.analysis.year import stated  # noqa: E402
from clover.errors import CloverError  # noqa: E402

from clover.analysis.year import YEAR_FIGURES  # noqa: E402,F401
_LABEL = {"base": "BASE", "static": "STATIC (hindsight)", "static-daily": "STATIC-DAILY",
          "co2opt": "CO2OPT", "jung": "JUNG", "blover": "Blover", "clover": "Clover",
          "oracle": "ORACLE"}


def _zone_order(summary: pd.DataFrame) -> list[str]:
    """Zones by mean intensity, highest first."""
    z = summary.groupby("zone")["ci_mean_g_per_kwh"].first().sort_values(ascending=False)
    return list(z.index)


def fig_j_year_tonnes(summary: pd.DataFrame, monthly: pd.DataFrame) -> plt.Figure:
    """(j) Annual tonnes avoided against BASE, by zone (rows) and scheme (bars), per app."""
    apps = sorted(summary["app"].unique())
    zones = _zone_order(summary)
    schemes = [s for s in _LABEL if s != "base" and s in set(summary["scheme"])]
    fig, axes = plt.subplots(1, len(apps), figsize=(4.2 * len(apps), 0.32 * len(zones) + 1.8),
                             sharey=True, squeeze=False)
    h = 0.8 / max(len(schemes), 1)
    y = np.arange(len(zones))
    for ax, app in zip(axes[0], apps):
        s = summary[summary["app"] == app].set_index(["zone", "scheme"])["avoided_t"]
        for i, scheme in enumerate(schemes):
            vals = [s.get((z, scheme), np.nan) for z in zones]
            ax.barh(y + (i - (len(schemes) - 1) / 2) * h, vals, height=h, label=_LABEL[scheme])
        ax.set_title(app)
        ax.set_xlabel("tonnes CO₂e avoided vs BASE / year")
        ax.axvline(0, color="k", lw=0.6)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y, zones)
    axes[0][0].invert_yaxis()
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"(j) Annual carbon avoided by zone (zones by mean intensity, highest first)\n"
                 f"{stated(summary)}", fontsize=9)
    fig.tight_layout()
    return fig


def fig_k_adapt_vs_swing(summary: pd.DataFrame, monthly: pd.DataFrame) -> plt.Figure:
    """(k) Value of adapting (adaptive − STATIC, tonnes/year) against the zone's mean daily
    intensity swing; one point per zone, a panel per app, Clover and ORACLE."""
    s = summary[summary["scheme"].isin(["clover", "oracle"])]
    if s.empty or s["adapt_value_t"].isna().all():
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "(k) not drawn: the year study ran no 'static' scheme, or no Clover/"
                "ORACLE\n(add them to config year.schemes)", ha="center", va="center")
        return fig
    apps = sorted(s["app"].unique())
    fig, axes = plt.subplots(1, len(apps), figsize=(4.2 * len(apps), 3.6), squeeze=False)
    for ax, app in zip(axes[0], apps):
        for scheme, marker in (("clover", "o"), ("oracle", "x")):
            d = s[(s["app"] == app) & (s["scheme"] == scheme)]
            ax.scatter(d["daily_swing_g_per_kwh"], d["adapt_value_t"], marker=marker, s=22,
                       label=_LABEL[scheme])
        d = s[(s["app"] == app) & (s["scheme"] == "oracle")]
        for _, r in d.loc[d["adapt_value_t"].abs().nlargest(4).index].iterrows():
            ax.annotate(r["zone"], (r["daily_swing_g_per_kwh"], r["adapt_value_t"]),
                        fontsize=5, alpha=0.7)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(app)
        ax.set_xlabel("mean daily swing of ci (max − min), g/kWh")
        ax.set_ylabel("tonnes/year avoided by adapting vs STATIC")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"(k) Value of adapting hourly against the grid's daily swing "
                 f"(STATIC: best fixed configuration, hindsight)\n{stated(summary)}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def fig_l_month_zone(summary: pd.DataFrame, monthly: pd.DataFrame) -> plt.Figure:
    """(l) Heat map, month × zone, of Clover's tonnes avoided against BASE per day of the
    month (so that month lengths do not show as seasons), per app."""
    m = monthly[monthly["scheme"] == "clover"]
    if m.empty:
        raise CloverError("figure fig_l_month_zone: the year study ran no 'clover' scheme")
    apps = sorted(m["app"].unique())
    zones = _zone_order(summary)
    fig, axes = plt.subplots(1, len(apps), figsize=(3.6 * len(apps) + 1, 0.3 * len(zones) + 1.8),
                             sharey=True, squeeze=False)
    for ax, app in zip(axes[0], apps):
        grid = (m[m["app"] == app].assign(per_day=lambda d: d["avoided_t"] / d["days"])
                .pivot_table(index="zone", columns="month", values="per_day", aggfunc="sum")
                .reindex(index=zones, columns=range(1, 13)))
        im = ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="viridis")
        ax.set_xticks(range(12), [str(i) for i in range(1, 13)], fontsize=7)
        ax.set_xlabel("month")
        ax.set_title(app)
        fig.colorbar(im, ax=ax, label="tonnes avoided per day", shrink=0.8)
    axes[0][0].set_yticks(range(len(zones)), zones, fontsize=7)
    fig.suptitle(f"(l) Clover's carbon avoided vs BASE per day, by month and zone\n{stated(summary)}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def make_year_figure(which: str, summary: pd.DataFrame, monthly: pd.DataFrame) -> plt.Figure:
    fn = {f.__name__: f for f in (fig_j_year_tonnes, fig_k_adapt_vs_swing,
                                  fig_l_month_zone)}.get(which)
    if fn is None:
        raise CloverError(f"unknown year figure {which!r} (known: {', '.join(YEAR_FIGURES)})")
    if summary.empty:
        raise CloverError("year: the summary has no rows")
    return fn(summary, monthly)
