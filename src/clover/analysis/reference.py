"""The original artifact's own measurements, as a held-out check of the modeled evaluator.

``clover_reference/arrival_logs/`` (PROVENANCE.md section 1a'') holds the arrival sweep of
``boringlee24/sc23-clover`` (``system/run_sweep.py``, ``BaseExperiment.sweep_arrival``) on one
node of 2 A100-40GB: for each app, BASE (the largest variant on whole GPUs, partition 0) and one
fixed mixed configuration (partition 1 = 3g + 4g slices on each GPU, variants ``run_sweep.py``
names), each at three mean exponential inter-arrival times, lightest first. Files are
cumulative: ``arrival=<s>.json`` lists one entry per load measured so far (``acc`` %, ``lat``
p95 ms over the window, ``carbon`` per request at ci = 1, PUE = 1; only ratios are used).

:func:`load_reference` gives one row per artifact log entry (kind × app × load) with the ratios
the artifact implies against BASE: at the same load, and against BASE at its lightest load
(the artifact's README: BASE on 2 GPUs at 1 s "stands for" 10 GPUs at 0.2 s, i.e. a BASE GPU
factor k = lightest interval / this interval). :func:`reference_check` joins a modeled table
(from a callable, so the evaluator side can be plugged in) and reports the errors. Nothing here
tunes a constant: it is a check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from clover.errors import CloverError

#: Sub-directory of the data directory (PROVENANCE.md section 1a'').
REFERENCE_DIR = "clover_reference/arrival_logs"
#: The fixed configurations of ``system/run_sweep.py`` (partition code 1 = 3g + 4g per GPU;
#: variant codes "lx", "33", "01"); BASE = the largest variant on whole GPUs (partition 0).
CONFIGURATIONS = {
    ("base", "yolo"): "largest variant (artifact code 6) on whole GPUs (x2 GPUs)",
    ("base", "efficientnet"): "largest variant (artifact code 7, b7) on whole GPUs (x2 GPUs)",
    ("base", "albert"): "largest variant (artifact code 3) on whole GPUs (x2 GPUs)",
    ("clover", "yolo"): "3g yolov5l + 4g yolov5x (x2 GPUs)",
    ("clover", "efficientnet"): "3g efficientnet-b3 + 4g efficientnet-b3 (x2 GPUs)",
    ("clover", "albert"): "3g albert-base + 4g albert-large (x2 GPUs)",
}
#: Requests in each measurement window (PROVENANCE.md: 2000 at the lightest load, else 1000).
WINDOW_REQUESTS = (2000, 1000, 1000)
REFERENCE_COLUMNS = (
    "kind", "app", "configuration", "load_index", "arrival_s", "relative_load",
    "base_gpu_factor_equiv", "accuracy_pct", "p95_ms", "carbon_per_request",
    "window_requests", "carbon_ratio_vs_base_same_load", "p95_ratio_vs_base_same_load",
    "carbon_ratio_vs_base_light", "p95_ratio_vs_base_light", "accuracy_points_vs_base", "file",
)
_NAME = re.compile(r"^arrival=([0-9.]+)\.json$")


def _read(path: Path) -> dict:
    from clover.paths import read_text

    text = read_text(path, "reference log")  # size-capped, one line when unreadable
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CloverError(f"reference log {path}: cannot read ({exc})") from None
    keys = ("acc", "lat", "carbon")
    if not isinstance(data, dict) or any(not isinstance(data.get(k), list) for k in keys):
        raise CloverError(f"reference log {path}: needs lists acc, lat, carbon")
    if len({len(data[k]) for k in keys}) != 1:
        raise CloverError(f"reference log {path}: acc, lat and carbon differ in length")
    return data


def _entries(folder: Path) -> pd.DataFrame:
    """One (kind, app) folder: the fullest cumulative file, checked against the shorter ones."""
    files = {}
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m:
            files[float(m.group(1))] = p
    if not files:
        raise CloverError(f"reference logs {folder}: no arrival=<s>.json files")
    loaded = {a: _read(p) for a, p in files.items()}
    # entry i of the fullest file was measured at the i-th interval, heaviest file last
    arrivals = sorted(files, reverse=True)  # lightest load (longest interval) first
    full = loaded[arrivals[-1]]
    if len(full["acc"]) != len(arrivals):
        raise CloverError(f"reference logs {folder}: {len(arrivals)} files but "
                          f"{len(full['acc'])} entries in {files[arrivals[-1]].name}")
    for n, a in enumerate(arrivals, 1):
        part = loaded[a]
        for k in ("acc", "lat", "carbon"):
            if part[k] != full[k][:n]:
                raise CloverError(f"reference log {files[a]}: {k} is not a prefix of "
                                  f"{files[arrivals[-1]].name} (files are cumulative)")
    rows = []
    for i, a in enumerate(arrivals):
        rows.append({"load_index": i, "arrival_s": a, "accuracy_pct": float(full["acc"][i]),
                     "p95_ms": float(full["lat"][i]), "carbon_per_request": float(full["carbon"][i]),
                     "window_requests": WINDOW_REQUESTS[min(i, len(WINDOW_REQUESTS) - 1)],
                     "file": f"{folder.parent.name}/{folder.name}/{files[arrivals[-1]].name}"})
    return pd.DataFrame(rows)


def load_reference(data_dir: str | Path) -> pd.DataFrame:
    """The artifact's arrival sweep, one row per log entry (:data:`REFERENCE_COLUMNS`)."""
    root = Path(data_dir) / REFERENCE_DIR
    if not root.is_dir():
        raise CloverError(f"reference logs {root} not found (PROVENANCE.md section 1a'')")
    frames = []
    for kind in ("base", "clover"):
        kdir = root / kind
        if not kdir.is_dir():
            raise CloverError(f"reference logs {kdir} not found")
        for app_dir in sorted(p for p in kdir.iterdir() if p.is_dir()):
            df = _entries(app_dir)
            df.insert(0, "kind", kind)
            df.insert(1, "app", app_dir.name)
            df.insert(2, "configuration", CONFIGURATIONS.get((kind, app_dir.name), "unknown"))
            frames.append(df)
    ref = pd.concat(frames, ignore_index=True)
    light = ref.groupby("app")["arrival_s"].transform("max")
    ref["relative_load"] = light / ref["arrival_s"]
    ref["base_gpu_factor_equiv"] = ref["relative_load"]
    base = ref[ref["kind"] == "base"].set_index(["app", "load_index"])
    idx = pd.MultiIndex.from_frame(ref[["app", "load_index"]])
    same_c = base["carbon_per_request"].reindex(idx).to_numpy()
    same_p = base["p95_ms"].reindex(idx).to_numpy()
    b_light = base.xs(0, level="load_index")
    ref["carbon_ratio_vs_base_same_load"] = ref["carbon_per_request"].to_numpy() / same_c
    ref["p95_ratio_vs_base_same_load"] = ref["p95_ms"].to_numpy() / same_p
    ref["carbon_ratio_vs_base_light"] = ref["carbon_per_request"] / ref["app"].map(
        b_light["carbon_per_request"])
    ref["p95_ratio_vs_base_light"] = ref["p95_ms"] / ref["app"].map(b_light["p95_ms"])
    ref["accuracy_points_vs_base"] = ref["app"].map(b_light["accuracy_pct"]) - ref["accuracy_pct"]
    return ref[list(REFERENCE_COLUMNS)].sort_values(["app", "kind", "load_index"]).reset_index(
        drop=True)


#: Columns a modeled table must give, one row per (kind, app, load_index).
MODELED_COLUMNS = ("carbon_ratio_vs_base_same_load", "p95_ratio_vs_base_same_load",
                   "carbon_ratio_vs_base_light", "p95_ratio_vs_base_light")


def reference_check(measured: pd.DataFrame,
                    modeled: Callable[[pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    """The artifact's ratios beside the modeled ones, with the error, one row per entry.

    ``modeled(measured)`` returns a table keyed by ``kind, app, load_index`` with
    :data:`MODELED_COLUMNS` (the project's evaluator on the same configurations at the same
    relative loads). Errors: ``<ratio>_error_pct`` = modeled / measured − 1, in %.
    """
    keys = ["kind", "app", "load_index"]
    mod = modeled(measured)
    missing = [c for c in (*keys, *MODELED_COLUMNS) if c not in mod.columns]
    if missing:
        raise CloverError(f"modeled reference table lacks column(s) {', '.join(missing)}")
    if mod.duplicated(keys).any():
        raise CloverError("modeled reference table has more than one row per entry")
    mod = mod[[*keys, *MODELED_COLUMNS]].rename(columns={c: f"modeled_{c}" for c in MODELED_COLUMNS})
    out = measured.merge(mod, on=keys, how="left", validate="one_to_one")
    for c in MODELED_COLUMNS:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{c}_error_pct"] = (out[f"modeled_{c}"] / out[c] - 1.0) * 100.0
    return out
