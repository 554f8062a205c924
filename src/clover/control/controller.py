"""The hourly controller: a scheme decides every hour and the service pays for what it does.

One controller for simulated and live runs: ``Controller(problem, scheme, evaluator, costs)``
talks to a *scheme* (``decide(hour, ci) -> Decision``, see ``docs/ARCHITECTURE.md``), an
*evaluator* (``evaluate(configuration, ci) -> metrics`` or a plain callable: the serving
simulator, or the live service) and a *cost model* (:class:`clover.sim.runlog.HourCosts`):
:class:`clover.control.accounting.ModeledCosts` prices transitions and serving (the
simulator's, and the default), ``clover.serve.live.MeasuredCosts`` measures them on the live
service. Evaluations are cached by (configuration, ci), so asking for a candidate the scheme
already evaluated costs nothing.

Accounting of one hour (``hour_s`` seconds, offered rate ``problem.rate_rps`` constant over
the hour), as a live system would pay it, in this order:

1. for every *new* candidate the scheme evaluated online this hour (``Decision.evaluations``,
   in order): the transition from what is deployed to the candidate, then the candidate
   serves all traffic for ``eval_window_s`` seconds (its energy, accuracy and SLA outcome
   count) — ``costs.evaluation``;
2. the transition to the chosen configuration — ``costs.switch``;
3. the chosen configuration serves the rest of the hour — ``costs.serve``.

Energy of the hour = the sum over the periods the cost model returns. Carbon = energy x the
hour's grams per joule, taken from the scheme's own numbers (``carbon_g_per_request /
energy_j_per_request``, which carries the intensity and PUE the problem uses). The row's
steady-state columns (accuracy, energy_j_per_request, carbon_g_per_request, p95_ms, objective
...) are the chosen configuration's — as the service measured them while serving when the cost
model measures (``Part.measured``), else the scheme's; the ``hour_*`` columns are the
realised totals with the search and reconfiguration overheads included.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from clover.config import schema_default
from clover.control.accounting import ModeledCosts, ReconfigCosts, metric
from clover.errors import CloverError
from clover.models.configuration import Configuration
from clover.sim.problem import carbon_g
# the log-column contract lives below serve and control (clover.sim.runlog); re-exported here
from clover.sim.runlog import CONTRACT_COLUMNS, LOG_COLUMNS, HourCosts, Part, Period  # noqa: F401

#: the constant columns of a row, from the controller's ``meta``
_META_COLUMNS = ("scheme", "app", "trace", "source", "backend", "gpu", "accuracy_floor",
                 "protocol", "space", "dispatch", "base_gpu_factor", "request_batch")


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


@dataclass(frozen=True)
class ControlSettings:
    """How the controller accounts an hour. Times in seconds.

    ``eval_window_s``: how long each online evaluation serves the traffic. Default (the
    schema's ``control.eval_window_s``) 30 s: assumed; the original Clover measures each
    candidate with 1000 requests
    (``req_limit`` in sc23-clover ``system/experiment.py``), which lasts tens of seconds at
    its arrival rates.
    """

    eval_window_s: float = field(
        default_factory=lambda: float(schema_default("control.eval_window_s")))
    hour_s: float = 3600.0
    #: what is deployed before hour 0: "base" (the problem's) or "none"
    initial: str = field(default_factory=lambda: schema_default("control.initial"))

    def __post_init__(self) -> None:
        if self.eval_window_s < 0:
            raise CloverError(f"control.eval_window_s must be >= 0, got {self.eval_window_s}")
        if self.hour_s <= 0:
            raise CloverError(f"control.hour_s must be > 0, got {self.hour_s}")
        if self.initial not in ("base", "none"):
            raise CloverError(f"control.initial must be 'base' or 'none', got {self.initial!r}")


class Controller:
    """Steps a scheme through a carbon trace hour by hour (see the module docstring).

    Args:
        problem: the service (``clover.sim.Problem``): ``rate_rps`` (offered load, req/s),
            ``base_accuracy`` and ``base_carbon_g`` (A_base and C_base, what ΔAccuracy and
            ΔCarbon are measured against), ``pue``, ``sla_ms``, ``base_configuration()``.
        scheme: object with ``decide(hour, ci_g_per_kwh) -> Decision``.
        evaluator: ``evaluate(configuration, ci_g_per_kwh) -> metrics`` object (the
            ``clover.sim.Evaluator`` protocol) or such a callable; metrics carry ``accuracy``,
            ``energy_j_per_request``, ``p95_ms``, ``sla_met``.
        costs: the cost model (:class:`clover.sim.runlog.HourCosts`); default
            ``ModeledCosts(ReconfigCosts(), problem.rate_rps)``.
        settings: accounting constants (windows, hour length, what is deployed at hour 0).
        meta: constant columns written in every row (scheme, app, lam, trace, source, ...).
    """

    def __init__(self, problem: Any, scheme: Any, evaluator: Any, costs: HourCosts | None = None,
                 *, settings: ControlSettings | None = None, meta: dict | None = None) -> None:
        rate_rps = problem.rate_rps
        if rate_rps <= 0 or not math.isfinite(rate_rps):
            raise CloverError(f"offered rate must be a positive number of requests/s, got {rate_rps}")
        self.problem = problem
        self.scheme = scheme
        self._evaluate: Callable[[Configuration, float], Any] = (
            evaluator.evaluate if hasattr(evaluator, "evaluate") else evaluator)
        self.rate_rps = float(rate_rps)
        self.settings = settings or ControlSettings()
        self.costs: HourCosts = costs if costs is not None else ModeledCosts(ReconfigCosts(),
                                                                             self.rate_rps)
        self.reference = Reference(problem.base_accuracy, problem.base_carbon_g)
        self.deployed: Configuration | None = (
            problem.base_configuration() if self.settings.initial == "base" else None)
        self.meta = dict(meta or {})
        #: the log's columns: LOG_COLUMNS, then the cost model's (a live run's measured extras)
        self.columns: tuple[str, ...] = tuple(LOG_COLUMNS) + tuple(self.costs.extra_columns)
        self._cache: dict[str, Any] = {}
        self._described: dict[str, tuple[str, str]] = {}
        self.periods: list[list[Period]] = []  # per hour, for inspection and tests

    def _describe(self, config: Configuration) -> tuple[str, str]:
        """(edge-weight JSON, sorted layouts JSON) of ``config``, once per configuration."""
        key = config.key()
        text = self._described.get(key)
        if text is None:
            text = self._described[key] = (edge_weights_json(config), json.dumps(sorted(
                "+".join(g.layout) for g in config.canonical().gpus)))
        return text

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, config: Configuration, ci_g_per_kwh: float) -> Any:
        """Metrics of ``config`` at this hour's intensity (routing may depend on it); cached."""
        key = (config.key(), float(ci_g_per_kwh))
        if key not in self._cache:
            self._cache[key] = self._evaluate(config, float(ci_g_per_kwh))
        return self._cache[key]

    # -- one hour ---------------------------------------------------------------------------
    def step(self, hour: int, ci_g_per_kwh: float, timestamp_utc: str = "") -> dict:
        """Let the scheme decide for ``hour`` and account the hour; returns one log row."""
        decision = self.scheme.decide(hour, ci_g_per_kwh)
        m = decision_metrics(decision)
        parts, served = self._pay(decision, m, ci_g_per_kwh)
        periods = [p for part in parts for p in part.periods] + list(served.periods)
        self.deployed = decision.configuration
        self.periods.append(periods)
        lam = float(self.meta.get("lam", getattr(decision, "lam", math.nan)))
        steady = m if served.measured is None else served.measured
        row = {
            **self._meta_columns,
            # no stated source (live backend): the evaluation says how it was obtained
            **({"source": str(metric(steady, "source", "unknown"))}
               if not self.meta.get("source") else {}),
            "hour": int(hour), "timestamp_utc": timestamp_utc,
            "ci_g_per_kwh": float(ci_g_per_kwh), "lam": lam,
            **self._steady_columns(decision, steady, served, ci_g_per_kwh, lam),
            "evaluations": len(decision.evaluations),
            "decision_s": float(getattr(decision, "decision_s", 0.0)),
            "rate_rps": self.rate_rps, "eval_window_s": self.settings.eval_window_s,
        }
        row.update(self._hour_columns(parts, periods, row["g_per_j"], lam))
        out = {k: row.get(k, "") for k in LOG_COLUMNS}
        out.update(self.costs.columns())
        return out

    @cached_property
    def _meta_columns(self) -> dict:
        """The constant columns of every row (from ``meta``; built at the first hour)."""
        return {k: self.meta.get(k, "") for k in _META_COLUMNS}

    def _pay(self, decision: Any, m: Any, ci_g_per_kwh: float) -> tuple[list[Part], Part]:
        """The hour's parts, in order: each new online evaluation (the transition to the
        candidate, then its window), the switch to the chosen configuration; and the chosen
        configuration serving the rest of the hour."""
        s = self.settings
        parts: list[Part] = []
        current = self.deployed
        for cand in decision.evaluations:
            cm = self.evaluate(cand, ci_g_per_kwh)
            parts.append(self.costs.evaluation(current, cand, cm, s.eval_window_s, ci_g_per_kwh,
                                               self.evaluate))
            current = cand
        chosen: Configuration = decision.configuration
        parts.append(self.costs.switch(current, chosen, m, ci_g_per_kwh, self.evaluate))
        used = sum(p.duration_s for part in parts for p in part.periods)
        served = self.costs.serve(chosen, m, max(s.hour_s - used, 0.0), ci_g_per_kwh)
        return parts, served

    def _steady_columns(self, decision: Any, steady: Any, served: Part, ci_g_per_kwh: float,
                        lam: float) -> dict:
        """The chosen configuration's steady-state columns: the scheme's own numbers, or as
        the service measured them while serving (scored against the same A_base and
        C_base); ``g_per_j`` carries the hour's grams per joule."""
        ref = self.reference
        energy_pr = float(metric(steady, "energy_j_per_request"))
        if served.measured is None:  # the scheme's own numbers
            carbon_pr = float(decision.carbon_g_per_request)
            g_per_j = carbon_pr / energy_pr if energy_pr > 0 else 0.0
            objective = float(decision.objective)
            dcarb, dacc = float(decision.delta_carbon_pct), float(decision.delta_accuracy_pct)
        else:
            g_per_j = float(carbon_g(1.0, ci_g_per_kwh, self.problem.pue))
            carbon_pr = (float(carbon_g(energy_pr, ci_g_per_kwh, self.problem.pue))
                         if math.isfinite(energy_pr) else math.inf)
            acc = float(metric(steady, "accuracy"))
            objective = ref.objective(acc, carbon_pr, lam) if math.isfinite(lam) else math.nan
            dcarb, dacc = ref.delta_carbon_pct(carbon_pr), ref.delta_accuracy_pct(acc)
        sla_ms = metric(steady, "sla_ms", getattr(self.problem, "sla_ms", None))
        chosen = decision.configuration
        return {
            "g_per_j": g_per_j, "configuration": self._describe(chosen)[0],
            "accuracy": float(metric(steady, "accuracy")), "energy_j_per_request": energy_pr,
            "carbon_g_per_request": carbon_pr, "p95_ms": float(metric(steady, "p95_ms")),
            "sla_ms": float(sla_ms) if sla_ms is not None else math.nan,
            "sla_met": bool(metric(steady, "sla_met")), "objective": objective,
            "delta_carbon_pct": dcarb, "delta_accuracy_pct": dacc, "n_gpus": chosen.n_gpus,
            "config_key": chosen.key(),
            "layouts": self._describe(chosen)[1],
        }

    def _hour_columns(self, parts: list[Part], periods: list[Period], g_per_j: float,
                      lam: float) -> dict:
        """The realised ``hour_*`` totals (search and reconfiguration overheads included)."""
        ref = self.reference
        reconfig_s = 0.0
        for part in parts:
            reconfig_s += part.reconfig_s
        used = sum(p.duration_s for part in parts for p in part.periods)
        # one pass, each total summed in period order from 0 (as sum() does)
        hour_s = requests = energy = eval_e = reconf_e = weighted = ok_req = violation_s = 0
        for p in periods:
            hour_s += p.duration_s
            requests += p.requests
            energy += p.energy_j
            weighted += p.accuracy * p.requests
            if p.kind == "evaluation":
                eval_e += p.energy_j
            elif p.kind == "reconfig":
                reconf_e += p.energy_j
            if p.sla_met:
                ok_req += p.requests
            else:
                violation_s += p.duration_s
        # a live hour whose windows answered nothing has no per-request numbers
        accuracy = weighted / requests if requests else math.nan
        energy_per_req = energy / requests if requests else math.inf
        carbon_per_req = energy_per_req * g_per_j
        return {
            "evaluation_carbon_g": eval_e * g_per_j, "reconfig_s": reconfig_s,
            "evaluation_energy_j": eval_e, "reconfig_energy_j": reconf_e,
            "reconfig_carbon_g": reconf_e * g_per_j,
            "n_layout_changes": sum(part.n_layout_changes for part in parts),
            "n_model_loads": sum(part.n_model_loads for part in parts),
            "hour_s": hour_s, "hour_requests": requests,
            "hour_energy_j": energy, "hour_carbon_g": energy * g_per_j,
            "hour_energy_j_per_request": energy_per_req,
            "hour_carbon_g_per_request": carbon_per_req, "hour_accuracy": accuracy,
            "hour_delta_carbon_pct": ref.delta_carbon_pct(carbon_per_req),
            "hour_delta_accuracy_pct": ref.delta_accuracy_pct(accuracy),
            "hour_objective": (ref.objective(accuracy, carbon_per_req, lam)
                               if math.isfinite(lam) else math.nan),
            "sla_violation_s": violation_s,
            "sla_ok_pct": ok_req / requests * 100.0 if requests else math.nan,
            "overrun_s": max(used - self.settings.hour_s, 0.0),
        }

    def run(self, ci_g_per_kwh: Sequence[float], timestamps_utc: Iterable[str] | None = None,
            progress: bool = False,
            on_hour: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
        """Step through every hour of a trace; one row per hour in :attr:`columns` order.

        ``on_hour(log so far)`` is called after every hour (a live run rewrites its log, so an
        interrupted run leaves the complete hours)."""
        ci = [float(c) for c in ci_g_per_kwh]
        stamps = list(timestamps_utc) if timestamps_utc is not None else [""] * len(ci)
        if len(stamps) != len(ci):
            raise CloverError(f"trace has {len(ci)} intensities but {len(stamps)} timestamps")
        hours = range(len(ci))
        if progress:
            from tqdm import tqdm
            hours = tqdm(hours, desc=f"{self.meta.get('scheme', 'run')} {self.meta.get('app', '')}",
                         unit="h", leave=False)
        rows = []
        for h in hours:
            rows.append(self.step(h, ci[h], str(stamps[h])))
            if on_hour is not None:
                on_hour(pd.DataFrame(rows, columns=list(self.columns)))
        return pd.DataFrame(rows, columns=list(self.columns))

