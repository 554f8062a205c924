"""CPU profile table for a live CPU service: measured service times, modeled powers.

A live run on a laptop needs a profile table that describes *this* service (the schemes and
the simulator's router reason with it): every variant on every slice type, where a slice is a
share of the emulated GPU's cores (:func:`clover.serve.cluster.cpu_share`). Service times are
measured here with the real models at the run's input size and thread count; powers,
memory and ``fits`` come from the modeled GPU table of :mod:`clover.profiles` (a CPU has no
per-slice power), and ``power_source`` says ``modeled``. Rows follow
``clover.profiles.PROFILE_COLUMNS`` with ``source = measured-cpu``.

TODO(live): use ``clover.profiles.measure_profiles(backend="cpu")`` once it takes the
per-slice thread counts and input size.
"""

from __future__ import annotations

import importlib
import platform
import time

import numpy as np
import pandas as pd

from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.catalog import variants_for_app
from clover.serve.cluster import cpu_share, scaled_input_size
from clover.timestamps import iso_utc


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_forward(variant: str, threads: int, input_size: int | None, iterations: int,
                 builders_module: str = "clover.models.builders", seed: int = 0,
                 warmup: int = 2) -> np.ndarray:
    """Service times (ms) of ``iterations`` batch-1 forward passes on ``threads`` CPU threads."""
    import torch

    b = importlib.import_module(builders_module)
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        torch.manual_seed(seed)
        model = b.build_model(variant, device="cpu")
        inputs = b.example_inputs(variant, batch_size=1, input_size=input_size, seed=seed)
        for _ in range(warmup):
            b.run_inference(model, inputs)
        out = np.empty(iterations)
        for i in range(iterations):
            t0 = time.perf_counter()
            b.run_inference(model, inputs)
            out[i] = (time.perf_counter() - t0) * 1000.0
        return out
    finally:
        torch.set_num_threads(old)


def calibrate_cpu_profiles(app: str, gpu: str, *, cores_per_gpu: int, n_cpus: int,
                           input_scale: float = 1.0, iterations: int = 10,
                           builders_module: str = "clover.models.builders",
                           log=None) -> pd.DataFrame:
    """The profile table of ``app`` for a CPU service emulating ``gpu`` slices (see module doc)."""
    from clover.profiles import PROFILE_COLUMNS, load_profiles

    if iterations < 3:
        raise CloverError("calibration needs at least 3 iterations per variant and slice")
    spec = get_gpu(gpu)
    modeled = load_profiles(app, spec.key, backend="model")
    modeled = modeled[modeled["batch_size"] == 1].set_index(["variant", "slice_profile"])
    cpu = _cpu_name()
    stamp = iso_utc()
    import torch

    software = f"torch {torch.__version__}"
    cache: dict[tuple[str, int], np.ndarray] = {}
    rows = []
    for var in variants_for_app(app):
        size = scaled_input_size(var.name, input_scale)
        for prof in spec.profiles:
            threads, _ = cpu_share(0, 0, prof.compute_slices, cores_per_gpu, n_cpus)
            m = modeled.loc[(var.name, prof.name)]
            fits = bool(m["fits"])
            row = {c: (m[c] if c in m.index else np.nan) for c in PROFILE_COLUMNS
                   if c not in ("variant", "slice_profile")}
            row.update(app=app, gpu=spec.key, variant=var.name, slice_profile=prof.name,
                       batch_size=1, fits=fits, source="measured-cpu",
                       device=f"cpu: {cpu}, {threads} thread(s)", software=software,
                       timestamp_utc=stamp, power_source="modeled",
                       input_size=size if size is not None else var.input_size,
                       iterations=iterations)
            if fits:
                key = (var.name, threads)
                if key not in cache:
                    if log:
                        log(f"calibrating {var.name} on {threads} thread(s), input {row['input_size']}")
                    cache[key] = time_forward(var.name, threads, size, iterations, builders_module)
                t = cache[key]
                mean = float(t.mean())
                row.update(service_ms_mean=mean, service_ms_p50=float(np.percentile(t, 50)),
                           service_ms_p95=float(np.percentile(t, 95)),
                           max_throughput_rps=1000.0 / mean,
                           energy_j_per_request=float(m["power_w_busy"]) * mean / 1000.0)
            rows.append(row)
    from clover.profiles import validate_table

    return validate_table(pd.DataFrame(rows)[list(PROFILE_COLUMNS)], "calibrated CPU profiles")
