"""Synthetic controller logs with known totals, in the real log schema."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clover.control.grid import log_columns

#: scheme -> (carbon factor vs BASE, accuracy, evaluations per hour, p95/SLA)
PROFILE = {
    "base": (1.00, 84.582, 0, 1.00),
    "co2opt": (0.18, 78.382, 0, 0.90),
    "jung": (0.50, 81.528, 0, 0.80),
    "blover": (0.40, 83.0, 8, 0.95),
    "clover": (0.23, 83.6, 3, 0.95),
    "oracle": (0.22, 83.7, 0, 0.97),
}


def synthetic_log(app="efficientnet", trace="CISO-March", scheme="clover", lam=0.5,
                  floor=None, hours=6, seed=0, protocol="extended", grid="main") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    factor, acc, evals, p95r = PROFILE[scheme]
    if lam != 0.5:  # more carbon weight -> less carbon, less accuracy
        factor *= 1.0 - 0.5 * (lam - 0.5)
        acc -= 2.0 * (lam - 0.5)
    if floor is not None:
        acc = max(acc, floor)
    ci = 100 + 200 * rng.random(hours)
    req = 36000.0
    base_carbon_pr = 4.0 * 250 * 1.5 / 3.6e6
    carbon_pr = 4.0 * factor * ci * 1.5 / 3.6e6
    rows = []
    for h in range(hours):
        dc = (base_carbon_pr - carbon_pr[h]) / base_carbon_pr * 100
        da = (acc - 84.582) / 84.582 * 100
        f = lam * dc + (1 - lam) * da
        rows.append({
            "hour": h, "timestamp_utc": f"2021-03-26T{h:02d}:00:00Z", "ci_g_per_kwh": ci[h],
            "scheme": scheme, "app": app, "lam": lam, "configuration": "{}",
            "accuracy": acc, "energy_j_per_request": 4.0 * factor,
            "carbon_g_per_request": carbon_pr[h], "p95_ms": 100.0 * p95r, "sla_ms": 100.0,
            "sla_met": p95r <= 1.0, "objective": f, "delta_carbon_pct": dc,
            "delta_accuracy_pct": da, "evaluations": evals if h % 2 == 0 else 0,
            "evaluation_carbon_g": 0.1 * evals, "reconfig_s": 10.0 * bool(evals),
            "decision_s": 0.01 * evals, "source": "modeled", "trace": trace, "gpu": "a100-40gb",
            "n_gpus": 10, "backend": "model", "accuracy_floor": "" if floor is None else floor,
            "rate_rps": 10.0, "config_key": "[]", "layouts": "[]", "eval_window_s": 30.0,
            "evaluation_energy_j": 1.0, "reconfig_energy_j": 1.0, "reconfig_carbon_g": 0.0,
            "n_layout_changes": 0, "n_model_loads": 0, "hour_s": 3600.0, "hour_requests": req,
            "hour_energy_j": 4.0 * factor * req, "hour_carbon_g": carbon_pr[h] * req,
            "hour_energy_j_per_request": 4.0 * factor,
            "hour_carbon_g_per_request": carbon_pr[h], "hour_accuracy": acc,
            "hour_delta_carbon_pct": dc, "hour_delta_accuracy_pct": da, "hour_objective": f,
            "sla_violation_s": 0.0, "sla_ok_pct": 100.0, "overrun_s": 0.0,
            "protocol": protocol, "grid": grid,
        })
    return pd.DataFrame(rows, columns=list(log_columns()))


def write_grid(tmp_path, apps=("efficientnet", "yolo"), traces=("CISO-March", "ESO-March"),
               regions=("DE.winter", "DE.summer"), lams=(0.1, 0.5, 0.9)):
    """A small grid of logs like the pipeline writes; returns the paths."""
    paths = []

    def put(df, app, trace, scheme, lam, floor):
        grid = df["grid"].iloc[0]
        p = tmp_path / "runs" / grid / app / trace / f"{scheme}_lam{lam:g}_floor{floor}.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(p, index=False)
        paths.append(p)

    for app in apps:
        for trace in traces:
            for scheme in PROFILE:
                put(synthetic_log(app, trace, scheme), app, trace, scheme, 0.5, "none")
    for lam in lams:
        for scheme in ("clover", "oracle"):
            put(synthetic_log("efficientnet", "CISO-March", scheme, lam, grid="lam_sweep"),
                "efficientnet", "CISO-March", scheme, lam, "none")
            put(synthetic_log("efficientnet", "CISO-March", scheme, lam, floor=83.0,
                              grid="lam_sweep"),
                "efficientnet", "CISO-March", scheme, lam, "2")
    for trace in regions:
        for scheme in ("base", "clover", "oracle"):
            put(synthetic_log("efficientnet", trace, scheme, seed=3, grid="regions"),
                "efficientnet", trace,
                scheme, 0.5, "none")
    return sorted(set(paths))


def gpu_table() -> pd.DataFrame:
    rows = []
    for app in ("efficientnet", "yolo"):
        for s, n in (("base", 10), ("co2opt", 3), ("jung", 6), ("clover", 5), ("oracle", 4)):
            rows.append({"app": app, "scheme": s, "gpus_needed": n, "source": "modeled",
                         "backend": "model"})
    return pd.DataFrame(rows)
