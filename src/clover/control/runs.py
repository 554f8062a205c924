"""The parts of one run, typed (no argparse): profiles, trace, problem, scheme, costs and the
controller stepped through the trace. :mod:`clover.api` assembles them for ``run(spec)``;
the studies (:mod:`~clover.control.decomposition`, :mod:`~clover.control.gpucount`,
:mod:`~clover.control.reference_model`) reuse them.

Errors name the :class:`clover.api.RunSpec` field they are about (``problem: ...``,
``scheme_params clover ...``, ``hours 50 ...``); a command line maps the field to its flag.
"""

from __future__ import annotations

from typing import Callable, Mapping

from clover.errors import CloverError
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


def trace_hours(spec: str, data_dir: str | None, hours: int | None):
    """(intensities g/kWh, ISO timestamps) of the trace ``spec``, its first ``hours`` hours."""
    from clover.carbon import load_trace

    trace = load_trace(spec, data_dir)
    ci = [float(x) for x in trace.ci_g_per_kwh]
    stamps = [iso_utc(t) for t in trace.timestamps_utc]
    if hours is not None:
        if hours > len(ci):
            raise CloverError(f"hours {hours} is longer than trace {spec} "
                              f"({len(ci)} h); give hours <= {len(ci)} or a longer trace")
        ci, stamps = ci[:hours], stamps[:hours]
    return ci, stamps


def problem_keys() -> set[str]:
    """The ``problem`` keys a run may set: ``Problem.build``'s keyword arguments but those
    the run itself sets."""
    import inspect

    from clover.sim import Problem

    return set(inspect.signature(Problem.build).parameters) - {
        "cls", "app", "gpu", "n_gpus", "profiles", "lam", "accuracy_floor", "seed"}


def build_problem(app: str, gpu: str, n_gpus: int, profiles, lam: float | None,
                  max_accuracy_loss_pct: float | None, problem_kwargs: Mapping, seed: int,
                  protocol):
    """``clover.sim.Problem`` for a run under ``protocol`` (a protocol object); the accuracy
    floor is BASE accuracy minus the loss. A bad ``problem`` key or value is a CloverError
    naming ``problem``."""
    from clover.models.catalog import largest_variant

    known = problem_keys()
    unknown = sorted(set(problem_kwargs) - known)
    if unknown:
        raise CloverError(f"problem: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    floor = None
    if max_accuracy_loss_pct is not None:
        floor = largest_variant(app).accuracy * (1.0 - max_accuracy_loss_pct / 100.0)
    try:
        return protocol.build_problem(app, gpu, n_gpus, profiles, lam, accuracy_floor=floor,
                                      seed=seed, **problem_kwargs)
    except TypeError as exc:
        raise CloverError(f"config problem: {exc}") from None
    except CloverError as exc:
        if exc.message.split(" ", 1)[0] in known:  # a value of ``problem``
            raise CloverError(f"problem: {exc.message}") from None
        raise


def check_scheme_params_map(scheme_params: Mapping) -> None:
    """``scheme_params``: scheme name -> mapping of that scheme's parameters (each checked
    against the scheme's ``default_params``)."""
    from clover.optimize.registry import SCHEMES, check_scheme_params

    for name, params in scheme_params.items():
        if name not in SCHEMES:
            raise CloverError(f"scheme_params: unknown scheme {name!r} "
                              f"(known: {', '.join(SCHEMES)})")
        if not isinstance(params, Mapping):
            raise CloverError(f"scheme_params {name}: expected a JSON object, got "
                              f"{type(params).__name__}")
        check_scheme_params(name, params, f"scheme_params {name}")


def build_scheme(name: str, problem, evaluator, scheme_params: Mapping, seed: int):
    """The registry's scheme ``name`` with the run's parameters; seeded when it has a seed."""
    from clover.optimize.registry import SCHEMES, make_scheme

    params = dict(scheme_params.get(name, {}))
    if "seed" in SCHEMES[name].cls.default_params and params.get("seed") is None:
        params["seed"] = seed
    return make_scheme(name, problem, evaluator, **params)


def reconfig_costs(protocol, mig_repartition_s: float, model_load_base_s: float,
                   model_load_mb_per_s: float):
    """:class:`~clover.control.accounting.ReconfigCosts` under the protocol's accounting
    (:meth:`clover.sim.protocol.ProtocolSettings.reconfig_costs`: the paper protocol charges
    none, whatever is asked)."""
    from clover.control.accounting import ReconfigCosts

    return ReconfigCosts(*protocol.reconfig_costs(mig_repartition_s, model_load_base_s,
                                                  model_load_mb_per_s))


def step_scheme(name: str, problem, evaluator, costs, settings, meta: dict, ci: list[float],
                stamps: list[str], *, scheme_params: Mapping, seed: int, progress: bool = False,
                on_hour: Callable | None = None):
    """Scheme ``name`` built for ``problem``, shown the period and stepped through the trace
    by the controller: the hourly log (every run: :func:`clover.api.run` on both backends, the
    year study's :class:`clover.control.year.YearService`)."""
    scheme = build_scheme(name, problem, evaluator, scheme_params, seed)
    scheme.set_period(ci)
    return control_run(scheme, problem, evaluator, costs, settings, meta, ci, stamps,
                       progress=progress, on_hour=on_hour)


def control_run(scheme, problem, evaluator, costs, settings, meta: dict, ci: list[float],
                stamps: list[str], *, progress: bool = False,
                on_hour: Callable | None = None):
    """The controller of one run (both backends) stepped through the trace: the hourly log.
    ``scheme`` has seen the period (``set_period``)."""
    from clover.control.controller import Controller

    controller = Controller(problem, scheme, evaluator, costs, settings=settings, meta=meta)
    return controller.run(ci, stamps, progress=progress, on_hour=on_hour)
