"""Event-simulator and evaluator speed: simulated requests per second, analytic evaluations
per second, on the 10-GPU ORACLE configuration of each app (and BASE). Prints ratios; no
asserts.

    python benchmarks/bench_sim.py [--requests 1000000] [--profiles FILE]
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (sets sys.path)
from clover.optimize import solve_milp
from clover.sim import Problem, SimEvaluator, poisson_arrivals, simulate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--gpus", type=int, default=10)
    ap.add_argument("--profiles", default=None)
    args = ap.parse_args()
    for app in ("efficientnet", "albert", "yolo"):
        table, label = _common.profile_table(app, path=args.profiles)
        p = Problem.build(app, "a100-40gb", args.gpus, table)
        ev = SimEvaluator(p)
        for name, cfg in (("BASE", p.base_configuration()),
                          ("ORACLE", solve_milp(p, 250.0).configuration)):
            e = ev.evaluate(cfg, 250.0)
            arr = poisson_arrivals(p.rate_rps, args.requests / p.rate_rps, seed=1)
            t0 = time.perf_counter()
            res = simulate(cfg, e.shares, table, arr, seed=2)
            sim_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            n_eval = 200
            for _ in range(n_eval):
                ev.evaluate(cfg, 250.0)
            eval_s = (time.perf_counter() - t0) / n_eval
            print(f"{app:<13} {name:<6} {len(cfg.instances()):>3} instances: "
                  f"{res.n_requests / sim_s:>12,.0f} simulated req/s "
                  f"({res.n_requests:,} requests in {sim_s:.2f} s); "
                  f"p95 sim {res.p95_ms:.2f} / closed form {e.p95_ms:.2f} ms "
                  f"(ratio {res.p95_ms / e.p95_ms:.3f}); analytic evaluation {eval_s * 1e3:.2f} ms")
    print(f"profiles: {label}")


if __name__ == "__main__":
    main()
