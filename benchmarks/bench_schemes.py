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


def run(app, table, trace, n_gpus, lam, seed, params=None):
    p = Problem.build(app, "a100-40gb", n_gpus, table, lam=lam, seed=seed)
    out = {}
    for name in SCHEMES:
        extra = (params or {}) if name in ("clover", "blover") else {}
        s = make_scheme(name, p, SimEvaluator(p), **{k: v for k, v in extra.items()
                                                       if name == "clover" or k != "max_distance"})
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
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="annealing parameter for clover and blover, e.g. max_distance=8")
    args = ap.parse_args()
    params = {k: float(v) if "." in v else int(v) for k, v in (x.split("=", 1) for x in args.param)}
    summary = {}
    trace = _common.carbon_trace(args.trace)
    print(f"trace {args.trace}: {len(trace)} h, ci {trace.min():.1f}..{trace.max():.1f} g/kWh; "
          f"{args.gpus} x a100-40gb, lambda {args.lam}")
    for app in ("efficientnet", "albert", "yolo"):
        table, label = _common.profile_table(app, path=args.profiles)
        for seed in args.seeds:
            r = run(app, table, trace, args.gpus, args.lam, seed, params)
            fo = r["oracle"]["f"]
            cb = r["base"]["carbon"].sum()
            print(f"\n{app} (seed {seed}):")
            for name in SCHEMES:
                x = r[name]
                share = x["f"].sum() / fo.sum()
                hourly = np.median(x["f"] / fo)
                gap = float(np.mean(fo - x["f"]))
                print(f"  {name:<7} objective {share:6.1%} of ORACLE (median hour {hourly:6.1%}, "
                      f"mean gap {gap:5.2f} pp), "
                      f"carbon saved vs BASE {1 - x['carbon'].sum() / cb:6.1%}, "
                      f"dAcc {x['acc'].mean():+6.2f}%, SLA {'met' if x['sla'] else 'MISSED'}, "
                      f"evaluations {x['evals']:>4} ({x['distinct']} distinct graphs, "
                      f"{x['searches']} searches), {x['s']:.2f} s")
            for name in SCHEMES:
                summary.setdefault((app, name), []).append(
                    (r[name]["f"].sum() / fo.sum(), r[name]["evals"],
                     float(np.mean(fo - r[name]["f"])), float(np.mean(fo))))
            c, b = r["clover"], r["blover"]
            print(f"  Clover/Blover: evaluations {c['evals']}/{b['evals']} = "
                  f"{c['evals'] / max(b['evals'], 1):.2f}; objective share "
                  f"{c['f'].sum() / fo.sum():.1%} vs {b['f'].sum() / fo.sum():.1%}; "
                  f"Blover re-evaluated {b['evals'] - b['distinct']} equivalent configurations")
    print("\nmean over seeds: objective share of ORACLE, mean hourly gap to ORACLE in objective "
          "percent points (ORACLE's mean objective), online evaluations over the trace")
    for (app, name), vals in summary.items():
        share = np.mean([v[0] for v in vals])
        ev = np.mean([v[1] for v in vals])
        gap = np.mean([v[2] for v in vals])
        print(f"  {app:<13} {name:<7} {share:8.2%}  gap {gap:6.2f} pp (ORACLE {vals[0][3]:6.2f})"
              f"  {ev:6.1f} evaluations")
    print(f"\nprofiles: {label}")


if __name__ == "__main__":
    main()
