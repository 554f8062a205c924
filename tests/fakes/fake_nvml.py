"""A fake ``pynvml`` module for tests: MIG GPUs whose placement rules come from clover.mig.geometry.

It models what the MIG manager and the energy meter call, with the calling conventions of
``nvidia-ml-py`` (ctypes arrays and ``byref`` counts for instance listings, ``byref`` placement
structs for creation, :class:`NVMLError` with a ``value`` code). The A100 rules it enforces
are the ones NVIDIA documents, taken from :mod:`clover.mig.geometry` rather than restated:

* a GPU instance of a profile may only start at the profile's allowed placements,
* instances may not overlap in memory slices, and compute slices may not exceed 7,
* a GPU instance with a compute instance cannot be destroyed (``NVML_ERROR_IN_USE``),
* instances can only be created or destroyed with MIG mode enabled and no process running,
* MIG mode is only reported; tests flip it through :meth:`FakeGpu.set_mig` (as an admin would).

Energy: ``nvmlDeviceGetTotalEnergyConsumption`` returns a millijoule counter that grows with
``power_w`` x elapsed fake time (:meth:`FakeNvml.advance`); on a MIG device it is
``NVML_ERROR_NOT_SUPPORTED``, as on real GPUs (MIG slices have no counter of their own).
"""

from __future__ import annotations

import ctypes
import itertools
from dataclasses import dataclass, field

from clover.mig.geometry import get_gpu
from clover.mig.manager import STANDARD_GI_PROFILE_IDS

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_IN_USE = 19
NVML_ERROR_INSUFFICIENT_RESOURCES = 23

NVML_DEVICE_MIG_DISABLE = 0
NVML_DEVICE_MIG_ENABLE = 1

NVML_GPU_INSTANCE_PROFILE_1_SLICE = 0x0
NVML_GPU_INSTANCE_PROFILE_2_SLICE = 0x1
NVML_GPU_INSTANCE_PROFILE_3_SLICE = 0x2
NVML_GPU_INSTANCE_PROFILE_4_SLICE = 0x3
NVML_GPU_INSTANCE_PROFILE_7_SLICE = 0x4
NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE = 0x0
NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE = 0x1
NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE = 0x2
NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE = 0x3
NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE = 0x4
NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED = 0x0

_GI_ENUM_SLICES = {0: 1, 1: 2, 2: 3, 3: 4, 4: 7}
_CI_ENUM_SLICES = {0: 1, 1: 2, 2: 3, 3: 4, 4: 7}
#: compute-instance profile ids as nvidia-smi mig -lcip reports them (1c..7c)
_CI_PROFILE_IDS = {1: 0, 2: 1, 3: 2, 4: 3, 7: 4}


class NVMLError(Exception):
    """Same shape as pynvml.NVMLError: an exception carrying the NVML return code."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        names = {2: "Invalid Argument", 3: "Not Supported", 6: "Not Found", 19: "In use by another client",
                 23: "Insufficient Resources", 1: "Uninitialized"}
        return names.get(self.value, f"NVML error {self.value}")


class c_nvmlGpuInstancePlacement_t(ctypes.Structure):
    _fields_ = [("start", ctypes.c_uint), ("size", ctypes.c_uint)]


# opaque handles: the fake stores integer ids in ctypes arrays as NVML stores pointers
c_nvmlGpuInstance_t = ctypes.c_void_p
c_nvmlComputeInstance_t = ctypes.c_void_p


@dataclass
class _Info:
    id: int
    profileId: int
    placement: object = None
    sliceCount: int = 0
    memorySizeMB: int = 0
    name: bytes = b""


@dataclass
class Process:
    pid: int
    usedGpuMemory: int = 0


@dataclass
class FakeGI:
    handle: int
    gpu: "FakeGpu"
    gi_id: int
    profile: str
    start: int
    size: int
    compute: int
    ci: "FakeCI | None" = None


@dataclass
class FakeCI:
    handle: int
    gi: FakeGI
    ci_id: int
    uuid: str
    processes: list[Process] = field(default_factory=list)


@dataclass
class FakeMigDevice:
    ci: FakeCI


@dataclass
class _Memory:
    total: int
    free: int
    used: int


@dataclass
class FakeGpu:
    """One fake physical GPU of a clover.mig.geometry model."""

    index: int
    key: str
    mig_current: int = 1
    mig_pending: int = 1
    power_w: float = 0.0
    energy_mj: float = 0.0
    memory_used_mb: float = 0.0
    processes: list[Process] = field(default_factory=list)
    gis: dict[int, FakeGI] = field(default_factory=dict)

    @property
    def spec(self):
        return get_gpu(self.key)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def uuid(self) -> str:
        return f"GPU-fake-{self.index:04d}-0000-0000-000000000000"

    def set_mig(self, enabled: bool) -> None:
        """What an administrator's ``nvidia-smi -mig`` plus GPU reset does (tests only)."""
        self.mig_current = self.mig_pending = int(enabled)


class FakeNvml:
    """Module-like fake of ``pynvml`` with ``gpus`` fake GPUs (default: 2 x A100-40GB)."""

    NVMLError = NVMLError
    c_nvmlGpuInstancePlacement_t = c_nvmlGpuInstancePlacement_t
    c_nvmlGpuInstance_t = c_nvmlGpuInstance_t
    c_nvmlComputeInstance_t = c_nvmlComputeInstance_t

    def __init__(self, gpus: tuple[str, ...] = ("a100-40gb", "a100-40gb"), mig: bool = True) -> None:
        for name, value in globals().items():
            if name.startswith("NVML_"):
                setattr(self, name, value)
        self.gpus = [FakeGpu(i, key, int(mig), int(mig)) for i, key in enumerate(gpus)]
        self._ids = itertools.count(1)
        self._handles: dict[int, object] = {}
        self.initialised = 0
        self.calls: list[str] = []  # mutating calls, in order

    # -- helpers for tests
    def advance(self, seconds: float) -> None:
        """Let fake time pass: every GPU's energy counter grows by power_w x seconds."""
        for g in self.gpus:
            g.energy_mj += g.power_w * seconds * 1000.0

    def _check_init(self) -> None:
        if self.initialised <= 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _obj(self, handle):
        if isinstance(handle, ctypes.c_void_p):
            handle = handle.value
        obj = self._handles.get(handle)
        if obj is None:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return obj

    # -- init
    def nvmlInit(self) -> None:
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self._check_init()
        self.initialised -= 1

    # -- devices
    def nvmlDeviceGetCount(self) -> int:
        self._check_init()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        self._check_init()
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return self.gpus[index]

    def nvmlDeviceGetHandleByUUID(self, uuid: str):
        self._check_init()
        for gpu in self.gpus:
            if gpu.uuid == uuid:
                return gpu
            for gi in gpu.gis.values():
                if gi.ci is not None and gi.ci.uuid == uuid:
                    return FakeMigDevice(gi.ci)
        raise NVMLError(NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetName(self, dev) -> str:
        return dev.name if isinstance(dev, FakeGpu) else f"{dev.ci.gi.gpu.name} MIG {dev.ci.gi.profile}"

    def nvmlDeviceGetUUID(self, dev) -> str:
        return dev.uuid if isinstance(dev, FakeGpu) else dev.ci.uuid

    def nvmlDeviceGetMigMode(self, dev: FakeGpu) -> list[int]:
        return [dev.mig_current, dev.mig_pending]

    def nvmlDeviceSetMigMode(self, dev, mode):  # pragma: no cover - must never be called
        raise AssertionError("clover must never toggle MIG mode")

    def nvmlDeviceGetComputeRunningProcesses(self, dev) -> list[Process]:
        if isinstance(dev, FakeMigDevice):
            return list(dev.ci.processes)
        procs = list(dev.processes)
        for gi in dev.gis.values():
            if gi.ci is not None:
                procs += gi.ci.processes
        return procs

    def nvmlDeviceGetTotalEnergyConsumption(self, dev: FakeGpu) -> int:
        self._check_init()
        if isinstance(dev, FakeMigDevice):
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return int(dev.energy_mj)

    def nvmlDeviceGetPowerUsage(self, dev: FakeGpu) -> int:
        if isinstance(dev, FakeMigDevice):
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return int(dev.power_w * 1000)

    def nvmlDeviceGetMemoryInfo(self, dev) -> _Memory:
        """Bytes; a MIG device has its GPU instance's memory, of which nothing is used."""
        if isinstance(dev, FakeMigDevice):
            prof = dev.ci.gi.gpu.spec.profile(dev.ci.gi.profile)
            total, used = int(prof.memory_gb * 1024**3), 0
        else:
            total, used = int(dev.spec.memory_gb * 1024**3), int(dev.memory_used_mb * 1e6)
        return _Memory(total, total - used, used)

    # -- GPU instances
    def _gi_profile(self, dev: FakeGpu, enum: int):
        if enum not in _GI_ENUM_SLICES:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return dev.spec.profile_by_compute(_GI_ENUM_SLICES[enum])

    def nvmlDeviceGetGpuInstanceProfileInfo(self, dev: FakeGpu, enum: int, version: int = 2):
        prof = self._gi_profile(dev, enum)
        return _Info(id=STANDARD_GI_PROFILE_IDS[prof.compute_slices], profileId=enum,
                     sliceCount=prof.compute_slices, memorySizeMB=int(prof.memory_gb * 1024),
                     name=f"MIG {prof.name}".encode())

    def _profile_by_id(self, dev: FakeGpu, profile_id: int):
        for prof in dev.spec.profiles:
            if STANDARD_GI_PROFILE_IDS[prof.compute_slices] == profile_id:
                return prof
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)

    def nvmlDeviceCreateGpuInstanceWithPlacement(self, dev: FakeGpu, profile_id: int, placement):
        self._check_init()
        self.calls.append(f"create-gi {dev.index} {profile_id} {_deref(placement).start}")
        if not dev.mig_current:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        prof = self._profile_by_id(dev, profile_id)
        pl = _deref(placement)
        start, size = int(pl.start), int(pl.size)
        if start not in prof.placements or size != prof.memory_slices:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        lo, hi = start, start + size
        if hi > dev.spec.memory_slices:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        for gi in dev.gis.values():
            if not (hi <= gi.start or lo >= gi.start + gi.size):
                raise NVMLError(NVML_ERROR_INSUFFICIENT_RESOURCES)
        if sum(gi.compute for gi in dev.gis.values()) + prof.compute_slices > dev.spec.compute_slices:
            raise NVMLError(NVML_ERROR_INSUFFICIENT_RESOURCES)
        gi_id = min(set(range(1, 15)) - {g.gi_id for g in dev.gis.values()})
        handle = next(self._ids)
        gi = FakeGI(handle, dev, gi_id, prof.name, start, size, prof.compute_slices)
        dev.gis[gi_id] = gi
        self._handles[handle] = gi
        return handle

    def nvmlDeviceGetGpuInstances(self, dev: FakeGpu, profile_id: int, arr, count_ref) -> int:
        self._check_init()
        if not dev.mig_current:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        prof = self._profile_by_id(dev, profile_id)
        found = [gi for gi in sorted(dev.gis.values(), key=lambda g: g.gi_id) if gi.profile == prof.name]
        if len(found) > len(arr):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        for i, gi in enumerate(found):
            arr[i] = gi.handle
        _deref(count_ref).value = len(found)
        return NVML_SUCCESS

    def nvmlGpuInstanceGetInfo(self, handle):
        gi = self._obj(handle)
        return _Info(id=gi.gi_id, profileId=STANDARD_GI_PROFILE_IDS[gi.compute],
                     placement=c_nvmlGpuInstancePlacement_t(gi.start, gi.size))

    def nvmlGpuInstanceDestroy(self, handle) -> int:
        gi = self._obj(handle)
        self.calls.append(f"destroy-gi {gi.gpu.index} {gi.gi_id}")
        if gi.ci is not None:
            raise NVMLError(NVML_ERROR_IN_USE)
        del gi.gpu.gis[gi.gi_id]
        del self._handles[gi.handle]
        return NVML_SUCCESS

    # -- compute instances
    def nvmlGpuInstanceGetComputeInstanceProfileInfo(self, handle, enum: int, eng: int, version: int = 2):
        gi = self._obj(handle)
        slices = _CI_ENUM_SLICES.get(enum)
        if slices is None or slices > gi.compute:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return _Info(id=_CI_PROFILE_IDS[slices], profileId=enum, sliceCount=slices)

    def nvmlGpuInstanceCreateComputeInstance(self, handle, ci_profile_id: int):
        gi = self._obj(handle)
        self.calls.append(f"create-ci {gi.gpu.index} {gi.gi_id}")
        if ci_profile_id != _CI_PROFILE_IDS[gi.compute]:
            # the manager creates one full-size compute instance per GPU instance
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if gi.ci is not None:
            raise NVMLError(NVML_ERROR_INSUFFICIENT_RESOURCES)
        handle_id = next(self._ids)
        uuid = f"MIG-fake-{gi.gpu.index}-{gi.gi_id}-{handle_id:08d}"
        gi.ci = FakeCI(handle_id, gi, 0, uuid)
        self._handles[handle_id] = gi.ci
        return handle_id

    def nvmlGpuInstanceGetComputeInstances(self, handle, ci_profile_id: int, arr, count_ref) -> int:
        gi = self._obj(handle)
        found = [gi.ci] if gi.ci is not None and ci_profile_id == _CI_PROFILE_IDS[gi.compute] else []
        for i, ci in enumerate(found):
            arr[i] = ci.handle
        _deref(count_ref).value = len(found)
        return NVML_SUCCESS

    def nvmlComputeInstanceGetInfo(self, handle):
        ci = self._obj(handle)
        return _Info(id=ci.ci_id, profileId=_CI_PROFILE_IDS[ci.gi.compute])

    def nvmlComputeInstanceDestroy(self, handle) -> int:
        ci = self._obj(handle)
        self.calls.append(f"destroy-ci {ci.gi.gpu.index} {ci.gi.gi_id}")
        if ci.processes:
            raise NVMLError(NVML_ERROR_IN_USE)
        ci.gi.ci = None
        del self._handles[ci.handle]
        return NVML_SUCCESS

    # -- MIG devices
    def nvmlDeviceGetMaxMigDeviceCount(self, dev: FakeGpu) -> int:
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, dev: FakeGpu, index: int) -> FakeMigDevice:
        cis = [gi.ci for gi in sorted(dev.gis.values(), key=lambda g: g.start) if gi.ci is not None]
        if index >= len(cis):
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return FakeMigDevice(cis[index])

    def nvmlDeviceGetGpuInstanceId(self, dev: FakeMigDevice) -> int:
        return dev.ci.gi.gi_id

    def nvmlDeviceGetComputeInstanceId(self, dev: FakeMigDevice) -> int:
        return dev.ci.ci_id


def _deref(ref):
    """The object behind a ctypes ``byref`` (or the object itself)."""
    return getattr(ref, "_obj", ref)
