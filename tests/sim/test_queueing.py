"""The closed-form M/G/1 model against exact results and against the event simulation."""

import numpy as np
import pytest

from clover.sim.events import lindley_sojourn, poisson_arrivals
from clover.sim.queueing import (
    fit_shifted_exponential,
    mean_sojourn,
    sla_capacity,
    sojourn_quantile,
)


def test_fit_reproduces_mean_and_p95():
    d, b = fit_shifted_exponential(10.0, 13.0)
    assert d + b == pytest.approx(10.0)
    assert d + b * np.log(20) == pytest.approx(13.0)
    assert fit_shifted_exponential(5.0, 5.0) == (5.0, 0.0)  # deterministic
    d, b = fit_shifted_exponential(5.0, 40.0)  # too heavy: clamped to exponential
    assert (d, b) == (0.0, 5.0)


def test_mm1_is_exact():
    # exponential service (d = 0): sojourn ~ Exp(mu - lam), p95 = ln 20 / (mu - lam)
    mean_ms = 10.0
    for rho in (0.2, 0.5, 0.8):
        lam = rho * 100.0
        p95 = float(sojourn_quantile(lam, 0.0, mean_ms))
        assert p95 == pytest.approx(np.log(20) / (100.0 - lam) * 1000, rel=1e-6)
        assert float(mean_sojourn(lam, 0.0, mean_ms)) == pytest.approx(1000 / (100 - lam))


def test_idle_quantile_is_service_p95():
    d, b = fit_shifted_exponential(8.0, 9.5)
    assert float(sojourn_quantile(0.0, d, b)) == pytest.approx(9.5, rel=1e-6)


def test_unstable_is_infinite():
    assert np.isinf(sojourn_quantile(150.0, 5.0, 2.0))  # rho = 1.05


GRID_RHO = (0.1, 0.3, 0.5, 0.7, 0.9)
GRID_RATIO = (1.0, 1.1, 1.5, 2.0)  # service p95 / mean


@pytest.mark.parametrize("ratio", GRID_RATIO)
def test_closed_form_p95_within_5pct_of_event_simulation(ratio):
    """Stated error: |closed form - simulation| / simulation <= 5 % for rho <= 0.9."""
    mean = 10.0
    d, b = fit_shifted_exponential(mean, mean * ratio)
    for rho in GRID_RHO:
        rate = rho * 1000.0 / mean
        n = 300_000
        arr = poisson_arrivals(rate, n / rate, seed=7)
        rng = np.random.default_rng(11)
        svc = (d + (rng.exponential(b, arr.size) if b > 0 else 0.0)) / 1000.0
        svc = np.broadcast_to(svc, arr.shape).copy()
        sim = np.percentile(lindley_sojourn(arr, svc) * 1000.0, 95)
        closed = float(sojourn_quantile(rate, d, b))
        assert abs(closed - sim) / sim <= 0.05, (ratio, rho, closed, sim)


def test_capacity_is_the_rate_at_the_sla():
    d, b = fit_shifted_exponential(10.0, 12.0)
    sla = 40.0
    cap = float(sla_capacity(sla, d, b))
    assert 0 < cap < 100.0
    assert float(sojourn_quantile(cap, d, b)) == pytest.approx(sla, rel=1e-6)
    assert float(sojourn_quantile(cap * 1.001, d, b)) > sla
    # an SLA below the service p95 cannot be met at any rate
    assert float(sla_capacity(11.0, d, b)) == 0.0
