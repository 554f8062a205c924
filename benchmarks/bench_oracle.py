"""ORACLE (MILP, HiGHS) solve time against the number of GPUs; the MILP's size does not grow
with N. Prints times and the ratio to the 10-GPU time; no asserts.

    python benchmarks/bench_oracle.py [--gpus 10 100 1000 10000] [--profiles FILE]
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401
from clover.optimize import solve_milp
from clover.sim import Problem


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpus", type=int, nargs="+", default=[10, 100, 1000, 10000, 100000])
    ap.add_argument("--app", default="efficientnet")
    ap.add_argument("--profiles", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    table, label = _common.profile_table(args.app, path=args.profiles)
    ref = None
    for n in args.gpus:
        p = Problem.build(args.app, "a100-40gb", n, table)
        times = []
        for ci in (100.0, 250.0, 400.0)[: args.repeat]:
            t0 = time.perf_counter()
            res = solve_milp(p, ci)
            times.append(time.perf_counter() - t0)
        best = min(times)
        ref = ref or best
        print(f"{args.app} N={n:>6}: MILP {best:.3f} s (mean {sum(times)/len(times):.3f} s) "
              f"x{best / ref:.2f} of N={args.gpus[0]}; objective {res.objective:.3f}, "
              f"{len(res.configuration.instances())} instances")
    print(f"profiles: {label}")


if __name__ == "__main__":
    main()
