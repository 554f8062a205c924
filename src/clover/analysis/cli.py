"""``clover aggregate``, ``clover figures``, ``clover gpu-count``: from run logs to the paper's
figures and headline table."""

from __future__ import annotations

import argparse

from clover.cliutil import (add_config_arg, add_data_dir_option, config_option, preset_help,
                             seed_value)
from clover.errors import CloverError
from clover.names import PROTOCOL_NAMES, scheme_names
from clover.paths import check_input_file


def main_lam(args: argparse.Namespace) -> float:
    """λ of the main grid: ``--lam`` (default config lam), else the default protocol's
    preset, as :func:`clover.control.grid.grid_lam` names runs."""
    from clover.control.grid import grid_lam

    return float(grid_lam({"lam": args.lam}, args.protocol))


def _aggregate(args: argparse.Namespace) -> int:
    from clover.analysis.aggregate import (
        combine_logs,
        embodied_savings,
        read_gpu_counts,
        summarize_runs,
    )
    from clover.analysis.summary import render_markdown
    from clover.paths import atomic_write
    from clover.tables import write_csv

    extra = _side_tables(args)  # read (and checked) before anything is written
    hourly = combine_logs(args.runs, args.seeds)
    runs = summarize_runs(hourly)
    gpus = embodied_savings(read_gpu_counts(args.gpu_count or []), args.embodied_kg_per_gpu)
    write_csv(hourly, args.hourly)
    write_csv(runs, args.summary)
    write_csv(gpus, args.gpus)
    if args.adapting:
        from clover.analysis.adapting import adapting_table

        write_csv(adapting_table(runs, hourly), args.adapting)
    md = render_markdown(runs, gpus, main_lam(args), args.embodied_kg_per_gpu, args.embodied_source,
                         args.backend, hourly=hourly, **extra)
    with atomic_write(args.markdown) as fh:
        fh.write(md)
    print(f"aggregated {len(runs)} runs ({len(hourly)} hours) -> {args.summary}, {args.markdown}")
    return 0


def _side_tables(args: argparse.Namespace) -> dict:
    """The claims table's side inputs given: decomposition, reference check, year claims."""
    extra = {}
    for key in ("decomposition", "reference"):
        path = getattr(args, key, None)
        if path:
            extra[key] = _read_csv(path, f"--{key}")
    if getattr(args, "year_claims", None):
        from clover.analysis.year import CLAIM_COLUMNS
        from clover.tables import read_checked_csv

        extra["year_claims"] = read_checked_csv(args.year_claims, "year claims", CLAIM_COLUMNS)
    return extra


def _read_table(path):
    import pandas as pd
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise CloverError(f"table {p} not found (run `clover aggregate` first)")
    check_input_file(p, "table")  # size cap before pandas reads it
    return pd.read_csv(p, keep_default_na=True, dtype={"floor": str})


def _read_csv(path, flag: str):
    import pandas as pd
    from pathlib import Path

    if not Path(path).is_file():
        raise CloverError(f"table {path} not found ({flag})")
    check_input_file(path, f"{flag} table")  # size cap before pandas reads it
    return pd.read_csv(path)


def _figures(args: argparse.Namespace) -> int:
    from clover.analysis.figures import FIGURES, make_figure, save

    hourly = _read_table(args.hourly)
    runs = _read_table(args.summary)
    for t in (hourly, runs):
        t["floor"] = t["floor"].fillna("none").astype(str)
    gpus = _read_table(args.gpus) if args.gpus else None
    extra = _side_tables(args)
    which = list(FIGURES) if args.which == "all" else [args.which]
    if args.which == "all":
        if not args.outdir:
            raise CloverError("--which all needs --outdir")
        outs = {w: [f"{args.outdir}/{w}.pdf", f"{args.outdir}/{w}.png"] for w in which}
    else:
        if not args.out:
            raise CloverError("give --out FILE.pdf [FILE.png]")
        outs = {which[0]: args.out}
    for w in which:
        fig = make_figure(w, hourly, runs, gpus, lam=main_lam(args), kg_per_gpu=args.embodied_kg_per_gpu,
                          embodied_source=args.embodied_source, **extra)
        save(fig, outs[w])
    return 0


def _gpu_count(args: argparse.Namespace) -> int:
    from clover.api import RunSpec, gpu_count
    from clover.cliutil import parse_json_arg
    from clover.control.cli import flag_errors
    from clover.tables import write_csv

    spec = flag_errors(RunSpec)(
        app=args.app, gpu=args.gpu, profiles=args.profiles, lam=args.lam, seed=args.seed,
        protocol=args.protocol, problem=parse_json_arg(args.problem_json, "--problem-json"),
        scheme_params=parse_json_arg(args.scheme_params_json, "--scheme-params-json"))
    table = flag_errors(gpu_count)(
        spec, args.schemes, base_gpus=args.base_gpus, max_gpus=args.max_gpus,
        max_accuracy_loss_pct=args.max_accuracy_loss, ci_g_per_kwh=args.ci)
    if args.out:
        write_csv(table, args.out)
    else:
        print(table.to_string(index=False))
    return 0


def _reference_check(args: argparse.Namespace) -> int:
    """The artifact's measured arrival sweep beside the modeled one (held-out check)."""
    from clover.api import reference_check
    from clover.tables import write_csv

    table = reference_check(args.data_dir, seed=args.seed)
    write_csv(table, args.out)
    print(f"clover reference-check: {len(table)} rows (one per artifact log entry) -> {args.out}")
    return 0


def _main_grid_args(p: argparse.ArgumentParser) -> None:
    """``--config FILE``, λ of the main grid and the embodied carbon per GPU (config lam,
    protocol, embodied)."""
    add_config_arg(p)
    config_option(p, "--lam", key="lam", type=float,
                  help="λ of the main grid (config lam; none: the config protocol's preset)")
    config_option(p, "--protocol", key="protocol", choices=PROTOCOL_NAMES,
                  help="the default protocol, whose λ the main grid has when neither --lam "
                       "nor config lam is set (default %(default)s)")
    config_option(p, "--embodied-kg-per-gpu", key="embodied.kg_co2e_per_gpu", type=float,
                  help="embodied carbon per GPU, kgCO2e (default %(default)s: Chien et al., "
                       "HotCarbon'23)")
    config_option(p, "--embodied-source", key="embodied.source",
                  help="where the embodied carbon number comes from")


def _register_tables(sub: argparse._SubParsersAction) -> None:
    from clover.control.cli import add_problem_args

    a = sub.add_parser("aggregate", help="controller logs -> hourly table, per-run summary, "
                                         "headline table (summary.md)")
    a.add_argument("--runs", nargs="+", required=True, help="controller logs (CSV)")
    a.add_argument("--gpu-count", nargs="*", default=[], help="`clover gpu-count` tables")
    config_option(a, "--seeds", key="seeds", nargs="+", type=int,
                  help="the pipeline's seeds; a log without _seed{k} in its name is the first's "
                       "(default %(default)s)")
    config_option(a, "--backend", key="backend", help="model or live (default %(default)s)")
    a.add_argument("--decomposition", help="results/decomposition.csv (claims table reading)")
    a.add_argument("--reference", help="results/reference_check.csv (claims table verdict)")
    a.add_argument("--year-claims", help="results/year/claims.csv (`clover year summary`): "
                                         "rows beyond the paper in the claims table")
    _main_grid_args(a)
    a.add_argument("--hourly", required=True, help="output: every hour of every run (CSV)")
    a.add_argument("--summary", required=True, help="output: one row per run (CSV)")
    a.add_argument("--gpus", required=True, help="output: GPU counts with embodied carbon (CSV)")
    a.add_argument("--markdown", required=True, help="output: headline table (Markdown)")
    a.add_argument("--adapting", help="output: the value of adapting, adaptive scheme minus "
                                      "static / static-daily per run (CSV)")
    a.set_defaults(func=_aggregate)

    f = sub.add_parser("figures", help="the paper's figures (PDF/PNG) from the aggregated tables")
    f.add_argument("--which", default="all", help="figure name (fig_a_carbon_accuracy ...) or all")
    f.add_argument("--hourly", default="results/hourly.csv")
    f.add_argument("--summary", default="results/summary.csv")
    f.add_argument("--gpus", default="results/gpu_count.csv")
    f.add_argument("--decomposition", help="results/decomposition.csv (figure h)")
    f.add_argument("--reference", help="results/reference_check.csv (figure i)")
    _main_grid_args(f)
    f.add_argument("--out", nargs="+", help="output files (.pdf/.png) for one figure")
    f.add_argument("--outdir", help="directory for --which all")
    f.set_defaults(func=_figures)

    g = sub.add_parser("gpu-count", help="fewest GPUs each scheme needs for a service target")
    add_problem_args(g)
    config_option(g, "--schemes", key="gpu_count.schemes", nargs="+", choices=scheme_names(),
                  help="default %(default)s")
    config_option(g, "--base-gpus", key="gpu_count.base_gpus", type=int,
                  help="BASE on this many GPUs sets the rate and SLA (default %(default)s)")
    config_option(g, "--max-gpus", key="gpu_count.max_gpus", type=int,
                  help="default %(default)s")
    config_option(g, "--max-accuracy-loss", key="gpu_count.max_accuracy_loss_pct", type=float,
                  help="accuracy target: BASE accuracy minus this %% (default %(default)s)")
    config_option(g, "--ci", key="gpu_count.ci_g_per_kwh", type=float,
                  help="carbon intensity, g/kWh (default %(default)s)")
    config_option(g, "--lam", key="lam", type=float,
                  help=f"λ (config lam; none: the protocol's, {preset_help('lam')})")
    config_option(g, "--protocol", key="gpu_count.protocol", choices=PROTOCOL_NAMES,
                  help="the service target's protocol (default %(default)s: BASE on k x N = "
                       "--base-gpus GPUs, replicated space, FCFS)")
    g.add_argument("--out", help="CSV to write (atomically)")
    g.set_defaults(func=_gpu_count)

    r = sub.add_parser("reference-check", help="the artifact's measured arrival sweep beside "
                                               "the modeled profiles (held-out check)")
    add_data_dir_option(r)
    config_option(r, "--seed", key="seed", type=seed_value(), help="default %(default)s")
    r.add_argument("--out", default="results/reference_check.csv")
    r.set_defaults(func=_reference_check)


def register(sub: argparse._SubParsersAction) -> None:
    """``aggregate``, ``figures``, ``gpu-count``, ``reference-check``, then ``year``."""
    _register_tables(sub)
    register_year(sub)


# --- clover year: the year study (issue 20; clover.control.year, clover.analysis.year) ---
def _config(args: argparse.Namespace):
    """The run configuration of ``--config`` (the schema's defaults without one), with
    ``--data-dir`` applied."""
    from dataclasses import replace

    from clover.config import RunConfig, load_run_config

    config = load_run_config(args.config) if args.config else RunConfig.from_dict({})
    return replace(config, data_dir=args.data_dir) if args.data_dir else config


def _run(args: argparse.Namespace) -> int:
    from clover.control.year import find_zones, run_zones
    from clover.tables import write_csv

    config = _config(args)
    rows = run_zones(config, args.app, find_zones(config, args.zone),
                     profiles=args.profiles, progress=args.progress)
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


def register_year(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("year", help="the year study: every zone's calendar year (paper "
                                    "protocol, modeled), tonnes at a stated service")
    ys = p.add_subparsers(dest="year_command", metavar="STEP")
    ys.required = True
    r = ys.add_parser("run", help="every scheme of config year.schemes, one app, zones' years")
    add_config_arg(r)
    from clover.models.catalog import APPS

    r.add_argument("--app", required=True, choices=sorted(APPS))
    r.add_argument("--zone", required=True, nargs="+",
                   help="zones of config year.datasets, run in turn (rows in that order)")
    r.add_argument("--profiles", help="profile table (default: the modeled one, in memory)")
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
    from clover.analysis.year import YEAR_FIGURES

    f.add_argument("--which", required=True, choices=YEAR_FIGURES)
    f.add_argument("--summary", required=True)
    f.add_argument("--monthly", required=True)
    f.add_argument("--out", nargs="+", required=True, help=".pdf/.png files")
    f.set_defaults(func=_figure)
