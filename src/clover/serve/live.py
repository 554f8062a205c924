"""The live controller: the simulation's schemes drive the real service, hour by hour.

``clover live`` runs, for every hour of a carbon trace (compressed to ``hour_seconds``):

1. ``scheme.decide(hour, ci)`` — the same ``clover.optimize`` scheme objects as the simulated
   runs. With ``search="live"`` each new candidate the scheme tries is deployed and measured on
   the live service for ``candidate_window_s`` (the paper's online evaluation); with
   ``search="sim"`` candidates are scored by the simulator on the same profile table and only
   the choice goes live (much faster on a laptop).
2. the chosen configuration is deployed (replicas drained and swapped, MIG changed on GPU
   nodes; measured ``reconfig_s``) with the simulator router's shares, and
3. serves the offered load open-loop for ``hour_seconds``; latency, throughput, accuracy of the
   variants that answered and energy are measured.

Each hour is one row of the controller log (ARCHITECTURE.md "Controller log" columns first, then
extras) with ``source = measured-cpu|measured-gpu``; the CSV is rewritten atomically after every
hour, so an interrupted run leaves the complete hours so far.

Before hour 0, BASE is deployed and measured for one window: its p95 (x ``sla_factor``) is the
SLA, and its energy per request at the reference intensity is C_base (the paper's definitions,
here measured on this service rather than modeled).

This loop does its own accounting because a live run *measures* reconfiguration and serving;
``clover.control.Controller`` (the simulation's controller) models them. Switching to it only
needs ``LiveEvaluator`` as its evaluator (``clover.serve.live_evaluator``), which
``clover run --backend live`` does.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from clover.errors import CloverError
from clover.sim.runlog import CONTRACT_COLUMNS  # the one "Controller log" contract
from clover.timestamps import iso_utc

LIVE_COLUMNS = (
    "trace", "gpu", "n_gpus", "backend", "search", "rate_rps", "hour_s", "config_key", "layouts",
    "requests", "answered", "failed", "retried", "throughput_rps", "mean_latency_ms", "p50_ms",
    "power_w", "energy_source", "routing", "mig_ops", "replicas_started", "replicas_kept",
    "input_scale", "input_note", "sla_source", "feasible", "reason",
)
LOG_COLUMNS = CONTRACT_COLUMNS + LIVE_COLUMNS


@dataclass
class LiveSettings:
    """Everything ``clover live`` needs (CLI flags map one to one)."""

    app: str
    scheme: str = "clover"
    trace: str = "CISO-March"
    hours: int | None = 3
    hour_seconds: float = 20.0
    backend: str = "cpu"
    n_gpus: int = 1
    gpu: str = "a100-40gb"
    lam: float = 0.5
    max_accuracy_loss: float | None = None
    input_scale: float = 1.0
    cluster_file: str | None = None
    search: str = "sim"
    candidate_window_s: float = 5.0
    arrivals: str = "poisson"
    rate_rps: float | None = None
    load_fraction: float = 0.5
    sla_ms: float | None = None
    sla_factor: float = 1.0
    seed: int = 0
    out_dir: str = "results/live"
    profiles: str | None = None
    calib_iterations: int = 10
    scheme_params: dict = field(default_factory=dict)
    http_port: int = 8000
    builders_module: str = "clover.models.builders"
    num_cpus: int | None = None
    cores_per_gpu: int = 0
    data_dir: str | None = None

    def validate(self) -> "LiveSettings":
        from clover.models.catalog import get_app

        get_app(self.app)
        if self.backend not in ("cpu", "cuda"):
            raise CloverError(f"--backend must be cpu or cuda, not {self.backend!r}")
        if self.search not in ("sim", "live"):
            raise CloverError(f"--search must be sim or live, not {self.search!r}")
        if self.hours is not None and self.hours < 1:
            raise CloverError("--hours must be >= 1")
        if not self.hour_seconds > 0:
            raise CloverError("--hour-seconds must be > 0")
        if not 0 < self.input_scale <= 1:
            raise CloverError(f"--input-scale must be in (0, 1], got {self.input_scale}")
        if not 0.0 <= self.lam <= 1.0:
            raise CloverError(f"--lam must be within [0, 1], got {self.lam}")
        if self.n_gpus < 1:
            raise CloverError("--gpus must be >= 1")
        return self

    @property
    def run_name(self) -> str:
        return f"{self.app}_{self.backend}_{self.scheme}_{self.trace.replace(':', '-').replace('/', '_')}"


def input_note(settings: LiveSettings) -> str:
    if settings.input_scale == 1.0:
        return "native input sizes"
    from clover.models.catalog import variants_for_app
    from clover.serve.cluster import scaled_input_size

    sizes = ", ".join(f"{v.name} {scaled_input_size(v.name, settings.input_scale)}"
                      for v in variants_for_app(settings.app))
    unit = "tokens" if settings.app == "albert" else "px"
    return f"inputs scaled to {settings.input_scale:g} of native ({sizes} {unit})"


def _edge_json(config) -> str:
    return json.dumps({f"{v}@{p}": n for (v, p), n in config.edge_weights().items()},
                      separators=(",", ":"))


def _write_log(rows: list[dict], path: Path) -> None:
    from clover.paths import atomic_write

    df = pd.DataFrame(rows, columns=list(LOG_COLUMNS))
    with atomic_write(path) as fh:
        df.to_csv(fh, index=False, float_format="%.10g", lineterminator="\n")


def build_profiles(s: LiveSettings, cluster, n_cpus: int, log: Callable[[str], None]):
    """The profile table the schemes and the router use for this service."""
    from clover.profiles import load_profiles, validate_table, write_table

    if s.profiles:
        return load_profiles(s.app, s.gpu, backend="cuda" if s.backend == "cuda" else "cpu",
                             path=s.profiles)
    if s.backend == "cuda":
        log("no --profiles given: the schemes use the modeled GPU profile table "
            "(measure one with `clover profile --backend cuda` on the node)")
        return load_profiles(s.app, s.gpu, backend="model")
    from clover.serve.calibrate import calibrate_cpu_profiles

    cpg = cluster.cores_per_gpu or max(1, n_cpus // s.n_gpus)
    cache = Path(s.out_dir) / f"profiles_{s.app}_{s.gpu}_cpu{cpg}_x{s.input_scale:g}.csv"
    if cache.is_file():
        log(f"CPU profile table: {cache} (delete it to re-calibrate)")
        from clover.profiles import read_table

        return validate_table(read_table(cache), str(cache))
    log(f"calibrating CPU service times ({s.calib_iterations} passes per variant and thread count)")
    df = calibrate_cpu_profiles(s.app, s.gpu, cores_per_gpu=cpg, n_cpus=n_cpus,
                                input_scale=s.input_scale, iterations=s.calib_iterations,
                                builders_module=s.builders_module, log=log)
    write_table(df, cache)
    return df


def run_live(s: LiveSettings, log: Callable[[str], None] = print, service=None) -> pd.DataFrame:
    """Run the live controller; returns the log (also written to ``<out_dir>/<run>.csv``).

    ``service``: an already started :class:`~clover.serve.service.LiveService` to use (and leave
    running); by default one is built from the settings and stopped at the end.
    """
    from clover.carbon import load_trace
    from clover.models.catalog import largest_variant
    from clover.optimize.objective import score
    from clover.optimize.schemes import DEFAULTS, make_scheme
    from clover.serve.cluster import load_cluster, local_cluster
    from clover.serve.evaluator import LiveEvaluator
    from clover.serve.service import LiveService
    from clover.sim import Problem, SimEvaluator
    from clover.sim.problem import carbon_g

    s.validate()
    trace = load_trace(s.trace, s.data_dir)
    ci = [float(x) for x in trace.ci_g_per_kwh]
    stamps = [iso_utc(t) for t in trace.timestamps_utc]
    if s.hours is not None:
        ci, stamps = ci[: s.hours], stamps[: s.hours]
    if service is not None:
        cluster = service.cluster
        s.gpu, s.n_gpus, s.backend = cluster.gpu, cluster.n_gpus, cluster.backend
        s.input_scale = service.input_scale
        s.builders_module = service.builders_module
    elif s.cluster_file:
        cluster = load_cluster(s.cluster_file)
        if cluster.backend != s.backend:
            raise CloverError(f"--backend {s.backend} but cluster file {s.cluster_file} says "
                              f"backend: {cluster.backend}")
        s.gpu, s.n_gpus = cluster.gpu, cluster.n_gpus
    else:
        cluster = local_cluster(s.backend, s.n_gpus, s.gpu, s.cores_per_gpu, s.http_port)
    out_dir = Path(s.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / f"{s.run_name}.csv"
    n_cpus = service.node_cpus if service is not None else (s.num_cpus or os.cpu_count() or 1)
    profiles = build_profiles(s, cluster, n_cpus, log)
    floor = None
    if s.max_accuracy_loss is not None:
        floor = largest_variant(s.app).accuracy * (1 - s.max_accuracy_loss / 100.0)
    kw = dict(lam=s.lam, accuracy_floor=floor, seed=s.seed)
    problem0 = Problem.build(s.app, s.gpu, s.n_gpus, profiles, rate_rps=s.rate_rps,
                             load_fraction=s.load_fraction, **kw)
    note = input_note(s)
    log(f"service: {s.app} on {s.n_gpus} x {s.gpu} ({s.backend}), {problem0.rate_rps:.2f} req/s "
        f"offered ({s.arrivals}), {note}")

    own = service is None
    if own:
        service = LiveService(cluster, input_scale=s.input_scale, builders_module=s.builders_module,
                              num_cpus=s.num_cpus, seed=s.seed)
        service.start()
    rows: list[dict] = []
    try:
        # BASE defines the SLA and C_base, measured on this service
        base_cfg = problem0.base_configuration()
        probe = LiveEvaluator(service, problem0, SimEvaluator(problem0), window_s=s.hour_seconds,
                              arrivals=s.arrivals, seed=s.seed + 7919)
        ev_base = probe.evaluate(base_cfg, problem0.ci_ref)
        if not math.isfinite(ev_base.p95_ms) or ev_base.throughput_rps <= 0:
            raise CloverError("BASE answered no request in its measurement window: lower "
                              "--rate-rps / --load-fraction or --input-scale")
        sla = s.sla_ms if s.sla_ms is not None else s.sla_factor * ev_base.p95_ms
        sla_source = "given" if s.sla_ms is not None else f"{s.sla_factor:g} x measured BASE p95"
        problem = Problem.build(s.app, s.gpu, s.n_gpus, profiles, rate_rps=problem0.rate_rps,
                                sla_ms=sla, **kw)
        problem = problem.with_params(base_energy_j=ev_base.energy_j_per_request,
                                      base_carbon_g=carbon_g(ev_base.energy_j_per_request,
                                                             problem.ci_ref, problem.pue))
        log(f"BASE measured: p95 {ev_base.p95_ms:.1f} ms -> SLA {sla:.1f} ms; "
            f"{ev_base.energy_j_per_request:.3f} J/request ({probe.last_window.energy.source}); "
            f"C_base {problem.base_carbon_g * 1000:.4f} mg/request")
        sim = SimEvaluator(problem)
        live = LiveEvaluator(service, problem, sim, window_s=s.candidate_window_s,
                             arrivals=s.arrivals, seed=s.seed,
                             request_log_dir=out_dir / f"{s.run_name}_requests")
        params = dict(s.scheme_params)
        if "seed" in DEFAULTS.get(s.scheme, {}) and params.get("seed") is None:
            params["seed"] = s.seed
        scheme = make_scheme(s.scheme, problem, live if s.search == "live" else sim, **params)
        scheme.set_period(ci)
        for hour, (c, stamp) in enumerate(zip(ci, stamps)):
            n_before = len(live.windows)
            decision = scheme.decide(hour, c)
            cand = live.windows[n_before:]
            eval_energy = sum(w.energy.energy_j for w in cand)
            cfg = decision.configuration
            routed = sim.evaluate(cfg, c)
            rep = service.deploy(cfg, shares={tuple(k): float(v) for k, v in routed.shares.items()})
            live.last_reconfig = rep
            ev = live.measure(cfg, c, window_s=s.hour_seconds)
            w = live.last_window
            sc = score(problem, ev, c)
            row = {
                "hour": hour, "timestamp_utc": stamp, "ci_g_per_kwh": c, "scheme": s.scheme,
                "app": s.app, "lam": s.lam, "configuration": _edge_json(cfg),
                "accuracy": ev.accuracy, "energy_j_per_request": ev.energy_j_per_request,
                "carbon_g_per_request": carbon_g(ev.energy_j_per_request, c, problem.pue)
                if math.isfinite(ev.energy_j_per_request) else math.inf,
                "p95_ms": ev.p95_ms, "sla_ms": sla, "sla_met": ev.sla_met,
                # f of the measured values; whether it met the SLA is in sla_met / feasible
                "objective": s.lam * sc.delta_carbon_pct + (1 - s.lam) * sc.delta_accuracy_pct,
                "delta_carbon_pct": sc.delta_carbon_pct, "delta_accuracy_pct": sc.delta_accuracy_pct,
                "evaluations": len(decision.evaluations),
                "evaluation_carbon_g": carbon_g(eval_energy, c, problem.pue),
                "reconfig_s": rep.reconfig_s, "decision_s": decision.decision_s,
                "source": live.source,
                "trace": s.trace, "gpu": s.gpu, "n_gpus": s.n_gpus, "backend": f"live-{s.backend}",
                "search": s.search, "rate_rps": problem.rate_rps, "hour_s": s.hour_seconds,
                "config_key": cfg.key(),
                "layouts": json.dumps([list(g.layout) for g in cfg.gpus], separators=(",", ":")),
                "requests": w.stats.sent, "answered": w.stats.answered, "failed": w.stats.failed,
                "retried": w.stats.retried, "throughput_rps": ev.throughput_rps,
                "mean_latency_ms": ev.mean_latency_ms, "p50_ms": w.stats.p50_ms,
                "power_w": ev.power_w, "energy_source": w.energy.source, "routing": w.routing,
                "mig_ops": len(rep.mig_ops), "replicas_started": len(rep.started),
                "replicas_kept": len(rep.kept), "input_scale": s.input_scale, "input_note": note,
                "sla_source": sla_source, "feasible": ev.feasible, "reason": ev.reason,
            }
            rows.append(row)
            _write_log(rows, log_path)
            log(f"hour {hour} ci {c:6.1f} g/kWh | {_edge_json(cfg)} | p95 {ev.p95_ms:7.1f} ms "
                f"(SLA {sla:.1f}) | acc {ev.accuracy:.2f}% | {ev.energy_j_per_request:.3f} J/req | "
                f"f {row['objective']:+.2f} | reconfig {rep.reconfig_s:.1f} s "
                f"(+{len(rep.started)} -{len(rep.stopped)} ={len(rep.kept)}) | "
                f"{len(decision.evaluations)} online evals | {w.stats.answered}/{w.stats.sent} ok")
    finally:
        if own:
            service.stop()
    log(f"log: {log_path}")
    return pd.DataFrame(rows, columns=list(LOG_COLUMNS))
