"""CPU profile table for a live CPU service: measured service times, modeled powers.

A live run on a laptop needs a profile table that describes *this* service (the schemes and
the simulator's router reason with it): every variant on every slice type, where a slice is a
share of the emulated GPU's cores (:func:`clover.serve.cluster.cpu_share`). Service times are
measured here with the real models at the run's input size and thread count; powers,
memory and ``fits`` come from the modeled GPU table of :mod:`clover.profiles` (a CPU has no
per-slice power), and ``power_source`` says ``modeled``. Rows follow
``clover.profiles.PROFILE_COLUMNS`` with ``source = measured-cpu``.

The timing is the profiles' own (:class:`clover.profiles.worker.LocalWorker`, whose loop and
statistics are :mod:`clover.profiles.timing`); what differs from ``clover profile --backend
cpu`` is only the thread count of a slice (this service's share of its emulated GPU's cores,
:func:`clover.serve.cluster.cpu_share`) and the modeled powers.
"""

from __future__ import annotations

from contextlib import closing

import numpy as np
import pandas as pd

from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.catalog import variants_for_app
from clover.profiles.measure import cpu_name
from clover.profiles.timing import LatencyStats, kept_torch_threads, latency_stats
from clover.profiles.worker import LocalWorker
from clover.serve.cluster import cpu_share, scaled_input_size
from clover.timestamps import iso_utc


def time_variant(worker: LocalWorker, variant: str, threads: int, input_size: int | None,
                 iterations: int, seed: int = 0, warmup: int = 2,
                 batch_size: int = 1) -> LatencyStats:
    """Service times of ``iterations`` forward passes of ``batch_size`` inputs on ``threads``
    CPU threads."""
    info = worker.load(variant=variant, batch_size=batch_size, input_size=input_size, warmup=warmup,
                       device="cpu", threads=max(1, threads), seed=seed)
    reply = worker.go(iterations) if info["ok"] else info
    if not reply["ok"]:
        raise CloverError(f"calibrating {variant} on {threads} thread(s) failed: {reply['error']}")
    return latency_stats(reply["latencies_ms"])


def calibrate_cpu_profiles(app: str, gpu: str, *, cores_per_gpu: int, n_cpus: int,
                           input_scale: float = 1.0, iterations: int = 10,
                           builders_module: str = "clover.models.builders",
                           log=None, batch_sizes: tuple[int, ...] = (1,)) -> pd.DataFrame:
    """The profile table of ``app`` for a CPU service emulating ``gpu`` slices (see module doc),
    rows at each of ``batch_sizes`` (a request of batch b is one forward pass of b inputs)."""
    from clover.profiles import load_profiles

    if iterations < 3:
        raise CloverError("calibration needs at least 3 iterations per variant and slice")
    spec = get_gpu(gpu)
    batches = tuple(sorted({int(b) for b in batch_sizes}))
    modeled = load_profiles(app, spec.key, backend="model", batch_sizes=batches)
    import torch

    const = {"app": app, "gpu": spec.key, "source": "measured-cpu", "cpu": cpu_name(),
             "software": f"torch {torch.__version__}", "timestamp_utc": iso_utc(),
             "power_source": "modeled", "iterations": iterations}
    cache: dict[tuple[str, int, int], LatencyStats] = {}
    rows = []
    with kept_torch_threads(), closing(LocalWorker(builders_module)) as worker:
        for b in batches:
            mb = modeled[modeled["batch_size"] == b].set_index(["variant", "slice_profile"])
            for var in variants_for_app(app):
                size = scaled_input_size(var.name, input_scale)
                for prof in spec.profiles:
                    threads, _ = cpu_share(0, 0, prof.compute_slices, cores_per_gpu, n_cpus)
                    row = _row(mb.loc[(var.name, prof.name)], const, var, prof.name, b,
                               threads, size)
                    if row["fits"]:
                        key = (var.name, threads, b)
                        if key not in cache:
                            if log:
                                log(f"calibrating {var.name} batch {b} on {threads} thread(s), "
                                    f"input {row['input_size']}")
                            cache[key] = time_variant(worker, var.name, threads, size,
                                                      iterations, batch_size=b)
                        t = cache[key]
                        row.update(service_ms_mean=t.mean_ms, service_ms_p50=t.p50_ms,
                                   service_ms_p95=t.p95_ms,
                                   max_throughput_rps=1000.0 / t.mean_ms,
                                   energy_j_per_request=row["power_w_busy"] * t.mean_ms / 1000.0)
                    rows.append(row)
    from clover.profiles import PROFILE_COLUMNS, validate_table

    return validate_table(pd.DataFrame(rows)[list(PROFILE_COLUMNS)], "calibrated CPU profiles")


def _row(m, const: dict, var, slice_profile: str, batch: int, threads: int,
         size: int | None) -> dict:
    """One calibrated row before timing: the modeled row ``m`` (powers, memory, fits) with
    this service's identity."""
    from clover.profiles import PROFILE_COLUMNS

    row = {c: (m[c] if c in m.index else np.nan) for c in PROFILE_COLUMNS
           if c not in ("variant", "slice_profile")}
    row.update(app=const["app"], gpu=const["gpu"], variant=var.name, slice_profile=slice_profile,
               batch_size=batch, fits=bool(m["fits"]), source=const["source"],
               device=f"cpu: {const['cpu']}, {threads} thread(s)", software=const["software"],
               timestamp_utc=const["timestamp_utc"], power_source=const["power_source"],
               input_size=size if size is not None else var.input_size,
               iterations=const["iterations"])
    row["power_w_busy"] = float(row["power_w_busy"])
    return row
