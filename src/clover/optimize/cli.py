"""``clover optimize``: one scheme's decision for one hour."""

from __future__ import annotations

import argparse
import json

from clover.cliutil import (CI_MAX_G_PER_KWH, add_config_arg, add_json_flag, add_protocol_args,
                             ci_value, config_option, number, pue_value, seed_value)
from clover.errors import CloverError
from clover.mig.geometry import DEFAULT_GPU, GPUS
from clover.models.catalog import APPS
from clover.names import SCHEME_NAMES
from clover.sim.problem import CI_REF_G_PER_KWH, LOAD_FRACTION, PUE


def load_profile_table(app: str, gpu: str, path: str | None = None, backend: str = "model",
                       batch_sizes: tuple[int, ...] = (1,)):
    """The profile table: a CSV/parquet file in the profile schema, checked by the same
    table check as ``clover run`` (``clover.profiles.schema.validate_table``), or
    ``clover.profiles.load_profiles(app, gpu, backend)``."""
    try:
        from clover.profiles import load_profiles
    except ImportError:
        raise CloverError("clover.profiles is not available in this checkout: pass "
                          "--profiles PATH (a table in the profile schema)") from None
    if path:
        from clover.profiles.schema import read_table

        return read_table(path)  # may hold other apps' rows: Problem.build selects
    return load_profiles(app, gpu, backend=backend, batch_sizes=batch_sizes)


def _params(pairs: list[str] | None, scheme: str | None = None) -> dict:
    """``--param NAME=VALUE`` pairs (values JSON-decoded), checked against the scheme's
    DEFAULTS types and signs when ``scheme`` is given."""
    out = {}
    for item in pairs or []:
        if "=" not in item:
            raise CloverError(f"--param expects NAME=VALUE (got {item!r})")
        k, v = item.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    if scheme is not None:
        from clover.optimize.schemes import check_scheme_params

        out = check_scheme_params(scheme, out, "--param")
    return out


def _run(args: argparse.Namespace) -> int:
    from clover.sim.protocol import protocol_from_args
    from clover.optimize.schemes import default_evaluator, make_scheme
    from clover.sim import SimEvaluator
    from clover.sim.protocol import build_problem

    params = _params(args.param, args.scheme)
    settings = protocol_from_args(args)
    if args.gpus is None:  # --gpus and --ci are range-checked by their argparse types
        args.gpus = settings.default_gpus
    profiles = load_profile_table(args.app, args.gpu, args.profiles, args.backend,
                                  batch_sizes=(1, settings.batch(args.app)))
    problem = build_problem(args.app, args.gpu, args.gpus, profiles, settings, lam=args.lam,
                            load_fraction=args.load_fraction, sla_factor=args.sla_factor,
                            ci_ref=args.ci_ref, pue=args.pue, accuracy_floor=args.accuracy_floor,
                            seed=args.seed)
    if settings.dispatch == "fcfs":
        evaluator = default_evaluator(problem)
    else:
        evaluator = SimEvaluator(problem, simulate=args.simulate)
    scheme = make_scheme(args.scheme, problem, evaluator, **params)
    if args.scheme == "jung" and args.ci_range:
        scheme.set_period(args.ci_range)
    d = scheme.decide(0, args.ci)
    ev = d.evaluation
    if not (ev.feasible and ev.sla_met):
        why = ev.reason or f"p95 {ev.p95_ms:.2f} ms > SLA {ev.sla_ms:.2f} ms"
        raise CloverError(f"scheme {args.scheme}: no feasible configuration found ({why})")
    if args.json:
        out = d.as_dict()
        out.update({"app": args.app, "gpu": problem.gpu, "n_gpus": problem.n_gpus,
                    "lam": problem.lam, "base_carbon_g": problem.base_carbon_g,
                    "base_accuracy": problem.base_accuracy, "load_fraction": problem.load_fraction})
        out.update(settings.columns(args.app))
        base = make_scheme("base", problem, evaluator).decide(0, args.ci)
        out.update({"base_gpus": problem.base_gpus,
                    "base_carbon_g_per_request": base.carbon_g_per_request,
                    "carbon_saved_pct": (1.0 - d.carbon_g_per_request
                                         / base.carbon_g_per_request) * 100.0,
                    "accuracy_loss_pts": base.evaluation.accuracy - ev.accuracy})
        print(json.dumps(out, indent=2))
        return 0
    print(f"{args.scheme} for {args.app} on {problem.n_gpus} x {problem.gpu} at ci = "
          f"{args.ci:g} g/kWh (lambda = {problem.lam:g}, load {problem.rate_rps:.1f} req/s = "
          f"{problem.load_fraction:.0%} of BASE capacity)")
    print("configuration:")
    groups: dict = {}
    for g in d.configuration.canonical().gpus:
        key = " + ".join(f"{p}:{v}" for p, v in zip(g.layout, g.variants))
        groups[key] = groups.get(key, 0) + 1
    for key, n in groups.items():
        print(f"  {n:>3} x GPU [{key}]")
    print("traffic (req/s): " + ", ".join(f"{v}@{s} {y:.1f}" for (v, s), y in ev.shares.items()))
    print(f"objective {d.objective:.3f}  (dCarbon {d.delta_carbon_pct:+.2f}%, "
          f"dAccuracy {d.delta_accuracy_pct:+.2f}%)")
    print(f"p95 {ev.p95_ms:.2f} ms vs SLA {ev.sla_ms:.2f} ms ({'met' if ev.sla_met else 'MISSED'}); "
          f"mean {ev.mean_latency_ms:.2f} ms [{ev.source}]")
    print(f"energy {ev.energy_j_per_request:.4f} J/request, carbon "
          f"{d.carbon_g_per_request * 1000:.4f} mg/request (BASE at {problem.ci_ref:g} g/kWh: "
          f"{problem.base_carbon_g * 1000:.4f} mg), accuracy {ev.accuracy:.3f}%")
    print(f"evaluations {len(d.evaluations)}, decision {d.decision_s * 1000:.1f} ms")
    return 0


def _space(args: argparse.Namespace) -> int:
    from clover.mig.geometry import get_gpu
    from clover.optimize.space import space_summary

    get_gpu(args.gpu)
    fitting = None
    if not args.all_variants:
        from clover.sim.problem import build_types

        profiles = load_profile_table(args.app, args.gpu, args.profiles, args.backend)
        t = build_types(profiles, args.app, get_gpu(args.gpu).key, None)

        def fitting(s):
            si = t.slices.index(s)
            return tuple(v for vi, v in enumerate(t.variants) if t.fits[vi * len(t.slices) + si])
    out = space_summary(args.app, args.gpu, fitting)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"replicated space of {args.app} on {out['gpu']} (sc23-clover partition codes; "
          f"variants {', '.join(out['variants'])})")
    print(f"partitions ({len(out['partitions'])}):")
    for p in out["partitions"]:
        print(f"  {p['code']:>2}: {' + '.join(p['profiles'])}")
    print(f"slice mixes ({len(out['slice_mixes'])}), distinct graphs per mix:")
    for m, n in out["graphs_per_mix"].items():
        print(f"  {m}: {n}")
    print(f"distinct configuration graphs: {out['graphs']}")
    if "fitting_graphs" in out:
        print(f"  of which every variant fits its slice (batch-1 profile rows): "
              f"{out['fitting_graphs']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser("space", help="the artifact's replicated search space: partitions, "
                                      "slice mixes, distinct configuration graphs")
    sp.add_argument("--app", required=True, choices=sorted(APPS))
    sp.add_argument("--gpu", default=DEFAULT_GPU, help=f"one of {', '.join(GPUS)}")
    sp.add_argument("--profiles", default=None, help="profile table file (for the fit count)")
    sp.add_argument("--backend", default="model", help="clover.profiles backend (model)")
    sp.add_argument("--all-variants", action="store_true",
                    help="skip the fit check (no profile table needed)")
    add_json_flag(sp)
    sp.set_defaults(func=_space)

    parser = sub.add_parser("optimize", help="choose a configuration for one hour with a scheme")
    parser.add_argument("--app", required=True, choices=sorted(APPS))
    parser.add_argument("--gpus", type=number("--gpus", lo=1, integer=True), default=None,
                        help="number of GPUs (default: extended 10, paper 2)")
    parser.add_argument("--ci", type=ci_value("--ci"), required=True,
                        help="carbon intensity, g/kWh (0 to 3,000)")
    parser.add_argument("--scheme", default="clover", choices=SCHEME_NAMES)
    add_config_arg(parser)
    config_option(parser, "--lam", key="lam", type=number("--lam", lo=0.0, hi=1.0),
                  help="lambda of the objective (default: the protocol's, paper 0.1, "
                       "extended 0.5)")
    config_option(parser, "--gpu", key="gpu", help=f"one of {', '.join(GPUS)} (default %(default)s)")
    parser.add_argument("--load-fraction",
                        type=number("--load-fraction", lo=0.0, hi=1.0, lo_open=True, hi_open=True),
                        default=LOAD_FRACTION,
                        help=f"offered load / BASE capacity (default {LOAD_FRACTION})")
    parser.add_argument("--sla-factor", type=number("--sla-factor", lo=0.0, lo_open=True),
                        default=1.0,
                        help="L_tail = factor x BASE p95 at the offered load (default 1)")
    parser.add_argument("--accuracy-floor", type=number("--accuracy-floor", lo=0.0, hi=100.0),
                        default=None, help="minimum accuracy, %%")
    parser.add_argument("--ci-ref",
                        type=number("--ci-ref", lo=0.0, hi=CI_MAX_G_PER_KWH, lo_open=True),
                        default=CI_REF_G_PER_KWH,
                        help="ci of C_base, g/kWh (default 250)")
    parser.add_argument("--pue", type=pue_value("--pue"), default=PUE, help="PUE (default 1.5)")
    parser.add_argument("--ci-range", type=ci_value("--ci-range"), nargs=2,
                        metavar=("LOW", "HIGH"),
                        help="JUNG: the period's min and max ci")
    parser.add_argument("--param", action="append", metavar="NAME=VALUE",
                        help="scheme parameter (repeatable), e.g. max_distance=8")
    parser.add_argument("--profiles", default=None, help="profile table file (CSV or parquet)")
    parser.add_argument("--backend", default="model", help="clover.profiles backend (model)")
    parser.add_argument("--simulate", action="store_true",
                        help="p95 from the event simulation instead of the closed form")
    config_option(parser, "--seed", key="seed", type=seed_value(), help="default %(default)s")
    add_json_flag(parser)
    add_protocol_args(parser)
    parser.set_defaults(func=_run)
