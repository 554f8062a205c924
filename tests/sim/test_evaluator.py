"""The analytic evaluator: sizing on BASE, optimal routing, feasibility, simulate flag."""

import numpy as np
import pytest
from scipy.optimize import linprog

from clover.errors import CloverError
from clover.models.configuration import Configuration, GpuAssignment
from clover.sim import Problem, SimEvaluator, route
from clover.sim.queueing import fit_shifted_exponential, sojourn_quantile


def test_problem_sizing(problem10, profiles):
    row = profiles[(profiles.variant == "efficientnet-b7") & (profiles.slice_profile == "7g.40gb")
                   & (profiles.app == "efficientnet")].iloc[0]
    mu = row.max_throughput_rps
    assert problem10.rate_rps == pytest.approx(0.6 * 10 * mu)
    d, b = fit_shifted_exponential(row.service_ms_mean, row.service_ms_p95)
    assert problem10.sla_ms == pytest.approx(float(sojourn_quantile(0.6 * mu, d, b)))
    e = (36.1 * 10 + problem10.rate_rps * (row.power_w_busy - row.power_w_idle) / mu) \
        / problem10.rate_rps
    assert problem10.base_energy_j == pytest.approx(e)
    assert problem10.base_carbon_g == pytest.approx(e / 3.6e6 * 250 * 1.5)
    assert problem10.base_accuracy == pytest.approx(84.582)


def test_base_meets_its_own_sla(problem10):
    ev = SimEvaluator(problem10).evaluate(problem10.base_configuration(), 250.0)
    assert ev.feasible and ev.sla_met
    assert ev.p95_ms == pytest.approx(problem10.sla_ms, rel=1e-6)
    assert sum(ev.shares.values()) == pytest.approx(problem10.rate_rps)
    assert ev.energy_j_per_request == pytest.approx(problem10.base_energy_j)


def test_simulated_base_close_to_modeled(problem10):
    ev = SimEvaluator(problem10, simulate=True, sim_requests=100_000).evaluate(
        problem10.base_configuration(), 250.0)
    assert ev.source == "simulated"
    assert ev.p95_ms == pytest.approx(problem10.sla_ms, rel=0.05)


@pytest.mark.parametrize("ci", [50.0, 300.0, 900.0])
def test_greedy_routing_is_the_lp_optimum(problem10, ci):
    rng = np.random.default_rng(0)
    t = problem10.types
    val = problem10.request_values(ci)
    for _ in range(5):
        counts = rng.integers(0, 4, len(t)) * t.fits
        cap = t.cap_rps * counts
        if cap.sum() < problem10.rate_rps:
            continue
        y, ok = route(problem10, counts, ci)
        assert ok and y.sum() == pytest.approx(problem10.rate_rps)
        lp = linprog(-val, A_eq=[np.ones(len(t))], b_eq=[problem10.rate_rps],
                     bounds=list(zip(np.zeros(len(t)), cap)), method="highs")
        assert y @ val == pytest.approx(-lp.fun, rel=1e-9, abs=1e-12)
        assert np.all(y <= cap + 1e-9)


def test_infeasible_and_unfit_configurations(problem10, profiles):
    ev = SimEvaluator(problem10)
    small = Configuration.uniform("a100-40gb", 10, "efficientnet-b7",
                                  layout=("1g.5gb",) * 7)
    out = ev.evaluate(small, 250.0)
    assert not out.feasible and not out.sla_met and "capacity" in out.reason
    p = Problem.build("albert", "a100-40gb", 2, profiles)
    bad = Configuration("a100-40gb", (
        GpuAssignment(("7g.40gb",), ("albert-xxlarge-v2",)),
        GpuAssignment(("1g.5gb",) * 7, ("albert-xxlarge-v2",) * 7)))
    out = SimEvaluator(p).evaluate(bad, 250.0)
    assert not out.feasible and "does not fit" in out.reason


def test_wrong_app_or_gpu_is_an_error(problem10):
    with pytest.raises(CloverError, match="not a efficientnet model"):
        SimEvaluator(problem10).evaluate(Configuration.uniform("a100-40gb", 10, "yolov5l"), 1.0)
    with pytest.raises(CloverError, match="problem for a100-40gb"):
        SimEvaluator(problem10).evaluate(
            Configuration.uniform("h100-80gb", 10, "efficientnet-b7"), 1.0)


def test_permutations_evaluate_identically(problem10):
    a = GpuAssignment(("4g.20gb", "2g.10gb", "1g.5gb"),
                      ("efficientnet-b3", "efficientnet-b1", "efficientnet-b5"))
    b = GpuAssignment(("1g.5gb", "4g.20gb", "2g.10gb"),
                      ("efficientnet-b5", "efficientnet-b3", "efficientnet-b1"))
    full = GpuAssignment(("7g.40gb",), ("efficientnet-b7",))
    c1 = Configuration("a100-40gb", (a,) + (full,) * 9)
    c2 = Configuration("a100-40gb", (full,) * 5 + (b,) + (full,) * 4)
    e1 = SimEvaluator(problem10).evaluate(c1, 200.0)
    e2 = SimEvaluator(problem10).evaluate(c2, 200.0)
    assert e1.energy_j_per_request == e2.energy_j_per_request
    assert e1.p95_ms == e2.p95_ms and e1.accuracy == e2.accuracy


def test_bad_profile_table(profiles):
    with pytest.raises(CloverError, match="lacks column"):
        Problem.build("yolo", "a100-40gb", 2, profiles.drop(columns=["service_ms_p95"]))
    with pytest.raises(CloverError, match="no batch-1 rows"):
        Problem.build("yolo", "h100-80gb", 2, profiles)
    with pytest.raises(CloverError, match="load_fraction"):
        Problem.build("yolo", "a100-40gb", 2, profiles, load_fraction=1.2)
