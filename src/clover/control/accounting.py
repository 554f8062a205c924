"""What a change of configuration costs a running service: reconfiguration time.

A controller that moves the service from configuration ``A`` to ``B`` re-partitions every GPU
whose MIG layout changes and loads a model on every slice whose variant changes. This module
prices such a transition in seconds, independently of any backend.

Model (stated here and in ``docs/controller.md``):

* GPUs are reconfigured one at a time (a rolling change, as the original Clover controller
  does node by node, ``system/experiment.py`` ``reconfig_mig`` in boringlee24/sc23-clover), so
  at most one GPU is out of service at any moment and the other GPUs keep serving.
* A GPU whose layout changes is down for ``mig_repartition_s`` (destroy and create its GPU and
  compute instances) plus the load time of every slice's model.
* A GPU that keeps its layout but changes the variant on some slices is down for the load time
  of those slices' models only. Slices of one GPU load one after the other (weights are read
  from host memory over the same PCIe link), so their load times add.
* Load time of one model: ``model_load_base_s`` (process, CUDA context and framework start)
  plus the fp32 weight size divided by ``model_load_mb_per_s``.
* Which GPU of ``A`` becomes which GPU of ``B`` is free (configurations are order-free); the
  controller picks the pairing with the least total downtime (Hungarian assignment,
  ``scipy.optimize.linear_sum_assignment``), which is what a sensible operator does.

The downtime of a transition is therefore ``n_layout_changes * mig_repartition_s + sum of the
load times of every slice whose model changes`` seconds, and that is logged as ``reconfig_s``.

:class:`ModeledCosts` is the controller's cost model for the simulator (the
:class:`clover.sim.runlog.HourCosts` seam): transitions priced as above, serving periods as
energy per request x offered rate x duration.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import cached_property, lru_cache
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from clover.config import schema_default
from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.catalog import get_variant
from clover.models.configuration import Configuration, GpuAssignment
from clover.sim.runlog import Evaluate, Part, Period

#: Default seconds to destroy and re-create the GPU and compute instances of one GPU.
#: Assumed: NVML GPU/compute instance create/destroy calls return in well under a second
#: each, and the original Clover controller adds 1.5 s of fixed sleeps around every MIG
#: change (``reconfig_mig`` in sc23-clover ``system/experiment.py``); 5 s covers both.
#: (The values are the config schema's ``control.*`` defaults, their one place.)
MIG_REPARTITION_S = float(schema_default("control.mig_repartition_s"))
#: Default fixed part of loading one model on a slice (process, CUDA context, framework): assumed.
MODEL_LOAD_BASE_S = float(schema_default("control.model_load_base_s"))
#: Default weight loading bandwidth host -> slice, MB/s: assumed (page-cached weights,
#: deserialisation-bound rather than PCIe-bound).
MODEL_LOAD_MB_PER_S = float(schema_default("control.model_load_mb_per_s"))


@dataclass(frozen=True)
class ReconfigCosts:
    """Constants that price a reconfiguration (seconds, MB/s); sources in the module docstring."""

    mig_repartition_s: float = MIG_REPARTITION_S
    model_load_base_s: float = MODEL_LOAD_BASE_S
    model_load_mb_per_s: float = MODEL_LOAD_MB_PER_S

    def __post_init__(self) -> None:
        for name in ("mig_repartition_s", "model_load_base_s"):
            if getattr(self, name) < 0:
                raise CloverError(f"control.{name} must be >= 0, got {getattr(self, name)}")
        if self.model_load_mb_per_s <= 0:
            raise CloverError(f"control.model_load_mb_per_s must be > 0, got {self.model_load_mb_per_s}")

    def load_s(self, variant: str) -> float:
        """Seconds to load ``variant`` on one slice."""
        return self.model_load_base_s + get_variant(variant).weight_mb_fp32 / self.model_load_mb_per_s


@dataclass(frozen=True)
class GpuChange:
    """One GPU's part of a transition: which old GPU becomes which new one, and its downtime."""

    old_index: int | None  # index in A (None: a GPU that is added)
    new_index: int | None  # index in B (None: a GPU that is removed)
    layout_changed: bool
    loaded: tuple[str, ...]  # variants loaded on this GPU's slices
    downtime_s: float


@dataclass(frozen=True)
class Transition:
    """The cost of moving the service from one configuration to another."""

    changes: tuple[GpuChange, ...] = field(default=())

    @property
    def reconfig_s(self) -> float:
        """Total seconds of reduced capacity (GPUs are changed one after the other)."""
        return float(sum(c.downtime_s for c in self.changes))

    @property
    def n_layout_changes(self) -> int:
        return sum(1 for c in self.changes if c.layout_changed)

    @property
    def n_model_loads(self) -> int:
        return sum(len(c.loaded) for c in self.changes)

    @cached_property
    def affected(self) -> tuple[GpuChange, ...]:
        """GPU changes that take a GPU out of service (downtime > 0 or a layout change);
        computed once per (memoised) transition."""
        return tuple(c for c in self.changes if c.downtime_s > 0 or c.layout_changed)


def _changed_variants(old: GpuAssignment, new: GpuAssignment) -> list[str] | None:
    """Variants that must be loaded to turn ``old`` into ``new`` when the layout is kept.

    ``None`` when the layouts differ (the GPU must be re-partitioned). Within one profile the
    slices are interchangeable, so only the multiset difference of variants has to be loaded.
    """
    if sorted(old.layout) != sorted(new.layout):
        return None
    loads: list[str] = []
    for prof in sorted(set(new.layout)):
        have = Counter(v for v, p in old.instances if p == prof)
        want = Counter(v for v, p in new.instances if p == prof)
        loads.extend(sorted((want - have).elements()))
    return loads


def gpu_change_cost(old: GpuAssignment | None, new: GpuAssignment | None,
                    costs: ReconfigCosts) -> tuple[bool, tuple[str, ...], float]:
    """(layout changed, variants loaded, downtime seconds) to turn ``old`` into ``new``.

    ``old is None``: a GPU brought into service (re-partitioned and loaded). ``new is None``:
    a GPU taken out of service (no downtime for the service; it simply stops).
    """
    if new is None:
        return False, (), 0.0
    if old is not None:
        loads = _changed_variants(old, new)
        if loads is not None:
            return False, tuple(loads), float(sum(costs.load_s(v) for v in loads))
    loads = sorted(new.variants)
    return True, tuple(loads), costs.mig_repartition_s + float(sum(costs.load_s(v) for v in loads))


@lru_cache(maxsize=4096)
def transition(old: Configuration | None, new: Configuration, costs: ReconfigCosts) -> Transition:
    """The cheapest way to turn ``old`` into ``new`` (see module docstring).

    ``old is None`` means nothing is deployed yet: every GPU is partitioned and loaded.
    Pure, so memoised: a year of hours mostly repeats the same few transitions (keeping a
    configuration is a transition too), and each one solves an n x n assignment.
    """
    old_gpus: list[GpuAssignment | None] = list(old.gpus) if old is not None else []
    new_gpus: list[GpuAssignment | None] = list(new.gpus)
    n = max(len(old_gpus), len(new_gpus))
    old_pad = old_gpus + [None] * (n - len(old_gpus))
    new_pad = new_gpus + [None] * (n - len(new_gpus))
    if n == 0:
        return Transition(())
    cost = np.zeros((n, n))
    detail: dict[tuple[int, int], tuple[bool, tuple[str, ...], float]] = {}
    for i, a in enumerate(old_pad):
        for j, b in enumerate(new_pad):
            d = gpu_change_cost(a, b, costs)
            detail[i, j] = d
            # tie-break: prefer keeping layouts even at equal time (fewer MIG operations)
            cost[i, j] = d[2] + (1e-6 if d[0] else 0.0)
    rows, cols = linear_sum_assignment(cost)
    changes = []
    for i, j in sorted(zip(rows.tolist(), cols.tolist()), key=lambda ij: ij[1]):
        layout_changed, loaded, down = detail[i, j]
        if old_pad[i] is None and new_pad[j] is None:
            continue
        changes.append(GpuChange(
            old_index=i if old_pad[i] is not None else None,
            new_index=j if new_pad[j] is not None else None,
            layout_changed=layout_changed, loaded=loaded, downtime_s=down))
    return Transition(tuple(changes))


def without_gpu(config: Configuration, index: int) -> Configuration:
    """``config`` with GPU ``index`` out of service (the capacity left during its change)."""
    gpus = tuple(g for i, g in enumerate(config.gpus) if i != index)
    return Configuration(config.gpu, gpus)


def metric(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` or ``obj[name]``: metrics may be dataclasses or dicts."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


class ModeledCosts:
    """The hour's costs as the simulator models them (``docs/controller.md``).

    A serving period of ``d`` s costs energy per request x ``rate_rps`` x ``d``. During a
    transition GPUs change one at a time; while GPU ``g`` is down for ``d`` seconds the service
    is the new configuration without ``g`` (evaluated at the full offered rate, so the SLA
    outcome reflects the reduced capacity) and ``g`` draws the GPU's idle power
    (``GpuSpec.idle_power_w``). If no GPU is left, or the remaining ones cannot carry the load,
    that period violates the SLA and its requests are charged at the new configuration's
    energy per request plus the idle power of the GPU being changed.
    """

    extra_columns: tuple[str, ...] = ()

    def __init__(self, reconfig: ReconfigCosts, rate_rps: float) -> None:
        self.reconfig = reconfig
        self.rate_rps = float(rate_rps)

    def _serving(self, kind: str, config: Configuration, duration_s: float, m: Any) -> Period:
        e = float(metric(m, "energy_j_per_request"))
        req = self.rate_rps * duration_s
        return Period(kind, duration_s, e * req, req, float(metric(m, "accuracy")),
                      bool(metric(m, "sla_met")), config.key())

    def _transition(self, old: Configuration | None, new: Configuration, new_metrics: Any,
                    ci: float, evaluate: Evaluate) -> Part:
        """Periods of reduced capacity while ``old`` becomes ``new``."""
        tr = transition(old, new, self.reconfig)
        idle_w = get_gpu(new.gpu).idle_power_w
        periods = []
        for change in tr.affected:
            d = change.downtime_s
            if d <= 0:
                continue
            req = self.rate_rps * d
            reduced = without_gpu(new, change.new_index) if change.new_index is not None else new
            m = evaluate(reduced, ci) if reduced.n_gpus > 0 else None
            e = float(metric(m, "energy_j_per_request")) if m is not None else math.nan
            if m is None or not math.isfinite(e):
                # no capacity left to serve: requests wait and are served late by `new`
                e_new = float(metric(new_metrics, "energy_j_per_request"))
                periods.append(Period("reconfig", d, e_new * req + idle_w * d, req,
                                      float(metric(new_metrics, "accuracy")), False, new.key()))
            else:
                periods.append(Period("reconfig", d, e * req + idle_w * d, req,
                                      float(metric(m, "accuracy")), bool(metric(m, "sla_met")),
                                      reduced.key()))
        return Part(tuple(periods), tr.reconfig_s, tr.n_layout_changes, tr.n_model_loads)

    def evaluation(self, old: Configuration | None, config: Configuration, metrics: Any,
                   window_s: float, ci: float, evaluate: Evaluate) -> Part:
        part = self._transition(old, config, metrics, ci, evaluate)
        if window_s > 0:
            part = Part(part.periods + (self._serving("evaluation", config, window_s, metrics),),
                        part.reconfig_s, part.n_layout_changes, part.n_model_loads)
        return part

    def switch(self, old: Configuration | None, new: Configuration, metrics: Any, ci: float,
               evaluate: Evaluate) -> Part:
        return self._transition(old, new, metrics, ci, evaluate)

    def serve(self, config: Configuration, metrics: Any, remainder_s: float, ci: float) -> Part:
        if remainder_s > 0:
            return Part((self._serving("serve", config, remainder_s, metrics),))
        return Part()

    def columns(self) -> dict:
        return {}
