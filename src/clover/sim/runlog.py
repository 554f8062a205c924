"""The hourly run-log column contract ("Controller log" in docs/ARCHITECTURE.md).

Every hourly log, simulated (:mod:`clover.control.controller`) or live
(:mod:`clover.serve.live`), starts with :data:`CONTRACT_COLUMNS`; the controller adds
:data:`EXTRA_COLUMNS`. It lives here, below both ``serve`` and ``control``, so that each can
import it without ``serve`` importing ``control`` (the one-way import rule,
tests/test_import_direction.py); ``clover.control.controller`` re-exports every name.
"""

from __future__ import annotations

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
#: the simulated controller's full log (clover.control.controller.LOG_COLUMNS)
LOG_COLUMNS = CONTRACT_COLUMNS + EXTRA_COLUMNS
