"""Energy of an evaluation window: NVML on GPUs, RAPL on CPUs, else a labelled model.

* :class:`NvmlEnergyMeter` reads ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules since the
  driver loaded; Volta and newer) of every physical GPU before and after a window. MIG
  instances share the board counter, so the reading is per GPU, which is what Clover's
  per-request energy needs (all slices of the GPU serve the same service).
* :class:`RaplEnergyMeter` reads Linux powercap RAPL counters
  (``/sys/class/powercap/intel-rapl:N/energy_uj``, package zones only so DRAM/core sub-zones
  are not double counted) and handles the wrap-around at ``max_energy_range_uj``.
* :class:`ModeledEnergyMeter` is used where neither is readable (containers, AMD without
  powercap, most laptops without root): energy = Σ idle power × window + Σ busy seconds ×
  (busy − idle) power, with the powers supplied by the caller (the profile table), and the
  reading says ``source="modeled"``.

All readings are :class:`EnergyReading` in joules with the window length in seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from clover.errors import CloverError

RAPL_ROOT = Path("/sys/class/powercap")


@dataclass(frozen=True)
class EnergyReading:
    """Energy used over one window.

    Attributes:
        energy_j: total over all metered devices, J.
        duration_s: window length, s.
        source: ``nvml``, ``rapl`` or ``modeled``.
        per_device_j: J per device (GPU index, RAPL zone or instance id).
        note: how the number was obtained (assumptions of a model, zones read).
    """

    energy_j: float
    duration_s: float
    source: str
    per_device_j: Mapping[str, float] = field(default_factory=dict)
    note: str = ""

    @property
    def power_w(self) -> float:
        """Mean power over the window, W."""
        return self.energy_j / self.duration_s if self.duration_s > 0 else float("nan")

    def as_dict(self) -> dict:
        return {"energy_j": self.energy_j, "duration_s": self.duration_s, "source": self.source,
                "power_w": self.power_w, "per_device_j": dict(self.per_device_j), "note": self.note}


@dataclass
class _Mark:
    t: float
    counters: dict[str, float]


class NvmlEnergyMeter:
    """Total energy of physical GPUs from NVML (mJ counters sampled around a window)."""

    source = "nvml"

    def __init__(self, gpu_indices: Sequence[int] | None = None, nvml: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if nvml is None:
            import pynvml as nvml  # nvidia-ml-py
        self.nvml = nvml
        self.clock = clock
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            raise CloverError(f"NVML energy meter: NVML could not be initialised ({exc})") from None
        n = nvml.nvmlDeviceGetCount()
        self.gpu_indices = list(range(n)) if gpu_indices is None else list(gpu_indices)
        for i in self.gpu_indices:
            if not 0 <= i < n:
                raise CloverError(f"NVML energy meter: GPU index {i} out of range ({n} GPUs)")
        self.handles = {i: nvml.nvmlDeviceGetHandleByIndex(i) for i in self.gpu_indices}

    def _read(self) -> dict[str, float]:
        out = {}
        for i, h in self.handles.items():
            try:
                out[f"gpu{i}"] = float(self.nvml.nvmlDeviceGetTotalEnergyConsumption(h))  # mJ
            except self.nvml.NVMLError as exc:
                raise CloverError(f"GPU {i}: total energy counter not readable ({exc}); "
                                  "needs a Volta or newer GPU") from None
        return out

    def start(self) -> _Mark:
        return _Mark(self.clock(), self._read())

    def stop(self, mark: _Mark, **_: Any) -> EnergyReading:
        after, t = self._read(), self.clock()
        per = {k: (after[k] - mark.counters[k]) / 1000.0 for k in after}  # mJ -> J
        return EnergyReading(sum(per.values()), t - mark.t, self.source, per,
                             "nvmlDeviceGetTotalEnergyConsumption, whole GPU(s)")

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception:  # pragma: no cover - best effort
            pass


def rapl_zones(root: Path = RAPL_ROOT) -> list[Path]:
    """Readable top-level RAPL package zones (``intel-rapl:N``), sorted."""
    if not root.is_dir():
        return []
    zones = []
    for z in sorted(root.glob("intel-rapl:*")):
        if z.name.count(":") != 1:  # sub-zones intel-rapl:N:M are inside the package zone
            continue
        try:
            int((z / "energy_uj").read_text().strip())
        except (OSError, ValueError):
            continue
        zones.append(z)
    return zones


class RaplEnergyMeter:
    """CPU package energy from Linux powercap RAPL (µJ counters, wrap-around handled)."""

    source = "rapl"

    def __init__(self, root: Path | str = RAPL_ROOT, clock: Callable[[], float] = time.monotonic) -> None:
        self.root = Path(root)
        self.clock = clock
        self.zones = rapl_zones(self.root)
        if not self.zones:
            raise CloverError(f"no readable RAPL zone under {self.root} (needs read access to "
                              "intel-rapl:*/energy_uj)")
        self.ranges = {}
        for z in self.zones:
            try:
                self.ranges[z.name] = int((z / "max_energy_range_uj").read_text().strip())
            except (OSError, ValueError):
                self.ranges[z.name] = 2 ** 32  # the register width when the range is not exposed

    @staticmethod
    def available(root: Path | str = RAPL_ROOT) -> bool:
        return bool(rapl_zones(Path(root)))

    def _read(self) -> dict[str, float]:
        return {z.name: float(int((z / "energy_uj").read_text().strip())) for z in self.zones}

    def start(self) -> _Mark:
        return _Mark(self.clock(), self._read())

    def stop(self, mark: _Mark, **_: Any) -> EnergyReading:
        after, t = self._read(), self.clock()
        per = {}
        for name, value in after.items():
            delta = value - mark.counters[name]
            if delta < 0:  # the counter wrapped (at most once per window: ~60 s at 100 s+ range)
                delta += self.ranges[name]
            per[name] = delta / 1e6  # µJ -> J
        names = ", ".join(self._zone_label(z) for z in self.zones)
        return EnergyReading(sum(per.values()), t - mark.t, self.source, per,
                             f"RAPL package zones: {names} (whole CPU, not only the service)")

    @staticmethod
    def _zone_label(z: Path) -> str:
        try:
            return f"{z.name}={(z / 'name').read_text().strip()}"
        except OSError:
            return z.name


@dataclass(frozen=True)
class InstancePower:
    """Modeled power of one serving instance (W): busy includes its idle share."""

    busy_w: float
    idle_w: float


class ModeledEnergyMeter:
    """Energy from busy time and modeled powers: Σ idle·T + Σ busy_s·(busy−idle).

    ``powers`` maps instance id -> :class:`InstancePower`; ``base_idle_w`` is power drawn
    regardless of the instances (e.g. the idle power of GPUs not covered by slice shares).
    The caller passes the measured busy seconds per instance to :meth:`stop`.
    """

    source = "modeled"

    def __init__(self, powers: Mapping[str, InstancePower], base_idle_w: float = 0.0,
                 note: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self.powers = dict(powers)
        self.base_idle_w = float(base_idle_w)
        self.note = note
        self.clock = clock

    def start(self) -> _Mark:
        return _Mark(self.clock(), {})

    def stop(self, mark: _Mark, busy_s: Mapping[str, float] | None = None, **_: Any) -> EnergyReading:
        t = self.clock()
        duration = t - mark.t
        busy_s = busy_s or {}
        unknown = set(busy_s) - set(self.powers)
        if unknown:
            raise CloverError(f"modeled energy: no power for instance(s) {sorted(unknown)}")
        per = {}
        for inst, p in self.powers.items():
            b = min(max(float(busy_s.get(inst, 0.0)), 0.0), duration)
            per[inst] = p.idle_w * duration + b * (p.busy_w - p.idle_w)
        total = sum(per.values()) + self.base_idle_w * duration
        return EnergyReading(total, duration, self.source, per,
                             self.note or "modeled: busy seconds x profile power")


def make_energy_meter(backend: str, *, gpu_indices: Sequence[int] | None = None,
                      powers: Mapping[str, InstancePower] | None = None, base_idle_w: float = 0.0,
                      nvml: Any = None, rapl_root: Path | str = RAPL_ROOT, model_note: str = ""):
    """The meter a backend uses: ``cuda`` -> NVML; ``cpu`` -> RAPL where readable, else modeled."""
    if backend == "cuda":
        return NvmlEnergyMeter(gpu_indices, nvml=nvml)
    if backend == "cpu":
        if RaplEnergyMeter.available(rapl_root):
            return RaplEnergyMeter(rapl_root)
        return ModeledEnergyMeter(powers or {}, base_idle_w, model_note)
    raise CloverError(f"unknown backend {backend!r} (cpu or cuda)")
