"""Aggregation of controller logs: one tidy hourly table, one row per run, comparisons.

Every number here is computed from the per-hour logs written by :mod:`clover.control`
(columns in ``docs/ARCHITECTURE.md``, "Controller log"). Realised quantities (``hour_*``
columns: online evaluations and reconfigurations included) are what the carbon and accuracy
comparisons use; the steady-state ``p95_ms`` / ``sla_met`` of each hour's chosen configuration
is what the SLA comparison uses, next to ``sla_ok_pct`` (share of requests served while the
service met the SLA, reconfiguration periods included).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from clover.control.grid import log_columns
from clover.errors import CloverError
from clover.paths import check_input_file
from clover.names import PROTOCOL_NAMES

#: Keys that identify a run: its labels (protocol, grid), its parameters and its seed.
RUN_KEYS = ("protocol", "grid", "app", "trace", "scheme", "lam", "floor", "seed")
#: Keys within which runs are compared (BASE and ORACLE of the same protocol and grid).
COMPARE_KEYS = ("protocol", "grid", "app", "trace")
#: Scheme order in every table and figure.
SCHEME_ORDER = ("base", "co2opt", "jung", "blover", "clover", "oracle", "static",
                "static-daily")
SCHEME_LABEL = {"base": "BASE", "co2opt": "CO2OPT", "jung": "JUNG", "blover": "Blover",
                "clover": "Clover", "oracle": "ORACLE", "static": "static (hindsight)",
                "static-daily": "static-daily", "sa-raw": "sa-raw"}
#: The three original Clover traces.
ORIGINAL_TRACES = ("CISO-March", "CISO-Sep", "ESO-March")


def read_log(path: str | Path) -> pd.DataFrame:
    """One controller log; a clear error when the file is missing or not a controller log."""
    path = Path(path)
    if not path.is_file():
        raise CloverError(f"controller log {path} not found")
    check_input_file(path, "controller log")  # size cap before pandas reads it
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CloverError(f"controller log {path}: cannot parse ({exc})") from None
    missing = [c for c in log_columns() if c not in df.columns]
    if missing:
        raise CloverError(f"controller log {path}: missing column(s) {', '.join(missing)}")
    if df.empty:
        raise CloverError(f"controller log {path}: no hours")
    return df


def floor_label(value) -> str:
    """``none`` or the accuracy floor in % as written in the log."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "":
        return "none"
    return f"{float(value):.6g}"


def combine_logs(paths: Iterable[str | Path], seeds: Sequence[int] = (0,)) -> pd.DataFrame:
    """Every log in one hourly table (sorted, with ``floor`` and ``seed`` labels; the seed
    from the log's name, :func:`clover.control.grid.seed_of_path`, ``seeds[0]`` untagged)."""
    from clover.control.grid import seed_of_path

    paths = list(paths)
    frames = [read_log(p).assign(seed=seed_of_path(str(p), list(seeds))) for p in paths]
    if not frames:
        raise CloverError("no controller logs to aggregate")
    df = pd.concat(frames, ignore_index=True)
    df["floor"] = [floor_label(v) for v in df["accuracy_floor"]]
    df["lam"] = df["lam"].astype(float)
    order = {s: i for i, s in enumerate(SCHEME_ORDER)}
    df["_s"] = df["scheme"].map(order).fillna(len(order))
    df = df.sort_values(["protocol", "grid", "app", "trace", "_s", "scheme", "lam", "floor",
                         "seed", "hour"]).drop(columns="_s")
    return df.reset_index(drop=True)


def _run_row(g: pd.DataFrame) -> dict:
    req = g["hour_requests"].to_numpy(float)
    tot_req = req.sum()
    carbon = g["hour_carbon_g"].sum()
    energy = g["hour_energy_j"].sum()
    ratio = g["p95_ms"] / g["sla_ms"]
    return {
        "hours": int(len(g)),
        "ci_mean_g_per_kwh": float(g["ci_g_per_kwh"].mean()),
        "carbon_g": float(carbon),
        "energy_j": float(energy),
        "requests": float(tot_req),
        "carbon_g_per_request": float(carbon / tot_req),
        "carbon_g_per_request_steady": float((g["carbon_g_per_request"] * req).sum() / tot_req),
        "energy_j_per_request": float(energy / tot_req),
        "accuracy": float((g["hour_accuracy"] * req).sum() / tot_req),
        "accuracy_min_chosen": float(g["accuracy"].min()),
        "accuracy_floor_value": float(pd.to_numeric(g["accuracy_floor"], errors="coerce").iloc[0]),
        "accuracy_min_realised": float(g["hour_accuracy"].min()),
        "delta_accuracy_pct": float((g["hour_delta_accuracy_pct"] * req).sum() / tot_req),
        "delta_carbon_pct": float((g["hour_delta_carbon_pct"] * req).sum() / tot_req),
        "objective": float(g["hour_objective"].mean()),
        "objective_steady": float(g["objective"].mean()),
        "p95_over_sla_max": float(ratio.max()),
        "p95_over_sla_mean": float(ratio.mean()),
        "sla_ms": float(g["sla_ms"].iloc[0]),
        "sla_met_hours_pct": float(g["sla_met"].astype(bool).mean() * 100.0),
        "sla_ok_pct": float((g["sla_ok_pct"] * req).sum() / tot_req),
        "evaluations": int(g["evaluations"].sum()),
        "evaluations_per_hour": float(g["evaluations"].mean()),
        "evaluation_carbon_g": float(g["evaluation_carbon_g"].sum()),
        "reconfig_s": float(g["reconfig_s"].sum()),
        "reconfig_carbon_g": float(g["reconfig_carbon_g"].sum()),
        "decision_s": float(g["decision_s"].sum()),
        "decision_s_per_hour": float(g["decision_s"].mean()),
        "n_gpus": int(g["n_gpus"].max()),
        "source": "+".join(sorted({str(s) for s in g["source"].dropna()})),
        "backend": "+".join(sorted({str(s) for s in g["backend"].dropna()})),
    }


def summarize_runs(hourly: pd.DataFrame) -> pd.DataFrame:
    """One row per run with totals and comparisons against BASE and ORACLE.

    Comparisons stay within one protocol and grid (:data:`COMPARE_KEYS`); a grid that runs no
    BASE (the λ sweep) is compared with its protocol's main-grid BASE on the same app and trace.
    ``carbon_saved_pct``: carbon per request saved against BASE on the same app and trace
    (realised totals); ``accuracy_loss_points``: BASE's accuracy minus this run's (points, as
    the artifact's ``run.py``). ``accuracy_change_pct``: request-weighted accuracy change against the
    same BASE run. ``objective_gap_vs_oracle``: ORACLE's mean realised objective minus this
    run's, same app, trace, λ and floor (points of f; 0 = as good as ORACLE).
    """
    rows = []
    for keys, g in hourly.groupby(list(RUN_KEYS), sort=False):
        rows.append({**dict(zip(RUN_KEYS, keys)), **_run_row(g)})
    runs = pd.DataFrame(rows)
    ck = list(COMPARE_KEYS)
    base = runs[(runs["scheme"] == "base") & (runs["floor"] == "none")]
    # a grid without BASE (the λ sweep) is compared with its protocol's main-grid BASE; a run
    # with BASE of its own seed with that, else with the one seed-independent BASE run
    main = base[base["grid"] == "main"].assign(grid="*")
    b_carbon, b_acc = np.full(len(runs), np.nan), np.full(len(runs), np.nan)
    for table, keys in ((base, ck + ["seed"]), (base, ck), (main, ["protocol", "app", "trace",
                                                                    "seed"]),
                        (main, ["protocol", "app", "trace"])):
        ref = table.groupby(keys)[["carbon_g_per_request", "accuracy"]].first()
        idx = pd.MultiIndex.from_frame(runs[keys]) if len(keys) > 1 else runs[keys[0]]
        b_carbon = np.where(np.isnan(b_carbon),
                            ref["carbon_g_per_request"].reindex(idx).to_numpy(), b_carbon)
        b_acc = np.where(np.isnan(b_acc), ref["accuracy"].reindex(idx).to_numpy(), b_acc)
    runs["base_carbon_g_per_request"] = b_carbon
    runs["base_accuracy"] = b_acc
    runs["carbon_saved_pct"] = (1.0 - runs["carbon_g_per_request"].to_numpy() / b_carbon) * 100.0
    runs["accuracy_change_pct"] = (runs["accuracy"].to_numpy() / b_acc - 1.0) * 100.0
    runs["accuracy_loss_points"] = b_acc - runs["accuracy"].to_numpy()
    runs["objective_gap_vs_oracle"] = reference_value(runs, "oracle", "objective") - \
        runs["objective"].to_numpy()
    return runs


def reference_value(runs: pd.DataFrame, scheme: str, col: str) -> np.ndarray:
    """Per run, ``col`` of ``scheme``'s run with the same labels, app, trace, λ and floor: of
    the same seed where it has one, else of its one seed-independent run (NaN without)."""
    ok = list(COMPARE_KEYS) + ["lam", "floor"]
    ref = runs[runs["scheme"] == scheme]
    out = np.full(len(runs), np.nan)
    for keys in (ok + ["seed"], ok):
        table = ref.groupby(keys)[col].first()
        out = np.where(np.isnan(out),
                       table.reindex(pd.MultiIndex.from_frame(runs[keys])).to_numpy(), out)
    return out


def hourly_gap(hourly: pd.DataFrame, scheme: str = "clover") -> pd.DataFrame:
    """Per hour: ORACLE's realised objective minus ``scheme``'s (same labels, app, trace, λ,
    floor)."""
    keys = ["protocol", "grid", "app", "trace", "lam", "floor", "hour"]
    seeded = "seed" in hourly.columns
    a = hourly[hourly["scheme"] == scheme].set_index(keys + (["seed"] if seeded else []))[
        "hour_objective"]
    o = hourly[hourly["scheme"] == "oracle"]
    o = o.set_index(keys + (["seed"] if seeded else []))["hour_objective"]
    if seeded:  # a seed-independent ORACLE (one run) is compared with every seed
        o_any = o.groupby(level=keys).first()
        o = o.reindex(a.index)
        o = o.fillna(pd.Series(o_any.reindex(a.index.droplevel("seed")).to_numpy(),
                               index=a.index))
    both = pd.concat({"scheme": a, "oracle": o}, axis=1).dropna()
    both["gap"] = both["oracle"] - both["scheme"]
    return both.reset_index()


def select(df: pd.DataFrame, grid: str | None = None, protocol: str | None = None,
           lam: float | None = None, floor: str | None = None) -> pd.DataFrame:
    """Rows of ``df`` (hourly or per-run table) with these labels; None = any."""
    m = np.ones(len(df), dtype=bool)
    if grid is not None:
        m &= (df["grid"] == grid).to_numpy()
    if protocol is not None:
        m &= (df["protocol"] == protocol).to_numpy()
    if lam is not None:
        m &= np.isclose(df["lam"].astype(float), lam)
    if floor is not None:
        m &= (df["floor"].astype(str) == floor).to_numpy()
    return df[m]


def protocols(df: pd.DataFrame) -> list[str]:
    """Protocols present, paper first."""
    present = set(df["protocol"]) if "protocol" in df else set()
    return [p for p in PROTOCOL_NAMES if p in present] + sorted(present - set(PROTOCOL_NAMES))


def read_gpu_counts(paths: Sequence[str | Path]) -> pd.DataFrame:
    """``clover gpu-count`` tables of every app, concatenated."""
    frames = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise CloverError(f"GPU-count table {p} not found")
        frames.append(pd.read_csv(check_input_file(p, "GPU-count table")))
    if not frames:
        return pd.DataFrame(columns=["app", "scheme", "gpus_needed"])
    return pd.concat(frames, ignore_index=True)


def embodied_savings(gpus: pd.DataFrame, kg_per_gpu: float) -> pd.DataFrame:
    """GPUs saved against BASE and the embodied carbon that avoids (kgCO2e), per app/scheme."""
    out = gpus.copy()
    base = out[out["scheme"] == "base"].set_index("app")["gpus_needed"]
    out["base_gpus_needed"] = out["app"].map(base)
    out["gpus_saved"] = out["base_gpus_needed"] - out["gpus_needed"]
    out["embodied_saved_kg"] = out["gpus_saved"] * float(kg_per_gpu)
    out["embodied_kg"] = out["gpus_needed"] * float(kg_per_gpu)
    return out
