"""``clover run``: one controller run (an app, a scheme, a carbon trace, λ) to a CSV log, on the
simulator (``--backend model``) or the live service (``--backend live``), with one controller;
``clover run-grid``: every scheme of one pipeline job (same app, trace, λ, floor) in one process;
``clover live``: the alias of ``clover run --backend live`` with the live flags;
``clover decomposition``. Each parses its flags into a :class:`clover.api.RunSpec` (or the
study's arguments) and calls :mod:`clover.api`."""

from __future__ import annotations

import argparse
import functools

from clover.cliutil import (HOURS_MAX, add_config_arg, add_data_dir_option, add_protocol_args,
                             config_option, number, parse_json_arg, parse_max_loss,
                             preset_help, protocol_overrides, seed_value)
from clover.errors import CloverError
from clover.mig.geometry import GPUS
from clover.models.catalog import APPS
from clover.names import scheme_names

#: RunSpec field -> the flag that sets it, for the errors the API raises naming the field
FLAGS = {"problem": "--problem-json", "scheme_params": "--scheme-params-json",
         "hours": "--hours", "lam": "--lam", "scheme": "--scheme", "seed": "--seed",
         "n_gpus": "--n-gpus"}
#: ``clover live``'s flags where they differ
LIVE_FLAGS = {**FLAGS, "n_gpus": "--gpus", "eval_window_s": "--candidate-window-s"}


def flag_errors(fn, flags: dict = FLAGS):
    """``fn`` whose CloverErrors about a :class:`~clover.api.RunSpec` field name its flag."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CloverError as exc:
            for name, flag in flags.items():
                if exc.message.startswith((f"{name}:", f"{name} ")):
                    raise CloverError(flag + exc.message[len(name):]) from None
            raise

    return call


def spec_from_args(args: argparse.Namespace):
    """The :class:`clover.api.RunSpec` of ``clover run`` / ``run-grid`` flags (``scheme``:
    ``--scheme``, or None under run-grid)."""
    from clover.api import RunSpec

    return RunSpec(
        app=args.app, scheme=getattr(args, "scheme", None), trace=args.trace,
        trace_name=args.trace_name, gpu=args.gpu, n_gpus=args.n_gpus, lam=args.lam,
        max_accuracy_loss_pct=parse_max_loss(args.max_accuracy_loss), hours=args.hours,
        seed=args.seed, backend=args.backend, protocol=args.protocol,
        **protocol_overrides(args),
        problem=parse_json_arg(args.problem_json, "--problem-json"),
        scheme_params=parse_json_arg(args.scheme_params_json, "--scheme-params-json"),
        profiles=args.profiles, data_dir=args.data_dir, eval_window_s=args.eval_window_s,
        mig_repartition_s=args.mig_repartition_s, model_load_base_s=args.model_load_base_s,
        model_load_mb_per_s=args.model_load_mb_per_s, initial=args.initial, grid=args.grid)


def _sigterm_like_ctrl_c_when_live(fn):
    """With ``--backend live``, SIGTERM takes the Ctrl-C path (the live service is stopped and
    Ray shut down, exit 143), as for ``clover live`` (``clover.serve.safety``); the simulator
    needs no handler."""
    import functools

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        if getattr(args, "backend", "model") != "live":
            return fn(args)
        from clover.serve.safety import call_with_sigterm_as_ctrl_c

        return call_with_sigterm_as_ctrl_c(fn, args)

    return run


@flag_errors
def run_and_write(spec, out: str | None, progress: bool = False, live=None, service=None,
                  log=None):
    """:func:`clover.api.run`, its log written to ``out`` (atomically) or stdout; returns the
    log. A live run keeps its log so far in ``<out>.partial`` after every hour, removed when
    the run ends or is stopped (no partial log is left as a log)."""
    from pathlib import Path

    from clover.api import run
    from clover.tables import CSV_FORMAT, write_csv

    on_hour, partial = None, Path(f"{out}.partial")
    if spec.backend == "live" and out:
        def on_hour(df) -> None:
            write_csv(df, partial)

    try:
        result = run(spec, on_hour=on_hour, progress=progress, live=live, service=service,
                     log=log)
    finally:
        if on_hour is not None:
            partial.unlink(missing_ok=True)
    if out:
        write_csv(result.log, out)
    else:
        print(result.log.to_csv(**CSV_FORMAT), end="")
    return result.log


@_sigterm_like_ctrl_c_when_live
def _run(args: argparse.Namespace) -> int:
    live = None
    if args.backend == "live":
        from clover.serve.live import LiveSettings

        live = LiveSettings.from_env().with_flags(args)
    run_and_write(flag_errors(spec_from_args)(args), args.out, args.progress, live=live)
    return 0


def live_spec(args: argparse.Namespace):
    """(:class:`clover.api.RunSpec`, :class:`clover.serve.live.LiveSettings`, log path) of
    ``clover live`` flags: the run's settings the flags give, the schema's for the rest."""
    from pathlib import Path

    from clover.api import RunSpec
    from clover.serve.live import LiveSettings, run_name

    name = run_name(args.app, args.backend, args.scheme, args.trace)
    out_dir = Path(args.out_dir)
    live = LiveSettings(
        backend=args.backend, cluster_file=args.cluster, hour_seconds=args.hour_seconds,
        input_scale=args.input_scale, search=args.search, arrivals=args.arrivals,
        sla_factor=args.sla_factor, calib_iterations=args.calib_iterations, http_port=args.port,
        num_cpus=args.num_cpus, cores_per_gpu=args.cores_per_gpu, out_dir=str(out_dir),
        request_log_dir=str(out_dir / f"{name}_requests")).validate()
    problem = {k: v for k, v in (("rate_rps", args.rate_rps), ("load_fraction", args.load_fraction),
                                 ("sla_ms", args.sla_ms)) if v is not None}
    given = {"gpu": args.gpu, "lam": args.lam, "seed": args.seed, "data_dir": args.data_dir,
             "scheme_params": parse_json_arg(args.scheme_params_json, "--scheme-params-json")}
    spec = RunSpec.from_config(
        None, app=args.app, scheme=args.scheme, trace=args.trace, backend="live",
        max_accuracy_loss_pct=parse_max_loss(args.max_accuracy_loss), n_gpus=args.gpus,
        hours=args.hours, eval_window_s=args.candidate_window_s, profiles=args.profiles,
        problem=problem, grid="live", **{k: v for k, v in given.items() if v is not None})
    return spec, live, str(out_dir / f"{name}.csv")


def live_command(args: argparse.Namespace, service=None, log=None):
    """``clover live``: its flags as a live run (:func:`live_spec`, no re-parsing); the log
    goes to ``<out-dir>/<app>_<backend>_<scheme>_<trace>.csv`` (grid label ``live``), every
    window's requests to ``..._requests/``. ``service``: an already started live service
    (tests)."""
    spec, live, out = flag_errors(live_spec, LIVE_FLAGS)(args)
    return run_and_write(spec, out, live=live, service=service, log=log)


def _live(args: argparse.Namespace) -> int:
    """SIGTERM takes the Ctrl-C path (service stopped, Ray shut down, exit 143)."""
    from clover.serve.safety import call_with_sigterm_as_ctrl_c

    def work(a: argparse.Namespace) -> int:
        live_command(a)
        return 0

    return call_with_sigterm_as_ctrl_c(work, args)


def _write_each(results, outs) -> None:
    """Each result's log written to its ``--out`` as its run ends."""
    from clover.tables import write_csv

    for out in outs:
        write_csv(flag_errors(next)(results).log, out)


@_sigterm_like_ctrl_c_when_live
def _run_grid(args: argparse.Namespace) -> int:
    """Every scheme of one job in this process, each labelled log written atomically as its
    run ends (a killed job leaves complete logs only: Snakemake reruns the job); with
    ``--backend live`` every scheme runs on one shared service (Ray and the ingress start
    once)."""
    from clover.api import live_setup, run_schemes

    if len(args.schemes) != len(args.out):
        raise CloverError(f"--schemes names {len(args.schemes)} scheme(s) but --out "
                          f"{len(args.out)} file(s)")
    if len(set(args.out)) != len(args.out):
        raise CloverError("--out names one file twice")
    spec = flag_errors(spec_from_args)(args)
    if args.backend != "live":
        _write_each(flag_errors(run_schemes)(spec, args.schemes, args.seeds), args.out)
        return 0
    from clover.serve.live import LiveSettings, shared_service

    live = LiveSettings.from_env().with_flags(args)
    protocol, n_gpus = flag_errors(live_setup)(spec)
    with shared_service(live, spec.app, spec.gpu, n_gpus, protocol, spec.seed) as svc:
        _write_each(flag_errors(run_schemes)(spec, args.schemes, args.seeds, live=live,
                                             service=svc), args.out)
    return 0


def add_problem_args(p: argparse.ArgumentParser) -> None:
    """Flags shared by ``clover run`` and ``clover gpu-count`` (``--config FILE`` and the
    options defaulting to its keys: config gpu, problem, scheme_params, seed)."""
    add_config_arg(p)
    p.add_argument("--app", required=True, choices=sorted(APPS))
    config_option(p, "--gpu", key="gpu", help=f"one of {', '.join(GPUS)} (default %(default)s)")
    p.add_argument("--profiles", help="profile table written by `clover profile` "
                                      "(default: the modeled table, built in memory)")
    config_option(p, "--problem-json", key="problem",
                  help="JSON object of Problem.build keyword arguments (config problem)")
    config_option(p, "--scheme-params-json", key="scheme_params",
                  help="JSON object: scheme name -> make_scheme params (config scheme_params)")
    config_option(p, "--seed", key="seed", type=seed_value(), help="default %(default)s")


def add_run_args(p: argparse.ArgumentParser) -> None:
    """Flags shared by ``clover run`` and ``clover run-grid`` (all but the scheme and output)."""
    add_problem_args(p)
    p.add_argument("--trace", required=True,
                   help="carbon trace: a preset (CISO-March, CISO-Sep, ESO-March), "
                        "ZONE:season:year[:hours], ZONE:YYYY-MM-DDTHH:hours or a CSV path")
    p.add_argument("--trace-name", help="name written in the log (default: the spec)")
    config_option(p, "--lam", key="lam", type=number("--lam", lo=0.0, hi=1.0),
                  help=f"λ of the objective (config lam; none: the protocol's, "
                       f"{preset_help('lam')})")
    p.add_argument("--max-accuracy-loss", default="none",
                   help="accuracy floor as the largest loss vs BASE, %% (default none)")
    config_option(p, "--n-gpus", key="n_gpus", type=number("--n-gpus", lo=1, integer=True),
                  help=f"GPUs serving the app (config n_gpus; none: the protocol's, "
                       f"{preset_help('default_gpus')})")
    config_option(p, "--backend", key="backend", choices=["model", "live"],
                  help="model: the serving simulator; live: the real service (clover.serve)")
    config_option(p, "--hours", key="hours",
                  type=number("--hours", lo=1, hi=HOURS_MAX, integer=True),
                  help="only the first HOURS hours of the trace")
    config_option(p, "--eval-window-s", key="control.eval_window_s",
                  type=number("--eval-window-s", lo=0.0, lo_open=True),
                  help="seconds each online evaluation serves the traffic (default %(default)s)")
    config_option(p, "--mig-repartition-s", key="control.mig_repartition_s",
                  type=number("--mig-repartition-s", lo=0.0),
                  help="seconds per GPU whose MIG layout changes (default %(default)s)")
    config_option(p, "--model-load-base-s", key="control.model_load_base_s",
                  type=number("--model-load-base-s", lo=0.0),
                  help="fixed seconds per model load (default %(default)s)")
    config_option(p, "--model-load-mb-per-s", key="control.model_load_mb_per_s",
                  type=number("--model-load-mb-per-s", lo=0.0, lo_open=True),
                  help="weight loading bandwidth, MB/s (default %(default)s)")
    config_option(p, "--initial", key="control.initial", choices=["base", "none"],
                  help="what is deployed before hour 0 (default %(default)s: BASE)")
    add_data_dir_option(p)
    p.add_argument("--progress", action="store_true", help="progress bar on stderr")
    add_protocol_args(p)
    from clover.serve.cli import add_live_run_flags

    add_live_run_flags(p)
    p.add_argument("--grid", default="main",
                   help="pipeline grid the run belongs to, written in the log (default main)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="step a scheme through a carbon trace hour by hour "
                                   "(controller log, one row per hour)")
    add_run_args(p)
    p.add_argument("--scheme", required=True, choices=scheme_names())
    p.add_argument("--out", help="CSV log to write (atomically); default stdout")
    p.set_defaults(func=_run)

    g = sub.add_parser("run-grid", help="every scheme of one pipeline job in one process "
                                        "(one controller log per scheme)")
    add_run_args(g)
    g.add_argument("--schemes", nargs="+", required=True, choices=scheme_names())
    g.add_argument("--seeds", nargs="+", type=seed_value(),
                   help="one seed per --schemes entry (default: --seed for every one)")
    g.add_argument("--out", nargs="+", required=True,
                   help="one CSV log per scheme, in --schemes order (each written atomically)")
    g.set_defaults(func=_run_grid)
    _register_decomposition(sub)
    _register_live(sub)


def _register_live(sub) -> None:
    """``clover live``, the alias of ``clover run --backend live`` (flags: clover.serve.cli)."""
    from clover.serve.cli import LIVE_HELP, add_live_args

    p = sub.add_parser("live", help=LIVE_HELP)
    add_live_args(p)
    p.set_defaults(func=_live)


def _decomposition(args: argparse.Namespace) -> int:
    """``clover decomposition``: flags, else the config's apps, traces and N, else the paper
    protocol's N, k and λ (the decomposition is a paper-protocol study)."""
    from clover.api import decomposition
    from clover.control.decomposition import APPS as STUDY_APPS, ORIGINAL_TRACES
    from clover.tables import write_csv

    table = decomposition(
        apps=tuple(args.app or STUDY_APPS), traces=tuple(args.trace or ORIGINAL_TRACES),
        schemes=tuple(args.scheme or ("oracle", "clover")),
        n_gpus=args.n_gpus or None, k=args.k or None, gpu=args.gpu, lam=args.lam, seed=args.seed,
        hours=args.hours, data_dir=args.data_dir)
    write_csv(table, args.out)
    print(f"clover decomposition: {len(table)} rows -> {args.out}")
    return 0


def _register_decomposition(sub) -> None:
    """``clover decomposition``: the savings decomposition to a CSV (atomically)."""
    p = sub.add_parser("decomposition", help="where the savings come from: BASE, then one "
                                             "knob at a time (paper protocol, modeled)")
    add_config_arg(p)
    config_option(p, "--app", key="apps", repeat=True, choices=sorted(APPS),
                  help="repeatable (default: config apps, else all 3)")
    config_option(p, "--trace", key="traces", repeat=True,
                  convert=lambda traces: list(traces.values()),
                  help="carbon trace, repeatable (default: the specs of config traces, else "
                       "CISO-March, CISO-Sep, ESO-March)")
    p.add_argument("--scheme", action="append", choices=("oracle", "clover", "blover"),
                   help="repeatable (default: oracle and clover)")
    config_option(p, "--n-gpus", key="n_gpus", type=int,
                  help="N, the schemes' GPUs (config n_gpus; none: the paper protocol's, "
                       f"{preset_help('default_gpus', 'paper')})")
    p.add_argument("--k", type=int, help="BASE's GPU factor (default: the paper protocol's, "
                                         f"{preset_help('base_gpu_factor', 'paper')})")
    config_option(p, "--gpu", key="gpu", help="default %(default)s")
    p.add_argument("--lam", type=float, help="λ (default: the paper protocol's, "
                                             f"{preset_help('lam', 'paper')})")
    config_option(p, "--seed", key="seed", type=seed_value(), help="default %(default)s")
    config_option(p, "--hours", key="hours", type=int,
                  help="only the first HOURS hours of each trace")
    add_data_dir_option(p)
    p.add_argument("--out", default="results/decomposition.csv")
    p.set_defaults(func=_decomposition)
