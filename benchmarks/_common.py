"""Shared set-up for the benchmarks: profile table and carbon trace, whichever is available.

Profiles: ``--profiles FILE`` or ``clover.profiles.load_profiles(app, gpu, backend="model")``;
if that package is not in this checkout yet, the synthetic test table (tests/sim/synthetic.py)
is used and the output says so. Carbon: ``clover.carbon.load_trace(name)`` or the tidy CSV
under the data directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def profile_table(app: str, gpu: str = "a100-40gb", path: str | None = None):
    """(table, label)."""
    if path:
        return pd.read_csv(path), f"file {path}"
    try:
        from clover.profiles import load_profiles
    except ImportError:
        sys.path.insert(0, str(REPO))
        from tests.sim.synthetic import synthetic_profiles

        return synthetic_profiles(), "SYNTHETIC test table (clover.profiles not on this branch)"
    return load_profiles(app, gpu, backend="model"), "clover.profiles modeled"


def carbon_trace(name: str = "CISO-March") -> np.ndarray:
    """Hourly carbon intensity, g/kWh."""
    try:
        from clover.carbon import load_trace
    except ImportError:
        from clover.paths import data_file

        fname = name.replace("-", "_") + ".csv"
        df = pd.read_csv(data_file(f"carbon/clover/{fname}"))
        return df["carbon_intensity_g_per_kwh"].to_numpy(dtype=float)
    tr = load_trace(name)
    if isinstance(tr, pd.DataFrame):
        return tr["carbon_intensity_g_per_kwh"].to_numpy(dtype=float)
    if isinstance(tr, pd.Series):
        return tr.to_numpy(dtype=float)
    return np.asarray(getattr(tr, "ci_g_per_kwh", tr), dtype=float)
