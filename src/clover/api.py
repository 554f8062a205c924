"""The run API: one typed spec, one engine (docs/ARCHITECTURE.md starts here).

>>> from clover.api import RunSpec, run
>>> spec = RunSpec.from_config(None, protocol="paper", app="efficientnet", scheme="clover",
...                            trace="CISO-March", hours=4)
>>> result = run(spec)          # result.log: the hourly log `clover run` writes; result.meta

:class:`RunSpec` holds every setting of one run (frozen; each default is the config schema's,
``clover/config.schema.yaml``); :meth:`RunSpec.from_config` takes a
:class:`~clover.config.RunConfig`, a config file (YAML or JSON) or None (the schema's
defaults) and overrides by key. :func:`run` steps the scheme through the trace on the
simulator or the live service, :func:`decide` asks the scheme for one hour, :func:`evaluate`
scores one configuration. The commands ``clover run``, ``run-grid``, ``live``,
``decomposition``, ``gpu-count`` and ``reference-check`` are thin parsers over these.

The API sits above every package (it imports ``control`` and ``analysis``) and below the
command modules (``tests/test_import_direction.py``). Errors are
:class:`~clover.errors.CloverError` naming the spec's field (``problem: ...``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from clover.config import schema_default
from clover.errors import CloverError

if TYPE_CHECKING:  # pandas is imported where used
    import pandas as pd


def _config(key: str) -> Any:
    """A field whose default is the schema's default of config key ``key``."""
    return field(default_factory=lambda: schema_default(key), metadata={"config": key})


#: numeric fields: (lo, hi, integer); None bounds are open-ended
_NUMBERS = {"n_gpus": (1, None, True), "lam": (0.0, 1.0, False), "hours": (1, None, True),
            "seed": (0, None, True), "max_accuracy_loss_pct": (0.0, 100.0, False),
            "eval_window_s": (0.0, None, False), "mig_repartition_s": (0.0, None, False),
            "model_load_base_s": (0.0, None, False), "model_load_mb_per_s": (0.0, None, False)}


@dataclass(frozen=True)
class RunSpec:
    """Every setting of one run. ``app`` is required; ``scheme`` and ``trace`` (a carbon trace
    spec: a preset, ``ZONE:season:year`` or a CSV path) are required by :func:`run`. The
    protocol fields (``protocol`` and its knobs, None = the preset's), ``lam`` and ``n_gpus``
    (None = the protocol's), ``problem`` (``Problem.build`` keywords) and ``scheme_params``
    (scheme -> parameters) are the config keys of the same names; ``eval_window_s`` ...
    ``initial`` are ``control.*``. ``max_accuracy_loss_pct``: the accuracy floor as the
    largest loss vs BASE, %; ``profiles``: a profile table file (None: modeled in memory);
    ``trace_name`` / ``grid``: labels written in the log."""

    app: str
    scheme: str | None = None
    trace: str | None = None
    trace_name: str | None = None
    gpu: str = _config("gpu")
    n_gpus: int | None = _config("n_gpus")
    lam: float | None = _config("lam")
    max_accuracy_loss_pct: float | None = None
    hours: int | None = _config("hours")
    seed: int = _config("seed")
    backend: str = _config("backend")
    protocol: str = _config("protocol")
    base_gpu_factor: int | None = _config("base_gpu_factor")
    space: str | None = _config("space")
    dispatch: str | None = _config("dispatch")
    request_batch: int | Mapping[str, int] | None = _config("request_batch")
    base_utilisation: float | None = _config("base_utilisation")
    problem: Mapping[str, Any] = _config("problem")
    scheme_params: Mapping[str, Mapping[str, Any]] = _config("scheme_params")
    profiles: str | None = None
    data_dir: str | None = _config("data_dir")
    eval_window_s: float = _config("control.eval_window_s")
    mig_repartition_s: float = _config("control.mig_repartition_s")
    model_load_base_s: float = _config("control.model_load_base_s")
    model_load_mb_per_s: float = _config("control.model_load_mb_per_s")
    initial: str = _config("control.initial")
    grid: str = "main"

    def __post_init__(self) -> None:
        from clover.cliutil import check_number

        for name, (lo, hi, integer) in _NUMBERS.items():
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_number(
                    value, name, lo=lo, hi=hi, integer=integer,
                    lo_open=name in ("eval_window_s", "model_load_mb_per_s")))
        for name in ("problem", "scheme_params"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise CloverError(f"{name}: expected a JSON object, got {type(value).__name__}")
            object.__setattr__(self, name, MappingProxyType(dict(value)))
        self._check_names()

    def _check_names(self) -> None:
        """``app``, ``scheme``, ``backend`` and ``initial`` among the known ones."""
        from clover.models.catalog import APPS
        from clover.names import scheme_names

        for name, known in (("app", sorted(APPS)), ("backend", ("model", "live")),
                            ("initial", ("base", "none"))):
            if getattr(self, name) not in known:
                raise CloverError(f"{name}: {getattr(self, name)!r} is not one of "
                                  f"{', '.join(known)}")
        if self.scheme is not None and self.scheme not in scheme_names():
            raise CloverError(f"scheme: unknown scheme {self.scheme!r} "
                              f"(known: {', '.join(scheme_names())})")

    @classmethod
    def from_config(cls, config=None, **overrides) -> "RunSpec":
        """The spec of ``config`` (a :class:`~clover.config.RunConfig`, a YAML/JSON config
        file, or None: the schema's defaults) with ``overrides`` (field -> value; a key that
        is no field is a CloverError naming it)."""
        from clover.config import load_run_config

        names = [f.name for f in fields(cls)]
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise CloverError(f"RunSpec: unknown key(s) {', '.join(unknown)} "
                              f"(known: {', '.join(names)})")
        if isinstance(config, (str, os.PathLike)):
            config = load_run_config(config)
        values = {}
        for f in fields(cls):
            key = f.metadata.get("config")
            if f.name in overrides:
                values[f.name] = overrides[f.name]
            elif key is not None and config is not None:
                values[f.name] = config.get(key)
        return cls(**values)

    def protocol_object(self):
        """The protocol object: the preset ``protocol`` with the spec's knobs."""
        from clover.sim.protocol import protocol_settings

        return protocol_settings(self.protocol, base_gpu_factor=self.base_gpu_factor,
                                 space=self.space, dispatch=self.dispatch,
                                 request_batch=self.request_batch,
                                 base_utilisation=self.base_utilisation)


@dataclass(frozen=True)
class RunResult:
    """A run's hourly log (``log``: exactly what ``clover run`` writes, labels included) and
    its meta (``meta``: the constant columns, N, the offered rate, SLA, A_base, C_base)."""

    log: "pd.DataFrame"
    meta: Mapping[str, Any]


@dataclass(frozen=True)
class _Setup:
    """What a spec resolves to before the backend: the protocol object, N and λ."""

    protocol: Any
    n_gpus: int
    lam: float


def _setup(spec: RunSpec) -> _Setup:
    from clover.control.runs import check_scheme_params_map

    protocol = spec.protocol_object()
    check_scheme_params_map(spec.scheme_params)
    return _Setup(protocol, spec.n_gpus if spec.n_gpus is not None else protocol.default_gpus,
                  spec.lam if spec.lam is not None else protocol.lam)


def _problem(spec: RunSpec, s: _Setup, gpu: str, n_gpus: int, profiles,
             problem: Mapping | None = None):
    from clover.control.runs import build_problem

    return build_problem(spec.app, gpu, n_gpus, profiles, s.lam, spec.max_accuracy_loss_pct,
                         spec.problem if problem is None else problem, spec.seed, s.protocol)


#: problems (and their profile tables) built in this process: a pipeline job runs several
#: schemes and seeds of one app, and building a problem costs about a second
_MODELS: dict[str, tuple] = {}


def _model(spec: RunSpec, s: _Setup):
    """(problem, evaluator, profiles) of the simulator; the problem is built once per
    process for the same app, GPU, N, λ, floor, problem keys, seed, protocol and profiles."""
    import json

    from clover.control.runs import profile_table

    key = json.dumps([spec.app, spec.gpu, s.n_gpus, s.lam, spec.max_accuracy_loss_pct,
                      dict(spec.problem), spec.seed, repr(s.protocol), spec.profiles],
                     sort_keys=True, default=str)
    if key not in _MODELS:
        profiles = profile_table(spec.app, spec.gpu, spec.profiles,
                                 batch_sizes=(1, s.protocol.batch(spec.app)))
        _MODELS[key] = (_problem(spec, s, spec.gpu, s.n_gpus, profiles), profiles)
    problem, profiles = _MODELS[key]
    return problem, s.protocol.evaluator(problem), profiles


def _required(spec: RunSpec, *names: str) -> None:
    missing = [n for n in names if getattr(spec, n) is None]
    if missing:
        raise CloverError(f"RunSpec: {', '.join(missing)} required")


def _stepped(spec: RunSpec, s: _Setup, problem, evaluator, costs, ci, stamps, *, source: str,
             backend: str, hour_s: float = 3600.0, progress: bool = False, on_hour=None):
    """The scheme and the controller of one run stepped through the trace (both backends):
    (log, meta). ``source`` is the profiles' provenance (simulator), or empty: each
    evaluation states its own (live: measured-cpu/-gpu)."""
    from clover.control.controller import ControlSettings
    from clover.control.runs import step_scheme

    settings = ControlSettings(eval_window_s=spec.eval_window_s, hour_s=hour_s,
                               initial=spec.initial)
    meta = {"scheme": spec.scheme, "app": spec.app, "lam": s.lam,
            "trace": spec.trace_name or spec.trace, "source": source, "backend": backend,
            "gpu": problem.gpu,
            "accuracy_floor": "" if problem.accuracy_floor is None else problem.accuracy_floor,
            **s.protocol.columns(spec.app)}
    log = step_scheme(spec.scheme, problem, evaluator, costs, settings, meta, ci, stamps,
                      scheme_params=spec.scheme_params, seed=spec.seed, progress=progress,
                      on_hour=on_hour)
    return log, {**meta, "grid": spec.grid, "n_gpus": problem.n_gpus,
                 "rate_rps": problem.rate_rps, "sla_ms": problem.sla_ms,
                 "base_accuracy": problem.base_accuracy, "base_carbon_g": problem.base_carbon_g}


def run(spec: RunSpec, *, on_hour: Callable[["pd.DataFrame"], None] | None = None,
        progress: bool = False, live=None, service=None, log=None) -> RunResult:
    """Step ``spec.scheme`` through ``spec.trace`` hour by hour: the hourly log and its meta.

    ``backend: model``: the simulator, transitions priced by the protocol's accounting.
    ``backend: live``: the live service (``live``: :class:`clover.serve.live.LiveSettings`,
    default from ``CLOVER_LIVE_*``; ``service``: an already started one; ``log``: progress
    lines), BASE measured to set the SLA and C_base, transitions and hours measured.
    ``on_hour(log so far)`` after every hour (labelled as the final log); ``progress``: a
    progress bar on stderr."""
    from clover.control.grid import label_log
    from clover.control.runs import trace_hours

    _required(spec, "scheme", "trace")
    s = _setup(spec)
    ci, stamps = trace_hours(spec.trace, spec.data_dir, spec.hours)

    def labelled(df):
        return label_log(df, spec.protocol, spec.grid)

    hook = None if on_hour is None else (lambda df: on_hour(labelled(df)))
    if spec.backend == "live":
        out, meta = _run_live(spec, s, ci, stamps, live, service, log, hook)
    else:
        out, meta = _run_model(spec, s, ci, stamps, progress, hook)
    return RunResult(labelled(out), MappingProxyType(meta))


def _run_model(spec: RunSpec, s: _Setup, ci, stamps, progress: bool, on_hour):
    from clover.control.accounting import ModeledCosts
    from clover.control.runs import profile_source, reconfig_costs

    problem, evaluator, profiles = _model(spec, s)
    costs = ModeledCosts(reconfig_costs(s.protocol, spec.mig_repartition_s,
                                        spec.model_load_base_s, spec.model_load_mb_per_s),
                         problem.rate_rps)
    return _stepped(spec, s, problem, evaluator, costs, ci, stamps,
                    source=profile_source(profiles), backend=spec.backend, progress=progress,
                    on_hour=on_hour)


def _run_live(spec: RunSpec, s: _Setup, ci, stamps, live, service, log, on_hour):
    """:func:`run` on the live service: BASE measured sets the SLA and C_base (the problem is
    rebuilt at the same rate with that SLA), deploys and hours are measured."""
    import sys

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (calibration)
    from clover.serve.live import LiveBackend, LiveSettings

    log = log or (lambda m: print(f"[live] {m}", file=sys.stderr, flush=True))
    backend = LiveBackend(live or LiveSettings.from_env(), spec.app, spec.gpu, s.n_gpus,
                          seed=spec.seed, log=log, service=service, protocol=s.protocol)
    backend.check_slots()  # GPUs and cores, before anything starts
    profiles = backend.profiles(spec.profiles)
    draft = _problem(spec, s, backend.gpu, backend.n_gpus, profiles)
    backend.check_memory(draft)  # before any replica starts
    with backend:
        base = backend.measure_base(draft, spec.problem.get("sla_ms"))
        problem = base.apply(_problem(spec, s, backend.gpu, backend.n_gpus, profiles, {
            **spec.problem, "rate_rps": draft.rate_rps, "sla_ms": base.sla_ms}))
        log(f"C_base {problem.base_carbon_g * 1000:.4f} mg/request")
        problem = backend.scheme_problem(problem, spec.scheme)  # BASE: the reference's deploy
        evaluator, costs = backend.controller_parts(problem, s.protocol.evaluator(problem),
                                                    spec.eval_window_s, base)
        return _stepped(spec, s, problem, evaluator, costs, ci, stamps, source="",
                        backend=backend.kind, hour_s=backend.settings.hour_seconds,
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


def run_schemes(spec: RunSpec, schemes, seeds=None, **kwargs) -> Iterator[RunResult]:
    """:func:`run` of ``spec`` for each of ``schemes`` in turn, in one process (a pipeline
    job; ``clover run-grid``), each result as its run ends; ``seeds``: one seed per scheme
    (default: the spec's for every one); ``kwargs``: :func:`run`'s, e.g. one live
    ``service`` shared by every scheme."""
    seeds = list(seeds) if seeds else [spec.seed] * len(schemes)
    if len(seeds) != len(schemes):
        raise CloverError(f"seeds: {len(seeds)} seed(s) for {len(schemes)} scheme(s)")
    for scheme, seed in zip(schemes, seeds):
        yield run(replace(spec, scheme=scheme, seed=int(seed)), **kwargs)


def live_setup(spec: RunSpec):
    """(protocol settings, GPU count) of ``spec``: what a shared live service is started
    with."""
    s = _setup(spec)
    return s.protocol, s.n_gpus


def decide(spec: RunSpec, ci_g_per_kwh: float, *, hour: int = 0, period=None):
    """``spec.scheme``'s :class:`~clover.optimize.Decision` for one hour at ``ci_g_per_kwh``
    (the simulator; ``period``: the period's intensities, for JUNG's range)."""
    from clover.control.runs import build_scheme

    _required(spec, "scheme")
    s = _setup(spec)
    problem, evaluator, _ = _model(spec, s)
    scheme = build_scheme(spec.scheme, problem, evaluator, spec.scheme_params, spec.seed)
    if period is not None:
        scheme.set_period(list(period))
    return scheme.decide(int(hour), float(ci_g_per_kwh))


def evaluate(spec: RunSpec, configuration, ci_g_per_kwh: float):
    """The :class:`~clover.sim.Evaluation` of ``configuration`` (a
    :class:`~clover.models.configuration.Configuration`, its ``as_dict`` form, or ``"base"``)
    at ``ci_g_per_kwh`` by the simulator of the spec's protocol."""
    from clover.models.configuration import Configuration

    problem, evaluator, _ = _model(spec, _setup(spec))
    if isinstance(configuration, str) and configuration == "base":
        configuration = problem.base_reference_configuration()
    elif isinstance(configuration, Mapping):
        configuration = Configuration.from_dict(dict(configuration))
    return evaluator.evaluate(configuration, float(ci_g_per_kwh))


def gpu_count(spec: RunSpec, schemes, *, base_gpus: int, max_gpus: int,
              max_accuracy_loss_pct: float, ci_g_per_kwh: float) -> "pd.DataFrame":
    """The fewest GPUs each of ``schemes`` needs for the service target of ``spec``'s app and
    protocol (:mod:`clover.control.gpucount`)."""
    from clover.control.gpucount import gpu_count_table
    from clover.control.runs import profile_source, profile_table

    s = _setup(spec)
    profiles = profile_table(spec.app, spec.gpu, spec.profiles,
                             batch_sizes=(1, s.protocol.batch(spec.app)))
    return gpu_count_table(spec.app, spec.gpu, profiles, list(schemes), base_gpus, max_gpus,
                           max_accuracy_loss_pct, ci_g_per_kwh, s.lam, dict(spec.problem),
                           dict(spec.scheme_params), spec.seed, profile_source(profiles),
                           protocol=s.protocol)


def decomposition(**kw) -> "pd.DataFrame":
    """The savings decomposition table (:func:`clover.control.decomposition.
    decomposition_table`; paper protocol)."""
    from clover.control.decomposition import decomposition_table

    return decomposition_table(**kw)


def reference_check(data_dir: str | None = None, seed: int = 0) -> "pd.DataFrame":
    """The artifact's measured arrival sweep beside the modeled one (held-out check), labelled
    ``protocol: paper``, ``grid: reference``."""
    from clover.analysis.reference import load_reference, reference_check as check
    from clover.control.reference_model import modeled_reference_table
    from clover.paths import resolve_data_dir

    measured = load_reference(resolve_data_dir(data_dir))
    table = check(measured, lambda m: modeled_reference_table(m, seed=seed))
    table.insert(0, "protocol", "paper")
    table.insert(1, "grid", "reference")
    return table
