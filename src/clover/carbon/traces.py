"""Hourly grid carbon-intensity traces: loading, validation, windows, seasons and presets.

Everything here reads the *tidy* carbon CSVs of the curated data directory (see
``../shared/data/README.md``, "Tidy carbon schema"): one row per hour with the columns

``timestamp_utc``
    start of the hour, ISO 8601 (``YYYY-MM-DDTHH:MM:SSZ``); a timestamp without a zone is UTC;
``zone``
    grid zone id (Electricity Maps ids such as ``US-CAL-CISO``, ``GB``; EIA balancing
    authorities as ``US-EIA-CISO``);
``carbon_intensity_g_per_kwh``
    gCO2eq per kWh of electricity drawn from the grid.

Datasets (sub-directories of ``carbon/`` in the data directory, in the order
:func:`load_zone` prefers them when a zone is in several): ``electricitymaps`` (2021-2024,
lifecycle intensity, one file per zone), ``eia930_2022`` (US balancing authorities, 2022),
``uk_eso_2021`` (National Grid ESO actual intensity, GB 2021) and ``clover`` (the three
49-hour traces of the original Clover artifact, also available as presets).

A :class:`CarbonTrace` is always strictly hourly and complete. Input that is not (sub-hourly
or duplicated stamps, missing hours) is rejected with a :class:`~clover.errors.CloverError`
naming the file, unless the caller asks for ``resample=True`` (mean of the values within each
hour) or ``fill="interpolate"`` (linear in time across missing hours, counted in
:attr:`CarbonTrace.filled_hours` and in :attr:`CarbonTrace.source`).

Trace specification grammar (:func:`load_trace`, ``clover carbon show SPEC``)::

    SPEC    := PRESET | WINDOW | PATH
    PRESET  := CISO-March | CISO-Sep | ESO-March        (case-insensitive; '_' for '-' too)
    WINDOW  := ZONE['@'DATASET]                          the full hourly series
             | ZONE['@'DATASET] ':' SEASON ':' YEAR [':' HOURS]
             | ZONE['@'DATASET] ':' START ':' HOURS
    SEASON  := winter | spring | summer | autumn | fall
    START   := YYYY-MM-DD | YYYY-MM-DDTHH                UTC, on the hour
    HOURS   := positive integer (default 49 for a season, the length of Clover's traces)
    PATH    := a tidy carbon CSV file (name ends in .csv), the full hourly series

Examples: ``CISO-March``, ``US-CAL-CISO:summer:2022``, ``GB@uk_eso_2021:winter:2021:72``,
``DE:2023-01-15T06:24``, ``US-EIA-PJM``, ``my_trace.csv``. A trace's :attr:`~CarbonTrace.name`
is the canonical spec, so ``load_trace(trace.name)`` rebuilds it.

Seasons (:func:`season_window`) start at a fixed calendar date, 00:00 UTC on the 15th of the
middle month of the meteorological season: winter Jan 15, spring Apr 15, summer Jul 15,
autumn Oct 15 of ``year``. For southern-hemisphere zones (:data:`SOUTHERN_HEMISPHERE_PREFIXES`:
AU, BR, CL, ZA, ...) the seasons are swapped (summer = Jan 15, winter = Jul 15), so "summer"
means the local summer everywhere; pass ``hemisphere="north"`` to use the northern dates.
"""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import numpy as np
import pandas as pd

from clover.cliutil import CI_MAX_G_PER_KWH, HOURS_MAX, PUE_MAX, YEAR_MAX, YEAR_MIN
from clover.errors import CloverError
from clover.paths import input_error, resolve_data_dir
from clover.tables import parse_timestamps, read_checked_csv

# --------------------------------------------------------------------------- constants

#: PUE the original Clover uses for its reference carbon ``C_base``: sc23-clover
#: ``system/clover.py``, ``CloverExperiment.run(self, Lambda, base_ci=250, base_pue=1.5)``
#: (commit 8cea06e, MIT). Traces themselves default to PUE 1.0 (grid intensity).
CLOVER_PUE = 1.5

#: Reference carbon intensity (gCO2eq/kWh) of the original Clover ``C_base`` (same source).
CLOVER_BASE_CI_G_PER_KWH = 250.0

#: Columns every tidy carbon CSV must have.
TIMESTAMP_COL = "timestamp_utc"
ZONE_COL = "zone"
CI_COL = "carbon_intensity_g_per_kwh"
REQUIRED_COLUMNS = (TIMESTAMP_COL, ZONE_COL, CI_COL)

#: Hours of every Clover trace (49 hourly values, SC'23 artifact ``system/csv/*.csv``).
CLOVER_TRACE_HOURS = 49

FillMode = Literal["interpolate"] | None
Hemisphere = Literal["auto", "north", "south"]

_HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class CarbonDataset:
    """One tidy carbon dataset: a directory of CSVs under the data directory."""

    key: str
    directory: str  #: relative to the data directory
    description: str
    per_zone_files: bool  #: file stem == zone id (lets :func:`load_zone` skip the others)


#: Known datasets, in the order :func:`load_zone` prefers them (longest, gap-free first).
DATASETS: tuple[CarbonDataset, ...] = (
    CarbonDataset("electricitymaps", "carbon/electricitymaps",
                  "Electricity Maps hourly lifecycle (LCA) intensity 2021-2024, via HPE "
                  "sustain-cluster (ODbL)", True),
    CarbonDataset("eia930_2022", "carbon/eia930_2022",
                  "EIA-930 generation-weighted intensity of 8 US balancing authorities, 2022, "
                  "via HPE dc-rl", False),
    CarbonDataset("uk_eso_2021", "carbon/uk_eso_2021",
                  "National Grid ESO actual GB intensity 2021, via sc23-sustainability", False),
    CarbonDataset("clover", "carbon/clover",
                  "the three 49-hour traces of the original Clover artifact (sc23-clover)", False),
)
_DATASET_BY_KEY = {d.key: d for d in DATASETS}

#: Seasons: (month, day) of the 00:00 UTC start, northern hemisphere (middle month of the
#: meteorological season, day 15).
SEASON_STARTS: dict[str, tuple[int, int]] = {
    "winter": (1, 15),
    "spring": (4, 15),
    "summer": (7, 15),
    "autumn": (10, 15),
}
_SEASON_ALIASES = {"fall": "autumn"}
_SOUTHERN_SEASON = {"winter": "summer", "summer": "winter", "spring": "autumn", "autumn": "spring"}

#: Zone-id prefixes of southern-hemisphere grids (Electricity Maps ids); matched as the
#: whole id or the id's first dash-separated part.
SOUTHERN_HEMISPHERE_PREFIXES = ("AU", "NZ", "ZA", "BR", "CL", "AR", "UY", "PY", "PE", "BO")


@dataclass(frozen=True)
class Preset:
    """One of the original Clover traces (sc23-clover ``system/csv``, MIT)."""

    name: str
    file: str  #: tidy CSV, relative to the data directory
    original: str  #: the authors' byte-for-byte file, relative to the data directory
    zone: str
    mean_g_per_kwh: float  #: from ``../shared/data/README.md`` (validation summary)


#: The three traces the Clover paper evaluates (49 hourly values each).
PRESETS: dict[str, Preset] = {
    "CISO-March": Preset("CISO-March", "carbon/clover/CISO_March.csv",
                         "carbon/clover_original/carbon_intensity.csv", "US-CAL-CISO", 239.2),
    "CISO-Sep": Preset("CISO-Sep", "carbon/clover/CISO_Sep.csv",
                       "carbon/clover_original/carbon_intensity_ciso_sep.csv", "US-CAL-CISO", 223.7),
    "ESO-March": Preset("ESO-March", "carbon/clover/ESO_March.csv",
                        "carbon/clover_original/carbon_intensity_eso_march.csv", "GB", 137.3),
}


# --------------------------------------------------------------------------- the trace type

@dataclass(frozen=True, eq=False)
class CarbonTrace:
    """A complete, strictly hourly carbon-intensity trace.

    ``ci_g_per_kwh[i]`` is the intensity (gCO2eq per kWh of IT energy) during the hour that
    starts at ``timestamps_utc[i]``; with ``pue`` > 1 the grid intensity is already
    multiplied by the PUE (carbon per kWh consumed by the IT equipment). The array is
    read-only.
    """

    name: str
    zone: str
    timestamps_utc: pd.DatetimeIndex
    ci_g_per_kwh: np.ndarray
    source: str
    pue: float = 1.0
    filled_hours: int = 0  #: hours linearly interpolated because the input had gaps

    def __post_init__(self) -> None:
        ts = self.timestamps_utc
        if not isinstance(ts, pd.DatetimeIndex):
            ts = pd.DatetimeIndex(ts)
        ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
        ci = np.array(self.ci_g_per_kwh, dtype=float, copy=True)
        if ci.ndim != 1 or len(ci) != len(ts):
            raise CloverError(f"carbon trace {self.name}: {len(ts)} timestamps but "
                              f"{ci.size} intensities")
        if len(ci) == 0:
            raise CloverError(f"carbon trace {self.name}: no hours")
        if len(ts) > 1 and not ((ts[1:] - ts[:-1]) == _HOUR).all():
            raise CloverError(f"carbon trace {self.name}: timestamps_utc are not consecutive hours")
        if (ts.minute != 0).any() or (ts.second != 0).any():
            raise CloverError(f"carbon trace {self.name}: timestamps_utc are not on the hour")
        if not (math.isfinite(self.pue) and 1.0 <= self.pue <= PUE_MAX):
            raise CloverError(f"pue must be a number within [1, {PUE_MAX:g}] (got {self.pue})")
        # the bound applies to the grid intensity (before the facility PUE multiplies it)
        bad = ~np.isfinite(ci) | (ci < 0) | (ci > CI_MAX_G_PER_KWH * self.pue)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise CloverError(f"carbon trace {self.name}: ci_g_per_kwh[{i}] = {ci[i]} is not a "
                              "finite non-negative, plausible intensity "
                              f"(0 to {CI_MAX_G_PER_KWH:g} g/kWh)")
        ci.setflags(write=False)
        object.__setattr__(self, "timestamps_utc", ts)
        object.__setattr__(self, "ci_g_per_kwh", ci)
        object.__setattr__(self, "pue", float(self.pue))

    # ------------------------------------------------------------------ views
    @property
    def hours(self) -> int:
        """Number of hours in the trace."""
        return len(self.ci_g_per_kwh)

    def __len__(self) -> int:
        return self.hours

    @property
    def start_utc(self) -> pd.Timestamp:
        return self.timestamps_utc[0]

    @property
    def end_utc(self) -> pd.Timestamp:
        """Start of the last hour."""
        return self.timestamps_utc[-1]

    @property
    def grid_ci_g_per_kwh(self) -> np.ndarray:
        """Grid intensity without the PUE factor (gCO2eq per kWh drawn from the grid)."""
        return self.ci_g_per_kwh / self.pue

    def with_pue(self, pue: float) -> "CarbonTrace":
        """The same trace with facility PUE ``pue`` (absolute, not compounded).

        Intensities become ``grid_ci · pue``: carbon per kWh of IT energy. ``with_pue(1.0)``
        gives back the grid intensities. Clover's reference uses :data:`CLOVER_PUE` (1.5).
        """
        pue = _check_pue(pue)
        return CarbonTrace(self.name, self.zone, self.timestamps_utc,
                           self.grid_ci_g_per_kwh * pue, self.source, pue, self.filled_hours)

    def to_frame(self) -> pd.DataFrame:
        """One row per hour: ``hour, timestamp_utc, zone, ci_g_per_kwh, pue``."""
        frame = pd.DataFrame({
            "hour": np.arange(self.hours),
            "timestamp_utc": self.timestamps_utc,
            "zone": self.zone,
            "ci_g_per_kwh": self.ci_g_per_kwh,
            "pue": self.pue,
        })
        frame.attrs.update(name=self.name, source=self.source, filled_hours=self.filled_hours)
        return frame

    def summary(self) -> dict[str, object]:
        """Name, zone, span, length and min/mean/max intensity (gCO2eq/kWh)."""
        ci = self.ci_g_per_kwh
        return {
            "name": self.name, "zone": self.zone, "start_utc": _iso(self.start_utc),
            "end_utc": _iso(self.end_utc), "hours": self.hours, "pue": self.pue,
            "min_g_per_kwh": float(ci.min()), "mean_g_per_kwh": float(ci.mean()),
            "max_g_per_kwh": float(ci.max()), "filled_hours": self.filled_hours,
            "source": self.source,
        }

    def __repr__(self) -> str:
        return (f"CarbonTrace({self.name!r}, zone={self.zone!r}, {self.hours} h from "
                f"{_iso(self.start_utc)}, mean {self.ci_g_per_kwh.mean():.1f} g/kWh, "
                f"pue={self.pue})")


# --------------------------------------------------------------------------- CSV reading

def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_pue(pue: float) -> float:
    try:
        value = float(pue)
    except (TypeError, ValueError):
        raise CloverError(f"pue must be a number >= 1.0 (got {pue!r})") from None
    if not (math.isfinite(value) and 1.0 <= value <= PUE_MAX):
        raise CloverError(f"pue must be a number within [1, {PUE_MAX:g}] (got {pue!r})")
    return value


def _display(path: Path, data_dir: Path | None = None) -> str:
    """``path`` relative to the data directory when inside it, else as given."""
    if data_dir is not None:
        try:
            return str(path.resolve().relative_to(data_dir))
        except ValueError:
            pass
    return str(path)


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
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise CloverError(f"carbon trace file {path} not found") from None
    except OSError as exc:
        raise input_error(path, "carbon trace file", exc) from None
    if not path.is_file():
        raise CloverError(f"carbon trace file {path} is not a file")
    return _read_carbon_csv_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size,
                                   bool(resample)).copy()


@functools.lru_cache(maxsize=64)
def _read_carbon_csv_cached(path: str, _mtime_ns: int, _size: int,
                            resample: bool) -> pd.DataFrame:
    raw = read_checked_csv(path, "carbon trace", REQUIRED_COLUMNS,
                           dtype={ZONE_COL: str, TIMESTAMP_COL: str},
                           usecols=lambda c: c in REQUIRED_COLUMNS)
    if raw.empty:
        raise CloverError(f"carbon trace file {path} has no rows")
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


# --------------------------------------------------------------------------- datasets, zones

def _dataset(key: str) -> CarbonDataset:
    try:
        return _DATASET_BY_KEY[key]
    except KeyError:
        raise CloverError(f"unknown carbon dataset {key!r}; known: "
                          f"{', '.join(_DATASET_BY_KEY)}") from None


def _dataset_files(dataset: CarbonDataset, root: Path) -> list[Path]:
    directory = root / dataset.directory
    return sorted(directory.glob("*.csv")) if directory.is_dir() else []


def list_zones(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Every (zone, dataset, file) in the data directory with its span.

    Columns: ``zone, dataset, first_utc, last_utc, rows, missing_hours, file`` (file relative
    to the data directory); ``missing_hours`` counts hours absent between first and last.
    Sorted by zone, then dataset preference (:data:`DATASETS` order).
    """
    root = resolve_data_dir(data_dir)
    rows = []
    for rank, dataset in enumerate(DATASETS):
        for path in _dataset_files(dataset, root):
            frame = read_carbon_csv(path, resample=False)
            for zone, part in frame.groupby(ZONE_COL, sort=True):
                first, last = part.index[0], part.index[-1]
                expected = int((last - first) / _HOUR) + 1
                rows.append({"zone": zone, "dataset": dataset.key, "first_utc": first,
                             "last_utc": last, "rows": len(part),
                             "missing_hours": expected - len(part),
                             "file": _display(path, root), "_rank": rank})
    if not rows:
        raise CloverError(f"no carbon traces under {root / 'carbon'}; run `clover data download` "
                          "or point CLOVER_DATA / --data-dir at the curated data directory")
    table = pd.DataFrame(rows).sort_values(["zone", "_rank", "file"], kind="stable")
    return table.drop(columns="_rank").reset_index(drop=True)


@dataclass(frozen=True)
class _Series:
    """A zone's validated hourly values (may have gaps) and where they came from."""

    zone: str
    dataset: str
    values: pd.Series  #: ci_g_per_kwh indexed by UTC hour start, sorted, unique
    source: str


def _zone_series(zone: str, dataset: str | None, root: Path, resample: bool) -> _Series:
    candidates = [_dataset(dataset)] if dataset else [d for d in DATASETS if d.key != "clover"]
    for ds in candidates:
        files = _dataset_files(ds, root)
        if ds.per_zone_files:
            files = [p for p in files if p.stem == zone]
        parts, used = [], []
        for path in files:
            frame = read_carbon_csv(path, resample=resample)
            part = frame.loc[frame[ZONE_COL] == zone, "ci_g_per_kwh"]
            if len(part):
                parts.append(part)
                used.append(_display(path, root))
        if parts:
            values = pd.concat(parts).sort_index()
            if values.index.has_duplicates:
                raise CloverError(f"zone {zone} appears twice for the same hour in "
                                  f"{', '.join(used)} (dataset {ds.key})")
            return _Series(zone, ds.key, values, f"{ds.key}: {', '.join(used)}")
    known = _known_zones(root, candidates)
    where = f"dataset {dataset}" if dataset else "the carbon datasets"
    raise CloverError(f"unknown zone {zone!r}: not in {where} under {root}; known zones: "
                      f"{', '.join(known) if known else '(none)'}; presets: {', '.join(PRESETS)}")


def _known_zones(root: Path, datasets: Iterable[CarbonDataset]) -> list[str]:
    zones: set[str] = set()
    for ds in datasets:
        for path in _dataset_files(ds, root):
            if ds.per_zone_files:
                zones.add(path.stem)
            else:
                try:
                    zones.update(read_carbon_csv(path)[ZONE_COL].unique())
                except CloverError:
                    continue
    return sorted(zones)


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


def is_southern_hemisphere(zone: str) -> bool:
    """Whether ``zone`` is a southern-hemisphere grid (by :data:`SOUTHERN_HEMISPHERE_PREFIXES`)."""
    head = zone.upper().split("-")[0]
    return head in SOUTHERN_HEMISPHERE_PREFIXES


def season_start(zone: str, season: str, year: int,
                 hemisphere: Hemisphere = "auto") -> pd.Timestamp:
    """00:00 UTC of the fixed start date of ``season`` in ``year`` for ``zone``.

    Northern: winter Jan 15, spring Apr 15, summer Jul 15, autumn Oct 15. Southern
    (``hemisphere="south"``, or ``"auto"`` and :func:`is_southern_hemisphere`): the opposite
    season's date (summer Jan 15, autumn Apr 15, winter Jul 15, spring Oct 15).
    """
    key = _SEASON_ALIASES.get(str(season).lower(), str(season).lower())
    if key not in SEASON_STARTS:
        raise CloverError(f"unknown season {season!r}; use one of "
                          f"{', '.join(SEASON_STARTS)} (or fall)")
    if hemisphere not in ("auto", "north", "south"):
        raise CloverError(f"hemisphere must be auto, north or south (got {hemisphere!r})")
    south = hemisphere == "south" or (hemisphere == "auto" and is_southern_hemisphere(zone))
    month, day = SEASON_STARTS[_SOUTHERN_SEASON[key] if south else key]
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise CloverError(f"season year must be an integer (got {year!r})") from None
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise CloverError(f"season year {year} is outside {YEAR_MIN}-{YEAR_MAX}")
    return pd.Timestamp(year=year, month=month, day=day, tz="UTC")


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


# --------------------------------------------------------------------------- presets, specs

def _preset_key(name: str) -> str | None:
    wanted = name.strip().replace("_", "-").lower()
    for key in PRESETS:
        if key.lower() == wanted:
            return key
    return None


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
                   resample: bool = False, fill: FillMode = None) -> CarbonTrace:
    """A whole tidy carbon CSV (any location) as a trace; ``zone`` picks one if it has several."""
    path = Path(path)
    frame = read_carbon_csv(path, resample=resample)
    zones = list(frame[ZONE_COL].unique())
    if zone is None:
        if len(zones) > 1:
            raise CloverError(f"carbon trace file {path} holds zones {', '.join(zones)}; "
                              "name one (zone=...)")
        zone = zones[0]
    elif zone not in zones:
        raise CloverError(f"unknown zone {zone!r} in {path}; it has {', '.join(zones)}")
    values = frame.loc[frame[ZONE_COL] == zone, "ci_g_per_kwh"]
    series = _Series(zone, "file", values, str(path))
    hours = int((values.index[-1] - values.index[0]) / _HOUR) + 1
    return _complete(series, values.index[0], hours, fill, str(path))


@dataclass(frozen=True)
class TraceSpec:
    """A parsed trace specification (see the module docstring for the grammar)."""

    kind: Literal["preset", "zone", "season", "window", "file"]
    text: str
    zone: str | None = None
    dataset: str | None = None
    season: str | None = None
    year: int | None = None
    start: pd.Timestamp | None = None
    hours: int | None = None


_START_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2})?$")


def parse_trace_spec(spec: str) -> TraceSpec:
    """Parse ``spec`` (grammar in the module docstring) without reading any data."""
    text = str(spec).strip()
    if not text:
        raise CloverError("empty carbon trace spec")
    if _preset_key(text):
        return TraceSpec("preset", text)
    if text.lower().endswith(".csv"):
        return TraceSpec("file", text)
    parts = text.split(":")
    zone, _, dataset = parts[0].partition("@")
    if not zone:
        raise CloverError(f"carbon trace spec {text!r}: no zone before ':'")
    if dataset:
        _dataset(dataset)
    dataset = dataset or None
    if len(parts) == 1:
        return TraceSpec("zone", text, zone, dataset)

    def _hours(value: str) -> int:
        if not value.isdigit() or int(value) < 1:
            raise CloverError(f"carbon trace spec {text!r}: hours {value!r} is not a positive "
                              "integer")
        if int(value) > HOURS_MAX:
            raise CloverError(f"carbon trace spec {text!r}: hours {value} exceeds {HOURS_MAX}")
        return int(value)

    def _year(value: int) -> int:
        if not YEAR_MIN <= value <= YEAR_MAX:
            raise CloverError(f"carbon trace spec {text!r}: year {value} is outside "
                              f"{YEAR_MIN}-{YEAR_MAX}")
        return value

    second = parts[1]
    if second.lower() in SEASON_STARTS or second.lower() in _SEASON_ALIASES:
        if len(parts) not in (3, 4) or not parts[2].isdigit():
            raise CloverError(f"carbon trace spec {text!r}: use ZONE:SEASON:YEAR[:HOURS]")
        hours = _hours(parts[3]) if len(parts) == 4 else CLOVER_TRACE_HOURS
        season = _SEASON_ALIASES.get(second.lower(), second.lower())
        return TraceSpec("season", text, zone, dataset, season=season, year=_year(int(parts[2])),
                         hours=hours)
    if _START_RE.match(second):
        if len(parts) != 3:
            raise CloverError(f"carbon trace spec {text!r}: use ZONE:YYYY-MM-DDTHH:HOURS")
        _year(int(second[:4]))
        start = _parse_start(second + (":00" if "T" in second else ""))
        return TraceSpec("window", text, zone, dataset, start=start, hours=_hours(parts[2]))
    raise CloverError(f"carbon trace spec {text!r}: {second!r} is neither a season "
                      f"({', '.join(SEASON_STARTS)}) nor a start YYYY-MM-DD[THH]; presets are "
                      f"{', '.join(PRESETS)}")


def load_trace(spec: str | CarbonTrace, data_dir: str | os.PathLike[str] | None = None, *,
               pue: float | None = None, fill: FillMode = None,
               resample: bool = False) -> CarbonTrace:
    """A trace from a preset name, ``ZONE:season:year[:hours]``, ``ZONE:YYYY-MM-DDTHH:hours``,
    a bare ``ZONE`` (whole series) or a CSV path; optionally with facility ``pue``.

    A :class:`CarbonTrace` is passed through (with ``pue`` applied when given).
    """
    if isinstance(spec, CarbonTrace):
        trace = spec
    else:
        parsed = parse_trace_spec(spec)
        if parsed.kind == "preset":
            trace = load_preset(parsed.text, data_dir)
        elif parsed.kind == "file":
            trace = load_csv_trace(parsed.text, resample=resample, fill=fill)
        elif parsed.kind == "zone":
            trace = load_zone(parsed.zone, parsed.dataset, data_dir, fill=fill, resample=resample)
        elif parsed.kind == "season":
            trace = season_window(parsed.zone, parsed.season, parsed.year, parsed.hours,
                                  dataset=parsed.dataset, data_dir=data_dir, fill=fill,
                                  resample=resample)
        else:
            trace = select_window(parsed.zone, parsed.start, parsed.hours,
                                  dataset=parsed.dataset, data_dir=data_dir, fill=fill,
                                  resample=resample)
    return trace if pue is None else trace.with_pue(pue)
