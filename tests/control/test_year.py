"""The year study's runs (issue 20): tonnes arithmetic, month rows, a year equal to its
months for memoryless schemes, and the on-disk FCFS window cache."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from clover.config import RunConfig
from clover.control.year import (YearService, YearZone, daily_swings, find_zone, find_zones,
                                 hourly_tonnes, monthly_rows, run_zone, run_zones, tonnes,
                                 year_zones, zone_groups, zone_trace)
from clover.errors import CloverError
from clover.sim.problem import carbon_g


def test_tonnes_hand_computed():
    # 10 J per request at 300 g/kWh and PUE 1.5: 10 x 300 x 1.5 / 3.6e6 = 0.00125 g/request;
    # 1,000 requests/s for one hour: 0.00125 x 1000 x 3600 = 4,500 g = 0.0045 t
    per_request = carbon_g(10.0, 300.0, 1.5)
    assert per_request == pytest.approx(0.00125)
    assert tonnes([per_request], 1000.0) == pytest.approx(0.0045)
    # two hours at 0.00125 and 0.0025 g, 500 req/s: (0.00375) x 500 x 3600 / 1e6
    assert tonnes([0.00125, 0.0025], 500.0) == pytest.approx(0.00675)
    # hour by hour: 0.00125 x 500 x 3600 / 1e6 = 0.00225 t, then 0.0045 t
    assert list(hourly_tonnes([0.00125, 0.0025], 500.0)) == pytest.approx([0.00225, 0.0045])


def _log(stamps, carbon, ci, sla=None):
    n = len(stamps)
    return pd.DataFrame({
        "timestamp_utc": stamps, "ci_g_per_kwh": ci, "hour_carbon_g_per_request": carbon,
        "hour_energy_j_per_request": [10.0] * n, "hour_accuracy": [80.0] * n,
        "hour_delta_accuracy_pct": [-1.0] * n, "hour_objective": [2.0] * n,
        "sla_met": sla if sla is not None else [True] * n, "evaluations": [1] * n,
        "app": "yolo", "scheme": "clover", "protocol": "paper", "lam": 0.1,
        "source": "modeled"})


def test_monthly_rows_by_hand():
    stamps = ["2023-01-31T22:00:00Z", "2023-01-31T23:00:00Z", "2023-02-01T00:00:00Z"]
    log = _log(stamps, [0.001, 0.002, 0.004], [100.0, 300.0, 50.0], sla=[True, False, True])
    rows = monthly_rows(log, YearZone("DE", "electricitymaps", 2023), service_rps=1000.0,
                        seed=0, filled_hours=2)
    jan, feb = rows.iloc[0], rows.iloc[1]
    assert (jan["month"], feb["month"]) == (1, 2)
    assert jan["carbon_t"] == pytest.approx(0.003 * 1000 * 3600 / 1e6)
    assert feb["carbon_t"] == pytest.approx(0.004 * 3.6)
    assert (jan["hours"], jan["hours_sla_met"], feb["hours_sla_met"]) == (2, 1, 1)
    assert jan["ci_mean_g_per_kwh"] == pytest.approx(200.0)
    # daily swing: Jan 31 spans 100..300 -> 200; Feb 1 a single hour -> 0
    assert (jan["swing_sum_g_per_kwh"], jan["days"]) == (200.0, 1)
    assert (feb["swing_sum_g_per_kwh"], feb["days"]) == (0.0, 1)
    # energy at the service: 10 J x 1000 req/s x 3600 s = 36 MJ = 0.01 MWh per hour
    assert jan["energy_mwh"] == pytest.approx(0.02)
    assert (jan["filled_hours"], jan["zone"], jan["objective_sum"]) == (2, "DE", 4.0)


def test_daily_swings():
    s = daily_swings([1.0, 5.0, 3.0, 2.0], ["2023-03-01T00:00:00Z", "2023-03-01T12:00:00Z",
                                            "2023-03-02T00:00:00Z", "2023-03-02T01:00:00Z"])
    assert list(s) == [4.0, 1.0]


def test_default_zones_are_the_two_datasets():
    zones = year_zones(RunConfig.from_dict({"apps": ["yolo"], "schemes": ["base"],
                                            "traces": {"CISO-March": "CISO-March"},
                                            "gpu_count": {"apps": ["yolo"]}}))
    assert len(zones) == 24
    assert YearZone("DE", "electricitymaps", 2023) in zones
    assert YearZone("US-EIA-PJM", "eia930_2022", 2022) in zones
    assert zones[0].spec.endswith(":2023-01-01:8760")


def _config(**year):
    return RunConfig.from_dict({
        "apps": ["efficientnet"], "schemes": ["base"], "traces": {"CISO-March": "CISO-March"},
        "gpu_count": {"apps": ["efficientnet"]},
        "year": {"datasets": [{"dataset": "electricitymaps", "year": 2023, "zones": ["DE"]},
                              {"dataset": "eia930_2022", "year": 2022,
                               "zones": ["US-EIA-PJM"]}], **year}})


def test_unknown_zone_is_one_line():
    with pytest.raises(CloverError, match="zone 'XX' is not in year.datasets"):
        find_zone(_config(), "XX")
    with pytest.raises(CloverError, match="zone 'YY' is not in year.datasets"):
        find_zones(_config(), ["DE", "YY"])


def test_zones_are_grouped_into_jobs_in_order():
    config = _config(datasets=[{"dataset": "electricitymaps", "year": 2023,
                                "zones": ["DE", "GB", "ZA"]},
                               {"dataset": "eia930_2022", "year": 2022, "zones": ["US-EIA-PJM"]}],
                     zones_per_job=3)
    groups = {g: [z.zone for z in zones] for g, zones in zone_groups(config).items()}
    assert groups == {"g1": ["DE", "GB", "ZA"], "g2": ["US-EIA-PJM"]}
    assert [z.zone for z in find_zones(config, ["US-EIA-PJM", "DE"])] == ["US-EIA-PJM", "DE"]
    assert list(zone_groups(_config())) == ["g1"]  # default: 6 zones a job


def test_missing_hours_are_filled_and_counted():
    ci, stamps, filled = zone_trace(find_zone(_config(), "US-EIA-PJM"), None)
    assert (len(ci), filled) == (8760, 23)
    assert all(math.isfinite(x) for x in ci)


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["base", "co2opt", "oracle"])
def test_a_year_is_the_concatenation_of_its_months(scheme):
    """Memoryless schemes: the year's run equals its twelve month runs, hour by hour."""
    config = _config(schemes=[scheme])
    zone = find_zone(config, "DE")
    ci, stamps, _ = zone_trace(zone, None)
    service = YearService.build(config, "efficientnet", 0, None)
    year = service.run(scheme, "DE", ci, stamps)
    month = pd.to_datetime(pd.Series(stamps), utc=True).dt.month
    parts = []
    for m in range(1, 13):
        idx = [i for i in range(len(ci)) if month[i] == m]
        parts.append(service.run(scheme, "DE", [ci[i] for i in idx], [stamps[i] for i in idx]))
    months = pd.concat(parts, ignore_index=True)
    # every hour's decision and steady state are the same
    steady = ["configuration", "accuracy", "energy_j_per_request", "carbon_g_per_request",
              "p95_ms", "sla_met", "objective", "delta_carbon_pct", "delta_accuracy_pct"]
    pd.testing.assert_frame_equal(year[steady], months[steady])
    # and so is everything else but on each month's first hour, where a month run starts
    # from the initial deployment (config control.initial) instead of last month's choice
    firsts = {min(i for i in range(len(ci)) if month[i] == m) for m in range(1, 13)}
    rest = [i for i in range(len(ci)) if i not in firsts]
    cols = [c for c in year.columns if c not in ("hour", "decision_s")]
    pd.testing.assert_frame_equal(year.loc[rest, cols], months.loc[rest, cols])


@pytest.mark.slow
def test_run_zone_month_rows_cover_the_year():
    config = _config(schemes=["base", "oracle"])
    rows = run_zone(config, "efficientnet", find_zone(config, "DE"))
    assert list(rows.groupby("scheme")["hours"].sum()) == [8760, 8760]
    assert rows.groupby("scheme")["days"].sum().tolist() == [365, 365]
    base = rows[rows["scheme"] == "base"]["carbon_t"].sum()
    oracle = rows[rows["scheme"] == "oracle"]["carbon_t"].sum()
    assert 0 < oracle < base


@pytest.mark.slow
def test_zones_run_in_one_process_equal_their_own_runs():
    """One service for several zones (a job of year.zones_per_job zones) gives each zone's
    rows exactly as a run of that zone alone."""
    config = _config(schemes=["base", "co2opt"])
    zones = find_zones(config, ["US-EIA-PJM", "DE"])
    together = run_zones(config, "efficientnet", zones)
    alone = pd.concat([run_zone(config, "efficientnet", z) for z in zones], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone)
    assert list(together["zone"].unique()) == ["US-EIA-PJM", "DE"]
    assert len(together) == 2 * 2 * 12
