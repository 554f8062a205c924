"""A small synthetic profile table in the exact docs/ARCHITECTURE.md schema.

Stand-in until ``clover.profiles.load_profiles`` lands; the numbers are plausible (A100,
batch 1) but invented: service time on a 7g slice per variant, scaled to smaller slices as
``(7/c)**beta`` (bigger models scale closer to linearly), p95 = 1.1 x mean, busy power =
idle share + dynamic share growing with model size, memory = weights x 1.3 + activations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clover.mig.geometry import get_gpu
from clover.models.catalog import variants_for_app

COLUMNS = ["app", "gpu", "variant", "slice_profile", "batch_size", "fits", "memory_mb",
           "service_ms_mean", "service_ms_p50", "service_ms_p95", "max_throughput_rps",
           "power_w_busy", "power_w_idle", "energy_j_per_request", "source", "device",
           "software", "timestamp_utc"]

#: batch-1 service time on a whole GPU, ms (invented, A100-like)
T7_MS = {
    "efficientnet-b1": 6.0, "efficientnet-b3": 9.0, "efficientnet-b5": 18.0,
    "efficientnet-b7": 35.0,
    "albert-base-v2": 8.0, "albert-large-v2": 15.0, "albert-xlarge-v2": 30.0,
    "albert-xxlarge-v2": 60.0,
    "yolov5l": 15.0, "yolov5x": 22.0, "yolov5x6": 60.0,
}


def synthetic_profiles(apps=("efficientnet", "albert", "yolo"), gpu: str = "a100-40gb",
                       p95_ratio: float = 1.1) -> pd.DataFrame:
    spec = get_gpu(gpu)
    rows = []
    for app in apps:
        variants = variants_for_app(app)
        top = max(v.rank for v in variants)
        for v in variants:
            frac = v.rank / top
            beta = 0.4 + 0.5 * frac
            mem = v.params_m * 4 * 1.3 + 200.0 * np.sqrt(v.gflops)
            for p in spec.profiles:
                c = p.compute_slices
                fits = mem <= p.memory_gb * 1024
                idle = spec.idle_power_w * c / 7
                if fits:
                    mean = T7_MS[v.name] * (7 / c) ** beta
                    busy = idle + (spec.tdp_w - spec.idle_power_w) * (c / 7) * (0.3 + 0.5 * frac)
                    thr = 1000.0 / mean
                    vals = (mean, mean * 1.02, mean * p95_ratio, thr, busy, busy / thr)
                else:
                    vals = (np.nan,) * 6
                rows.append([app, spec.key, v.name, p.name, 1, bool(fits), mem, vals[0], vals[1],
                             vals[2], vals[3], vals[4], idle, vals[5], "modeled",
                             "synthetic-test-fixture", "none", "2026-11-23T00:00:00Z"])
    return pd.DataFrame(rows, columns=COLUMNS)
