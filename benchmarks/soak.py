"""Soak drill of the live service (issue 21 item 5): a bounded open-loop load on 127.0.0.1 at
80 % of the measured capacity for ``--duration-s`` (10 minutes by default), with one replica
crash at 1/3 and one reconfiguration at 1/2 of the run.

It checks, and prints as JSON:

* every request accounted for: one client record per request sent, and on the ingress
  ``received == answered + rejected + failed + cancelled + shed`` with nothing in flight and
  nothing failed;
* the p95 of answered requests within the SLA outside the reconfiguration (requests scheduled
  from the start of the deploy to ``settle_s`` (10 s) after its end are left out: those held
  while routes change, and the backlog they leave);
* the ingress' memory flat: the median RSS of the last quarter of the run within
  ``--rss-slack-mb`` of the median of the first quarter (after warm-up).

The SLA is ``--sla-ms`` or ``--sla-factor`` x the p95 measured at low load (10 % of capacity)
before the run; the ingress sheds with ``max_wait_s`` = 3/4 of the SLA. Capacity is measured as the
throughput of a burst that saturates the replicas. Bounded: loopback only, a fixed number of
requests (rate x duration, at most clover.serve.loadgen.MAX_REQUESTS per 10 s window).

    python benchmarks/soak.py [--duration-s 600] [--input-scale 0.15] [--num-cpus 2]

``tests/serve/test_soak.py`` runs a short version (``slow`` + ``live``) on the test service.
Exit status 1 when a check fails. Figures are measured on this machine's CPU (no GPU model).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from clover.models.configuration import Configuration, GpuAssignment  # noqa: E402
from clover.serve.loadgen import run_load  # noqa: E402
from clover.serve.safety import IngressLimits  # noqa: E402

B1 = "efficientnet-b1"
#: the two configurations the drill moves between: two B1 replicas on different layouts
START = Configuration("a100-40gb", (GpuAssignment(("4g.20gb", "3g.20gb"), (B1, B1)),))
AFTER = Configuration("a100-40gb", (GpuAssignment(("3g.20gb", "3g.20gb"), (B1, B1)),))
WINDOW_S = 10.0  #: the load is sent in consecutive open-loop windows of this length


@dataclass
class SoakLog:
    """What the drill observed (times in s since the load started)."""

    records: list = field(default_factory=list)
    window_starts: list = field(default_factory=list)
    rss: list = field(default_factory=list)  # (t, MiB)
    crash_t: float = float("nan")
    reconfig: tuple = (float("nan"), float("nan"))


def ingress_rss_mb() -> float:
    """RSS (MiB) of the ingress replica's process (Ray titles it ``...Ingress``), NaN if absent."""
    import psutil

    for proc in psutil.Process().children(recursive=True):
        try:
            if any("Ingress" in part for part in proc.cmdline()):
                return proc.memory_info().rss / 2**20
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return float("nan")


def measure_capacity(svc, n: int = 200) -> float:
    """Requests per second the deployed replicas serve: a burst of ``n`` at once (nothing shed)."""
    svc.set_limits(IngressLimits(max_wait_s=3600.0))
    try:
        run_load(svc.url, np.zeros(20), timeout_s=60.0)  # warm: the ingress measures replicas
        recs = run_load(svc.url, np.zeros(n), timeout_s=120.0, first_id=10_000_000)
    finally:
        svc.set_limits(svc.limits)
    done = [r.sent_s + r.latency_ms / 1000.0 for r in recs if r.status == 200]
    if len(done) < n // 2:
        raise RuntimeError(f"capacity burst: only {len(done)} of {n} answered")
    return len(done) / max(done)


def low_load_p95_ms(svc, capacity_rps: float, n: int = 100, seed: int = 1) -> float:
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1.0 / (0.1 * capacity_rps), n))
    recs = run_load(svc.url, arr, timeout_s=60.0, first_id=11_000_000)
    lat = [r.latency_ms for r in recs if r.status == 200]
    return float(np.percentile(lat, 95))


def _load(svc, rate_rps: float, duration_s: float, log: SoakLog, t0: float, seed: int) -> None:
    """Open-loop Poisson load in windows of WINDOW_S (thread body)."""
    rng = np.random.default_rng(seed)
    first = 0
    while time.monotonic() - t0 < duration_s:
        span = min(WINDOW_S, duration_s - (time.monotonic() - t0))
        arr = np.cumsum(rng.exponential(1.0 / rate_rps, int(rate_rps * span * 1.5) + 10))
        arr = arr[arr < span]
        log.window_starts.append((first, time.monotonic() - t0))
        log.records += run_load(svc.url, arr, timeout_s=130.0, first_id=first)
        first += len(arr)


def _events(svc, duration_s: float, log: SoakLog, t0: float) -> None:
    """Crash at 1/3, reconfiguration at 1/2, ingress RSS every 2 s (main thread)."""
    crashed = reconfigured = False
    while time.monotonic() - t0 < duration_s:
        now = time.monotonic() - t0
        log.rss.append((now, ingress_rss_mb()))
        if not crashed and now >= duration_s / 3:
            log.crash_t = now
            svc.crash(svc.instances[0].instance_id)
            crashed = True
        if not reconfigured and now >= duration_s / 2:
            start = time.monotonic() - t0
            svc.deploy(AFTER)
            log.reconfig = (start, time.monotonic() - t0)
            reconfigured = True
        time.sleep(2.0)


def record_times(log: SoakLog) -> np.ndarray:
    """Each record's scheduled time since the load started (s)."""
    starts = sorted(log.window_starts)
    out = np.empty(len(log.records))
    for i, r in enumerate(log.records):
        base = max((t for first, t in starts if first <= r.id), default=0.0)
        out[i] = base + r.scheduled_s
    return out


def summarise(log: SoakLog, before: dict, after: dict, sla_ms: float, settle_s: float,
              rss_slack_mb: float, warmup_s: float) -> dict:
    keys = ("received", "answered", "rejected", "failed", "cancelled", "shed", "in_flight")
    d = {k: after[k] - before[k] for k in keys}
    status = np.array([r.status for r in log.records])
    lat = np.array([r.latency_ms for r in log.records])
    t = record_times(log)
    lo, hi = log.reconfig[0], log.reconfig[1] + settle_s
    outside = (status == 200) & ((t < lo) | (t > hi))
    p95 = float(np.percentile(lat[outside], 95)) if outside.any() else float("nan")
    rss = np.array([m for s, m in log.rss if s >= warmup_s and np.isfinite(m)])
    q = max(1, len(rss) // 4)
    first_mb, last_mb = (float(np.median(rss[:q])), float(np.median(rss[-q:]))) if len(rss) else (
        float("nan"), float("nan"))
    by = {int(s): int((status == s).sum()) for s in np.unique(status)}
    checks = {
        "every_request_accounted": bool(
            after["identity_holds"] and d["in_flight"] == 0 and d["failed"] == 0
            and d["received"] == d["answered"] + d["rejected"] + d["cancelled"] + d["shed"]
            and len(log.records) == len({r.id for r in log.records})
            and by.get(200, 0) <= d["answered"] and d["received"] <= len(log.records)),
        "p95_within_sla_outside_reconfig": bool(p95 <= sla_ms),
        "ingress_memory_flat": bool(abs(last_mb - first_mb) <= rss_slack_mb),
    }
    return {"requests_sent": len(log.records), "by_status": by, "ingress": d,
            "p95_ms_outside_reconfig": round(p95, 2), "sla_ms": round(sla_ms, 2),
            "answered_outside_reconfig": int(outside.sum()),
            "p95_ms_all_answered": round(float(np.percentile(lat[status == 200], 95)), 2)
            if (status == 200).any() else None,
            "reconfig_s": round(log.reconfig[1] - log.reconfig[0], 2),
            "crash_at_s": round(log.crash_t, 1),
            "ingress_rss_mb": {"first_quarter": round(first_mb, 1), "last_quarter": round(last_mb, 1),
                               "samples": len(rss)},
            "checks": checks, "ok": all(checks.values())}


def soak(svc, duration_s: float = 600.0, load: float = 0.8, sla_ms: float | None = None,
         sla_factor: float = 4.0, settle_s: float = 10.0, rss_slack_mb: float = 32.0,
         seed: int = 0) -> dict:
    """Run the drill on a started :class:`clover.serve.service.LiveService` (deploys START)."""
    if svc.configuration != START:
        svc.deploy(START)
    capacity = measure_capacity(svc)
    base_p95 = low_load_p95_ms(svc, capacity)
    sla = float(sla_ms) if sla_ms else sla_factor * base_p95
    # shed once the queue would wait 3/4 of the SLA: the rest is left for the service itself
    svc.set_limits(IngressLimits(max_wait_s=0.75 * sla / 1000.0))
    log = SoakLog()
    try:
        before = svc.stats()
        t0 = time.monotonic()
        loader = threading.Thread(target=_load, args=(svc, load * capacity, duration_s, log, t0, seed),
                                  daemon=True)
        loader.start()
        _events(svc, duration_s, log, t0)
        loader.join(timeout=duration_s + 300.0)
        after = svc.idle_stats(timeout_s=60.0)
    finally:
        svc.set_limits(svc.limits)
    out = summarise(log, before, after, sla, settle_s, rss_slack_mb,
                    warmup_s=min(30.0, duration_s / 5))
    return {"duration_s": duration_s, "capacity_rps": round(capacity, 1),
            "offered_rps": round(load * capacity, 1), "low_load_p95_ms": round(base_p95, 2), **out}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration-s", type=float, default=600.0)
    ap.add_argument("--load", type=float, default=0.8, help="fraction of measured capacity")
    ap.add_argument("--sla-ms", type=float, default=None)
    ap.add_argument("--sla-factor", type=float, default=4.0)
    ap.add_argument("--input-scale", type=float, default=0.15)
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not 0 < args.duration_s <= 24 * 3600 or not 0 < args.load <= 1:
        ap.error("--duration-s must be in (0, 86400] and --load in (0, 1]")
    from clover.serve.cluster import local_cluster
    from clover.serve.service import LiveService

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO / "src")] + [
        p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    with LiveService(local_cluster("cpu", 1, cores_per_gpu=1, http_port=_free_port()),
                     input_scale=args.input_scale, num_cpus=args.num_cpus) as svc:
        out = soak(svc, args.duration_s, args.load, args.sla_ms, args.sla_factor, seed=args.seed)
    print(json.dumps(out, indent=1))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
