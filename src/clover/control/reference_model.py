"""The modeled side of the check against the artifact's own measurements (issue 11 item 3;
docs/decomposition.md, "Reference check").

The artifact's arrival sweep (sc23-clover ``system/run_sweep.py`` → ``BaseExperiment.
sweep_arrival``; data: PROVENANCE.md section 1a'') runs on 1 node × 2 A100-40GB:

* ``base``: the largest variant on both whole GPUs (partition code 0; variant codes 6 / 7 / 3);
* ``clover``: partition code 1 (a 3g and a 4g slice per GPU, slot order 3g then 4g) with the
  variant strings "lx" (3g yolov5l, 4g yolov5x), "33" (efficientnet-b3 on both) and "01"
  (3g albert-base-v2, 4g albert-large-v2) — fixed configurations, not a search's output;

each at three mean exponential inter-arrival times, lightest first (efficientnet / yolo 1, 0.4,
0.2 s; albert 0.4, 0.16, 0.08 s), a vision request carrying 8 images, the windows 2,000
requests at the lightest load and 1,000 otherwise.

:func:`modeled_reference` evaluates the same configuration at the same ABSOLUTE arrival rate
(1/arrival_s requests/s; our modeled profiles are an A100-40GB's) with the project's profile
rows at the request batch and the FCFS longest-idle window (:mod:`clover.sim.fcfs`). Carbon per
request is at ci = 1 g/kWh, PUE 1 (the artifact's ``carbon`` is at ci = 1, PUE = 1 too): only
ratios are compared. No profile constant is tuned to this check.

Pairing (:func:`modeled_reference_table`, the same two as
``clover.analysis.reference.load_reference``): every entry (kind, app, load_index) is divided

* by BASE at the SAME load (``*_vs_base_same_load``: equal load, both on 2 GPUs), and
* by BASE at the LIGHTEST load (``*_vs_base_light``): the artifact's own pairing — its README
  says BASE on 2 GPUs at a 1 s interval "stands for" 10 GPUs at 0.2 s, so the configuration at
  the heavy load (0.2 s; ALBERT 0.08 s) against BASE at the light one (1 s; 0.4 s) is the
  paper's k = 5 comparison (BASE's carbon per request on 2 GPUs at rate R/5 equals its carbon
  per request on 10 GPUs at R; so is its p95).

``modeled_reference_table(measured)`` is the ``modeled`` callable that
``clover.analysis.reference.reference_check(measured, modeled)`` expects (a table keyed by
``kind, app, load_index`` with the four ratio columns); extra ``modeled_*`` columns carry the
absolute numbers.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from clover.errors import CloverError
from clover.mig.geometry import DEFAULT_GPU

#: mean inter-arrival times of the artifact's sweep, lightest first (PROVENANCE.md 1a'')
ARRIVALS_S = {"efficientnet": (1.0, 0.4, 0.2), "yolo": (1.0, 0.4, 0.2),
              "albert": (0.4, 0.16, 0.08)}
#: requests per measurement window, by load index (PROVENANCE.md 1a'')
WINDOW_REQUESTS = (2000, 1000, 1000)
#: sc23-clover system/run_sweep.py: partition "1" (3g, 4g) and the variant per slot
CLOVER_VARIANTS = {"yolo": ("yolov5l", "yolov5x"),
                   "efficientnet": ("efficientnet-b3", "efficientnet-b3"),
                   "albert": ("albert-base-v2", "albert-large-v2")}
KINDS = ("base", "clover")
J_PER_KWH = 3.6e6
RATIO_COLUMNS = ("carbon_ratio_vs_base_same_load", "p95_ratio_vs_base_same_load",
                 "carbon_ratio_vs_base_light", "p95_ratio_vs_base_light")


@lru_cache(maxsize=None)
def _profiles(app: str, gpu: str, batch: int):
    from clover.control.runs import profile_table

    return profile_table(app, gpu, None, batch_sizes=tuple(sorted({1, batch})))


def reference_configuration(app: str, configuration: str, n_gpus: int = 2,
                            gpu: str = DEFAULT_GPU):
    """The artifact's ``base`` or ``clover`` configuration of ``app`` on ``n_gpus`` GPUs."""
    from clover.mig.geometry import get_gpu
    from clover.models.catalog import largest_variant
    from clover.models.configuration import Configuration, GpuAssignment
    from clover.optimize.space import replicate

    spec = get_gpu(gpu)
    if configuration == "base":
        return Configuration.uniform(spec.key, int(n_gpus), largest_variant(app).name)
    if configuration == "clover":
        if app not in CLOVER_VARIANTS:
            raise CloverError(f"reference: no run_sweep.py configuration for app {app!r}")
        slots = (spec.profile_by_compute(3).name, spec.profile_by_compute(4).name)
        return replicate(GpuAssignment(slots, CLOVER_VARIANTS[app]), spec.key, int(n_gpus))
    raise CloverError(f"reference: unknown configuration {configuration!r} (known: base, clover)")


def modeled_reference(app: str, configuration: str, arrival_s: float, n_gpus: int = 2,
                      gpu: str = DEFAULT_GPU, seed: int = 0,
                      n_requests: int = 1000) -> dict:
    """One artifact entry, modeled: the FCFS window of ``configuration`` ("base" or "clover")
    at 1/``arrival_s`` requests/s (a request = the paper protocol's request batch).

    Returns ``p95_ms``, ``mean_latency_ms``, ``energy_j_per_request`` (J),
    ``carbon_per_request`` (kWh per request × ci 1 × PUE 1, i.e. g at 1 g/kWh), ``accuracy``
    (%, served-weighted), ``utilisation`` (offered rate ÷ the configuration's capacity),
    ``rate_rps``, ``n_requests``, ``source``."""
    from clover.control.runs import profile_source
    from clover.sim.fcfs import simulate_window
    from clover.sim.problem import Problem
    from clover.sim.protocol import protocol_settings

    if not arrival_s > 0:
        raise CloverError(f"reference: arrival_s must be > 0 (got {arrival_s!r})")
    batch = protocol_settings("paper").batch(app)
    profiles = _profiles(app, gpu, batch)
    rate = 1.0 / float(arrival_s)
    problem = Problem.build(app, gpu, int(n_gpus), profiles, rate_rps=rate, sla_ms=1e9,
                            seed=int(seed), batch_size=batch)
    cfg = reference_configuration(app, configuration, n_gpus, gpu)
    w = simulate_window(problem, cfg, int(n_requests))
    counts = problem.counts(cfg)
    capacity = float(counts @ problem.types.mu_rps)
    return {"app": app, "configuration": configuration, "arrival_s": float(arrival_s),
            "rate_rps": rate, "n_gpus": int(n_gpus), "gpu": problem.gpu,
            "request_batch": batch, "n_requests": int(n_requests), "p95_ms": w.p95_ms,
            "mean_latency_ms": w.mean_latency_ms,
            "energy_j_per_request": w.energy_j_per_request,
            "carbon_per_request": w.energy_j_per_request / J_PER_KWH,
            "accuracy": w.accuracy,
            "utilisation": rate / capacity if capacity > 0 else float("inf"),
            "source": profile_source(profiles)}


def artifact_entries(apps=tuple(ARRIVALS_S)) -> pd.DataFrame:
    """The sweep's entries (kind, app, load_index, arrival_s, window_requests) without the
    measured logs (the same keys ``clover.analysis.reference.load_reference`` gives)."""
    rows = [{"kind": kind, "app": app, "load_index": i, "arrival_s": a,
             "window_requests": WINDOW_REQUESTS[i]}
            for app in apps for kind in KINDS for i, a in enumerate(ARRIVALS_S[app])]
    return pd.DataFrame(rows)


def modeled_reference_table(measured: pd.DataFrame | None = None, n_gpus: int = 2,
                            gpu: str = DEFAULT_GPU, seed: int = 0) -> pd.DataFrame:
    """Per artifact entry, the modeled ratios vs BASE (module docstring, "Pairing").

    ``measured``: a table with ``kind, app, load_index, arrival_s`` (and optionally
    ``window_requests``), e.g. ``load_reference(data_dir)``; None = :func:`artifact_entries`.
    Returns ``kind, app, load_index, arrival_s`` + :data:`RATIO_COLUMNS` + ``modeled_p95_ms``,
    ``modeled_carbon_per_request``, ``modeled_energy_j_per_request``, ``modeled_accuracy_pct``,
    ``modeled_utilisation``, ``modeled_accuracy_points_vs_base``, ``source``."""
    entries = artifact_entries() if measured is None else measured
    need = [c for c in ("kind", "app", "load_index", "arrival_s") if c not in entries.columns]
    if need:
        raise CloverError(f"reference entries lack column(s) {', '.join(need)}")
    keys = entries[["kind", "app", "load_index", "arrival_s"]].copy()
    if "window_requests" in entries.columns:
        keys["window_requests"] = entries["window_requests"].astype(int)
    else:
        keys["window_requests"] = [WINDOW_REQUESTS[min(int(i), 2)] for i in keys["load_index"]]
    rows = []
    for r in keys.itertuples(index=False):
        m = modeled_reference(r.app, r.kind, r.arrival_s, n_gpus, gpu, seed,
                              int(r.window_requests))
        rows.append({"kind": r.kind, "app": r.app, "load_index": int(r.load_index),
                     "arrival_s": float(r.arrival_s),
                     "modeled_p95_ms": m["p95_ms"],
                     "modeled_carbon_per_request": m["carbon_per_request"],
                     "modeled_energy_j_per_request": m["energy_j_per_request"],
                     "modeled_accuracy_pct": m["accuracy"],
                     "modeled_utilisation": m["utilisation"], "source": m["source"]})
    out = pd.DataFrame(rows)
    # BASE entries of every (app, load_index), whether or not the caller listed them
    base = {}
    for app in out["app"].unique():
        for i, a in enumerate(ARRIVALS_S.get(app, ())):
            hit = out[(out["kind"] == "base") & (out["app"] == app) & (out["load_index"] == i)]
            if len(hit):
                base[(app, i)] = hit.iloc[0]
            else:
                m = modeled_reference(app, "base", a, n_gpus, gpu, seed, WINDOW_REQUESTS[i])
                base[(app, i)] = pd.Series({"modeled_p95_ms": m["p95_ms"],
                                            "modeled_carbon_per_request": m["carbon_per_request"],
                                            "modeled_accuracy_pct": m["accuracy"]})
    same = [base[(a, int(i))] for a, i in zip(out["app"], out["load_index"])]
    light = [base[(a, 0)] for a in out["app"]]
    out["carbon_ratio_vs_base_same_load"] = [r["modeled_carbon_per_request"] / b[
        "modeled_carbon_per_request"] for (_, r), b in zip(out.iterrows(), same)]
    out["p95_ratio_vs_base_same_load"] = [r["modeled_p95_ms"] / b["modeled_p95_ms"]
                                          for (_, r), b in zip(out.iterrows(), same)]
    out["carbon_ratio_vs_base_light"] = [r["modeled_carbon_per_request"] / b[
        "modeled_carbon_per_request"] for (_, r), b in zip(out.iterrows(), light)]
    out["p95_ratio_vs_base_light"] = [r["modeled_p95_ms"] / b["modeled_p95_ms"]
                                      for (_, r), b in zip(out.iterrows(), light)]
    out["modeled_accuracy_points_vs_base"] = [b["modeled_accuracy_pct"] - r[
        "modeled_accuracy_pct"] for (_, r), b in zip(out.iterrows(), light)]
    cols = ["kind", "app", "load_index", "arrival_s", *RATIO_COLUMNS, "modeled_p95_ms",
            "modeled_carbon_per_request", "modeled_energy_j_per_request",
            "modeled_accuracy_pct", "modeled_utilisation", "modeled_accuracy_points_vs_base",
            "source"]
    return out[cols]
