"""Where the savings come from (issue 11 item 2; docs/decomposition.md).

Under the ``paper`` protocol (sc23-clover's experiment: FCFS longest-idle dispatch, a request
batch of 8 images for vision, λ 0.1, BASE on k·N whole GPUs at the rate R =
0.15·k·N·μ_BASE, the SLA = BASE's p95 there), start from BASE and switch on one knob at a
time, each a real restriction of the replicated search space (partition codes and variant
names passed to :mod:`clover.optimize.replicated`; ORACLE stays exhaustive over it):

=====================  ============================================================  =========
step                   what serves R                                                   k
=====================  ============================================================  =========
``base``               BASE: the largest variant on k·N whole GPUs (the reference)     k
``consolidation``      the same variant on N whole GPUs (no search; may miss the SLA)  k
``variants``           + mixed-quality variants on whole GPUs (partition 0 = 7g only)  k
``static``             + MIG partitioning, one configuration for the whole trace: the   k
                       best over the trace (``static``, chosen with hindsight)
``full``               + adapt hourly (the whole space: full Clover / ORACLE)           k
``partitioning``       partitioning without variants (the largest variant on slices)   k
``equal_load``         the full scheme when BASE has the same N GPUs                   1
=====================  ============================================================  =========

Per hour the scheme decides (Clover with its history across hours, seeded), and the chosen
configuration is scored by the same FCFS evaluator (one window per graph, cached: windows do
not depend on ci). Reported over the trace's hours, steady state (the 30 s online evaluation
windows and reconfigurations of the hourly accounting are not included; the main grid's
controller logs carry them):

* ``carbon_saved_pct`` = (1 − mean scheme carbon/request ÷ mean BASE carbon/request)·100, both
  at each hour's ci (BASE's = its energy/request on k·N GPUs × ci × PUE);
* ``accuracy_lost_pts`` = A_base − mean accuracy (percentage points, as sc23-clover
  ``run.py``), ``accuracy_lost_rel_pct`` = that ÷ A_base · 100;
* ``objective`` = mean hourly λ·ΔCarbon + (1−λ)·ΔAccuracy (the raw value, also for a
  configuration that misses the SLA); ``sla_held_frac`` = fraction of hours whose chosen
  configuration's p95 ≤ SLA.

A step whose restricted space holds no SLA-meeting configuration (so ORACLE and Clover have
nothing to choose) is reported as its least-p95 configuration with ``sla_held_frac`` 0 and a
``note``. Every number comes from modeled profiles (``source`` column).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from clover.errors import CloverError
from clover.mig.geometry import DEFAULT_GPU

#: the three original traces of the paper (clover.carbon presets)
ORIGINAL_TRACES = ("CISO-March", "CISO-Sep", "ESO-March")
APPS = ("efficientnet", "yolo", "albert")
STEPS = ("base", "consolidation", "variants", "static", "full", "partitioning", "equal_load")
STEP_LABELS = {
    "base": "BASE (largest variant, k·N whole GPUs)",
    "consolidation": "1 consolidation: BASE's variant on N whole GPUs",
    "variants": "2 + mixed-quality variants, whole GPUs (no MIG)",
    "static": "3 + MIG partitioning, one configuration for the trace (static, hindsight)",
    "full": "4 + adapt hourly (full scheme)",
    "partitioning": "5 partitioning without variants (largest variant on slices)",
    "equal_load": "equal load (k = 1): full scheme vs BASE on the same N GPUs",
}
#: the artifact's whole-GPU partition code (sc23-clover mig/partition_code.json "0": 7g)
WHOLE_GPU_CODE = "0"
COLUMNS = ("app", "scheme", "trace", "step", "step_label", "k", "n_gpus", "base_gpus",
           "rate_rps", "sla_ms", "hours", "carbon_saved_pct", "accuracy_pct",
           "accuracy_lost_pts", "accuracy_lost_rel_pct", "objective", "sla_held_frac",
           "p95_ms_mean", "energy_j_per_request_mean", "carbon_g_per_request_mean",
           "base_carbon_g_per_request_mean", "configurations", "note", "lam", "protocol",
           "grid", "source")


@dataclass(frozen=True)
class _Setup:
    """A problem under the paper protocol with BASE factor k, and its evaluator."""

    problem: object
    evaluator: object
    source: str


def _setup(app: str, k: int, n_gpus: int, gpu: str, lam: float, seed: int,
           profiles=None) -> _Setup:
    from clover.control.runs import profile_source, profile_table
    from clover.sim.protocol import protocol_settings

    settings = protocol_settings("paper", base_gpu_factor=int(k))
    if profiles is None:
        profiles = profile_table(app, gpu, None, batch_sizes=(1, settings.batch(app)))
    problem = settings.build_problem(app, gpu, n_gpus, profiles, lam=lam, seed=seed)
    return _Setup(problem, settings.evaluator(problem), profile_source(profiles))


def _restriction(app: str, step: str) -> dict:
    """Scheme parameters restricting the replicated space for ``step``."""
    from clover.models.catalog import largest_variant

    if step == "variants":
        return {"partitions": (WHOLE_GPU_CODE,)}
    if step == "partitioning":
        return {"variants": (largest_variant(app).name,)}
    return {}


def _fixed_hours(setup: _Setup, configuration, ci: Sequence[float]) -> list[dict]:
    """One configuration, every hour (BASE, consolidation, or an infeasible step's pick)."""
    from clover.optimize.objective import score

    p = setup.problem
    out = []
    for c in ci:
        ev = setup.evaluator.evaluate(configuration, float(c))
        s = score(p, ev, float(c))
        out.append({"accuracy": ev.accuracy, "energy": ev.energy_j_per_request,
                    "carbon": s.carbon_g_per_request, "p95": ev.p95_ms, "sla": ev.sla_met,
                    "objective": s.raw_objective, "config": configuration.key()})
    return out


def _static_config(setup: _Setup, ci: Sequence[float]):
    """The best single configuration of the whole space over ``ci`` (``static``, hindsight)."""
    from clover.optimize.static import StaticScheme

    return StaticScheme(setup.problem, setup.evaluator).best_for([float(c) for c in ci])


def _least_p95(setup: _Setup, restriction: dict):
    """The restricted space's configuration with the least p95 (an infeasible step)."""
    from clover.optimize.replicated import ReplicatedOracle

    o = ReplicatedOracle(setup.problem, setup.evaluator, **restriction)
    cfgs = o.graphs()
    p95 = [setup.evaluator.evaluate(c, setup.problem.ci_ref).p95_ms for c in cfgs]
    return cfgs[int(np.argmin(p95))]


def _scheme_hours(setup: _Setup, scheme: str, restriction: dict, ci: Sequence[float],
                  seed: int) -> tuple[list[dict], str]:
    """Hourly decisions of ``scheme`` in the restricted space; (rows, note)."""
    from clover.control.runs import build_scheme
    from clover.optimize.objective import score

    sch = build_scheme(scheme, setup.problem, setup.evaluator, {scheme: restriction}, seed)
    rows = []
    try:
        for h, c in enumerate(ci):
            d = sch.decide(h, float(c))
            ev = d.evaluation
            s = score(setup.problem, ev, float(c))
            rows.append({"accuracy": ev.accuracy, "energy": ev.energy_j_per_request,
                         "carbon": d.carbon_g_per_request, "p95": ev.p95_ms,
                         "sla": ev.sla_met, "objective": s.raw_objective,
                         "config": d.configuration.key()})
    except CloverError:
        if rows:
            raise
        cfg = _least_p95(setup, restriction)
        return (_fixed_hours(setup, cfg, ci),
                "no configuration of the restricted space meets the SLA: least-p95 shown")
    missed = sum(not r["sla"] for r in rows)
    note = (f"{scheme} found no SLA-meeting configuration in {missed} of {len(rows)} hours"
            if missed else "")
    return rows, note


def _summarise(setup: _Setup, hours: list[dict], ci: Sequence[float]) -> dict:
    from clover.sim.problem import carbon_g

    p = setup.problem
    base_c = np.array([carbon_g(p.base_energy_j, float(c), p.pue) for c in ci])
    carbon = np.array([r["carbon"] for r in hours])
    acc = float(np.mean([r["accuracy"] for r in hours]))
    lost = float(p.base_accuracy) - acc
    lost = 0.0 if abs(lost) < 1e-9 else lost  # BASE's own accuracy, up to rounding
    return {
        "hours": len(hours), "rate_rps": float(p.rate_rps), "sla_ms": float(p.sla_ms),
        "n_gpus": int(p.n_gpus), "base_gpus": int(p.base_gpus),
        "carbon_saved_pct": (1.0 - carbon.mean() / base_c.mean()) * 100.0,
        "accuracy_pct": acc, "accuracy_lost_pts": lost,
        "accuracy_lost_rel_pct": lost / float(p.base_accuracy) * 100.0,
        "objective": float(np.mean([r["objective"] for r in hours])),
        "sla_held_frac": float(np.mean([bool(r["sla"]) for r in hours])),
        "p95_ms_mean": float(np.mean([r["p95"] for r in hours])),
        "energy_j_per_request_mean": float(np.mean([r["energy"] for r in hours])),
        "carbon_g_per_request_mean": float(carbon.mean()),
        "base_carbon_g_per_request_mean": float(base_c.mean()),
        "configurations": len({r["config"] for r in hours}),
    }


def decomposition(app: str, traces: Iterable[str] = ORIGINAL_TRACES,
                  schemes: Sequence[str] = ("oracle", "clover"), *, n_gpus: int | None = None,
                  k: int | None = None, gpu: str = DEFAULT_GPU, lam: float | None = None,
                  seed: int = 0,
                  hours: int | None = None, data_dir: str | None = None,
                  profiles=None, ci_by_trace: dict | None = None) -> pd.DataFrame:
    """The savings decomposition of ``app``: one row per scheme × trace × step (:data:`STEPS`,
    module docstring), columns :data:`COLUMNS` (percent, points, ms, J, g per request).

    ``n_gpus``, ``k`` and ``lam`` default to the paper protocol's (``clover.sim.protocol``:
    N = 2, k = 5, λ = 0.1; the decomposition is a paper-protocol study). ``ci_by_trace``
    (name -> hourly g/kWh) replaces loading the traces (tests); ``hours`` keeps the first
    hours only. Deterministic for a given ``seed``."""
    from clover.sim.protocol import protocol_settings

    paper = protocol_settings("paper")
    n_gpus = paper.default_gpus if n_gpus is None else n_gpus
    k = paper.base_gpu_factor if k is None else k
    lam = paper.lam if lam is None else lam
    if int(k) < 2:
        raise CloverError(f"decomposition: k must be >= 2 (the equal-load row is k = 1; got {k})")
    if int(n_gpus) < 1:
        raise CloverError(f"decomposition: n_gpus must be >= 1 (got {n_gpus})")
    if not 0.0 <= float(lam) <= 1.0:
        raise CloverError(f"decomposition: lam must be within [0, 1] (got {lam})")
    if hours is not None and int(hours) < 1:
        raise CloverError(f"decomposition: hours must be >= 1 (got {hours})")
    if ci_by_trace is None:
        from clover.carbon import load_trace

        ci_by_trace = {t: [float(x) for x in load_trace(t, data_dir).ci_g_per_kwh]
                       for t in traces}
    setups = {kk: _setup(app, kk, n_gpus, gpu, lam, seed, profiles) for kk in (int(k), 1)}
    rows = []
    for trace, ci in ci_by_trace.items():
        ci = list(ci)[:hours] if hours is not None else list(ci)
        for scheme in schemes:
            for step in STEPS:
                su = setups[1 if step == "equal_load" else int(k)]
                note = ""
                if step == "base":
                    hrs = _fixed_hours(su, su.problem.base_reference_configuration(), ci)
                elif step == "consolidation":
                    hrs = _fixed_hours(su, su.problem.base_configuration(), ci)
                elif step == "static":  # the same hindsight configuration for every scheme
                    hrs = _fixed_hours(su, _static_config(su, ci), ci)
                else:
                    hrs, note = _scheme_hours(su, scheme, _restriction(app, step), ci, seed)
                rows.append({"app": app, "scheme": scheme, "trace": trace, "step": step,
                             "step_label": STEP_LABELS[step],
                             "k": 1 if step == "equal_load" else int(k),
                             **_summarise(su, hrs, ci), "note": note, "lam": float(lam),
                             "protocol": "paper", "grid": "decomposition",
                             "source": su.source})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def mean_over_traces(table: pd.DataFrame) -> pd.DataFrame:
    """Per app × scheme × step, the mean of the per-trace rows (``trace`` = "mean"; carbon
    saved and the objective as plain means over traces, SLA held over all hours)."""
    keys = ["app", "scheme", "step"]
    num = [c for c in COLUMNS if c not in keys and c not in (
        "trace", "step_label", "note", "protocol", "grid", "source") and c in table.columns]
    g = table.groupby(keys, sort=False)
    out = g[num].mean().reset_index()
    first = g[["step_label", "note", "protocol", "grid", "source"]].first().reset_index(drop=True)
    out = pd.concat([out, first], axis=1)
    out["trace"] = "mean"
    out["hours"] = g["hours"].sum().to_numpy()
    return out[[c for c in COLUMNS if c in out.columns]]


def decomposition_table(apps: Sequence[str] = APPS, traces: Sequence[str] = ORIGINAL_TRACES,
                        schemes: Sequence[str] = ("oracle", "clover"), **kw) -> pd.DataFrame:
    """Every app's per-trace rows followed by the per-app means (``trace`` = "mean")."""
    per = pd.concat([decomposition(a, traces, schemes, **kw) for a in apps], ignore_index=True)
    return pd.concat([per, mean_over_traces(per)], ignore_index=True)
