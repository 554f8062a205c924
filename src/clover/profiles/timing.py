"""The one timing loop of measured service times, and the statistics read from it.

Used by the measurement worker (:mod:`clover.profiles.worker`: the CPU stand-in and every MIG
slice of ``clover profile --backend cpu|cuda``) and, through that worker, by the live CPU
calibration (:mod:`clover.serve.calibrate`).

* :func:`time_passes`: ``warmup`` untimed calls, then ``iterations`` timed ones, each between
  two ``sync()`` calls (``torch.cuda.synchronize`` on a GPU, nothing on a CPU), in ms;
* :func:`latency_stats`: mean, p50 and p95 (``numpy.percentile``, linear interpolation between
  the closest ranks) of those times;
* :func:`kept_torch_threads`: torch's intra-op thread count restored after a block that sets it
  (the slice share of the cores, ``torch.set_num_threads``).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from clover.errors import CloverError


def time_passes(run: Callable[[], Any], iterations: int, *, warmup: int = 0,
                sync: Callable[[], Any] | None = None,
                clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Service times (ms) of ``iterations`` calls of ``run`` after ``warmup`` untimed ones."""
    sync = sync or (lambda: None)
    for _ in range(int(warmup)):
        run()
    sync()
    out = []
    for _ in range(int(iterations)):
        sync()
        t0 = clock()
        run()
        sync()
        out.append((clock() - t0) * 1e3)
    return out


@dataclass(frozen=True)
class LatencyStats:
    """Summary of timed passes, ms; ``iterations`` = number of passes."""

    mean_ms: float
    p50_ms: float
    p95_ms: float
    iterations: int


def latency_stats(latencies_ms: Sequence[float]) -> LatencyStats:
    """Mean, p50 and p95 of ``latencies_ms`` (numpy's default linear percentile)."""
    lat = np.asarray(latencies_ms, float)
    if lat.size == 0:
        raise CloverError("no timed passes to summarise (iterations must be >= 1)")
    return LatencyStats(float(lat.mean()), float(np.percentile(lat, 50)),
                        float(np.percentile(lat, 95)), int(lat.size))


@contextmanager
def kept_torch_threads() -> Iterator[None]:
    """Restore ``torch.get_num_threads()`` when the block ends (it may set its own)."""
    import torch

    prev = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(prev)
