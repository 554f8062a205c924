"""Event simulation: Lindley recursion, routing, energy accounting, determinism."""

import numpy as np
import pytest

from clover.errors import CloverError
from clover.models.configuration import Configuration, GpuAssignment
from clover.sim.events import lindley_sojourn, poisson_arrivals, simulate


def _loop_sojourn(arr, svc):
    out, free = [], 0.0
    for a, s in zip(arr, svc):
        start = max(a, free)
        free = start + s
        out.append(free - a)
    return np.array(out)


def test_lindley_matches_a_loop():
    rng = np.random.default_rng(3)
    arr = np.sort(rng.uniform(0, 10, 2000))
    svc = rng.exponential(0.004, 2000)
    np.testing.assert_allclose(lindley_sojourn(arr, svc), _loop_sojourn(arr, svc), atol=1e-12)


def test_poisson_arrivals_rate_and_seed():
    a = poisson_arrivals(100.0, 1000.0, seed=1)
    assert a.size == pytest.approx(100_000, rel=0.01)
    assert np.all(np.diff(a) >= 0)
    np.testing.assert_array_equal(a, poisson_arrivals(100.0, 1000.0, seed=1))


def test_base_energy_and_accuracy(problem10, profiles):
    cfg = problem10.base_configuration()
    shares = {("efficientnet-b7", "7g.40gb"): problem10.rate_rps}
    arr = poisson_arrivals(problem10.rate_rps, 300.0, seed=2)
    res = simulate(cfg, shares, profiles, arr, seed=5)
    row = profiles[(profiles.variant == "efficientnet-b7") & (profiles.slice_profile == "7g.40gb")
                   & (profiles.app == "efficientnet")].iloc[0]
    # E/request = idle of 10 GPUs over the run / n + busy-minus-idle power x mean service time
    expected = (36.1 * 10 / (res.n_requests / res.duration_s)
                + (row.power_w_busy - row.power_w_idle) * row.service_ms_mean / 1000)
    assert res.energy_j_per_request == pytest.approx(expected, rel=0.02)
    assert res.accuracy == pytest.approx(84.582)
    assert res.throughput_rps == pytest.approx(problem10.rate_rps, rel=0.02)
    # deterministic by seed
    again = simulate(cfg, shares, profiles, arr, seed=5)
    assert again.p95_ms == res.p95_ms and again.energy_j == res.energy_j
    assert simulate(cfg, shares, profiles, arr, seed=6).p95_ms != res.p95_ms


def test_routing_follows_shares(profiles):
    cfg = Configuration("a100-40gb", (
        GpuAssignment(("4g.20gb", "3g.20gb"), ("efficientnet-b1", "efficientnet-b3")),))
    shares = {("efficientnet-b1", "4g.20gb"): 30.0, ("efficientnet-b3", "3g.20gb"): 10.0}
    arr = poisson_arrivals(40.0, 2000.0, seed=4)
    res = simulate(cfg, shares, profiles, arr, seed=1)
    frac = res.instance_requests / res.n_requests
    assert frac[0] == pytest.approx(0.75, abs=0.01)
    acc = 0.75 * 78.382 + 0.25 * 81.528
    assert res.accuracy == pytest.approx(acc, abs=0.05)


def test_bad_input(profiles, problem10):
    cfg = problem10.base_configuration()
    with pytest.raises(CloverError, match="sorted"):
        simulate(cfg, {("efficientnet-b7", "7g.40gb"): 1.0}, profiles, np.array([2.0, 1.0]))
    with pytest.raises(CloverError, match="no traffic"):
        simulate(cfg, {}, profiles, np.array([1.0, 2.0]))
