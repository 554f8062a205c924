"""Reading and validating tidy carbon CSVs (columns ``timestamp_utc, zone,
carbon_intensity_g_per_kwh``; see :mod:`clover.carbon`)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pandas as pd

from clover.carbon.trace import _iso
from clover.cliutil import CI_MAX_G_PER_KWH
from clover.errors import CloverError
from clover.paths import input_error
from clover.tables import parse_timestamps, read_checked_csv

#: Columns every tidy carbon CSV must have.
TIMESTAMP_COL = "timestamp_utc"
ZONE_COL = "zone"
CI_COL = "carbon_intensity_g_per_kwh"
REQUIRED_COLUMNS = (TIMESTAMP_COL, ZONE_COL, CI_COL)


def _display(path: Path, data_dir: Path | None = None) -> str:
    """``path`` relative to the data directory when inside it, else as given."""
    if data_dir is not None:
        try:
            return str(path.resolve().relative_to(data_dir))
        except ValueError:
            pass
    return str(path)


def trace_file_stat(path: Path) -> os.stat_result:
    """``path``'s stat (the key of the per-file-version caches); a missing, unreadable or
    non-regular file is one :class:`~clover.errors.CloverError` naming it."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise CloverError(f"carbon trace file {path} not found") from None
    except OSError as exc:
        raise input_error(path, "carbon trace file", exc) from None
    if not path.is_file():
        raise CloverError(f"carbon trace file {path} is not a file")
    return stat


def read_carbon_csv(path: str | os.PathLike[str], *, resample: bool = False) -> pd.DataFrame:
    """Read and validate one tidy carbon CSV; cached per file version.

    Returns a frame indexed by tz-aware UTC hour start with columns ``zone`` and
    ``ci_g_per_kwh``, sorted by (zone, time), one row per zone and hour. Raises
    :class:`~clover.errors.CloverError` naming the file (and line) for a missing file, missing
    columns, an unparsable timestamp, a missing/non-numeric/negative intensity, or - unless
    ``resample`` - a timestamp that is off the hour or repeated. With ``resample=True``
    stamps are floored to the hour and the values within each hour averaged.
    Missing hours are *not* filled here (see :func:`load_zone`).
    """
    path = Path(path)
    stat = trace_file_stat(path)
    return _read_carbon_csv_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size,
                                   bool(resample)).copy()


@functools.lru_cache(maxsize=64)
def _read_carbon_csv_cached(path: str, _mtime_ns: int, _size: int,
                            resample: bool) -> pd.DataFrame:
    raw = read_checked_csv(path, "carbon trace", REQUIRED_COLUMNS,
                           dtype={ZONE_COL: str, TIMESTAMP_COL: str},
                           usecols=lambda c: c in REQUIRED_COLUMNS)
    return validate_tidy(raw, path, resample=resample)


def validate_tidy(raw: pd.DataFrame, path: str, *, resample: bool = False,
                  line: np.ndarray | None = None) -> pd.DataFrame:
    """The checks and hourly frame of :func:`read_carbon_csv` for a frame with the tidy
    columns (``timestamp_utc`` as text, ``zone``, ``carbon_intensity_g_per_kwh``) read from
    ``path``; ``line`` gives each row's line in the file for the messages (default: row + 2,
    one line per row after a header). Used for imported files too
    (:mod:`clover.carbon.imports`)."""
    if raw.empty:
        raise CloverError(f"carbon trace file {path} has no rows")
    if line is None:
        line = np.arange(len(raw)) + 2  # 1-based, after the header

    ts = parse_timestamps(raw, TIMESTAMP_COL, path, "carbon trace", utc=True,
                          hint=" (expected ISO 8601, e.g. 2021-03-26T21:00:00Z)")
    ci = pd.to_numeric(raw[CI_COL], errors="coerce")
    bad = ci.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "missing (NaN)" if pd.isna(raw[CI_COL].iloc[i]) else f"{raw[CI_COL].iloc[i]!r}"
        raise CloverError(f"carbon trace file {path} line {line[i]}: {CI_COL} is {what}; "
                          f"{int(bad.sum())} row(s) lack a numeric intensity")
    values = ci.to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0) | (values > CI_MAX_G_PER_KWH)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        why = "is negative" if values[i] < 0 else "is infinite" if not np.isfinite(values[i]) \
            else "is above the plausibility bound"
        raise CloverError(f"carbon trace file {path} line {line[i]}: {CI_COL} = {values[i]} "
                          f"{why} (gCO2eq/kWh must be within 0 to {CI_MAX_G_PER_KWH:g})")
    zone = raw[ZONE_COL]
    if zone.isna().any():
        i = int(np.flatnonzero(zone.isna().to_numpy())[0])
        raise CloverError(f"carbon trace file {path} line {line[i]}: empty {ZONE_COL}")

    frame = pd.DataFrame({ZONE_COL: zone.to_numpy(), "ci_g_per_kwh": values,
                          "line": line}, index=pd.DatetimeIndex(ts, name=TIMESTAMP_COL))
    off_hour = frame.index != frame.index.floor("h")
    dup = frame.reset_index().duplicated([TIMESTAMP_COL, ZONE_COL]).to_numpy()
    if not resample and (off_hour.any() or dup.any()):
        i = int(np.flatnonzero(off_hour | dup)[0])
        why = "is not on the hour" if off_hour[i] else "repeats an earlier hour"
        raise CloverError(f"carbon trace file {path} line {frame['line'].iloc[i]}: timestamp "
                          f"{_iso(frame.index[i]) if not off_hour[i] else frame.index[i]} {why}; "
                          "the trace is not strictly hourly (ask for hourly resampling: "
                          "resample=True / --resample)")
    if resample:
        hourly = pd.DataFrame({ZONE_COL: frame[ZONE_COL].to_numpy(),
                               TIMESTAMP_COL: frame.index.floor("h"),
                               "ci_g_per_kwh": frame["ci_g_per_kwh"].to_numpy()})
        frame = (hourly.groupby([ZONE_COL, TIMESTAMP_COL], sort=True)["ci_g_per_kwh"].mean()
                 .reset_index(ZONE_COL))
    else:
        frame = (frame.drop(columns="line").reset_index()
                 .sort_values([ZONE_COL, TIMESTAMP_COL], kind="stable")
                 .set_index(TIMESTAMP_COL))
    frame.attrs["path"] = path
    return frame


