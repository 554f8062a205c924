"""``clover models``: the variant catalog."""

from __future__ import annotations

import argparse
import json

from clover.cliutil import add_command_group, add_json_flag
from clover.models.catalog import APPS, VARIANTS, get_app


def _list(args: argparse.Namespace) -> int:
    variants = [v for v in VARIANTS.values() if args.app is None or v.app == get_app(args.app).name]
    if args.json:
        print(json.dumps([{
            "name": v.name, "app": v.app, "accuracy": v.accuracy, "metric": v.metric,
            "params_m": v.params_m, "gflops": round(v.gflops, 2), "input_size": v.input_size,
            "weight_mb_fp32": v.weight_mb_fp32, "library": v.library, "builder_id": v.builder_id,
        } for v in variants], indent=2))
        return 0
    print(f"{'variant':<19} {'app':<13} {'accuracy':>8} {'params M':>8} {'GFLOPs':>8} "
          f"{'input':>5} {'weights MB':>10}  builder")
    for v in variants:
        print(f"{v.name:<19} {v.app:<13} {v.accuracy:>8.2f} {v.params_m:>8.1f} {v.gflops:>8.1f} "
              f"{v.input_size:>5} {v.weight_mb_fp32:>10.1f}  {v.library}:{v.builder_id}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    msub = add_command_group(sub, "models", "the model-variant catalog")
    lst = msub.add_parser("list", help="list variants with accuracy, size and compute")
    lst.add_argument("--app", choices=None, help=f"one of {', '.join(APPS)}")
    add_json_flag(lst, None)
    lst.set_defaults(func=_list)
