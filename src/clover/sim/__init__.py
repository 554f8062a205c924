"""Serving simulator: per-instance M/G/1 model, objective-maximising router, event simulation.

Public API (docs/simulator.md): :class:`Problem`, :class:`Evaluation`, :class:`Evaluator`,
:class:`SimEvaluator`, :func:`simulate`, :func:`poisson_arrivals`, :func:`carbon_g`.
"""

from clover.sim.evaluator import Evaluation, Evaluator, SimEvaluator, objective_batch, route
from clover.sim.events import SimResult, lindley_sojourn, poisson_arrivals, simulate
from clover.sim.problem import (
    CI_REF_G_PER_KWH,
    LOAD_FRACTION,
    PUE,
    InstanceTypes,
    Problem,
    carbon_g,
)
from clover.sim.queueing import fit_shifted_exponential, sla_capacity, sojourn_quantile

__all__ = [
    "CI_REF_G_PER_KWH", "LOAD_FRACTION", "PUE", "Evaluation", "Evaluator", "InstanceTypes",
    "Problem", "SimEvaluator", "SimResult", "carbon_g", "fit_shifted_exponential",
    "lindley_sojourn", "objective_batch", "poisson_arrivals", "route", "simulate",
    "sla_capacity", "sojourn_quantile",
]
