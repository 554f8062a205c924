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
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from clover.errors import CloverError
from clover.mig.geometry import Layout, enumerate_layouts, get_gpu

#: ``nvidia-smi mig -lgip`` GPU-instance profile ids of the five layout profiles, by compute
#: slices (identical on A100-40/80GB, H100 and H200; NVIDIA MIG user guide, "Supported MIG
#: Profiles").
STANDARD_GI_PROFILE_IDS: dict[int, int] = {1: 19, 2: 14, 3: 9, 4: 5, 7: 0}
#: NVML enum names of the GPU-instance / compute-instance profiles by compute slices.
_GI_ENUM = {1: "NVML_GPU_INSTANCE_PROFILE_1_SLICE", 2: "NVML_GPU_INSTANCE_PROFILE_2_SLICE",
            3: "NVML_GPU_INSTANCE_PROFILE_3_SLICE", 4: "NVML_GPU_INSTANCE_PROFILE_4_SLICE",
            7: "NVML_GPU_INSTANCE_PROFILE_7_SLICE"}
_CI_ENUM = {1: "NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE", 2: "NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE",
            3: "NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE", 4: "NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE",
            7: "NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE"}
_MAX_INSTANCES = 8  # at most 7 GPU instances on any MIG GPU; room to spare


@dataclass(frozen=True)
class MigInstance:
    """One existing GPU instance (and its compute instance, if any).

    ``start``/``size`` are in memory slices; ``uuid`` is the MIG device UUID
    (``MIG-...``) to put in ``CUDA_VISIBLE_DEVICES``, empty when no compute instance exists.
    """

    gpu_index: int
    gi_id: int
    profile: str
    start: int
    size: int
    ci_id: int | None = None
    uuid: str = ""

    def as_dict(self) -> dict:
        return {"gpu_index": self.gpu_index, "gi_id": self.gi_id, "profile": self.profile,
                "start": self.start, "size": self.size, "ci_id": self.ci_id, "uuid": self.uuid}


@dataclass(frozen=True)
class GpuState:
    """What NVML reports about one physical GPU."""

    index: int
    name: str
    uuid: str
    gpu: str | None  # catalog key, None when the model is not in clover.mig.geometry
    mig_current: int
    mig_pending: int
    instances: tuple[MigInstance, ...] = ()
    processes: tuple[int, ...] = ()

    @property
    def mig_enabled(self) -> bool:
        return self.mig_current == 1

    def as_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "uuid": self.uuid, "gpu": self.gpu,
                "mig_current": self.mig_current, "mig_pending": self.mig_pending,
                "instances": [i.as_dict() for i in self.instances],
                "processes": list(self.processes)}


@dataclass(frozen=True)
class Op:
    """One MIG operation on one GPU.

    ``action`` is ``destroy-ci``, ``destroy-gi``, ``create-gi`` or ``create-ci``. ``start``
    is the placement in memory slices; ``gi_id``/``ci_id`` name existing instances (destroy)
    or are None for instances not yet created. ``gi_profile_id`` is the NVML/nvidia-smi id.
    """

    action: str
    gpu_index: int
    profile: str
    start: int
    gi_profile_id: int
    gi_id: int | None = None
    ci_id: int | None = None

    def command(self) -> str:
        """The equivalent ``nvidia-smi`` command."""
        i = self.gpu_index
        if self.action == "destroy-ci":
            gi = "" if self.gi_id is None else f" -gi {self.gi_id}"
            ci = "" if self.ci_id is None else f" -ci {self.ci_id}"
            return f"nvidia-smi mig -i {i}{gi}{ci} -dci"
        if self.action == "destroy-gi":
            gi = "" if self.gi_id is None else f" -gi {self.gi_id}"
            return f"nvidia-smi mig -i {i}{gi} -dgi"
        if self.action == "create-gi":
            # -C also creates the default (full-size) compute instance, i.e. the create-ci op
            return f"nvidia-smi mig -i {i} -cgi {self.gi_profile_id}:{self.start} -C"
        if self.action == "create-ci":
            return f"# (compute instance of {self.profile}@{self.start} created by -C above)"
        raise CloverError(f"unknown MIG operation {self.action!r}")

    def nvml_call(self) -> str:
        """The NVML call that performs the operation."""
        if self.gi_id is None and self.action.startswith("destroy"):
            what = "compute" if self.action == "destroy-ci" else "GPU"
            fn = "nvmlComputeInstanceDestroy" if self.action == "destroy-ci" else "nvmlGpuInstanceDestroy"
            return f"{fn}(every {what} instance of GPU {self.gpu_index})"
        return {
            "destroy-ci": f"nvmlComputeInstanceDestroy(gi={self.gi_id}, ci={self.ci_id})",
            "destroy-gi": f"nvmlGpuInstanceDestroy(gi={self.gi_id})",
            "create-gi": (f"nvmlDeviceCreateGpuInstanceWithPlacement(gpu={self.gpu_index}, "
                          f"profile={self.profile} (id {self.gi_profile_id}), start={self.start})"),
            "create-ci": (f"nvmlGpuInstanceCreateComputeInstance({self.profile}@{self.start}, "
                          f"full-size compute profile)"),
        }[self.action]

    def describe(self) -> str:
        if self.profile == "*":
            return f"GPU {self.gpu_index}: {self.action:<10} all"
        return f"GPU {self.gpu_index}: {self.action:<10} {self.profile}@{self.start}"

    def as_dict(self) -> dict:
        return {"action": self.action, "gpu_index": self.gpu_index, "profile": self.profile,
                "start": self.start, "gi_profile_id": self.gi_profile_id, "gi_id": self.gi_id,
                "ci_id": self.ci_id, "nvml": self.nvml_call(), "command": self.command()}


# ------------------------------------------------------------------------ planning (pure)

def layout_for_profiles(gpu: str, profiles: Sequence[str],
                        current: Iterable[MigInstance] = ()) -> Layout:
    """The valid layout of ``gpu`` with exactly these profiles (any order).

    Among layouts with the same profile multiset (e.g. 3g+2g+1g+1g has several placements), the
    one with the given placement order wins, else the one that keeps the most of ``current``.
    """
    want = sorted(profiles)
    matches = [lay for lay in enumerate_layouts(gpu) if sorted(lay.profiles) == want]
    if not matches:
        raise CloverError(f"invalid MIG layout {'+'.join(profiles)} for {gpu}")
    keep = {(m.start, m.profile) for m in current}

    def score(lay: Layout) -> tuple[int, int, int]:
        kept = sum((p.start, p.profile) in keep for p in lay.slices)
        same_order = int(tuple(profiles) == lay.profiles)
        return (kept, same_order, -lay.index)

    return max(matches, key=score)


def layouts_of(target: Any, current: Mapping[int, Sequence[MigInstance]] | None = None
               ) -> dict[int, Layout]:
    """Normalise a target to ``{gpu index: Layout}``.

    ``target`` is a Configuration (GPU i of the configuration -> physical GPU i), a mapping
    ``{gpu index: Layout}``, or a sequence of Layouts (GPU 0, 1, ...).
    """
    current = current or {}
    if hasattr(target, "gpus") and hasattr(target, "gpu"):  # a Configuration
        return {i: layout_for_profiles(target.gpu, g.layout, current.get(i, ()))
                for i, g in enumerate(target.gpus)}
    if isinstance(target, Layout):
        return {0: target}
    if isinstance(target, Mapping):
        out = dict(target)
    else:
        out = dict(enumerate(target))
    for i, lay in out.items():
        if not isinstance(lay, Layout):
            raise CloverError(f"GPU {i}: expected a clover.mig.geometry.Layout, got {lay!r}")
    return out


def _gi_profile_id(gpu: str, profile: str, ids: Mapping[str, int] | None = None) -> int:
    if ids and profile in ids:
        return ids[profile]
    return STANDARD_GI_PROFILE_IDS[get_gpu(gpu).profile(profile).compute_slices]


def plan_operations(target: Any,
                    current: Mapping[int, Sequence[MigInstance]] | None = None,
                    profile_ids: Mapping[str, int] | None = None) -> list["Op"]:
    """The operations that turn ``current`` instances into ``target`` layouts.

    ``current`` maps GPU index -> existing instances (from :meth:`MigManager.status`). When
    it is None (planning without NVML), every GPU is assumed to hold unknown instances, and
    the plan starts by destroying all compute and GPU instances on it (``-dci``, ``-dgi``).
    Kept instances produce no operation. Order: all destroys (CIs before GIs), then creates
    by placement start.
    """
    layouts = layouts_of(target, current)
    ops: list[Op] = []
    for gi, layout in sorted(layouts.items()):
        gpu = layout.gpu
        wanted = {(p.start, p.profile) for p in layout.slices}
        if current is None:
            ops.append(Op("destroy-ci", gi, "*", -1, -1))
            ops.append(Op("destroy-gi", gi, "*", -1, -1))
            have: set[tuple[int, str]] = set()
        else:
            have = set()
            existing = sorted(current.get(gi, ()), key=lambda m: m.start)
            doomed = [m for m in existing
                      if (m.start, m.profile) not in wanted or m.ci_id is None]
            for m in existing:
                if m not in doomed:
                    have.add((m.start, m.profile))
            pid = lambda m: _gi_profile_id(gpu, m.profile, profile_ids) if m.profile in {  # noqa: E731
                p.name for p in get_gpu(gpu).profiles} else -1
            for m in doomed:
                if m.ci_id is not None:
                    ops.append(Op("destroy-ci", gi, m.profile, m.start, pid(m), m.gi_id, m.ci_id))
            for m in doomed:
                ops.append(Op("destroy-gi", gi, m.profile, m.start, pid(m), m.gi_id))
        for p in layout.slices:
            if (p.start, p.profile) in have:
                continue
            prof_id = _gi_profile_id(gpu, p.profile, profile_ids)
            ops.append(Op("create-gi", gi, p.profile, p.start, prof_id))
            ops.append(Op("create-ci", gi, p.profile, p.start, prof_id))
    # destroys first (CI before GI) across GPUs, then creates, each group in GPU order
    rank = {"destroy-ci": 0, "destroy-gi": 1, "create-gi": 2, "create-ci": 2}
    return sorted(ops, key=lambda o: (rank[o.action], o.gpu_index, o.start if o.start >= 0 else -1,
                                      o.action != "create-gi"))


def format_plan(ops: Sequence[Op]) -> str:
    """Human-readable plan: one line per op with its NVML call and nvidia-smi command."""
    if not ops:
        return "nothing to do: every GPU already has the wanted layout"
    lines = []
    for op in ops:
        lines.append(f"{op.describe():<34} {op.nvml_call()}")
        if op.action != "create-ci":
            lines.append(f"{'':<34} $ {op.command()}")
    return "\n".join(lines)


# ------------------------------------------------------------------------ NVML access

def _default_nvml():
    try:
        import pynvml  # nvidia-ml-py
    except ImportError as exc:  # pragma: no cover - dependency of the live extra
        raise CloverError("nvidia-ml-py is not installed (pip install 'clover-repro[live]')") from exc
    return pynvml


@dataclass
class MigManager:
    """NVML-backed MIG manager. ``dry_run=True`` (the default) never changes a GPU.

    Use as a context manager (``nvmlInit``/``nvmlShutdown``). ``nvml`` is the ``pynvml``
    module or a stand-in with the same functions (tests use ``tests/fakes/fake_nvml.py``).
    """

    nvml: Any = None
    dry_run: bool = True
    log: Any = None
    _open: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.nvml is None:
            self.nvml = _default_nvml()

    # -- lifecycle
    def __enter__(self) -> "MigManager":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        if not self._open:
            try:
                self.nvml.nvmlInit()
            except self.nvml.NVMLError as exc:
                raise CloverError(f"NVML could not be initialised ({exc}): no NVIDIA driver/GPU "
                                  "here? `clover mig plan` works without one") from None
            self._open = True

    def close(self) -> None:
        if self._open:
            self.nvml.nvmlShutdown()
            self._open = False

    def _say(self, msg: str) -> None:
        if self.log is not None:
            self.log(msg)

    # -- queries
    def device_count(self) -> int:
        self.open()
        return int(self.nvml.nvmlDeviceGetCount())

    def handle(self, index: int):
        self.open()
        n = self.device_count()
        if not 0 <= index < n:
            raise CloverError(f"GPU index {index} out of range (this node has {n} GPUs)")
        return self.nvml.nvmlDeviceGetHandleByIndex(index)

    def gpu_key(self, index: int) -> str | None:
        """The clover.mig.geometry key of GPU ``index`` from its NVML name (None if unknown)."""
        name = _text(self.nvml.nvmlDeviceGetName(self.handle(index)))
        return gpu_key_from_name(name)

    def mig_mode(self, index: int) -> tuple[int, int]:
        """(current, pending) MIG mode: 1 enabled, 0 disabled."""
        try:
            cur, pend = self.nvml.nvmlDeviceGetMigMode(self.handle(index))
        except self.nvml.NVMLError as exc:
            if getattr(exc, "value", None) == self.nvml.NVML_ERROR_NOT_SUPPORTED:
                return (0, 0)
            raise
        return int(cur), int(pend)

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
            destroys = [o for o in ops if o.gpu_index == i and o.action.startswith("destroy")]
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
        out = []
        try:
            count = int(self.nvml.nvmlDeviceGetMaxMigDeviceCount(dev))
        except self.nvml.NVMLError:
            return out
        for i in range(count):
            try:
                mig = self.nvml.nvmlDeviceGetMigDeviceHandleByIndex(dev, i)
            except self.nvml.NVMLError:
                continue
            out.append((mig, int(self.nvml.nvmlDeviceGetGpuInstanceId(mig)),
                        int(self.nvml.nvmlDeviceGetComputeInstanceId(mig))))
        return out

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
        uuids = {(g, c): _text(self.nvml.nvmlDeviceGetUUID(h)) for h, g, c in self._mig_devices(dev)}
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
            name = _text(self.nvml.nvmlDeviceGetName(dev))
            cur, pend = self.mig_mode(i)
            key = gpu_key_from_name(name)
            inst = self.instances(i) if (cur and key) else ()
            out.append(GpuState(i, name, _text(self.nvml.nvmlDeviceGetUUID(dev)), key, cur, pend,
                                inst, self.processes(i)))
        return out

    def _require_known(self, index: int) -> str:
        name = _text(self.nvml.nvmlDeviceGetName(self.handle(index)))
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
        for op in ops:
            if op.gpu_index not in by_gpu:
                by_gpu[op.gpu_index] = {m.gi_id: (m, g, c) for m, g, c in self._instances_raw(op.gpu_index)}
            have = by_gpu[op.gpu_index]
            try:
                if op.action in ("destroy-ci", "destroy-gi") and op.gi_id is None:
                    for gi_id, (m, gih, cih) in sorted(have.items()):
                        if op.action == "destroy-ci" and cih is not None:
                            nv.nvmlComputeInstanceDestroy(cih)
                            have[gi_id] = (m, gih, None)
                        elif op.action == "destroy-gi":
                            nv.nvmlGpuInstanceDestroy(gih)
                    if op.action == "destroy-gi":
                        have.clear()
                elif op.action == "destroy-ci":
                    m, gih, cih = have[op.gi_id]
                    if cih is not None:
                        nv.nvmlComputeInstanceDestroy(cih)
                    have[op.gi_id] = (m, gih, None)
                elif op.action == "destroy-gi":
                    nv.nvmlGpuInstanceDestroy(have.pop(op.gi_id)[1])
                elif op.action == "create-gi":
                    dev = self.handle(op.gpu_index)
                    gpu = self._require_known(op.gpu_index)
                    prof = get_gpu(gpu).profile(op.profile)
                    placement = nv.c_nvmlGpuInstancePlacement_t()
                    placement.start = op.start
                    placement.size = prof.memory_slices
                    gih = nv.nvmlDeviceCreateGpuInstanceWithPlacement(
                        dev, op.gi_profile_id, ctypes.byref(placement))
                    created[(op.gpu_index, op.start)] = gih
                elif op.action == "create-ci":
                    gih = created[(op.gpu_index, op.start)]
                    gpu = self._require_known(op.gpu_index)
                    c = get_gpu(gpu).profile(op.profile).compute_slices
                    ci_pid = self._ci_profile_id(gih, getattr(nv, _CI_ENUM[c]))
                    nv.nvmlGpuInstanceCreateComputeInstance(gih, ci_pid)
                else:
                    raise CloverError(f"unknown MIG operation {op.action!r}")
            except nv.NVMLError as exc:
                raise CloverError(f"{op.describe()} failed: {exc} ({op.nvml_call()})") from None
            self._say(f"done: {op.describe()}")

    def destroy_all(self, index: int, *, apply: bool = False) -> list[Op]:
        """Destroy every compute and GPU instance of GPU ``index`` (dry run unless applied)."""
        existing = self.instances(index)
        ops = [Op("destroy-ci", index, m.profile, m.start, -1, m.gi_id, m.ci_id)
               for m in existing if m.ci_id is not None]
        ops += [Op("destroy-gi", index, m.profile, m.start, -1, m.gi_id) for m in existing]
        if self.dry_run or not apply:
            self._say("dry run (nothing changed); operations:\n" + format_plan(ops))
            return ops
        self.check_ready([index], ops)
        self.execute(ops)
        return ops

    def mig_uuids(self, index: int) -> dict[tuple[int, str], str]:
        """(placement start, profile) -> MIG device UUID for GPU ``index``."""
        return {(m.start, m.profile): m.uuid for m in self.instances(index) if m.uuid}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def gpu_key_from_name(name: str) -> str | None:
    """Map an NVML product name to a clover.mig.geometry key (None when unknown)."""
    n = name.upper()
    if "A100" in n:
        return "a100-80gb" if "80GB" in n else "a100-40gb"
    if "H200" in n:
        return "h200"
    if "H100" in n:
        return "h100-80gb"
    return None
