"""Request arrival processes: Poisson and the real Azure LLM inference trace (2023), in seconds.

Every generator returns a sorted ``float64`` array of arrival times in ``[0, duration_s)``
seconds, deterministic for a given ``seed`` (``numpy.random.default_rng``).

Azure LLM inference trace 2023 (``requests/azure_llm_2023/AzureLLMInferenceTrace_{code,conv}.csv``
of the data directory; Patel et al., "Splitwise", ISCA 2024; Microsoft Azure Public Dataset,
CC BY 4.0): one row per request, ``TIMESTAMP`` (no zone given), ``ContextTokens``,
``GeneratedTokens``; about one hour on 2023-11-16 (code: 8,819 requests, 2.57 req/s mean,
inter-arrival CV 13.2; conv: 19,366 requests, 5.53 req/s, CV 1.09).

Rescaling (:func:`azure_arrivals`): the trace is treated as one period of a periodic process.
Its period is the span first->last request plus one mean gap, ``P0 = span·N/(N−1)``, so that
tiling it leaves an ordinary gap at the seam. Time is multiplied by ``s = N/(rate_rps·P0)``;
the rescaled period ``P = N/rate_rps`` then holds exactly N requests, so the mean rate is
exactly ``rate_rps`` over any whole number of periods, and the *shape* (inter-arrival CV,
bursts relative to the mean) is unchanged because all gaps scale by the same factor. The
``seed`` picks a uniform random phase in ``[0, P)`` at which the output starts (wrapping
around), so different seeds give different segments of the trace; the trace is tiled as
often as ``duration_s`` needs.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clover.errors import CloverError
from clover.paths import resolve_data_dir
from clover.tables import parse_timestamps, read_checked_csv

#: Arrival kinds understood by :func:`arrivals` and :class:`WorkloadSpec`, in their canonical
#: spelling. The grammar (:func:`parse_kind`) also accepts ``azure:code`` / ``azure_code`` and
#: any case: ``KIND := poisson | azure(-|:|_)(code|conv)``.
KINDS = ("poisson", "azure-code", "azure-conv")

#: Azure trace names -> file, relative to the data directory.
AZURE_TRACES = {
    "code": "requests/azure_llm_2023/AzureLLMInferenceTrace_code.csv",
    "conv": "requests/azure_llm_2023/AzureLLMInferenceTrace_conv.csv",
}
AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def _check_rate(rate_rps: float) -> float:
    try:
        rate = float(rate_rps)
    except (TypeError, ValueError):
        raise CloverError(f"rate_rps must be a positive number (got {rate_rps!r})") from None
    if not (math.isfinite(rate) and rate > 0):
        raise CloverError(f"rate_rps must be a positive number of requests/s (got {rate_rps!r})")
    return rate


def _check_duration(duration_s: float) -> float:
    try:
        duration = float(duration_s)
    except (TypeError, ValueError):
        raise CloverError(f"duration_s must be a positive number (got {duration_s!r})") from None
    if not (math.isfinite(duration) and duration > 0):
        raise CloverError(f"duration_s must be a positive number of seconds (got {duration_s!r})")
    return duration


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise CloverError(f"seed must be a non-negative integer (got {seed!r})")
    return int(seed)


def poisson_arrivals(rate_rps: float, duration_s: float, seed: int = 0) -> np.ndarray:
    """A homogeneous Poisson process of rate ``rate_rps`` (req/s) on ``[0, duration_s)``.

    Exact and vectorised: the count is Poisson(rate·duration) and, given the count, the times
    are independent uniforms (sorted).
    """
    rate, duration, seed = _check_rate(rate_rps), _check_duration(duration_s), _check_seed(seed)
    rng = np.random.default_rng(seed)
    count = rng.poisson(rate * duration)
    return np.sort(rng.uniform(0.0, duration, size=count))


# --------------------------------------------------------------------------- Azure trace

def load_azure_trace(trace: str, data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The Azure LLM 2023 trace ``trace`` (``code`` or ``conv``) as a table.

    Columns: ``arrival_s`` (seconds since the first request, sorted), ``context_tokens``,
    ``generated_tokens``; ``attrs["path"]`` and ``attrs["first_timestamp"]``.
    """
    if trace not in AZURE_TRACES:
        raise CloverError(f"unknown Azure trace {trace!r}; use one of {', '.join(AZURE_TRACES)}")
    root = resolve_data_dir(data_dir)
    path = root / AZURE_TRACES[trace]
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise CloverError(f"request trace file {path} not found (data directory {root}); run "
                          "`clover data download` or set CLOVER_DATA") from None
    return _load_azure_cached(str(path), stat.st_mtime_ns, stat.st_size).copy()


@functools.lru_cache(maxsize=8)
def _load_azure_cached(path: str, _mtime_ns: int, _size: int) -> pd.DataFrame:
    raw = read_checked_csv(path, "request trace", AZURE_COLUMNS, dtype={"TIMESTAMP": str})
    if len(raw) < 2:
        raise CloverError(f"request trace file {path} needs at least 2 requests")
    ts = parse_timestamps(raw, "TIMESTAMP", path, "request trace")
    order = np.argsort(ts.to_numpy(), kind="stable")
    ts = ts.iloc[order]
    arrival_s = (ts - ts.iloc[0]).dt.total_seconds().to_numpy(dtype=float)
    tokens = {}
    for col, name in (("ContextTokens", "context_tokens"), ("GeneratedTokens", "generated_tokens")):
        values = pd.to_numeric(raw[col].iloc[order], errors="coerce")
        if values.isna().any() or (values < 0).any():
            i = int(order[np.flatnonzero((values.isna() | (values < 0)).to_numpy())[0]])
            raise CloverError(f"request trace file {path} line {i + 2}: {col} "
                              f"{raw[col].iloc[i]!r} is not a non-negative integer")
        tokens[name] = values.to_numpy(dtype=np.int64)
    if arrival_s[-1] <= 0:
        raise CloverError(f"request trace file {path}: all requests have the same TIMESTAMP")
    frame = pd.DataFrame({"arrival_s": arrival_s, **tokens})
    frame.attrs.update(path=path, first_timestamp=str(ts.iloc[0]))
    return frame


def azure_trace_period_s(arrival_s: np.ndarray) -> float:
    """Period of the trace seen as periodic: span · N/(N−1) (span plus one mean gap), s."""
    n = len(arrival_s)
    return float(arrival_s[-1] - arrival_s[0]) * n / (n - 1)


def rescale_periodic(arrival_s: np.ndarray, rate_rps: float, duration_s: float,
                     phase: float) -> np.ndarray:
    """Rescale one period of arrivals to mean rate ``rate_rps`` and tile it over
    ``[0, duration_s)`` starting at fraction ``phase`` ∈ [0, 1) of the period (vectorised)."""
    base = np.asarray(arrival_s, dtype=float)
    base = base - base[0]
    n = len(base)
    period = n / rate_rps  # rescaled period holds exactly n arrivals
    scaled = base * (period / azure_trace_period_s(base))
    offset = phase * period
    tiles = int(math.ceil((duration_s + offset) / period)) + 1
    times = (scaled[None, :] + period * np.arange(tiles)[:, None]).ravel() - offset
    lo, hi = np.searchsorted(times, [0.0, duration_s], side="left")
    return times[lo:hi]


def azure_arrivals(trace: str, rate_rps: float, duration_s: float, seed: int = 0,
                   data_dir: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Arrivals of the real Azure LLM 2023 trace ``trace`` (``code``/``conv``) rescaled in time
    to mean rate ``rate_rps`` (req/s) over ``[0, duration_s)`` s; see the module docstring."""
    rate, duration, seed = _check_rate(rate_rps), _check_duration(duration_s), _check_seed(seed)
    frame = load_azure_trace(trace, data_dir)
    phase = float(np.random.default_rng(seed).uniform())
    return rescale_periodic(frame["arrival_s"].to_numpy(), rate, duration, phase)


# --------------------------------------------------------------------------- dispatch, stats

def parse_kind(kind: str) -> str:
    """The canonical spelling (:data:`KINDS`) of arrival kind ``kind``: the one grammar every
    caller (``sim``, ``serve``, ``clover workload``) uses; ``azure:code`` and ``azure-code`` are
    the same kind."""
    key = str(kind).strip().lower().replace("_", "-").replace(":", "-")
    if key not in KINDS:
        raise CloverError(f"unknown workload kind {kind!r}; use one of {', '.join(KINDS)} "
                          "(':' for '-' too, e.g. azure:code)")
    return key




def arrivals(kind: str, rate_rps: float, duration_s: float, seed: int = 0,
             data_dir: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Arrival times (s) of workload ``kind`` (:data:`KINDS`) at mean rate ``rate_rps``."""
    key = parse_kind(kind)
    if key == "poisson":
        return poisson_arrivals(rate_rps, duration_s, seed)
    return azure_arrivals(key.split("-", 1)[1], rate_rps, duration_s, seed, data_dir)


def arrival_stats(times_s: np.ndarray, duration_s: float) -> dict[str, float]:
    """Count, mean rate (req/s), inter-arrival mean (s) and CV, peak 1-s rate (req/s)."""
    times = np.asarray(times_s, dtype=float)
    duration = _check_duration(duration_s)
    gaps = np.diff(times)
    mean_gap = float(gaps.mean()) if len(gaps) else float("nan")
    cv = float(gaps.std() / mean_gap) if len(gaps) > 1 and mean_gap > 0 else float("nan")
    per_s = np.bincount(np.floor(times).astype(np.int64), minlength=1) if len(times) else [0]
    return {
        "count": int(len(times)),
        "duration_s": duration,
        "mean_rate_rps": len(times) / duration,
        "interarrival_mean_s": mean_gap,
        "interarrival_cv": cv,
        "peak_rate_rps_1s": float(np.max(per_s)),
    }


@dataclass(frozen=True)
class WorkloadSpec:
    """A request workload: ``kind`` (:data:`KINDS`), mean ``rate_rps`` (req/s) over
    ``duration_s`` (s), random ``seed``."""

    kind: str
    rate_rps: float
    duration_s: float
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", parse_kind(self.kind))
        object.__setattr__(self, "rate_rps", _check_rate(self.rate_rps))
        object.__setattr__(self, "duration_s", _check_duration(self.duration_s))
        object.__setattr__(self, "seed", _check_seed(self.seed))

    @property
    def name(self) -> str:
        return f"{self.kind}@{self.rate_rps:g}rps"

    def arrivals(self, data_dir: str | os.PathLike[str] | None = None) -> np.ndarray:
        """Arrival times in seconds, sorted, in ``[0, duration_s)``."""
        return arrivals(self.kind, self.rate_rps, self.duration_s, self.seed, data_dir)

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "rate_rps": self.rate_rps, "duration_s": self.duration_s,
                "seed": self.seed}


def azure_trace_path(trace: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of the Azure trace file ``trace`` under the data directory (may not exist)."""
    if trace not in AZURE_TRACES:
        raise CloverError(f"unknown Azure trace {trace!r}; use one of {', '.join(AZURE_TRACES)}")
    return resolve_data_dir(data_dir) / AZURE_TRACES[trace]
