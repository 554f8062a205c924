"""Create and destroy MIG instances through NVML (``nvidia-ml-py``), dry-run by default.

The manager turns a wanted :class:`~clover.mig.geometry.Layout` per GPU (or a
:class:`~clover.models.configuration.Configuration`) into an explicit list of operations:

* ``destroy-ci`` / ``destroy-gi``: remove compute / GPU instances that are not wanted,
* ``create-gi``: ``nvmlDeviceCreateGpuInstanceWithPlacement(profile, start)``,
* ``create-ci``: ``nvmlGpuInstanceCreateComputeInstance`` with the full-size compute profile
  (one compute instance per GPU instance, as Clover and ``nvidia-smi mig -C`` do).

Every operation carries the equivalent ``nvidia-smi`` command, so a dry run is also a recipe a
user can run by hand. Instances that already match the target (same profile at the same start,
with a compute instance) are kept, so only the slices that change are disturbed.

Safety (DEVELOPERS.md, "Hardware"): nothing changes unless the manager was built with
``dry_run=False`` *and* :meth:`MigManager.apply` is called with ``apply=True``; it refuses while
processes run on the GPU; it never toggles MIG mode, it prints the ``nvidia-smi -mig 1`` command
for the administrator instead.

GPU-instance profile ids (for ``nvidia-smi mig -cgi``) are read from NVML
(``nvmlDeviceGetGpuInstanceProfileInfo(...).id``); without NVML the standard ids of
``nvidia-smi mig -lgip`` on A100/H100/H200 are used: 1g=19, 2g=14, 3g=9, 4g=5, 7g=0.

Pure planning (:class:`~clover.mig.plan.Op`, :class:`~clover.mig.plan.OpKind`,
:func:`~clover.mig.plan.plan_operations`, :func:`~clover.mig.plan.format_plan`) lives in
:mod:`clover.mig.plan`, which never touches NVML; this module applies plans through NVML and
re-exports the planning names.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from clover.errors import CloverError
from clover.hw.nvml import Nvml
from clover.mig.geometry import Layout, get_gpu
from clover.mig.plan import (  # noqa: F401 - re-exported: planning used to live here
    STANDARD_GI_PROFILE_IDS, GpuState, MigInstance, Op, OpKind, _gi_profile_id, format_plan,
    gpu_key_from_name, layout_for_profiles, layouts_of, plan_operations)

#: NVML enum names of the GPU-instance / compute-instance profiles by compute slices.
_GI_ENUM = {1: "NVML_GPU_INSTANCE_PROFILE_1_SLICE", 2: "NVML_GPU_INSTANCE_PROFILE_2_SLICE",
            3: "NVML_GPU_INSTANCE_PROFILE_3_SLICE", 4: "NVML_GPU_INSTANCE_PROFILE_4_SLICE",
            7: "NVML_GPU_INSTANCE_PROFILE_7_SLICE"}
_CI_ENUM = {1: "NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE", 2: "NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE",
            3: "NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE", 4: "NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE",
            7: "NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE"}
_MAX_INSTANCES = 8  # at most 7 GPU instances on any MIG GPU; room to spare


@dataclass
class MigManager:
    """NVML-backed MIG manager. ``dry_run=True`` (the default) never changes a GPU.

    Use as a context manager (``nvmlInit``/``nvmlShutdown``). ``nvml`` is the ``pynvml``
    module, a stand-in with the same functions (tests use ``tests/fakes/fake_nvml.py``) or a
    :class:`clover.hw.nvml.Nvml`; reads go through that adapter (``adapter``), the GPU- and
    compute-instance calls to the module (``nvml``).
    """

    nvml: Any = None
    dry_run: bool = True
    log: Any = None
    _open: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.adapter = Nvml.wrap(self.nvml)
        self.nvml = self.adapter.module

    # -- lifecycle
    def __enter__(self) -> "MigManager":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        if not self._open:
            self.adapter.open()
            self._open = True

    def close(self) -> None:
        if self._open:
            self.adapter.close()
            self._open = False

    def _say(self, msg: str) -> None:
        if self.log is not None:
            self.log(msg)

    # -- queries
    def device_count(self) -> int:
        self.open()
        return self.adapter.device_count()

    def handle(self, index: int):
        self.open()
        return self.adapter.handle(index)

    def gpu_key(self, index: int) -> str | None:
        """The clover.mig.geometry key of GPU ``index`` from its NVML name (None if unknown)."""
        return gpu_key_from_name(self.adapter.name(self.handle(index)))

    def mig_mode(self, index: int) -> tuple[int, int]:
        """(current, pending) MIG mode: 1 enabled, 0 disabled (also on GPUs without MIG)."""
        return self.adapter.mig_mode(self.handle(index))

    def processes(self, index: int) -> tuple[int, ...]:
        """PIDs of compute processes on the GPU (including those on its MIG devices)."""
        dev = self.handle(index)
        pids = {int(p.pid) for p in self.nvml.nvmlDeviceGetComputeRunningProcesses(dev)}
        for mig_dev, _gi, _ci in self._mig_devices(dev):
            try:
                pids |= {int(p.pid) for p in self.nvml.nvmlDeviceGetComputeRunningProcesses(mig_dev)}
            except self.nvml.NVMLError:
                pass
        return tuple(sorted(pids))

    def process_map(self, index: int) -> dict[int | None, tuple[int, ...]]:
        """PIDs per GPU-instance id; key None: processes not seen on any MIG device."""
        dev = self.handle(index)
        out: dict[int | None, set[int]] = {}
        seen: set[int] = set()
        for mig_dev, gi, _ci in self._mig_devices(dev):
            try:
                pids = {int(p.pid) for p in self.nvml.nvmlDeviceGetComputeRunningProcesses(mig_dev)}
            except self.nvml.NVMLError:
                continue
            if pids:
                out.setdefault(gi, set()).update(pids)
                seen |= pids
        rest = {int(p.pid) for p in self.nvml.nvmlDeviceGetComputeRunningProcesses(dev)} - seen
        if rest:
            out[None] = rest
        return {k: tuple(sorted(v)) for k, v in out.items()}

    def blocking_processes(self, ops: Sequence[Op]) -> dict[int, tuple[int, ...]]:
        """PIDs that forbid ``ops``, per GPU: those on instances the ops destroy, and any
        process not attributable to a MIG device. Instances that are kept may stay busy."""
        out: dict[int, tuple[int, ...]] = {}
        for i in sorted({o.gpu_index for o in ops}):
            pm = self.process_map(i)
            destroys = [o for o in ops if o.gpu_index == i and o.action.destroys]
            if any(o.gi_id is None for o in destroys):
                touched = set(pm)  # "destroy all": every instance
            else:
                touched = {o.gi_id for o in destroys} | {None}
            pids = sorted({p for k, v in pm.items() if k in touched for p in v})
            if pids:
                out[i] = tuple(pids)
        return out

    def _gi_profiles(self, dev, gpu: str) -> dict[str, tuple[int, int, Any]]:
        """profile name -> (GI profile id, CI profile id-or-enum, GI enum) as NVML reports."""
        spec = get_gpu(gpu)
        out = {}
        for prof in spec.profiles:
            enum = getattr(self.nvml, _GI_ENUM[prof.compute_slices])
            info = self.nvml.nvmlDeviceGetGpuInstanceProfileInfo(dev, enum)
            out[prof.name] = (int(info.id), getattr(self.nvml, _CI_ENUM[prof.compute_slices]), enum)
        return out

    def profile_ids(self, index: int) -> dict[str, int]:
        gpu = self._require_known(index)
        return {name: v[0] for name, v in self._gi_profiles(self.handle(index), gpu).items()}

    def _mig_devices(self, dev):
        """(MIG device handle, GI id, CI id) for every existing MIG device of ``dev``."""
        return [(mig, int(self.nvml.nvmlDeviceGetGpuInstanceId(mig)),
                 int(self.nvml.nvmlDeviceGetComputeInstanceId(mig)))
                for mig in self.adapter.mig_devices(dev)]

    def _gpu_instances(self, dev, gi_profile_id: int) -> list:
        arr = (self.nvml.c_nvmlGpuInstance_t * _MAX_INSTANCES)()
        count = ctypes.c_uint(0)
        self.nvml.nvmlDeviceGetGpuInstances(dev, gi_profile_id, arr, ctypes.byref(count))
        return [arr[i] for i in range(count.value)]

    def _compute_instances(self, gi_handle, ci_profile_id: int) -> list:
        arr = (self.nvml.c_nvmlComputeInstance_t * _MAX_INSTANCES)()
        count = ctypes.c_uint(0)
        self.nvml.nvmlGpuInstanceGetComputeInstances(gi_handle, ci_profile_id, arr,
                                                     ctypes.byref(count))
        return [arr[i] for i in range(count.value)]

    def _ci_profile_id(self, gi_handle, ci_enum: int) -> int:
        info = self.nvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(
            gi_handle, ci_enum, self.nvml.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED)
        return int(info.id)

    def _instances_raw(self, index: int) -> list[tuple[MigInstance, Any, Any]]:
        """(instance, GI handle, CI handle or None) for every GPU instance of GPU ``index``."""
        dev = self.handle(index)
        gpu = self._require_known(index)
        uuids = {(g, c): self.adapter.uuid(h) for h, g, c in self._mig_devices(dev)}
        out = []
        for name, (gi_pid, ci_enum, _enum) in self._gi_profiles(dev, gpu).items():
            for gih in self._gpu_instances(dev, gi_pid):
                info = self.nvml.nvmlGpuInstanceGetInfo(gih)
                gi_id = int(info.id)
                cis = self._compute_instances(gih, self._ci_profile_id(gih, ci_enum))
                ci_h = cis[0] if cis else None
                ci_id = int(self.nvml.nvmlComputeInstanceGetInfo(ci_h).id) if ci_h is not None else None
                inst = MigInstance(index, gi_id, name, int(info.placement.start),
                                   int(info.placement.size), ci_id,
                                   uuids.get((gi_id, ci_id), "") if ci_id is not None else "")
                out.append((inst, gih, ci_h))
        out.sort(key=lambda t: t[0].start)
        return out

    def instances(self, index: int) -> tuple[MigInstance, ...]:
        """Existing GPU instances of GPU ``index``, by placement start, with MIG UUIDs."""
        if not self.mig_mode(index)[0]:
            return ()
        return tuple(i for i, _, _ in self._instances_raw(index))

    def status(self, index: int | None = None) -> list[GpuState]:
        """The state of one GPU or of all GPUs on this node."""
        indices = range(self.device_count()) if index is None else [index]
        out = []
        for i in indices:
            dev = self.handle(i)
            name = self.adapter.name(dev)
            cur, pend = self.mig_mode(i)
            key = gpu_key_from_name(name)
            inst = self.instances(i) if (cur and key) else ()
            out.append(GpuState(i, name, self.adapter.uuid(dev), key, cur, pend,
                                inst, self.processes(i)))
        return out

    def _require_known(self, index: int) -> str:
        name = self.adapter.name(self.handle(index))
        key = gpu_key_from_name(name)
        if key is None:
            raise CloverError(f"GPU {index} ({name}) is not a MIG GPU clover knows "
                              "(see `clover mig profiles`)")
        return key

    # -- planning and changes
    def plan(self, target: Any) -> list[Op]:
        """Operations to reach ``target`` from what the GPUs hold now (nothing is changed)."""
        layouts = layouts_of(target)
        current = {i: self.instances(i) for i in layouts}
        ids: dict[str, int] = {}
        for i in layouts:
            self._check_gpu_matches(i, layouts[i])
            if self.mig_mode(i)[0]:
                ids.update(self.profile_ids(i))
        return plan_operations(layouts_of(target, current), current, ids or None)

    def _check_gpu_matches(self, index: int, layout: Layout) -> None:
        key = self._require_known(index)
        if key != layout.gpu:
            raise CloverError(f"GPU {index} is a {key}, but the layout is for {layout.gpu}")

    def check_ready(self, indices: Iterable[int], ops: Sequence[Op] | None = None) -> None:
        """Refuse (CloverError) unless MIG is on and no process is in the way.

        Without ``ops`` any process on the GPU refuses; with ``ops``, only processes on the
        instances they destroy (or not attributable to a MIG device) do, so slices that stay
        keep serving during a partial reconfiguration.
        """
        for i in indices:
            cur, pend = self.mig_mode(i)
            if not cur:
                hint = (" (enabled, pending a GPU reset/reboot)" if pend else "")
                raise CloverError(
                    f"MIG mode is disabled on GPU {i}{hint}. Clover never toggles it; an "
                    f"administrator runs: sudo nvidia-smi -i {i} -mig 1 (then resets the GPU "
                    "or reboots if nvidia-smi says so)")
            if pend != cur:
                raise CloverError(f"GPU {i}: MIG mode change pending; reset the GPU or reboot first")
            if ops is None:
                pids = self.processes(i)
            else:
                pids = self.blocking_processes([o for o in ops if o.gpu_index == i]).get(i, ())
            if pids:
                raise CloverError(f"GPU {i} is in use by process(es) {', '.join(map(str, pids))}; "
                                  "drain its replicas first (refusing to change MIG instances)")

    def apply(self, target: Any, *, apply: bool = False) -> list[Op]:
        """Bring the GPUs to ``target``. Returns the operations (performed or planned).

        Changes happen only when the manager is not in dry-run mode *and* ``apply=True``;
        otherwise the plan is returned (and logged) unchanged.
        """
        ops = self.plan(target)
        if self.dry_run or not apply:
            self._say("dry run (nothing changed); operations:\n" + format_plan(ops))
            return ops
        self.check_ready(sorted({op.gpu_index for op in ops}), ops)
        self.execute(ops)
        return ops
    def execute(self, ops: Sequence[Op]) -> None:
        """Perform ``ops`` through NVML (callers: :meth:`apply`, :meth:`destroy_all`)."""
        if self.dry_run:
            raise CloverError("MigManager is in dry-run mode: build it with dry_run=False to apply")
        nv = self.nvml
        by_gpu: dict[int, dict[int, tuple[MigInstance, Any, Any]]] = {}
        created: dict[tuple[int, int], Any] = {}
        perform: dict[OpKind, Callable[[Op, dict, dict], None]] = {
            OpKind.DESTROY_CI: self._destroy_ci, OpKind.DESTROY_GI: self._destroy_gi,
            OpKind.CREATE_GI: self._create_gi, OpKind.CREATE_CI: self._create_ci,
        }
        for op in ops:
            if op.gpu_index not in by_gpu:
                by_gpu[op.gpu_index] = {m.gi_id: (m, g, c) for m, g, c in self._instances_raw(op.gpu_index)}
            try:
                perform[op.action](op, by_gpu[op.gpu_index], created)
            except nv.NVMLError as exc:
                raise CloverError(f"{op.describe()} failed: {exc} ({op.nvml_call()})") from None
            self._say(f"done: {op.describe()}")

    # -- one NVML application per OpKind; ``have`` is the GPU's gi_id -> (instance, GI, CI)
    def _destroy_ci(self, op: Op, have: dict, created: dict) -> None:
        targets = sorted(have) if op.gi_id is None else [op.gi_id]  # None: every instance
        for gi_id in targets:
            m, gih, cih = have[gi_id]
            if cih is not None:
                self.nvml.nvmlComputeInstanceDestroy(cih)
            have[gi_id] = (m, gih, None)

    def _destroy_gi(self, op: Op, have: dict, created: dict) -> None:
        if op.gi_id is None:  # every instance
            for gi_id in sorted(have):
                self.nvml.nvmlGpuInstanceDestroy(have[gi_id][1])
            have.clear()
        else:
            self.nvml.nvmlGpuInstanceDestroy(have.pop(op.gi_id)[1])

    def _create_gi(self, op: Op, have: dict, created: dict) -> None:
        nv = self.nvml
        dev = self.handle(op.gpu_index)
        prof = get_gpu(self._require_known(op.gpu_index)).profile(op.profile)
        placement = nv.c_nvmlGpuInstancePlacement_t()
        placement.start = op.start
        placement.size = prof.memory_slices
        created[(op.gpu_index, op.start)] = nv.nvmlDeviceCreateGpuInstanceWithPlacement(
            dev, op.gi_profile_id, ctypes.byref(placement))

    def _create_ci(self, op: Op, have: dict, created: dict) -> None:
        nv = self.nvml
        gih = created[(op.gpu_index, op.start)]
        c = get_gpu(self._require_known(op.gpu_index)).profile(op.profile).compute_slices
        nv.nvmlGpuInstanceCreateComputeInstance(gih, self._ci_profile_id(gih, getattr(nv, _CI_ENUM[c])))

    def destroy_all(self, index: int, *, apply: bool = False) -> list[Op]:
        """Destroy every compute and GPU instance of GPU ``index`` (dry run unless applied)."""
        existing = self.instances(index)
        ops = [Op(OpKind.DESTROY_CI, index, m.profile, m.start, -1, m.gi_id, m.ci_id)
               for m in existing if m.ci_id is not None]
        ops += [Op(OpKind.DESTROY_GI, index, m.profile, m.start, -1, m.gi_id) for m in existing]
        if self.dry_run or not apply:
            self._say("dry run (nothing changed); operations:\n" + format_plan(ops))
            return ops
        self.check_ready([index], ops)
        self.execute(ops)
        return ops

    def mig_uuids(self, index: int) -> dict[tuple[int, str], str]:
        """(placement start, profile) -> MIG device UUID for GPU ``index``."""
        return {(m.start, m.profile): m.uuid for m in self.instances(index) if m.uuid}

