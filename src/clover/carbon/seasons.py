"""Seasons: fixed calendar start dates per hemisphere (see :mod:`clover.carbon`)."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from clover.cliutil import YEAR_MAX, YEAR_MIN
from clover.errors import CloverError

Hemisphere = Literal["auto", "north", "south"]

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
