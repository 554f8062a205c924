"""FCFS windows kept across processes (issue 18: five seeds in the default pipeline).

A window (:class:`clover.sim.fcfs.FcfsWindow`) depends on the configuration graph, the
problem's instance types, rate, seed and GPU (its fingerprint) and the request count, never on
the carbon intensity, λ, the accuracy floor or the trace. So every pipeline job of one app and
seed (3 main-grid traces, 10 λ-sweep cells, 16 region windows, static and ORACLE alike)
simulates the same ~1,300 windows; with a cache directory (environment variable
``CLOVER_FCFS_CACHE``, set by the pipeline to ``results/cache/fcfs``) the first job simulates
them and the others read them.

One pickle per problem fingerprint, named by it and by a hash of ``clover/sim/fcfs.py`` (a
change of the simulator starts a new file, never reads a stale window). Files are read once
per process and rewritten atomically at exit, merged with what another job wrote meanwhile; a
lost race only costs a re-simulation. Without the variable nothing is read or written.
Results are identical with and without the cache (tests/sim/test_window_cache.py).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pickle
from pathlib import Path

_LOADED: dict[str, dict] = {}  # fingerprint -> {key: window} as read from disk (+ new ones)
_NEW: dict[str, dict] = {}  # fingerprint -> windows simulated by this process
_REGISTERED = False


def cache_dir() -> Path | None:
    """The directory named by ``CLOVER_FCFS_CACHE`` (None: no cross-process cache)."""
    from clover.sim.fcfs import CACHE_ENV

    value = os.environ.get(CACHE_ENV)
    return Path(value) if value else None


def _code_tag() -> str:
    import clover.sim.fcfs as fcfs

    return hashlib.sha1(Path(fcfs.__file__).read_bytes()).hexdigest()[:12]


def _path(directory: Path, fingerprint: str) -> Path:
    return directory / f"{fingerprint[:24]}_{_code_tag()}.pkl"


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        return {}


def get(key: tuple):
    """The cached window of ``key`` (fingerprint first), or None."""
    directory = cache_dir()
    if directory is None:
        return None
    fp = key[0]
    if fp not in _LOADED:
        _LOADED[fp] = _read(_path(directory, fp))
    return _LOADED[fp].get(key)


def put(key: tuple, window) -> None:
    """Remember a simulated window; written with the others at exit (:func:`flush`)."""
    global _REGISTERED
    if cache_dir() is None:
        return
    _NEW.setdefault(key[0], {})[key] = window
    if not _REGISTERED:
        atexit.register(flush)
        _REGISTERED = True


def flush() -> None:
    """Write every fingerprint's new windows, merged with the file's current content."""
    directory = cache_dir()
    if directory is None or not _NEW:
        return
    from clover.errors import CloverError
    from clover.paths import atomic_write

    for fp, new in list(_NEW.items()):
        path = _path(directory, fp)
        merged = {**_read(path), **new}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, "wb") as fh:
                pickle.dump(merged, fh, protocol=pickle.HIGHEST_PROTOCOL)
        except (OSError, CloverError):
            continue  # a cache that cannot be written only costs time
        _LOADED[fp] = merged
    _NEW.clear()
