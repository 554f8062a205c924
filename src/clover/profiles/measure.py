"""Measured backends: real models timed on MIG slices (``cuda``) or on CPU cores (``cpu``).

Both backends run the same loop (:mod:`clover.profiles.worker`): build the real model from
:mod:`clover.models.builders`, warm up, then — after the parent has read the energy counter —
run the timed iterations. Per row:

1. ``load`` (build + warm-up; not metered);
2. **idle baseline**: read the energy counter, wait ``idle_s``, read it again: the device's
   power with the model resident and nothing running;
3. read the counter, ``go`` (timed iterations, at least ``min_time_s``), read it again: the
   device's power while this one slice serves back to back;
4. attribute (:func:`attribute_power`): the slice's busy power is its compute share of the
   baseline plus *all* of the increase over the baseline; its idle power is its share of the
   baseline.

**GPU** (``backend="cuda"``): MIG devices are listed through NVML (``nvidia-ml-py``); each
slice gets its own worker subprocess started with ``CUDA_VISIBLE_DEVICES=<MIG UUID>`` in its
environment, so torch sees exactly that slice as ``cuda:0``. NVML meters energy only for the
whole physical GPU (``nvmlDeviceGetTotalEnergyConsumption`` on the parent handle, mJ; read as
:class:`clover.hw.energy.NvmlEnergyMeter` windows through the adapter :mod:`clover.hw.nvml`), hence
the attribution above: slices are run one at a time with the other slices idle, the idle
baseline is measured just before, and the whole increase is charged to the active slice.
This code never enables or disables MIG or creates instances; profiles of slice types not
present in the current layout are skipped (make them with the live backend's ``mig_setup``
and run again). Memory is NVML's used memory of the MIG device after the run (context
included); an out-of-memory load is recorded as ``fits == False``.

**CPU** (``backend="cpu"``): the slice is stood in for by its share of the CPU cores,
``torch.set_num_threads(max(1, round(cores * compute_slices / 7)))``, in-process. Energy from
Linux RAPL (``/sys/class/powercap/intel-rapl:*/energy_uj``, package domains) where readable,
with the same baseline attribution (cores share instead of compute share); otherwise the
power columns are the modeled GPU slice's (:mod:`clover.profiles.model`) and
``power_source`` says ``modeled``. ``fits`` and ``memory_mb`` come from the memory model of
the GPU slice the row stands for. Timing ``source`` is ``measured-cpu``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
import warnings
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from clover import __version__
from clover.errors import CloverError
from clover.hw.energy import EnergyMeter, NvmlEnergyMeter, RaplEnergyMeter
from clover.hw.nvml import Nvml
from clover.timestamps import iso_utc
from clover.mig.geometry import DEFAULT_GPU, GpuSpec, MigProfile, get_gpu
from clover.models.catalog import get_app, get_variant, variants_for_app
from clover.models.catalog import scaled_input_size
from clover.profiles.model import memory_mb, modeled_row, slice_memory_mb
from clover.profiles.params import load_params
from clover.profiles.schema import finalize
from clover.profiles.timing import kept_torch_threads, latency_stats
from clover.profiles.worker import LocalWorker

_MIG_NAME = re.compile(r"(\d+g\.\d+gb)")


# --------------------------------------------------------------------------- energy
def attribute_power(baseline_w: float, active_w: float, share: float) -> tuple[float, float]:
    """(busy, idle) power of the active slice, W.

    ``baseline_w``: whole device just before, model resident, nothing running;
    ``active_w``: whole device while this slice serves; ``share``: the slice's compute share
    (compute slices / 7, or threads / cores on the CPU). Busy = share of the baseline + the
    entire increase (other slices are idle); a negative increase (meter noise) counts as 0.
    """
    idle = baseline_w * share
    return idle + max(active_w - baseline_w, 0.0), idle


def _window_power(meter: EnergyMeter, seconds: float) -> float:
    """Mean power of the metered device(s) over ``seconds`` of waiting, W."""
    meter.begin_window("idle")
    try:
        time.sleep(seconds)
    finally:
        idle = meter.end_window("idle")
    return idle.power_w


# --------------------------------------------------------------------------- workers
class SubprocessWorker:
    """A :mod:`clover.profiles.worker` process bound to one device by its environment."""

    def __init__(self, env: dict[str, str], timeout_s: float = 900.0) -> None:
        import tempfile

        import clover

        child_env = dict(os.environ)
        child_env.update(env)
        src = str(Path(clover.__file__).resolve().parents[1])
        child_env["PYTHONPATH"] = os.pathsep.join(
            [src] + [p for p in child_env.get("PYTHONPATH", "").split(os.pathsep) if p])
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "YOLO_OFFLINE"):
            child_env.setdefault(var, "1")
        self.timeout_s = timeout_s
        # stderr goes to a file: library warnings must not fill a pipe nobody reads
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clover.profiles.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=child_env, bufsize=1)

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        return " | ".join(self._stderr.read().strip().splitlines()[-3:])

    def _ask(self, msg: dict) -> dict:
        import select

        assert self.proc.stdin and self.proc.stdout
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout_s)
        if not ready:
            self.proc.kill()
            raise CloverError(f"profile worker gave no answer to {msg.get('cmd')!r} within "
                              f"{self.timeout_s:.0f} s")
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise CloverError("profile worker exited unexpectedly: "
                              f"{self._stderr_tail() or 'no output'}")
        return json.loads(line)

    def load(self, **kwargs) -> dict:
        return self._ask({"cmd": "load", **kwargs})

    def go(self, iters: int) -> dict:
        return self._ask({"cmd": "go", "iters": iters})

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()
        for fh in (self.proc.stdin, self.proc.stdout, self._stderr):
            if fh:
                fh.close()


# --------------------------------------------------------------------------- MIG listing
@dataclass(frozen=True)
class MigSlice:
    """One existing MIG device as NVML lists it."""

    gpu_index: int
    gpu_name: str
    parent: Any
    handle: Any
    uuid: str
    profile: str


def list_mig_slices(nvml: Any) -> list[MigSlice]:
    """Every MIG device on every MIG-enabled GPU (reads only; never changes MIG mode).

    ``nvml``: a :class:`clover.hw.nvml.Nvml` or a ``pynvml``-compatible module.
    """
    nv = Nvml.wrap(nvml)
    out: list[MigSlice] = []
    for i in range(nv.device_count()):
        parent = nv.handle(i)
        if nv.mig_mode(parent)[0] != 1:  # disabled, or not MIG-capable
            continue
        name = nv.name(parent)
        for mig in nv.mig_devices(parent):
            match = _MIG_NAME.search(nv.name(mig))
            if match:
                out.append(MigSlice(i, name, parent, mig, nv.uuid(mig), match.group(1)))
    return out


# --------------------------------------------------------------------------- rows
def _software() -> str:
    parts = [f"clover {__version__}", f"python {platform.python_version()}"]
    for mod in ("torch", "timm", "transformers", "ultralytics"):
        try:
            parts.append(f"{mod} {__import__(mod).__version__}")
        except Exception:  # noqa: BLE001 - optional libraries
            pass
    return "; ".join(parts)


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``), else what :mod:`platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _now() -> str:
    return iso_utc()


def _base_row(var, spec, prof, batch, source, device, software, power_source, input_size):
    return {"app": var.app, "gpu": spec.key, "variant": var.name, "slice_profile": prof.name,
            "batch_size": batch, "source": source, "device": device, "software": software,
            "timestamp_utc": _now(), "power_source": power_source, "input_size": input_size}


def _nofit(row: dict, mem: float, idle_w: float) -> dict:
    nan = float("nan")
    row.update(fits=False, memory_mb=mem, service_ms_mean=nan, service_ms_p50=nan,
               service_ms_p95=nan, max_throughput_rps=nan, power_w_busy=nan,
               power_w_idle=idle_w, energy_j_per_request=nan, iterations=0)
    return row


def _timed_row(row: dict, lat_ms: list[float], batch: int, busy_w: float, idle_w: float,
               mem: float) -> dict:
    st = latency_stats(lat_ms)
    thr = batch / (st.mean_ms / 1e3)
    row.update(fits=True, memory_mb=mem, service_ms_mean=st.mean_ms, service_ms_p50=st.p50_ms,
               service_ms_p95=st.p95_ms, max_throughput_rps=thr, power_w_busy=busy_w,
               power_w_idle=idle_w, energy_j_per_request=busy_w / thr, iterations=st.iterations)
    return row


def _go_for(worker, iters: int, min_time_s: float) -> dict:
    """``iters`` timed iterations, repeated until ``min_time_s`` has passed; one reply."""
    t0 = time.perf_counter()
    lat: list[float] = []
    while True:
        reply = worker.go(iters)
        if not reply.get("ok"):
            return reply
        lat.extend(reply["latencies_ms"])
        if time.perf_counter() - t0 >= min_time_s:
            return dict(reply, latencies_ms=lat)


def _metered_go(worker, meter: EnergyMeter | None, iters: int, idle_s: float, min_time_s: float):
    """Baseline window, then the timed loop inside an ``active`` energy window.

    Returns (go reply, baseline W or None, active W or None); the loop runs at least
    ``min_time_s`` because energy counters tick every 10-100 ms.
    """
    if meter is None:
        return _go_for(worker, iters, min_time_s), None, None
    base_w = _window_power(meter, idle_s)
    meter.begin_window("active")
    try:
        reply = _go_for(worker, iters, min_time_s)
    finally:  # closed also when the worker fails, so the meter can be used again
        active = meter.end_window("active")
    if not reply.get("ok"):
        return reply, None, None
    return reply, base_w, active.power_w


def _resolve(app, gpu, variants, slices, batch_sizes):
    get_app(app)
    spec = get_gpu(gpu)
    vars_ = ([get_variant(v) for v in variants] if variants else list(variants_for_app(app)))
    for var in vars_:
        if var.app != app:
            raise CloverError(f"variant {var.name!r} is not a variant of app {app!r}")
    profs = [spec.profile(s) for s in slices] if slices else list(spec.profiles)
    batches = [int(b) for b in (batch_sizes or (1,))]
    if any(b < 1 for b in batches):
        raise CloverError(f"batch sizes must be >= 1, got {batches}")
    return spec, vars_, profs, batches


# --------------------------------------------------------------------------- CPU backend
def cpu_threads(prof: MigProfile, spec: GpuSpec, cores: int | None = None) -> int:
    """CPU threads standing in for a slice: its compute share of the cores, at least 1."""
    cores = cores or len(os.sched_getaffinity(0))
    return max(1, round(cores * prof.compute_slices / spec.compute_slices))


def cpu_profiles(app: str, gpu: str = DEFAULT_GPU, *, variants: Iterable[str] | None = None,
                 slices: Iterable[str] | None = None, batch_sizes: Iterable[int] = (1,),
                 iters: int = 30, warmup: int = 5, input_scale: float = 1.0,
                 idle_s: float = 0.5, min_time_s: float = 0.0, meter: Any = "auto",
                 progress: Callable[[int], Any] | None = None) -> pd.DataFrame:
    """Time the real models on CPU threads standing in for each slice (``measured-cpu``).

    ``meter``: an :class:`clover.hw.energy.EnergyMeter`, None (modeled power) or ``auto``
    (RAPL where readable, else None).
    """
    spec, vars_, profs, batches = _resolve(app, gpu, variants, slices, batch_sizes)
    params = load_params()
    if meter == "auto":
        meter = RaplEnergyMeter() if RaplEnergyMeter.available() else None
    cores = len(os.sched_getaffinity(0))
    software = _software()
    cpu = cpu_name()
    rows = []
    with kept_torch_threads(), closing(LocalWorker()) as worker:
        for var in vars_:
            size = scaled_input_size(var, input_scale)
            for prof in profs:
                threads = cpu_threads(prof, spec, cores)
                share = threads / cores
                for batch in batches:
                    ref = modeled_row(var, spec, prof, params, batch)
                    mem = memory_mb(var, params, batch)
                    row = _base_row(var, spec, prof, batch, "measured-cpu",
                                    f"CPU stand-in for {prof.name}: {cpu}, {threads}/{cores} threads",
                                    software, "rapl" if meter is not None else "modeled", size)
                    if mem > slice_memory_mb(prof):  # the GPU slice it stands for is too small
                        rows.append(_nofit(row, mem, ref["power_w_idle"]))
                    else:
                        info = worker.load(variant=var.name, batch_size=batch, input_size=size,
                                           warmup=warmup, device="cpu", threads=threads)
                        if not info["ok"]:
                            raise CloverError(f"{var.name} on CPU failed: {info['error']}")
                        reply, base_w, act_w = _metered_go(worker, meter, iters, idle_s, min_time_s)
                        if not reply.get("ok"):
                            raise CloverError(f"{var.name} on CPU failed: {reply.get('error')}")
                        if meter is not None:
                            busy, idle = attribute_power(base_w, act_w, share)
                        else:
                            busy, idle = ref["power_w_busy"], ref["power_w_idle"]
                        row["input_size"] = _used_size(worker, size)
                        rows.append(_timed_row(row, reply["latencies_ms"], batch, busy, idle, mem))
                    if progress:
                        progress(1)
    return finalize(rows)


def _used_size(worker, default: int) -> int:
    inputs = getattr(worker, "inputs", None) or {}
    tensor = inputs.get("x", inputs.get("input_ids"))
    return int(tensor.shape[-1]) if tensor is not None else default


# --------------------------------------------------------------------------- GPU backend
def cuda_profiles(app: str, gpu: str = DEFAULT_GPU, *, variants: Iterable[str] | None = None,
                  slices: Iterable[str] | None = None, batch_sizes: Iterable[int] = (1,),
                  iters: int = 30, warmup: int = 5, input_scale: float = 1.0,
                  idle_s: float = 1.0, min_time_s: float = 2.0, nvml: Any = None,
                  worker_factory: Callable[[dict], Any] | None = None, device: str = "cuda",
                  progress: Callable[[int], Any] | None = None) -> pd.DataFrame:
    """Time the real models on the existing MIG slices, energy from NVML (``measured-gpu``).

    ``nvml`` (a :class:`clover.hw.nvml.Nvml` or ``pynvml``-compatible module; default pynvml)
    and ``worker_factory`` (env -> worker) are injectable for tests; ``device`` is what the
    worker runs on (``cuda``; tests use ``cpu``).
    """
    spec, vars_, profs, batches = _resolve(app, gpu, variants, slices, batch_sizes)
    factory = worker_factory or (lambda env: SubprocessWorker(env))
    timing = _CudaTiming(iters, warmup, idle_s, min_time_s, device)
    nv = Nvml.wrap(nvml).open()
    meter = None
    try:
        gpu_index, by_profile, todo = _mig_devices(nv, spec, profs)
        software = f"{_software()}; NVIDIA driver {nv.driver_version()}"
        meter = NvmlEnergyMeter([gpu_index], nvml=nv)
        rows = []
        for prof in todo:
            mig = by_profile[prof.name]
            worker = factory({"CUDA_VISIBLE_DEVICES": mig.uuid})
            try:
                for var in vars_:
                    size = scaled_input_size(var, input_scale)
                    for batch in batches:
                        row = _base_row(var, spec, prof, batch, "measured-gpu",
                                        f"{mig.gpu_name} MIG {prof.name} (GPU {gpu_index}, {mig.uuid})",
                                        software, "nvml", size)
                        rows.append(_cuda_row(row, worker, meter, nv, mig, var, batch, size,
                                              prof.compute_slices / spec.compute_slices, timing))
                        if progress:
                            progress(1)
            finally:
                worker.close()
        return finalize(rows)
    finally:
        if meter is not None:
            meter.close()
        nv.close()


@dataclass(frozen=True)
class _CudaTiming:
    """How :func:`cuda_profiles` times each (variant, slice, batch)."""

    iters: int
    warmup: int
    idle_s: float
    min_time_s: float
    device: str


def _mig_devices(nv: Nvml, spec, profs) -> tuple[int, dict[str, MigSlice], list]:
    """(GPU index, profile name -> its first MIG device, requested profiles present) on the
    first MIG-enabled GPU of ``spec``; clover never changes MIG mode or layouts."""
    found = list_mig_slices(nv)
    mine = [s for s in found if s.gpu_name == spec.name]
    if not mine:
        seen = sorted({s.gpu_name for s in found}) or ["none"]
        raise CloverError(
            f"no MIG-enabled {spec.name} with MIG devices found (MIG GPUs seen: "
            f"{', '.join(seen)}); clover never changes MIG mode: enable MIG and create the "
            "GPU instances first (live backend mig_setup)")
    gpu_index = mine[0].gpu_index
    by_profile: dict[str, MigSlice] = {}
    for s in mine:
        if s.gpu_index == gpu_index:
            by_profile.setdefault(s.profile, s)
    todo = [p for p in profs if p.name in by_profile]
    absent = [p.name for p in profs if p.name not in by_profile]
    if todo and absent:
        warnings.warn(f"GPU {gpu_index} has no MIG device of profile(s) {absent}: not measured "
                      "(clover never changes MIG layouts; re-run under a layout that has them)",
                      stacklevel=3)
    if not todo:
        raise CloverError(f"GPU {gpu_index} has MIG devices {sorted(by_profile)}, none of the "
                          f"requested profiles {[p.name for p in profs]}")
    return gpu_index, by_profile, todo


def _cuda_row(row: dict, worker, meter, nv: Nvml, mig: MigSlice, var, batch: int, size: int,
              share: float, timing: _CudaTiming) -> dict:
    """One measured row: load, time and meter ``var`` at ``batch`` on ``mig`` (a no-fit row
    when the model does not fit its memory)."""
    info = worker.load(variant=var.name, batch_size=batch, input_size=size,
                       warmup=timing.warmup, device=timing.device)
    if not info["ok"] and info.get("oom"):
        base_w = _window_power(meter, timing.idle_s)
        return _nofit(row, float("nan"), base_w * share)
    if not info["ok"]:
        raise CloverError(f"{var.name} on {mig.profile} ({mig.uuid}) failed: {info['error']}")
    if info.get("env_cuda_visible_devices") != mig.uuid:
        raise CloverError(f"worker for {mig.uuid} saw CUDA_VISIBLE_DEVICES="
                          f"{info.get('env_cuda_visible_devices')}")
    reply, base_w, act_w = _metered_go(worker, meter, timing.iters, timing.idle_s,
                                       timing.min_time_s)
    if not reply.get("ok"):
        raise CloverError(f"{var.name} on {mig.profile} failed: {reply.get('error')}")
    busy, idle = attribute_power(base_w, act_w, share)
    mem = _mig_memory_mb(nv, mig, reply)
    return _timed_row(row, reply["latencies_ms"], batch, busy, idle, mem)


def _mig_memory_mb(nv: Nvml, mig: MigSlice, reply: dict) -> float:
    """Used memory of the MIG device (MB, context included), else torch's peak reserved."""
    try:
        return nv.memory_used_mb(mig.handle, f"MIG device {mig.uuid}")
    except CloverError:  # fall back to the worker's own figure
        peak = reply.get("peak_memory_mb")
        return float(peak) if peak is not None else float("nan")


def measure_profiles(app: str, gpu: str = DEFAULT_GPU, *, backend: str = "cpu",
                     **kwargs) -> pd.DataFrame:
    """Dispatch to :func:`cpu_profiles` or :func:`cuda_profiles`."""
    if backend == "cpu":
        return cpu_profiles(app, gpu, **kwargs)
    if backend == "cuda":
        return cuda_profiles(app, gpu, **kwargs)
    raise CloverError(f"measured backend must be 'cpu' or 'cuda', got {backend!r}")
