"""Paper figures, one per claim, from the aggregated tables (matplotlib, Agg backend).

Each ``fig_*`` function takes the hourly table, the per-run summary and the GPU-count table
and returns a :class:`matplotlib.figure.Figure`; :func:`save` writes PDF and PNG atomically
and without timestamps, so the same inputs give the same files. Every figure carries a
footnote saying whether the per-slice profiles were measured or modeled. Figures (a)–(d) are
here, the side studies (e)–(i) in :mod:`clover.analysis.figures_studies`, the shared pieces in
:mod:`clover.analysis.figures_common`. Bars and curves are means over seeds × traces with their
95 % t interval (:mod:`clover.analysis.stats`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from clover.analysis.aggregate import SCHEME_LABEL, hourly_gap, protocols, select
from clover.analysis.figure_list import FIGURE_NAMES
from clover.analysis.figures_common import (
    COLORS,
    PROTOCOL_STYLE,
    _footnote,
    _grouped_bars,
    _main,
    _per_hour,
    _protocol_handles,
    _protocol_note,
    _schemes,
    band,
    interval_table,
    plt,
    save,
)
from clover.analysis.figures_studies import (
    fig_e_lambda_floor,
    fig_f_regions_seasons,
    fig_g_gpus_embodied,
    fig_h_decomposition,
    fig_i_reference_check,
)
from clover.errors import CloverError

__all__ = ["FIGURES", "make_figure", "save"]


def fig_a_carbon_accuracy(hourly, runs, gpus, lam: float, **_) -> plt.Figure:
    main = _main(runs, lam)
    t = interval_table(main, ["protocol", "app", "scheme"],
                       {"saved": "carbon_saved_pct", "acc": "accuracy_loss_points"})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.1))
    _grouped_bars(axes[0], t, "saved", "saved_lo", "saved_hi")
    axes[0].set_ylabel("carbon saved vs BASE (%)")
    axes[0].set_title("Carbon per request saved\n(realised: search and reconfiguration included)")
    _grouped_bars(axes[1], t, "acc", "acc_lo", "acc_hi")
    axes[1].set_ylabel("accuracy loss vs BASE (points)")
    axes[1].set_title("Accuracy loss (BASE − scheme, as run.py)")
    handles, labels = axes[1].get_legend_handles_labels()
    proxies = _protocol_handles(t)
    handles, labels = handles + proxies, labels + [h.get_label() for h in proxies]
    fig.legend(handles, labels, ncol=min(len(labels), 6), loc="lower center",
               bbox_to_anchor=(0.5, 0.05), frameon=False)  # below the panels, off the data
    seeds = main["seed"].nunique() if "seed" in main else 1
    fig.suptitle(f"(a) Carbon saved and accuracy loss per scheme (λ = {lam:g}; bars: mean over "
                 f"{', '.join(sorted(set(main['trace'])))} × {seeds} seeds; whiskers: 95% t "
                 "interval)\nstatic = one configuration for the whole trace, chosen with "
                 "hindsight; static-daily = yesterday's best", fontsize=9)
    _footnote(fig, main, _protocol_note(main))
    fig.tight_layout(rect=(0, 0.17, 1, 0.93))
    return fig


def fig_b_latency_sla(hourly, runs, gpus, lam: float, **_) -> plt.Figure:
    h = _main(hourly, lam)
    present = protocols(h)
    h = select(h, protocol=present[0])  # the first protocol (paper when it ran)
    apps = list(dict.fromkeys(h["app"]))
    fig, axes = plt.subplots(1, len(apps), figsize=(3.2 * len(apps), 3.4), squeeze=False)
    for ax, app in zip(axes[0], apps):
        a = h[h["app"] == app]
        schemes = _schemes(a)
        data = [(a[a["scheme"] == s]["p95_ms"] / a[a["scheme"] == s]["sla_ms"]).to_numpy()
                for s in schemes]
        bp = ax.boxplot(data, tick_labels=[SCHEME_LABEL[s] for s in schemes], patch_artist=True,
                        widths=0.6, showfliers=True, flierprops={"markersize": 2})
        for patch, s in zip(bp["boxes"], schemes):
            patch.set_facecolor(COLORS[s])
            patch.set_alpha(0.7)
        ax.axhline(1.0, color="black", ls="--", lw=0.8, label="SLA (BASE p95)")
        sla = a["sla_ms"].iloc[0]
        ax.set_title(f"{app} (SLA {sla:.1f} ms)")
        ax.set_ylabel("hourly p95 latency / SLA (–)")
        ax.tick_params(axis="x", rotation=45)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize=7, frameon=False)  # off the data
    fig.suptitle("(b) p95 latency of each hour's configuration against the SLA", fontsize=9)
    _footnote(fig, h, _protocol_note(h))
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    return fig


def fig_c_hourly_objective(hourly, runs, gpus, lam: float, **_) -> plt.Figure:
    """Clover's and Blover's objective gap to ORACLE hour by hour, mean over the traces."""
    h = _main(hourly, lam)
    apps = list(dict.fromkeys(h["app"]))
    present = protocols(h)
    fig, axes = plt.subplots(2, len(apps), figsize=(max(3.6 * len(apps), 7.5), 5.4),
                             squeeze=False, sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    for j, app in enumerate(apps):
        a = h[h["app"] == app]
        ci = a[a["scheme"] == a["scheme"].iloc[0]].groupby(["trace", "hour"])["ci_g_per_kwh"].first()
        for trace, c in ci.groupby(level="trace"):
            axes[0][j].plot(c.index.get_level_values("hour"), c.to_numpy(), lw=0.9, label=trace)
        axes[0][j].set_title(app)
        axes[0][j].grid(alpha=0.3)
        ax = axes[1][j]
        for p in present:
            ap = a[a["protocol"] == p]
            style = PROTOCOL_STYLE.get(p, PROTOCOL_STYLE["paper"]) if len(present) > 1 \
                else PROTOCOL_STYLE["paper"]
            for s in ("clover", "blover"):
                if not {s, "oracle"} <= set(ap["scheme"]):
                    continue
                gap = hourly_gap(ap, s)  # per trace, seed and hour
                label = SCHEME_LABEL[s] + (f" ({p})" if len(present) > 1 else "")
                band(ax, gap, "hour", "gap", COLORS[s], style["ls"], lw=0.8)
                run = (gap.sort_values("hour").groupby(["trace", "seed"] if "seed" in gap
                                                       else ["trace"])["gap"]
                       .transform(lambda g: g.expanding().mean()))
                mean = gap.assign(run=run).groupby("hour")["run"].mean()
                ax.plot(mean.index, mean.to_numpy(), color=COLORS[s], lw=1.8, ls=style["ls"],
                        label=label + ", running mean")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xlabel("hour of trace")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("ci (gCO2/kWh)")
    th, tl = axes[0][0].get_legend_handles_labels()
    fig.legend(th, tl, loc="upper center", bbox_to_anchor=(0.5, 0.905), ncol=max(len(tl), 1),
               fontsize=7, frameon=False, title=None)  # traces, above the panels
    sh, sl = axes[1][0].get_legend_handles_labels()
    if sh:  # schemes x protocols, below the panels (never over the curves)
        fig.legend(sh, sl, loc="lower center", bbox_to_anchor=(0.5, 0.03), ncol=len(sl),
                   fontsize=7, frameon=False)
    axes[1][0].set_ylabel("gap to ORACLE (points of f)")
    for ax in axes[1]:
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(f"(c) Objective gap to ORACLE hour by hour, Clover and Blover (λ = {lam:g})\n"
                 "thin: hourly gap, mean over traces × seeds, shaded: its 95% t interval; thick: "
                 "running mean. The paper: Clover closes in on ORACLE through its history",
                 fontsize=9)
    _footnote(fig, h, _protocol_note(h))
    fig.tight_layout(rect=(0, 0.08, 1, 0.88))
    return fig


def fig_d_overhead(hourly, runs, gpus, lam: float, **_) -> plt.Figure:
    """Cumulative online evaluations and reconfigurations over the trace, Clover vs Blover."""
    h = _main(hourly, lam)
    h = h[h["scheme"].isin(["clover", "blover"])]
    if h.empty:
        raise CloverError("figure d needs Clover or Blover runs in the main grid")
    apps = list(dict.fromkeys(h["app"]))
    present = protocols(h)
    fig, axes = plt.subplots(2, len(apps), figsize=(max(3.6 * len(apps), 7.5), 5.2),
                             squeeze=False, sharex=True)
    # reconfiguration operations: GPUs re-partitioned plus model loads (search and switches)
    h = h.assign(reconfigured=h["n_layout_changes"] + h["n_model_loads"])
    for j, app in enumerate(apps):
        a = h[h["app"] == app]
        for p in present:
            ap = a[a["protocol"] == p]
            style = PROTOCOL_STYLE.get(p, PROTOCOL_STYLE["paper"]) if len(present) > 1 \
                else PROTOCOL_STYLE["paper"]
            for s in ("clover", "blover"):
                if s not in set(ap["scheme"]):
                    continue
                label = SCHEME_LABEL[s] + (f" ({p})" if len(present) > 1 else "")
                run_keys = ["trace", "seed"] if "seed" in ap else ["trace"]
                g = ap[ap["scheme"] == s].sort_values("hour")
                for row, col in ((0, "evaluations"), (1, "reconfigured")):
                    cum = g.assign(cum=g.groupby(run_keys)[col].cumsum())
                    band(axes[row][j], cum, "hour", "cum", COLORS[s], style["ls"], label=label,
                         lw=1.4)
        axes[0][j].set_title(app)
        axes[1][j].set_xlabel("hour of trace")
        for row in (0, 1):
            axes[row][j].grid(alpha=0.3)
            axes[row][j].set_ylim(bottom=0)
        axes[0][j].legend(loc="upper left", fontsize=7)
    axes[0][0].set_ylabel("online evaluations (cum.)")
    axes[1][0].set_ylabel("reconfiguration ops (cum.)")
    fig.align_ylabels(axes[:, 0])
    for ax in axes[1]:
        ax.xaxis.get_major_locator().set_params(integer=True)
    totals = {s: int(h[h["scheme"] == s]["evaluations"].sum()) for s in ("clover", "blover")}
    seeds = h["seed"].nunique() if "seed" in h else 1
    note = (f"Totals over {h['trace'].nunique()} traces × {h['app'].nunique()} apps × {seeds} "
            f"seeds: Clover {totals['clover']} evaluations, Blover {totals['blover']}; curves: "
            "mean over traces × seeds, shaded: 95% t interval; "
            "reconfiguration ops = MIG re-partitions (per GPU) + model loads, search windows "
            "included.")
    fig.suptitle("(d) Search overhead over the trace: Clover (graph search) vs Blover\n"
                 "online evaluations and reconfigurations, cumulative by the end of each hour",
                 fontsize=9)
    _footnote(fig, h, _protocol_note(h) + " " + note)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    return fig


FIGURES: dict[str, Callable[..., plt.Figure]] = {
    "fig_a_carbon_accuracy": fig_a_carbon_accuracy,
    "fig_b_latency_sla": fig_b_latency_sla,
    "fig_c_hourly_objective": fig_c_hourly_objective,
    "fig_d_overhead": fig_d_overhead,
    "fig_e_lambda_floor": fig_e_lambda_floor,
    "fig_f_regions_seasons": fig_f_regions_seasons,
    "fig_g_gpus_embodied": fig_g_gpus_embodied,
    "fig_h_decomposition": fig_h_decomposition,
    "fig_i_reference_check": fig_i_reference_check,
}
assert tuple(FIGURES) == FIGURE_NAMES, "clover.analysis.figure_list and FIGURES disagree"


def make_figure(which: str, hourly: pd.DataFrame, runs: pd.DataFrame, gpus: pd.DataFrame | None,
                **params) -> plt.Figure:
    fn = FIGURES.get(which)
    if fn is None:
        raise CloverError(f"unknown figure {which!r} (known: {', '.join(FIGURES)})")
    if runs.empty:
        raise CloverError("no runs to plot")
    return fn(hourly, runs, gpus, **params)
