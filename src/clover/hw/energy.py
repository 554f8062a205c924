"""Energy of a measurement window, in the shape of zeus's ``ZeusMonitor``.

``meter.begin_window(name)`` ... ``meter.end_window(name) -> Measurement`` (time in s, energy in
J per device and in total, the source as a label). Windows are named, so several may be open at
once. One module for every measured energy in Clover: the profile table's measured power
(:mod:`clover.profiles.measure`) and the live evaluations (:mod:`clover.serve.evaluator`).

Sources:

* :class:`NvmlEnergyMeter` — ``nvmlDeviceGetTotalEnergyConsumption`` of whole physical GPUs
  (mJ since the driver loaded; Volta and newer) through :class:`clover.hw.nvml.Nvml`. MIG
  devices have no counter of their own: a MIG slice's energy is its board's, which is what
  Clover's per-request energy needs (all slices of a GPU serve one service) and why the profile
  backend attributes a board's increase to the one slice that runs (``attribute_power``).
* :class:`RaplEnergyMeter` — Linux powercap RAPL package zones
  (``/sys/class/powercap/intel-rapl:N/energy_uj``, µJ; sub-zones ``intel-rapl:N:M`` are inside
  their package and not counted twice), the wrap-around at ``max_energy_range_uj`` handled at
  every read.
* :class:`ModeledEnergyMeter` — where neither is readable (containers, most laptops without
  root): Σ idle power × window + Σ busy seconds × (busy − idle) power, the powers given by the
  caller (the profile table); its measurements say ``source="modeled"``.

Why not zeus itself (``pip install zeus``; ml-energy/zeus, whose API this copies): its NVIDIA
backend does not work where Clover measures. Issue #109 (github.com/ml-energy/zeus/issues/109,
"ZeusMonitor fails to initialize ... with MIG-enabled GPUs", a ``ValueError`` parsing
``CUDA_VISIBLE_DEVICES=MIG-...``) was closed by refusing MIG: zeus 0.16.0
(``zeus/device/gpu/nvidia.py``, ``NVIDIAGPUs._init_gpus``) raises ``ZeusGPUInitError`` ("NVML
... does not support measuring the power or energy consumption of MIG slices") whenever
``CUDA_VISIBLE_DEVICES`` names MIG devices (as it does in every worker Clover binds to a slice),
and also refuses an empty one; it imports ``pynvml`` at module level, so the fake NVML of the
tests cannot be handed to it; it has no modeled fallback; and it pulls in scikit-learn, amdsmi,
pydantic, rich, tyro and httpx. The counter it would read is the one read here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from clover.errors import CloverError
from clover.hw.nvml import Nvml

RAPL_ROOT = Path("/sys/class/powercap")


@dataclass(frozen=True)
class Measurement:
    """Energy used over one window (zeus's ``Measurement``, with its source said).

    Attributes:
        time_s: window length, s.
        energy_j: total, J: the sum of ``per_device_j`` (for the model also the power drawn
            regardless of the instances, ``base_idle_w`` × window).
        per_device_j: J per device (``gpu<i>``, RAPL zone, or instance id for the model).
        source: ``nvml``, ``rapl`` or ``modeled``.
        note: how the number was obtained (zones read, assumptions of a model).
    """

    time_s: float
    energy_j: float
    per_device_j: Mapping[str, float] = field(default_factory=dict)
    source: str = ""
    note: str = ""

    @property
    def power_w(self) -> float:
        """Mean power over the window, W (NaN for an empty window)."""
        return self.energy_j / self.time_s if self.time_s > 0 else float("nan")

    def as_dict(self) -> dict:
        return {"time_s": self.time_s, "energy_j": self.energy_j, "source": self.source,
                "power_w": self.power_w, "per_device_j": dict(self.per_device_j), "note": self.note}


class EnergyMeter:
    """Named windows over cumulative energy counters (subclasses give :meth:`read_j`).

    ``begin_window`` reads the clock, then the counters; ``end_window`` the counters, then the
    clock; the measurement is the counters' increase over the elapsed time.
    """

    source = ""
    note = ""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[str, tuple[float, dict[str, float]]] = {}

    def read_j(self) -> dict[str, float]:
        """Cumulative energy per device, J, from any fixed origin (none for the model)."""
        return {}

    def begin_window(self, name: str) -> None:
        if name in self._windows:
            raise CloverError(f"energy window {name!r} is already open")
        t = self.clock()
        self._windows[name] = (t, self.read_j())

    def end_window(self, name: str, **kwargs: Any) -> Measurement:
        """Close window ``name``; ``kwargs`` go to the meter (``busy_s`` for the model)."""
        try:
            t0, before = self._windows.pop(name)
        except KeyError:
            raise CloverError(f"energy window {name!r} was never begun") from None
        after = self.read_j()
        return self._measure({k: after[k] - before[k] for k in after}, self.clock() - t0, **kwargs)

    def _measure(self, per_j: dict[str, float], time_s: float, **_: Any) -> Measurement:
        return Measurement(time_s, sum(per_j.values()), per_j, self.source, self.note)


class NvmlEnergyMeter(EnergyMeter):
    """Whole-GPU energy of physical GPUs from NVML (``gpu_indices``; default every GPU)."""

    source = "nvml"
    note = "nvmlDeviceGetTotalEnergyConsumption, whole GPU(s)"

    def __init__(self, gpu_indices: Sequence[int] | None = None, nvml: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.nvml = Nvml.wrap(nvml).open()
        try:
            indices = range(self.nvml.device_count()) if gpu_indices is None else gpu_indices
            self.handles = {int(i): self.nvml.handle(int(i)) for i in indices}
        except CloverError:
            self.nvml.close()
            raise

    def read_j(self) -> dict[str, float]:
        return {f"gpu{i}": self.nvml.energy_mj(h, f"GPU {i}") / 1e3 for i, h in self.handles.items()}

    def close(self) -> None:
        self.nvml.close()


def rapl_zones(root: Path | str = RAPL_ROOT) -> list[Path]:
    """Readable top-level RAPL package zones (``intel-rapl:N``), sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    zones = []
    for z in sorted(root.glob("intel-rapl:*")):
        if z.name.count(":") != 1:  # sub-zones intel-rapl:N:M are inside the package zone
            continue
        if _read_int(z / "energy_uj") is not None:
            zones.append(z)
    return zones


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class RaplEnergyMeter(EnergyMeter):
    """CPU package energy from Linux powercap RAPL (µJ counters, wrap-around handled)."""

    source = "rapl"

    def __init__(self, root: Path | str = RAPL_ROOT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.root = Path(root)
        self.zones = rapl_zones(self.root)
        if not self.zones:
            raise CloverError(f"no readable RAPL zone under {self.root} (needs read access to "
                              "intel-rapl:*/energy_uj)")
        #: counter range, µJ; None where not exposed (then a wrapped interval counts 0)
        self.ranges = {z.name: _read_int(z / "max_energy_range_uj") for z in self.zones}
        self._last: dict[str, int] = {}
        self._total_uj = {z.name: 0 for z in self.zones}
        names = ", ".join(self._zone_label(z) for z in self.zones)
        self.note = f"RAPL package zones: {names} (whole CPU, not only the service)"

    @staticmethod
    def available(root: Path | str = RAPL_ROOT) -> bool:
        return bool(rapl_zones(root))

    def read_j(self) -> dict[str, float]:
        for z in self.zones:
            now = int((z / "energy_uj").read_text().strip())
            prev = self._last.get(z.name)
            if prev is not None:
                delta = now - prev
                if delta < 0:  # the counter wrapped (at most once between reads: ~60 s at 100 W+)
                    rng = self.ranges[z.name]
                    delta = delta + rng if rng else 0
                self._total_uj[z.name] += delta
            self._last[z.name] = now
        return {name: uj / 1e6 for name, uj in self._total_uj.items()}

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


class ModeledEnergyMeter(EnergyMeter):
    """Energy from busy time and modeled powers: Σ idle·T + Σ busy_s·(busy−idle).

    ``powers`` maps instance id -> :class:`InstancePower`; ``base_idle_w`` is power drawn
    regardless of the instances (e.g. the idle power of GPUs not covered by slice shares).
    The caller passes the measured busy seconds per instance: ``end_window(name, busy_s=...)``.
    """

    source = "modeled"

    def __init__(self, powers: Mapping[str, InstancePower], base_idle_w: float = 0.0,
                 note: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.powers = dict(powers)
        self.base_idle_w = float(base_idle_w)
        self.note = note or "modeled: busy seconds x profile power"

    def _measure(self, per_j: dict[str, float], time_s: float,
                 busy_s: Mapping[str, float] | None = None, **_: Any) -> Measurement:
        busy_s = busy_s or {}
        unknown = set(busy_s) - set(self.powers)
        if unknown:
            raise CloverError(f"modeled energy: no power for instance(s) {sorted(unknown)}")
        per = {}
        for inst, p in self.powers.items():
            b = min(max(float(busy_s.get(inst, 0.0)), 0.0), time_s)
            per[inst] = p.idle_w * time_s + b * (p.busy_w - p.idle_w)
        total = sum(per.values()) + self.base_idle_w * time_s
        return Measurement(time_s, total, per, self.source, self.note)


def make_energy_meter(backend: str, *, gpu_indices: Sequence[int] | None = None,
                      powers: Mapping[str, InstancePower] | None = None, base_idle_w: float = 0.0,
                      nvml: Any = None, rapl_root: Path | str = RAPL_ROOT,
                      model_note: str = "") -> EnergyMeter:
    """The meter a backend uses: ``cuda`` -> NVML; ``cpu`` -> RAPL where readable, else modeled."""
    if backend == "cuda":
        return NvmlEnergyMeter(gpu_indices, nvml=nvml)
    if backend == "cpu":
        if RaplEnergyMeter.available(rapl_root):
            return RaplEnergyMeter(rapl_root)
        return ModeledEnergyMeter(powers or {}, base_idle_w, model_note)
    raise CloverError(f"unknown backend {backend!r} (cpu or cuda)")
