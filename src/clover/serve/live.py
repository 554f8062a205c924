"""The live backend of a run: the service, its profile table, BASE measured, measured costs.

``clover run --backend live`` (and ``clover live``, its alias) steps the same controller as a
simulated run (``clover.control.controller.Controller``: same trace slicing, accuracy floor,
seeding, objective and log columns); this module holds only what is live-specific:

* :class:`LiveSettings`: what only a live run needs (``clover live`` flags; ``CLOVER_LIVE_*``
  environment variables for ``clover run --backend live``, :meth:`LiveSettings.from_env`);
* :class:`LiveBackend`: builds the cluster, the profile table (calibrated on CPU) and the
  service; :meth:`LiveBackend.measure_base` deploys BASE before hour 0 and measures it for one
  window of ``hour_seconds``: its p95 (x ``sla_factor``) is the SLA, its energy per request at
  the reference intensity is C_base (the paper's definitions, measured on this service);
* :class:`MeasuredCosts`: the controller's cost model (``clover.sim.runlog.HourCosts``)
  measured on the service. Every transition is a real deploy (replicas drained and swapped, MIG
  changed on GPU nodes) with its measured ``reconfig_s`` and the energy drawn meanwhile (no load
  is offered while it runs, so it serves no request); an online candidate's window is what the
  live evaluator measured when the scheme tried it (``search="live"``; with ``search="sim"``
  candidates are scored by the simulator and cost nothing); the chosen configuration serves
  the offered load open loop for ``hour_seconds`` (time compression) and that window's
  latency, throughput, accuracy and energy are the hour's. It adds :data:`LIVE_COLUMNS`.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from clover.errors import CloverError
from clover.sim.runlog import LIVE_COLUMNS, Part, Period

#: what CLOVER_LIVE_* sets for ``clover run --backend live`` (LiveSettings field -> variable)
ENV = {"cluster_file": "CLOVER_LIVE_CLUSTER", "backend": "CLOVER_LIVE_BACKEND",
       "hour_seconds": "CLOVER_LIVE_HOUR_SECONDS", "input_scale": "CLOVER_LIVE_INPUT_SCALE",
       "search": "CLOVER_LIVE_SEARCH", "arrivals": "CLOVER_LIVE_ARRIVALS",
       "http_port": "CLOVER_LIVE_PORT", "out_dir": "CLOVER_LIVE_OUT_DIR",
       "base_deploy": "CLOVER_LIVE_BASE_DEPLOY"}
#: requests BASE's reference window expects at least (its p95 sets the SLA): a compressed hour
#: at R/k (0.44 req/s x 2 s in CI) drew no request at all now and then, and a p95 of a few is
#: their maximum; 10 keeps the laptop command's reference window near 20 s
BASE_MIN_REQUESTS = 10


@dataclass(frozen=True)
class LiveSettings:
    """What only a live run needs; the rest (app, scheme, trace, λ, floor, load, seed,
    evaluation window) are the run's own settings.

    ``hour_seconds``: wall seconds one trace hour is served (time compression). ``search``:
    ``sim`` scores the scheme's candidates with the simulator (fast), ``live`` deploys and
    measures each (the paper's online evaluation). ``sla_factor``: SLA = factor x measured BASE
    p95 (unless the run gives ``sla_ms``). ``out_dir``: the calibrated CPU profile tables'
    cache; ``request_log_dir``: every window's requests as CSV (None: not kept).
    ``base_deploy``: BASE's reference under a protocol with k > 1 (``equivalent``: N GPUs at
    R/k, the artifact's; ``full``: k·N GPUs at R; :mod:`clover.serve.reference`).
    """

    backend: str = "cpu"
    cluster_file: str | None = None
    hour_seconds: float = 20.0
    input_scale: float = 1.0
    search: str = "sim"
    arrivals: str = "poisson"
    sla_factor: float = 1.0
    calib_iterations: int = 10
    http_port: int = 8000
    num_cpus: int | None = None
    cores_per_gpu: int = 0
    builders_module: str = "clover.models.builders"
    out_dir: str = "results/live"
    request_log_dir: str | None = None
    base_deploy: str = "equivalent"

    def validate(self) -> "LiveSettings":
        if self.backend not in ("cpu", "cuda"):
            raise CloverError(f"--backend must be cpu or cuda, not {self.backend!r}")
        if self.search not in ("sim", "live"):
            raise CloverError(f"--search must be sim or live, not {self.search!r}")
        if not self.hour_seconds > 0:
            raise CloverError("--hour-seconds must be > 0")
        if not 0 < self.input_scale <= 1:
            raise CloverError(f"--input-scale must be in (0, 1], got {self.input_scale}")
        if not self.sla_factor > 0:
            raise CloverError(f"--sla-factor must be > 0, got {self.sla_factor}")
        if self.calib_iterations < 1:
            raise CloverError("--calib-iterations must be >= 1")
        if self.base_deploy not in ("equivalent", "full"):
            raise CloverError(f"--base-deploy must be equivalent or full, not {self.base_deploy!r}")
        return self

    @classmethod
    def from_env(cls, environ=os.environ) -> "LiveSettings":
        """Settings of ``clover run --backend live`` (the pipeline's ``backend: live``): the
        :data:`ENV` variables where set, else the defaults; ``search`` defaults to ``live``
        there (every candidate a scheme tries is deployed and measured)."""
        kinds = {"hour_seconds": float, "input_scale": float, "http_port": int}
        values: dict[str, Any] = {"search": "live"}
        for name, var in ENV.items():
            text = environ.get(var)
            if text:
                try:
                    values[name] = kinds.get(name, str)(text)
                except ValueError:
                    raise CloverError(f"{var}={text!r} is not a valid {name}") from None
        return cls(**values).validate()

    def with_flags(self, args) -> "LiveSettings":
        """These settings with the live flags of ``clover run`` (``--hour-seconds``,
        ``--input-scale``, ``--search``, ``--base-deploy``; None: keep) applied."""
        flags = {k: getattr(args, k, None)
                 for k in ("hour_seconds", "input_scale", "base_deploy", "search")}
        return replace(self, **{k: v for k, v in flags.items() if v is not None}).validate()


def run_name(app: str, backend: str, scheme: str, trace: str) -> str:
    """File stem of a ``clover live`` log: ``<app>_<backend>_<scheme>_<trace>``."""
    return f"{app}_{backend}_{scheme}_{trace.replace(':', '-').replace('/', '_')}"


def input_note(app: str, input_scale: float) -> str:
    """The ``input_note`` column: native sizes, or the scaled size of every variant."""
    if input_scale == 1.0:
        return "native input sizes"
    from clover.models.catalog import variants_for_app
    from clover.serve.cluster import scaled_input_size

    sizes = ", ".join(f"{v.name} {scaled_input_size(v.name, input_scale)}"
                      for v in variants_for_app(app))
    unit = "tokens" if app == "albert" else "px"
    return f"inputs scaled to {input_scale:g} of native ({sizes} {unit})"


@dataclass(frozen=True)
class BaseMeasurement:
    """BASE measured on the service before hour 0: the SLA and C_base it defines."""

    sla_ms: float
    sla_source: str
    p95_ms: float
    energy_j_per_request: float
    energy_source: str

    def apply(self, problem):
        """``problem`` (built with this SLA) with A_base's energy and C_base measured."""
        from clover.sim.problem import carbon_g

        e = self.energy_j_per_request
        return problem.with_params(base_energy_j=e,
                                   base_carbon_g=carbon_g(e, problem.ci_ref, problem.pue))


class LiveBackend:
    """The live service of one run (built, not started, on construction).

    ``seed`` seeds the replicas' models. ``service``: an already started
    :class:`~clover.serve.service.LiveService` to use and leave running (tests); by default one is built from the settings, started by ``with`` and
    stopped at its end. ``gpu`` and ``n_gpus`` are the cluster's (a cluster file names them).
    """

    def __init__(self, settings: LiveSettings, app: str, gpu: str, n_gpus: int, seed: int = 0,
                 log: Callable[[str], None] = print, service=None, protocol=None) -> None:
        from clover.serve.cluster import load_cluster, local_cluster

        s = settings.validate()
        self.protocol = protocol
        k = int(getattr(protocol, "base_gpu_factor", 1))
        full = s.base_deploy == "full" and k > 1
        if service is not None:
            cluster = service.cluster
            s = replace(s, backend=cluster.backend, input_scale=service.input_scale,
                        builders_module=service.builders_module)
        elif s.cluster_file:
            cluster = load_cluster(s.cluster_file)
            if cluster.backend != s.backend:
                raise CloverError(f"--backend {s.backend} but cluster file {s.cluster_file} says "
                                  f"backend: {cluster.backend}")
        else:
            cluster = local_cluster(s.backend, k * n_gpus if full else n_gpus, gpu,
                                    s.cores_per_gpu, s.http_port)
        self.settings, self.cluster, self.app, self.seed, self.log = s, cluster, app, seed, log
        # the schemes' N: the cluster's GPUs, or (full BASE reference) the run's own N
        self.gpu, self.n_gpus = cluster.gpu, (int(n_gpus) if full else cluster.n_gpus)
        self.batch = protocol.batch(app) if protocol is not None else 1
        self.service = service
        self._own = service is None

    def __enter__(self) -> "LiveBackend":
        if self._own:
            from clover.serve.service import LiveService

            s = self.settings
            self.service = LiveService(self.cluster, input_scale=s.input_scale,
                                       builders_module=s.builders_module, num_cpus=s.num_cpus,
                                       seed=self.seed).start()
        self._serve_as(None)
        return self

    def _serve_as(self, problem) -> None:
        """The service takes the protocol's dispatch and request batch (and, with a problem,
        the simulator's instance order for FCFS ties)."""
        if self.service is not None:
            self.service.set_protocol(getattr(self.protocol, "dispatch", "optimal"), self.batch,
                                      problem.types.keys if problem is not None else ())

    def check_slots(self) -> None:
        """Refuse (one line) a run whose GPUs or cores cannot hold BASE's reference, before
        anything starts (:func:`clover.serve.reference.check_slots`)."""
        from clover.models.catalog import largest_variant
        from clover.serve.reference import check_slots

        cpus = self.service.node_cpus if self.service is not None else (
            self.settings.num_cpus or os.cpu_count() or 1)
        check_slots(int(getattr(self.protocol, "base_gpu_factor", 1)), self.n_gpus,
                    self.settings.base_deploy, gpu_slots=self.cluster.n_gpus,
                    backend=self.cluster.backend, cpus=cpus,
                    base_variant=largest_variant(self.app).name)

    def check_memory(self, problem) -> None:
        """Refuse (one line) a CPU run whose memory cannot hold BASE's reference or the
        largest candidate (:func:`clover.serve.reference.check_memory`). The memory this
        service's own workers hold (active and parked: a shared service's earlier runs) counts
        as available, since the run re-aims or replaces them."""
        from clover.serve.reference import available_memory_bytes, check_memory, replica_bytes

        if self.cluster.backend == "cpu":
            avail = available_memory_bytes()
            svc = self.service
            if avail is not None and svc is not None:
                avail += sum(replica_bytes(i.variant, self.batch)
                             for i in list(svc.instances) + list(svc.parked.values()))
            check_memory(problem, self.settings.base_deploy, avail, self.batch)

    def __exit__(self, *exc) -> None:
        if self._own and self.service is not None:
            self.service.stop()

    @property
    def kind(self) -> str:
        """``live-cpu`` or ``live-cuda``: the log's ``backend`` column."""
        return f"live-{self.cluster.backend}"

    def profiles(self, path: str | None):
        """The profile table the schemes and the router use for this service: ``path``, or
        on CPU calibrated at the run's input size (cached in ``out_dir``), or modeled on GPU."""
        from clover.profiles import load_profiles, read_table, validate_table, write_table

        s, log = self.settings, self.log
        if path:
            df = load_profiles(self.app, self.gpu, backend=s.backend, path=path,
                               batch_sizes=tuple(sorted({1, self.batch})))
            if "source" in df.columns and set(df["source"].dropna().astype(str)) == {"modeled"}:
                log("warning: modeled profiles size the offered load for the modeled GPU; "
                    "measure them on the serving hardware (clover profile --backend cpu|cuda)")
            return df
        if s.backend == "cuda":
            log("no --profiles given: the schemes use the modeled GPU profile table "
                "(measure one with `clover profile --backend cuda` on the node)")
            return load_profiles(self.app, self.gpu, backend="model",
                                 batch_sizes=tuple(sorted({1, self.batch})))
        from clover.serve.calibrate import calibrate_cpu_profiles

        n_cpus = (self.service.node_cpus if self.service is not None
                  else (s.num_cpus or os.cpu_count() or 1))
        cpg = self.cluster.cores_per_gpu or max(1, n_cpus // self.n_gpus)
        tag = "" if self.batch == 1 else f"_b{self.batch}"
        cache = Path(s.out_dir) / (f"profiles_{self.app}_{self.gpu}_cpu{cpg}_x{s.input_scale:g}"
                                   f"{tag}.csv")
        if cache.is_file():
            log(f"CPU profile table: {cache} (delete it to re-calibrate)")
            return validate_table(read_table(cache), str(cache))
        log(f"calibrating CPU service times ({s.calib_iterations} passes per variant and "
            "thread count)")
        df = calibrate_cpu_profiles(self.app, self.gpu, cores_per_gpu=cpg, n_cpus=n_cpus,
                                    input_scale=s.input_scale, iterations=s.calib_iterations,
                                    builders_module=s.builders_module, log=log,
                                    batch_sizes=tuple(sorted({1, self.batch})))
        write_table(df, cache)
        # as read back: a run on the fresh table and one on its cache plan alike
        return validate_table(read_table(cache), str(cache))

    def measure_base(self, problem, sla_ms: float | None = None) -> BaseMeasurement:
        """Deploy BASE's reference (:func:`clover.serve.reference.base_reference`: N GPUs,
        or under k > 1 N GPUs at R/k or k·N GPUs at R) and measure it for one window of
        ``hour_seconds``, or longer so that :data:`BASE_MIN_REQUESTS` arrive on average, at the
        reference intensity; the SLA is ``sla_ms`` when given, else
        ``sla_factor`` x its p95, and C_base its measured energy per request. Measured once
        per service: the schemes of one ``run-grid`` job share it (as the artifact measures
        BASE once)."""
        from clover.serve.reference import base_reference

        s = self.settings
        ref = base_reference(problem, s.base_deploy)
        self._serve_as(problem)
        self.log(f"service: {self.app} on {self.n_gpus} x {self.gpu} ({self.cluster.backend}), "
                 f"{problem.rate_rps:.2f} req/s offered ({s.arrivals}), "
                 f"{input_note(self.app, s.input_scale)}")
        self.log(ref.statement)
        ev, source = self._measure_reference(problem, ref)
        if not math.isfinite(ev.p95_ms) or ev.throughput_rps <= 0:
            raise CloverError("BASE answered no request in its measurement window: lower the "
                              "offered load (--rate-rps / --load-fraction) or --input-scale")
        sla = float(sla_ms) if sla_ms is not None else s.sla_factor * ev.p95_ms
        base = BaseMeasurement(sla, ("given" if sla_ms is not None
                                     else f"{s.sla_factor:g} x measured BASE p95")
                               + ("" if ref.configuration.key() == problem.base_configuration()
                                  .key() and ref.rate_rps == problem.rate_rps
                                  else f"; {ref.statement}"),
                               ev.p95_ms, ev.energy_j_per_request, source)
        self.log(f"BASE measured: p95 {ev.p95_ms:.1f} ms -> SLA {sla:.1f} ms; "
                 f"{ev.energy_j_per_request:.3f} J/request ({base.energy_source})")
        return base

    def _measure_reference(self, problem, ref):
        """(evaluation, energy source) of BASE's reference, cached on the service."""
        from clover.serve.evaluator import LiveEvaluator

        s = self.settings
        cache = self.service.__dict__.setdefault("clover_base_measurements", {})
        # the rate to 6 digits: a freshly calibrated table and its CSV cache differ beyond
        key = (self.app, ref.configuration.key(), f"{ref.rate_rps:.6g}", s.hour_seconds,
               s.arrivals, problem.seed)
        if key not in cache:
            # at least BASE_MIN_REQUESTS expected: a compressed hour at R/k can draw none
            window_s = max(float(s.hour_seconds), BASE_MIN_REQUESTS / float(ref.rate_rps))
            probe = LiveEvaluator(self.service, problem, problem.protocol.evaluator(problem),
                                  window_s=window_s, arrivals=s.arrivals,
                                  seed=problem.seed + 7919, rate_rps=ref.rate_rps)
            ev = probe.evaluate(ref.configuration, problem.ci_ref)
            cache[key] = (ev, probe.last_window.energy.source)
        else:
            self.log("BASE's reference: measured earlier on this service")
        return cache[key]

    def scheme_problem(self, problem, scheme: str):
        """The problem ``scheme``'s hours run under: ``problem``, except BASE under k > 1 with
        ``base_deploy: equivalent``, which serves as its reference was measured — N GPUs at
        R/k (per GPU the load of k·N GPUs at R, so per-request energy and latency stand for
        the k·N-GPU run; the log's ``rate_rps`` says R/k)."""
        from dataclasses import replace as _replace

        k = int(getattr(problem.protocol, "base_gpu_factor", 1))
        if scheme != "base" or k == 1 or self.settings.base_deploy == "full":
            return problem
        return problem.with_params(rate_rps=problem.rate_rps / k,
                                   protocol=_replace(problem.protocol, base_gpu_factor=1))

    def controller_parts(self, problem, sim, window_s: float, base: BaseMeasurement):
        """(evaluator of the scheme and the controller, cost model) for ``problem`` (the
        measured one): the live evaluator with ``search="live"``, else the simulator ``sim``;
        every deploy and the hours are measured either way."""
        from clover.serve.evaluator import LiveEvaluator

        s = self.settings
        self._serve_as(problem)
        live = LiveEvaluator(self.service, problem, sim, window_s=window_s, arrivals=s.arrivals,
                             seed=problem.seed, request_log_dir=s.request_log_dir)
        constants = {"input_scale": s.input_scale, "input_note": input_note(self.app, s.input_scale),
                     "sla_source": base.sla_source, "search": s.search}
        return (live if s.search == "live" else sim), MeasuredCosts(live, s.hour_seconds,
                                                                    constants)


@dataclass
class MeasuredCosts:
    """The controller's cost model measured on the live service (module docstring).

    ``live``: the :class:`~clover.serve.evaluator.LiveEvaluator` whose deploys and windows are
    charged; ``hour_seconds``: the serving window of the chosen configuration; ``constants``:
    live columns that are the same every hour (input scale and note, SLA source, search).
    """

    live: Any
    hour_seconds: float
    constants: dict = field(default_factory=dict)
    extra_columns: tuple[str, ...] = LIVE_COLUMNS
    _deploys: int = 0  # records of `live` already charged
    _windows: int = 0
    _hour: dict = field(default_factory=dict)

    def _take(self, records: list, seen: str, key: str):
        """The first record of ``key`` not charged yet (None: none); marks it charged."""
        start = getattr(self, seen)
        for i in range(start, len(records)):
            if records[i].configuration_key == key:
                setattr(self, seen, i + 1)
                return records[i]
        return None

    @staticmethod
    def _deployed(d) -> Part:
        """A deploy: its measured time and energy, no request served meanwhile."""
        rep = d.report
        # accuracy is weighted by requests: 0 requests, so its value does not count
        return Part((Period("reconfig", float(rep.reconfig_s), float(d.energy.energy_j), 0.0, 0.0,
                            True, d.configuration_key),),
                    float(rep.reconfig_s), int(rep.layouts_changed), len(rep.started))

    @staticmethod
    def _window(kind: str, w, ev) -> Period:
        return Period(kind, float(w.stats.duration_s), float(w.energy.energy_j),
                      float(w.stats.answered), float(ev.accuracy), bool(ev.sla_met),
                      w.configuration_key)

    def evaluation(self, old, config, metrics, window_s, ci, evaluate) -> Part:
        """What the live evaluator measured when the scheme tried ``config`` this hour."""
        key = config.key()
        d = self._take(self.live.deployments, "_deploys", key)
        w = self._take(self.live.windows, "_windows", key)
        if d is None or w is None:  # scored by the simulator (search sim): nothing ran
            return Part()
        part = self._deployed(d)
        return replace(part, periods=part.periods + (self._window("evaluation", w, metrics),))

    def switch(self, old, new, metrics, ci, evaluate) -> Part:
        """Deploy ``new`` (routed for this hour's intensity; a re-route only when it runs)."""
        self.live.deploy(new, ci)
        return self._deployed(self._take(self.live.deployments, "_deploys", new.key()))

    def serve(self, config, metrics, remainder_s, ci) -> Part:
        """Serve the offered load for ``hour_seconds`` and measure it."""
        ev = self.live.measure(config, ci, window_s=self.hour_seconds)
        w = self.live.windows[-1]  # the window just served (earlier ones are charged or free)
        self._windows = len(self.live.windows)
        rep = self.live.deployments[-1].report
        self._hour = {
            "requests": w.stats.sent, "answered": w.stats.answered, "failed": w.stats.failed,
            "retried": w.stats.retried, "throughput_rps": ev.throughput_rps,
            "mean_latency_ms": ev.mean_latency_ms, "p50_ms": w.stats.p50_ms,
            "power_w": ev.power_w, "energy_source": w.energy.source, "routing": w.routing,
            "mig_ops": len(rep.mig_ops), "replicas_started": len(rep.started),
            "replicas_kept": len(rep.kept), **self.constants,
            "feasible": ev.feasible, "reason": ev.reason,
        }
        return Part((self._window("serve", w, ev),), measured=ev)

    def columns(self) -> dict:
        return {k: self._hour.get(k, "") for k in self.extra_columns}


@contextlib.contextmanager
def shared_service(settings: LiveSettings, app: str, gpu: str, n_gpus: int, protocol,
                   seed: int = 0):
    """One live service for every scheme of a ``clover run-grid --backend live`` job (Ray and
    the ingress start once; each scheme's run deploys its own replicas on it). Yields the
    started :class:`~clover.serve.service.LiveService`; stopped at the end, or on Ctrl-C /
    SIGTERM."""
    backend = LiveBackend(settings, app, gpu, n_gpus, seed=seed, log=lambda m: None,
                          protocol=protocol)
    backend.check_slots()  # before Ray starts
    with backend:
        yield backend.service
