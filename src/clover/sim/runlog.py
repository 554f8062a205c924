"""The hourly run-log contract ("Controller log" in docs/ARCHITECTURE.md) and the cost seam.

Every hourly log, simulated or live, is written by :class:`clover.control.controller.Controller`
and starts with :data:`LOG_COLUMNS` (:data:`CONTRACT_COLUMNS`, then the controller's
:data:`EXTRA_COLUMNS`); a live run adds :data:`LIVE_COLUMNS` after them.

What one hour costs is pluggable (:class:`HourCosts`): the controller asks a cost model for each
part of the hour — an online candidate's transition and window, the transition to the chosen
configuration, and the chosen configuration's serving — and sums the :class:`Period` s it gets
back. ``clover.control.accounting.ModeledCosts`` prices them (the simulator);
``clover.serve.live.MeasuredCosts`` measures them on the live service.

This module lives below both ``serve`` and ``control`` so that each can import it without
``serve`` importing ``control`` (the one-way import rule, tests/test_import_direction.py);
``clover.control.controller`` re-exports the column names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

#: Log columns in order: the ARCHITECTURE.md "Controller log" contract first, then extras.
CONTRACT_COLUMNS = (
    "hour", "timestamp_utc", "ci_g_per_kwh", "scheme", "app", "lam", "configuration",
    "accuracy", "energy_j_per_request", "carbon_g_per_request", "p95_ms", "sla_ms", "sla_met",
    "objective", "delta_carbon_pct", "delta_accuracy_pct", "evaluations", "evaluation_carbon_g",
    "reconfig_s", "decision_s", "source",
)
EXTRA_COLUMNS = (
    "trace", "gpu", "n_gpus", "backend", "accuracy_floor", "rate_rps", "config_key", "layouts",
    "eval_window_s", "evaluation_energy_j", "reconfig_energy_j", "reconfig_carbon_g",
    "n_layout_changes", "n_model_loads", "hour_s", "hour_requests", "hour_energy_j",
    "hour_carbon_g", "hour_energy_j_per_request", "hour_carbon_g_per_request", "hour_accuracy",
    "hour_delta_carbon_pct", "hour_delta_accuracy_pct", "hour_objective", "sla_violation_s",
    "sla_ok_pct", "overrun_s",
    # the protocol the run was made under (clover.sim.protocol; issue 10)
    "protocol", "space", "dispatch", "base_gpu_factor", "request_batch",
)
#: every run's log, simulated or live (clover.control.controller.LOG_COLUMNS)
LOG_COLUMNS = CONTRACT_COLUMNS + EXTRA_COLUMNS
#: what a live run measured in each hour's serving window and deploy, after LOG_COLUMNS
#: (``requests`` sent, ``answered`` ...; ``search``: sim or live, how candidates were scored)
LIVE_COLUMNS = (
    "requests", "answered", "failed", "retried", "throughput_rps", "mean_latency_ms", "p50_ms",
    "power_w", "energy_source", "routing", "mig_ops", "replicas_started", "replicas_kept",
    "input_scale", "input_note", "sla_source", "feasible", "reason", "search",
)


@dataclass(frozen=True)
class Period:
    """A stretch of the hour during which one configuration serves all traffic.

    ``duration_s`` seconds, ``energy_j`` joules drawn, ``requests`` served (they weight
    ``accuracy``, %), ``sla_met`` whether the SLA held during it.
    """

    kind: str  # "evaluation", "reconfig" or "serve"
    duration_s: float
    energy_j: float
    requests: float
    accuracy: float
    sla_met: bool
    config_key: str


@dataclass(frozen=True)
class Part:
    """What one part of the hour cost: its periods and the transition's counts.

    ``measured``: metrics the service measured while serving (live), which replace the
    scheme's own numbers in the row's steady-state columns; None = the scheme's numbers stand.
    """

    periods: tuple[Period, ...] = ()
    reconfig_s: float = 0.0
    n_layout_changes: int = 0
    n_model_loads: int = 0
    measured: Any = None


#: ``evaluate(configuration, ci_g_per_kwh) -> metrics``, the controller's cached evaluator
Evaluate = Callable[[Any, float], Any]


class HourCosts(Protocol):
    """The cost seam of the controller (``docs/controller.md``): one call per part of an hour.

    ``old`` is what is deployed (None: nothing), ``metrics`` the evaluator's (or the
    decision's) numbers for the configuration, ``evaluate`` the controller's cached evaluator
    (a modeled transition scores the reduced configurations with it). ``extra_columns`` are
    written after :data:`LOG_COLUMNS`, :meth:`columns` gives their values for the hour just
    served.
    """

    extra_columns: tuple[str, ...]

    def evaluation(self, old: Any, config: Any, metrics: Any, window_s: float, ci: float,
                   evaluate: Evaluate) -> Part:
        """Move from ``old`` to an online candidate and let it serve ``window_s``."""

    def switch(self, old: Any, new: Any, metrics: Any, ci: float, evaluate: Evaluate) -> Part:
        """Move from ``old`` to the chosen configuration ``new``."""

    def serve(self, config: Any, metrics: Any, remainder_s: float, ci: float) -> Part:
        """The chosen configuration serves the rest of the hour (``remainder_s`` seconds)."""

    def columns(self) -> dict:
        """Values of :attr:`extra_columns` for the hour just served."""
