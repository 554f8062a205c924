"""Complete hourly windows cut out of a zone's series: whole zones, dated windows, season
windows, presets and single CSV files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from clover.carbon.csvio import TIMESTAMP_COL, ZONE_COL, read_carbon_csv
from clover.carbon.imports import Basis, read_trace_file
from clover.carbon.datasets import PRESETS, _preset_key, _Series, _zone_series
from clover.carbon.seasons import _SEASON_ALIASES, Hemisphere, season_start
from clover.carbon.trace import _HOUR, CLOVER_TRACE_HOURS, CarbonTrace, FillMode, _iso
from clover.cliutil import HOURS_MAX
from clover.errors import CloverError
from clover.paths import resolve_data_dir


def _complete(series: _Series, start: pd.Timestamp, hours: int, fill: FillMode,
              name: str) -> CarbonTrace:
    """Cut ``hours`` hours from ``start`` out of ``series``; fill gaps only if asked."""
    if fill not in (None, "interpolate"):
        raise CloverError(f"fill must be None or 'interpolate' (got {fill!r})")
    if hours < 1:
        raise CloverError(f"hours must be a positive integer (got {hours})")
    values = series.values
    first, last = values.index[0], values.index[-1]
    end = start + (hours - 1) * _HOUR
    if start < first or end > last:
        raise CloverError(f"window {_iso(start)} + {hours} h (to {_iso(end)}) is outside the "
                          f"{series.zone} data ({series.source}) which spans {_iso(first)} .. "
                          f"{_iso(last)}")
    index = pd.date_range(start, end, freq="h", name=TIMESTAMP_COL)
    window = values.reindex(index)
    missing = window.isna().to_numpy()
    source = series.source
    if missing.any():
        n = int(missing.sum())
        first_gap = _iso(index[int(np.flatnonzero(missing)[0])])
        if fill is None:
            raise CloverError(f"zone {series.zone} ({source}) has {n} missing hour(s) in "
                              f"{_iso(start)} .. {_iso(end)} (first at {first_gap}); ask for "
                              "linear filling with fill='interpolate' (--fill interpolate)")
        # interpolate against the neighbours outside the window too
        lo, hi = values.index.searchsorted(start) - 1, values.index.searchsorted(end, "right")
        context = values.iloc[max(lo, 0):hi + 1]
        full = context.reindex(context.index.union(index)).interpolate(method="time",
                                                                       limit_area="inside")
        window = full.reindex(index)
        source = f"{source}; {n} missing hour(s) linearly interpolated (first at {first_gap})"
        missing_after = window.isna().to_numpy()
        if missing_after.any():  # pragma: no cover - window lies within [first, last]
            raise CloverError(f"zone {series.zone}: cannot interpolate {first_gap}")
        filled = n
    else:
        filled = 0
    return CarbonTrace(name=name, zone=series.zone, timestamps_utc=index,
                       ci_g_per_kwh=window.to_numpy(dtype=float), source=source,
                       filled_hours=filled)


def _spec_zone(zone: str, dataset: str | None) -> str:
    return f"{zone}@{dataset}" if dataset else zone


def load_zone(zone: str, dataset: str | None = None,
              data_dir: str | os.PathLike[str] | None = None, *, fill: FillMode = None,
              resample: bool = False) -> CarbonTrace:
    """The full hourly series of ``zone`` (from its first to its last hour).

    ``dataset`` picks one of :data:`DATASETS`; by default the first dataset (in that order,
    ``clover`` excluded) that has the zone. Missing hours raise a
    :class:`~clover.errors.CloverError` unless ``fill="interpolate"``.
    """
    root = resolve_data_dir(data_dir)
    series = _zone_series(zone, dataset, root, resample)
    hours = int((series.values.index[-1] - series.values.index[0]) / _HOUR) + 1
    return _complete(series, series.values.index[0], hours, fill, _spec_zone(zone, dataset))


def _parse_start(start: str | pd.Timestamp) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise CloverError(f"window start {start!r} is not a date/time (use YYYY-MM-DD or "
                          "YYYY-MM-DDTHH, UTC)") from None
    if ts is pd.NaT:
        raise CloverError(f"window start {start!r} is not a date/time")
    ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    if ts != ts.floor("h"):
        raise CloverError(f"window start {start!r} is not on the hour")
    return ts


def _check_hours(hours: int) -> int:
    if isinstance(hours, bool) or not isinstance(hours, (int, np.integer)) or hours < 1:
        raise CloverError(f"hours must be a positive integer (got {hours!r})")
    if hours > HOURS_MAX:
        raise CloverError(f"hours must be at most {HOURS_MAX} (got {hours})")
    return int(hours)


def select_window(trace_or_zone: CarbonTrace | str, start: str | pd.Timestamp | int,
                  hours: int, *, dataset: str | None = None,
                  data_dir: str | os.PathLike[str] | None = None,
                  fill: FillMode = None, resample: bool = False) -> CarbonTrace:
    """``hours`` consecutive hours starting at ``start`` (UTC, on the hour).

    ``trace_or_zone`` is a :class:`CarbonTrace` (then ``start`` may also be an ``int`` hour
    offset into it) or a zone id, read as in :func:`load_zone`; only gaps *inside* the window
    matter (they raise unless ``fill="interpolate"``).
    """
    hours = _check_hours(hours)
    if isinstance(trace_or_zone, CarbonTrace):
        trace = trace_or_zone
        if isinstance(start, (int, np.integer)) and not isinstance(start, bool):
            offset = int(start)
        else:
            offset = int((_parse_start(start) - trace.start_utc) / _HOUR)
        if offset < 0 or offset + hours > trace.hours:
            raise CloverError(f"window of {hours} h at hour {offset} is outside trace "
                              f"{trace.name} ({trace.hours} h from {_iso(trace.start_utc)})")
        ts = trace.timestamps_utc[offset:offset + hours]
        return CarbonTrace(f"{trace.name}[{offset}:{offset + hours}]", trace.zone, ts,
                           trace.ci_g_per_kwh[offset:offset + hours], trace.source, trace.pue,
                           trace.filled_hours)
    zone = str(trace_or_zone)
    start_ts = _parse_start(start)
    root = resolve_data_dir(data_dir)
    series = _zone_series(zone, dataset, root, resample=resample)
    stamp = start_ts.strftime("%Y-%m-%dT%H")
    return _complete(series, start_ts, hours, fill, f"{_spec_zone(zone, dataset)}:{stamp}:{hours}")


def season_window(zone: str, season: str, year: int, hours: int = CLOVER_TRACE_HOURS, *,
                  dataset: str | None = None, data_dir: str | os.PathLike[str] | None = None,
                  fill: FillMode = None, hemisphere: Hemisphere = "auto",
                  resample: bool = False) -> CarbonTrace:
    """``hours`` hours of ``zone`` from :func:`season_start` (default 49, like Clover's traces)."""
    hours = _check_hours(hours)
    start = season_start(zone, season, year, hemisphere)
    key = _SEASON_ALIASES.get(str(season).lower(), str(season).lower())
    trace = select_window(zone, start, hours, dataset=dataset, data_dir=data_dir, fill=fill,
                          resample=resample)
    suffix = "" if hours == CLOVER_TRACE_HOURS else f":{hours}"
    name = f"{_spec_zone(zone, dataset)}:{key}:{int(year)}{suffix}"
    return CarbonTrace(name, trace.zone, trace.timestamps_utc, trace.ci_g_per_kwh,
                       trace.source, trace.pue, trace.filled_hours)




def load_preset(name: str, data_dir: str | os.PathLike[str] | None = None) -> CarbonTrace:
    """One of the original Clover traces (:data:`PRESETS`), 49 hourly values, PUE 1.0.

    Values are the authors' (sc23-clover ``system/csv``); timestamps are those verified in
    ``PROVENANCE.md`` (CISO-March 2021-03-26T21Z, CISO-Sep 2021-09-16T20Z, ESO-March
    2021-03-13T22Z).
    """
    key = _preset_key(name)
    if key is None:
        raise CloverError(f"unknown carbon trace preset {name!r}; presets: {', '.join(PRESETS)}")
    preset = PRESETS[key]
    root = resolve_data_dir(data_dir)
    path = root / preset.file
    frame = read_carbon_csv(path)
    zones = frame[ZONE_COL].unique()
    if len(zones) != 1:
        raise CloverError(f"preset file {path} holds zones {', '.join(zones)}; expected one")
    series = _Series(str(zones[0]), "clover", frame["ci_g_per_kwh"], f"clover: {preset.file}")
    hours = int((frame.index[-1] - frame.index[0]) / _HOUR) + 1
    trace = _complete(series, frame.index[0], hours, None, key)
    if trace.hours != CLOVER_TRACE_HOURS:
        raise CloverError(f"preset file {path} has {trace.hours} hours; Clover's traces have "
                          f"{CLOVER_TRACE_HOURS}")
    return trace


def load_csv_trace(path: str | os.PathLike[str], zone: str | None = None, *,
                   resample: bool = False, fill: FillMode = None,
                   basis: Basis = "lifecycle") -> CarbonTrace:
    """A whole trace file (any location; a tidy CSV or an export that
    :mod:`clover.carbon.imports` reads, ``basis`` picking Electricity Maps' column) as a
    trace; ``zone`` picks one if it has several. Its name is the file's spec
    (``PATH``, or ``PATH#direct``)."""
    path = Path(path)
    found = read_trace_file(path, basis=basis, resample=resample, fill=fill)
    frame = found.frame
    zones = list(frame[ZONE_COL].unique())
    if zone is None:
        if len(zones) > 1:
            raise CloverError(f"carbon trace file {path} holds zones {', '.join(zones)}; "
                              "name one (zone=...)")
        zone = zones[0]
    elif zone not in zones:
        raise CloverError(f"unknown zone {zone!r} in {path}; it has {', '.join(zones)}")
    values = frame.loc[frame[ZONE_COL] == zone, "ci_g_per_kwh"]
    series = _Series(zone, "file", values, found.source)
    hours = int((values.index[-1] - values.index[0]) / _HOUR) + 1
    name = str(path) if basis == "lifecycle" else f"{path}#{basis}"
    return _complete(series, values.index[0], hours, fill, name)
