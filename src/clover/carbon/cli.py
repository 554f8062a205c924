"""``clover carbon``: list zones, show carbon-intensity traces, import provider exports."""

from __future__ import annotations

import argparse
import json

import pandas as pd

from clover.cliutil import add_command_group, add_data_dir_option, add_json_flag, pue_value
from clover.timestamps import ISO_UTC_FORMAT
from clover.carbon.datasets import PRESETS, list_zones
from clover.carbon.csvio import CI_COL, TIMESTAMP_COL, ZONE_COL
from clover.carbon.spec import load_trace, parse_trace_spec
from clover.carbon.trace import CarbonTrace
from clover.carbon.windows import load_csv_trace, load_preset
from clover.errors import CloverError
from clover.tables import write_csv

_SPEC_HELP = ("preset (CISO-March, CISO-Sep, ESO-March), ZONE[@DATASET][:SEASON:YEAR[:HOURS]], "
              "ZONE[@DATASET]:YYYY-MM-DD[THH]:HOURS, or a file FILE.csv|FILE.json[#direct]: "
              "tidy, an Electricity Maps export or a WattTime MOER export (docs/traces.md)")


def _trace_json(trace: CarbonTrace) -> str:
    out = trace.summary()
    out["timestamp_utc"] = [t.strftime(ISO_UTC_FORMAT) for t in trace.timestamps_utc]
    out["ci_g_per_kwh"] = [float(v) for v in trace.ci_g_per_kwh]
    return json.dumps(out, indent=1)


def _show_spec(args: argparse.Namespace) -> str:
    """The spec, with ``#direct`` when ``--direct`` asks for Electricity Maps' direct column."""
    if not args.direct:
        return args.spec
    parsed = parse_trace_spec(args.spec)
    if parsed.kind != "file":
        raise CloverError(f"--direct applies to a trace file (an Electricity Maps export); "
                          f"{args.spec!r} is a {parsed.kind} spec")
    return f"{parsed.path}#direct"


def _show(args: argparse.Namespace) -> int:
    trace = load_trace(_show_spec(args), args.data_dir, pue=args.pue, fill=args.fill,
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


def _import(args: argparse.Namespace) -> int:
    trace = load_csv_trace(args.file, fill=args.fill, resample=args.resample,
                           basis="direct" if args.direct else "lifecycle")
    frame = trace.to_frame()
    tidy = pd.DataFrame({TIMESTAMP_COL: frame["timestamp_utc"].dt.strftime(ISO_UTC_FORMAT),
                         ZONE_COL: frame["zone"], CI_COL: frame["ci_g_per_kwh"]})
    write_csv(tidy, args.out)
    print(f"{args.out}: {trace.hours} hourly values of zone {trace.zone} from "
          f"{trace.summary()['start_utc']}; source: {trace.source}")
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


def _add_file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fill", choices=["interpolate"], default=None,
                        help="linearly interpolate missing hours instead of failing (for a "
                             "WattTime file also hours with too few points)")
    parser.add_argument("--resample", action="store_true",
                        help="average sub-hourly or repeated stamps within each hour")
    parser.add_argument("--direct", action="store_true",
                        help="Electricity Maps export: read the direct (operational) column "
                             "instead of the life-cycle one (the default, as the shared "
                             "traces); same as FILE#direct")


def register(sub: argparse._SubParsersAction) -> None:
    csub = add_command_group(sub, "carbon", "carbon-intensity traces: zones, presets, windows, imports")

    show = csub.add_parser("show", help="print a trace's hourly values",
                           description=f"Print a trace. SPEC: {_SPEC_HELP}.")
    show.add_argument("spec", metavar="SPEC", help=_SPEC_HELP)
    show.add_argument("--pue", type=pue_value("--pue"), default=None,
                      help="facility PUE multiplying the grid intensity (default 1.0, the "
                           "grid's own; the objective's PUE is clover.sim.problem's)")
    _add_file_options(show)
    _add_output(show)
    add_data_dir_option(show)
    show.set_defaults(func=_show)

    imp = csub.add_parser(
        "import", help="a provider's export -> a tidy carbon CSV",
        description="Read FILE (a tidy trace, an Electricity Maps hourly export or a WattTime "
                    "MOER export as CSV or v3 JSON, told apart by its header; docs/traces.md) "
                    "and write it in the tidy format (timestamp_utc, zone, "
                    "carbon_intensity_g_per_kwh) that --trace and the config's traces read.")
    imp.add_argument("file", metavar="FILE", help="the export to read")
    imp.add_argument("--out", required=True, metavar="CSV", help="tidy CSV to write")
    _add_file_options(imp)
    imp.set_defaults(func=_import)

    zones = csub.add_parser("zones", help="list the zones and datasets available")
    _add_output(zones)
    add_data_dir_option(zones)
    zones.set_defaults(func=_zones)

    presets = csub.add_parser("presets", help="the three original Clover traces")
    add_data_dir_option(presets)
    presets.set_defaults(func=_presets)
