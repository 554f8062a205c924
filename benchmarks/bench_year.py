"""The year study's speed (issue 20): hour-steps per second of each scheme over one zone's
calendar year (paper protocol, one process, the FCFS windows already in memory, as in a year
job after its first scheme), and optionally the wall time of pipeline targets from a fresh
working directory. Prints numbers; no asserts.

    python benchmarks/bench_year.py [--app yolo] [--zone DE] [--schemes base clover ...]
    python benchmarks/bench_year.py --targets year all    # + snakemake --cores 2 TARGET
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401
from clover.config import load_run_config
from clover.control.year import YearService, find_zone, zone_trace

REPO = Path(__file__).resolve().parents[1]


def hour_steps(app: str, zone: str, schemes: list[str]) -> None:
    config = load_run_config(REPO / "config" / "config.yaml")
    z = find_zone(config, zone)
    ci, stamps, _ = zone_trace(z, None)
    t0 = time.perf_counter()
    service = YearService.build(config, app, config.year.seed, None)
    service.run("oracle", z.spec, ci[:24], stamps[:24])  # every window once (exhaustive)
    print(f"{app} {z.spec}: problem and windows {time.perf_counter() - t0:.2f} s")
    for scheme in schemes:
        t0 = time.perf_counter()
        service.run(scheme, z.spec, ci, stamps)
        dt = time.perf_counter() - t0
        print(f"  {scheme:>12}: {len(ci) / dt:8.0f} hour-steps/s ({dt:.2f} s for {len(ci)} h)")


def target_time(target: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "config", work / "config")
        cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
               str(work), "--cores", "2", target]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        state = "ok" if out.returncode == 0 else f"FAILED ({out.stderr[-300:]})"
        print(f"snakemake --cores 2 {target}: {dt / 60:.1f} min from a fresh directory, {state}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", default="yolo")
    ap.add_argument("--zone", default="DE")
    ap.add_argument("--schemes", nargs="+", default=None, help="default: config year.schemes")
    ap.add_argument("--targets", nargs="*", default=[], help="pipeline targets to time")
    args = ap.parse_args()
    schemes = args.schemes or list(load_run_config(REPO / "config" / "config.yaml").year.schemes)
    hour_steps(args.app, args.zone, schemes)
    for target in args.targets:
        target_time(target)


if __name__ == "__main__":
    main()
