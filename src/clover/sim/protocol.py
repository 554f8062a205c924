"""The two experiment protocols and their knobs (issue 10; docs/simulator.md, "Protocols").

``paper`` is the original artifact's experiment (``boringlee24/sc23-clover``):

* ``base_gpu_factor`` k = 5: BASE serves the rate R on k·N GPUs ("BASE on 2 GPUs at a 1 s
  inter-arrival stands for 10 GPUs at 0.2 s", ``system/experiment.py``), every other scheme
  serves R on N GPUs; the SLA, A_base and C_base are BASE's at that load.
* ``space = "replicated"``: one single-GPU assignment (a partition code of
  ``partition_code.json`` and a variant per slot) deployed on every GPU.
* ``dispatch = "fcfs"``: one FCFS request queue, each request to the instance idle longest
  (``system/generator.py``), evaluated by an event simulation of 1,000 requests per candidate
  and 2,000 for BASE (``req_limit``), exponential inter-arrivals.
* ``request_batch``: a vision request carries 8 images (``generator.py``:
  ``random.sample(input_list, 8)``), an ALBERT request one question.
* ``lam = 0.1`` (``run.py --Lambda`` default).
* ``accounting = "artifact"``: the hour as ``system/run.py`` accounts it — each new online
  evaluation serves 30 s, a history hit 0 s, the final configuration the rest; reconfigurations
  cost no downtime (``extended``: ``modeled``, priced by :mod:`clover.control.accounting`).
* ``base_utilisation`` = 0.15: BASE's utilisation at its own load (a stated choice of this
  project; the artifact fixes inter-arrival times, not utilisations), so R = 0.15·k·N·μ_BASE
  is 0.75 of BASE's capacity on the schemes' N GPUs.

``extended`` is this project's generalisation (k = 1, a layout per GPU, objective-optimal
routing, batch 1, λ = 0.5, BASE at 60 % utilisation).

The presets' values live in the config schema (``x-protocol-presets`` in
``clover/config.schema.yaml``, the one place of them). A :class:`ProtocolSettings` is the
protocol as one object: every ``Problem`` holds one (the extended preset by default), and it
builds what differs between protocols — the problem's sizing (:meth:`~ProtocolSettings.
build_problem`), the evaluator of its dispatch (:meth:`~ProtocolSettings.evaluator`, from the
:data:`EVALUATORS` registry), its search space (``space``, which selects each scheme's variant
in :mod:`clover.optimize.registry`) and its cost accounting
(:meth:`~ProtocolSettings.reconfig_costs`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Mapping

from clover.errors import CloverError
from clover.names import PROTOCOL_NAMES

PROTOCOLS = PROTOCOL_NAMES  # the light registry (clover.names)
SPACES = ("replicated", "per-gpu")
ACCOUNTINGS = ("artifact", "modeled")


def _fcfs_evaluator(problem, simulate: bool = False):
    """``dispatch: fcfs``: one simulated FCFS window per evaluation (``simulate`` is moot)."""
    from clover.sim.fcfs import FcfsEvaluator

    return FcfsEvaluator(problem)


def _optimal_evaluator(problem, simulate: bool = False):
    """``dispatch: optimal``: objective-optimal routing, closed form (or the event
    simulation with ``simulate``)."""
    from clover.sim.evaluator import SimEvaluator

    return SimEvaluator(problem, simulate=simulate)


#: dispatch -> evaluator factory ``(problem, simulate) -> Evaluator`` (the evaluator registry)
EVALUATORS = {"fcfs": _fcfs_evaluator, "optimal": _optimal_evaluator}
DISPATCHES = tuple(EVALUATORS)


@dataclass(frozen=True)
class ProtocolSettings:
    """Every knob of a protocol, and what it builds. ``request_batch`` maps app -> images (or
    questions) per request; ``lam`` is the preset's λ (a run's when it gives none);
    ``base_utilisation`` is BASE's utilisation at its own load (k·N GPUs), which fixes the
    offered rate R under a protocol other than the extended one. ``eval_requests`` /
    ``base_requests``: requests per FCFS window of a candidate / of BASE (sc23-clover
    ``req_limit``); ``default_gpus``: N when the caller gives none; ``accounting``: the hourly
    accounting — ``artifact`` = sc23-clover ``system/run.py`` (each new online evaluation
    serves 30 s, a history hit 0 s, the final configuration the rest; no reconfiguration
    downtime), ``modeled`` = this project's (MIG re-partition and model-load downtime priced
    by clover.control.accounting)."""

    name: str
    base_gpu_factor: int
    space: str
    dispatch: str
    request_batch: Mapping[str, int]
    lam: float
    base_utilisation: float
    eval_requests: int
    base_requests: int
    default_gpus: int
    accounting: str

    def batch(self, app: str) -> int:
        """Request batch of ``app`` (1 when the map does not name it)."""
        return int(self.request_batch.get(app, 1))

    @property
    def is_paper_like(self) -> bool:
        """True when anything differs from today's (extended) evaluation path."""
        return self.dispatch == "fcfs" or self.space == "replicated" or self.base_gpu_factor != 1

    def sizes_like_extended(self, app: str) -> bool:
        """The problem is exactly ``Problem.build``'s (k = 1, optimal dispatch, per-GPU space,
        batch 1): the load is ``load_fraction`` of BASE's capacity and the live service can
        run it."""
        return not self.is_paper_like and self.batch(app) == 1

    @property
    def sla_by_window(self) -> bool:
        """The SLA of a configuration is judged by the evaluator's simulated window (FCFS),
        not by the per-instance closed-form capacities."""
        return self.dispatch == "fcfs"

    def base_gpus(self, n_gpus: int) -> int:
        """GPUs BASE's own run uses when the schemes have ``n_gpus``: k·N."""
        return int(self.base_gpu_factor) * int(n_gpus)

    def columns(self, app: str) -> dict:
        """The run-log columns this protocol adds."""
        return {"protocol": self.name, "space": self.space, "dispatch": self.dispatch,
                "base_gpu_factor": self.base_gpu_factor, "request_batch": self.batch(app)}

    def evaluator(self, problem, simulate: bool = False):
        """The simulator's evaluator of this protocol's dispatch for ``problem``
        (:data:`EVALUATORS`)."""
        return EVALUATORS[self.dispatch](problem, simulate)

    def scheme_variant(self, entry) -> type:
        """The class a registered scheme (a :class:`clover.optimize.registry.SchemeEntry`)
        runs as in this protocol's search space: its variant for ``space`` (the replicated
        space's Clover, Blover, ORACLE, CO2OPT), else the scheme's own class."""
        return entry.variants.get(self.space, entry.cls)

    def build_problem(self, app: str, gpu: str, n_gpus: int, profiles,
                      lam: float | None = None, **problem_kwargs):
        """:class:`clover.sim.Problem` sized under this protocol
        (:func:`clover.sim.sizing.size_problem`); ``lam`` None = the preset's λ."""
        from clover.sim.sizing import size_problem

        return size_problem(self, app, gpu, n_gpus, profiles,
                            self.lam if lam is None else lam, **problem_kwargs)

    def reconfig_costs(self, mig_repartition_s: float, model_load_base_s: float,
                       model_load_mb_per_s: float) -> tuple[float, float, float]:
        """(re-partition s per GPU, load s per model, load MB/s) a reconfiguration costs under
        this protocol's accounting: ``artifact`` (sc23-clover ``system/run.py``) charges none —
        zero re-partition and load time (infinite load bandwidth), whatever is asked;
        ``modeled`` the given costs."""
        if self.accounting == "artifact":
            return 0.0, 0.0, float("inf")
        return mig_repartition_s, model_load_base_s, model_load_mb_per_s


#: the protocol as one object (the same class)
Protocol = ProtocolSettings

_KNOBS = {f.name for f in fields(ProtocolSettings)} - {"name"}


@lru_cache(maxsize=None)
def presets() -> Mapping[str, ProtocolSettings]:
    """name -> preset, built from the schema's ``x-protocol-presets`` (read once)."""
    from types import MappingProxyType

    from clover.config import protocol_presets

    out = {}
    for name, knobs in protocol_presets().items():
        knobs["request_batch"] = MappingProxyType(dict(knobs["request_batch"]))
        out[name] = ProtocolSettings(name=name, **knobs)
    return MappingProxyType(out)


def _request_batch(value, apps) -> dict[str, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = {app: value for app in apps}
    if not isinstance(value, Mapping):
        raise CloverError(f"request_batch must be an integer or app -> integer map (got {value!r})")
    out = {}
    for app, b in value.items():
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise CloverError(f"request_batch.{app} must be an integer >= 1 (got {b!r})")
        out[str(app)] = int(b)
    return out


def _checked(s: ProtocolSettings) -> ProtocolSettings:
    """``s`` with an integral float k made an int; CloverError (one line) for a bad knob."""
    for value, known, what in ((s.space, SPACES, "space"), (s.dispatch, DISPATCHES, "dispatch"),
                               (s.accounting, ACCOUNTINGS, "accounting")):
        if value not in known:
            raise CloverError(f"unknown {what} {value!r} (known: {', '.join(known)})")
    k = s.base_gpu_factor
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        if isinstance(k, float) and k.is_integer() and k >= 1:
            s = replace(s, base_gpu_factor=int(k))
        else:
            raise CloverError(f"base_gpu_factor must be an integer >= 1 (got {k!r})")
    if not 0.0 < float(s.base_utilisation) < 1.0:
        raise CloverError(f"base_utilisation must be in (0, 1) (got {s.base_utilisation!r})")
    if not 0.0 <= float(s.lam) <= 1.0:
        raise CloverError(f"lam must be in [0, 1] (got {s.lam!r})")
    for key in ("eval_requests", "base_requests"):
        if int(getattr(s, key)) < 20:
            raise CloverError(f"{key} must be >= 20 (got {getattr(s, key)!r})")
    return s


def protocol_settings(name: str = "extended", **overrides) -> ProtocolSettings:
    """The preset ``name`` with each knob in ``overrides`` (None = the preset's) replaced.

    Raises CloverError (one line) for an unknown protocol, space or dispatch, k < 1, a bad
    request batch or a utilisation outside (0, 1).
    """
    if name not in presets():
        raise CloverError(f"unknown protocol {name!r} (known: {', '.join(PROTOCOLS)})")
    unknown = set(overrides) - _KNOBS
    if unknown:
        raise CloverError(f"unknown protocol knob(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(_KNOBS))})")
    base = presets()[name]
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "request_batch" in changes:
        merged = dict(base.request_batch)
        merged.update(_request_batch(changes["request_batch"], base.request_batch))
        changes["request_batch"] = merged
    return _checked(replace(base, **changes))


def build_problem(app: str, gpu: str, n_gpus: int, profiles, settings: ProtocolSettings,
                  lam: float | None = None, **problem_kwargs):
    """:meth:`ProtocolSettings.build_problem` of ``settings`` (the sizing is
    :func:`clover.sim.sizing.size_problem`)."""
    return settings.build_problem(app, gpu, n_gpus, profiles, lam, **problem_kwargs)


