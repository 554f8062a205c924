"""Every scheme over a real 49-hour carbon trace (default CISO-March): objective as a share
of ORACLE's, carbon saved vs BASE, accuracy change, SLA, and online evaluations of Clover vs
Blover. Prints ratios measured in one run; no asserts.

    python benchmarks/bench_schemes.py [--trace CISO-March] [--gpus 10] [--lam 0.5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import _common  # noqa: F401
from clover.optimize import make_scheme
from clover.sim import Problem, SimEvaluator

SCHEMES = ("base", "co2opt", "jung", "blover", "clover", "oracle")


def run(app, table, trace, n_gpus, lam, seed):
    p = Problem.build(app, "a100-40gb", n_gpus, table, lam=lam, seed=seed)
    out = {}
    for name in SCHEMES:
        s = make_scheme(name, p, SimEvaluator(p))
        s.set_period(trace)
        t0 = time.perf_counter()
        ds = [s.decide(h, ci) for h, ci in enumerate(trace)]
        out[name] = {
            "f": np.array([d.objective for d in ds]),
            "carbon": np.array([d.carbon_g_per_request for d in ds]),
            "acc": np.array([d.delta_accuracy_pct for d in ds]),
            "sla": all(d.evaluation.sla_met for d in ds),
            "evals": sum(len(d.evaluations) for d in ds),
            "distinct": len({p.counts(c).tobytes() for d in ds for c in d.evaluations}),
            "searches": sum(d.searched for d in ds),
            "s": time.perf_counter() - t0,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trace", default="CISO-March")
    ap.add_argument("--gpus", type=int, default=10)
    ap.add_argument("--lam", type=float, default=0.5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--profiles", default=None)
    args = ap.parse_args()
    trace = _common.carbon_trace(args.trace)
    print(f"trace {args.trace}: {len(trace)} h, ci {trace.min():.1f}..{trace.max():.1f} g/kWh; "
          f"{args.gpus} x a100-40gb, lambda {args.lam}")
    for app in ("efficientnet", "albert", "yolo"):
        table, label = _common.profile_table(app, path=args.profiles)
        for seed in args.seeds:
            r = run(app, table, trace, args.gpus, args.lam, seed)
            fo = r["oracle"]["f"]
            cb = r["base"]["carbon"].sum()
            print(f"\n{app} (seed {seed}):")
            for name in SCHEMES:
                x = r[name]
                share = x["f"].sum() / fo.sum()
                hourly = np.median(x["f"] / fo)
                print(f"  {name:<7} objective {share:6.1%} of ORACLE (median hour {hourly:6.1%}), "
                      f"carbon saved vs BASE {1 - x['carbon'].sum() / cb:6.1%}, "
                      f"dAcc {x['acc'].mean():+6.2f}%, SLA {'met' if x['sla'] else 'MISSED'}, "
                      f"evaluations {x['evals']:>4} ({x['distinct']} distinct graphs, "
                      f"{x['searches']} searches), {x['s']:.2f} s")
            c, b = r["clover"], r["blover"]
            print(f"  Clover/Blover: evaluations {c['evals']}/{b['evals']} = "
                  f"{c['evals'] / max(b['evals'], 1):.2f}; objective share "
                  f"{c['f'].sum() / fo.sum():.1%} vs {b['f'].sum() / fo.sum():.1%}; "
                  f"Blover re-evaluated {b['evals'] - b['distinct']} equivalent configurations")
    print(f"\nprofiles: {label}")


if __name__ == "__main__":
    main()
