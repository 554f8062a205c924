"""The paper protocol's quality table (issue 10): 3 apps x the 3 original traces x seeds,
every scheme under ``protocol: paper`` (BASE on k·N = 10 GPUs, the others on N = 2,
replicated space, FCFS windows, λ = 0.1, modeled profiles).

Per app and scheme, over traces and seeds: mean hourly objective as a share of ORACLE's,
online evaluations per 49-hour trace, carbon saved = 1 − mean(carbon/request) /
mean(BASE carbon/request) (the chosen configurations' steady state, evaluation windows not
charged), accuracy loss in points (BASE − scheme, as sc23-clover ``run.py``), SLA met (% of
hours). Prints the table (markdown); no asserts.

    python benchmarks/bench_paper.py [--seeds 0 1 2 3] [--gpus 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import _common  # noqa: F401  (sets sys.path)
from clover.optimize import make_scheme
from clover.profiles import model_profiles
from clover.sim.protocol import build_problem, protocol_settings

APPS = ("efficientnet", "albert", "yolo")
TRACES = ("CISO-March", "CISO-Sep", "ESO-March")
SCHEMES = ("oracle", "clover", "blover", "sa-raw", "co2opt", "jung", "base")


def one(app, trace, ci, seed, n_gpus):
    s = protocol_settings("paper")
    prof = model_profiles(app, "a100-40gb", batch_sizes=(1, s.batch(app)))
    p = build_problem(app, "a100-40gb", n_gpus, prof, s, seed=seed)
    out = {}
    for name in SCHEMES:
        params = {"seed": seed} if name in ("clover", "blover", "sa-raw") else {}
        sc = make_scheme(name, p, **params)
        sc.set_period(ci)
        ds = [sc.decide(h, c) for h, c in enumerate(ci)]
        out[name] = {
            "f": np.mean([d.objective for d in ds]),
            "evals": sum(len(d.evaluations) for d in ds) * 49.0 / len(ci),
            "carbon": np.mean([d.carbon_g_per_request for d in ds]),
            "acc": np.mean([d.evaluation.accuracy for d in ds]),
            "sla": 100.0 * np.mean([d.evaluation.sla_met for d in ds]),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--gpus", type=int, default=2)
    args = ap.parse_args()
    t0 = time.perf_counter()
    traces = {t: _common.carbon_trace(t) for t in TRACES}
    res = {app: [one(app, t, traces[t], seed, args.gpus) for t in TRACES for seed in args.seeds]
           for app in APPS}
    print(f"protocol paper: BASE on {5 * args.gpus} GPUs, schemes on {args.gpus} x A100-40GB, "
          f"lambda 0.1, modeled profiles; {len(TRACES)} traces x {len(args.seeds)} seeds "
          f"({time.perf_counter() - t0:.1f} s)\n")
    print("| scheme | " + " | ".join(APPS) + " |")
    print("|---|" + "---|" * len(APPS))
    print("| ORACLE mean hourly objective | " + " | ".join(
        f"{np.mean([r['oracle']['f'] for r in res[a]]):.2f}" for a in APPS) + " |")
    for name in SCHEMES:
        cells = []
        for a in APPS:
            rs = res[a]
            share = 100 * np.mean([r[name]["f"] for r in rs]) / np.mean([r["oracle"]["f"]
                                                                         for r in rs])
            saved = 100 * (1 - np.mean([r[name]["carbon"] for r in rs])
                           / np.mean([r["base"]["carbon"] for r in rs]))
            loss = np.mean([r["base"]["acc"] - r[name]["acc"] for r in rs])
            evals = np.mean([r[name]["evals"] for r in rs])
            sla = np.mean([r[name]["sla"] for r in rs])
            share_txt = f"{share:.1f} %" if np.isfinite(share) else "n/a (SLA missed)"
            cells.append(f"{share_txt} · {evals:.0f} ev · {saved:.1f} % saved · "
                         f"−{loss:.2f} pts · SLA {sla:.0f} %")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
