"""Vectorised discrete-event simulation of the serving system (numpy, seeded).

Requests arrive at the times given (seconds). The router sends each request to one instance
at random with probability proportional to the instance's share of the traffic (random
splitting, the routing the analytic evaluator assumes; a random split of a Poisson stream is
Poisson). Each instance is a FCFS single server whose service times are drawn from the
shifted exponential fitted to the profile's mean and p95 (:func:`clover.sim.queueing.
fit_shifted_exponential`). Waiting times follow Lindley's recursion
``W[n] = max(0, W[n-1] + S[n-1] - (A[n] - A[n-1]))``, evaluated without a Python loop as
``W = P - cummin(P)`` with ``P`` the partial sums of ``S[n-1] - (A[n] - A[n-1])``.

Energy: every GPU draws its idle power for the whole run; each instance adds
``(power_w_busy - power_w_idle)`` while busy (sum of its service times), as in
docs/ARCHITECTURE.md "power accounting".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.catalog import get_variant
from clover.models.configuration import Configuration
from clover.sim.queueing import fit_shifted_exponential
from clover.workload.arrivals import poisson_arrivals  # noqa: F401  (the one arrival generator; re-exported)


@dataclass(frozen=True)
class SimResult:
    """Outcome of one event simulation. Times in ms, energy in J, power in W."""

    n_requests: int
    duration_s: float
    p95_ms: float
    mean_latency_ms: float
    throughput_rps: float
    energy_j: float
    energy_j_per_request: float
    power_w: float
    accuracy: float
    instance_p95_ms: np.ndarray = field(repr=False)
    instance_requests: np.ndarray = field(repr=False)
    instance_keys: tuple = field(repr=False)
    latencies_ms: np.ndarray | None = field(default=None, repr=False)

    def sla_met(self, sla_ms: float) -> bool:
        return bool(self.p95_ms <= sla_ms)


def lindley_sojourn(arrivals_s: np.ndarray, service_s: np.ndarray) -> np.ndarray:
    """Sojourn times (s) of a FCFS single-server queue, vectorised Lindley recursion."""
    if arrivals_s.size == 0:
        return np.zeros(0)
    u = np.empty_like(arrivals_s)
    u[0] = 0.0
    u[1:] = service_s[:-1] - np.diff(arrivals_s)
    p = np.cumsum(u)
    wait = p - np.minimum.accumulate(np.minimum(p, 0.0))
    return np.maximum(wait, 0.0) + service_s


def _profile_rows(profiles, gpu: str) -> dict[tuple[str, str], dict]:
    df = profiles
    if "batch_size" in df.columns:
        df = df[df["batch_size"] == 1]
    if "gpu" in df.columns:
        df = df[df["gpu"] == gpu]
    return {(r.variant, r.slice_profile): r._asdict()
            for r in df.itertuples(index=False)}


def _checked_arrivals(arrivals) -> np.ndarray:
    arrivals = np.asarray(arrivals, dtype=float)
    if arrivals.ndim != 1 or arrivals.size == 0:
        raise CloverError("simulate: arrivals must be a non-empty 1-D array of times (s)")
    if np.any(np.diff(arrivals) < 0):
        raise CloverError("simulate: arrivals must be sorted")
    return arrivals


def _routing_weights(configuration: Configuration, shares: dict[tuple[str, str], float],
                     rows: dict) -> tuple[tuple, np.ndarray]:
    """(instance keys, each instance's traffic weight): a type's share split evenly over its
    instances; every instance with traffic needs a fitting profile row."""
    counts = configuration.edge_weights()
    keys = tuple((v, p) for _, _, v, p in configuration.instances())
    weights = np.array([float(shares.get(k, 0.0)) / counts[k] for k in keys])
    if weights.sum() <= 0:
        raise CloverError("simulate: shares give no traffic to any instance")
    for k, w in zip(keys, weights):
        if w > 0:
            row = rows.get(k)
            if row is None or not bool(row["fits"]):
                raise CloverError(f"simulate: no fitting profile row for {k[0]} on {k[1]}")
    return keys, weights


@dataclass
class _Served:
    """Per-request latency (ms) and per-instance outcome of routing and serving."""

    latency_ms: np.ndarray
    busy_j: float
    instance_p95_ms: np.ndarray
    instance_requests: np.ndarray
    accuracy_sum: float


def _serve(arrivals: np.ndarray, keys: tuple, weights: np.ndarray, rows: dict,
           rng: np.random.Generator) -> _Served:
    """Route each request at random by ``weights``, then serve each instance's requests FCFS
    with shifted-exponential service times (draws in instance order, from ``rng``)."""
    n_inst = len(keys)
    route = rng.choice(n_inst, size=arrivals.size, p=weights / weights.sum())
    order = np.argsort(route, kind="stable")
    bounds = np.searchsorted(route[order], np.arange(n_inst + 1))
    served = _Served(np.empty(arrivals.size), 0.0, np.full(n_inst, np.nan), np.diff(bounds), 0.0)
    for i, k in enumerate(keys):
        lo, hi = bounds[i], bounds[i + 1]
        if hi == lo:
            continue
        row = rows[k]
        d_ms, beta_ms = fit_shifted_exponential(row["service_ms_mean"], row["service_ms_p95"])
        svc = (float(d_ms) + rng.exponential(float(beta_ms), size=hi - lo)
               if beta_ms > 0 else np.full(hi - lo, float(d_ms))) / 1000.0
        idx = order[lo:hi]
        soj = lindley_sojourn(arrivals[idx], svc)
        served.latency_ms[idx] = soj * 1000.0
        served.instance_p95_ms[i] = np.percentile(soj * 1000.0, 95)
        served.busy_j += svc.sum() * (float(row["power_w_busy"]) - float(row["power_w_idle"]))
        served.accuracy_sum += (hi - lo) * get_variant(k[0]).accuracy
    return served


def simulate(configuration: Configuration, shares: dict[tuple[str, str], float], profiles,
             arrivals: np.ndarray, seed: int = 0, keep_latencies: bool = False) -> SimResult:
    """Simulate ``configuration`` serving ``arrivals`` (sorted times in s).

    Args:
        configuration: the service (its instances are the queues).
        shares: traffic per (variant, slice profile) in req/s, or any non-negative weights;
            a type's share is split evenly over its instances. Types absent get no traffic.
        profiles: profile table (docs/ARCHITECTURE.md schema); batch-1 rows are used.
        arrivals: arrival times in seconds, sorted.
        seed: seeds the routing and the service-time draws (deterministic).
    """
    arrivals = _checked_arrivals(arrivals)
    spec = get_gpu(configuration.gpu)
    rows = _profile_rows(profiles, spec.key)
    keys, weights = _routing_weights(configuration, shares, rows)
    served = _serve(arrivals, keys, weights, rows, np.random.default_rng(seed))
    latency = served.latency_ms
    n = arrivals.size
    completion = arrivals + latency / 1000.0
    duration = float(max(completion.max(), arrivals[-1]) - min(arrivals[0], 0.0))
    duration = max(duration, 1e-9)
    idle_j = spec.idle_power_w * configuration.n_gpus * duration
    energy = idle_j + served.busy_j
    return SimResult(
        n_requests=int(n),
        duration_s=duration,
        p95_ms=float(np.percentile(latency, 95)),
        mean_latency_ms=float(latency.mean()),
        throughput_rps=n / duration,
        energy_j=energy,
        energy_j_per_request=energy / n,
        power_w=energy / duration,
        accuracy=served.accuracy_sum / n,
        instance_p95_ms=served.instance_p95_ms,
        instance_requests=served.instance_requests,
        instance_keys=keys,
        latencies_ms=latency if keep_latencies else None,
    )
