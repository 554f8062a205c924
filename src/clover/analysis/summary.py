"""The claims table: each claim of the Clover paper next to what each protocol measured.

One row per claim: the paper's statement, the result under ``protocol: paper`` (the original
artifact's experiment), the result under ``protocol: extended`` (this project's generalisation),
a verdict, and a one-line reason where the protocols' verdicts differ. A protocol with no runs
reads "not run". Verdicts come from one ladder (:func:`ladder`) with the thresholds stated in
each row: ``reproduced``, ``partly`` (same direction, clearly smaller effect), ``not
reproduced``, or ``not run``. Runs are selected by their labels (``protocol``, ``grid``), never
by trace names or scheme lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from clover.analysis.aggregate import SCHEME_LABEL, SCHEME_ORDER, protocols, select
from clover.names import PROTOCOL_NAMES

#: Protocols in table order.
PROTOCOL_ORDER = PROTOCOL_NAMES
NOT_RUN = "not run"


@dataclass(frozen=True)
class Result:
    """One protocol's outcome for a claim."""

    measured: str
    verdict: str


@dataclass(frozen=True)
class Claim:
    key: str
    paper: str
    results: dict = field(default_factory=dict)  # protocol -> Result
    note: str = ""
    reason: str = ""  # why the protocols' verdicts differ (one line)

    def result(self, protocol: str) -> Result:
        return self.results.get(protocol, Result(f"{protocol} protocol not run", NOT_RUN))

    @property
    def verdict(self) -> str:
        """The paper protocol's verdict when it ran, else the extended protocol's."""
        for p in PROTOCOL_ORDER:
            r = self.result(p)
            if r.verdict != NOT_RUN:
                return r.verdict if p == "paper" else f"{r.verdict} (extended only)"
        return NOT_RUN


def ladder(*rungs: tuple[bool, str], otherwise: str = "not reproduced") -> str:
    """The verdict of the first rung whose condition holds (``(condition, verdict)`` pairs)."""
    for ok, verdict in rungs:
        if bool(ok):
            return verdict
    return otherwise


def _fmt(x: float, nd: int = 1, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{nd}f}{unit}"


def _main(runs: pd.DataFrame, lam: float) -> pd.DataFrame:
    """Runs of the main grid at the main λ without an accuracy floor (every protocol)."""
    return select(runs, grid="main", lam=lam, floor="none")


def _per_app(c: pd.DataFrame, col: str, nd: int, unit: str) -> str:
    return ", ".join(f"{a} {_fmt(v, nd, unit)}" for a, v in c.groupby("app")[col].mean().items())


def claim_carbon(main: pd.DataFrame) -> Result:
    c = main[main["scheme"] == "clover"]
    if c.empty:
        return Result("Clover not run", NOT_RUN)
    saved = c["carbon_saved_pct"].mean()
    per_app = _per_app(c, "carbon_saved_pct", 1, "%")
    sla_h = c["sla_met_hours_pct"].mean()
    sla_r = c["sla_ok_pct"].mean()
    measured = (f"Clover saves {_fmt(saved, 1, '%')} (mean over apps and traces; {per_app}); "
                "chosen configuration "
                f"meets the SLA in {_fmt(sla_h, 1, '%')} of hours, {_fmt(sla_r, 2, '%')} of "
                "requests served while the SLA held (reconfigurations included)")
    return Result(measured, ladder((saved >= 70 and sla_h >= 99, "reproduced"),
                                   (saved >= 40 and sla_h >= 95, "partly")))


def claim_accuracy(main: pd.DataFrame) -> Result:
    c = main[main["scheme"] == "clover"]
    if c.empty:
        return Result("Clover not run", NOT_RUN)
    change = c["accuracy_change_pct"].mean()
    worst = c["accuracy_change_pct"].min()
    points = c["accuracy_loss_points"].mean()
    measured = (f"Clover loses {_fmt(points, 2)} points ({_fmt(-change, 2, '%')} relative) on "
                f"average over apps and traces (per app, points: "
                f"{_per_app(c, 'accuracy_loss_points', 2, '')}; relative: "
                f"{_per_app(c, 'accuracy_change_pct', 2, '%')}); worst run "
                f"{_fmt(worst, 2, '%')}")
    return Result(measured, ladder((worst >= -5, "reproduced"), (change >= -5, "partly")))


def gap_halves(hourly: pd.DataFrame | None, scheme: str) -> tuple[float, float]:
    """Mean gap to ORACLE (points of f) of ``scheme`` in the first and the second half of the
    hours (main-grid hourly rows, averaged over apps and traces; NaN without hourly rows)."""
    if hourly is None or hourly.empty or not {scheme, "oracle"} <= set(hourly["scheme"]):
        return math.nan, math.nan
    keys = ["app", "trace", "hour"]
    o = hourly[hourly["scheme"] == "oracle"].set_index(keys)["hour_objective"]
    x = hourly[hourly["scheme"] == scheme].set_index(keys)["hour_objective"]
    gap = (o - x).dropna().reset_index(name="gap")
    if gap.empty:
        return math.nan, math.nan
    mid = gap["hour"].max() / 2.0
    return (float(gap.loc[gap["hour"] <= mid, "gap"].mean()),
            float(gap.loc[gap["hour"] > mid, "gap"].mean()))


def claim_oracle(main: pd.DataFrame, hourly: pd.DataFrame | None = None) -> Result:
    if "oracle" not in set(main["scheme"]) or "clover" not in set(main["scheme"]):
        return Result("Clover or ORACLE not run", NOT_RUN)
    gaps = (main[main["scheme"] != "oracle"].groupby("scheme")["objective_gap_vs_oracle"].mean()
            .reindex([s for s in SCHEME_ORDER if s != "oracle"]).dropna())
    best = gaps.idxmin()
    measured = "mean objective gap to ORACLE (points of f): " + ", ".join(
        f"{SCHEME_LABEL[s]} {_fmt(v, 2)}" for s, v in gaps.items())
    first, second = gap_halves(hourly, "clover")
    closer = math.isfinite(first) and second <= first
    if math.isfinite(first):
        bf, bs = gap_halves(hourly, "blover")
        measured += (f"; over time, Clover's gap {_fmt(first, 2)} (first half of the hours) → "
                     f"{_fmt(second, 2)} (second half)")
        if math.isfinite(bf):
            measured += f", Blover's {_fmt(bf, 2)} → {_fmt(bs, 2)}"
    others = gaps.drop("clover")
    near = not others.empty and gaps["clover"] <= others.min() + 0.5
    return Result(measured, ladder((best == "clover" and (closer or not math.isfinite(first)),
                                    "reproduced"),
                                   (best == "clover" or near, "partly")))


def claim_overhead(main: pd.DataFrame) -> Result:
    c, b = main[main["scheme"] == "clover"], main[main["scheme"] == "blover"]
    if c.empty or b.empty:
        return Result("Clover or Blover not run", NOT_RUN)
    ce, be = c["evaluations_per_hour"].mean(), b["evaluations_per_hour"].mean()
    ct, bt = c["decision_s_per_hour"].mean(), b["decision_s_per_hour"].mean()
    cc, bc = c["evaluation_carbon_g"].mean(), b["evaluation_carbon_g"].mean()
    co, bo = c["objective"].mean(), b["objective"].mean()
    cr, br = c["reconfig_s"].mean(), b["reconfig_s"].mean()
    measured = (f"evaluations/hour Clover {_fmt(ce, 2)} vs Blover {_fmt(be, 2)}; decision time/hour "
                f"{_fmt(ct, 3)} s vs {_fmt(bt, 3)} s; reconfiguration time per run {_fmt(cr, 0)} s vs "
                f"{_fmt(br, 0)} s; evaluation carbon per run {_fmt(cc, 1)} g vs {_fmt(bc, 1)} g; "
                f"mean objective {_fmt(co, 2)} vs {_fmt(bo, 2)}")
    return Result(measured, ladder((ce < be and co >= bo - 0.5, "reproduced"),
                                   (ce < be or ct < bt or cr < br, "partly")))


def claim_lambda(runs: pd.DataFrame) -> Result:
    runs = select(runs, grid="lam_sweep")
    s = runs[(runs["scheme"] == "clover") & (runs["floor"] == "none")]
    n_lam = s.groupby(["app", "trace"])["lam"].nunique()
    sweeps = [k for k, n in n_lam.items() if n >= 2]
    if not sweeps:
        return Result("no λ sweep in the config", NOT_RUN)
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
    return Result(measured, ladder((ok_dir == len(sweeps) and floor_ok, "reproduced"),
                                   (ok_dir > 0, "partly")))


def claim_regions(runs: pd.DataFrame, lam: float) -> Result:
    reg = select(runs, grid="regions", lam=lam, floor="none")
    reg = reg[reg["scheme"] == "clover"]
    if reg.empty:
        return Result("no region/season traces in the config", NOT_RUN)
    pos = int((reg["carbon_saved_pct"] > 0).sum())
    measured = (f"Clover saves carbon on {pos}/{len(reg)} zone-season windows "
                f"({reg['trace'].nunique()} windows); saving {_fmt(reg['carbon_saved_pct'].min(), 1, '%')}"
                f" … {_fmt(reg['carbon_saved_pct'].max(), 1, '%')}")
    return Result(measured, ladder((pos == len(reg), "reproduced"), (pos >= len(reg) / 2, "partly")))


def claim_gpus(gpus: pd.DataFrame) -> Result:
    if gpus is None or gpus.empty or "clover" not in set(gpus["scheme"]):
        return Result("GPU count not run for Clover", NOT_RUN)
    c = gpus[gpus["scheme"] == "clover"]
    parts = []
    for r in c.itertuples():
        parts.append(f"{r.app}: {int(r.base_gpus_needed) if pd.notna(r.base_gpus_needed) else 'n/a'} → "
                     f"{int(r.gpus_needed) if pd.notna(r.gpus_needed) else 'n/a'} GPUs")
    saved = c["embodied_saved_kg"].sum()
    measured = f"BASE → Clover {'; '.join(parts)}; embodied carbon avoided {_fmt(saved, 0)} kgCO2e"
    if c["gpus_needed"].isna().any():
        measured += (" (n/a: no configuration within the accuracy target meets the SLA on up to "
                     f"{int(c['max_gpus'].max()) if 'max_gpus' in c else 'max_gpus'} GPUs)")
    fewer = (c["gpus_saved"] > 0).sum()
    return Result(measured, ladder((fewer == len(c), "reproduced"), (fewer > 0, "partly")))


#: key -> (the paper's statement, basis of the verdict, why the protocols may differ)
CLAIMS = {
    "carbon": ("≈80% carbon saved against BASE while meeting the SLA",
               "reproduced ≥ 70% saved and SLA met ≥ 99% of hours; partly ≥ 40% and ≥ 95%",
               "paper: BASE on k·N GPUs against every scheme on N (consolidation counts); "
               "extended: equal load on N GPUs"),
    "accuracy": ("small accuracy loss (a few percent) for that saving",
                 "every run within −5% of BASE accuracy (relative)",
                 "λ 0.1 and FCFS traffic weighting (paper) against the config λ and "
                 "objective-optimal routing (extended)"),
    "oracle": ("Clover comes closest to ORACLE among the practical schemes, and closer over "
               "time through its history",
               "Clover has the smallest mean gap and its gap in the second half of the hours is "
               "no larger than in the first; partly: smallest gap (or within 0.5 points of it) "
               "without the trend",
               "ORACLE over the replicated graphs (paper) against the per-GPU MILP (extended)"),
    "overhead": ("far less search overhead than Blover (fewer online evaluations, less time)",
                 "fewer evaluations per hour at an objective no worse (0.5 points); partly: less "
                 "of one overhead (evaluations, decision time or reconfiguration time)",
                 "the artifact's random search with history (paper) against the raw-encoding "
                 "annealer (extended)"),
    "lambda": ("λ trades carbon against accuracy; an accuracy floor bounds the loss",
               "larger λ saves more carbon for less accuracy in every sweep, and every hour's "
               "chosen configuration respects the floor",
               "the protocols' search spaces differ (replicated vs per-GPU layouts)"),
    "regions": ("the savings hold across regions and seasons", "a saving on every window",
                "the saving's size depends on the protocol's provisioning of BASE"),
    "gpus": ("fewer GPUs for the same service target, saving embodied carbon",
             "fewer GPUs than BASE for every app",
             "the GPU-count study runs under the paper protocol only (BASE on k·N GPUs sets "
             "the rate and the SLA)"),
}


def _results(runs: pd.DataFrame, gpus: pd.DataFrame, lam: float,
             hourly: pd.DataFrame | None = None) -> dict[str, dict[str, Result]]:
    """claim key -> protocol -> Result, for every protocol present in ``runs``."""
    out: dict[str, dict[str, Result]] = {k: {} for k in CLAIMS}
    for p in protocols(runs):
        r = select(runs, protocol=p)
        main = _main(r, lam)
        h = _main(select(hourly, protocol=p), lam) if hourly is not None else None
        out["carbon"][p] = claim_carbon(main)
        out["accuracy"][p] = claim_accuracy(main)
        out["oracle"][p] = claim_oracle(main, h)
        out["overhead"][p] = claim_overhead(main)
        out["lambda"][p] = claim_lambda(r)
        out["regions"][p] = claim_regions(r, lam)
    if gpus is not None and not gpus.empty:
        labelled = "protocol" in gpus.columns
        for p in (protocols(gpus) if labelled else ["extended"]):
            out["gpus"][p] = claim_gpus(select(gpus, protocol=p) if labelled else gpus)
    return out


def build_claims(runs: pd.DataFrame, gpus: pd.DataFrame, lam: float, kg_per_gpu: float,
                 embodied_source: str, hourly: pd.DataFrame | None = None) -> list[Claim]:
    """One :class:`Claim` per paper claim, with each protocol's result."""
    results = _results(runs, gpus, lam, hourly)
    claims = []
    for key, (paper, basis, why) in CLAIMS.items():
        res = results[key]
        if key == "gpus":
            basis += f"; {kg_per_gpu:g} kgCO2e per GPU ({embodied_source})"
        verdicts = {p: r.verdict for p, r in res.items() if r.verdict != NOT_RUN}
        if len(verdicts) < 2:
            missing = [p for p in PROTOCOL_ORDER if p not in verdicts]
            reason = (f"{' and '.join(missing)} protocol not run (the config runs this study "
                      f"under {' and '.join(verdicts) or 'no protocol'} only)") if missing else ""
        else:
            reason = "" if len(set(verdicts.values())) == 1 else why
        claims.append(Claim(key, paper, res, basis, reason))
    return claims


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _overhead(main: pd.DataFrame) -> pd.Series:
    """Realised over steady-state carbon per request, minus 1, in % (search + reconfiguration)."""
    t = main.groupby("scheme")[["carbon_g_per_request", "carbon_g_per_request_steady"]].sum()
    t = t.reindex([s for s in SCHEME_ORDER if s in t.index])
    return (t["carbon_g_per_request"] / t["carbon_g_per_request_steady"] - 1.0) * 100.0


def decomposition_reading(dec: pd.DataFrame | None, scheme: str = "oracle") -> str:
    """One line: consolidation + mixing + partitioning, mean over apps (traces' mean rows)."""
    if dec is None or dec.empty:
        return "decomposition not run"
    d = dec[(dec["trace"].astype(str) == "mean") & (dec["scheme"] == scheme)]
    if d.empty:
        d = dec[dec["scheme"] == scheme]
    if d.empty:
        return f"decomposition has no {scheme} rows"
    m = d.groupby("step")[["carbon_saved_pct", "accuracy_lost_pts", "sla_held_frac"]].mean()

    def v(step, col="carbon_saved_pct"):
        return float(m.loc[step, col]) if step in m.index else math.nan

    cons, var, full, part, eq = (v(s) for s in ("consolidation", "variants", "full",
                                                 "partitioning", "equal_load"))
    sla = {s: v(s, "sla_held_frac") for s in ("consolidation", "partitioning")}
    return (f"{SCHEME_LABEL.get(scheme, scheme)}, mean over apps: consolidation alone "
            f"{_fmt(cons, 1, '%')} (SLA held {_fmt(100 * sla['consolidation'], 0, '%')} of hours) "
            f"+ mixing variants {_fmt(var - cons, 1)} points (→ {_fmt(var, 1, '%')}) + MIG "
            f"partitioning {_fmt(full - var, 1)} points (→ {_fmt(full, 1, '%')}, accuracy −"
            f"{_fmt(v('full', 'accuracy_lost_pts'), 2)} points); partitioning without variants "
            f"{_fmt(part, 1, '%')} (SLA held {_fmt(100 * sla['partitioning'], 0, '%')}); at equal "
            f"load (k = 1) the full scheme saves {_fmt(eq, 1, '%')}")


def reference_reading(ref: pd.DataFrame | None) -> tuple[str, list[str]]:
    """(verdict line, one line per app × ratio where |error| > 25 %) of the reference check."""
    if ref is None or ref.empty:
        return "reference check not run", []
    r = ref[~((ref["kind"] == "base") & (ref["load_index"] == 0))]
    lines = []
    worst = {}
    for col, what in (("carbon_ratio_vs_base_light", "carbon per request vs BASE light"),
                      ("p95_ratio_vs_base_light", "p95 vs BASE light")):
        err = r[f"{col}_error_pct"]
        worst[what] = float(err.abs().max())
        for (kind, app), g in r.groupby(["kind", "app"], sort=False):
            e = g[f"{col}_error_pct"]
            if (e.abs() > 25).any():
                lines.append(f"{kind} {app}, {what}: modeled/measured − 1 = "
                             + ", ".join(f"{x:+.0f}%" for x in e) + " (loads light → heavy)")
    n_ok = int(sum((r[f"{c}_error_pct"].abs() <= 25).sum() for c in (
        "carbon_ratio_vs_base_light", "p95_ratio_vs_base_light")))
    n = 2 * len(r)
    verdict = (f"{n_ok}/{n} modeled ratios within ±25% of the artifact's measurement "
               f"({len(ref)} log entries); worst error: " + ", ".join(
                   f"{k} {_fmt(v, 0, '%')}" for k, v in worst.items())
               + (". The modeled profiles disagree with the measurement where listed below; "
                  "profile constants were not tuned to this check." if lines else "."))
    return verdict, lines


def render_markdown(runs: pd.DataFrame, gpus: pd.DataFrame, lam: float, kg_per_gpu: float,
                    embodied_source: str, backend: str, hourly: pd.DataFrame | None = None,
                    decomposition: pd.DataFrame | None = None,
                    reference: pd.DataFrame | None = None) -> str:
    """The whole ``results/summary.md``."""
    claims = build_claims(runs, gpus, lam, kg_per_gpu, embodied_source, hourly)
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
        "| # | Paper's statement | Paper protocol | Extended protocol | Verdict | "
        "Where they differ | Basis |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(claims, 1):
        cells = []
        for p in PROTOCOL_ORDER:
            r = c.result(p)
            cells.append(NOT_RUN if r.verdict == NOT_RUN else f"{r.measured} (**{r.verdict}**)")
        lines.append(f"| {i} | {_md_cell(c.paper)} | {_md_cell(cells[0])} | {_md_cell(cells[1])} | "
                     f"**{c.verdict}** | {_md_cell(c.reason)} | {_md_cell(c.note)} |")
    ref_verdict, ref_lines = reference_reading(reference)
    lines += ["", "## Where the savings come from (results/decomposition.csv, paper protocol)", "",
              "- " + decomposition_reading(decomposition, "oracle") + ".",
              "- " + decomposition_reading(decomposition, "clover") + ".",
              "", "## Check against the artifact's measurements (results/reference_check.csv)",
              "", "**Verdict:** " + ref_verdict, ""]
    lines += [f"- {x}" for x in ref_lines]
    lines += ["", "## Per protocol, scheme and app (main grid, mean over traces)", "",
              "| protocol | app | scheme | carbon saved vs BASE | accuracy loss (points) | "
              "accuracy change | p95/SLA (max) | SLA met (hours) | evaluations/h | decision s/h "
              "| gap to ORACLE |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    order = {s: i for i, s in enumerate(SCHEME_ORDER)}
    porder = {p: i for i, p in enumerate(PROTOCOL_ORDER)}
    tab = (main.groupby(["protocol", "app", "scheme"])
           .agg(saved=("carbon_saved_pct", "mean"), pts=("accuracy_loss_points", "mean"),
                acc=("accuracy_change_pct", "mean"),
                p95=("p95_over_sla_max", "max"), sla=("sla_met_hours_pct", "mean"),
                ev=("evaluations_per_hour", "mean"), ds=("decision_s_per_hour", "mean"),
                gap=("objective_gap_vs_oracle", "mean")).reset_index())
    tab["_o"] = tab["scheme"].map(order)
    tab["_p"] = tab["protocol"].map(porder)
    for r in tab.sort_values(["_p", "app", "_o"]).itertuples():
        lines.append(f"| {r.protocol} | {r.app} | {SCHEME_LABEL.get(r.scheme, r.scheme)} | "
                     f"{_fmt(r.saved, 1, '%')} | {_fmt(r.pts, 2)} | {_fmt(r.acc, 2, '%')} | {_fmt(r.p95, 2)} | {_fmt(r.sla, 1, '%')} | "
                     f"{_fmt(r.ev, 2)} | {_fmt(r.ds, 3)} | {_fmt(r.gap, 2)} |")
    lines += ["", "## Where this reproduction differs from the paper, and why", ""]
    present = protocols(main)
    main = select(main, protocol=present[0]) if present else main
    if present:
        lines.append(f"Numbers in this section: protocol `{present[0]}`.")
        lines.append("")
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
        "- **Costs of adaptation.** Under the paper protocol the hour is accounted as the "
        "artifact's `run.py` does (each new online evaluation serves 30 s, history hits 0 s, no "
        "reconfiguration downtime); under the extended protocol MIG/model reconfiguration times "
        "are also charged with the constants in `config/config.yaml` (`control`, sources in "
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
