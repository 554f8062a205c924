"""FCFS longest-idle dispatch speed (``dispatch: fcfs``, clover.sim.fcfs): simulated requests
per second on one core, for the heap kernel and the pure-Python reference, and the cost of
evaluating a whole replicated space (every distinct graph, 1,000 requests each). Prints
ratios; no asserts (target from issue 10: >= 1 M simulated requests/s).

    python benchmarks/bench_fcfs.py [--requests 1000000] [--instances 14]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import _common  # noqa: F401  (sets sys.path)
from clover.optimize.space import distinct_graphs, replicate
from clover.profiles import model_profiles
from clover.sim.fcfs import (
    _WINDOWS,
    FcfsEvaluator,
    arrival_times,
    common_draws,
    fcfs_dispatch,
    fcfs_dispatch_reference,
)
from clover.sim.protocol import build_problem, protocol_settings


def best_of(fn, repeat=3) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--instances", type=int, default=14, help="2 GPUs x 7 slots = 14")
    args = ap.parse_args()
    n, m = args.requests, args.instances
    gaps, x = common_draws(n, 0)
    rng = np.random.default_rng(1)
    d = rng.uniform(0.02, 0.2, m)
    b = rng.uniform(0.0, 0.05, m)
    rate = 0.75 * m / (d + b).mean()  # 75 % utilisation
    arr = arrival_times(gaps, rate)
    t = best_of(lambda: fcfs_dispatch(arr, x, d, b))
    print(f"heap kernel: {n:,} requests on {m} instances in {t:.3f} s = "
          f"{n / t / 1e6:.2f} M simulated requests/s (one core)")
    k = min(n, 50_000)
    tr = best_of(lambda: fcfs_dispatch_reference(arr[:k], x[:k], d, b), repeat=1)
    print(f"pure-Python reference: {k / tr / 1e6:.3f} M requests/s "
          f"(kernel {(n / t) / (k / tr):.1f}x faster)")
    s = protocol_settings("paper")
    for app in ("yolo", "albert", "efficientnet"):
        prof = model_profiles(app, "a100-40gb", batch_sizes=(1, s.batch(app)))
        p = build_problem(app, "a100-40gb", 2, prof, s)
        graphs = distinct_graphs(app, p.gpu, p.fitting_variants)
        _WINDOWS.clear()
        ev = FcfsEvaluator(p)
        t0 = time.perf_counter()
        for g in graphs:
            ev.evaluate(replicate(g, p.gpu, 2), 250.0)
        dt = time.perf_counter() - t0
        print(f"{app}: whole replicated space ({len(graphs)} fitting graphs x 1,000 requests) "
              f"evaluated in {dt:.2f} s = {dt / len(graphs) * 1e3:.2f} ms per evaluation")


if __name__ == "__main__":
    main()
