"""Schemes in the artifact's replicated space (``space: replicated``, docs/simulator.md):
every GPU runs the same single-GPU assignment (a partition code, one variant per slot).

* :class:`ReplicatedClover` — sc23-clover ``system/clover.py``: centre = the deployed
  configuration; a proposal is a uniform random partition code plus a uniform random variant
  per slot (among the variants that fit the slot), redrawn while its graph was already
  evaluated this hour; it is a neighbour when the L1 distance of the single-GPU edge-weight
  vectors to the centre's is <= ``max_distance`` (4). After ``neighbour_tries`` (400) draws
  without a neighbour the neighbourhood counts as exhausted (the last draw is still taken, as
  the original). Annealing acceptance as ``system_utils.SimulatedAnneling`` (T from ``t0``
  falling by ``t_step`` to ``t_floor``; ``k`` = 0.01 on percent scores = the original's 1e-4
  on fractions), the centre score starting at -1000 (fractional) each search. SLA-missing
  candidates compete with score·SLA/p95 (either sign, as the original:
  :meth:`~clover.optimize.objective.Score.original_annealing_score`, unlike the extended
  annealer's :meth:`~clover.optimize.objective.Score.annealing_score`); only SLA-meeting ones
  can become the best. Stop when (``patience`` proposals without improving the best, or
  ``max_evaluations`` new online evaluations, or exhausted) and a feasible best exists.
* :class:`ReplicatedBlover` — ``system/experiment.py`` ``RandomExperiment`` ("rand"): uniform
  random (partition code, variant string) proposals, no annealing or neighbourhood, history
  keyed by the raw encoding (slot permutations and two codes of one mix are different keys).
* Both: history across hours — a configuration evaluated in an earlier hour costs no online
  evaluation, keeps its accuracy and p95 and has its carbon scaled by ci·PUE; the search
  re-runs only when ci·PUE moved by more than ``rerun_threshold`` of 250 × 1.5.
* :class:`ReplicatedOracle` — every distinct graph evaluated once (cached), the best
  SLA-meeting objective each hour. :class:`ReplicatedCo2Opt` — least carbon per request
  meeting the SLA (ci-independent).
"""

from __future__ import annotations

import math
import time

import numpy as np

from clover.errors import CloverError
from clover.models.catalog import largest_variant
from clover.models.configuration import Configuration, GpuAssignment
from clover.optimize.bounded import BoundedInts
from clover.optimize.objective import score
from clover.optimize.space import (distinct_graphs, replicate, restricted_fitting,
                                   restricted_partitions)
from clover.optimize.schemes import DEFAULTS, Scheme
from clover.sim.evaluator import Evaluation, SimEvaluator, objective_batch
from clover.sim.fcfs import FcfsEvaluator
from clover.sim.problem import carbon_g

#: the artifact's initial centre score (fractional -1000), in percent points
_INIT_CENTRE = -1000.0 * 100.0
#: FCFS evaluations of every graph of a space, per (problem fingerprint, N, restriction)
_SPACE_EVALS: dict[tuple, list[Evaluation]] = {}


class _ReplicatedSearch(Scheme):
    """Shared machinery: proposals, history, the hourly stop rule (module docstring)."""

    anneal = True

    def __init__(self, problem, evaluator=None, partitions=None, variants=None, **params):
        super().__init__(problem, evaluator, **params)
        seed = self.params["seed"]
        self.rng = np.random.default_rng(problem.seed if seed is None else seed)
        self._int = BoundedInts(self.rng)  # rng.integers(n), cheaper (draws: millions a year)
        #: the search space, optionally restricted to partition codes / variant names
        self.partitions = restricted_partitions(problem.gpu, partitions)
        fitting = restricted_fitting(problem.fitting_variants, variants)
        self.fit = {s: fitting(s) for p in self.partitions for s in p.profiles}
        self.partitions = tuple(p for p in self.partitions if all(self.fit[s] for s in p.profiles))
        if not self.partitions:
            raise CloverError(f"{self.name}: the restricted space has no partition whose every "
                              "slot fits a variant")
        #: per partition: (code, the fitting variants of each slot), what :meth:`draw` reads
        self._draw_table = tuple((p.code, tuple(tuple(self.fit[s]) for s in p.profiles))
                                 for p in self.partitions)
        #: deployed (partition code, variants): BASE on N GPUs, as the artifact starts; in a
        #: space without it, the first draw
        big = largest_variant(problem.app).name
        full = next((p for p in self.partitions if len(p.profiles) == 1), None)
        self.current = ((full.code, (big,)) if full is not None and big in self.fit[
            full.profiles[0]] else self.draw())
        self.history: dict = {}
        self.last_search_ci: float | None = None
        self.total_evaluations = 0

    # --- encodings -----------------------------------------------------------------------
    def assignment(self, cand) -> GpuAssignment:
        code, variants = cand
        part = next(p for p in self.partitions if p.code == code)
        return GpuAssignment(part.profiles, tuple(variants))

    def configuration(self, cand) -> Configuration:
        return replicate(self.assignment(cand), self.problem.gpu, self.problem.n_gpus)

    def counts(self, cand) -> np.ndarray:
        """Single-GPU edge-weight vector of ``cand`` (memoised: the search asks for the same
        few thousand encodings over and over)."""
        memo = self.__dict__.setdefault("_counts_memo", {})
        key = (cand[0], tuple(cand[1]))
        c = memo.get(key)
        if c is None:  # Problem.counts of the one-GPU configuration (valid by construction)
            c = self.problem.type_counts((i, 1) for i in self.assignment(cand).instances)
            c.setflags(write=False)
            memo[key] = c
        return c

    def key(self, cand):  # pragma: no cover
        raise NotImplementedError

    def draw(self):
        """A uniform random partition code and a uniform fitting variant per slot."""
        ints, table = self._int, self._draw_table
        code, fits = table[ints(len(table))]
        return (code, tuple([f[ints(len(f))] for f in fits]))

    def space_size(self) -> int:  # pragma: no cover
        """Distinct history keys of the (possibly restricted) space."""
        raise NotImplementedError

    def all_seen(self, seen: set) -> bool:
        """Every key of the space was evaluated this hour (a small restricted space): no
        unseen draw exists, so redrawing cannot help."""
        if not hasattr(self, "_space_size"):
            self._space_size = int(self.space_size())
        return len(seen) >= self._space_size

    def draw_unseen(self, seen: set):
        """:meth:`draw`, redrawn while its key was evaluated this hour (as the artifact)."""
        return self.unseen_keyed(seen)[0]

    def unseen_keyed(self, seen: set):
        """(:meth:`draw_unseen`, its key)."""
        cand = self.draw()
        k = self.key(cand)
        if self.all_seen(seen):
            return cand, k
        for _ in range(10_000):
            if k not in seen:
                return cand, k
            cand = self.draw()
            k = self.key(cand)
        return cand, k

    def propose(self, centre, seen: set):
        """(next candidate, neighbourhood exhausted)."""
        return self.draw_unseen(seen), False

    # --- history -------------------------------------------------------------------------
    def lookup(self, cand, ci: float, evaluations: list) -> Evaluation:
        k = self.key(cand)
        if k in self.history:
            return self.rescore(self.history[k], ci)
        cfg = self.configuration(cand)
        ev = self.evaluator.evaluate(cfg, ci)
        self.history[k] = ev
        evaluations.append(cfg)
        self.total_evaluations += 1
        return ev

    def should_search(self, ci: float) -> bool:
        if self.last_search_ci is None:
            return True
        p = self.problem
        return abs(ci - self.last_search_ci) * p.pue / (p.ci_ref * p.pue) > self.params[
            "rerun_threshold"]

    def decide(self, hour, ci_g_per_kwh):
        t0 = time.perf_counter()
        ci = float(ci_g_per_kwh)
        p = self.params
        evaluations: list[Configuration] = []
        searched = self.should_search(ci)
        if searched:
            self.last_search_ci = ci
            cur, centre = self.current, self.current
            centre_f, temp = _INIT_CENTRE, float(p["t0"])
            best, best_f, stale, proposals = None, -math.inf, 0, 0
            seen: set = set()
            while True:
                ev = self.lookup(cur, ci, evaluations)
                seen.add(self.key(cur))
                proposals += 1
                s = score(self.problem, ev, ci)
                if self.anneal:
                    f = s.original_annealing_score(ev)  # the paper keeps the original's rule
                    if f >= centre_f or (math.isfinite(f) and self.rng.random() <= math.exp(
                            (f - centre_f) / (float(p["k"]) * temp))):
                        centre, centre_f = cur, f
                    temp = max(float(p["t_floor"]), temp - float(p["t_step"]))
                if s.feasible and s.objective > best_f:
                    best, best_f, stale = cur, s.objective, 0
                else:
                    stale += 1
                nxt, exhausted = self.propose(centre, seen)
                done = (stale >= p["patience"] or len(evaluations) >= p["max_evaluations"]
                        or exhausted)
                if (done and best is not None) or proposals >= p["max_proposals"]:
                    break
                cur = nxt
            if best is not None:
                self.current = best
        ev = self.rescore(self.history[self.key(self.current)], ci)
        return self._decision(hour, ci, ev, t0, evaluations, searched)


class ReplicatedClover(_ReplicatedSearch):
    """Clover in the replicated space (module docstring); history keyed by graph."""

    name = "clover"
    default_params = DEFAULTS["clover"]

    def __init__(self, problem, evaluator=None, partitions=None, variants=None, **params):
        super().__init__(problem, evaluator, partitions, variants, **params)
        self._graph_of: dict = {}  # encoding -> graph number
        self._graphs: dict[bytes, int] = {}  # edge-weight vector -> graph number
        self._near: dict[tuple, dict[int, bool]] = {}  # (centre, distance) -> graph -> near?

    def key(self, cand) -> int:
        """The graph's number: one per distinct single-GPU edge-weight vector (memoised per
        encoding; the search asks for the same encodings hundreds of thousands of times)."""
        g = self._graph_of.get(cand)
        if g is None:
            vector = self.counts(cand).tobytes()
            g = self._graph_of[cand] = self._graphs.setdefault(vector, len(self._graphs))
        return g

    def is_neighbour(self, centre, cand) -> bool:
        """The L1 distance of the edge-weight vectors is at most ``max_distance``."""
        return self._near_to(centre)(cand, self.key(cand))

    def _near_to(self, centre):
        """``near(cand, its key)``: :meth:`is_neighbour` of ``centre``, memoised by graph."""
        max_d = int(self.params["max_distance"])
        row = self._near.setdefault((self.key(centre), max_d), {})

        def near(cand, g: int) -> bool:
            hit = row.get(g)
            if hit is None:
                d = int(np.abs(self.counts(centre) - self.counts(cand)).sum())
                hit = row[g] = d <= max_d
            return hit

        return near

    def space_size(self):
        return len(distinct_graphs(self.problem.app, self.problem.gpu,
                                   lambda s: self.fit.get(s, ()),
                                   tuple(p.code for p in self.partitions)))

    def propose(self, centre, seen):
        if self.all_seen(seen):  # nothing unseen is left: the neighbourhood is exhausted
            return self.draw(), True
        cand, near = None, self._near_to(centre)
        for _ in range(int(self.params["neighbour_tries"])):
            cand, g = self.unseen_keyed(seen)
            if near(cand, g):
                return cand, False
        return cand, True


class ReplicatedBlover(_ReplicatedSearch):
    """Blover = the artifact's random search with history, keyed by the raw encoding."""

    name = "blover"
    default_params = DEFAULTS["blover"]
    anneal = False

    def key(self, cand):
        return (cand[0], tuple(cand[1]))

    def space_size(self):
        return sum(int(np.prod([len(self.fit[s]) for s in p.profiles])) for p in self.partitions)


class _Exhaustive(Scheme):
    """Every distinct fitting graph of the replicated space, evaluated once."""

    def __init__(self, problem, evaluator=None, partitions=None, variants=None, **params):
        super().__init__(problem, evaluator, **params)
        self._evals: list[Evaluation] | None = None
        self._choice: int | None = None
        #: search-space restriction: partition codes / variant names (None: the whole space)
        self.space_partitions = partitions
        self.space_variants = variants
        restricted_partitions(problem.gpu, partitions)  # validates the codes

    def analytic(self) -> bool:
        """The analytic optimal-routing evaluator: its objective is vectorised
        (:func:`clover.sim.objective_batch`), no per-graph evaluation is needed."""
        ev = self.evaluator
        return (type(ev) is SimEvaluator and not ev.simulate
                and self.problem.accuracy_floor is None)

    def assignments(self):
        p = self.problem
        return distinct_graphs(p.app, p.gpu, p.fitting_variants, self.space_partitions,
                               self.space_variants)

    def graphs(self):
        p = self.problem
        return [replicate(a, p.gpu, p.n_gpus) for a in self.assignments()]

    def space_evaluations(self, ci: float) -> list[Evaluation]:
        if self._evals is None:
            self._evals = [self.evaluator.evaluate(c, ci) for c in self.graphs()]
        return [self.rescore(e, ci) for e in self._evals]

    def pick(self, evals: list[Evaluation], ci: float) -> int:  # pragma: no cover
        raise NotImplementedError

    def decide(self, hour, ci_g_per_kwh):
        t0 = time.perf_counter()
        ci = float(ci_g_per_kwh)
        searched = self._evals is None
        evals = self.space_evaluations(ci)
        i = self.pick(evals, ci)
        if i < 0:
            raise CloverError(f"{self.name}: no configuration of the replicated space meets the "
                              f"SLA {self.problem.sla_ms:.2f} ms at {self.problem.rate_rps:.2f} "
                              "req/s")
        return self._decision(hour, ci, evals[i], t0, searched=searched or self.name == "oracle")


class ReplicatedOracle(_Exhaustive):
    """ORACLE: the best SLA-meeting objective over every distinct graph, each hour."""

    name = "oracle"
    default_params = DEFAULTS["oracle"]

    def fcfs_objectives(self, ci: float) -> np.ndarray:
        """Every graph's objective at ``ci`` under FCFS, vectorised: a window does not depend
        on ci (accuracy, p95 and energy are fixed per graph, only carbon scales), so the
        hourly argmax is :func:`clover.optimize.objective.score` on arrays."""
        p = self.problem
        if self._evals is None:
            # one list per problem and space in this process (ORACLE, static and static-daily
            # of a job evaluate the same graphs; windows do not depend on ci)
            key = (getattr(self.evaluator, "_fp", id(self)), p.n_gpus, self.space_partitions,
                   self.space_variants)
            if key not in _SPACE_EVALS:
                _SPACE_EVALS[key] = [self.evaluator.evaluate(c, ci) for c in self.graphs()]
            self._evals = list(_SPACE_EVALS[key])
            e = np.array([ev.energy_j_per_request for ev in self._evals], dtype=float)
            a = np.array([ev.accuracy for ev in self._evals], dtype=float)
            ok = np.array([bool(ev.feasible and ev.sla_met) for ev in self._evals])
            if p.accuracy_floor is not None:
                ok &= a >= p.accuracy_floor * (1 - 1e-9)
            self._fcfs = (e, a, ok)
        e, a, ok = self._fcfs
        c = carbon_g(e, ci, p.pue)
        d_c = (p.base_carbon_g - c) / p.base_carbon_g * 100.0
        d_a = (a - p.base_accuracy) / p.base_accuracy * 100.0
        f = p.lam * d_c + (1.0 - p.lam) * d_a
        return np.where(ok, f, -np.inf)

    def decide(self, hour, ci_g_per_kwh):
        if type(self.evaluator) is FcfsEvaluator:
            t0 = time.perf_counter()
            ci = float(ci_g_per_kwh)
            f = self.fcfs_objectives(ci)
            i = int(np.argmax(f))
            if not math.isfinite(f[i]):
                raise CloverError(f"oracle: no configuration of the replicated space meets the "
                                  f"SLA {self.problem.sla_ms:.2f} ms at "
                                  f"{self.problem.rate_rps:.2f} req/s")
            return self._decision(hour, ci, self.rescore(self._evals[i], ci), t0, searched=True)
        if not self.analytic():
            return super().decide(hour, ci_g_per_kwh)
        t0 = time.perf_counter()
        ci = float(ci_g_per_kwh)
        if self._evals is None:  # the configurations and their count vectors, once
            cfgs = self.graphs()
            self._evals = cfgs  # type: ignore[assignment]
            self._counts = np.array([self.problem.counts(c) for c in cfgs])
        f = objective_batch(self.problem, self._counts, ci)
        i = int(np.argmax(f))
        if not math.isfinite(f[i]):
            raise CloverError(f"oracle: no configuration of the replicated space meets the SLA "
                              f"{self.problem.sla_ms:.2f} ms")
        ev = self.evaluator.evaluate(self._evals[i], ci)
        return self._decision(hour, ci, ev, t0, searched=True)

    def pick(self, evals, ci):
        f = [score(self.problem, e, ci).objective for e in evals]
        i = int(np.argmax(f))
        return i if math.isfinite(f[i]) else -1


class ReplicatedCo2Opt(_Exhaustive):
    """CO2OPT: least energy (= carbon) per request meeting the SLA; accuracy ignored. Chosen
    once (at the first hour's ci; ci-independent under FCFS) and kept."""

    name = "co2opt"
    default_params = DEFAULTS["co2opt"]

    def decide(self, hour, ci_g_per_kwh):
        if self._choice is None and self.analytic():
            # λ = 1 routes and scores by carbon alone: argmax = least energy per request
            t0 = time.perf_counter()
            cfgs = self.graphs()
            counts = np.array([self.problem.counts(c) for c in cfgs])
            f = objective_batch(self.problem, counts, float(ci_g_per_kwh), lam=1.0)
            i = int(np.argmax(f))
            if not math.isfinite(f[i]):
                raise CloverError("co2opt: no configuration of the replicated space meets the "
                                  f"SLA {self.problem.sla_ms:.2f} ms")
            self._cfg, self._choice = cfgs[i], i
            ev = self.evaluator.evaluate(self._cfg, float(ci_g_per_kwh))
            return self._decision(hour, ci_g_per_kwh, ev, t0, searched=True)
        if self._choice is None:
            d = super().decide(hour, ci_g_per_kwh)
            self._cfg = d.configuration
            self._choice = 1
            return d
        t0 = time.perf_counter()
        ev = self.evaluator.evaluate(self._cfg, float(ci_g_per_kwh))
        return self._decision(hour, ci_g_per_kwh, ev, t0)

    def pick(self, evals, ci):
        e = [ev.energy_j_per_request if (ev.sla_met and ev.feasible) else math.inf
             for ev in evals]
        i = int(np.argmin(e))
        return i if math.isfinite(e[i]) else -1
