"""``clover workload``: sample request arrivals and summarise them."""

from __future__ import annotations

import argparse
import json

import numpy as np

from clover.cliutil import (MAX_SAMPLE_REQUESTS, add_command_group, add_json_flag, number,
                             seed_value)
from clover.errors import CloverError
from clover.paths import atomic_write
from clover.workload.arrivals import KINDS, WorkloadSpec, arrival_stats


def _sample(args: argparse.Namespace) -> int:
    expected = args.rate * args.duration
    if expected > MAX_SAMPLE_REQUESTS:
        raise CloverError(f"--rate x --duration = {expected:.3g} expected requests exceeds the "
                          f"bound of {MAX_SAMPLE_REQUESTS:,} per sample; lower --rate or "
                          "--duration")
    spec = WorkloadSpec(args.kind, args.rate, args.duration, args.seed)
    times = spec.arrivals(args.data_dir)
    stats = {**spec.as_dict(), **arrival_stats(times, spec.duration_s)}
    if args.out:
        with atomic_write(args.out) as fh:
            fh.write("arrival_s\n")
            np.savetxt(fh, times, fmt="%.6f")
        stats["out"] = str(args.out)
    if args.json:
        print(json.dumps(stats, indent=1))
        return 0
    print(f"{spec.kind}: {stats['count']} requests in {spec.duration_s:g} s (seed {spec.seed})")
    print(f"mean rate {stats['mean_rate_rps']:.3f} req/s (target {spec.rate_rps:g}), "
          f"inter-arrival CV {stats['interarrival_cv']:.3f}, "
          f"peak {stats['peak_rate_rps_1s']:.0f} req in 1 s")
    if args.out:
        print(f"wrote {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    wsub = add_command_group(sub, "workload",
                             "request arrival processes (Poisson, Azure LLM 2023)")
    sample = wsub.add_parser("sample", help="sample arrivals and print count, mean rate, CV")
    sample.add_argument("--kind", default="poisson", help=f"one of {', '.join(KINDS)}")
    sample.add_argument("--rate", type=number("--rate", lo=0.0, lo_open=True),
                        default=50.0, help="mean rate, requests/s")
    sample.add_argument("--duration", type=number("--duration", lo=0.0, lo_open=True),
                        default=60.0, help="seconds")
    sample.add_argument("--seed", type=seed_value(), default=0)
    sample.add_argument("--out", default=None, help="also write the arrival times (CSV, s)")
    add_json_flag(sample, "machine-readable summary")
    sample.add_argument("--data-dir", default=None,
                        help="data directory (default: $CLOVER_DATA, ../shared/data, "
                             "data/external)")
    sample.set_defaults(func=_sample)
