"""``clover aggregate``, ``clover figures``, ``clover gpu-count``: from run logs to the paper's
figures and headline table."""

from __future__ import annotations

import argparse

from clover.cliutil import add_config_arg, add_data_dir_option, config_option, seed_value
from clover.errors import CloverError
from clover.names import PROTOCOL_NAMES, SCHEME_NAMES


def main_lam(args: argparse.Namespace) -> float:
    """λ of the main grid: ``--lam`` (default config lam), else the default protocol's
    preset (paper 0.1, extended 0.5), as :func:`clover.control.grid.grid_lam` names runs."""
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

    hourly = combine_logs(args.runs)
    runs = summarize_runs(hourly)
    gpus = embodied_savings(read_gpu_counts(args.gpu_count or []), args.embodied_kg_per_gpu)
    write_csv(hourly, args.hourly)
    write_csv(runs, args.summary)
    write_csv(gpus, args.gpus)
    extra = {}
    for key in ("decomposition", "reference"):
        path = getattr(args, key, None)
        if path:
            extra[key] = _read_csv(path, f"--{key}")
    md = render_markdown(runs, gpus, main_lam(args), args.embodied_kg_per_gpu, args.embodied_source,
                         args.backend, hourly=hourly, **extra)
    with atomic_write(args.markdown) as fh:
        fh.write(md)
    print(f"aggregated {len(runs)} runs ({len(hourly)} hours) -> {args.summary}, {args.markdown}")
    return 0


def _read_table(path):
    import pandas as pd
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise CloverError(f"table {p} not found (run `clover aggregate` first)")
    return pd.read_csv(p, keep_default_na=True, dtype={"floor": str})


def _read_csv(path, flag: str):
    import pandas as pd
    from pathlib import Path

    if not Path(path).is_file():
        raise CloverError(f"table {path} not found ({flag})")
    return pd.read_csv(path)


def _figures(args: argparse.Namespace) -> int:
    from clover.analysis.figures import FIGURES, make_figure, save

    hourly = _read_table(args.hourly)
    runs = _read_table(args.summary)
    for t in (hourly, runs):
        t["floor"] = t["floor"].fillna("none").astype(str)
    gpus = _read_table(args.gpus) if args.gpus else None
    extra = {}
    for key in ("decomposition", "reference"):
        path = getattr(args, key, None)
        if path:
            extra[key] = _read_csv(path, f"--{key}")
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
    from clover.control.gpucount import gpu_count_table
    from clover.cliutil import parse_json_arg
    from clover.control.cli import profile_source, profile_table

    from clover.sim.protocol import protocol_settings
    from clover.tables import write_csv

    protocol = protocol_settings(args.protocol)
    profiles = profile_table(args.app, args.gpu, args.profiles,
                             batch_sizes=(1, protocol.batch(args.app)))
    lam = args.lam if args.lam is not None else protocol.default_lam
    table = gpu_count_table(
        args.app, args.gpu, profiles, args.schemes, args.base_gpus, args.max_gpus,
        args.max_accuracy_loss, args.ci, lam,
        parse_json_arg(args.problem_json, "--problem-json"),
        parse_json_arg(args.scheme_params_json, "--scheme-params-json"), args.seed,
        profile_source(profiles), protocol=args.protocol)
    if args.out:
        write_csv(table, args.out)
    else:
        print(table.to_string(index=False))
    return 0


def _reference_check(args: argparse.Namespace) -> int:
    """The artifact's measured arrival sweep beside the modeled one (held-out check)."""
    from clover.analysis.reference import load_reference, reference_check
    from clover.control.reference_model import modeled_reference_table
    from clover.paths import resolve_data_dir
    from clover.tables import write_csv

    measured = load_reference(resolve_data_dir(args.data_dir))
    table = reference_check(measured, lambda m: modeled_reference_table(m, seed=args.seed))
    table.insert(0, "protocol", "paper")
    table.insert(1, "grid", "reference")
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


def register(sub: argparse._SubParsersAction) -> None:
    from clover.control.cli import add_problem_args

    a = sub.add_parser("aggregate", help="controller logs -> hourly table, per-run summary, "
                                         "headline table (summary.md)")
    a.add_argument("--runs", nargs="+", required=True, help="controller logs (CSV)")
    a.add_argument("--gpu-count", nargs="*", default=[], help="`clover gpu-count` tables")
    config_option(a, "--backend", key="backend", help="model or live (default %(default)s)")
    a.add_argument("--decomposition", help="results/decomposition.csv (claims table reading)")
    a.add_argument("--reference", help="results/reference_check.csv (claims table verdict)")
    _main_grid_args(a)
    a.add_argument("--hourly", required=True, help="output: every hour of every run (CSV)")
    a.add_argument("--summary", required=True, help="output: one row per run (CSV)")
    a.add_argument("--gpus", required=True, help="output: GPU counts with embodied carbon (CSV)")
    a.add_argument("--markdown", required=True, help="output: headline table (Markdown)")
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
    config_option(g, "--schemes", key="gpu_count.schemes", nargs="+", choices=SCHEME_NAMES,
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
                  help="λ (config lam; none: the protocol's, paper 0.1, extended 0.5)")
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
    from clover.analysis.year_cli import register as register_year

    register_year(sub)
