"""Fewest GPUs each scheme needs to meet a service target (rate, SLA, accuracy).

The target is the paper's service: BASE (the largest variant on whole GPUs) on ``base_gpus``
GPUs sets the offered rate (req/s) and the SLA (its p95); the accuracy target is BASE's
accuracy minus ``max_accuracy_loss_pct`` percent. Under ``protocol: paper`` (the default) that
is the artifact's service: BASE on k·N = ``base_gpus`` GPUs at its light load (k = the
protocol's ``base_gpu_factor``, 5; N = base_gpus / k), the replicated space, FCFS dispatch
and the request batch (``clover.sim.protocol.build_problem``); under ``extended`` BASE on
``base_gpus`` GPUs at the extended load. For each scheme and N = 1, 2, ... the problem keeps
that rate, SLA, C_base and A_base with N GPUs (``Problem.with_params``), the scheme decides at
the reference intensity, and N is enough when the chosen configuration meets the SLA and the
accuracy target. Embodied carbon: ``clover.analysis.aggregate.embodied_savings``.
"""

from __future__ import annotations

import math

import pandas as pd

from clover.control.controller import edge_weights_json
from clover.errors import CloverError

GPU_COUNT_COLUMNS = ("protocol", "app", "scheme", "gpus_needed", "base_gpus", "max_gpus", "rate_rps", "sla_ms",
                     "accuracy_target", "accuracy", "p95_ms", "energy_j_per_request",
                     "carbon_g_per_request", "ci_g_per_kwh", "lam", "configuration", "source",
                     "backend")


def gpus_needed(problem, scheme_name: str, ci_g_per_kwh: float, max_gpus: int,
                accuracy_target: float, scheme_params: dict, seed: int) -> tuple[int | None, object]:
    """(fewest N, that N's decision) for one scheme; (None, None) if no N <= max_gpus works."""
    from clover.control.runs import build_scheme

    for n in range(1, int(max_gpus) + 1):
        p = problem.with_params(n_gpus=n, accuracy_floor=accuracy_target)
        evaluator = p.protocol.evaluator(p)
        try:
            scheme = build_scheme(scheme_name, p, evaluator, scheme_params, seed)
            scheme.set_period([ci_g_per_kwh])
            d = scheme.decide(0, ci_g_per_kwh)
        except CloverError:
            continue
        ev = d.evaluation
        if bool(ev.sla_met) and getattr(ev, "feasible", True) and \
                float(ev.accuracy) >= accuracy_target - 1e-9:
            # the GPUs the chosen configuration occupies: BASE runs on k x n under a
            # base_gpu_factor k (Problem.base_gpus), every other scheme on n
            return int(d.configuration.n_gpus), d
    return None, None


def gpu_count_table(app: str, gpu: str, profiles, schemes: list[str], base_gpus: int,
                    max_gpus: int, max_accuracy_loss_pct: float, ci_g_per_kwh: float, lam: float,
                    problem_kwargs: dict, scheme_params: dict, seed: int, source: str,
                    protocol=None) -> pd.DataFrame:
    """One row per scheme: :data:`GPU_COUNT_COLUMNS`. ``protocol``: a protocol object (None:
    the paper preset)."""
    from clover.control.runs import build_problem
    from clover.sim.protocol import protocol_settings

    if base_gpus < 1 or max_gpus < 1:
        raise CloverError("gpu_count: base_gpus and max_gpus must be >= 1")
    if not 0 <= max_accuracy_loss_pct <= 100:
        raise CloverError("gpu_count.max_accuracy_loss_pct must be within [0, 100]")
    settings = protocol_settings("paper") if protocol is None else protocol
    k = settings.base_gpu_factor
    if base_gpus % k:
        raise CloverError(f"gpu_count.base_gpus = {base_gpus} is not a multiple of the "
                          f"{settings.name} protocol's base_gpu_factor {k} (BASE runs on k x N "
                          "GPUs)")
    problem = build_problem(app, gpu, base_gpus // k, profiles, lam, None, problem_kwargs, seed,
                            settings)
    target = problem.base_accuracy * (1.0 - max_accuracy_loss_pct / 100.0)
    rows = []
    for s in schemes:
        n, d = gpus_needed(problem, s, ci_g_per_kwh, max_gpus, target, scheme_params, seed)
        ev = d.evaluation if d is not None else None
        rows.append({
            "protocol": settings.name, "app": app, "scheme": s, "gpus_needed": n if n is not None else math.nan,
            "base_gpus": base_gpus, "max_gpus": max_gpus, "rate_rps": problem.rate_rps,
            "sla_ms": problem.sla_ms, "accuracy_target": target,
            "accuracy": float(ev.accuracy) if ev is not None else math.nan,
            "p95_ms": float(ev.p95_ms) if ev is not None else math.nan,
            "energy_j_per_request": float(ev.energy_j_per_request) if ev is not None else math.nan,
            "carbon_g_per_request": float(d.carbon_g_per_request) if d is not None else math.nan,
            "ci_g_per_kwh": ci_g_per_kwh, "lam": lam,
            "configuration": edge_weights_json(d.configuration) if d is not None else "",
            "source": source, "backend": "model",
        })
    return pd.DataFrame(rows, columns=list(GPU_COUNT_COLUMNS))
