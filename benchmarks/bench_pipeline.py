"""Cost of seeds in the default pipeline (issue 18): one paper-protocol run-grid job with every
scheme × 5 seeds, cold and with the FCFS window cache warm, and (``--pipeline``) the whole
default ``snakemake --cores N all`` from a clean copy, wall clock and CPU. Prints times and
ratios; no asserts (speed is measured here, never in tests).

    python benchmarks/bench_pipeline.py [--app efficientnet] [--pipeline] [--cores 2]

The job: ``clover run-grid --protocol paper`` on CISO-March (49 h, λ 0.1) for base, co2opt,
jung, blover, clover, oracle, static and static-daily at seeds 0–4 (40 controller logs), as the
pipeline runs it. "warm" is the second and later jobs of the same app (other traces, λ values,
regions), which read the ~1,300 windows per seed from ``CLOVER_FCFS_CACHE``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMES = ("base", "co2opt", "jung", "blover", "clover", "oracle", "static", "static-daily")


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """(wall s, CPU s of the children) of one command."""
    cpu0, t0 = _child_cpu(), time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    return time.perf_counter() - t0, _child_cpu() - cpu0


def job(app: str, seeds: int, tmp: Path, cache: Path | None) -> tuple[float, float]:
    schemes = [s for s in SCHEMES for _ in range(seeds)]
    seed_list = [str(k) for _ in SCHEMES for k in range(seeds)]
    outs = [str(tmp / f"{s}_{k}.csv") for s, k in zip(schemes, seed_list)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1"}
    env.pop("CLOVER_FCFS_CACHE", None)
    if cache is not None:
        env["CLOVER_FCFS_CACHE"] = str(cache)
    cmd = [sys.executable, "-m", "clover", "run-grid", "--protocol", "paper", "--app", app,
           "--trace", "CISO-March", "--lam", "0.1", "--schemes", *schemes, "--seeds",
           *seed_list, "--out", *outs]
    return _timed(cmd, env, REPO)


def pipeline(cores: int) -> tuple[float, float]:
    """The default pipeline in a clean temporary directory (config/config.yaml copied)."""
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "config").mkdir()
        shutil.copy(REPO / "config" / "config.yaml", Path(d) / "config" / "config.yaml")
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1"}
        cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
               d, "--cores", str(cores), "all"]
        return _timed(cmd, env, REPO)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", default="efficientnet")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--pipeline", action="store_true", help="also time the whole pipeline")
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        one = job(args.app, 1, tmp, None)
        cold = job(args.app, args.seeds, tmp, None)
        cache = tmp / "cache"
        job(args.app, args.seeds, tmp, cache)  # fills the cache
        warm = job(args.app, args.seeds, tmp, cache)
    n = len(SCHEMES)
    print(f"one paper job, {args.app}, CISO-March, {n} schemes (load average "
          f"{os.getloadavg()[0]:.1f}):")
    print(f"  1 seed  ({n} logs):            {one[0]:6.1f} s wall, {one[1]:6.1f} s CPU")
    print(f"  {args.seeds} seeds ({n * args.seeds} logs), no cache: {cold[0]:6.1f} s wall, "
          f"{cold[1]:6.1f} s CPU ({cold[1] / one[1]:.2f}x one seed)")
    print(f"  {args.seeds} seeds, window cache warm:  {warm[0]:6.1f} s wall, {warm[1]:6.1f} s CPU "
          f"({warm[1] / one[1]:.2f}x one seed; cache saves {1 - warm[1] / cold[1]:.0%})")
    if args.pipeline:
        wall, cpu = pipeline(args.cores)
        print(f"default pipeline, snakemake --cores {args.cores} all from a clean directory: "
              f"{wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU (limit 10 min wall)")


if __name__ == "__main__":
    main()
