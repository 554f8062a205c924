"""``clover mig``: inspect MIG geometry."""

from __future__ import annotations

import argparse

from clover.mig.geometry import GPUS, enumerate_layouts, get_gpu, layouts_json


def _layouts(args: argparse.Namespace) -> int:
    spec = get_gpu(args.gpu)
    if args.json:
        print(layouts_json(spec.key))
        return 0
    layouts = enumerate_layouts(spec.key)
    print(f"{spec.name}: {len(layouts)} valid MIG layouts, "
          f"{len({lay.mix for lay in layouts})} distinct slice mixes")
    print(f"{'#':>3}  {'mix':<16} layout (profile@memory-slice)")
    for lay in layouts:
        where = " + ".join(f"{p.profile}@{p.start}" for p in lay.slices)
        print(f"{lay.index:>3}  {str(list(lay.mix)):<16} {where}")
    return 0


def _profiles(args: argparse.Namespace) -> int:
    spec = get_gpu(args.gpu)
    print(f"{spec.name} (TDP {spec.tdp_w:.0f} W, idle {spec.idle_power_w:.1f} W)")
    print(f"{'profile':<10} {'compute':>7} {'memory':>6} {'GiB':>7} {'SMs':>4}  placements")
    for p in spec.profiles:
        print(f"{p.name:<10} {p.compute_slices:>5}/7 {p.memory_slices:>4}/8 {p.memory_gb:>7.2f} "
              f"{p.sms:>4}  {list(p.placements)}")
    print(f"source: {spec.source}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("mig", help="MIG profiles and valid layouts")
    msub = parser.add_subparsers(dest="mig_command", metavar="ACTION")
    msub.required = True
    lay = msub.add_parser("layouts", help="list the valid MIG layouts of a GPU")
    lay.add_argument("--gpu", default="a100-40gb", help=f"one of {', '.join(GPUS)}")
    lay.add_argument("--json", action="store_true", help="machine-readable output")
    lay.set_defaults(func=_layouts)
    prof = msub.add_parser("profiles", help="list the MIG profiles of a GPU")
    prof.add_argument("--gpu", default="a100-40gb", help=f"one of {', '.join(GPUS)}")
    prof.set_defaults(func=_profiles)
