"""An on-disk cache of simulated FCFS windows, shared by the jobs of one pipeline run.

A window (:class:`clover.sim.fcfs.FcfsWindow`) is a function of the problem's fingerprint
(instance types' profile numbers, rate, seed, GPU, app: :func:`clover.sim.fcfs.problem_fingerprint`),
the configuration graph's instance counts, N and the window's request count, and of the code
that simulates it. One JSON file per fingerprint holds every window of that problem, under
``<directory>/<fingerprint>-<code>.json`` where ``code`` hashes the source of the modules that
compute a window (:data:`CODE_MODULES`): a changed profile changes the fingerprint, a changed
evaluator the code hash, and either way the old file is simply not read. Floats are written
with ``repr`` (exact round trip), so a cached window equals a cold one bit for bit.

Writes are atomic (:func:`clover.paths.atomic_write`); two jobs writing the same file write
the same windows for the keys both hold, and the last writer's union wins.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

from clover.errors import CloverError

#: modules whose source decides a window's numbers
CODE_MODULES = ("clover.sim.fcfs", "clover.sim.problem", "clover.sim.queueing",
                "clover.sim.evalcache")
_FIELDS = ("n_requests", "duration_s", "p95_ms", "mean_latency_ms", "energy_j",
           "energy_j_per_request", "accuracy")


@lru_cache(maxsize=1)
def code_hash() -> str:
    """sha1 prefix of the source of :data:`CODE_MODULES`."""
    h = hashlib.sha1()
    for name in CODE_MODULES:
        spec = importlib_util.find_spec(name)
        h.update(Path(spec.origin).read_bytes())
    return h.hexdigest()[:12]


def cache_file(directory: str | Path, fingerprint: str) -> Path:
    return Path(directory) / f"{fingerprint[:20]}-{code_hash()}.json"


def encode(key: tuple, window: Any) -> dict:
    """A JSON object of one window and its key (fingerprint, counts bytes, N, n)."""
    _, counts, n_gpus, n_requests = key
    return {"counts": counts.hex(), "n_gpus": int(n_gpus), "n": int(n_requests),
            **{f: getattr(window, f) for f in _FIELDS},
            "served_per_type": [float(x) for x in window.served_per_type]}


def load(directory: str | Path, fingerprint: str, window_type: type) -> dict[tuple, Any]:
    """The cached windows of ``fingerprint`` (empty when there is no file yet)."""
    import numpy as np

    path = cache_file(directory, fingerprint)
    if not path.is_file():
        return {}
    try:
        rows = json.loads(path.read_text())
        return {(fingerprint, bytes.fromhex(r["counts"]), r["n_gpus"], r["n"]): window_type(
            **{f: r[f] for f in _FIELDS}, served_per_type=np.array(r["served_per_type"]))
            for r in rows}
    except (ValueError, KeyError, TypeError) as exc:
        raise CloverError(f"evaluation cache {path}: unreadable ({exc}); delete it") from None


def store(directory: str | Path, fingerprint: str, windows: dict[tuple, Any]) -> Path:
    """Write every window of ``fingerprint`` in ``windows`` (atomically); returns the path."""
    from clover.paths import atomic_write

    path = cache_file(directory, fingerprint)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [encode(k, w) for k, w in windows.items() if k[0] == fingerprint]
    rows.sort(key=lambda r: (r["counts"], r["n_gpus"], r["n"]))
    with atomic_write(path) as fh:
        json.dump(rows, fh, separators=(",", ":"))
    return path
