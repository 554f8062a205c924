"""ORACLE is provably optimal on small cases: MILP == exhaustive over every distinct graph."""

import numpy as np
import pytest

from clover.errors import CloverError
from clover.optimize.exact import exhaustive, solve_milp
from clover.sim import Problem, SimEvaluator
from clover.optimize.objective import score


@pytest.fixture(scope="module")
def small(profiles):
    return Problem.build("yolo", "a100-40gb", 2, profiles)


@pytest.mark.parametrize("lam", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("ci", [60.0, 250.0, 600.0])
def test_milp_equals_exhaustive(small, lam, ci):
    p = small.with_params(lam=lam)
    ex = exhaustive(p, ci)
    mi = solve_milp(p, ci)
    assert mi.objective == pytest.approx(ex.objective, rel=1e-7, abs=1e-7)
    # the MILP's configuration, scored by the evaluator, reaches that optimum
    ev = SimEvaluator(p).evaluate(mi.configuration, ci)
    assert score(p, ev, ci).objective == pytest.approx(ex.objective, rel=1e-7, abs=1e-7)
    assert ex.n_candidates > 1000  # distinct graphs enumerated


def test_milp_equals_exhaustive_efficientnet_tight_sla(profiles):
    p = Problem.build("efficientnet", "a100-40gb", 2, profiles, sla_factor=0.5, lam=0.3)
    for ci in (100.0, 400.0):
        assert solve_milp(p, ci).objective == pytest.approx(exhaustive(p, ci).objective,
                                                            rel=1e-7, abs=1e-7)


def test_milp_beats_or_ties_base(problem10):
    for ci in (50.0, 250.0, 700.0):
        res = solve_milp(problem10, ci)
        assert np.isfinite(res.objective)
        base = SimEvaluator(problem10).evaluate(problem10.base_configuration(), ci)
        assert res.objective >= score(problem10, base, ci).objective - 1e-9
        assert res.configuration.n_gpus == 10


def test_infeasible_sla_is_a_clear_error(profiles):
    p = Problem.build("efficientnet", "a100-40gb", 10, profiles, sla_factor=0.05)
    with pytest.raises(CloverError, match="no configuration of 10 x a100-40gb serves"):
        solve_milp(p, 250.0)


def test_accuracy_floor_is_respected(problem10):
    p = problem10.with_params(accuracy_floor=84.0)
    res = solve_milp(p, 250.0)
    ev = SimEvaluator(p).evaluate(res.configuration, 250.0)
    assert ev.accuracy >= 84.0 - 1e-6 and ev.sla_met
    free = solve_milp(problem10, 250.0)
    assert free.objective >= res.objective - 1e-9
    assert SimEvaluator(problem10).evaluate(free.configuration, 250.0).accuracy < 84.0
