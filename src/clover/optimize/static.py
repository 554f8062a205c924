"""Non-adaptive references (issue 18): one configuration held for a whole period.

* :class:`StaticScheme` (``static``, **hindsight**): the one configuration that maximises the
  objective summed over every hour of the trace, chosen with the whole trace in view
  (``set_period``; it sees the future, so it is a reference, not a realisable scheme) and
  deployed every hour with no online evaluation.
* :class:`StaticDailyScheme` (``static-daily``, no hindsight): ORACLE's offline knowledge
  (every configuration profiled) but only the past: at the first hour of each day (hours
  ``24·d``) it deploys the configuration that was best summed over the previous 24 hours'
  carbon intensity (the hours it has already seen), with no online search. The first day
  (hours 0–23) has no past: it deploys the configuration best at the objective's reference
  intensity ``ci_ref`` (250 g/kWh, the intensity at which C_base is fixed), which is what an
  operator with profiles but no history would plan for.

"Best summed over hours" is exact for the evaluator the scheme is given:

* replicated space (``protocol: paper``): every distinct graph, evaluated once (FCFS windows
  and analytic evaluations do not depend on ci except through carbon), scored at each hour's
  ci and summed; the argmax (first on ties, in graph order);
* per-GPU space (``protocol: extended``): one MILP over instance counts shared by all hours and
  one routing per hour (each hour's traffic routed to maximise that hour's objective, as
  :func:`clover.sim.evaluator.route` does), so the optimum of the sum is exact, not the
  optimum at the mean ci.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np

from clover.errors import CloverError
from clover.models.configuration import Configuration
from clover.optimize.objective import score
from clover.optimize.schemes import DEFAULTS, Scheme
from clover.sim.evaluator import objective_batch


def replicated_hour_objectives(oracle, ci_hours: Sequence[float]
                               ) -> tuple[np.ndarray, list[Configuration]]:
    """(objective of every graph at each hour, hours × graphs, -inf where infeasible; the
    graphs) of a :class:`~clover.optimize.replicated.ReplicatedOracle`'s space, from one
    evaluation per graph (the oracle's cache)."""
    from clover.sim.fcfs import FcfsEvaluator

    p = oracle.problem
    if type(oracle.evaluator) is FcfsEvaluator:
        f = np.array([oracle.fcfs_objectives(float(c)) for c in ci_hours])
        return f, [e.configuration for e in oracle._evals]
    graphs = oracle.__dict__.get("_static_graphs") or oracle.graphs()
    oracle._static_graphs = graphs
    if oracle.analytic():
        counts = np.array([p.counts(c) for c in graphs])
        return np.array([objective_batch(p, counts, float(c)) for c in ci_hours]), graphs
    evals = oracle.space_evaluations(float(ci_hours[0]))
    return np.array([[score(p, oracle.rescore(e, float(c)), float(c)).objective for e in evals]
                     for c in ci_hours]), [e.configuration for e in evals]


def best_replicated(oracle, ci_hours: Sequence[float]) -> Configuration:
    """The graph of the replicated space with the largest summed objective over the hours
    (a graph infeasible in any hour is excluded; ties: the first in graph order)."""
    f, graphs = replicated_hour_objectives(oracle, ci_hours)
    total = np.where(np.isfinite(f).all(axis=0), f.sum(axis=0), -np.inf)
    i = int(np.argmax(total))
    if not math.isfinite(total[i]):
        raise CloverError(f"no configuration of the replicated space meets the SLA in every "
                          f"hour ({oracle.problem.app}, SLA {oracle.problem.sla_ms:.2f} ms)")
    return graphs[i]


def solve_milp_hours(problem, ci_hours: Sequence[float], time_limit_s: float = 60.0
                     ) -> Configuration:
    """The per-GPU configuration maximising the objective summed over ``ci_hours``: integer
    GPUs per layout and instances per type shared by every hour, continuous traffic per type
    and hour (``y_h <= cap·w``, ``sum y_h = R``, the accuracy floor per hour). Raises
    CloverError when no configuration meets the SLA (and the floor)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    from clover.optimize.exact import _layout_matrix, configuration_from_counts

    t = problem.types
    T, S, H = len(t), len(t.slices), len(ci_hours)
    layouts, lmat = _layout_matrix(problem)
    L = len(layouts)
    if L == 0:
        raise CloverError("no MIG layout can be filled with variants that fit")
    N, R = problem.n_gpus, problem.rate_rps
    nv = L + T + H * T
    c = np.zeros(nv)
    for h, ci in enumerate(ci_hours):
        c[L + T + h * T:L + T + (h + 1) * T] = -problem.request_values(float(ci))
    rows, lb, ub = [], [], []

    def add(row, lo, hi):
        rows.append(row), lb.append(lo), ub.append(hi)

    r = np.zeros(nv); r[:L] = 1; add(r, N, N)
    for si in range(S):
        r = np.zeros(nv); r[:L] = -lmat[:, si]
        r[L + np.arange(len(t.variants)) * S + si] = 1
        add(r, 0, 0)
    for h in range(H):
        y0 = L + T + h * T
        for i in range(T):
            r = np.zeros(nv); r[y0 + i] = 1; r[L + i] = -t.cap_rps[i]; add(r, -np.inf, 0)
        r = np.zeros(nv); r[y0:y0 + T] = 1; add(r, R, R)
        if problem.accuracy_floor is not None:
            r = np.zeros(nv); r[y0:y0 + T] = t.accuracy - problem.accuracy_floor
            add(r, 0, np.inf)
    y_up = np.where(t.fits & (t.cap_rps > 0), np.inf, 0)
    upper = np.concatenate([np.full(L, N), np.where(t.fits, 7 * N, 0), np.tile(y_up, H)])
    res = milp(c, constraints=LinearConstraint(np.array(rows), lb, ub),
               integrality=np.concatenate([np.ones(L + T), np.zeros(H * T)]),
               bounds=Bounds(np.zeros(nv), upper),
               options={"time_limit": time_limit_s, "mip_rel_gap": 1e-9})
    if res.status != 0 or res.x is None:
        raise CloverError(f"no configuration of {N} x {problem.gpu} serves {R:.1f} req/s of "
                          f"{problem.app} within the SLA in every hour ({res.message})")
    m = np.rint(res.x[:L]).astype(int)
    w = np.rint(res.x[L:L + T]).astype(int)
    return configuration_from_counts(problem, layouts, m, w)


class _Fixed(Scheme):
    """A configuration chosen offline for a period and served with no online evaluation."""

    def __init__(self, problem, evaluator=None, **params):
        super().__init__(problem, evaluator, **params)
        self.period: list[float] | None = None
        self._oracle = None

    def set_period(self, ci_g_per_kwh) -> None:
        self.period = [float(x) for x in np.asarray(ci_g_per_kwh, dtype=float).ravel()]

    def best_for(self, ci_hours: Sequence[float]) -> Configuration:
        """The configuration with the largest objective summed over ``ci_hours`` (exact)."""
        if not len(ci_hours):
            raise CloverError(f"{self.name}: no hours to choose a configuration for")
        if self.problem.protocol.space == "replicated":
            if self._oracle is None:
                from clover.optimize.replicated import ReplicatedOracle

                self._oracle = ReplicatedOracle(self.problem, self.evaluator)
            return best_replicated(self._oracle, ci_hours)
        return solve_milp_hours(self.problem, ci_hours, self.params["time_limit_s"])

    def _serve(self, hour, ci, config: Configuration, t0: float, searched: bool):
        ev = self.evaluator.evaluate(config, float(ci))
        return self._decision(hour, ci, ev, t0, searched=searched)


class StaticScheme(_Fixed):
    """``static`` (hindsight): one configuration for the whole trace (module docstring)."""

    name = "static"
    default_params = DEFAULTS["static"]

    def __init__(self, problem, evaluator=None, **params):
        super().__init__(problem, evaluator, **params)
        self.config: Configuration | None = None

    def decide(self, hour, ci_g_per_kwh):
        t0 = time.perf_counter()
        searched = self.config is None
        if searched:  # hindsight: the whole trace; without one (one-shot use) this hour
            self.config = self.best_for(self.period or [float(ci_g_per_kwh)])
        return self._serve(hour, ci_g_per_kwh, self.config, t0, searched)


class StaticDailyScheme(_Fixed):
    """``static-daily`` (no hindsight): a new configuration at each day's first hour, the
    best over the previous ``day_hours`` hours it has seen; the first day: the best at
    ``ci_ref`` (module docstring). ``set_period`` is ignored: it never looks ahead."""

    name = "static-daily"
    default_params = DEFAULTS["static-daily"]

    def __init__(self, problem, evaluator=None, **params):
        super().__init__(problem, evaluator, **params)
        self.seen: list[float] = []  # ci of the hours already decided, in order
        self.config: Configuration | None = None
        self.day: int | None = None

    def choice_hours(self, day: int) -> list[float]:
        """The intensities the choice for ``day`` rests on: the previous day's (seen) hours,
        or ``[ci_ref]`` on the first day."""
        n = int(self.params["day_hours"])
        if day == 0:
            return [float(self.problem.ci_ref)]
        return self.seen[(day - 1) * n:day * n]

    def decide(self, hour, ci_g_per_kwh):
        t0 = time.perf_counter()
        day = int(hour) // int(self.params["day_hours"])
        searched = day != self.day
        if searched:
            self.config, self.day = self.best_for(self.choice_hours(day)), day
        self.seen.append(float(ci_g_per_kwh))
        return self._serve(hour, ci_g_per_kwh, self.config, t0, searched)
