"""The profile table: columns, validation, CSV I/O (docs/ARCHITECTURE.md, "Profile table").

The first 18 columns are the contract in ARCHITECTURE.md, in that order. Three provenance
columns are appended (added, never renamed): ``power_source`` (``nvml``, ``rapl`` or
``modeled``: where ``power_w_*``/``energy_j_per_request`` come from, which may differ from the
timing ``source``), ``input_size`` (image side in px or sequence length actually used) and
``iterations`` (timed iterations; 0 for modeled rows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from clover.errors import CloverError
from clover.paths import atomic_write

#: the contract of docs/ARCHITECTURE.md, in order
CORE_COLUMNS: tuple[str, ...] = (
    "app", "gpu", "variant", "slice_profile", "batch_size", "fits", "memory_mb",
    "service_ms_mean", "service_ms_p50", "service_ms_p95", "max_throughput_rps",
    "power_w_busy", "power_w_idle", "energy_j_per_request", "source",
    "device", "software", "timestamp_utc",
)
#: provenance columns appended after the contract
EXTRA_COLUMNS: tuple[str, ...] = ("power_source", "input_size", "iterations")
PROFILE_COLUMNS: tuple[str, ...] = CORE_COLUMNS + EXTRA_COLUMNS

SOURCES = ("measured-gpu", "measured-cpu", "modeled")
POWER_SOURCES = ("nvml", "rapl", "modeled")
TIMING_COLUMNS = ("service_ms_mean", "service_ms_p50", "service_ms_p95", "max_throughput_rps",
                  "power_w_busy", "energy_j_per_request")

_DTYPES = {
    "app": str, "gpu": str, "variant": str, "slice_profile": str, "batch_size": "int64",
    "fits": bool, "memory_mb": float, "service_ms_mean": float, "service_ms_p50": float,
    "service_ms_p95": float, "max_throughput_rps": float, "power_w_busy": float,
    "power_w_idle": float, "energy_j_per_request": float, "source": str, "device": str,
    "software": str, "timestamp_utc": str, "power_source": str, "input_size": "int64",
    "iterations": "int64",
}

#: CSV float format: 6 significant digits, enough for ms/W/J and stable across runs
FLOAT_FORMAT = "%.6g"


def empty_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if _DTYPES[c] is str else _DTYPES[c])
                         for c in PROFILE_COLUMNS})


def finalize(rows: list[dict]) -> pd.DataFrame:
    """Rows -> a table with exactly :data:`PROFILE_COLUMNS` in order and typed columns."""
    if not rows:
        return empty_table()
    missing = [c for c in PROFILE_COLUMNS if c not in rows[0]]
    if missing:
        raise CloverError(f"profile rows lack columns {missing}")
    df = pd.DataFrame(rows, columns=list(PROFILE_COLUMNS))
    return _coerce(df, "profile rows")


def _coerce(df: pd.DataFrame, where: str) -> pd.DataFrame:
    out = df.copy()
    for col, dtype in _DTYPES.items():
        try:
            if dtype is str:
                out[col] = out[col].fillna("").astype(str)
            elif dtype is bool:
                vals = out[col]
                if vals.dtype != bool:
                    vals = vals.astype(str).str.strip().str.lower().map(
                        {"true": True, "false": False, "1": True, "0": False})
                    if vals.isna().any():
                        raise ValueError("not true/false")
                out[col] = vals.astype(bool)
            else:
                out[col] = pd.to_numeric(out[col]).astype(dtype)
        except (ValueError, TypeError) as exc:
            raise CloverError(f"{where}: column {col!r} has bad values ({exc})") from None
    return out


def validate_table(df: pd.DataFrame, where: str = "profile table") -> pd.DataFrame:
    """Check columns, types and invariants; return the typed table.

    Invariants: known ``source``/``power_source``; keys unique; rows that fit have positive
    timings with ``p50 <= p95`` and ``energy = power_busy / throughput`` (1 %); rows that do
    not fit have NaN timings.
    """
    cols = list(df.columns)
    if cols[:len(CORE_COLUMNS)] != list(CORE_COLUMNS):
        missing = [c for c in CORE_COLUMNS if c not in cols]
        if missing:
            raise CloverError(f"{where}: missing columns {missing}")
        raise CloverError(f"{where}: columns out of order; expected {list(CORE_COLUMNS)} first")
    for col in EXTRA_COLUMNS:  # tables written before these columns existed stay readable
        if col not in df.columns:
            df = df.assign(**{col: {"power_source": "modeled", "input_size": 0,
                                    "iterations": 0}[col]})
    df = _coerce(df[list(PROFILE_COLUMNS)], where)
    bad = sorted(set(df["source"]) - set(SOURCES))
    if bad:
        raise CloverError(f"{where}: column 'source' has unknown values {bad} (known: {SOURCES})")
    bad = sorted(set(df["power_source"]) - set(POWER_SOURCES))
    if bad:
        raise CloverError(f"{where}: column 'power_source' has unknown values {bad}")
    keys = ["app", "gpu", "variant", "slice_profile", "batch_size"]
    if df.duplicated(keys).any():
        dup = df[df.duplicated(keys)].iloc[0][keys].tolist()
        raise CloverError(f"{where}: duplicate row for {dup}")
    fit = df[df["fits"]]
    vals = fit[list(TIMING_COLUMNS)].to_numpy(float)
    if not np.all(np.isfinite(vals) & (vals > 0)):
        raise CloverError(f"{where}: rows that fit need positive, finite timings and power")
    idle = df["power_w_idle"].to_numpy(float)
    if not np.all(np.isnan(idle) | ((idle >= 0) & np.isfinite(idle))):
        raise CloverError(f"{where}: power_w_idle must be finite and >= 0 W")
    if (fit["service_ms_p50"] > fit["service_ms_p95"] * (1 + 1e-9)).any():
        raise CloverError(f"{where}: service_ms_p50 exceeds service_ms_p95")
    energy = fit["power_w_busy"] / fit["max_throughput_rps"]
    if not np.allclose(energy, fit["energy_j_per_request"], rtol=1e-2):
        raise CloverError(f"{where}: energy_j_per_request != power_w_busy / max_throughput_rps")
    nofit = df[~df["fits"]]
    if np.isfinite(nofit[list(TIMING_COLUMNS)].to_numpy(float)).any():
        raise CloverError(f"{where}: rows with fits == False must have NaN timings")
    return df.reset_index(drop=True)


def to_csv_text(df: pd.DataFrame) -> str:
    """The canonical CSV text of a table (deterministic: same table -> same bytes)."""
    return df[list(PROFILE_COLUMNS)].to_csv(index=False, float_format=FLOAT_FORMAT,
                                            lineterminator="\n")


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Validate and write ``df`` as CSV atomically."""
    path = Path(path)
    df = validate_table(df, f"table for {path}")
    text = to_csv_text(df)
    with atomic_write(path) as fh:
        fh.write(text)
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """Read and validate a profile CSV written by ``clover profile``."""
    from clover.paths import check_input_file, input_error

    path = Path(path)
    if not path.exists():
        raise CloverError(f"profile table {path} not found")
    check_input_file(path, "profile table")
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, keep_default_na=True)
    except OSError as exc:
        raise input_error(path, "profile table", exc) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CloverError(f"profile table {path} is not a readable CSV ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a parquet reader's failure is bad input too
        raise CloverError(f"profile table {path} is not readable "
                          f"({str(exc).strip().splitlines()[0] if str(exc) else exc!r})") from None
    return validate_table(df, f"profile table {path}")
