"""Hourly grid carbon-intensity traces (tidy CSVs of the data directory), presets and windows.

See :mod:`clover.carbon.traces` for the data layout, the trace-spec grammar and the season
convention.
"""

from clover.carbon.traces import (
    CLOVER_PUE,
    CLOVER_TRACE_HOURS,
    DATASETS,
    PRESETS,
    SEASON_STARTS,
    CarbonDataset,
    CarbonTrace,
    Preset,
    TraceSpec,
    list_zones,
    load_csv_trace,
    load_preset,
    load_trace,
    load_zone,
    parse_trace_spec,
    read_carbon_csv,
    season_start,
    season_window,
    select_window,
)

__all__ = [
    "CLOVER_PUE",
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
