"""The carbon-trace type: a complete, strictly hourly :class:`CarbonTrace`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from clover.cliutil import CI_MAX_G_PER_KWH, PUE_MAX
from clover.errors import CloverError
from clover.timestamps import ISO_UTC_FORMAT

#: Traces default to PUE 1.0 (grid intensity); the objective's reference (C_base at 250 g/kWh,
#: PUE 1.5) is :mod:`clover.sim.problem`'s (``CI_REF_G_PER_KWH``, ``PUE``).

#: Hours of every Clover trace (49 hourly values, SC'23 artifact ``system/csv/*.csv``).
CLOVER_TRACE_HOURS = 49

FillMode = Literal["interpolate"] | None

_HOUR = pd.Timedelta(hours=1)


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
        gives back the grid intensities (the objective's PUE is ``clover.sim.problem.PUE``).
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



def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime(ISO_UTC_FORMAT)


def _check_pue(pue: float) -> float:
    try:
        value = float(pue)
    except (TypeError, ValueError):
        raise CloverError(f"pue must be a number >= 1.0 (got {pue!r})") from None
    if not (math.isfinite(value) and 1.0 <= value <= PUE_MAX):
        raise CloverError(f"pue must be a number within [1, {PUE_MAX:g}] (got {pue!r})")
    return value
