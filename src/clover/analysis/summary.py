"""The headline table: each claim of the Clover paper next to what this run measured.

Verdicts are computed from :func:`clover.analysis.aggregate.summarize_runs` with thresholds
stated in each row, so a reader can check them: ``reproduced``, ``partly`` (same direction,
clearly smaller effect), ``not reproduced``, or ``not run`` (the config left it out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clover.analysis.aggregate import ORIGINAL_TRACES, SCHEME_LABEL, SCHEME_ORDER


@dataclass(frozen=True)
class Claim:
    key: str
    paper: str
    measured: str
    verdict: str
    note: str = ""


def _fmt(x: float, nd: int = 1, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{nd}f}{unit}"


def _main(runs: pd.DataFrame, lam: float) -> pd.DataFrame:
    """Runs of the main grid: original traces, the main λ, no accuracy floor."""
    sel = runs[(runs["floor"] == "none") & np.isclose(runs["lam"], lam)]
    orig = sel[sel["trace"].isin(ORIGINAL_TRACES)]
    return orig if not orig.empty else sel


def claim_carbon(main: pd.DataFrame) -> Claim:
    paper = "≈80% carbon saved against BASE while meeting the SLA"
    c = main[main["scheme"] == "clover"]
    if c.empty:
        return Claim("carbon", paper, "Clover not run", "not run")
    saved = c["carbon_saved_pct"].mean()
    per_app = ", ".join(f"{a} {_fmt(v, 1, '%')}" for a, v in
                        c.groupby("app")["carbon_saved_pct"].mean().items())
    sla_h = c["sla_met_hours_pct"].mean()
    sla_r = c["sla_ok_pct"].mean()
    measured = (f"Clover saves {_fmt(saved, 1, '%')} on average ({per_app}); chosen configuration "
                f"meets the SLA in {_fmt(sla_h, 1, '%')} of hours, {_fmt(sla_r, 2, '%')} of "
                "requests served while the SLA held (reconfigurations included)")
    if saved >= 70 and sla_h >= 99:
        verdict = "reproduced"
    elif saved >= 40 and sla_h >= 95:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return Claim("carbon", paper, measured, verdict,
                 "thresholds: reproduced ≥ 70% saved and SLA met ≥ 99% of hours; partly ≥ 40%")


def claim_accuracy(main: pd.DataFrame) -> Claim:
    paper = "small accuracy loss (a few percent) for that saving"
    c = main[main["scheme"] == "clover"]
    if c.empty:
        return Claim("accuracy", paper, "Clover not run", "not run")
    change = c["accuracy_change_pct"].mean()
    worst = c["accuracy_change_pct"].min()
    measured = f"Clover accuracy change {_fmt(change, 2, '%')} on average (worst run {_fmt(worst, 2, '%')})"
    verdict = "reproduced" if worst >= -5 else ("partly" if change >= -5 else "not reproduced")
    return Claim("accuracy", paper, measured, verdict,
                 "threshold: every run within −5% of BASE accuracy (relative)")


def claim_oracle(main: pd.DataFrame) -> Claim:
    paper = "Clover comes closest to ORACLE among the practical schemes"
    if "oracle" not in set(main["scheme"]) or "clover" not in set(main["scheme"]):
        return Claim("oracle", paper, "Clover or ORACLE not run", "not run")
    gaps = (main[main["scheme"] != "oracle"].groupby("scheme")["objective_gap_vs_oracle"].mean()
            .reindex([s for s in SCHEME_ORDER if s != "oracle"]).dropna())
    best = gaps.idxmin()
    measured = "mean objective gap to ORACLE (points of f): " + ", ".join(
        f"{SCHEME_LABEL[s]} {_fmt(v, 2)}" for s, v in gaps.items())
    others = gaps.drop("clover")
    if best == "clover":
        verdict = "reproduced"
    elif not others.empty and gaps["clover"] <= others.min() + 0.5:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return Claim("oracle", paper, measured, verdict,
                 "reproduced: Clover has the smallest gap; partly: within 0.5 points of the smallest")


def claim_overhead(main: pd.DataFrame) -> Claim:
    paper = "far less search overhead than Blover (fewer online evaluations, less time)"
    c, b = main[main["scheme"] == "clover"], main[main["scheme"] == "blover"]
    if c.empty or b.empty:
        return Claim("overhead", paper, "Clover or Blover not run", "not run")
    ce, be = c["evaluations_per_hour"].mean(), b["evaluations_per_hour"].mean()
    ct, bt = c["decision_s_per_hour"].mean(), b["decision_s_per_hour"].mean()
    cc, bc = c["evaluation_carbon_g"].mean(), b["evaluation_carbon_g"].mean()
    co, bo = c["objective"].mean(), b["objective"].mean()
    cr, br = c["reconfig_s"].mean(), b["reconfig_s"].mean()
    measured = (f"evaluations/hour Clover {_fmt(ce, 2)} vs Blover {_fmt(be, 2)}; decision time/hour "
                f"{_fmt(ct, 3)} s vs {_fmt(bt, 3)} s; reconfiguration time per run {_fmt(cr, 0)} s vs "
                f"{_fmt(br, 0)} s; evaluation carbon per run {_fmt(cc, 1)} g vs {_fmt(bc, 1)} g; "
                f"mean objective {_fmt(co, 2)} vs {_fmt(bo, 2)}")
    if ce < be and co >= bo - 0.5:
        verdict = "reproduced"
    elif ce < be or ct < bt or cr < br:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return Claim("overhead", paper, measured, verdict,
                 "reproduced: fewer evaluations per hour at an objective no worse (0.5 points); "
                 "partly: less of one overhead (evaluations, decision time or reconfiguration time)")


def claim_lambda(runs: pd.DataFrame) -> Claim:
    paper = "λ trades carbon against accuracy; an accuracy floor bounds the loss"
    s = runs[(runs["scheme"] == "clover") & (runs["floor"] == "none")]
    n_lam = s.groupby(["app", "trace"])["lam"].nunique()
    sweeps = [k for k, n in n_lam.items() if n >= 2]
    if not sweeps:
        return Claim("lambda", paper, "no λ sweep in the config", "not run")
    parts, ok_dir, rhos = [], 0, []
    for app, trace in sweeps:
        by = (s[(s["app"] == app) & (s["trace"] == trace)]
              .groupby("lam")[["carbon_saved_pct", "accuracy_change_pct"]].mean().sort_index())
        lo, hi = by.iloc[0], by.iloc[-1]
        trade = hi["carbon_saved_pct"] > lo["carbon_saved_pct"] and \
            hi["accuracy_change_pct"] <= lo["accuracy_change_pct"]
        ok_dir += bool(trade)
        rho = by["carbon_saved_pct"].corr(pd.Series(by.index, index=by.index), method="spearman")
        rhos.append(rho)
        parts.append(f"{app}/{trace}: carbon saved {_fmt(lo['carbon_saved_pct'], 1, '%')} → "
                     f"{_fmt(hi['carbon_saved_pct'], 1, '%')}, accuracy "
                     f"{_fmt(lo['accuracy_change_pct'], 2, '%')} → {_fmt(hi['accuracy_change_pct'], 2, '%')} "
                     f"for λ {by.index[0]:g} → {by.index[-1]:g} (Spearman ρ {_fmt(rho, 2)})")
    measured = "Clover: " + "; ".join(parts)
    floors = runs[(runs["scheme"] == "clover") & (runs["floor"] != "none")]
    floor_ok = True
    if not floors.empty:
        fl = floors["accuracy_floor_value"]
        held = floors["accuracy_min_chosen"] >= fl - 1e-6
        floor_ok = bool(held.all())
        dip = float((fl - floors["accuracy_min_realised"]).clip(lower=0).max())
        measured += (f". Accuracy floor: the chosen configuration respects it in {int(held.sum())}/"
                     f"{len(floors)} runs every hour; realised hourly accuracy dips at most "
                     f"{_fmt(dip, 2)} points below it (online evaluations and reconfigurations "
                     "serve other configurations for part of the hour)")
    if ok_dir == len(sweeps) and floor_ok:
        verdict = "reproduced"
    elif ok_dir > 0:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return Claim("lambda", paper, measured, verdict,
                 "reproduced: larger λ saves more carbon for less accuracy in every sweep, and "
                 "every hour's chosen configuration respects the floor")


def claim_regions(runs: pd.DataFrame, lam: float) -> Claim:
    paper = "the savings hold across regions and seasons"
    s = runs[(runs["scheme"] == "clover") & (runs["floor"] == "none") & np.isclose(runs["lam"], lam)]
    reg = s[~s["trace"].isin(ORIGINAL_TRACES)]
    if reg.empty:
        return Claim("regions", paper, "no region/season traces in the config", "not run")
    pos = int((reg["carbon_saved_pct"] > 0).sum())
    measured = (f"Clover saves carbon on {pos}/{len(reg)} zone-season windows "
                f"({reg['trace'].nunique()} windows); saving {_fmt(reg['carbon_saved_pct'].min(), 1, '%')}"
                f" … {_fmt(reg['carbon_saved_pct'].max(), 1, '%')}")
    verdict = "reproduced" if pos == len(reg) else ("partly" if pos >= len(reg) / 2 else "not reproduced")
    return Claim("regions", paper, measured, verdict, "reproduced: a saving on every window")


def claim_gpus(gpus: pd.DataFrame, kg_per_gpu: float, source: str) -> Claim:
    paper = "fewer GPUs for the same service target, saving embodied carbon"
    if gpus is None or gpus.empty or "clover" not in set(gpus["scheme"]):
        return Claim("gpus", paper, "GPU count not run for Clover", "not run")
    c = gpus[gpus["scheme"] == "clover"]
    parts = []
    for r in c.itertuples():
        parts.append(f"{r.app}: {int(r.base_gpus_needed) if pd.notna(r.base_gpus_needed) else 'n/a'} → "
                     f"{int(r.gpus_needed) if pd.notna(r.gpus_needed) else 'n/a'} GPUs")
    saved = c["embodied_saved_kg"].sum()
    measured = f"BASE → Clover {'; '.join(parts)}; embodied carbon avoided {_fmt(saved, 0)} kgCO2e"
    fewer = (c["gpus_saved"] > 0).sum()
    verdict = "reproduced" if fewer == len(c) else ("partly" if fewer > 0 else "not reproduced")
    return Claim("gpus", paper, measured, verdict,
                 f"{kg_per_gpu:g} kgCO2e per GPU ({source})")


def build_claims(runs: pd.DataFrame, gpus: pd.DataFrame, lam: float, kg_per_gpu: float,
                 embodied_source: str) -> list[Claim]:
    main = _main(runs, lam)
    return [claim_carbon(main), claim_accuracy(main), claim_oracle(main), claim_overhead(main),
            claim_lambda(runs), claim_regions(runs, lam), claim_gpus(gpus, kg_per_gpu, embodied_source)]


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _overhead(main: pd.DataFrame) -> pd.Series:
    """Realised over steady-state carbon per request, minus 1, in % (search + reconfiguration)."""
    t = main.groupby("scheme")[["carbon_g_per_request", "carbon_g_per_request_steady"]].sum()
    t = t.reindex([s for s in SCHEME_ORDER if s in t.index])
    return (t["carbon_g_per_request"] / t["carbon_g_per_request_steady"] - 1.0) * 100.0


def render_markdown(runs: pd.DataFrame, gpus: pd.DataFrame, lam: float, kg_per_gpu: float,
                    embodied_source: str, backend: str) -> str:
    """The whole ``results/summary.md``."""
    claims = build_claims(runs, gpus, lam, kg_per_gpu, embodied_source)
    sources = "+".join(sorted({s for v in runs["source"] for s in str(v).split("+")}))
    modeled = "modeled" in sources
    main = _main(runs, lam)
    lines = [
        "# Clover reproduction: headline results",
        "",
        f"Backend `{backend}`, per-slice profiles `{sources}`"
        + (" (**modeled, not measured**: absolute latencies and energies come from the analytical "
           "profile model, so percentages are the meaningful numbers)." if modeled else "."),
        f"Main grid: λ = {lam:g}, traces {', '.join(sorted(set(main['trace'])))}; "
        f"{len(runs)} runs, {int(runs['hours'].sum())} run-hours. Carbon and accuracy are realised "
        "hourly totals that include every online evaluation window and reconfiguration.",
        "",
        "| # | Claim (paper) | Measured here | Verdict | Basis |",
        "|---|---|---|---|---|",
    ]
    for i, c in enumerate(claims, 1):
        lines.append(f"| {i} | {_md_cell(c.paper)} | {_md_cell(c.measured)} | **{c.verdict}** | "
                     f"{_md_cell(c.note)} |")
    lines += ["", "## Per scheme and app (original traces, mean over traces)", "",
              "| app | scheme | carbon saved vs BASE | accuracy change | p95/SLA (max) | SLA met (hours) "
              "| evaluations/h | decision s/h | gap to ORACLE |",
              "|---|---|---|---|---|---|---|---|---|"]
    order = {s: i for i, s in enumerate(SCHEME_ORDER)}
    tab = (main.groupby(["app", "scheme"])
           .agg(saved=("carbon_saved_pct", "mean"), acc=("accuracy_change_pct", "mean"),
                p95=("p95_over_sla_max", "max"), sla=("sla_met_hours_pct", "mean"),
                ev=("evaluations_per_hour", "mean"), ds=("decision_s_per_hour", "mean"),
                gap=("objective_gap_vs_oracle", "mean")).reset_index())
    tab["_o"] = tab["scheme"].map(order)
    for r in tab.sort_values(["app", "_o"]).itertuples():
        lines.append(f"| {r.app} | {SCHEME_LABEL.get(r.scheme, r.scheme)} | {_fmt(r.saved, 1, '%')} | "
                     f"{_fmt(r.acc, 2, '%')} | {_fmt(r.p95, 2)} | {_fmt(r.sla, 1, '%')} | "
                     f"{_fmt(r.ev, 2)} | {_fmt(r.ds, 3)} | {_fmt(r.gap, 2)} |")
    lines += ["", "## Where this reproduction differs from the paper, and why", ""]
    by = main.groupby(["scheme", "app"])[["carbon_saved_pct", "accuracy_change_pct"]].mean()
    if "co2opt" in by.index.get_level_values(0):
        ceil = by.loc["co2opt", "carbon_saved_pct"]
        lines.append(
            "- **Carbon ceiling.** CO2OPT (least carbon meeting the SLA, accuracy ignored) saves "
            + ", ".join(f"{a} {_fmt(v, 1, '%')}" for a, v in ceil.items())
            + ": no scheme can save more under these profiles and this load, so where that is "
            "below ≈80% the paper's figure is out of reach here; it depends on the energy gap "
            "between the largest variant on a whole GPU and the small variants on small slices, "
            "which the profiles set.")
    if "oracle" in by.index.get_level_values(0):
        acc = by.loc["oracle", "accuracy_change_pct"]
        lines.append(
            f"- **Accuracy at λ = {lam:g}.** ORACLE, the exact optimum of the paper's objective, "
            "changes accuracy by " + ", ".join(f"{a} {_fmt(v, 2, '%')}" for a, v in acc.items())
            + ": the loss is what f prefers with these profiles, not a failure of Clover's search; "
            "the λ sweep and the accuracy floor (claim 5) show how to buy it back.")
    lines += [
        "- **Testbed.** The paper measures a live service on 5 nodes × 2 A100; this run "
        + ("scores every configuration with the serving simulator (`backend: model`) on "
           f"`{sources}` per-slice profiles." if backend == "model" else "uses the live backend.")
        + " Differences in absolute carbon per request follow from the profiles; the comparison "
        "between schemes uses one evaluator, so ORACLE is exactly optimal under it.",
        "- **Costs of adaptation.** Online evaluation windows and MIG/model reconfiguration times "
        "are charged with the constants in `config/config.yaml` (`control`, sources in "
        "`docs/controller.md`), assumed rather than measured. They add "
        + ", ".join(f"{SCHEME_LABEL.get(sc, sc)} {_fmt(v, 2, '%')}" for sc, v in _overhead(main).items())
        + " to the carbon per request of the hours' chosen configurations.",
        "- **Traces.** The three original traces are the authors' files; the region/season windows "
        "are 49-hour Electricity Maps lifecycle-intensity windows chosen by this config "
        "(`regions`), not the paper's own region set.",
        "- **Decision time** is the wall time of `decide` on this machine (simulated evaluations are "
        "milliseconds, live ones last an evaluation window), so it is the only non-deterministic "
        "column; everything else is identical run to run for the same config.",
        "",
    ]
    return "\n".join(lines)
