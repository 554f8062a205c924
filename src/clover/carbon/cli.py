"""``clover carbon``: list zones and show carbon-intensity traces."""

from __future__ import annotations

import argparse
import json

from clover.cliutil import add_command_group, add_data_dir_option, add_json_flag, pue_value
from clover.timestamps import ISO_UTC_FORMAT
from clover.carbon.datasets import PRESETS, list_zones
from clover.carbon.spec import load_trace
from clover.carbon.trace import CarbonTrace
from clover.carbon.windows import load_preset

_SPEC_HELP = ("preset (CISO-March, CISO-Sep, ESO-March), ZONE[@DATASET][:SEASON:YEAR[:HOURS]], "
              "ZONE[@DATASET]:YYYY-MM-DD[THH]:HOURS, or a tidy CSV path")


def _trace_json(trace: CarbonTrace) -> str:
    out = trace.summary()
    out["timestamp_utc"] = [t.strftime(ISO_UTC_FORMAT) for t in trace.timestamps_utc]
    out["ci_g_per_kwh"] = [float(v) for v in trace.ci_g_per_kwh]
    return json.dumps(out, indent=1)


def _show(args: argparse.Namespace) -> int:
    trace = load_trace(args.spec, args.data_dir, pue=args.pue, fill=args.fill,
                       resample=args.resample)
    if args.json:
        print(_trace_json(trace))
        return 0
    frame = trace.to_frame()
    frame["timestamp_utc"] = frame["timestamp_utc"].dt.strftime(ISO_UTC_FORMAT)
    if args.csv:
        print(frame.to_csv(index=False, lineterminator="\n"), end="")
        return 0
    info = trace.summary()
    print(f"{trace.name}: zone {trace.zone}, {trace.hours} hourly values from "
          f"{info['start_utc']}, PUE {trace.pue:g}")
    print(f"source: {trace.source}")
    print(f"min {info['min_g_per_kwh']:.1f}  mean {info['mean_g_per_kwh']:.1f}  "
          f"max {info['max_g_per_kwh']:.1f} gCO2eq/kWh")
    print(f"{'hour':>5}  {'timestamp_utc':<20}  ci_g_per_kwh")
    for row in frame.itertuples(index=False):
        print(f"{row.hour:>5}  {row.timestamp_utc:<20}  {row.ci_g_per_kwh:>12.2f}")
    return 0


def _zones(args: argparse.Namespace) -> int:
    table = list_zones(args.data_dir)
    for col in ("first_utc", "last_utc"):
        table[col] = table[col].dt.strftime(ISO_UTC_FORMAT)
    if args.json:
        print(table.to_json(orient="records", indent=1))
    elif args.csv:
        print(table.to_csv(index=False, lineterminator="\n"), end="")
    else:
        print(table.to_string(index=False))
    return 0


def _presets(args: argparse.Namespace) -> int:
    print(f"{'preset':<11} {'zone':<12} {'start_utc':<21} {'hours':>5} {'mean':>7}  file")
    for name, preset in PRESETS.items():
        trace = load_preset(name, args.data_dir)
        print(f"{name:<11} {trace.zone:<12} {trace.summary()['start_utc']:<21} "
              f"{trace.hours:>5} {trace.ci_g_per_kwh.mean():>7.1f}  {preset.file}")
    return 0


def _add_output(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    add_json_flag(group, "machine-readable JSON")
    group.add_argument("--csv", action="store_true", help="CSV table")


def register(sub: argparse._SubParsersAction) -> None:
    csub = add_command_group(sub, "carbon", "carbon-intensity traces: zones, presets, windows, imports")

    show = csub.add_parser("show", help="print a trace's hourly values",
                           description=f"Print a trace. SPEC: {_SPEC_HELP}.")
    show.add_argument("spec", metavar="SPEC", help=_SPEC_HELP)
    show.add_argument("--pue", type=pue_value("--pue"), default=None,
                      help="facility PUE multiplying the grid intensity (default 1.0, the "
                           "grid's own; the objective's PUE is clover.sim.problem's)")
    show.add_argument("--fill", choices=["interpolate"], default=None,
                      help="linearly interpolate missing hours instead of failing")
    show.add_argument("--resample", action="store_true",
                      help="average sub-hourly or repeated stamps within each hour")
    _add_output(show)
    add_data_dir_option(show)
    show.set_defaults(func=_show)

    zones = csub.add_parser("zones", help="list the zones and datasets available")
    _add_output(zones)
    add_data_dir_option(zones)
    zones.set_defaults(func=_zones)

    presets = csub.add_parser("presets", help="the three original Clover traces")
    add_data_dir_option(presets)
    presets.set_defaults(func=_presets)
