"""The hourly controller: a scheme decides every hour and the service pays for what it does.

Backend-agnostic: the controller talks to a *scheme* (``decide(hour, ci) -> Decision``, see
``docs/ARCHITECTURE.md``) and an *evaluator* (``evaluate(configuration) -> metrics`` or a plain
callable), which is the serving simulator for ``backend: model`` and the live service for
``backend: live``. Both cache by configuration, so asking for a candidate the scheme already
evaluated costs nothing.

Accounting of one hour (``hour_s`` seconds, offered rate ``rate_rps`` constant over the hour),
as a live system would pay it, in this order:

1. for every *new* candidate the scheme evaluated online this hour (``Decision.evaluations``,
   in order): the transition from what is deployed to the candidate (see
   :mod:`clover.control.accounting`), then the candidate serves all traffic for
   ``eval_window_s`` seconds (its energy, accuracy and SLA outcome count);
2. the transition to the chosen configuration;
3. the chosen configuration serves the rest of the hour.

During a transition GPUs are changed one at a time; while GPU ``g`` is down for ``d`` seconds
the service is the new configuration without ``g`` (evaluated at the full offered rate, so the
SLA outcome reflects the reduced capacity) and ``g`` draws the GPU's idle power
(``GpuSpec.idle_power_w``). If no GPU is left, or the remaining ones cannot carry the load,
that period violates the SLA and its requests are charged at the new configuration's energy
per request plus the idle power of the GPU being changed.

Energy of a serving period = energy per request x rate x duration. Carbon = energy x the
hour's grams per joule, taken from the scheme's own numbers (``carbon_g_per_request /
energy_j_per_request``, which carries the intensity and PUE the problem uses). The row's
steady-state columns (accuracy, energy_j_per_request, carbon_g_per_request, p95_ms, objective
...) are the chosen configuration's; the ``hour_*`` columns are the realised totals with the
search and reconfiguration overheads included.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from clover.control.accounting import ReconfigCosts, Transition, transition, without_gpu
from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.configuration import Configuration
# the log-column contract lives below serve and control (clover.sim.runlog); re-exported here
from clover.sim.runlog import CONTRACT_COLUMNS, EXTRA_COLUMNS, LOG_COLUMNS  # noqa: F401


def metric(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` or ``obj[name]``: metrics may be dataclasses or dicts."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def decision_metrics(decision: Any) -> Any:
    """The chosen configuration's metrics (``Decision.evaluation`` or ``Decision.metrics``)."""
    for name in ("evaluation", "metrics"):
        m = getattr(decision, name, None)
        if m is not None:
            return m
    raise CloverError("scheme returned a decision without evaluation metrics")


def edge_weights_json(config: Configuration) -> str:
    """The configuration graph as JSON: ``{"variant@slice": instances}``."""
    return json.dumps({f"{v}@{p}": n for (v, p), n in config.edge_weights().items()},
                      separators=(",", ":"))


@dataclass(frozen=True)
class Reference:
    """What ΔAccuracy and ΔCarbon are measured against (the paper's A_base and C_base)."""

    base_accuracy: float
    base_carbon_g_per_request: float

    def delta_accuracy_pct(self, accuracy: float) -> float:
        return (accuracy - self.base_accuracy) / self.base_accuracy * 100.0

    def delta_carbon_pct(self, carbon_g_per_request: float) -> float:
        return (self.base_carbon_g_per_request - carbon_g_per_request) / self.base_carbon_g_per_request * 100.0

    def objective(self, accuracy: float, carbon_g_per_request: float, lam: float) -> float:
        """f = λ·ΔCarbon + (1−λ)·ΔAccuracy (Clover, SC'23, Eq. 1-3)."""
        return lam * self.delta_carbon_pct(carbon_g_per_request) + (1 - lam) * self.delta_accuracy_pct(accuracy)

    @classmethod
    def from_decision(cls, decision: Any) -> "Reference":
        """Recover A_base and C_base from a decision's absolute and relative numbers."""
        m = decision_metrics(decision)
        acc = float(metric(m, "accuracy"))
        dacc = float(decision.delta_accuracy_pct)
        carbon = float(decision.carbon_g_per_request)
        dcarb = float(decision.delta_carbon_pct)
        if abs(100.0 - dcarb) < 1e-9:
            raise CloverError("cannot recover the carbon reference from a decision with ΔCarbon = 100%")
        return cls(acc / (1 + dacc / 100.0), carbon / (1 - dcarb / 100.0))


@dataclass(frozen=True)
class ControlSettings:
    """How the controller accounts an hour. Times in seconds.

    ``eval_window_s``: how long each online evaluation serves the traffic. Default 30 s:
    assumed; the original Clover measures each candidate with 1000 requests
    (``req_limit`` in sc23-clover ``system/experiment.py``), which lasts tens of seconds at
    its arrival rates.
    """

    eval_window_s: float = 30.0
    hour_s: float = 3600.0
    costs: ReconfigCosts = field(default_factory=ReconfigCosts)
    initial: str = "base"  # what is deployed before hour 0: "base" or "none"

    def __post_init__(self) -> None:
        if self.eval_window_s < 0:
            raise CloverError(f"control.eval_window_s must be >= 0, got {self.eval_window_s}")
        if self.hour_s <= 0:
            raise CloverError(f"control.hour_s must be > 0, got {self.hour_s}")
        if self.initial not in ("base", "none"):
            raise CloverError(f"control.initial must be 'base' or 'none', got {self.initial!r}")


@dataclass(frozen=True)
class Period:
    """A stretch of the hour during which one configuration serves all traffic."""

    kind: str  # "evaluation", "reconfig" or "serve"
    duration_s: float
    energy_j: float
    requests: float
    accuracy: float
    sla_met: bool
    config_key: str


class Controller:
    """Steps a scheme through a carbon trace hour by hour (see the module docstring).

    Args:
        scheme: object with ``decide(hour, ci_g_per_kwh) -> Decision``.
        evaluator: ``evaluate(configuration, ci_g_per_kwh) -> metrics`` object (the
            ``clover.sim.Evaluator`` protocol) or such a callable; metrics carry ``accuracy``,
            ``energy_j_per_request``, ``p95_ms``, ``sla_met``.
        rate_rps: offered load, requests per second.
        settings: accounting constants.
        reference: A_base and C_base; recovered from the first decision when not given.
        initial: configuration deployed before hour 0 (BASE's, normally); None = nothing.
        meta: constant columns written in every row (scheme, app, lam, trace, source, ...).
    """

    def __init__(self, scheme: Any, evaluator: Any, rate_rps: float,
                 settings: ControlSettings | None = None, reference: Reference | None = None,
                 initial: Configuration | None = None, meta: dict | None = None) -> None:
        if rate_rps <= 0 or not math.isfinite(rate_rps):
            raise CloverError(f"offered rate must be a positive number of requests/s, got {rate_rps}")
        self.scheme = scheme
        self._evaluate: Callable[[Configuration, float], Any] = (
            evaluator.evaluate if hasattr(evaluator, "evaluate") else evaluator)
        self.rate_rps = float(rate_rps)
        self.settings = settings or ControlSettings()
        self.reference = reference
        self.deployed: Configuration | None = initial
        self.meta = dict(meta or {})
        self._cache: dict[str, Any] = {}
        self.periods: list[list[Period]] = []  # per hour, for inspection and tests

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, config: Configuration, ci_g_per_kwh: float) -> Any:
        """Metrics of ``config`` at this hour's intensity (routing may depend on it); cached."""
        key = (config.key(), float(ci_g_per_kwh))
        if key not in self._cache:
            self._cache[key] = self._evaluate(config, float(ci_g_per_kwh))
        return self._cache[key]

    def _serving(self, kind: str, config: Configuration, duration_s: float, m: Any) -> Period:
        e = float(metric(m, "energy_j_per_request"))
        req = self.rate_rps * duration_s
        return Period(kind, duration_s, e * req, req, float(metric(m, "accuracy")),
                      bool(metric(m, "sla_met")), config.key())

    def _transition_periods(self, old: Configuration | None, new: Configuration,
                            new_metrics: Any, ci: float) -> tuple[Transition, list[Period]]:
        """Periods of reduced capacity while ``old`` becomes ``new``."""
        tr = transition(old, new, self.settings.costs)
        idle_w = get_gpu(new.gpu).idle_power_w
        periods = []
        for change in tr.affected:
            d = change.downtime_s
            if d <= 0:
                continue
            req = self.rate_rps * d
            reduced = without_gpu(new, change.new_index) if change.new_index is not None else new
            m = self.evaluate(reduced, ci) if reduced.n_gpus > 0 else None
            e = float(metric(m, "energy_j_per_request")) if m is not None else math.nan
            if m is None or not math.isfinite(e):
                # no capacity left to serve: requests wait and are served late by `new`
                e_new = float(metric(new_metrics, "energy_j_per_request"))
                periods.append(Period("reconfig", d, e_new * req + idle_w * d, req,
                                      float(metric(new_metrics, "accuracy")), False, new.key()))
            else:
                periods.append(Period("reconfig", d, e * req + idle_w * d, req,
                                      float(metric(m, "accuracy")), bool(metric(m, "sla_met")),
                                      reduced.key()))
        return tr, periods

    # -- one hour ---------------------------------------------------------------------------
    def step(self, hour: int, ci_g_per_kwh: float, timestamp_utc: str = "") -> dict:
        """Let the scheme decide for ``hour`` and account the hour; returns one log row."""
        s = self.settings
        decision = self.scheme.decide(hour, ci_g_per_kwh)
        chosen: Configuration = decision.configuration
        m = decision_metrics(decision)
        if self.reference is None:
            self.reference = Reference.from_decision(decision)
        energy_pr = float(metric(m, "energy_j_per_request"))
        carbon_pr = float(decision.carbon_g_per_request)
        g_per_j = carbon_pr / energy_pr if energy_pr > 0 else 0.0

        periods: list[Period] = []
        reconfig_s = 0.0
        n_layout = n_loads = 0
        current = self.deployed
        for cand in decision.evaluations:
            cm = self.evaluate(cand, ci_g_per_kwh)
            tr, tp = self._transition_periods(current, cand, cm, ci_g_per_kwh)
            periods += tp
            reconfig_s += tr.reconfig_s
            n_layout += tr.n_layout_changes
            n_loads += tr.n_model_loads
            if s.eval_window_s > 0:
                periods.append(self._serving("evaluation", cand, s.eval_window_s, cm))
            current = cand
        tr, tp = self._transition_periods(current, chosen, m, ci_g_per_kwh)
        periods += tp
        reconfig_s += tr.reconfig_s
        n_layout += tr.n_layout_changes
        n_loads += tr.n_model_loads
        used = sum(p.duration_s for p in periods)
        remainder = max(s.hour_s - used, 0.0)
        if remainder > 0:
            periods.append(self._serving("serve", chosen, remainder, m))
        self.deployed = chosen
        self.periods.append(periods)

        hour_s = sum(p.duration_s for p in periods)
        requests = sum(p.requests for p in periods)
        energy = sum(p.energy_j for p in periods)
        eval_e = sum(p.energy_j for p in periods if p.kind == "evaluation")
        reconf_e = sum(p.energy_j for p in periods if p.kind == "reconfig")
        accuracy = sum(p.accuracy * p.requests for p in periods) / requests
        energy_per_req = energy / requests
        carbon_per_req = energy_per_req * g_per_j
        violation_s = sum(p.duration_s for p in periods if not p.sla_met)
        ok_req = sum(p.requests for p in periods if p.sla_met)
        ref = self.reference
        lam = float(self.meta.get("lam", getattr(decision, "lam", math.nan)))
        sla_ms = metric(m, "sla_ms", self.meta.get("sla_ms"))
        row = {
            **{k: self.meta.get(k, "") for k in ("scheme", "app", "trace", "source", "backend",
                                                 "gpu", "accuracy_floor", "protocol", "space",
                                                 "dispatch", "base_gpu_factor",
                                                 "request_batch")},
            # no stated source (live backend): the evaluation says how it was obtained
            **({"source": str(metric(m, "source", "unknown"))} if not self.meta.get("source") else {}),
            "hour": int(hour),
            "timestamp_utc": timestamp_utc,
            "ci_g_per_kwh": float(ci_g_per_kwh),
            "lam": lam,
            "configuration": edge_weights_json(chosen),
            "accuracy": float(metric(m, "accuracy")),
            "energy_j_per_request": energy_pr,
            "carbon_g_per_request": carbon_pr,
            "p95_ms": float(metric(m, "p95_ms")),
            "sla_ms": float(sla_ms) if sla_ms is not None else math.nan,
            "sla_met": bool(metric(m, "sla_met")),
            "objective": float(decision.objective),
            "delta_carbon_pct": float(decision.delta_carbon_pct),
            "delta_accuracy_pct": float(decision.delta_accuracy_pct),
            "evaluations": len(decision.evaluations),
            "evaluation_carbon_g": eval_e * g_per_j,
            "reconfig_s": reconfig_s,
            "decision_s": float(getattr(decision, "decision_s", 0.0)),
            "n_gpus": chosen.n_gpus,
            "rate_rps": self.rate_rps,
            "config_key": chosen.key(),
            "layouts": json.dumps(sorted("+".join(g.layout) for g in chosen.canonical().gpus)),
            "eval_window_s": s.eval_window_s,
            "evaluation_energy_j": eval_e,
            "reconfig_energy_j": reconf_e,
            "reconfig_carbon_g": reconf_e * g_per_j,
            "n_layout_changes": n_layout,
            "n_model_loads": n_loads,
            "hour_s": hour_s,
            "hour_requests": requests,
            "hour_energy_j": energy,
            "hour_carbon_g": energy * g_per_j,
            "hour_energy_j_per_request": energy_per_req,
            "hour_carbon_g_per_request": carbon_per_req,
            "hour_accuracy": accuracy,
            "hour_delta_carbon_pct": ref.delta_carbon_pct(carbon_per_req),
            "hour_delta_accuracy_pct": ref.delta_accuracy_pct(accuracy),
            "hour_objective": ref.objective(accuracy, carbon_per_req, lam) if math.isfinite(lam) else math.nan,
            "sla_violation_s": violation_s,
            "sla_ok_pct": ok_req / requests * 100.0,
            "overrun_s": max(used - s.hour_s, 0.0),
        }
        return {k: row.get(k, "") for k in LOG_COLUMNS}

    def run(self, ci_g_per_kwh: Sequence[float], timestamps_utc: Iterable[str] | None = None,
            progress: bool = False) -> pd.DataFrame:
        """Step through every hour of a trace; one row per hour in :data:`LOG_COLUMNS` order."""
        ci = [float(c) for c in ci_g_per_kwh]
        stamps = list(timestamps_utc) if timestamps_utc is not None else [""] * len(ci)
        if len(stamps) != len(ci):
            raise CloverError(f"trace has {len(ci)} intensities but {len(stamps)} timestamps")
        hours = range(len(ci))
        if progress:
            from tqdm import tqdm
            hours = tqdm(hours, desc=f"{self.meta.get('scheme', 'run')} {self.meta.get('app', '')}",
                         unit="h", leave=False)
        rows = [self.step(h, ci[h], str(stamps[h])) for h in hours]
        return pd.DataFrame(rows, columns=list(LOG_COLUMNS))

