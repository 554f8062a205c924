"""Figures of the side studies: (e) λ sweep, accuracy floor and the value of adapting,
(f) regions and seasons, (g) GPUs needed and embodied carbon, (h) the savings decomposition,
(i) the check against the artifact's measurements (split from :mod:`clover.analysis.figures`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clover.analysis.aggregate import SCHEME_LABEL, embodied_savings, protocols, select
from clover.analysis.figures_common import (
    COLORS,
    _footnote,
    _grouped_bars,
    _protocol_note,
    _schemes,
    interval_table,
    plt,
)
from clover.errors import CloverError


def _sweep_lines(row, sweep: pd.DataFrame) -> None:
    """Carbon saved and accuracy change vs λ per scheme and floor, 95 % t interval bars."""
    for s in _schemes(sweep):
        for floor, g in sweep[sweep["scheme"] == s].groupby("floor"):
            if g["lam"].nunique() < 2:
                continue
            t = interval_table(g, ["lam"], {"c": "carbon_saved_pct",
                                            "a": "accuracy_change_pct"}).sort_values("lam")
            ls = "-" if floor == "none" else ":"
            lab = SCHEME_LABEL[s] + ("" if floor == "none" else ", accuracy floor")
            for ax, v in ((row[0], "c"), (row[1], "a")):
                ax.errorbar(t["lam"], t[v], yerr=[t[v] - t[f"{v}_lo"], t[f"{v}_hi"] - t[v]],
                            fmt=ls, marker="o", ms=3, color=COLORS[s], label=lab, capsize=2,
                            lw=1.2)


def _adapting_lines(ax, sweep: pd.DataFrame) -> None:
    """The value of adapting vs λ: ORACLE / Clover minus static (hindsight), points of f."""
    from clover.analysis.adapting import adapting_table

    table = adapting_table(sweep)
    table = table[(table["floor"] == "none") & (table["reference"] == "static")]
    for a, g in table.groupby("adaptive", sort=False):
        t = interval_table(g, ["lam"], {"v": "objective_gain_pts"}).sort_values("lam")
        ax.errorbar(t["lam"], t["v"], yerr=[t["v"] - t["v_lo"], t["v_hi"] - t["v"]],
                    marker="s", ms=3, color=COLORS[a], capsize=2, lw=1.2,
                    label=f"{SCHEME_LABEL[a]} − static (value of adapting)")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel("adaptive − static (points of f)")


def fig_e_lambda_floor(hourly, runs, gpus, lam: float, **_) -> plt.Figure:
    sweep_runs = select(runs, grid="lam_sweep")
    present = protocols(sweep_runs)
    base_runs = select(runs, grid="main", protocol=present[0] if present else None)
    runs = pd.concat([select(sweep_runs, protocol=present[0] if present else None),
                      base_runs[base_runs["scheme"] == "base"]], ignore_index=True)
    counts = runs[runs["scheme"] != "base"].groupby(["app", "trace"])["lam"].nunique()
    sweeps = [k for k, n in counts.items() if n >= 2] or list(counts.index[:1])
    fig, axes = plt.subplots(len(sweeps), 3, figsize=(13, 3.2 * len(sweeps)), squeeze=False)
    for row, (app, trace) in zip(axes, sweeps):
        sweep = runs[(runs["app"] == app) & (runs["trace"] == trace) & (runs["scheme"] != "base")]
        _sweep_lines(row, sweep[~sweep["scheme"].isin(["static", "static-daily"])])
        _adapting_lines(row[2], sweep)
        b = runs[(runs["scheme"] == "base") & (runs["app"] == app)]
        floors = sweep[sweep["floor"] != "none"]["accuracy_floor_value"].dropna().unique() \
            if "accuracy_floor_value" in sweep else []
        if not b.empty:
            for fl in sorted(floors):
                row[1].axhline((fl / b["accuracy"].iloc[0] - 1) * 100, color="black", ls=":",
                               lw=0.8, label=f"floor ({fl:.2f}%)")
        row[0].set_ylabel("carbon saved vs BASE (%)")
        row[1].set_ylabel("accuracy change vs BASE (%)")
        for ax in row:
            ax.set_title(f"{app}, {trace}")
            ax.set_xlabel("λ (weight of carbon in f)")
            ax.grid(alpha=0.3)
    handles, labels = [], []
    for ax in axes.ravel():  # one legend for every panel, below them (never over the data)
        for h_, l_ in zip(*ax.get_legend_handles_labels()):
            if l_ not in labels:
                handles.append(h_)
                labels.append(l_)
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.03),
               ncol=min(len(labels), 4), fontsize=7, frameon=False)
    seeds = runs["seed"].nunique() if "seed" in runs else 1
    fig.suptitle("(e) λ sweep, an accuracy floor and the value of adapting (realised hourly "
                 f"totals; points: mean over {seeds} seeds, bars: 95% t interval)\nright: "
                 "adaptive scheme minus static, the one configuration for the whole trace "
                 "chosen with hindsight", fontsize=9)
    _footnote(fig, runs, _protocol_note(sweep_runs))
    fig.tight_layout(rect=(0, 0.05 + 0.22 / len(sweeps), 1, 0.93))
    return fig


def fig_f_regions_seasons(hourly, runs, gpus, lam: float, **_) -> plt.Figure:
    reg = select(runs, grid="regions", lam=lam, floor="none")
    present = protocols(reg) or protocols(runs)
    reg = select(reg, protocol=present[0])
    app = reg["app"].iloc[0] if not reg.empty else runs["app"].iloc[0]
    main = select(runs, grid="main", protocol=present[0], lam=lam, floor="none")
    main = main[main["app"] == app]
    sel = pd.concat([main, reg[reg["app"] == app]], ignore_index=True)
    originals = list(dict.fromkeys(main["trace"]))
    traces = originals + sorted(set(reg["trace"]) - set(originals))
    schemes = [s for s in _schemes(sel) if s != "base"]
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 0.45 * len(traces) + 2), 5.6), sharex=True,
                             gridspec_kw={"height_ratios": [2, 1]})
    x = np.arange(len(traces))
    width = 0.8 / max(len(schemes), 1)
    tab = interval_table(sel, ["scheme", "trace"], {"v": "carbon_saved_pct"})
    for i, s in enumerate(schemes):
        t = tab[tab["scheme"] == s].set_index("trace").reindex(traces)
        axes[0].bar(x + (i - (len(schemes) - 1) / 2) * width, t["v"], width,
                    yerr=[(t["v"] - t["v_lo"]).fillna(0), (t["v_hi"] - t["v"]).fillna(0)],
                    error_kw={"lw": 0.6, "capsize": 1}, color=COLORS[s], label=SCHEME_LABEL[s])
    axes[0].set_ylabel("carbon saved vs BASE (%)")
    axes[0].axhline(0, color="black", lw=0.6)
    axes[0].grid(axis="y", alpha=0.3)
    top = np.nanmax(sel[sel["scheme"] != "base"]["carbon_saved_pct"].to_numpy(float), initial=1.0)
    axes[0].set_ylim(top=max(top, 1.0) * 1.3)
    axes[0].legend(ncol=min(len(schemes), 4), fontsize=7, loc="upper center")
    ci = sel.drop_duplicates("trace").set_index("trace").reindex(traces)["ci_mean_g_per_kwh"]
    axes[1].bar(x, ci, color="#555555")
    axes[1].set_ylabel("mean ci (gCO2/kWh)")
    axes[1].set_xticks(x, traces, rotation=60, ha="right", fontsize=7)
    if len(traces) > 3:
        for ax in axes:
            ax.axvline(len(originals) - 0.5, color="black", lw=0.8)
    seeds = sel["seed"].nunique() if "seed" in sel else 1
    fig.suptitle(f"(f) Regions and seasons ({app}, λ = {lam:g}; bars: mean over {seeds} seeds, "
                 "whiskers: 95% t interval)\nthe original Clover traces, then Electricity Maps "
                 "zone.season windows (lifecycle intensity)", fontsize=9)
    _footnote(fig, sel, _protocol_note(sel))
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    return fig


def _mark_missing(ax, table: pd.DataFrame, value: str) -> None:
    """Write "n/a" where a scheme has no value (in :func:`_grouped_bars` bar positions)."""
    apps = list(dict.fromkeys(table["app"]))
    schemes = _schemes(table)
    n = max(len(schemes), 1)
    width = 0.8 / n
    for a_i, app in enumerate(apps):
        for i, sch in enumerate(schemes):
            v = table[(table["app"] == app) & (table["scheme"] == sch)][value]
            if v.isna().all():
                ax.text(a_i + (i - (n - 1) / 2) * width, 0.15, "n/a", rotation=90, ha="center",
                        va="bottom", fontsize=6, color=COLORS.get(sch, "#333333"))


def fig_g_gpus_embodied(hourly, runs, gpus, lam: float, kg_per_gpu: float = 318.0,
                        embodied_source: str = "", **_) -> plt.Figure:
    if gpus is None or gpus.empty:
        raise CloverError("figure g needs the GPU-count table (results/gpu_count.csv)")
    e = embodied_savings(gpus, kg_per_gpu)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    _grouped_bars(axes[0], e, "gpus_needed")
    axes[0].set_ylabel("GPUs needed for the service target (–)")
    axes[0].set_title("Fewest GPUs meeting rate, SLA and accuracy target")
    _grouped_bars(axes[1], e, "embodied_saved_kg")
    axes[1].set_ylabel("embodied carbon avoided (kgCO2e)")
    axes[1].set_title(f"vs BASE, at {kg_per_gpu:g} kgCO2e per GPU")
    _mark_missing(axes[0], e, "gpus_needed")
    for ax in axes:  # every app's whole group in view, also where its bars are missing
        ax.set_xlim(-0.5, e["app"].nunique() - 0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.09),
               ncol=len(labels), fontsize=7, frameon=False)  # below the panels
    fig.suptitle("(g) GPUs needed per scheme and the embodied carbon that saves", fontsize=9)
    src = gpus if "source" in gpus else runs
    _footnote(fig, src, f"Embodied: {embodied_source}. n/a: no configuration within the "
              "accuracy target meets the SLA on up to max_gpus GPUs.")
    fig.tight_layout(rect=(0, 0.17, 1, 0.94))
    return fig

#: short x labels of the decomposition steps (clover.control.decomposition.STEPS)
STEP_SHORT = {"base": "BASE\n(k·N GPUs)", "consolidation": "1 consol.\n(N GPUs)",
              "variants": "2 +variants\n(no MIG)", "static": "3 +MIG\n(static)",
              "full": "4 +adapt\nhourly", "partitioning": "5 MIG,\nno variants",
              "equal_load": "equal load\n(k = 1)"}


def fig_h_decomposition(hourly, runs, gpus, lam: float, decomposition=None, **_) -> plt.Figure:
    """Where the savings come from: per app, carbon saved and accuracy lost after each step,
    ORACLE and Clover (mean over the traces); a cross marks a step that breaks the SLA."""
    if decomposition is None or decomposition.empty:
        raise CloverError("figure h needs the decomposition table (results/decomposition.csv)")
    d = decomposition[decomposition["trace"].astype(str) == "mean"]
    if d.empty:
        d = decomposition
    apps = list(dict.fromkeys(d["app"]))
    steps = [s for s in STEP_SHORT if s in set(d["step"])]
    schemes = [s for s in ("oracle", "clover", "blover") if s in set(d["scheme"])]
    fig, axes = plt.subplots(2, len(apps), figsize=(3.6 * len(apps), 5.4), sharey="row",
                             squeeze=False)
    x = np.arange(len(steps))
    width = 0.8 / max(len(schemes), 1)
    for j, app in enumerate(apps):
        a = d[d["app"] == app]
        for i, sch in enumerate(schemes):
            t = a[a["scheme"] == sch].groupby("step").mean(numeric_only=True).reindex(steps)
            off = x + (i - (len(schemes) - 1) / 2) * width
            for r, col in enumerate(("carbon_saved_pct", "accuracy_lost_pts")):
                ax = axes[r, j]
                ax.bar(off, t[col], width, color=COLORS.get(sch),
                       label=SCHEME_LABEL.get(sch, sch) if (r == 0 and j == 0) else None)
                broken = t["sla_held_frac"].to_numpy(float) < 1.0
                if r == 0 and broken.any():
                    ax.plot(off[broken], t[col].to_numpy(float)[broken] + 4, "x", color="black",
                            ms=5, label="SLA broken" if (i == 0 and j == 0) else None)
        axes[0, j].set_title(app)
        for r in range(2):
            axes[r, j].grid(axis="y", alpha=0.3)
            axes[r, j].axhline(0, color="black", lw=0.6)
        axes[1, j].set_xticks(x, [STEP_SHORT[s] for s in steps], rotation=0, fontsize=6)
        axes[0, j].set_xticks(x, [""] * len(steps))
    axes[0, 0].set_ylabel("carbon saved vs BASE (%)")
    axes[1, 0].set_ylabel("accuracy lost (points)")
    axes[0, 0].set_ylim(top=max(100.0, float(np.nanmax(d["carbon_saved_pct"])) + 10))
    fig.legend(loc="upper right", ncol=len(schemes) + 1, fontsize=7, bbox_to_anchor=(0.99, 0.99))
    fig.suptitle("(h) Where the savings come from: BASE, then one knob at a time "
                 f"(paper protocol, λ = {float(d['lam'].iloc[0]):g}, mean over traces)",
                 fontsize=9, x=0.01, ha="left")
    _footnote(fig, d.assign(backend="model"),
              "Steps 1-4 are cumulative (3: one configuration for the trace, hindsight; 4: re-decided hourly); 5 and 'equal load' are alternatives to 4.")
    fig.tight_layout(rect=(0, 0.04, 1, 0.96))
    return fig


def fig_i_reference_check(hourly, runs, gpus, lam: float, reference=None, **_) -> plt.Figure:
    """The artifact's measured ratios (x) against the modeled ones (y), one point per log
    entry: carbon per request and p95, each vs BASE at the lightest load."""
    if reference is None or reference.empty:
        raise CloverError("figure i needs the reference check (results/reference_check.csv)")
    r = reference[~((reference["kind"] == "base") & (reference["load_index"] == 0))]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.0))
    markers = {"base": "o", "clover": "^"}
    app_colors = {"efficientnet": "#1f77b4", "yolo": "#2ca02c", "albert": "#d62728"}
    for ax, (col, title) in zip(axes, (("carbon_ratio_vs_base_light",
                                        "carbon per request / BASE's at its light load"),
                                       ("p95_ratio_vs_base_light",
                                        "p95 / BASE's at its light load"))):
        meas = r[col].to_numpy(float)
        mod = r[f"modeled_{col}"].to_numpy(float)
        lo = float(np.nanmin([meas.min(), mod.min()])) / 1.5
        hi = float(np.nanmax([meas.max(), mod.max()])) * 1.5
        grid = np.array([lo, hi])
        ax.fill_between(grid, grid / 1.25, grid * 1.25, color="#dddddd", label="±25 %")
        ax.plot(grid, grid, color="black", lw=0.7, label="modeled = measured")
        for (kind, app), g in r.groupby(["kind", "app"], sort=False):
            ax.scatter(g[col], g[f"modeled_{col}"], marker=markers.get(kind, "s"),
                       color=app_colors.get(app, "#555555"), s=18 + 14 * g["load_index"],
                       label=f"{kind} {app}", zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("measured by the artifact (2 A100, run_sweep.py)")
        ax.set_ylabel("modeled (this project's profiles + FCFS)")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7,
               bbox_to_anchor=(0.5, 0.05))
    fig.suptitle("(i) Held-out check against the artifact's measured arrival sweep "
                 "(marker size = load; BASE at its light load is 1 by definition, not shown)",
                 fontsize=9)
    _footnote(fig, r.assign(source=r.get("source", "modeled"), backend="model"),
              "Profile constants are not tuned to this check.")
    fig.tight_layout(rect=(0, 0.2, 1, 0.94))
    return fig
