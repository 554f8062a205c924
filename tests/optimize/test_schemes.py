"""Every scheme behind make_scheme, on all three apps at 10 GPUs, plus their defining rules."""

import numpy as np
import pytest

from clover.errors import CloverError
from clover.optimize import jung_select, make_scheme, score, solve_milp
from clover.optimize.graph import graph_key
from clover.sim import Problem, SimEvaluator

SCHEME_NAMES = ("base", "co2opt", "clover", "blover", "oracle", "jung")
CI = (250.0, 120.0, 410.0)


@pytest.fixture(scope="module")
def problems(profiles):
    return {app: Problem.build(app, "a100-40gb", 10, profiles)
            for app in ("efficientnet", "albert", "yolo")}


@pytest.mark.parametrize("app", ["efficientnet", "albert", "yolo"])
def test_every_scheme_runs_for_every_app_at_10_gpus(problems, app):
    p = problems[app]
    ev = SimEvaluator(p)
    oracle = {ci: solve_milp(p, ci).objective for ci in CI}
    for name in SCHEME_NAMES:
        s = make_scheme(name, p, ev)
        s.set_period(CI)
        for h, ci in enumerate(CI):
            d = s.decide(h, ci)
            assert d.configuration.n_gpus == 10
            d.configuration.validate(app)
            assert d.evaluation.sla_met and d.evaluation.feasible, (name, ci)
            assert d.objective <= oracle[ci] + 1e-7, (name, ci)
            assert d.objective == pytest.approx(score(p, d.evaluation, ci).objective)
            assert d.decision_s >= 0 and set(d.metrics) >= {"p95_ms", "accuracy"}
            if name == "oracle":
                assert d.objective == pytest.approx(oracle[ci], rel=1e-7, abs=1e-7)
            if name == "base":
                assert d.delta_accuracy_pct == 0.0
            if name not in ("clover", "blover"):
                assert d.evaluations == []


def test_co2opt_has_least_carbon(problems):
    p = problems["albert"]
    d = make_scheme("co2opt", p).decide(0, 250.0)
    for name in ("base", "oracle", "clover", "jung"):
        other = make_scheme(name, p).decide(0, 250.0)
        assert d.carbon_g_per_request <= other.carbon_g_per_request + 1e-12
    lam1 = solve_milp(p.with_params(lam=1.0), 250.0)
    e1 = SimEvaluator(p).evaluate(lam1.configuration, 250.0)
    assert d.evaluation.energy_j_per_request == pytest.approx(e1.energy_j_per_request, rel=1e-7)


def test_oracle_moves_with_lambda(problems):
    p = problems["efficientnet"]
    acc = make_scheme("oracle", p.with_params(lam=0.0)).decide(0, 250.0)
    carb = make_scheme("oracle", p.with_params(lam=1.0)).decide(0, 250.0)
    assert acc.evaluation.accuracy == pytest.approx(p.base_accuracy)  # lambda=0: no loss
    assert carb.carbon_g_per_request < acc.carbon_g_per_request


def test_clover_search_rules(problems):
    p = problems["yolo"]
    s = make_scheme("clover", p)
    d0 = s.decide(0, 250.0)
    assert d0.searched and 1 <= len(d0.evaluations) <= 10
    # ci * PUE moved by < 5 %: no search, no evaluation, incumbent kept
    d1 = s.decide(1, 260.0)
    assert not d1.searched and d1.evaluations == [] and d1.configuration == d0.configuration
    # > 5 %: search again; no configuration is ever evaluated twice (graph cache)
    keys = [graph_key(p.counts(c)) for c in d0.evaluations]
    for h, ci in enumerate((300.0, 150.0, 90.0, 400.0), start=2):
        d = s.decide(h, ci)
        assert d.searched and len(d.evaluations) <= 10
        keys += [graph_key(p.counts(c)) for c in d.evaluations]
        assert np.isfinite(d.objective)
    assert len(keys) == len(set(keys))
    assert s.total_evaluations == len(keys)


def test_clover_is_deterministic_by_seed(problems):
    p = problems["albert"]
    runs = []
    for _ in range(2):
        s = make_scheme("clover", p)
        runs.append([s.decide(h, ci).configuration.key() for h, ci in enumerate(CI)])
    assert runs[0] == runs[1]
    other = make_scheme("clover", p, seed=123)
    assert [other.decide(h, ci).configuration.key() for h, ci in enumerate(CI)] != runs[0]


def test_blover_reevaluates_equivalent_configurations(problems):
    p = problems["efficientnet"]
    s = make_scheme("blover", p, max_evaluations=40, patience=40)
    graphs = []
    for h, ci in enumerate((250.0, 100.0, 400.0, 200.0, 350.0, 120.0)):
        graphs += [graph_key(p.counts(c)) for c in s.decide(h, ci).evaluations]
    assert len(graphs) > len(set(graphs))  # the same graph evaluated more than once


def test_scheme_parameters(problems):
    p = problems["yolo"]
    s = make_scheme("clover", p, max_evaluations=3, patience=100)
    assert len(s.decide(0, 250.0).evaluations) == 3
    with pytest.raises(CloverError, match="unknown parameter"):
        make_scheme("clover", p, temperature=5)
    with pytest.raises(CloverError, match="unknown scheme"):
        make_scheme("greedy", p)


# Jung (KIISE 2024), published V100 energy per inference (mJ)
V100 = {"resnet34": 359.93, "resnet50": 420.62, "resnet101": 803.09, "resnet152": 1238.15}


@pytest.mark.parametrize("ci, expected", [
    (500.0, "resnet34"),   # highest ci -> lowest energy
    (100.0, "resnet152"),  # lowest ci -> highest energy
    (300.0, "resnet101"),  # E_sel = 1238.15 - 0.5 * 878.22 = 799.04
    (400.0, "resnet50"),   # E_sel = 578.59: 420.62 is nearer than 803.09
    (200.0, "resnet101"),  # E_sel = 1018.6: |.-803.09| = 215.5 < |.-1238.15| = 219.6
    (50.0, "resnet152"),   # below the period's range: clipped
])
def test_jung_on_published_v100_table(ci, expected):
    assert jung_select(V100, ci, 100.0, 500.0) == expected


def test_jung_scheme_uses_the_period(problems):
    p = problems["efficientnet"]
    s = make_scheme("jung", p)
    s.set_period([100.0, 500.0])
    assert s.decide(0, 500.0).configuration.gpus[0].variants == ("efficientnet-b1",)
    assert s.decide(1, 100.0).configuration.gpus[0].variants == ("efficientnet-b7",)
    assert all(g.layout == ("7g.40gb",) for g in s.decide(2, 300.0).configuration.gpus)
