"""The run grid of the pipeline as one table, and one process running every scheme of a job.

:func:`grid_table` turns the pipeline config into one row per controller log (app, trace,
protocol, grid, scheme, λ, floor, path) with the ``job`` that writes it: one job per
protocol × grid × app × trace × λ × floor runs every scheme of that grid in one process
(``clover run-grid``), so the ~1–2 s of imports are paid once per job, not once per log.
``workflow/rules/common.smk`` builds its rules from this table.

Protocols per grid come from config keys ``protocols`` (main grid), ``lam_sweep.protocols``
and ``regions.protocols``; each defaults to ``[config["protocol"]]``, itself the schema's
default (``extended``) when a config names none (config/config.yaml names ``paper``). λ of the
main and regions grids is ``config["lam"]``, or the protocol's preset when null
(:func:`grid_lam`). ``config`` is a config dict (``RunConfig.as_dict()`` in the Snakefile).

Every log row carries its labels (:data:`LABEL_COLUMNS`): ``protocol`` and ``grid``, which the
analysis filters on (:mod:`clover.analysis.aggregate`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from clover.config import schema_default
from clover.errors import CloverError
from clover.sim.protocol import PROTOCOLS

if TYPE_CHECKING:  # pandas is imported where used: `clover` startup stays light
    import pandas as pd

#: How run logs are written (one format for ``clover run`` and ``clover run-grid``).
#: Label columns every run log ends with (``protocol`` may already be a controller column).
LABEL_COLUMNS = ("protocol", "grid")
#: Columns of :func:`grid_table`, in order.
GRID_COLUMNS = ("job", "protocol", "grid", "app", "trace", "scheme", "lam", "floor", "seed",
                "path")
#: schemes whose decisions draw random numbers (seeded annealing / random search)
SEEDED_SCHEMES = ("clover", "blover", "sa-raw")


def log_columns() -> tuple[str, ...]:
    """Columns of a labelled run log: the controller's, then the labels it lacks."""
    from clover.control.controller import LOG_COLUMNS

    return tuple(LOG_COLUMNS) + tuple(c for c in LABEL_COLUMNS if c not in LOG_COLUMNS)


def fmt_num(x: Any) -> str:
    """A number as it appears in file names (0.5, 2, 0.25)."""
    return f"{float(x):g}"


def run_path(protocol: str, grid: str, app: str, trace: str, scheme: str, lam: str,
             floor: str, tag: str = "") -> str:
    """Where the log of one run lives (relative to the working directory); ``tag`` is
    :func:`seed_tag` (empty for the first seed of ``seeds``)."""
    return f"results/runs/{protocol}/{grid}/{app}/{trace}/{scheme}_lam{lam}_floor{floor}{tag}.csv"


def run_seeds(config: dict) -> list[int]:
    """The pipeline's seeds: config ``seeds`` (schema default [0, 1, 2, 3, 4]), unique, in
    order; the first one's logs have no seed tag in their name."""
    seeds = config.get("seeds")
    if seeds is None:
        seeds = schema_default("seeds")
    return list(dict.fromkeys(int(s) for s in seeds)) or [int(config.get("seed") or 0)]


def seed_tag(seed: int, seeds: list[int]) -> str:
    """``""`` for the first seed (the log name of a one-seed pipeline), else ``_seed{k}``."""
    return "" if int(seed) == int(seeds[0]) else f"_seed{int(seed)}"


def seed_dependent(config: dict, protocol: str, scheme: str) -> bool:
    """Whether a run's log can change with the seed: a scheme that draws random numbers
    (:data:`SEEDED_SCHEMES`), or any scheme whose evaluator simulates seeded windows (FCFS
    dispatch: the paper protocol). Other runs (extended BASE, CO2OPT, JUNG, ORACLE, static,
    static-daily) are run once, at the first seed."""
    from clover.sim.protocol import presets

    dispatch = config.get("dispatch") or presets()[protocol].dispatch
    return scheme in SEEDED_SCHEMES or dispatch == "fcfs"


def seed_of_path(path: str, seeds: list[int]) -> int:
    """The seed of a run log from its name (:func:`seed_tag`)."""
    import re

    m = re.search(r"_seed(\d+)\.csv$", str(path))
    return int(m.group(1)) if m else int(seeds[0])


def job_id(protocol: str, grid: str, app: str, trace: str, lam: str, floor: str) -> str:
    return f"{protocol}/{grid}/{app}/{trace}/lam{lam}_floor{floor}"


def _protocols(section: dict, config: dict, where: str) -> list[str]:
    default = config.get("protocol") or schema_default("protocol")
    values = list(section.get("protocols") or [default])
    bad = [p for p in values if p not in PROTOCOLS]
    if bad:
        raise CloverError(f"config {where}: unknown protocol(s) {', '.join(map(str, bad))} "
                          f"(known: {', '.join(PROTOCOLS)})")
    return list(dict.fromkeys(values))


def grid_lam(config: dict, protocol: str) -> str:
    """λ of the main and regions grids under ``protocol``: the config's ``lam`` when set,
    else the protocol's preset (paper 0.1, extended 0.5), formatted as in file names."""
    from clover.sim.protocol import protocol_settings

    lam = config.get("lam")
    if lam is None:
        lam = protocol_settings(protocol).lam
    return fmt_num(lam)


def _entries(config: dict) -> Iterable[tuple]:
    """(protocol, grid, app, trace, scheme, lam, floor) of every run, config order."""
    for protocol in _protocols(config, config, "protocols"):
        lam = grid_lam(config, protocol)
        for app in config["apps"]:
            for trace in config["traces"]:
                for scheme in config["schemes"]:
                    yield protocol, "main", app, trace, scheme, lam, "none"
    sweep = config.get("lam_sweep") or {}
    if sweep.get("apps"):
        for protocol in _protocols(sweep, config, "lam_sweep.protocols"):
            for app in sweep["apps"]:
                for value in sweep.get("values", []):
                    for floor in ["none", *map(fmt_num, sweep.get("max_accuracy_loss_pct", []))]:
                        for scheme in sweep.get("schemes", []):
                            yield protocol, "lam_sweep", app, sweep["trace"], scheme, \
                                fmt_num(value), floor
    reg = config.get("regions") or {}
    if reg.get("apps"):
        for protocol in _protocols(reg, config, "regions.protocols"):
            lam = grid_lam(config, protocol)
            for app in reg["apps"]:
                for zone in reg.get("zones", []):
                    for season in reg.get("seasons", []):
                        for scheme in reg.get("schemes", []):
                            yield protocol, "regions", app, f"{zone}.{season}", scheme, lam, "none"


def default_n_gpus(config: dict) -> int:
    """N of the pipeline's nodes (its MIG setup): config ``n_gpus``, else the default
    protocol's (paper 2, extended 10)."""
    from clover.sim.protocol import protocol_settings

    n = config.get("n_gpus")
    return int(n) if n is not None else \
        protocol_settings(config.get("protocol") or schema_default("protocol")).default_gpus


def profile_batch_sizes(config: dict, app: str) -> list[int]:
    """Batch sizes a profile table of ``app`` must hold: 1 and the request batch of ``app``
    under every protocol the grid runs, the config's default protocol, the GPU-count
    study's and the year study's (``clover gpu-count`` and ``clover year`` read the same
    table)."""
    from clover.sim.protocol import protocol_settings

    names = {config.get("protocol") or schema_default("protocol"),
             (config.get("gpu_count") or {}).get("protocol") or schema_default("gpu_count.protocol"),
             (config.get("year") or {}).get("protocol") or schema_default("year.protocol"),
             *(entry[0] for entry in _entries(config))}
    batch = config.get("request_batch")
    return sorted({1, *(protocol_settings(n, request_batch=batch).batch(app) for n in names)})


def grid_table(config: dict) -> pd.DataFrame:
    """One row per controller log of the pipeline: :data:`GRID_COLUMNS`.

    Within a grid every (protocol, app, trace, λ, floor) is one ``job`` that runs the grid's
    schemes; a run that two grids share is run in each (its label says which grid it serves).
    """
    import pandas as pd

    rows = []
    seeds = run_seeds(config)
    for protocol, grid, app, trace, scheme, lam, floor in dict.fromkeys(_entries(config)):
        for seed in (seeds if seed_dependent(config, protocol, scheme) else seeds[:1]):
            rows.append({"job": job_id(protocol, grid, app, trace, lam, floor),
                         "protocol": protocol, "grid": grid, "app": app, "trace": trace,
                         "scheme": scheme, "lam": lam, "floor": floor, "seed": seed,
                         "path": run_path(protocol, grid, app, trace, scheme, lam, floor,
                                          seed_tag(seed, seeds))})
    return pd.DataFrame(rows, columns=list(GRID_COLUMNS))


def grid_schemes(table: pd.DataFrame) -> dict[tuple[str, str], list[tuple[str, int, str]]]:
    """(protocol, grid) -> the (scheme, seed, seed tag) runs every job of that grid makes, in
    order (a seed-independent scheme once)."""
    out: dict[tuple[str, str], list[tuple[str, int, str]]] = {}
    for (protocol, grid), g in table.groupby(["protocol", "grid"], sort=False):
        per_job = set()
        for _, j in g.groupby("job", sort=False):
            seeds = sorted(set(j["seed"]), key=list(j["seed"]).index)
            per_job.add(tuple((s, int(k), "" if k == seeds[0] else f"_seed{int(k)}")
                              for s, k in zip(j["scheme"], j["seed"])))
        if len(per_job) != 1:  # cannot happen with the config's shape; guards the rule outputs
            raise CloverError(f"grid {grid} ({protocol}): jobs run different scheme lists")
        out[(protocol, grid)] = list(per_job.pop())
    return out


def label_log(log: pd.DataFrame, protocol: str, grid: str) -> pd.DataFrame:
    """``log`` with its label columns set, in :func:`log_columns` order, then any columns the
    run added (a live run's measured extras, ``clover.sim.runlog.LIVE_COLUMNS``)."""
    out = log.copy()
    if "protocol" in out.columns and out["protocol"].notna().all() and \
            (out["protocol"].astype(str) != "").all():
        if set(out["protocol"].astype(str)) != {protocol}:
            raise CloverError(f"run log says protocol {sorted(set(out['protocol']))}, "
                              f"the grid asked for {protocol}")
    out["protocol"] = protocol
    out["grid"] = grid
    cols = list(log_columns())
    return out[cols + [c for c in out.columns if c not in cols]]
