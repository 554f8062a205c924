"""The Clover objective (Li et al., SC'23, §4):

    ΔAccuracy = (A - A_base)/A_base·100      ΔCarbon = (C_base - E·ci)/C_base·100
    f = λ·ΔCarbon + (1-λ)·ΔAccuracy          subject to p95 <= L_tail (and A >= A_min)

``C_base`` is a fixed reference (BASE's carbon per request at 250 g/kWh, PUE 1.5), not BASE at
the current hour, so the objective moves with ``ci``. ``E·ci`` is the carbon per request; with
``E`` in J, ``ci`` in g/kWh, the conversion J -> kWh and PUE go into ``carbon_intensity`` (see
:func:`score`), exactly as the paper's worked example, where they are folded into units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clover.sim.evaluator import Evaluation
from clover.sim.problem import Problem, carbon_g


def delta_accuracy_pct(accuracy: float, base_accuracy: float) -> float:
    return (accuracy - base_accuracy) / base_accuracy * 100.0


def delta_carbon_pct(energy_per_request: float, carbon_intensity: float,
                     base_carbon: float) -> float:
    return (base_carbon - energy_per_request * carbon_intensity) / base_carbon * 100.0


def clover_objective(accuracy: float, base_accuracy: float, energy_per_request: float,
                     carbon_intensity: float, base_carbon: float, lam: float) -> float:
    """f = λ·ΔCarbon + (1-λ)·ΔAccuracy, in percent points (higher is better).

    ``energy_per_request x carbon_intensity`` must be in the units of ``base_carbon``.
    """
    return (lam * delta_carbon_pct(energy_per_request, carbon_intensity, base_carbon)
            + (1.0 - lam) * delta_accuracy_pct(accuracy, base_accuracy))


@dataclass(frozen=True)
class Score:
    """An evaluation scored at one intensity. ``objective`` is -inf when infeasible."""

    objective: float
    delta_carbon_pct: float
    delta_accuracy_pct: float
    carbon_g_per_request: float
    feasible: bool
    raw_objective: float = math.nan  # f ignoring the constraints

    def annealing_score(self, evaluation: Evaluation) -> float:
        """The score the extended annealer (``clover.optimize.schemes``, per-GPU space)
        compares: f when feasible; when only the SLA is missed, f scaled by SLA/p95 (f >= 0)
        or by p95/SLA (f < 0), so that missing the SLA always makes a score worse; -inf when no
        finite p95 or another constraint fails.

        This differs from the original (sc23-clover ``system/clover.py``, ``new_sa_score =
        score * SLA / lat``, either sign; :meth:`original_annealing_score`, which the paper
        protocol keeps): there a negative score that misses the SLA is scaled towards 0 and
        so looks *better* than the same configuration meeting it, the further it misses the
        better, which steers the walk towards overloaded configurations whenever scores are
        negative (high ci, large λ); the extended annealer penalises a miss at either sign.
        """
        if self.feasible:
            return self.objective
        p95, sla = evaluation.p95_ms, evaluation.sla_ms
        sla_only = (math.isfinite(p95) and p95 > sla and math.isfinite(self.raw_objective)
                    and not evaluation.reason.startswith(("does not fit", "no SLA-safe routing")))
        if not sla_only:
            return -math.inf
        f = self.raw_objective
        return f * sla / p95 if f >= 0 else f * p95 / sla

    def original_annealing_score(self, evaluation: Evaluation) -> float:
        """The original's annealing score, kept by the paper protocol
        (``clover.optimize.replicated``): f when feasible, else f·SLA/p95 for either sign of
        f (sc23-clover ``system/clover.py``: ``new_sa_score = score * self.SLA / lat``); -inf
        without a finite p95 or f (it does not fit). See :meth:`annealing_score` for why the
        extended annealer differs."""
        if self.feasible:
            return self.objective
        if not (math.isfinite(evaluation.p95_ms) and math.isfinite(self.raw_objective)):
            return -math.inf
        return self.raw_objective * evaluation.sla_ms / evaluation.p95_ms


def score(problem: Problem, evaluation: Evaluation, ci_g_per_kwh: float,
          lam: float | None = None) -> Score:
    """Score ``evaluation`` for ``problem`` at ``ci_g_per_kwh``.

    Carbon per request = E[J]/3.6e6 · ci · PUE (g). Infeasible (SLA missed, memory, or accuracy
    floor) -> objective -inf, the other fields still filled.
    """
    lam = problem.lam if lam is None else float(lam)
    c = carbon_g(evaluation.energy_j_per_request, ci_g_per_kwh, problem.pue)
    d_c = (problem.base_carbon_g - c) / problem.base_carbon_g * 100.0
    d_a = delta_accuracy_pct(evaluation.accuracy, problem.base_accuracy)
    ok = bool(evaluation.feasible and evaluation.sla_met)
    if problem.accuracy_floor is not None and not (
            evaluation.accuracy >= problem.accuracy_floor * (1 - 1e-9)):
        ok = False
    raw = lam * d_c + (1.0 - lam) * d_a
    f = raw if ok else -math.inf
    return Score(float(f), float(d_c), float(d_a), float(c), ok, float(raw))
