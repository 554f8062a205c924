"""Warm replica processes: which Serve application (worker) serves which instance.

A replica process costs far more to start than to re-aim: on a 2-core laptop a new
:class:`~clover.serve.replica.SliceReplica` (a Ray worker process, torch and timm imports, the
model built and warmed up) took 5-10 s, measured as 63 s for 12 EfficientNet-B1 replicas at
input scale 0.15, while building the model in a warm process takes well under a second. The
paper protocol's online search (``--search live``) deploys every candidate it tries, and
neighbouring candidates share most slices, so the service keeps processes warm:

* A worker is one Serve application (``clover-w<n>``) with one replica, whose process binding
  (device, threads, cores) is fixed; the instance it serves (variant, slice, instance id) is
  its ``user_config``, so Serve re-aims it with ``reconfigure`` (no restart) and restarts a
  crashed replica with the same instance.
* When a deploy stops an instance, its worker is freed. A started instance takes a free worker
  of the same binding (one that already holds its variant first: nothing to build), else a new
  worker starts.
* On CPU, free workers not taken are *parked* (kept, unrouted, idle) up to
  :data:`MAX_WORKERS_PER_SLOT` workers per emulated GPU in all, the most any configuration
  needs, so the memory the live run's checks reserve for its largest candidate also bounds the
  pool. On MIG GPUs a worker is reused only on a GPU whose MIG layout is unchanged (the same
  MIG device; a model swap on a slice), and every other freed worker is deleted before the
  layout changes, as a MIG instance in use cannot be destroyed.

Everything here is pure (no Ray): :func:`assign_workers` decides, the service carries it out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

from clover.serve.cluster import InstanceSpec

#: Serve application names of workers
WORKER_PREFIX = "clover-w"
#: workers per GPU slot at most, active and parked together: a GPU holds at most 7 MIG
#: instances (A100/H100/H200: seven 1g slices; clover.mig catalog)
MAX_WORKERS_PER_SLOT = 7
#: the fields of an instance that fix its process (the replica's constructor arguments)
BINDING_FIELDS = ("node", "node_address", "slot", "gpu_index", "device", "threads", "cores")


def binding_key(inst: InstanceSpec, backend: str) -> tuple:
    """What a worker process is bound to: on CPU its core share, on a MIG GPU its MIG device
    (slot, start, profile), so that a worker is reused only on the same slice."""
    if backend == "cuda":
        return (inst.node, inst.slot, inst.gpu_index, inst.start, inst.profile)
    return (inst.node, inst.slot, inst.device, inst.threads, tuple(inst.cores))


def binding_spec(inst: InstanceSpec) -> dict:
    """The replica's constructor arguments (fixed for its process's life)."""
    d = inst.as_dict()
    return {k: d[k] for k in BINDING_FIELDS}


def model_config(inst: InstanceSpec, batch_size: int, allow_faults: bool) -> dict:
    """The replica's ``user_config``: the instance it serves (model, slice, request batch);
    the binding fields are the constructor's (:func:`binding_spec`), merged by the replica."""
    d = inst.as_dict()
    return {**{k: v for k, v in d.items() if k not in BINDING_FIELDS},
            "batch_size": int(batch_size), "allow_faults": bool(allow_faults)}


def worker_version(binding: Mapping, builders_module: str, seed: int) -> str:
    """Serve's code version of a worker: equal for equal bindings, so that a new
    ``user_config`` re-aims the running replica instead of restarting it."""
    blob = json.dumps([dict(binding), builders_module, int(seed)], sort_keys=True, default=str)
    return "w-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Assignment:
    """A deploy's use of workers: ``instances`` (the started ones, each with its worker in
    ``app``), ``reused`` (instance ids started on a warm worker), ``delete`` (worker apps to
    delete) and ``parked`` (worker app -> the instance it last served) afterwards."""

    instances: list[InstanceSpec] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    parked: dict[str, InstanceSpec] = field(default_factory=dict)


def _new_names(taken: set[str]):
    n = 0
    while True:
        name = f"{WORKER_PREFIX}{n}"
        if name not in taken:
            taken.add(name)
            yield name
        n += 1


def assign_workers(start: Sequence[InstanceSpec], free: Mapping[str, InstanceSpec],
                   active: Sequence[InstanceSpec], backend: str, *,
                   reusable_slots: set[int] | None = None, park: bool | None = None,
                   max_per_slot: int = MAX_WORKERS_PER_SLOT) -> Assignment:
    """Workers for the instances to ``start``.

    Args:
        start: instances to start, in order.
        free: worker app -> the instance it served, for workers no instance uses now (stopped
            by this deploy first, then parked ones; earlier entries are preferred).
        active: instances that keep running (their workers are taken; ``app`` set).
        backend: ``cpu`` or ``cuda`` (:func:`binding_key`).
        reusable_slots: slots whose free workers may be reused (None: all).
        park: keep free workers not taken (default: on CPU only).
        max_per_slot: workers per slot at most, active and parked together.
    """
    park = (backend != "cuda") if park is None else park
    pool = {a: i for a, i in free.items()
            if reusable_slots is None or i.slot in reusable_slots}
    apps: dict[int, str] = {}
    # two passes: workers that hold an instance's model first (nothing to build), so that no
    # instance takes a worker another one would have found its model on
    for exact in (True, False):
        for n, inst in enumerate(start):
            if n in apps:
                continue
            key = binding_key(inst, backend)
            for a, w in pool.items():
                if binding_key(w, backend) == key and (not exact or (w.variant, w.input_size)
                                                       == (inst.variant, inst.input_size)):
                    apps[n] = a
                    del pool[a]
                    break
    reused = [inst.instance_id for n, inst in enumerate(start) if n in apps]
    names = _new_names({i.app_name for i in active} | set(free))
    out = [replace(inst, app=apps[n] if n in apps else next(names))
           for n, inst in enumerate(start)]
    left = [a for a in free if a in pool]
    parked: dict[str, InstanceSpec] = {}
    if park:
        used: dict[int, int] = {}
        for i in list(active) + out:
            used[i.slot] = used.get(i.slot, 0) + 1
        for a in left:
            s = free[a].slot
            if used.get(s, 0) < max_per_slot:
                parked[a] = free[a]
                used[s] = used.get(s, 0) + 1
    taken = {i.app for i in out}
    return Assignment(out, reused, [a for a in free if a not in parked and a not in taken],
                      parked)


def with_apps(instances: Sequence[InstanceSpec], apps: Mapping[str, str]) -> list[InstanceSpec]:
    """``instances`` with their worker (instance id -> app) filled in."""
    return [replace(i, app=apps.get(i.instance_id, i.app)) for i in instances]
