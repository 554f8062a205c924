"""The one NVML adapter: every NVML read of Clover goes through :class:`Nvml`.

It wraps ``pynvml`` from ``nvidia-ml-py`` or any module-like stand-in with the same functions
(tests use ``tests/fakes/fake_nvml.py``; pass it as ``Nvml(fake)``). It offers what the MIG
manager (:mod:`clover.mig.manager`), the measured profiles (:mod:`clover.profiles.measure`)
and the energy meters (:mod:`clover.hw.energy`) read: init/shutdown (reference counted, as
``nvmlInit``/``nvmlShutdown`` are), device handles by index or UUID, names and UUIDs, the MIG
mode, the MIG devices of a GPU, the whole-GPU energy counter (``nvmlDeviceGetTotalEnergyConsumption``,
mJ since the driver loaded, Volta and newer), power (``nvmlDeviceGetPowerUsage``, mW) and used
memory. An ``NVMLError`` becomes one line, ``CloverError("<what>: <NVML's message>")``.

Only reads are here. Creating and destroying MIG instances stays in
:class:`~clover.mig.manager.MigManager`, behind its explicit ``--apply``; nothing in Clover
enables or disables MIG mode, changes clocks or power limits, or resets a GPU.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from clover.errors import CloverError

#: NVML_ERROR_NOT_SUPPORTED of nvml.h (used when a stand-in module does not define it)
NVML_ERROR_NOT_SUPPORTED = 3


def load_pynvml() -> Any:
    """The ``pynvml`` module of nvidia-ml-py (imported on first use only)."""
    try:
        import pynvml  # nvidia-ml-py
    except ImportError:
        raise CloverError("nvidia-ml-py is not installed (pip install 'clover-repro[live]')") from None
    return pynvml


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _text(value: Any) -> str:
    """NVML strings: ``bytes`` in old nvidia-ml-py releases, ``str`` in new ones."""
    return value.decode() if isinstance(value, bytes) else str(value)


class Nvml:
    """An NVML session over ``module`` (``pynvml`` when None). Use ``with Nvml() as nv:``."""

    def __init__(self, module: Any = None) -> None:
        self.module = load_pynvml() if module is None else module
        self._opened = 0

    @classmethod
    def wrap(cls, nvml: Any = None) -> "Nvml":
        """``nvml`` itself if it is an adapter, else an adapter over the module (or pynvml)."""
        return nvml if isinstance(nvml, Nvml) else cls(nvml)

    # -- errors
    @contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Turn an ``NVMLError`` raised inside into ``CloverError("<what>: <message>")``."""
        try:
            yield
        except self.module.NVMLError as exc:
            raise CloverError(f"{what}: {_one_line(exc)}") from None

    def is_not_supported(self, exc: BaseException) -> bool:
        """True for ``NVML_ERROR_NOT_SUPPORTED`` (and for a stand-in error without a code)."""
        code = getattr(exc, "value", None)
        return code is None or code == getattr(self.module, "NVML_ERROR_NOT_SUPPORTED",
                                               NVML_ERROR_NOT_SUPPORTED)

    # -- lifecycle
    def open(self) -> "Nvml":
        with self.errors("NVML could not be initialised (no NVIDIA driver or GPU here?)"):
            self.module.nvmlInit()
        self._opened += 1
        return self

    def close(self) -> None:
        """Undo one :meth:`open` (best effort: a failing shutdown is not worth an error)."""
        if self._opened:
            self._opened -= 1
            try:
                self.module.nvmlShutdown()
            except self.module.NVMLError:
                pass

    def __enter__(self) -> "Nvml":
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- devices
    def device_count(self) -> int:
        with self.errors("NVML device count"):
            return int(self.module.nvmlDeviceGetCount())

    def handle(self, index: int) -> Any:
        """Handle of physical GPU ``index`` (CloverError if there is no such GPU)."""
        n = self.device_count()
        if not 0 <= index < n:
            raise CloverError(f"GPU index {index} out of range (this node has {n} GPUs)")
        with self.errors(f"GPU {index}"):
            return self.module.nvmlDeviceGetHandleByIndex(index)

    def handle_by_uuid(self, uuid: str) -> Any:
        """Handle of a GPU (``GPU-...``) or MIG device (``MIG-...``) by UUID."""
        with self.errors(f"no NVML device with UUID {uuid}"):
            return self.module.nvmlDeviceGetHandleByUUID(uuid)

    def name(self, dev: Any) -> str:
        with self.errors("device name"):
            return _text(self.module.nvmlDeviceGetName(dev))

    def uuid(self, dev: Any) -> str:
        with self.errors("device UUID"):
            return _text(self.module.nvmlDeviceGetUUID(dev))

    def driver_version(self) -> str:
        """The NVIDIA driver version, or ``unknown`` where NVML does not say."""
        fn = getattr(self.module, "nvmlSystemGetDriverVersion", None)
        try:
            return _text(fn()) if fn is not None else "unknown"
        except self.module.NVMLError:
            return "unknown"

    # -- MIG
    def mig_mode(self, dev: Any) -> tuple[int, int]:
        """(current, pending) MIG mode, 1 enabled and 0 disabled; (0, 0) on GPUs without MIG."""
        try:
            cur, pend = self.module.nvmlDeviceGetMigMode(dev)
        except self.module.NVMLError as exc:
            if self.is_not_supported(exc):
                return (0, 0)
            raise CloverError(f"MIG mode: {_one_line(exc)}") from None
        return int(cur), int(pend)

    def mig_devices(self, dev: Any) -> list[Any]:
        """Handles of the existing MIG devices of GPU handle ``dev`` (empty indices skipped)."""
        try:
            count = int(self.module.nvmlDeviceGetMaxMigDeviceCount(dev))
        except self.module.NVMLError:
            return []
        out = []
        for j in range(count):
            try:
                out.append(self.module.nvmlDeviceGetMigDeviceHandleByIndex(dev, j))
            except self.module.NVMLError:
                continue  # no MIG device at this index
        return out

    # -- counters
    def energy_mj(self, dev: Any, label: str = "GPU") -> float:
        """Total energy of a physical GPU since the driver loaded, mJ (MIG devices have none)."""
        with self.errors(f"{label}: total energy counter not readable (needs a Volta or newer GPU)"):
            return float(self.module.nvmlDeviceGetTotalEnergyConsumption(dev))

    def power_w(self, dev: Any, label: str = "GPU") -> float:
        """Current board power, W (NVML reports mW)."""
        with self.errors(f"{label}: power not readable"):
            return float(self.module.nvmlDeviceGetPowerUsage(dev)) / 1e3

    def memory_used_mb(self, dev: Any, label: str = "device") -> float:
        """Used memory of a GPU or MIG device (contexts included), MB (10^6 bytes)."""
        with self.errors(f"{label}: memory not readable"):
            return float(self.module.nvmlDeviceGetMemoryInfo(dev).used) / 1e6
