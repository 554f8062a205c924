"""The non-adaptive references (issue 18): ``static`` (hindsight) is the best single
configuration over the whole trace, ``static-daily`` looks only at past hours."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from clover.models.configuration import Configuration
from clover.optimize import make_scheme
from clover.optimize.exact import gpu_assignments
from clover.optimize.objective import score
from clover.optimize.replicated import ReplicatedOracle
from clover.optimize.static import StaticDailyScheme, StaticScheme, best_replicated
from clover.profiles import model_profiles
from clover.sim import Problem, SimEvaluator, objective_batch
from clover.sim.protocol import build_problem, protocol_settings

#: one day of low carbon intensity, then either more of it or a very dirty day
CLEAN = [40.0] * 24
DIRTY = [1400.0] * 24


class _Fake:
    """A three-configuration space scored by hand (energy 3.6 MJ -> 1 g per g/kWh)."""

    def __init__(self):
        self.problem = SimpleNamespace(lam=0.5, pue=1.0, base_carbon_g=100.0,
                                       base_accuracy=80.0, accuracy_floor=None, app="x",
                                       sla_ms=1.0)
        self.evaluator = None
        self.name = "fake"

        def ev(name, acc, energy):
            return SimpleNamespace(configuration=name, accuracy=acc, energy_j_per_request=energy,
                                   feasible=True, sla_met=True)

        self.evals = [ev("A", 80.0, 3.6e6), ev("B", 72.0, 1.8e6), ev("C", 76.0, 2.7e6)]

    def analytic(self):
        return False

    def graphs(self):
        return [e.configuration for e in self.evals]

    def space_evaluations(self, ci):
        return self.evals

    def rescore(self, e, ci):
        return e


def test_static_by_hand():
    """f = 0.5·ΔCarbon + 0.5·ΔAccuracy with carbon = E/3.6e6·ci g and C_base = 100 g:
    f_A = 50 − ci/2, f_B = 45 − ci/4, f_C = 47.5 − 3ci/8. Over ci = (10, 10, 60):
    A 45 + 45 + 20 = 110, B 42.5 + 42.5 + 30 = 115, C 43.75 + 43.75 + 25 = 112.5, so static
    deploys B (115), although the hourly optimum is A, A, B (120)."""
    fake = _Fake()
    for cfg, f in zip("ABC", (lambda c: 50 - c / 2, lambda c: 45 - c / 4,
                              lambda c: 47.5 - 3 * c / 8)):
        e = fake.evals["ABC".index(cfg)]
        for ci in (10.0, 60.0):
            assert score(fake.problem, e, ci).objective == pytest.approx(f(ci))
    assert best_replicated(fake, [10.0, 10.0, 60.0]) == "B"
    assert best_replicated(fake, [10.0]) == "A"  # one clean hour alone: A
    assert best_replicated(fake, [60.0]) == "B"


@pytest.fixture(scope="module")
def yolo2(profiles):
    """yolo on 2 A100 (extended: per-GPU layouts, objective-optimal routing), λ = 0.5."""
    return Problem.build("yolo", "a100-40gb", 2, profiles, lam=0.5)


def _summed(problem, counts, ci_hours):
    return sum(objective_batch(problem, counts, c) for c in ci_hours)


def test_static_is_never_beaten_by_a_fixed_configuration_per_gpu(yolo2):
    """Exhaustive over every pair of single-GPU assignments (every distinct configuration of
    2 GPUs): none has a larger objective summed over the hours than static's."""
    p = yolo2
    ci = [30.0, 80.0, 250.0, 600.0, 900.0, 1200.0]
    per_gpu = gpu_assignments(p)
    vecs = np.array([p.counts(Configuration(p.gpu, (g,))) for g in per_gpu])
    pairs = np.array(list(itertools.combinations_with_replacement(range(len(per_gpu)), 2)))
    every = _summed(p, vecs[pairs].sum(axis=1), ci)
    s = make_scheme("static", p)
    s.set_period(ci)
    decisions = [s.decide(h, c) for h, c in enumerate(ci)]
    assert len({d.configuration.key() for d in decisions}) == 1  # one configuration
    assert all(not d.evaluations for d in decisions)  # no online evaluation
    total = sum(d.objective for d in decisions)
    assert total == pytest.approx(float(np.max(every)), rel=1e-9, abs=1e-9)
    assert total >= float(np.max(every)) - 1e-9
    # and ORACLE, re-optimising every hour, is never below it
    oracle = make_scheme("oracle", p)
    assert sum(oracle.decide(h, c).objective for h, c in enumerate(ci)) >= total - 1e-9


def test_static_is_never_beaten_by_a_fixed_graph_under_paper(shared_data):
    """Paper protocol (FCFS windows, replicated space): every graph's summed objective under
    the same evaluator is at most static's."""
    s = protocol_settings("paper")
    p = build_problem("yolo", "a100-40gb", 2, model_profiles(
        "yolo", "a100-40gb", batch_sizes=(1, s.batch("yolo"))), s)
    ci = [60.0, 200.0, 450.0, 800.0]
    static = make_scheme("static", p)
    static.set_period(ci)
    total = sum(static.decide(h, c).objective for h, c in enumerate(ci))
    oracle = ReplicatedOracle(p, static.evaluator)
    every = sum(oracle.fcfs_objectives(c) for c in ci)
    assert np.isfinite(total) and total == pytest.approx(float(np.max(every)))


def test_static_daily_uses_only_past_hours(yolo2):
    """Two traces that agree on the first day and differ on the second: static (hindsight)
    chooses differently, static-daily makes the same 48 decisions on both (day 0: the best at
    ci_ref; day 1: the best over day 0's hours, which both traces share)."""
    p = yolo2
    runs = {}
    for name, trace in (("clean", CLEAN + CLEAN), ("dirty", CLEAN + DIRTY)):
        st = StaticScheme(p, SimEvaluator(p))
        st.set_period(trace)
        daily = StaticDailyScheme(p, SimEvaluator(p))
        daily.set_period(trace)  # offered, and ignored
        runs[name] = ([st.decide(h, c).configuration.key() for h, c in enumerate(trace)],
                      [daily.decide(h, c).configuration.key() for h, c in enumerate(trace)])
    assert runs["clean"][0][0] != runs["dirty"][0][0]  # the future changes hindsight's choice
    assert runs["clean"][1] == runs["dirty"][1]
    ref = StaticScheme(p, SimEvaluator(p)).best_for([p.ci_ref]).key()
    day1 = StaticScheme(p, SimEvaluator(p)).best_for(CLEAN).key()
    assert set(runs["clean"][1][:24]) == {ref} and set(runs["clean"][1][24:]) == {day1}


def test_static_daily_switches_only_at_day_starts(yolo2):
    trace = CLEAN + DIRTY + CLEAN[:1]
    d = make_scheme("static-daily", yolo2)
    out = [d.decide(h, c) for h, c in enumerate(trace)]
    assert [h for h, x in enumerate(out) if x.searched] == [0, 24, 48]
    assert out[48].configuration.key() == \
        StaticScheme(yolo2, SimEvaluator(yolo2)).best_for(DIRTY).key()
