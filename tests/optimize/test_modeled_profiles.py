"""Every scheme for all three apps at 10 GPUs (5 nodes x 2 A100, as the paper) on the
modeled profile table."""

import pytest

import clover.profiles as profiles_mod
from clover.optimize import make_scheme, solve_milp
from clover.sim import Problem


@pytest.mark.parametrize("app", ["efficientnet", "albert", "yolo"])
def test_all_schemes_on_modeled_profiles(app):
    table = profiles_mod.load_profiles(app, "a100-40gb", backend="model")
    p = Problem.build(app, "a100-40gb", 10, table)
    base = make_scheme("base", p).decide(0, 250.0)
    assert base.evaluation.sla_met and base.objective == pytest.approx(0.0, abs=1e-9)
    best = solve_milp(p, 250.0).objective
    assert best > 0
    for name in ("co2opt", "clover", "blover", "oracle", "jung"):
        s = make_scheme(name, p)
        s.set_period([100.0, 400.0])
        d = s.decide(0, 250.0)
        assert d.evaluation.sla_met and d.configuration.n_gpus == 10
        assert base.objective - 1e-9 <= d.objective <= best + 1e-7 or name == "jung"
