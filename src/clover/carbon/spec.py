"""The trace-spec grammar (docstring of the package :mod:`clover.carbon`) and :func:`load_trace`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from clover.carbon.datasets import PRESETS, _dataset, _preset_key
from clover.carbon.imports import BASES, Basis
from clover.carbon.seasons import _SEASON_ALIASES, SEASON_STARTS
from clover.carbon.trace import CLOVER_TRACE_HOURS, CarbonTrace, FillMode
from clover.carbon.windows import (
    _parse_start, load_csv_trace, load_preset, load_zone, season_window, select_window)
from clover.cliutil import HOURS_MAX, YEAR_MAX, YEAR_MIN
from clover.errors import CloverError


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
    path: str | None = None
    basis: Basis = "lifecycle"


_START_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2})?$")
#: file names a spec reads as a path (any kind of :mod:`clover.carbon.imports`)
FILE_SUFFIXES = (".csv", ".json")


def _file_spec(text: str) -> TraceSpec | None:
    """``PATH`` or ``PATH#BASIS`` (BASIS: lifecycle or direct), PATH ending in .csv/.json."""
    path, hash_, basis = text.rpartition("#")
    if not hash_ or not path.lower().endswith(FILE_SUFFIXES):
        path, basis = text, ""
    if not path.lower().endswith(FILE_SUFFIXES):
        return None
    if basis and basis.lower() not in BASES:
        raise CloverError(f"carbon trace spec {text!r}: column {basis!r} after '#' is not one "
                          f"of {', '.join(BASES)}")
    return TraceSpec("file", text, path=path, basis=(basis.lower() or "lifecycle"))


def parse_trace_spec(spec: str) -> TraceSpec:
    """Parse ``spec`` (grammar in the module docstring) without reading any data."""
    text = str(spec).strip()
    if not text:
        raise CloverError("empty carbon trace spec")
    if _preset_key(text):
        return TraceSpec("preset", text)
    file_spec = _file_spec(text)
    if file_spec is not None:
        return file_spec
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
    a bare ``ZONE`` (whole series) or a file path (``PATH[#direct]``: a tidy CSV or an
    Electricity Maps / WattTime export, :mod:`clover.carbon.imports`); optionally with
    facility ``pue``.

    A :class:`CarbonTrace` is passed through (with ``pue`` applied when given).
    """
    if isinstance(spec, CarbonTrace):
        trace = spec
    else:
        parsed = parse_trace_spec(spec)
        if parsed.kind == "preset":
            trace = load_preset(parsed.text, data_dir)
        elif parsed.kind == "file":
            trace = load_csv_trace(parsed.path, resample=resample, fill=fill,
                                   basis=parsed.basis)
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
