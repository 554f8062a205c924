"""The original artifact's dispatch: one FCFS request queue and a FIFO of idle instances
(sc23-clover ``system/generator.py``: ``ip_state.pop()`` takes the instance idle longest,
``appendleft`` returns it on completion; a request waits while no instance is idle).

Event simulation of one evaluation window (``dispatch: fcfs``, docs/simulator.md):
``n`` requests with exponential inter-arrival times at ``rate_rps`` (the first at t = 0, as
the artifact's producer puts one request, then sleeps ``Exp``), service time of request j on
instance i = ``d_i + β_i·x_j`` (shifted exponential fitted to the profile's mean and p95 at the
request batch, :func:`clover.sim.queueing.fit_shifted_exponential`), ``x_j`` a unit exponential.

Longest-idle FIFO = the instance with the earliest free time (an instance that frees while
requests wait takes the next one at once, so among idle instances the earliest-freed is the
one idle longest); ties (all idle at t = 0) go to the lowest instance index. Each request
starts at ``max(arrival, earliest free time)``.

Determinism: ``x`` and the inter-arrival times are common random numbers drawn from
``seed`` alone, and instances are ordered canonically (by instance type), so the outcome is a
function of (configuration graph, N, rate, n, seed): evaluation order never matters and an
exhaustive optimum over graphs is exact.

Energy of the window (s from 0 to the last completion): every GPU's idle power over the whole
window plus each instance's busy increment ``(power_w_busy − power_w_idle)`` over its busy
time; energy per request = window energy / n. Accuracy is weighted by the requests each
instance served; p95 over the window's requests.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass
from heapq import heapreplace

import numpy as np

from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.configuration import Configuration
from clover.sim.evaluator import Evaluation
from clover.sim.problem import Problem

QUANTILE_PCT = 95.0


def common_draws(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(unit inter-arrival gaps, unit service exponentials) of ``n`` requests for ``seed``.

    Arrivals at rate R are ``cumsum`` of gaps / R with the first request at 0; the same seed
    gives the same draws to every candidate (common random numbers)."""
    rng_a = np.random.default_rng([int(seed), 0xA771])
    rng_s = np.random.default_rng([int(seed), 0x5E7C])
    gaps = rng_a.standard_exponential(n)
    return gaps, rng_s.standard_exponential(n)


def arrival_times(gaps: np.ndarray, rate_rps: float) -> np.ndarray:
    """Arrival times (s): 0, then the cumulative gaps / rate (the artifact's producer)."""
    a = np.empty(gaps.size)
    a[0] = 0.0
    np.cumsum(gaps[:-1] / float(rate_rps), out=a[1:])
    return a


def fcfs_dispatch(arrivals_s, unit_service, d_s, beta_s):
    """The heap kernel: (instance per request, start times, end times), all numpy arrays.

    ``d_s``/``beta_s``: per-instance shift and exponential mean of the service time (s).
    """
    arr = np.asarray(arrivals_s, dtype=float).tolist()
    x = np.asarray(unit_service, dtype=float).tolist()
    d = [float(v) for v in d_s]
    b = [float(v) for v in beta_s]
    m = len(d)
    if m == 0:
        raise CloverError("fcfs: no instances")
    heap = [(0.0, i) for i in range(m)]  # (free time, instance): a valid heap already
    inst = [0] * len(arr)
    start = [0.0] * len(arr)
    end = [0.0] * len(arr)
    for j, a in enumerate(arr):
        f, i = heap[0]
        s = a if a > f else f
        e = s + d[i] + b[i] * x[j]
        heapreplace(heap, (e, i))
        inst[j] = i
        start[j] = s
        end[j] = e
    return np.array(inst, dtype=np.int64), np.array(start), np.array(end)


def fcfs_dispatch_reference(arrivals_s, unit_service, d_s, beta_s):
    """Pure-Python reference: the artifact's generator as a discrete-event loop (a deque of
    idle instances, ``pop()`` = idle longest, ``appendleft`` on completion; one FCFS queue).
    Slow; the tests compare :func:`fcfs_dispatch` against it."""
    arr = [float(a) for a in arrivals_s]
    x = [float(v) for v in unit_service]
    m = len(d_s)
    idle = deque(range(m - 1, -1, -1))  # pop() from the right gives instance 0 first
    busy: list[tuple[float, int]] = []  # (completion time, instance), kept sorted
    queue: deque[int] = deque()
    out_i, out_s, out_e = [0] * len(arr), [0.0] * len(arr), [0.0] * len(arr)
    j = 0
    t = 0.0
    while j < len(arr) or queue:
        next_arrival = arr[j] if j < len(arr) else float("inf")
        next_done = busy[0][0] if busy else float("inf")
        if next_done <= next_arrival and busy:
            t, i = busy.pop(0)
            idle.appendleft(i)
        else:
            t = next_arrival
            queue.append(j)
            j += 1
        while queue and idle:
            r = queue.popleft()
            i = idle.pop()
            e = t + float(d_s[i]) + float(beta_s[i]) * x[r]
            out_i[r], out_s[r], out_e[r] = i, t, e
            busy.append((e, i))
            busy.sort()
    return np.array(out_i, dtype=np.int64), np.array(out_s), np.array(out_e)


@dataclass(frozen=True)
class FcfsWindow:
    """Outcome of one FCFS window. Times ms, energy J, power W, accuracy %."""

    n_requests: int
    duration_s: float
    p95_ms: float
    mean_latency_ms: float
    energy_j: float
    energy_j_per_request: float
    accuracy: float
    served_per_type: np.ndarray  # requests served by each instance type


def _instance_types(problem: Problem, configuration: Configuration) -> np.ndarray:
    """Type index of every instance, sorted (the canonical instance order)."""
    t = problem.types
    idx = [t.index(v, s) for _, _, v, s in configuration.instances()]
    return np.sort(np.array(idx, dtype=np.int64))


def simulate_window(problem: Problem, configuration: Configuration, n_requests: int,
                    rate_rps: float | None = None, seed: int | None = None) -> FcfsWindow:
    """FCFS longest-idle simulation of ``configuration`` serving ``n_requests`` requests."""
    t = problem.types
    types = _instance_types(problem, configuration)
    if not np.all(t.fits[types]):
        raise CloverError("fcfs: a variant does not fit its slice")
    rate = problem.rate_rps if rate_rps is None else float(rate_rps)
    gaps, x = common_draws(int(n_requests), problem.seed if seed is None else int(seed))
    arr = arrival_times(gaps, rate)
    inst, _, end = fcfs_dispatch(arr, x, t.d_ms[types] / 1000.0, t.beta_ms[types] / 1000.0)
    lat_ms = (end - arr) * 1000.0
    served_type = types[inst]
    svc_s = (t.d_ms[served_type] + t.beta_ms[served_type] * x) / 1000.0
    busy_j = float(svc_s @ (t.busy_w[served_type] - t.idle_w[served_type]))
    duration = float(end.max())
    idle_j = get_gpu(problem.gpu).idle_power_w * configuration.n_gpus * duration
    energy = idle_j + busy_j
    per_type = np.bincount(served_type, minlength=len(t)).astype(float)
    return FcfsWindow(int(n_requests), duration, float(np.percentile(lat_ms, QUANTILE_PCT)),
                      float(lat_ms.mean()), energy, energy / n_requests,
                      float(per_type @ t.accuracy) / n_requests, per_type)


#: every window simulated in this process, keyed by problem fingerprint, graph and n
_WINDOWS: dict[tuple, FcfsWindow] = {}
#: environment variable naming a directory that keeps windows across processes (the pipeline
#: sets it to results/cache/fcfs): a window depends on the graph, the problem's types, rate,
#: seed and GPU and the request count, never on ci, λ or the trace, so every job of one app
#: and seed shares them (clover.sim.window_cache)
CACHE_ENV = "CLOVER_FCFS_CACHE"


def problem_fingerprint(problem: Problem) -> str:
    """What an FCFS window depends on besides the graph: types, rate, seed, GPU."""
    t = problem.types
    h = hashlib.sha1()
    for arr in (t.d_ms, t.beta_ms, t.busy_w, t.idle_w, t.accuracy, t.fits):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(f"{problem.gpu}|{problem.rate_rps!r}|{problem.seed}|{problem.app}".encode())
    return h.hexdigest()


class FcfsEvaluator:
    """``dispatch: fcfs``: each evaluation is one simulated window of the artifact's
    experiment (``eval_requests`` requests; ``base_requests`` for BASE's own k·N-GPU run).

    ci-independent (only the carbon scales with ci), so windows are cached per graph for the
    whole process and :meth:`rescore` is free: a history hit keeps accuracy and p95 and scales
    carbon by ci·PUE."""

    source = "simulated"

    def __init__(self, problem: Problem, eval_requests: int | None = None,
                 base_requests: int | None = None):
        self.problem = problem
        self.eval_requests = int(eval_requests or problem.protocol.eval_requests)
        self.base_requests = int(base_requests or problem.protocol.base_requests)
        self._fp = problem_fingerprint(problem)
        self._base_key = problem.base_reference_configuration().key()
        self._evaluations: dict[tuple[str, int | None], Evaluation] = {}
        self.calls = 0

    def window(self, configuration: Configuration, n_requests: int | None = None,
               counts: np.ndarray | None = None) -> FcfsWindow:
        """The (cached) simulated window of ``configuration``; ``counts``: its instance counts
        per type when the caller already has them (``problem.counts``)."""
        p = self.problem
        if n_requests is None:
            n_requests = (self.base_requests if configuration.key() == self._base_key
                          and p.base_gpus != p.n_gpus else self.eval_requests)
        if counts is None:
            counts = p.counts(configuration)
        key = (self._fp, counts.tobytes(), configuration.n_gpus, int(n_requests))
        w = _WINDOWS.get(key)
        if w is None:
            from clover.sim import window_cache

            w = window_cache.get(key)
            if w is None:
                w = simulate_window(p, configuration, int(n_requests))
                window_cache.put(key, w)
            _WINDOWS[key] = w
        return w

    def evaluate(self, configuration: Configuration, ci_g_per_kwh: float,
                 n_requests: int | None = None) -> Evaluation:
        """The configuration's window as an :class:`Evaluation` at ``ci_g_per_kwh``. Nothing
        but the ``ci_g_per_kwh`` field depends on the intensity, so each configuration is
        evaluated once per evaluator and later calls copy that evaluation with this call's
        configuration object and intensity (a year of hours re-asks the same few)."""
        self.calls += 1
        memo = (configuration.key(), n_requests)
        ev = self._evaluations.get(memo)
        if ev is None:
            ev = self._evaluations[memo] = self._evaluate(configuration, ci_g_per_kwh,
                                                          n_requests)
            return ev
        return ev.at(ci_g_per_kwh, configuration)

    def _evaluate(self, configuration: Configuration, ci_g_per_kwh: float,
                  n_requests: int | None) -> Evaluation:
        p = self.problem
        t = p.types
        counts = p.counts(configuration)
        bad = [k for k, n in zip(t.keys, counts) if n > 0 and not t.fits[t.index(*k)]]
        if bad:
            return Evaluation(
                configuration=configuration, rate_rps=p.rate_rps, shares={},
                accuracy=float("nan"), energy_j_per_request=float("nan"),
                power_w=float("nan"), p95_ms=float("inf"), mean_latency_ms=float("inf"),
                throughput_rps=0.0, sla_ms=p.sla_ms, sla_met=False, feasible=False,
                source=self.source, ci_g_per_kwh=float(ci_g_per_kwh),
                reason="does not fit: " + ", ".join(f"{v} on {s}" for v, s in bad))
        w = self.window(configuration, n_requests, counts)
        sla_met = bool(w.p95_ms <= p.sla_ms * (1 + 1e-9))
        shares = {k: float(n) / w.duration_s for k, n in zip(t.keys, w.served_per_type) if n > 0}
        return Evaluation(
            configuration=configuration, rate_rps=float(p.rate_rps), shares=shares,
            accuracy=w.accuracy, energy_j_per_request=w.energy_j_per_request,
            power_w=w.energy_j / w.duration_s, p95_ms=w.p95_ms,
            mean_latency_ms=w.mean_latency_ms, throughput_rps=w.n_requests / w.duration_s,
            sla_ms=p.sla_ms, sla_met=sla_met, feasible=True, source=self.source,
            ci_g_per_kwh=float(ci_g_per_kwh),
            reason="" if sla_met else f"p95 {w.p95_ms:.2f} ms > SLA {p.sla_ms:.2f} ms")

    def rescore(self, evaluation: Evaluation, ci_g_per_kwh: float) -> Evaluation:
        """History: same accuracy and p95, carbon follows ci·PUE (no online cost)."""
        return evaluation.at(ci_g_per_kwh)
