"""Hourly grid carbon-intensity traces: loading, validation, windows, seasons and presets.

The package's parts, one job each: :mod:`clover.carbon.trace` (the :class:`CarbonTrace`
type), :mod:`clover.carbon.csvio` (tidy CSV reading), :mod:`clover.carbon.datasets` (dataset
registry, presets, zone lookup), :mod:`clover.carbon.seasons` (season dates),
:mod:`clover.carbon.windows` (complete hourly windows) and :mod:`clover.carbon.spec` (the spec
grammar and :func:`load_trace`).

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
    PATH    := FILE ['#' COLUMN]                          the full hourly series of a file
    FILE    := a file ending in .csv or .json: tidy, an Electricity Maps export or a WattTime
               MOER export, told apart by its header (:mod:`clover.carbon.imports`)
    COLUMN  := lifecycle | direct                         Electricity Maps' column (default
                                                           lifecycle, as the shared traces)

Examples: ``CISO-March``, ``US-CAL-CISO:summer:2022``, ``GB@uk_eso_2021:winter:2021:72``,
``DE:2023-01-15T06:24``, ``US-EIA-PJM``, ``my_trace.csv``. A trace's :attr:`~CarbonTrace.name`
is the canonical spec, so ``load_trace(trace.name)`` rebuilds it.

Seasons (:func:`season_window`) start at a fixed calendar date, 00:00 UTC on the 15th of the
middle month of the meteorological season: winter Jan 15, spring Apr 15, summer Jul 15,
autumn Oct 15 of ``year``. For southern-hemisphere zones (:data:`SOUTHERN_HEMISPHERE_PREFIXES`:
AU, BR, CL, ZA, ...) the seasons are swapped (summer = Jan 15, winter = Jul 15), so "summer"
means the local summer everywhere; pass ``hemisphere="north"`` to use the northern dates.
"""

from clover.carbon.csvio import read_carbon_csv
from clover.carbon.datasets import DATASETS, PRESETS, CarbonDataset, Preset, list_zones
from clover.carbon.seasons import SEASON_STARTS, season_start
from clover.carbon.spec import TraceSpec, load_trace, parse_trace_spec
from clover.carbon.trace import CLOVER_TRACE_HOURS, CarbonTrace
from clover.carbon.windows import (load_csv_trace, load_preset, load_zone, season_window,
                                   select_window)

__all__ = [
    "CLOVER_TRACE_HOURS",
    "DATASETS",
    "PRESETS",
    "SEASON_STARTS",
    "CarbonDataset",
    "CarbonTrace",
    "Preset",
    "TraceSpec",
    "list_zones",
    "load_csv_trace",
    "load_preset",
    "load_trace",
    "load_zone",
    "parse_trace_spec",
    "read_carbon_csv",
    "season_start",
    "season_window",
    "select_window",
]
