"""The built-in schemes of the per-GPU space, and the interface every scheme has: an object
with ``decide(hour, ci_g_per_kwh) -> Decision`` (and ``set_period(ci)``, used by JUNG, a no-op
elsewhere), built by :func:`clover.optimize.registry.make_scheme` (the scheme registry). All
choices are scored by the same evaluator.

Defaults follow the original Clover (sc23-clover) and are overridable through ``params``
(``scheme_params`` of config/config.yaml): see :data:`DEFAULTS`; each class states its own
(:attr:`Scheme.default_params`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

import numpy as np

from clover.errors import CloverError
from clover.models.catalog import variants_for_app
from clover.models.configuration import Configuration
from clover.optimize.exact import solve_milp
from clover.optimize.graph import graph_key, graph_neighbour, raw_key, raw_neighbour
from clover.optimize.objective import score
from clover.sim.evaluator import Evaluation, Evaluator
from clover.sim.problem import Problem

#: default parameters per scheme (the original's values where it has them)
DEFAULTS: dict[str, dict] = {
    "base": {},
    "co2opt": {},
    "oracle": {"time_limit_s": 60.0},
    "clover": {"t0": 100.0, "t_step": 5.0, "t_floor": 10.0, "k": 0.01, "max_distance": 4,
               "max_evaluations": 10, "patience": 5, "rerun_threshold": 0.05,
               "neighbour_tries": 400, "max_proposals": 200, "seed": None},
    "blover": {"t0": 100.0, "t_step": 5.0, "t_floor": 10.0, "k": 0.01, "max_evaluations": 10,
               "patience": 5, "rerun_threshold": 0.05, "neighbour_tries": 400,
               "max_proposals": 200, "seed": None},
    "jung": {"ci_low": None, "ci_high": None},
}
#: today's annealer on the raw per-GPU encoding, kept under its own name (issue 10)
DEFAULTS["sa-raw"] = dict(DEFAULTS["blover"])
# the non-adaptive references (issue 18; clover.optimize.static)
DEFAULTS["static"] = {"time_limit_s": 60.0}
DEFAULTS["static-daily"] = {"time_limit_s": 60.0, "day_hours": 24}

#: scheme parameters that must be > 0 (the others >= 0)
POSITIVE_PARAMS = {"day_hours", "time_limit_s", "t0", "t_step", "t_floor", "k",
                   "max_evaluations", "neighbour_tries", "max_proposals"}


def check_params_against(defaults: Mapping, params: Mapping, where: str) -> dict:
    """``params`` checked against a scheme's ``defaults`` (known keys, each of its default's
    type, non-negative; :data:`POSITIVE_PARAMS` positive); ``where`` names the source in the
    error (``--param``, ``scheme clover``)."""
    from clover.cliutil import check_params

    return check_params(params, defaults, where,
                        positive={k: True for k in POSITIVE_PARAMS & set(defaults)})


@dataclass(frozen=True)
class Decision:
    """One hour's choice of a scheme, scored by the evaluator.

    ``evaluations`` lists the NEW candidate configurations evaluated online this hour, in
    order (cached ones cost nothing and are not listed); ``decision_s`` is the wall time of
    ``decide`` (including those evaluations).
    """

    scheme: str
    hour: int
    ci_g_per_kwh: float
    configuration: Configuration
    evaluation: Evaluation
    objective: float
    delta_carbon_pct: float
    delta_accuracy_pct: float
    carbon_g_per_request: float
    evaluations: list = field(default_factory=list)
    decision_s: float = 0.0
    searched: bool = False

    @property
    def metrics(self) -> dict:
        """p95_ms, mean_latency_ms, energy_j_per_request, accuracy, throughput_rps, sla_met..."""
        return self.evaluation.metrics()

    def as_dict(self) -> dict:
        return {
            "scheme": self.scheme, "hour": self.hour, "ci_g_per_kwh": self.ci_g_per_kwh,
            "configuration": self.configuration.as_dict(),
            "edge_weights": {f"{v}@{s}": n for (v, s), n in
                             self.configuration.edge_weights().items()},
            "objective": self.objective, "delta_carbon_pct": self.delta_carbon_pct,
            "delta_accuracy_pct": self.delta_accuracy_pct,
            "carbon_g_per_request": self.carbon_g_per_request,
            "evaluations": len(self.evaluations), "decision_s": self.decision_s,
            "searched": self.searched, **self.metrics,
            "shares_rps": {f"{v}@{s}": y for (v, s), y in self.evaluation.shares.items()},
        }


class Scheme:
    """Common machinery: parameters, the evaluator, building a Decision. A scheme (built-in
    or a plug-in, docs/extending.md) sets ``name`` and ``default_params`` (every parameter
    it takes, with its default) and implements :meth:`decide`."""

    name = "scheme"
    #: parameter -> default; ``scheme_params`` / ``--param`` may set only these
    default_params: Mapping = {}

    def __init__(self, problem: Problem, evaluator: Evaluator | None = None, **params):
        self.problem = problem
        self.evaluator = (evaluator if evaluator is not None
                          else problem.protocol.evaluator(problem))
        self.params = {**self.default_params,
                       **check_params_against(self.default_params, params,
                                              f"scheme {self.name}")}

    def set_period(self, ci_g_per_kwh) -> None:
        """The period's carbon-intensity trace (used by JUNG; ignored by the others)."""

    def rescore(self, evaluation: Evaluation, ci: float) -> Evaluation:
        fn = getattr(self.evaluator, "rescore", None)
        return fn(evaluation, ci) if fn is not None else evaluation

    def _decision(self, hour, ci, ev: Evaluation, started: float, evaluations=(),
                  searched=False) -> Decision:
        s = score(self.problem, ev, ci)
        return Decision(self.name, int(hour), float(ci), ev.configuration, ev, s.objective,
                        s.delta_carbon_pct, s.delta_accuracy_pct, s.carbon_g_per_request,
                        list(evaluations), time.perf_counter() - started, searched)

    def decide(self, hour: int, ci_g_per_kwh: float) -> Decision:  # pragma: no cover
        raise NotImplementedError


class BaseScheme(Scheme):
    """BASE: the largest variant on every GPU, whole (7g); its p95 defines the SLA. Under a
    ``base_gpu_factor`` k it runs on k·N GPUs (``Problem.base_reference_configuration``)."""

    name = "base"
    default_params = DEFAULTS["base"]

    @cached_property
    def _reference(self) -> Configuration:
        """One object for every hour (the transition memo hashes it)."""
        return self.problem.base_reference_configuration()

    def decide(self, hour, ci_g_per_kwh):
        t0 = time.perf_counter()
        ev = self.evaluator.evaluate(self._reference, ci_g_per_kwh)
        return self._decision(hour, ci_g_per_kwh, ev, t0)


class OracleScheme(Scheme):
    """ORACLE: the exact optimum of the evaluator's objective every hour (MILP, HiGHS)."""

    name = "oracle"
    default_params = DEFAULTS["oracle"]

    def decide(self, hour, ci_g_per_kwh):
        t0 = time.perf_counter()
        res = solve_milp(self.problem, ci_g_per_kwh, time_limit_s=self.params["time_limit_s"])
        ev = self.evaluator.evaluate(res.configuration, ci_g_per_kwh)
        return self._decision(hour, ci_g_per_kwh, ev, t0, searched=True)


class Co2OptScheme(Scheme):
    """CO2OPT: least carbon (= least energy) per request meeting the SLA, accuracy ignored.

    Independent of ci (carbon = energy x ci), so solved once (MILP) and reused."""

    name = "co2opt"
    default_params = DEFAULTS["co2opt"]

    def __init__(self, problem, evaluator=None, **params):
        super().__init__(problem, evaluator, **params)
        self._config: Configuration | None = None

    def decide(self, hour, ci_g_per_kwh):
        t0 = time.perf_counter()
        searched = self._config is None
        if searched:
            values = -self.problem.types.dyn_j
            self._config = solve_milp(self.problem, ci_g_per_kwh, values=values).configuration
        ev = self.evaluator.evaluate(self._config, ci_g_per_kwh)
        return self._decision(hour, ci_g_per_kwh, ev, t0, searched=searched)


class _Annealing(Scheme):
    """Simulated annealing shared by Clover (graph space) and Blover (raw encoding), after the
    original (sc23-clover ``system/clover.py``, ``system_utils.SimulatedAnneling``).

    Per search: the incumbent is the first centre (its evaluation comes from the cache or is
    run); the temperature starts at ``t0`` and falls by ``t_step`` per proposal to ``t_floor``;
    a candidate becomes the centre if better, else with probability ``exp(-Δf/(k·T))``
    (Δf in objective percent points; ``k = 0.01`` is the original ``K = 1e-4`` on fractional
    scores). A candidate that misses the SLA competes with its objective made worse by p95/SLA
    (:meth:`Score.annealing_score`; not the original's rule) but never becomes the best. Neighbours are drawn around the centre, never
    repeating a configuration already tried this hour (``neighbour_tries`` draws, then the
    search stops: neighbourhood exhausted). A proposal whose configuration was evaluated in an
    earlier hour is rescored at this hour's ci with no online cost. Stop after
    ``max_evaluations`` new (online) evaluations or ``patience`` proposals without improving the
    best. The search runs only when ci·PUE moved by more than ``rerun_threshold`` of the
    reference ci_ref·PUE (250 g/kWh x 1.5) since the last search (as the original); otherwise
    the incumbent is kept and rescored.
    """

    def __init__(self, problem, evaluator=None, **params):
        super().__init__(problem, evaluator, **params)
        seed = self.params["seed"]
        self.rng = np.random.default_rng(problem.seed if seed is None else seed)
        self.cache: dict = {}
        self.incumbent: Configuration | None = None
        self.last_search_ci: float | None = None
        self.total_evaluations = 0

    def key(self, configuration: Configuration):  # pragma: no cover
        raise NotImplementedError

    def neighbour(self, configuration: Configuration) -> Configuration | None:  # pragma: no cover
        raise NotImplementedError

    def _lookup(self, cfg: Configuration, ci: float, evaluations: list) -> Evaluation:
        k = self.key(cfg)
        if k in self.cache:
            return self.rescore(self.cache[k], ci)
        ev = self.evaluator.evaluate(cfg, ci)
        self.cache[k] = ev
        evaluations.append(cfg)
        self.total_evaluations += 1
        return ev

    def _fresh_neighbour(self, centre: Configuration, tried: set) -> Configuration | None:
        for _ in range(int(self.params["neighbour_tries"])):
            cand = self.neighbour(centre)
            if cand is not None and self.key(cand) not in tried:
                return cand
        return None

    def should_search(self, ci: float) -> bool:
        last = self.last_search_ci
        if last is None:
            return True
        p = self.problem
        return abs(ci - last) * p.pue / (p.ci_ref * p.pue) > self.params["rerun_threshold"]

    def decide(self, hour, ci_g_per_kwh):
        t0 = time.perf_counter()
        ci = float(ci_g_per_kwh)
        p = self.params
        if self.incumbent is None:  # the service starts as BASE (its run is not a search step)
            self.incumbent = self.problem.base_configuration()
            self.cache[self.key(self.incumbent)] = self.evaluator.evaluate(self.incumbent, ci)
        evaluations: list[Configuration] = []
        searched = self.should_search(ci)
        if searched:
            self.last_search_ci = ci
            centre = self.incumbent
            ev = self._lookup(centre, ci, evaluations)
            s = score(self.problem, ev, ci)
            centre_f = s.annealing_score(ev)
            best, best_f = centre, s.objective
            tried = {self.key(centre)}
            temp, stale, proposals = float(p["t0"]), 0, 0
            while (len(evaluations) < p["max_evaluations"] and stale < p["patience"]
                   and proposals < p["max_proposals"]):
                cand = self._fresh_neighbour(centre, tried)
                if cand is None:
                    break
                proposals += 1
                tried.add(self.key(cand))
                ev = self._lookup(cand, ci, evaluations)
                s = score(self.problem, ev, ci)
                f = s.annealing_score(ev)
                if f >= centre_f or (math.isfinite(f) and self.rng.random() <= math.exp(
                        (f - centre_f) / (float(p["k"]) * temp))):
                    centre, centre_f = cand, f
                if s.feasible and s.objective > best_f + 1e-12:
                    best, best_f, stale = cand, s.objective, 0
                else:
                    stale += 1
                temp = max(float(p["t_floor"]), temp - float(p["t_step"]))
            self.incumbent = best
        ev = self.rescore(self.cache[self.key(self.incumbent)], ci)
        return self._decision(hour, ci, ev, t0, evaluations, searched)


class CloverScheme(_Annealing):
    """Clover: annealing in configuration-graph space (neighbours within GED <= 4,
    configurations deduplicated by graph)."""

    name = "clover"
    default_params = DEFAULTS["clover"]

    def key(self, configuration):
        return graph_key(self.problem.counts(configuration))

    def neighbour(self, configuration):
        return graph_neighbour(self.problem, configuration, self.rng,
                               max_distance=int(self.params["max_distance"]))


class BloverScheme(_Annealing):
    """Blover in the per-GPU space (today's; also ``sa-raw``): the same annealing on the raw
    per-GPU encoding (neighbour = change one GPU's layout or one slice's variant); no graph, so
    GPU/slice permutations are re-evaluated. In the replicated space ``blover`` is the
    artifact's random search (:class:`clover.optimize.replicated.ReplicatedBlover`)."""

    name = "blover"
    default_params = DEFAULTS["blover"]

    def key(self, configuration):
        return raw_key(configuration)

    def neighbour(self, configuration):
        return raw_neighbour(self.problem, configuration, self.rng)


def jung_select(energies: Mapping[str, float], ci_now: float, ci_low: float,
                ci_high: float) -> str:
    """Jung (KIISE 2024): map ci linearly onto the energy range and pick the nearest variant.

    ``r = (ci_now - C_low)/(C_high - C_low)`` (clipped to [0, 1]; 0.5 when the range is
    empty); ``E_sel = E_high - r·(E_high - E_low)`` so that high carbon intensity selects low
    energy (the carbon-aware direction); returns the variant whose energy is nearest E_sel
    (ties: lower energy).
    """
    if not energies:
        raise CloverError("jung_select: no variants")
    e = dict(energies)
    e_low, e_high = min(e.values()), max(e.values())
    span = float(ci_high) - float(ci_low)
    r = 0.5 if span <= 0 else min(max((float(ci_now) - float(ci_low)) / span, 0.0), 1.0)
    e_sel = e_high - r * (e_high - e_low)
    return min(e, key=lambda v: (abs(e[v] - e_sel), e[v]))


class JungScheme(Scheme):
    """JUNG: one variant on whole GPUs, chosen by :func:`jung_select` over the period's
    min / max ci (``set_period``; or ``ci_low`` / ``ci_high`` params; else the range seen so
    far). Candidates: variants whose whole-GPU service meets the SLA (and whose accuracy
    meets the floor, if any); energy per request =
    the profile's 7g ``power_w_busy / max_throughput_rps`` (what Jung measured per model)."""

    name = "jung"
    default_params = DEFAULTS["jung"]

    def __init__(self, problem, evaluator=None, **params):
        super().__init__(problem, evaluator, **params)
        self.seen: list[float] = []
        self.period: tuple[float, float] | None = None

    def set_period(self, ci_g_per_kwh) -> None:
        arr = np.asarray(ci_g_per_kwh, dtype=float)
        if arr.size == 0:
            raise CloverError("jung: empty carbon-intensity period")
        self.period = (float(arr.min()), float(arr.max()))

    def energies(self) -> dict[str, float]:
        p = self.problem
        t = p.types
        full = t.slices[-1]
        by_window = p.protocol.sla_by_window
        out = {}
        for v in variants_for_app(p.app):
            i = t.index(v.name, full)
            floor_ok = p.accuracy_floor is None or v.accuracy >= p.accuracy_floor
            if not (t.fits[i] and floor_ok):
                continue
            if by_window:  # SLA checked by the problem's own evaluator (FCFS window)
                ok = self.evaluator.evaluate(Configuration.uniform(p.gpu, p.n_gpus, v.name),
                                             p.ci_ref).sla_met
            else:
                ok = t.cap_rps[i] * p.n_gpus >= p.rate_rps * (1 - 1e-12)
            if ok:
                out[v.name] = float(t.busy_w[i] / t.mu_rps[i])
        return out

    def decide(self, hour, ci_g_per_kwh):
        t0 = time.perf_counter()
        ci = float(ci_g_per_kwh)
        self.seen.append(ci)
        lo, hi = self.params["ci_low"], self.params["ci_high"]
        if lo is None or hi is None:
            lo, hi = self.period if self.period else (min(self.seen), max(self.seen))
        energies = self._energies
        if not energies:
            raise CloverError("jung: no variant meets the SLA (and accuracy floor) on whole GPUs")
        variant = jung_select(energies, ci, lo, hi)
        cfg = self._configs.get(variant)
        if cfg is None:
            cfg = self._configs[variant] = Configuration.uniform(self.problem.gpu,
                                                                 self.problem.n_gpus, variant)
        ev = self.evaluator.evaluate(cfg, ci)
        return self._decision(hour, ci, ev, t0)

    @cached_property
    def _energies(self) -> dict[str, float]:
        """:meth:`energies`, the same every hour (problem and evaluator fixed)."""
        return self.energies()

    @cached_property
    def _configs(self) -> dict[str, Configuration]:
        """variant -> its uniform configuration, one object per variant (hashed every hour)."""
        return {}


class SaRawScheme(BloverScheme):
    """``sa-raw``: today's annealer on the raw per-GPU encoding, under its own name."""

    name = "sa-raw"
    default_params = DEFAULTS["sa-raw"]
