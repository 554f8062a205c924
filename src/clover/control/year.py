"""The year study (issue 20): the paper protocol over a whole calendar year of every zone.

One job per app × zone runs every configured scheme through the same controller, accounting
and evaluator as the main grid, over the zone's complete hourly year (Electricity Maps 2023 for
its zones, EIA-930 2022 for the US balancing authorities; missing hours linearly filled and
counted, as :func:`clover.carbon.load_trace` does with ``fill="interpolate"``). The hourly logs
(8,760 rows × 50 columns per run) are not kept: each run is reduced at once to one row per
month (:func:`monthly_rows`), from which :mod:`clover.analysis.year` builds the annual summary.

Carbon in tonnes at a stated service (:func:`tonnes`): the simulated service serves the
protocol's rate R on N GPUs; carbon per request is what a request of that service costs,
overheads of the hour (online evaluations, reconfigurations) included
(``hour_carbon_g_per_request``). A service of ``service_rps`` requests/s served all year is
taken as ``service_rps / R`` copies of that deployment, so its carbon is carbon per request ×
``service_rps`` × 3,600 s per hour, summed over the hours. Every number is modeled (modeled
per-slice profiles, simulated FCFS serving).

The problem (BASE's SLA, A_base, C_base) and the evaluator do not depend on the trace, so one
process builds them once per app and reuses the FCFS windows for every zone and scheme.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from clover.errors import CloverError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: grams per tonne
G_PER_TONNE = 1e6
#: seconds per hour
S_PER_HOUR = 3600.0
#: columns of a month row (one per zone × app × scheme × month), in order
MONTH_COLUMNS = (
    "zone", "dataset", "year", "app", "scheme", "protocol", "seed", "lam", "month", "hours",
    "filled_hours", "service_rps", "ci_mean_g_per_kwh", "carbon_t", "energy_mwh",
    "accuracy_sum", "delta_accuracy_pct_sum", "objective_sum", "hours_sla_met",
    "evaluations", "swing_sum_g_per_kwh", "days", "source",
)


@dataclass(frozen=True)
class YearZone:
    """One zone's calendar year: ``zone`` in ``dataset`` (a dataset of clover.carbon)."""

    zone: str
    dataset: str
    year: int

    @property
    def hours(self) -> int:
        return 8784 if calendar.isleap(self.year) else 8760

    @property
    def spec(self) -> str:
        """The trace spec of the whole year (clover.carbon grammar)."""
        return f"{self.zone}@{self.dataset}:{self.year}-01-01:{self.hours}"


def year_zones(config: Any) -> list[YearZone]:
    """Every zone of ``config``'s (a :class:`clover.config.RunConfig`) ``year.datasets`` list
    of ``{dataset, year, zones}`` entries (an empty ``zones`` list = every zone the dataset
    has in the config's data directory), in the order given."""
    from clover.carbon import list_zones

    out: list[YearZone] = []
    table = None
    for entry in config.get("year.datasets"):
        dataset, year = str(entry["dataset"]), int(entry["year"])
        zones = list(entry.get("zones") or [])
        if not zones:
            table = list_zones(config.data_dir) if table is None else table
            zones = sorted(table.loc[table["dataset"] == dataset, "zone"].unique())
        out.extend(YearZone(str(z), dataset, year) for z in zones)
    return out


def find_zones(config: Any, names: Iterable[str]) -> list[YearZone]:
    """The configured :class:`YearZone` of each of ``names``; CloverError naming the first
    that is not configured."""
    known = {z.zone: z for z in year_zones(config)}
    for name in names:
        if name not in known:
            raise CloverError(f"config year: zone {name!r} is not in year.datasets")
    return [known[name] for name in names]


def find_zone(config: Any, zone: str) -> YearZone:
    """:func:`find_zones` of one zone."""
    return find_zones(config, [zone])[0]


def zone_groups(config: Any) -> dict[str, list[YearZone]]:
    """The year's zones in jobs of ``year.zones_per_job`` (in :func:`year_zones` order):
    ``{"g1": [...], "g2": [...], ...}``. One process runs a group: the problem, the FCFS windows
    and the imports are paid once per group, not once per zone."""
    zones, size = year_zones(config), int(config.year.zones_per_job)
    return {f"g{i // size + 1}": zones[i:i + size] for i in range(0, len(zones), size)}


def hourly_tonnes(carbon_g_per_request: Any, service_rps: float) -> "np.ndarray":
    """Tonnes CO₂e of each hour of a service of ``service_rps`` requests/s, from the hour's
    grams per request (g/request × requests/s × 3,600 s / 10⁶ g per tonne)."""
    import numpy as np

    return np.asarray(carbon_g_per_request, dtype=float) * service_rps * S_PER_HOUR / G_PER_TONNE


def tonnes(carbon_g_per_request: Iterable[float], service_rps: float) -> float:
    """Tonnes CO₂e of a service of ``service_rps`` requests/s over hours of ``carbon_g_per_request``
    grams per request: the sum of :func:`hourly_tonnes`."""
    return float(hourly_tonnes(list(carbon_g_per_request), service_rps).sum())


def monthly_rows(log: "pd.DataFrame", zone: YearZone, *, service_rps: float, seed: int,
                 filled_hours: int = 0) -> "pd.DataFrame":
    """One row per calendar month of a year's hourly controller ``log`` (its ``hour_*``
    realised columns, overheads included): tonnes at ``service_rps``, energy in MWh at that
    service, sums of accuracy, ΔAccuracy and f (means = sum / hours), hours whose chosen
    configuration met the SLA. ``filled_hours`` is stated on every month of the zone."""
    import pandas as pd

    month = pd.to_datetime(log["timestamp_utc"], utc=True).dt.month
    per_req = log["hour_carbon_g_per_request"].astype(float)
    energy_j = log["hour_energy_j_per_request"].astype(float) * service_rps * S_PER_HOUR
    frame = pd.DataFrame({
        "month": month, "ci": log["ci_g_per_kwh"].astype(float),
        "carbon_t": hourly_tonnes(per_req, service_rps),
        "energy_mwh": energy_j / 3.6e9,
        "accuracy_sum": log["hour_accuracy"].astype(float),
        "delta_accuracy_pct_sum": log["hour_delta_accuracy_pct"].astype(float),
        "objective_sum": log["hour_objective"].astype(float),
        "hours_sla_met": log["sla_met"].astype(bool).astype(int),
        "evaluations": log["evaluations"].astype(int),
    })
    g = frame.groupby("month", sort=True)
    out = g.sum(numeric_only=True).drop(columns="ci")
    out["ci_mean_g_per_kwh"] = g["ci"].mean()
    out["hours"] = g.size()
    swing = daily_swings(frame["ci"], log["timestamp_utc"])
    by_month = swing.groupby(pd.to_datetime(swing.index).month)
    out["swing_sum_g_per_kwh"] = by_month.sum()
    out["days"] = by_month.size()
    out = out.reset_index()
    first = log.iloc[0]
    for key, value in (("zone", zone.zone), ("dataset", zone.dataset), ("year", zone.year),
                       ("app", first["app"]), ("scheme", first["scheme"]),
                       ("protocol", first["protocol"]), ("seed", seed), ("lam", first["lam"]),
                       ("filled_hours", filled_hours), ("service_rps", service_rps),
                       ("source", first["source"])):
        out[key] = value
    return out[list(MONTH_COLUMNS)]


def zone_trace(zone: YearZone, data_dir: str | None) -> tuple[list[float], list[str], int]:
    """(hourly g/kWh, ISO stamps, filled hours) of ``zone``'s whole year, gaps filled."""
    from clover.carbon import load_trace
    from clover.timestamps import iso_utc

    trace = load_trace(zone.spec, data_dir, fill="interpolate")
    return ([float(x) for x in trace.ci_g_per_kwh], [iso_utc(t) for t in trace.timestamps_utc],
            int(trace.filled_hours))


def daily_swings(ci: "Iterable[float]", stamps: "Iterable[str]") -> "pd.Series":
    """(max − min) of the hourly intensity within each UTC day, g/kWh, indexed by the day."""
    import pandas as pd

    s = pd.Series(list(ci), index=pd.to_datetime(list(stamps), utc=True), dtype=float)
    g = s.groupby(s.index.strftime("%Y-%m-%d"))
    return g.max() - g.min()


def run_zones(config: Any, app: str, zones: Iterable[YearZone], *, seed: int | None = None,
              profiles: str | None = None, progress: bool = False) -> "pd.DataFrame":
    """Every scheme of ``config.year`` for ``app`` over each of ``zones``' years, in order, as
    month rows (:data:`MONTH_COLUMNS`). ``config`` is a :class:`clover.config.RunConfig`;
    ``profiles`` a profile table file (default: the modeled table). One :class:`YearService`
    (problem, evaluator) serves every zone; FCFS windows are shared with the other jobs
    through ``CLOVER_FCFS_CACHE`` (:mod:`clover.sim.window_cache`)."""
    import pandas as pd

    section = config.year
    seed = int(section.seed if seed is None else seed)
    service = YearService.build(config, app, seed, profiles)
    parts = []
    for zone in zones:
        ci, stamps, filled = zone_trace(zone, config.data_dir)
        for scheme in section.schemes:
            log = service.run(scheme, zone.spec, ci, stamps, progress=progress)
            parts.append(monthly_rows(log, zone, service_rps=float(section.service_rps),
                                      seed=seed, filled_hours=filled))
    if not parts:
        raise CloverError("year run: no zone given")
    return pd.concat(parts, ignore_index=True)


def run_zone(config: Any, app: str, zone: YearZone, **kwargs) -> "pd.DataFrame":
    """:func:`run_zones` of one zone."""
    return run_zones(config, app, [zone], **kwargs)


@dataclass(frozen=True)
class YearService:
    """What every run of one app shares (the trace aside): the problem under the year
    section's protocol (BASE's SLA, A_base, C_base), its evaluator (FCFS windows cached per
    configuration), the reconfiguration costs and the log's constant columns."""

    config: Any
    app: str
    seed: int
    problem: Any
    evaluator: Any
    reconfig: Any
    meta: dict

    @classmethod
    def build(cls, config: Any, app: str, seed: int, profiles: str | None) -> "YearService":
        from clover.control.runs import (build_problem, profile_source, profile_table,
                                         reconfig_costs)
        from clover.sim.protocol import protocol_settings

        protocol = protocol_settings(config.year.protocol)
        lam = protocol.lam if config.year.lam is None else float(config.year.lam)
        n_gpus = protocol.default_gpus if config.n_gpus is None else int(config.n_gpus)
        table = profile_table(app, config.gpu, profiles, batch_sizes=(1, protocol.batch(app)))
        problem = build_problem(app, config.gpu, n_gpus, table, lam, None,
                                config.problem.kwargs(), seed, protocol)
        c = config.control
        reconfig = reconfig_costs(protocol, c.mig_repartition_s, c.model_load_base_s,
                                  c.model_load_mb_per_s)
        meta = {"app": app, "lam": lam, "source": profile_source(table), "backend": "model",
                "gpu": problem.gpu, "accuracy_floor": "", **protocol.columns(app)}
        return cls(config, app, seed, problem, protocol.evaluator(problem), reconfig, meta)

    def run(self, scheme: str, trace_name: str, ci: list[float], stamps: list[str], *,
            progress: bool = False) -> "pd.DataFrame":
        """One controller run of ``scheme`` over the trace (the hourly log)."""
        from clover.control.accounting import ModeledCosts
        from clover.control.controller import ControlSettings
        from clover.control.runs import step_scheme

        c = self.config.control
        return step_scheme(
            scheme, self.problem, self.evaluator, ModeledCosts(self.reconfig, self.problem.rate_rps),
            ControlSettings(eval_window_s=c.eval_window_s, initial=c.initial),
            {**self.meta, "scheme": scheme, "trace": trace_name}, ci, stamps,
            scheme_params=dict(self.config.scheme_params), seed=self.seed, progress=progress)
