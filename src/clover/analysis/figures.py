"""Paper figures, one per claim, from the aggregated tables (matplotlib, Agg backend).

Each ``fig_*`` function takes the hourly table, the per-run summary and the GPU-count table
and returns a :class:`matplotlib.figure.Figure`; :func:`save` writes PDF and PNG atomically
and without timestamps, so the same inputs give the same files. Every figure carries a
footnote saying whether the per-slice profiles were measured or modeled.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from clover.analysis.aggregate import (  # noqa: E402
    SCHEME_LABEL,
    SCHEME_ORDER,
    embodied_savings,
    protocols,
    select,
)
from clover.analysis.figure_list import FIGURE_NAMES  # noqa: E402
from clover.errors import CloverError  # noqa: E402
from clover.paths import atomic_write  # noqa: E402

COLORS = {"base": "#7f7f7f", "co2opt": "#2ca02c", "jung": "#9467bd", "blover": "#ff7f0e",
          "clover": "#1f77b4", "oracle": "#d62728"}
#: How each protocol is drawn: the paper's own experiment solid, the extension hatched / dashed.
PROTOCOL_STYLE = {"paper": {"hatch": "", "ls": "-", "alpha": 1.0},
                  "extended": {"hatch": "///", "ls": "--", "alpha": 0.55}}
plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "legend.fontsize": 8,
                     "svg.hashsalt": "clover", "figure.dpi": 100})


def _schemes(df: pd.DataFrame) -> list[str]:
    present = set(df["scheme"])
    return [s for s in SCHEME_ORDER if s in present]


def _source_note(df: pd.DataFrame) -> str:
    sources = sorted({s for v in df["source"].dropna() for s in str(v).split("+")})
    kind = ("modeled per-slice profiles (analytical model, not measured)"
            if any(s == "modeled" for s in sources) else "measured per-slice profiles")
    backend = "+".join(sorted({str(b) for b in df["backend"].dropna()})) if "backend" in df else ""
    return f"Profiles: {kind} [{'+'.join(sources)}]; backend: {backend or 'model'}."


def _footnote(fig, df: pd.DataFrame, extra: str = "") -> None:
    fig.text(0.01, 0.005, _source_note(df) + (" " + extra if extra else ""), fontsize=7,
             ha="left", va="bottom", color="#444444", wrap=True)


def _main(df: pd.DataFrame, lam: float) -> pd.DataFrame:
    """Main-grid rows (hourly or per run) at the main λ, no floor, every protocol."""
    return select(df, grid="main", lam=lam, floor="none")


def _protocol_note(df: pd.DataFrame) -> str:
    present = protocols(df)
    if len(present) > 1:
        return "Protocols: " + ", ".join(
            f"{p} ({'solid' if PROTOCOL_STYLE.get(p, {}).get('hatch', '') == '' else 'hatched/dashed'})"
            for p in present) + "."
    return f"Protocol: {present[0] if present else 'n/a'}."


def _protocol_handles(df: pd.DataFrame) -> list:
    """Legend proxies telling the protocols apart (none when only one is present)."""
    from matplotlib.patches import Patch

    present = protocols(df) if "protocol" in df else []
    if len(present) < 2:
        return []
    return [Patch(facecolor="#999999", hatch=PROTOCOL_STYLE.get(p, {}).get("hatch", ""),
                  edgecolor="white", label=f"{p} protocol") for p in present]


def _grouped_bars(ax, table: pd.DataFrame, value: str, err_lo=None, err_hi=None) -> None:
    """Bars: x = app, one bar per scheme (and per protocol: paper solid, extended hatched)."""
    apps = list(dict.fromkeys(table["app"]))
    schemes = _schemes(table)
    present = protocols(table) if "protocol" in table else [None]
    n = max(len(schemes) * len(present), 1)
    width = 0.8 / n
    x = np.arange(len(apps))
    for i, s in enumerate(schemes):
        for j, p in enumerate(present):
            t = table[(table["scheme"] == s) & ((table["protocol"] == p) if p else True)]
            t = t.set_index("app").reindex(apps)
            yerr = None
            if err_lo is not None:
                yerr = np.vstack([(t[value] - t[err_lo]).clip(lower=0).fillna(0),
                                  (t[err_hi] - t[value]).clip(lower=0).fillna(0)])
            style = PROTOCOL_STYLE.get(p, PROTOCOL_STYLE["paper"]) if len(present) > 1 \
                else PROTOCOL_STYLE["paper"]
            k = i * len(present) + j
            label = SCHEME_LABEL.get(s, s) if j == 0 else None  # protocols: _protocol_handles
            ax.bar(x + (k - (n - 1) / 2) * width, t[value], width, yerr=yerr,
                   color=COLORS.get(s), label=label, capsize=2, error_kw={"lw": 0.7},
                   hatch=style["hatch"], edgecolor="white" if style["hatch"] else None,
                   linewidth=0)
    ax.set_xticks(x, apps)
    ax.axhline(0, color="black", lw=0.6)
    ax.grid(axis="y", alpha=0.3)


def fig_a_carbon_accuracy(hourly, runs, gpus, lam: float, **_) -> plt.Figure:
    main = _main(runs, lam)
    t = (main.groupby(["protocol", "app", "scheme"])
         .agg(saved=("carbon_saved_pct", "mean"), saved_lo=("carbon_saved_pct", "min"),
              saved_hi=("carbon_saved_pct", "max"), acc=("accuracy_loss_points", "mean"),
              acc_lo=("accuracy_loss_points", "min"), acc_hi=("accuracy_loss_points", "max"))
         .reset_index())
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.9))
    _grouped_bars(axes[0], t, "saved", "saved_lo", "saved_hi")
    axes[0].set_ylabel("carbon saved vs BASE (%)")
    axes[0].set_title("Carbon per request saved\n(realised: search and reconfiguration included)")
    _grouped_bars(axes[1], t, "acc", "acc_lo", "acc_hi")
    axes[1].set_ylabel("accuracy loss vs BASE (points)")
    axes[1].set_title("Accuracy loss (BASE − scheme, as run.py)")
    handles, labels = axes[1].get_legend_handles_labels()
    proxies = _protocol_handles(t)
    handles, labels = handles + proxies, labels + [h.get_label() for h in proxies]
    fig.legend(handles, labels, ncol=min(len(labels), 8), loc="lower center",
               bbox_to_anchor=(0.5, 0.05), frameon=False)  # below the panels, off the data
    fig.suptitle(f"(a) Carbon saved and accuracy loss per scheme (λ = {lam:g}; bars: mean over "
                 f"{', '.join(sorted(set(main['trace'])))}; whiskers: min–max)", fontsize=9)
    _footnote(fig, main, _protocol_note(main))
    fig.tight_layout(rect=(0, 0.15, 1, 0.95))
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


def _per_hour(h: pd.DataFrame, scheme: str, col: str) -> pd.Series:
    """``col`` of ``scheme`` per hour, mean over the traces present."""
    g = h[h["scheme"] == scheme]
    return g.groupby("hour")[col].mean()


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
                gap = (_per_hour(ap, "oracle", "hour_objective")
                       - _per_hour(ap, s, "hour_objective")).dropna()
                label = SCHEME_LABEL[s] + (f" ({p})" if len(present) > 1 else "")
                ax.plot(gap.index, gap.to_numpy(), color=COLORS[s], lw=0.8, alpha=0.45,
                        ls=style["ls"])
                ax.plot(gap.index, gap.expanding().mean().to_numpy(), color=COLORS[s], lw=1.8,
                        ls=style["ls"], label=label + ", running mean")
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
                 "thin: hourly gap, mean over traces; thick: running mean. The paper: Clover "
                 "closes in on ORACLE through its history", fontsize=9)
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
                for row, col in ((0, "evaluations"), (1, "reconfigured")):
                    cum = _per_hour(ap, s, col).cumsum()  # through the end of each hour
                    x = np.append(cum.index.to_numpy(), cum.index[-1] + 1)
                    y = np.append(cum.to_numpy(), cum.iloc[-1])
                    axes[row][j].step(x, y, where="post", color=COLORS[s], ls=style["ls"],
                                      lw=1.4, label=label)
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
    note = (f"Totals over {h['trace'].nunique()} traces × {h['app'].nunique()} apps: Clover "
            f"{totals['clover']} evaluations, Blover {totals['blover']}; curves: mean over traces; "
            "reconfiguration ops = MIG re-partitions (per GPU) + model loads, search windows "
            "included.")
    fig.suptitle("(d) Search overhead over the trace: Clover (graph search) vs Blover\n"
                 "online evaluations and reconfigurations, cumulative by the end of each hour",
                 fontsize=9)
    _footnote(fig, h, _protocol_note(h) + " " + note)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    return fig


def fig_e_lambda_floor(hourly, runs, gpus, lam: float, **_) -> plt.Figure:
    sweep_runs = select(runs, grid="lam_sweep")
    present = protocols(sweep_runs)
    base_runs = select(runs, grid="main", protocol=present[0] if present else None)
    runs = pd.concat([select(sweep_runs, protocol=present[0] if present else None),
                      base_runs[base_runs["scheme"] == "base"]], ignore_index=True)
    counts = runs[runs["scheme"] != "base"].groupby(["app", "trace"])["lam"].nunique()
    sweeps = [k for k, n in counts.items() if n >= 2] or list(counts.index[:1])
    fig, axes = plt.subplots(len(sweeps), 2, figsize=(9, 3.1 * len(sweeps)), squeeze=False)
    for row, (app, trace) in zip(axes, sweeps):
        sweep = runs[(runs["app"] == app) & (runs["trace"] == trace) & (runs["scheme"] != "base")]
        for s in _schemes(sweep):
            for floor, g in sweep[sweep["scheme"] == s].groupby("floor"):
                g = g.sort_values("lam")
                if g["lam"].nunique() < 2:
                    continue
                ls = "-" if floor == "none" else ":"
                lab = SCHEME_LABEL[s] + ("" if floor == "none" else ", accuracy floor")
                row[0].plot(g["lam"], g["carbon_saved_pct"], ls, marker="o", ms=3,
                            color=COLORS[s], label=lab)
                row[1].plot(g["lam"], g["accuracy_change_pct"], ls, marker="o", ms=3,
                            color=COLORS[s], label=lab)
        b = runs[(runs["scheme"] == "base") & (runs["app"] == app)]
        floors = sweep[sweep["floor"] != "none"]["accuracy_floor_value"].dropna().unique() \
            if "accuracy_floor_value" in sweep else []
        if not b.empty:
            for fl in sorted(floors):
                row[1].axhline((fl / b["accuracy"].iloc[0] - 1) * 100, color="black", ls=":",
                               lw=0.8, label=f"floor ({fl:.2f}%)")
        row[0].set_ylabel("carbon saved vs BASE (%)")
        row[1].set_ylabel("accuracy change vs BASE (%)")
        row[0].set_title(f"{app}, {trace}")
        row[1].set_title(f"{app}, {trace}")
        for ax in row:
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
    fig.suptitle("(e) λ sweep and an accuracy floor (realised hourly totals)", fontsize=9)
    _footnote(fig, runs, _protocol_note(sweep_runs))
    fig.tight_layout(rect=(0, 0.04 + 0.22 / len(sweeps), 1, 0.96))
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
    for i, s in enumerate(schemes):
        t = sel[sel["scheme"] == s].set_index("trace").reindex(traces)
        axes[0].bar(x + (i - (len(schemes) - 1) / 2) * width, t["carbon_saved_pct"], width,
                    color=COLORS[s], label=SCHEME_LABEL[s])
    axes[0].set_ylabel("carbon saved vs BASE (%)")
    axes[0].axhline(0, color="black", lw=0.6)
    axes[0].grid(axis="y", alpha=0.3)
    top = np.nanmax(sel[sel["scheme"] != "base"]["carbon_saved_pct"].to_numpy(float), initial=1.0)
    axes[0].set_ylim(top=max(top, 1.0) * 1.3)
    axes[0].legend(ncol=len(schemes), fontsize=7, loc="upper center")
    ci = sel.drop_duplicates("trace").set_index("trace").reindex(traces)["ci_mean_g_per_kwh"]
    axes[1].bar(x, ci, color="#555555")
    axes[1].set_ylabel("mean ci (gCO2/kWh)")
    axes[1].set_xticks(x, traces, rotation=60, ha="right", fontsize=7)
    if len(traces) > 3:
        for ax in axes:
            ax.axvline(len(originals) - 0.5, color="black", lw=0.8)
    fig.suptitle(f"(f) Regions and seasons ({app}, λ = {lam:g})\nthe original Clover traces, "
                 "then Electricity Maps zone.season windows (lifecycle intensity)", fontsize=9)
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
              "variants": "2 +variants\n(no MIG)", "full": "3 +MIG\n(full)",
              "partitioning": "4 MIG,\nno variants", "equal_load": "equal load\n(k = 1)"}


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
              "Steps 1-3 are cumulative; 4 and 'equal load' are alternatives to 3.")
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


def save(fig: plt.Figure, paths: list[str | Path]) -> None:
    """Write ``fig`` to each path (format from the suffix), atomically, without timestamps."""
    for path in paths:
        path = Path(path)
        fmt = path.suffix.lstrip(".").lower()
        if fmt not in ("pdf", "png", "svg"):
            raise CloverError(f"figure output {path}: use a .pdf, .png or .svg name")
        meta = {"pdf": {"CreationDate": None, "ModDate": None, "Producer": None},
                "png": {"Software": None}, "svg": {"Date": None}}[fmt]
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=150, metadata=meta)
        with atomic_write(path, "wb") as fh:
            fh.write(buf.getvalue())
    plt.close(fig)


def make_figure(which: str, hourly: pd.DataFrame, runs: pd.DataFrame, gpus: pd.DataFrame | None,
                **params) -> plt.Figure:
    fn = FIGURES.get(which)
    if fn is None:
        raise CloverError(f"unknown figure {which!r} (known: {', '.join(FIGURES)})")
    if runs.empty:
        raise CloverError("no runs to plot")
    return fn(hourly, runs, gpus, **params)
