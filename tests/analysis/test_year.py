"""The year study's summary and claims (issue 20), on month rows made by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from clover.analysis.year import (SUMMARY_COLUMNS, monthly_table, spearman, summarize,
                                  year_claims)
from clover.control.year import MONTH_COLUMNS


def _rows(zone, scheme, carbon_t, objective_sum, ci=300.0, swing=100.0, acc=80.0):
    """Two months of 10 hours and 1 day each."""
    return [{"zone": zone, "dataset": "electricitymaps", "year": 2023, "app": "yolo",
             "scheme": scheme, "protocol": "paper", "seed": 0, "lam": 0.1, "month": m,
             "hours": 10, "filled_hours": 0, "service_rps": 1000.0, "ci_mean_g_per_kwh": ci,
             "carbon_t": carbon_t / 2, "energy_mwh": 1.0, "accuracy_sum": acc * 10,
             "delta_accuracy_pct_sum": -5.0, "objective_sum": objective_sum / 2,
             "hours_sla_met": 10, "evaluations": 0, "swing_sum_g_per_kwh": swing, "days": 1,
             "source": "modeled"} for m in (1, 2)]


def _monthly():
    rows = []
    for zone, ci, scale in (("A", 500.0, 2.0), ("B", 300.0, 1.0), ("C", 100.0, 0.5)):
        rows += _rows(zone, "base", 10 * scale, 0.0, ci=ci, swing=50 * scale, acc=84.0)
        rows += _rows(zone, "static", 4 * scale, 20.0, ci=ci, swing=50 * scale)
        rows += _rows(zone, "clover", 3 * scale, 30.0, ci=ci, swing=50 * scale)
        rows += _rows(zone, "oracle", 2.5 * scale, 40.0, ci=ci, swing=50 * scale)
    return pd.DataFrame(rows)[list(MONTH_COLUMNS)]


def test_summary_by_hand():
    s = summarize(_monthly()).set_index(["zone", "scheme"])
    assert list(summarize(_monthly()).columns) == list(SUMMARY_COLUMNS)
    b = s.loc[("B", "clover")]
    assert b["carbon_t"] == pytest.approx(3.0)
    assert b["base_carbon_t"] == pytest.approx(10.0)
    assert b["avoided_t"] == pytest.approx(7.0)
    assert b["avoided_pct"] == pytest.approx(70.0)
    assert b["accuracy_change_pts"] == pytest.approx(-4.0)  # 80 vs BASE's 84
    assert b["objective"] == pytest.approx(30.0 / 20)  # f summed over 20 hours
    assert b["adapt_value_t"] == pytest.approx(1.0)  # STATIC 4 t - Clover 3 t
    assert b["adapt_value_f_pts"] == pytest.approx((30.0 - 20.0) / 20)
    assert b["daily_swing_g_per_kwh"] == pytest.approx(50.0)
    assert (b["hours"], b["hours_sla_met"]) == (20, 20)
    assert math.isnan(s.loc[("B", "static"), "adapt_value_t"])  # only adaptive schemes
    assert s.loc[("A", "oracle"), "adapt_value_t"] == pytest.approx(3.0)  # 8 - 5


def test_monthly_table_has_tonnes_avoided():
    m = monthly_table(_monthly())
    jan = m[(m["zone"] == "A") & (m["scheme"] == "clover") & (m["month"] == 1)].iloc[0]
    assert jan["avoided_t"] == pytest.approx(10.0 - 3.0)


def test_claims_read_the_numbers():
    monthly = _monthly()
    claims = year_claims(summarize(monthly), monthly_table(monthly)).set_index("key")
    assert claims.loc["year-everywhere", "verdict"] == "holds"
    assert claims.loc["year-where", "verdict"] == "holds"  # tonnes avoided rise with ci
    # mean f gains over STATIC: Clover (30 - 20) / 20 = 0.5, ORACLE (40 - 20) / 20 = 1.0 >= 0.5
    assert claims.loc["year-adapting", "verdict"] == "holds"
    assert "clover: 3.5 t/year in all" in claims.loc["year-adapting", "measured"]
    assert "modeled, paper protocol, 1000 req/s" in claims.loc["year-where", "stated"]


def test_one_zone_has_no_where_verdict():
    monthly = _monthly()
    monthly = monthly[monthly["zone"] == "A"]
    claims = year_claims(summarize(monthly), monthly_table(monthly)).set_index("key")
    assert claims.loc["year-where", "verdict"] == "not run"
    assert "fewer than 3 zones" in claims.loc["year-where", "measured"]
    assert claims.loc["year-everywhere", "verdict"] == "holds"


def test_spearman_textbook():
    # perfectly monotone -> 1; reversed -> -1; ties get average ranks
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert math.isnan(spearman([1, 2], [3, 4]))
