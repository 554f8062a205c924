"""Carbon data you bring: trace files in the tidy format or in a provider's export format,
told apart by their header (issue 22, item 4).

Kinds (:func:`file_kind`), checked in this order:

``tidy``
    ``timestamp_utc, zone, carbon_intensity_g_per_kwh`` (:mod:`clover.carbon.csvio`).
``electricitymaps``
    an Electricity Maps hourly export (CSV): ``Datetime (UTC)`` plus the life-cycle column
    ``Carbon Intensity gCO₂eq/kWh (LCA)`` (portal exports up to 2024, the layout of the shared
    traces' sources) or ``Carbon intensity gCO₂eq/kWh (Life cycle)`` (later exports). The
    life-cycle value is read by default, as in the shared traces; ``basis="direct"`` reads the
    ``... (direct)`` column instead (operational emissions only). Values are gCO2eq/kWh as
    given; the zone is the ``Zone Id``/``Zone id`` column, else the file's stem.
``watttime``
    a WattTime marginal operating emissions rate (MOER) export: the v3 API's JSON
    (``{"meta": {..., "units": "lbs_co2_per_mwh"}, "data": [{"point_time", "value"}, ...]}``)
    or the same records as CSV (columns ``point_time, value``). Values are lbs CO2 per MWh,
    converted to g/kWh by x :data:`LBS_PER_MWH_TO_G_PER_KWH` (1 lb = 453.59237 g, 1 MWh =
    1,000 kWh); the points (5-minute in v3) are averaged within each UTC hour, and an hour
    needs at least :data:`MIN_POINT_SHARE` (75 %) of its points - 9 of 12 five-minute points
    - else it is an error (or, with ``fill="interpolate"``, a missing hour). The zone is
    ``meta.region`` (JSON) or a ``region``/``ba`` column (CSV), else the file's stem.

Anything else is one error line naming the columns each kind needs. The result is a tidy
frame checked like a tidy file (:func:`clover.carbon.csvio.validate_tidy`: UTC hours,
plausible non-negative values) and a ``source`` text stating the file, column and conversion.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from clover.carbon.csvio import (CI_COL, REQUIRED_COLUMNS, TIMESTAMP_COL, ZONE_COL,
                                 read_carbon_csv, trace_file_stat, validate_tidy)
from clover.errors import CloverError
from clover.paths import input_error
from clover.tables import parse_timestamps

#: grams per avoirdupois pound (exact, by definition)
GRAMS_PER_LB = 453.59237
#: lbs CO2/MWh -> g CO2/kWh: 453.59237 g per lb / 1,000 kWh per MWh
LBS_PER_MWH_TO_G_PER_KWH = GRAMS_PER_LB / 1000.0
#: share of an hour's expected points (from the file's point spacing) an hour needs
MIN_POINT_SHARE = 0.75

Basis = Literal["lifecycle", "direct"]
BASES: tuple[str, ...] = ("lifecycle", "direct")

EM_TIME = "Datetime (UTC)"
EM_COLUMNS = {
    "lifecycle": ("Carbon Intensity gCO₂eq/kWh (LCA)", "Carbon intensity gCO₂eq/kWh (Life cycle)"),
    "direct": ("Carbon Intensity gCO₂eq/kWh (direct)", "Carbon intensity gCO₂eq/kWh (direct)"),
}
EM_ZONE = ("Zone Id", "Zone id")
WT_TIME, WT_VALUE = "point_time", "value"
WT_ZONE = ("region", "ba")
WT_UNITS = "lbs_co2_per_mwh"

#: what the one-line error for a file of no known kind says is expected
EXPECTED = (f"expected a tidy trace ({', '.join(REQUIRED_COLUMNS)}), an Electricity Maps "
            f"export ({EM_TIME!r} and {EM_COLUMNS['lifecycle'][0]!r} or "
            f"{EM_COLUMNS['lifecycle'][1]!r}) or a WattTime MOER export (CSV or v3 JSON with "
            f"{WT_TIME!r} and {WT_VALUE!r}, lbs CO2/MWh)")


@dataclass(frozen=True)
class TraceFile:
    """A checked trace file: ``frame`` as :func:`~clover.carbon.csvio.read_carbon_csv`
    returns it (UTC hour index, ``zone``, ``ci_g_per_kwh``), its ``kind`` and ``source``."""

    frame: pd.DataFrame
    kind: str
    source: str


def read_trace_file(path: str | os.PathLike[str], *, basis: Basis = "lifecycle",
                    resample: bool = False, fill: str | None = None) -> TraceFile:
    """Read ``path`` of any kind in the module docstring; cached per file version.

    ``basis`` picks the Electricity Maps column (``"direct"`` is refused for other kinds);
    ``resample`` averages sub-hourly stamps of tidy and Electricity Maps files (WattTime points
    are always averaged); ``fill="interpolate"`` turns WattTime hours with too few points
    into missing hours instead of an error. Raises :class:`~clover.errors.CloverError` with one
    line naming the file for anything else.
    """
    if basis not in BASES:
        raise CloverError(f"carbon column basis must be one of {', '.join(BASES)} "
                          f"(got {basis!r})")
    path = Path(path)
    stat = trace_file_stat(path)
    try:
        found = _read_cached(str(path), str(path.resolve()), stat.st_mtime_ns, stat.st_size,
                             basis, bool(resample), fill == "interpolate")
    except OSError as exc:  # unreadable (permissions, I/O): one line naming the file
        raise input_error(path, "carbon trace file", exc) from None
    return TraceFile(found.frame.copy(), found.kind, found.source)


@functools.lru_cache(maxsize=32)
def _read_cached(shown: str, _resolved: str, _mtime_ns: int, _size: int, basis: Basis,
                 resample: bool, drop_sparse: bool) -> TraceFile:
    path = Path(shown)
    kind, table, meta = _load(path)
    if basis == "direct" and kind != "electricitymaps":
        raise CloverError(f"carbon trace file {path}: the direct (operational) column exists "
                          f"only in Electricity Maps exports; this is a {kind} file")
    if kind == "tidy":
        return TraceFile(read_carbon_csv(path, resample=resample), kind, str(path))
    if kind == "electricitymaps":
        return _electricitymaps(path, table, basis, resample, drop_sparse)
    return _watttime(path, table, meta, drop_sparse)


def _load(path: Path) -> tuple[str, pd.DataFrame | None, dict]:
    """(kind, table or None for tidy, JSON meta) of ``path``, from its header."""
    if path.suffix.lower() == ".json":
        return "watttime", *_watttime_json(path)
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise CloverError(f"carbon trace file {path} is not a readable CSV "
                          f"({str(exc).splitlines()[0]}); {EXPECTED}") from None
    kind = file_kind(header)
    if kind is None:
        raise CloverError(f"carbon trace file {path} has columns {', '.join(map(str, header))}; "
                          f"{EXPECTED}")
    if kind == "tidy":
        return kind, None, {}
    return kind, pd.read_csv(path, dtype=str, keep_default_na=False), {}


def file_kind(columns) -> str | None:
    """``tidy``, ``electricitymaps``, ``watttime`` or None, from a CSV's column names."""
    names = {str(c).strip() for c in columns}
    if set(REQUIRED_COLUMNS) <= names:
        return "tidy"
    if EM_TIME in names and names & set(EM_COLUMNS["lifecycle"] + EM_COLUMNS["direct"]):
        return "electricitymaps"
    if {WT_TIME, WT_VALUE} <= names:
        return "watttime"
    return None


def _first(names, candidates) -> str | None:
    return next((c for c in candidates if c in names), None)


def _stem_zone(path: Path) -> str:
    return path.stem


def _electricitymaps(path: Path, table: pd.DataFrame, basis: Basis, resample: bool,
                     drop_empty: bool) -> TraceFile:
    """Electricity Maps rows -> tidy frame; with ``drop_empty`` (``fill="interpolate"``) rows
    without a value are missing hours instead of an error."""
    table = table.rename(columns=lambda c: str(c).strip())
    column = _first(table.columns, EM_COLUMNS[basis])
    if column is None:
        raise CloverError(f"Electricity Maps file {path} has no {basis} column (expected "
                          f"{' or '.join(map(repr, EM_COLUMNS[basis]))})")
    zone_col = _first(table.columns, EM_ZONE)
    zone = table[zone_col] if zone_col else _stem_zone(path)
    stamps = parse_timestamps(table, EM_TIME, str(path), "Electricity Maps", utc=True,
                              hint=" (expected e.g. 2023-01-01 00:00:00)")
    values = table[column].str.strip().replace("", np.nan)
    numeric = pd.to_numeric(values, errors="coerce")
    bad = (numeric.isna() & values.notna()).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CloverError(f"Electricity Maps file {path} line {i + 2}: {column} is "
                          f"{values.iloc[i]!r}, not a number")
    raw = pd.DataFrame({TIMESTAMP_COL: stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        ZONE_COL: zone, CI_COL: numeric})
    line = np.arange(len(raw)) + 2
    empty = values.isna().to_numpy()
    dropped = ""
    if drop_empty and empty.any():
        raw, line = raw[~empty], line[~empty]
        dropped = f"; {int(empty.sum())} row(s) without a value treated as missing"
    frame = validate_tidy(raw.reset_index(drop=True), str(path), resample=resample, line=line)
    what = "life-cycle" if basis == "lifecycle" else "direct, operational only"
    return TraceFile(frame, "electricitymaps",
                     f"{path} (Electricity Maps export), column {column!r} ({what}), "
                     f"gCO2eq/kWh as given{dropped}")


def _watttime_json(path: Path) -> tuple[pd.DataFrame, dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CloverError(f"carbon trace file {path} is not valid JSON ({exc}); "
                          f"{EXPECTED}") from None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data) \
            or (data and not {WT_TIME, WT_VALUE} <= set(data[0])):
        raise CloverError(f"carbon trace file {path} is JSON without a 'data' list of "
                          f"{{{WT_TIME!r}, {WT_VALUE!r}}} records; {EXPECTED}")
    meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
    units = meta.get("units")
    if units is not None and units != WT_UNITS:
        raise CloverError(f"WattTime file {path}: meta.units is {units!r}; only {WT_UNITS!r} "
                          "(the co2_moer signal) can be converted to g/kWh")
    table = pd.DataFrame({WT_TIME: [r.get(WT_TIME) for r in data],
                          WT_VALUE: [r.get(WT_VALUE) for r in data]}, dtype=object)
    return table.astype(str).replace({"None": ""}), meta


def _watttime(path: Path, table: pd.DataFrame, meta: dict, drop_sparse: bool) -> TraceFile:
    """Convert and average a WattTime MOER table (text columns ``point_time``, ``value``)."""
    if table.empty:
        raise CloverError(f"carbon trace file {path} has no rows")
    stamps = parse_timestamps(table, WT_TIME, str(path), "WattTime", utc=True,
                              hint=" (expected ISO 8601, e.g. 2023-01-01T00:05:00+00:00)")
    lbs = pd.to_numeric(table[WT_VALUE].replace("", np.nan), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(lbs) | (lbs < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CloverError(f"WattTime file {path} record {i + 1}: {WT_VALUE} "
                          f"{table[WT_VALUE].iloc[i]!r} is not a non-negative number "
                          "(lbs CO2/MWh)")
    if stamps.duplicated().any():
        i = int(np.flatnonzero(stamps.duplicated().to_numpy())[0])
        raise CloverError(f"WattTime file {path} record {i + 1}: {WT_TIME} "
                          f"{table[WT_TIME].iloc[i]} repeats an earlier point")
    step_s, need = _points_needed(path, stamps)
    hourly = pd.DataFrame({"hour": stamps.dt.floor("h").to_numpy(),
                           "g": lbs * LBS_PER_MWH_TO_G_PER_KWH})
    hourly = hourly.groupby("hour", sort=True)["g"].agg(["mean", "size"])
    sparse = hourly["size"] < need
    dropped = ""
    if sparse.any():
        first, n = hourly.index[int(np.flatnonzero(sparse.to_numpy())[0])], int(sparse.sum())
        if not drop_sparse:
            raise CloverError(
                f"WattTime file {path}: hour {first:%Y-%m-%dT%H:%M}Z has "
                f"{int(hourly['size'][first])} of {3600 // step_s} points, fewer than the "
                f"{need} ({MIN_POINT_SHARE:.0%}) an hourly average needs; {n} such hour(s) "
                "(cut the file to whole hours, or --fill interpolate to treat them as missing)")
        hourly = hourly[~sparse]
        dropped = f"; {n} hour(s) with fewer than {need} points treated as missing"
    zone = meta.get("region") or _zone_column(table) or _stem_zone(path)
    raw = pd.DataFrame({TIMESTAMP_COL: hourly.index.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        ZONE_COL: str(zone), CI_COL: hourly["mean"].to_numpy()})
    frame = validate_tidy(raw, str(path))
    source = (f"{path} (WattTime MOER{', ' + meta['signal_type'] if meta.get('signal_type') else ''}),"
              f" column {WT_VALUE!r}: lbs CO2/MWh x {LBS_PER_MWH_TO_G_PER_KWH} = g/kWh, "
              f"{step_s // 60}-minute points averaged to the hour (at least {need} of "
              f"{3600 // step_s}){dropped}")
    return TraceFile(frame, "watttime", source)


def _zone_column(table: pd.DataFrame) -> str | None:
    column = _first(table.columns, WT_ZONE)
    if column is None:
        return None
    zones = table[column].unique()
    return str(zones[0]) if len(zones) == 1 and zones[0] else None


def _points_needed(path: Path, stamps: pd.Series) -> tuple[int, int]:
    """(spacing s, points an hour needs): the spacing is the smallest gap between points."""
    gaps = stamps.sort_values().diff().dt.total_seconds().to_numpy()[1:]
    step_s = int(gaps.min()) if len(gaps) else 3600
    if step_s <= 0 or 3600 % step_s:
        raise CloverError(f"WattTime file {path}: points are {step_s} s apart, which does not "
                          "divide an hour (expected 5-minute points)")
    return step_s, max(1, math.ceil(MIN_POINT_SHARE * 3600 / step_s))
