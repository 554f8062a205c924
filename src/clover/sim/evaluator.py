"""Evaluators: score one configuration at one hour's carbon intensity.

The protocol (:class:`Evaluator`) is what every scheme calls; :class:`SimEvaluator` is the
analytic one (optionally checked by the event simulation), the live backend implements the
same protocol against a real Ray Serve service.

Routing (the evaluator's, stated in docs/simulator.md): given the instances and the hour's
``ci``, the router sends ``y_t <= cap_t·n_t`` req/s to instance type ``t`` (split evenly over
its ``n_t`` instances, random splitting) with ``sum_t y_t = R``, maximising the Clover objective.
The objective is linear in ``y`` (:meth:`Problem.request_values`), so this is a fractional
knapsack solved exactly by filling types in decreasing value order. ``sum_t cap_t·n_t < R`` means
no routing meets the SLA: the configuration is infeasible (its metrics are then reported for a
capacity-proportional split, and p95 may be infinite).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.configuration import Configuration
from clover.sim.problem import Problem
from clover.sim.queueing import QUANTILE, _sf, _tail_params, mean_sojourn


@dataclass(frozen=True)
class Evaluation:
    """One configuration measured (or modeled) at one carbon intensity.

    Attributes:
        configuration: what was evaluated.
        rate_rps: offered load, req/s.
        shares: req/s routed to each (variant, slice profile) type (all instances of it).
        accuracy: traffic-weighted accuracy, %.
        energy_j_per_request: total energy (idle of every GPU + dynamic) / requests, J.
        power_w: average total power, W.
        p95_ms, mean_latency_ms: end-to-end latency (queueing + service), ms.
        throughput_rps: served rate, req/s.
        sla_ms: the p95 bound; sla_met: p95 <= sla_ms.
        feasible: a routing exists that meets the SLA on every instance (and the accuracy floor).
        source: "modeled" (closed form), "simulated" (event simulation) or "measured-...".
        ci_g_per_kwh: the intensity the routing was chosen for.
        reason: why infeasible, empty otherwise.
    """

    configuration: Configuration
    rate_rps: float
    shares: dict
    accuracy: float
    energy_j_per_request: float
    power_w: float
    p95_ms: float
    mean_latency_ms: float
    throughput_rps: float
    sla_ms: float
    sla_met: bool
    feasible: bool
    source: str = "modeled"
    ci_g_per_kwh: float = float("nan")
    reason: str = ""

    def at(self, ci_g_per_kwh: float, configuration: Configuration | None = None
           ) -> "Evaluation":
        """This evaluation at ``ci_g_per_kwh`` (and with ``configuration``, an equal object):
        ``dataclasses.replace`` without re-running ``__init__`` (nothing to check again; a year
        of hours asks for some 100,000 of these per job)."""
        new = object.__new__(type(self))
        fields = new.__dict__
        fields.update(self.__dict__)
        fields["ci_g_per_kwh"] = float(ci_g_per_kwh)
        if configuration is not None:
            fields["configuration"] = configuration
        return new

    def metrics(self) -> dict:
        """Flat, JSON-friendly metrics."""
        return {
            "rate_rps": float(self.rate_rps), "accuracy": float(self.accuracy),
            "energy_j_per_request": float(self.energy_j_per_request),
            "power_w": float(self.power_w), "p95_ms": float(self.p95_ms),
            "mean_latency_ms": float(self.mean_latency_ms),
            "throughput_rps": float(self.throughput_rps), "sla_ms": float(self.sla_ms),
            "sla_met": self.sla_met, "feasible": self.feasible, "source": self.source,
        }


@runtime_checkable
class Evaluator(Protocol):
    """What a scheme needs from a backend.

    ``evaluate`` runs (or models) ``configuration`` at the hour's intensity and returns its
    :class:`Evaluation`. ``rescore`` (optional; schemes fall back to reusing the evaluation as
    is) refreshes a cached evaluation for a new intensity *without* an online evaluation, e.g.
    by re-routing on the known per-instance model.
    """

    def evaluate(self, configuration: Configuration, ci_g_per_kwh: float) -> Evaluation: ...


def route(problem: Problem, counts: np.ndarray, ci_g_per_kwh: float,
          lam: float | None = None) -> tuple[np.ndarray, bool]:
    """Objective-maximising traffic per type (req/s) and whether the SLA can be met.

    Fractional knapsack: fill types in decreasing :meth:`Problem.request_values` up to their
    SLA-safe capacity. If an accuracy floor is set and the greedy split misses it, the exact LP
    (HiGHS) is solved instead.
    """
    t = problem.types
    capacity = t.cap_rps * counts
    R = problem.rate_rps
    if capacity.sum() < R * (1.0 - 1e-12):
        return _proportional(problem, counts), False
    val = problem.request_values(ci_g_per_kwh, lam)
    order = np.argsort(-val, kind="stable")
    c = capacity[order]
    before = np.cumsum(c) - c
    y = np.zeros_like(capacity)
    y[order] = np.clip(R - before, 0.0, c)
    floor = problem.accuracy_floor
    if floor is not None and (y @ t.accuracy) < floor * R * (1 - 1e-12):
        return _route_lp(problem, capacity, val, floor)
    return y, True


def _proportional(problem: Problem, counts: np.ndarray) -> np.ndarray:
    mu = problem.types.mu_rps * counts * problem.types.fits
    if mu.sum() <= 0:
        return np.zeros_like(mu)
    return problem.rate_rps * mu / mu.sum()


def _route_lp(problem: Problem, capacity, val, floor) -> tuple[np.ndarray, bool]:
    from scipy.optimize import linprog

    t = problem.types
    R = problem.rate_rps
    res = linprog(-val, A_ub=[-(t.accuracy - floor)], b_ub=[0.0], A_eq=[np.ones_like(val)],
                  b_eq=[R], bounds=list(zip(np.zeros_like(capacity), capacity)), method="highs")
    if res.status != 0:
        return _proportional(problem, (capacity > 0).astype(float)), False
    return np.clip(res.x, 0.0, capacity), True


def mixture_p95(problem: Problem, counts: np.ndarray, y: np.ndarray,
                q: float = QUANTILE) -> tuple[float, float]:
    """(p95, mean) end-to-end latency in ms of the traffic mixture, closed form."""
    t = problem.types
    used = y > 0
    if not used.any():
        return float("nan"), float("nan")
    lam_i = y[used] / counts[used]
    d, b = t.d_ms[used], t.beta_ms[used]
    w = y[used] / y[used].sum()
    means = mean_sojourn(lam_i, d, b)
    mean = float(w @ means)
    if not np.all(np.isfinite(means)):
        return float("inf"), float("inf")
    lo, hi = float(d.min()), float(np.max(means) * 60 + b.max() * 60 + d.max() + 1.0)
    rho, g, c = _tail_params(lam_i, d, b)
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        if float(w @ _sf(mid, rho, g, c, d, b)) > 1 - q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi), mean


class SimEvaluator:
    """The analytic evaluator (closed-form M/G/1 per instance, objective-maximising routing).

    With ``simulate=True`` the p95 / mean latency / throughput come from the event simulation
    (:func:`clover.sim.events.simulate`) of ``sim_requests`` Poisson arrivals at the offered
    load, seeded by ``problem.seed``; ``source`` is then "simulated".
    """

    source = "modeled"

    def __init__(self, problem: Problem, simulate: bool = False, sim_requests: int = 200_000):
        self.problem = problem
        self.simulate = bool(simulate)
        self.sim_requests = int(sim_requests)
        self.calls = 0

    def evaluate(self, configuration: Configuration, ci_g_per_kwh: float) -> Evaluation:
        self.calls += 1
        p = self.problem
        counts = p.counts(configuration)
        t = p.types
        bad = [k for k, n in zip(t.keys, counts) if n > 0 and not t.fits[t.index(*k)]]
        y, ok = route(p, counts, ci_g_per_kwh)
        reason = ""
        if bad:
            ok = False
            reason = "does not fit: " + ", ".join(f"{v} on {s}" for v, s in bad)
            y = _proportional(p, counts * t.fits)
        elif not ok:
            reason = (f"SLA-safe capacity {float(t.cap_rps @ counts):.1f} req/s < offered load "
                      f"{p.rate_rps:.1f} req/s at p95 <= {p.sla_ms:.2f} ms")
            if p.accuracy_floor is not None and float(t.cap_rps @ counts) >= p.rate_rps:
                reason = f"no SLA-safe routing reaches the accuracy floor {p.accuracy_floor}%"
        R = p.rate_rps
        served = float(y.sum())
        spec = get_gpu(p.gpu)
        power = spec.idle_power_w * configuration.n_gpus + float(y @ t.dyn_j)
        accuracy = float(y @ t.accuracy) / served if served > 0 else float("nan")
        p95, mean = mixture_p95(p, counts, y)
        source = "modeled"
        throughput = served if ok else min(served, float(t.mu_rps @ (counts * t.fits)))
        if self.simulate and served > 0 and not bad:
            from clover.sim.events import poisson_arrivals, simulate

            shares = {k: float(v) for k, v in zip(t.keys, y) if v > 0}
            arr = poisson_arrivals(R, self.sim_requests / R, seed=p.seed)
            res = simulate(configuration, shares, p.profiles, arr, seed=p.seed)
            p95, mean, throughput = res.p95_ms, res.mean_latency_ms, res.throughput_rps
            source = "simulated"
        sla_met = bool(np.isfinite(p95) and p95 <= p.sla_ms * (1 + 1e-6))
        if not self.simulate:
            sla_met = sla_met and ok
        return Evaluation(
            configuration=configuration, rate_rps=float(R),
            shares={k: float(v) for k, v in zip(t.keys, y) if v > 0},
            accuracy=accuracy, energy_j_per_request=float(power / R), power_w=float(power),
            p95_ms=float(p95), mean_latency_ms=float(mean), throughput_rps=float(throughput),
            sla_ms=p.sla_ms, sla_met=sla_met, feasible=bool(ok), source=source,
            ci_g_per_kwh=float(ci_g_per_kwh), reason=reason,
        )

    def rescore(self, evaluation: Evaluation, ci_g_per_kwh: float) -> Evaluation:
        """Re-route a known configuration for a new intensity: no online evaluation."""
        calls = self.calls
        out = self.evaluate(evaluation.configuration, ci_g_per_kwh)
        self.calls = calls
        return out


def objective_batch(problem: Problem, counts: np.ndarray, ci_g_per_kwh: float,
                    lam: float | None = None, n_gpus: int | None = None) -> np.ndarray:
    """Objective f of many count vectors at once (rows of ``counts``), -inf where infeasible.

    Same routing as :func:`route` (no accuracy floor); used by exhaustive search.
    """
    if problem.accuracy_floor is not None:
        raise CloverError("objective_batch does not support an accuracy floor")
    counts = np.atleast_2d(counts)
    t = problem.types
    R = problem.rate_rps
    val = problem.request_values(ci_g_per_kwh, lam)
    order = np.argsort(-val, kind="stable")
    cap = (counts * t.cap_rps)[:, order]
    before = np.cumsum(cap, axis=1) - cap
    y = np.clip(R - before, 0.0, cap)
    f = y @ val[order] + problem.objective_constant(ci_g_per_kwh, n_gpus, lam)
    feasible = cap.sum(axis=1) >= R * (1.0 - 1e-12)
    feasible &= ~np.any((counts > 0) & ~t.fits, axis=1)
    return np.where(feasible, f, -np.inf)
