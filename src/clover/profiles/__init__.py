"""Per-slice profiles: service time, power, energy and memory fit of every variant on every
MIG slice type, measured (GPU via NVML, CPU stand-in) or modeled, always with provenance.

Public API (docs/ARCHITECTURE.md, "Profile table"):

* :data:`PROFILE_COLUMNS`
* :func:`load_profiles` ``(app, gpu, backend="model", path=None) -> DataFrame``
* :func:`model_profiles` ``(app, gpu) -> DataFrame``
* :func:`measure_profiles` ``(app, gpu, backend="cpu"|"cuda", ...) -> DataFrame``
* :func:`default_path` ``(app, gpu, backend) -> Path``
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.catalog import get_app
from clover.profiles.model import model_profiles
from clover.profiles.schema import PROFILE_COLUMNS, read_table, validate_table, write_table

BACKENDS = ("model", "cpu", "cuda")


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise CloverError(f"unknown profile backend {backend!r} (known: {', '.join(BACKENDS)})")
    return backend


def default_path(app: str, gpu: str, backend: str, root: str | Path = "results/profiles") -> Path:
    """``results/profiles/<app>_<gpu>_<backend>.csv``."""
    return Path(root) / f"{app}_{gpu}_{backend}.csv"


def load_profiles(app: str, gpu: str, backend: str = "model",
                  path: str | Path | None = None,
                  batch_sizes: tuple[int, ...] = (1,)) -> pd.DataFrame:
    """The profile table of ``app`` on ``gpu``.

    With ``path``: read the CSV written by ``clover profile`` and validate its columns and
    invariants; its rows must be for ``app`` and ``gpu``. Without ``path``: for
    ``backend="model"`` build the modeled table in memory (rows at ``batch_sizes``); for a measured backend, read
    :func:`default_path` (measured tables are produced by ``clover profile``, never implicitly).
    """
    get_app(app)
    spec = get_gpu(gpu)
    check_backend(backend)
    if path is None and backend == "model":
        return model_profiles(app, spec.key, batch_sizes=tuple(sorted({1, *map(int, batch_sizes)})))
    if path is None:
        path = default_path(app, spec.key, backend)
        if not Path(path).is_file():
            raise CloverError(f"profile table {path} not found: run `clover profile --app {app} "
                              f"--gpu {spec.key} --backend {backend}` first")
    df = read_table(path)
    other = df[(df["app"] != app) | (df["gpu"] != spec.key)]
    if len(other):
        row = other.iloc[0]
        raise CloverError(f"profile table {path} holds rows for app {row['app']!r} / gpu "
                          f"{row['gpu']!r}, expected {app!r} / {spec.key!r}")
    return df


def measure_profiles(*args, **kwargs) -> pd.DataFrame:
    """Measured profiles (``backend="cpu"`` or ``"cuda"``); see :mod:`clover.profiles.measure`."""
    from clover.profiles.measure import measure_profiles as _measure

    return _measure(*args, **kwargs)


__all__ = [
    "BACKENDS", "PROFILE_COLUMNS", "default_path", "load_profiles", "measure_profiles",
    "model_profiles", "read_table", "validate_table", "write_table",
]
