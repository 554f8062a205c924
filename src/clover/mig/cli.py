"""``clover mig``: inspect MIG geometry."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

from clover.cliutil import add_command_group, add_json_flag
from clover.errors import CloverError
from clover.mig.geometry import DEFAULT_GPU, GPUS, enumerate_layouts, get_gpu, layout_by_name, layouts_json


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


@dataclass(frozen=True)
class GpuLayout:
    """One GPU of a configuration file, as partitioning sees it: its slice profiles."""

    layout: tuple[str, ...]


@dataclass(frozen=True)
class ConfigurationLayouts:
    """The layouts of a Configuration file (``gpu`` key, one :class:`GpuLayout` per GPU): the
    shape :func:`clover.mig.manager.layouts_of` reads from a Configuration, so that planning
    keeps the most of each GPU's current instances exactly as for a Configuration."""

    gpu: str
    gpus: tuple[GpuLayout, ...]


def configuration_layouts(data: dict) -> ConfigurationLayouts:
    """The layouts of a Configuration in ``as_dict`` form
    (``{"gpu": ..., "gpus": [{"layout": [...], "variants": [...]}, ...]}``), read as plain
    layout data: ``mig`` comes first in the import order and does not import
    ``clover.models.configuration``. Checks what partitioning needs, with the messages
    ``Configuration.from_dict(...).validate()`` gives: well-formed GPU entries, a known GPU,
    valid MIG layouts (variant names are the model catalog's business)."""
    try:
        gpus = []
        for g in data["gpus"]:
            layout = tuple(g["layout"])
            tuple(g["variants"])  # required, as Configuration.from_dict requires it
            gpus.append(GpuLayout(layout))
        out = ConfigurationLayouts(str(data["gpu"]), tuple(gpus))
    except (KeyError, TypeError) as exc:
        raise CloverError(f"malformed configuration: missing or bad field {exc}") from None
    get_gpu(out.gpu)
    valid = {tuple(sorted(lay.profiles)) for lay in enumerate_layouts(out.gpu)}
    for i, g in enumerate(out.gpus):
        if tuple(sorted(g.layout)) not in valid:
            raise CloverError(f"GPU {i}: invalid MIG layout {'+'.join(g.layout)} for {out.gpu}")
    return out


def _targets(args: argparse.Namespace):
    """{gpu index: Layout} from --layout (repeatable, GPU 0, 1, ...) then --whole N whole
    GPUs, or --configuration FILE."""
    from clover.mig.manager import layouts_of

    if args.configuration:
        from clover.cliutil import read_json_object

        data = read_json_object(args.configuration, "configuration file")
        if "configuration" in data and not isinstance(data["configuration"], dict):
            raise CloverError(f"configuration file {args.configuration}: 'configuration' must "
                              "be a JSON object")
        return configuration_layouts(data.get("configuration", data))
    if args.whole < 0:
        raise CloverError(f"--whole must be >= 0 (got {args.whole})")
    if not args.layout and not args.whole:
        raise CloverError("give --layout NAME (once per GPU), --whole N or --configuration FILE")
    spec = get_gpu(args.gpu)
    names = [*args.layout, *[spec.full_profile.name] * args.whole]
    return layouts_of([layout_by_name(spec.key, name) for name in names])


def _emit_plan(ops, args: argparse.Namespace, header: str) -> None:
    from clover.mig.manager import format_plan
    from clover.paths import atomic_write

    if args.out:
        with atomic_write(args.out) as fh:
            json.dump({"dry_run": True, "operations": [o.as_dict() for o in ops]}, fh, indent=2)
    if args.json:
        print(json.dumps([o.as_dict() for o in ops], indent=2))
    else:
        print(header)
        print(format_plan(ops))


def _plan(args: argparse.Namespace) -> int:
    from clover.mig.manager import MigManager, plan_operations

    target = _targets(args)
    if args.from_scratch:
        _emit_plan(plan_operations(target), args, "plan (GPU state not read: clear, then create):")
        return 0
    try:
        with MigManager(dry_run=True) as mgr:
            ops = mgr.plan(target)
    except CloverError as exc:
        if "NVML could not be initialised" not in exc.message:
            raise
        print(f"note: {exc.message}; planning from scratch", file=sys.stderr)
        _emit_plan(plan_operations(target), args, "plan (no NVML here: clear, then create):")
        return 0
    _emit_plan(ops, args, "plan (dry run, from the GPUs' current instances):")
    return 0


def _apply(args: argparse.Namespace) -> int:
    from clover.mig.manager import MigManager, format_plan

    target = _targets(args)
    with MigManager(dry_run=not args.apply, log=print) as mgr:
        ops = mgr.apply(target, apply=args.apply)
        if args.apply:
            print(f"applied {len(ops)} operation(s)")
            for i in sorted({o.gpu_index for o in ops}):
                for m in mgr.instances(i):
                    print(f"GPU {i}: {m.profile}@{m.start} gi={m.gi_id} ci={m.ci_id} {m.uuid}")
        else:
            print("(dry run: add --apply to change the GPUs)")
            if not ops:
                print(format_plan(ops))
    return 0


def _status(args: argparse.Namespace) -> int:
    from clover.mig.manager import MigManager

    with MigManager(dry_run=True) as mgr:
        states = mgr.status(args.index)
    if args.json:
        print(json.dumps([s.as_dict() for s in states], indent=2))
        return 0
    for s in states:
        mode = "enabled" if s.mig_current else "disabled"
        if s.mig_pending != s.mig_current:
            mode += f" (pending {'enable' if s.mig_pending else 'disable'})"
        print(f"GPU {s.index}: {s.name} {s.uuid} MIG {mode}; processes: "
              f"{', '.join(map(str, s.processes)) or 'none'}")
        for m in s.instances:
            print(f"  {m.profile:<9} @{m.start} size {m.size}  gi={m.gi_id} ci={m.ci_id}  {m.uuid}")
    return 0


def _add_target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gpu", default=DEFAULT_GPU, help=f"GPU model for --layout: {', '.join(GPUS)}")
    p.add_argument("--layout", action="append", default=[],
                   help="layout name (profiles joined by '+', as `clover mig layouts` prints), "
                        "once per GPU: GPU 0, 1, ...")
    p.add_argument("--whole", type=int, default=0, metavar="N",
                   help="then N GPUs whole (one instance of the full profile each; BASE's "
                        "initial deployment)")
    p.add_argument("--configuration", help="JSON file with a Configuration (as_dict form)")
    add_json_flag(p)
    p.add_argument("--out", help="also write the plan as JSON to this file")


def register(sub: argparse._SubParsersAction) -> None:
    msub = add_command_group(sub, "mig", "MIG profiles and valid layouts")
    lay = msub.add_parser("layouts", help="list the valid MIG layouts of a GPU")
    lay.add_argument("--gpu", default=DEFAULT_GPU, help=f"one of {', '.join(GPUS)}")
    add_json_flag(lay)
    lay.set_defaults(func=_layouts)
    prof = msub.add_parser("profiles", help="list the MIG profiles of a GPU")
    prof.add_argument("--gpu", default=DEFAULT_GPU, help=f"one of {', '.join(GPUS)}")
    prof.set_defaults(func=_profiles)
    plan = msub.add_parser("plan", help="the MIG operations (and nvidia-smi commands) for a layout; "
                                        "never changes a GPU")
    _add_target_args(plan)
    plan.add_argument("--from-scratch", action="store_true",
                      help="do not read the GPUs (no NVML needed): clear them, then create")
    plan.set_defaults(func=_plan)
    app = msub.add_parser("apply", help="create a layout through NVML (dry run unless --apply)")
    _add_target_args(app)
    app.add_argument("--apply", action="store_true",
                     help="really change the GPUs (refused while processes use them; never "
                          "toggles MIG mode)")
    app.set_defaults(func=_apply)
    st = msub.add_parser("status", help="MIG mode, GPU/compute instances and MIG UUIDs via NVML")
    st.add_argument("--index", type=int, default=None, help="one GPU (default: all)")
    add_json_flag(st)
    st.set_defaults(func=_status)
