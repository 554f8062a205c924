"""``clover year``: the year study (issue 20; :mod:`clover.control.year`,
:mod:`clover.analysis.year`). ``run``: every scheme of ``year.schemes`` for one app over one
zone's calendar year, to month rows; ``summary``: month rows of every part → monthly.csv,
summary.csv and the "beyond the paper" claims; ``figure``: figures (j)–(l)."""

from __future__ import annotations

import argparse

from clover.cliutil import add_config_arg, add_data_dir_option
from clover.models.catalog import APPS

#: figures of the year study (clover.analysis.year_figures)
YEAR_FIGURES = ("fig_j_year_tonnes", "fig_k_adapt_vs_swing", "fig_l_month_zone")


def _config(args: argparse.Namespace):
    """The run configuration of ``--config`` (the schema's defaults without one), with
    ``--data-dir`` applied."""
    from dataclasses import replace

    from clover.config import RunConfig, load_run_config

    config = load_run_config(args.config) if args.config else RunConfig.from_dict({})
    return replace(config, data_dir=args.data_dir) if args.data_dir else config


def _run(args: argparse.Namespace) -> int:
    from clover.control.year import find_zone, run_zone
    from clover.tables import write_csv

    config = _config(args)
    rows = run_zone(config, args.app, find_zone(config.year, args.zone),
                    profiles=args.profiles, eval_cache=args.eval_cache,
                    progress=args.progress)
    write_csv(rows, args.out)
    return 0


def _summary(args: argparse.Namespace) -> int:
    from clover.analysis.year import (claims_markdown, monthly_table, read_parts, summarize,
                                      year_claims)
    from clover.paths import atomic_write
    from clover.tables import write_csv

    monthly = read_parts(args.parts)
    summary = summarize(monthly)
    months = monthly_table(monthly)
    claims = year_claims(summary, months)
    write_csv(months, args.monthly)
    write_csv(summary, args.summary)
    write_csv(claims, args.claims)
    with atomic_write(args.markdown) as fh:
        fh.write(claims_markdown(claims))
    print(f"year: {len(summary)} zone x app x scheme rows -> {args.summary}")
    return 0


def _figure(args: argparse.Namespace) -> int:
    from clover.analysis.figures import save
    from clover.analysis.year_figures import make_year_figure
    from clover.tables import read_checked_csv

    summary = read_checked_csv(args.summary, "year summary", ("zone", "app", "scheme"))
    monthly = read_checked_csv(args.monthly, "year monthly table", ("zone", "app", "month"))
    save(make_year_figure(args.which, summary, monthly), args.out)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("year", help="the year study: every zone's calendar year (paper "
                                    "protocol, modeled), tonnes at a stated service")
    ys = p.add_subparsers(dest="year_command", metavar="STEP")
    ys.required = True
    r = ys.add_parser("run", help="every scheme of config year.schemes, one app x zone year")
    add_config_arg(r)
    r.add_argument("--app", required=True, choices=sorted(APPS))
    r.add_argument("--zone", required=True, help="a zone of config year.datasets")
    r.add_argument("--profiles", help="profile table (default: the modeled one, in memory)")
    r.add_argument("--eval-cache", metavar="DIR",
                   help="directory of simulated FCFS windows shared by jobs (default: none)")
    add_data_dir_option(r)
    r.add_argument("--progress", action="store_true", help="progress bars on stderr")
    r.add_argument("--out", required=True, help="month rows (CSV, written atomically)")
    r.set_defaults(func=_run)
    s = ys.add_parser("summary", help="month rows -> monthly.csv, summary.csv, claims")
    s.add_argument("--parts", nargs="+", required=True, help="month-row files of `year run`")
    for flag in ("--monthly", "--summary", "--claims", "--markdown"):
        s.add_argument(flag, required=True)
    s.set_defaults(func=_summary)
    f = ys.add_parser("figure", help="figures (j)-(l) of the year study")
    f.add_argument("--which", required=True, choices=YEAR_FIGURES)
    f.add_argument("--summary", required=True)
    f.add_argument("--monthly", required=True)
    f.add_argument("--out", nargs="+", required=True, help=".pdf/.png files")
    f.set_defaults(func=_figure)
