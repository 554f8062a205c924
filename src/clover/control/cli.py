"""``clover run``: one controller run (an app, a scheme, a carbon trace, λ) to a CSV log, on the
simulator (``--backend model``) or the live service (``--backend live``), with one controller;
``clover run-grid``: every scheme of one pipeline job (same app, trace, λ, floor) in one process;
``clover live``: the alias of ``clover run --backend live`` with the live flags."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clover.cliutil import (HOURS_MAX, add_config_arg, add_data_dir_option, add_protocol_args,
                             config_option, number, parse_json_arg, parse_max_loss, seed_value)
from clover.errors import CloverError
from clover.mig.geometry import GPUS
from clover.models.catalog import APPS
from clover.names import SCHEME_NAMES
from clover.timestamps import iso_utc


def profile_table(app: str, gpu: str, path: str | None, backend: str = "model",
                  batch_sizes: tuple[int, ...] = (1,)):
    """The per-slice profile table (a file written by ``clover profile``, or modeled in memory
    with rows at ``batch_sizes``)."""
    from clover.profiles import load_profiles

    return load_profiles(app, gpu, backend=backend, path=path, batch_sizes=batch_sizes)


def profile_source(profiles) -> str:
    """The ``source`` of the profile rows an app uses (``modeled``, ``measured-gpu`` ...)."""
    if "source" not in profiles.columns:
        return "unknown"
    values = sorted({str(s) for s in profiles["source"].dropna()})
    return "+".join(values) if values else "unknown"


def build_problem(app: str, gpu: str, n_gpus: int, profiles, lam: float | None,
                  max_accuracy_loss_pct: float | None, problem_kwargs: dict, seed: int,
                  settings=None):
    """``clover.sim.Problem`` for a run under the protocol ``settings`` (default extended);
    the accuracy floor is BASE accuracy minus the loss."""
    import inspect

    from clover.models.catalog import largest_variant
    from clover.sim import Problem
    from clover.sim.protocol import build_problem as build, protocol_settings

    settings = settings or protocol_settings("extended")
    known = set(inspect.signature(Problem.build).parameters) - {
        "cls", "app", "gpu", "n_gpus", "profiles", "lam", "accuracy_floor", "seed"}
    unknown = sorted(set(problem_kwargs) - known)
    if unknown:
        raise CloverError(f"--problem-json: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    floor = None
    if max_accuracy_loss_pct is not None:
        floor = largest_variant(app).accuracy * (1.0 - max_accuracy_loss_pct / 100.0)
    try:
        return build(app, gpu, n_gpus, profiles, settings, lam=lam, accuracy_floor=floor,
                     seed=seed, **problem_kwargs)
    except TypeError as exc:
        raise CloverError(f"config problem: {exc}") from None
    except CloverError as exc:
        if exc.message.split(" ", 1)[0] in known:  # a value of --problem-json
            raise CloverError(f"--problem-json: {exc.message}") from None
        raise


def check_scheme_params_json(scheme_params: dict) -> None:
    """``--scheme-params-json``: scheme name -> object of that scheme's parameters."""
    from clover.optimize.schemes import DEFAULTS, check_scheme_params

    for name, params in scheme_params.items():
        if name not in DEFAULTS:
            raise CloverError(f"--scheme-params-json: unknown scheme {name!r} "
                              f"(known: {', '.join(DEFAULTS)})")
        if not isinstance(params, dict):
            raise CloverError(f"--scheme-params-json {name}: expected a JSON object, got "
                              f"{type(params).__name__}")
        check_scheme_params(name, params, f"--scheme-params-json {name}")


def build_scheme(name: str, problem, evaluator, scheme_params: dict, seed: int):
    """``clover.optimize.make_scheme`` with the config's parameters; seeded when it has a seed."""
    from clover.optimize.schemes import DEFAULTS, make_scheme

    params = dict(scheme_params.get(name, {}))
    if "seed" in DEFAULTS.get(name, {}) and params.get("seed") is None:
        params["seed"] = seed
    return make_scheme(name, problem, evaluator, **params)


def trace_hours(spec: str, data_dir: str | None, hours: int | None):
    """(intensities g/kWh, ISO timestamps) of the trace ``spec``, its first ``hours`` hours."""
    from clover.carbon import load_trace

    trace = load_trace(spec, data_dir)
    ci = [float(x) for x in trace.ci_g_per_kwh]
    stamps = [iso_utc(t) for t in trace.timestamps_utc]
    if hours is not None:
        if hours > len(ci):
            raise CloverError(f"--hours {hours} is longer than trace {spec} "
                              f"({len(ci)} h); give --hours <= {len(ci)} or a longer trace")
        ci, stamps = ci[:hours], stamps[:hours]
    return ci, stamps


def sim_evaluator(problem) -> Any:
    """The simulator's evaluator for ``problem`` (its protocol's dispatch)."""
    from clover.optimize.schemes import default_evaluator

    return default_evaluator(problem)


def run_once(args: argparse.Namespace, live=None, service=None, log=None, on_hour=None):
    """Build everything a run needs from the parsed arguments and step the controller.

    ``--backend model``: the simulator, transitions priced by ``ModeledCosts``. ``--backend
    live``: the live service (``clover.serve.live``; ``live`` = its
    :class:`~clover.serve.live.LiveSettings`, default from ``CLOVER_LIVE_*``; ``service`` an
    already started one), BASE measured to set the SLA and C_base, transitions and hours
    measured (``MeasuredCosts``). ``log`` takes progress lines (live), ``on_hour`` the log so
    far after every hour.
    """
    from clover.sim.protocol import protocol_from_args

    # --n-gpus, --lam and --hours are range-checked by their argparse types (clover.cliutil)
    protocol = protocol_from_args(args)
    if args.n_gpus is None:
        args.n_gpus = protocol.default_gpus
    if args.lam is None:
        args.lam = protocol.default_lam
    max_loss = parse_max_loss(args.max_accuracy_loss)
    problem_kwargs = parse_json_arg(args.problem_json, "--problem-json")
    scheme_params = parse_json_arg(args.scheme_params_json, "--scheme-params-json")
    check_scheme_params_json(scheme_params)
    ci, stamps = trace_hours(args.trace, args.data_dir, args.hours)

    def problem_for(gpu, n_gpus, profiles, kwargs):
        return build_problem(args.app, gpu, n_gpus, profiles, args.lam, max_loss, kwargs,
                             args.seed, protocol)

    if args.backend == "live":
        return _run_live(args, protocol, problem_for, problem_kwargs, scheme_params, ci, stamps,
                         live, service, log, on_hour)
    profiles = profile_table(args.app, args.gpu, args.profiles,
                             batch_sizes=(1, protocol.batch(args.app)))
    problem = problem_for(args.gpu, args.n_gpus, profiles, problem_kwargs)
    from clover.control.accounting import ModeledCosts

    costs = ModeledCosts(reconfig_costs(protocol, args), problem.rate_rps)
    return control_run(args, protocol, problem, sim_evaluator(problem), costs, scheme_params,
                       ci, stamps, source=profile_source(profiles), backend=args.backend,
                       on_hour=on_hour)


def _run_live(args, protocol, problem_for, problem_kwargs, scheme_params, ci, stamps, live,
              service, log, on_hour):
    """:func:`run_once` on the live service: BASE measured sets the SLA and C_base (the
    problem is rebuilt at the same rate with that SLA), deploys and hours are measured."""
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (calibration)
    from clover.serve.live import LiveBackend, LiveSettings

    log = log or (lambda m: print(f"[live] {m}", file=sys.stderr, flush=True))
    backend = LiveBackend((live or LiveSettings.from_env()).with_flags(args), args.app, args.gpu,
                          args.n_gpus, seed=args.seed, log=log, service=service,
                          protocol=protocol)
    backend.check_slots()  # GPUs and cores, before anything starts
    profiles = backend.profiles(args.profiles)
    draft = problem_for(backend.gpu, backend.n_gpus, profiles, problem_kwargs)
    backend.check_memory(draft)  # before any replica starts
    with backend:
        base = backend.measure_base(draft, problem_kwargs.get("sla_ms"))
        problem = base.apply(problem_for(backend.gpu, backend.n_gpus, profiles, {
            **problem_kwargs, "rate_rps": draft.rate_rps, "sla_ms": base.sla_ms}))
        log(f"C_base {problem.base_carbon_g * 1000:.4f} mg/request")
        problem = backend.scheme_problem(problem, args.scheme)  # BASE: the reference's deploy
        evaluator, costs = backend.controller_parts(problem, sim_evaluator(problem),
                                                    args.eval_window_s, base)
        return control_run(args, protocol, problem, evaluator, costs, scheme_params, ci, stamps,
                           source="", backend=backend.kind,
                           hour_s=backend.settings.hour_seconds,
                           on_hour=_logging_hours(log, on_hour))


def _logging_hours(log, on_hour):
    """``on_hour`` that also logs the hour's line (a live run takes minutes per hour)."""
    def each(df) -> None:
        r = df.iloc[-1]
        log(f"hour {r['hour']} ci {r['ci_g_per_kwh']:6.1f} g/kWh | {r['configuration']} | "
            f"p95 {r['p95_ms']:7.1f} ms (SLA {r['sla_ms']:.1f}) | acc {r['accuracy']:.2f}% | "
            f"{r['energy_j_per_request']:.3f} J/req | f {r['objective']:+.2f} | reconfig "
            f"{r['reconfig_s']:.1f} s | {r['evaluations']} evals | "
            f"{r['answered']}/{r['requests']} ok")
        if on_hour is not None:
            on_hour(df)

    return each


def control_run(args: argparse.Namespace, protocol, problem, evaluator, costs,
                scheme_params: dict, ci: list[float], stamps: list[str], *, source: str,
                backend: str, hour_s: float = 3600.0, on_hour=None):
    """The scheme and the controller of one run, stepped through the trace (both backends).

    ``source`` is the profiles' provenance (simulator), or empty: each evaluation states its
    own (live: measured-cpu/-gpu)."""
    from clover.control.controller import ControlSettings, Controller

    scheme = build_scheme(args.scheme, problem, evaluator, scheme_params, args.seed)
    scheme.set_period(ci)
    settings = ControlSettings(eval_window_s=args.eval_window_s, hour_s=hour_s,
                               initial=args.initial)
    meta = {"scheme": args.scheme, "app": args.app, "lam": args.lam,
            "trace": args.trace_name or args.trace, "source": source, "backend": backend,
            "gpu": problem.gpu,
            "accuracy_floor": "" if problem.accuracy_floor is None else problem.accuracy_floor,
            **protocol.columns(args.app)}
    controller = Controller(problem, scheme, evaluator, costs, settings=settings, meta=meta)
    return controller.run(ci, stamps, progress=args.progress, on_hour=on_hour)


def reconfig_costs(protocol, args):
    """What a reconfiguration costs under ``protocol.accounting``: ``artifact`` (the paper
    protocol, sc23-clover ``system/run.py``) charges none — zero re-partition and load time
    (infinite load bandwidth), whatever the control flags say; ``modeled`` the flags' costs."""
    import math

    from clover.control.accounting import ReconfigCosts

    if protocol.accounting == "artifact":
        return ReconfigCosts(0.0, 0.0, math.inf)
    return ReconfigCosts(args.mig_repartition_s, args.model_load_base_s, args.model_load_mb_per_s)


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


def run_and_write(args: argparse.Namespace, live=None, service=None, log=None):
    """:func:`run_once`, its log labelled and written to ``--out`` (atomically) or stdout;
    returns the labelled log. A live run keeps its log so far in ``<out>.partial`` after
    every hour, removed when the run ends or is stopped (no partial log is left as a log)."""
    from pathlib import Path

    from clover.control.grid import label_log
    from clover.tables import CSV_FORMAT, write_csv

    def labelled(df):
        return label_log(df, args.protocol, args.grid)

    on_hour, partial = None, Path(f"{args.out}.partial")
    if args.backend == "live" and args.out:
        def on_hour(df) -> None:
            write_csv(labelled(df), partial)

    try:
        out = labelled(run_once(args, live, service, log, on_hour))
    finally:
        if on_hour is not None:
            partial.unlink(missing_ok=True)
    if args.out:
        write_csv(out, args.out)
    else:
        print(out.to_csv(**CSV_FORMAT), end="")
    return out


@_sigterm_like_ctrl_c_when_live
def _run(args: argparse.Namespace) -> int:
    run_and_write(args)
    return 0


class _RaisingParser(argparse.ArgumentParser):
    """A parser whose usage errors are CloverErrors (one line, exit 2, via clover.cli)."""

    def error(self, message: str):  # type: ignore[override]
        raise CloverError(f"{self.prog}: {message}")


def live_command(args: argparse.Namespace, service=None, log=None):
    """``clover live``: its flags mapped onto ``clover run --backend live`` (one code path),
    parsed by the ``run`` parser itself; the log goes to
    ``<out-dir>/<app>_<backend>_<scheme>_<trace>.csv`` (grid label ``live``), every window's
    requests to ``..._requests/``. ``service``: an already started live service (tests)."""
    import json
    from pathlib import Path

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
    flags = {"--app": args.app, "--gpu": args.gpu, "--backend": "live", "--scheme": args.scheme,
             "--trace": args.trace, "--lam": args.lam, "--max-accuracy-loss": args.max_accuracy_loss,
             "--n-gpus": args.gpus, "--hours": args.hours, "--eval-window-s": args.candidate_window_s,
             "--seed": args.seed, "--profiles": args.profiles, "--data-dir": args.data_dir,
             "--problem-json": json.dumps(problem) if problem else None,
             "--scheme-params-json": args.scheme_params_json, "--grid": "live",
             "--out": str(out_dir / f"{name}.csv")}
    parser = _RaisingParser(prog="clover")
    register(parser.add_subparsers(dest="command"))
    run = parser.parse_args(["run", *[x for k, v in flags.items() if v is not None
                                      for x in (k, str(v))]])
    return run_and_write(run, live, service, log)


def _live(args: argparse.Namespace) -> int:
    """SIGTERM takes the Ctrl-C path (service stopped, Ray shut down, exit 143)."""
    from clover.serve.safety import call_with_sigterm_as_ctrl_c

    def work(a: argparse.Namespace) -> int:
        live_command(a)
        return 0

    return call_with_sigterm_as_ctrl_c(work, args)


@_sigterm_like_ctrl_c_when_live
def _run_grid(args: argparse.Namespace) -> int:
    from clover.control.grid import run_schemes

    if args.backend != "live":
        run_schemes(args, args.schemes, args.out, run_once)
        return 0
    from clover.serve.live import LiveSettings, shared_service
    from clover.sim.protocol import protocol_from_args

    protocol = protocol_from_args(args)  # every scheme on one service (Ray starts once)
    settings = LiveSettings.from_env().with_flags(args)
    with shared_service(settings, args.app, args.gpu, args.n_gpus or protocol.default_gpus,
                        protocol, args.seed) as service:
        run_schemes(args, args.schemes, args.out, lambda a: run_once(a, service=service))
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
                  help="λ of the objective (config lam; none: the protocol's, extended 0.5, "
                       "paper 0.1)")
    p.add_argument("--max-accuracy-loss", default="none",
                   help="accuracy floor as the largest loss vs BASE, %% (default none)")
    config_option(p, "--n-gpus", key="n_gpus", type=number("--n-gpus", lo=1, integer=True),
                  help="GPUs serving the app (config n_gpus; none: extended 10, paper 2)")
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
    p.add_argument("--scheme", required=True, choices=SCHEME_NAMES)
    p.add_argument("--out", help="CSV log to write (atomically); default stdout")
    p.set_defaults(func=_run)

    g = sub.add_parser("run-grid", help="every scheme of one pipeline job in one process "
                                        "(one controller log per scheme)")
    add_run_args(g)
    g.add_argument("--schemes", nargs="+", required=True, choices=SCHEME_NAMES)
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
    from clover.control.decomposition import _cli

    return _cli(args)


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
                  help="N, the schemes' GPUs (config n_gpus; none: the paper protocol's, 2)")
    p.add_argument("--k", type=int, help="BASE's GPU factor (default: the paper protocol's, 5)")
    config_option(p, "--gpu", key="gpu", help="default %(default)s")
    p.add_argument("--lam", type=float, help="λ (default: the paper protocol's, 0.1)")
    config_option(p, "--seed", key="seed", type=seed_value(), help="default %(default)s")
    config_option(p, "--hours", key="hours", type=int,
                  help="only the first HOURS hours of each trace")
    add_data_dir_option(p)
    p.add_argument("--out", default="results/decomposition.csv")
    p.set_defaults(func=_decomposition)
