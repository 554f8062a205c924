"""Controller accounting on a fake scheme and evaluator: exact seconds, joules and grams."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from clover.control import (ControlSettings, Controller, ModeledCosts, ReconfigCosts, Reference,
                            transition)
from clover.control.controller import CONTRACT_COLUMNS, LOG_COLUMNS
from clover.sim.runlog import Part, Period
from clover.errors import CloverError
from clover.models.configuration import Configuration, GpuAssignment

GPU = "a100-40gb"
IDLE_W = 36.1  # GpuSpec("a100-40gb").idle_power_w
COSTS = ReconfigCosts(mig_repartition_s=10.0, model_load_base_s=2.0, model_load_mb_per_s=40.0)
LOAD = {"efficientnet-b7": 2 + 264 / 40, "efficientnet-b5": 2 + 120 / 40, "efficientnet-b3": 2 + 48 / 40}

B7 = GpuAssignment(("7g.40gb",), ("efficientnet-b7",))
B5 = GpuAssignment(("7g.40gb",), ("efficientnet-b5",))
SPLIT = GpuAssignment(("4g.20gb", "3g.20gb"), ("efficientnet-b5", "efficientnet-b3"))
BASE = Configuration(GPU, (B7, B7))
C1 = Configuration(GPU, (B7, B5))
C = Configuration(GPU, (B7, SPLIT))
ONE = Configuration(GPU, (B7,))


@dataclass
class M:
    accuracy: float
    energy_j_per_request: float
    p95_ms: float
    sla_met: bool
    sla_ms: float = 100.0


METRICS = {
    BASE.key(): M(84.582, 4.0, 80.0, True),
    C1.key(): M(84.0, 2.0, 90.0, True),
    C.key(): M(83.0, 1.0, 95.0, True),
    ONE.key(): M(84.582, 3.0, 400.0, False),  # one GPU left: overloaded
    Configuration(GPU, (SPLIT,)).key(): M(82.0, 1.5, 500.0, False),
}


class FakeEvaluator:
    def __init__(self):
        self.calls = []

    def evaluate(self, config, ci):
        self.calls.append((config.key(), ci))
        return METRICS[config.key()]


@dataclass
class FakeDecision:
    configuration: Configuration
    evaluation: M
    objective: float
    delta_carbon_pct: float
    delta_accuracy_pct: float
    carbon_g_per_request: float
    evaluations: list = field(default_factory=list)
    decision_s: float = 0.25


REF = Reference(base_accuracy=84.582, base_carbon_g_per_request=4.0 * 250 * 1.5 / 3.6e6)


class FakeScheme:
    """Hour 0: evaluates C1 then C, keeps C. Hour 1: keeps C. Hour 2: back to BASE."""

    plan = {0: (C, [C1, C]), 1: (C, []), 2: (BASE, [])}

    def decide(self, hour, ci):
        config, evals = self.plan[hour]
        m = METRICS[config.key()]
        carbon = m.energy_j_per_request * ci * 1.5 / 3.6e6
        dacc = REF.delta_accuracy_pct(m.accuracy)
        dcarb = REF.delta_carbon_pct(carbon)
        return FakeDecision(config, m, 0.5 * dcarb + 0.5 * dacc, dcarb, dacc, carbon, list(evals))


def problem(rate_rps=10.0):
    """What the controller reads of a problem: load, A_base, C_base, PUE, SLA, BASE."""
    return SimpleNamespace(rate_rps=rate_rps, base_accuracy=REF.base_accuracy,
                           base_carbon_g=REF.base_carbon_g_per_request, pue=1.5, sla_ms=100.0,
                           base_configuration=lambda: BASE)


def make(initial="base", window=60.0):
    return Controller(problem(), FakeScheme(), FakeEvaluator(), ModeledCosts(COSTS, 10.0),
                      settings=ControlSettings(eval_window_s=window, initial=initial),
                      meta={"scheme": "fake", "app": "efficientnet", "lam": 0.5, "source": "modeled"})


def test_load_time_formula():
    assert COSTS.load_s("efficientnet-b7") == pytest.approx(8.6)
    assert COSTS.load_s("efficientnet-b3") == pytest.approx(3.2)
    # defaults: 3 s + 264 MB / 500 MB/s
    assert ReconfigCosts().load_s("efficientnet-b7") == pytest.approx(3.0 + 264 / 500)


def test_transition_costs():
    assert transition(BASE, BASE, COSTS).reconfig_s == 0
    t = transition(BASE, C1, COSTS)  # one slice reloads, no MIG change
    assert (t.reconfig_s, t.n_layout_changes, t.n_model_loads) == (pytest.approx(5.0), 0, 1)
    t = transition(C1, C, COSTS)  # the b5 GPU is re-partitioned, b7 GPU untouched
    assert t.reconfig_s == pytest.approx(10 + 5.0 + 3.2)
    assert (t.n_layout_changes, t.n_model_loads) == (1, 2)
    # order of GPUs does not matter
    assert transition(Configuration(GPU, (B5, B7)), C, COSTS).reconfig_s == pytest.approx(18.2)
    # from nothing: every GPU partitioned and loaded
    t = transition(None, BASE, COSTS)
    assert t.reconfig_s == pytest.approx(2 * (10 + 8.6)) and t.n_layout_changes == 2
    # swapping variants between two slices of the same profile costs two loads
    a = Configuration(GPU, (GpuAssignment(("3g.20gb", "3g.20gb"), ("efficientnet-b3", "efficientnet-b5")),))
    b = Configuration(GPU, (GpuAssignment(("3g.20gb", "3g.20gb"), ("efficientnet-b5", "efficientnet-b5")),))
    assert transition(a, b, COSTS).reconfig_s == pytest.approx(5.0)
    assert transition(a, a.canonical(), COSTS).reconfig_s == 0


def test_hour_with_evaluations_exact():
    ctl = make()
    row = ctl.step(0, 200.0, "2021-03-26T21:00:00Z")
    d1, d2 = 5.0, 10 + 5.0 + 3.2
    rate = 10.0
    rest = 3600 - d1 - 60 - d2 - 60
    # reconfig periods run on the one GPU left (3 J/request) + the changing GPU idle
    e_reconf = (3.0 * rate + IDLE_W) * (d1 + d2)
    e_eval = 2.0 * rate * 60 + 1.0 * rate * 60
    e_serve = 1.0 * rate * rest
    g_per_j = 200 * 1.5 / 3.6e6
    assert row["reconfig_s"] == pytest.approx(d1 + d2)
    assert row["evaluations"] == 2
    assert row["evaluation_energy_j"] == pytest.approx(e_eval)
    assert row["evaluation_carbon_g"] == pytest.approx(e_eval * g_per_j)
    assert row["reconfig_energy_j"] == pytest.approx(e_reconf)
    assert row["hour_energy_j"] == pytest.approx(e_reconf + e_eval + e_serve)
    assert row["hour_requests"] == pytest.approx(36000)
    assert row["hour_energy_j_per_request"] == pytest.approx((e_reconf + e_eval + e_serve) / 36000)
    assert row["hour_carbon_g"] == pytest.approx((e_reconf + e_eval + e_serve) * g_per_j)
    acc = (84.582 * rate * (d1 + d2) + 84.0 * 600 + 83.0 * 600 + 83.0 * rate * rest) / 36000
    assert row["hour_accuracy"] == pytest.approx(acc)
    assert row["sla_violation_s"] == pytest.approx(d1 + d2)
    assert row["sla_ok_pct"] == pytest.approx(100 * (1 - (d1 + d2) / 3600))
    assert (row["n_layout_changes"], row["n_model_loads"]) == (1, 3)
    # steady-state columns are the chosen configuration's
    assert row["energy_j_per_request"] == 1.0 and row["accuracy"] == 83.0 and row["sla_met"]
    assert json.loads(row["configuration"]) == {
        "efficientnet-b3@3g.20gb": 1, "efficientnet-b5@4g.20gb": 1, "efficientnet-b7@7g.40gb": 1}
    # realised objective uses the paper's formula on the realised numbers
    carb = row["hour_carbon_g_per_request"]
    f = 0.5 * (REF.base_carbon_g_per_request - carb) / REF.base_carbon_g_per_request * 100 \
        + 0.5 * (acc - 84.582) / 84.582 * 100
    assert row["hour_objective"] == pytest.approx(f)


def test_steady_hour_and_switch_back():
    ctl = make()
    df = ctl.run([200.0, 100.0, 300.0])
    assert list(df.columns) == list(LOG_COLUMNS)
    assert tuple(df.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    h1 = df.iloc[1]
    assert h1.reconfig_s == 0 and h1.evaluations == 0
    assert h1.hour_energy_j == pytest.approx(1.0 * 36000)
    assert h1.hour_carbon_g_per_request == pytest.approx(h1.carbon_g_per_request)
    h2 = df.iloc[2]  # C -> BASE: the split GPU is re-partitioned and loads b7
    assert h2.reconfig_s == pytest.approx(10 + 8.6)
    d = 18.6
    assert h2.hour_energy_j == pytest.approx((3.0 * 10 + IDLE_W) * d + 4.0 * 10 * (3600 - d))


def test_no_window_and_initial_none():
    ctl = make(initial="none", window=0.0)
    row = ctl.step(1, 150.0)  # hour 1 plan: C with no evaluations, from nothing deployed
    # both GPUs brought up one after the other: 7g b7 and 4g+3g
    assert row["reconfig_s"] == pytest.approx((10 + 8.6) + (10 + 5.0 + 3.2))
    assert row["evaluation_energy_j"] == 0


def test_evaluator_results_are_cached():
    ctl = make()
    ctl.run([200.0, 100.0, 300.0])
    calls = ctl._evaluate.__self__.calls
    assert len(calls) == len(set(calls))


def test_bad_inputs():
    with pytest.raises(CloverError, match="rate"):
        Controller(problem(rate_rps=0), FakeScheme(), FakeEvaluator())
    with pytest.raises(CloverError, match="eval_window_s"):
        ControlSettings(eval_window_s=-1)
    with pytest.raises(CloverError, match="model_load_mb_per_s"):
        ReconfigCosts(model_load_mb_per_s=0)
    with pytest.raises(CloverError, match="timestamps"):
        make().run([1.0, 2.0], ["a"])


def test_source_from_evaluation_when_not_stated():
    """Live backend: no profile source is given, each evaluation states how it was measured."""

    class DictEvaluator:
        def evaluate(self, config, ci):
            m = METRICS[config.key()]
            return {"accuracy": m.accuracy, "energy_j_per_request": m.energy_j_per_request,
                    "p95_ms": m.p95_ms, "sla_met": m.sla_met, "sla_ms": 100.0,
                    "source": "measured-cpu"}

    class LiveScheme(FakeScheme):
        def decide(self, hour, ci):
            d = super().decide(hour, ci)
            d.evaluation = DictEvaluator().evaluate(d.configuration, ci)
            return d

    ctl = Controller(problem(), LiveScheme(), DictEvaluator(), ModeledCosts(COSTS, 10.0),
                     settings=ControlSettings(eval_window_s=60.0),
                     meta={"scheme": "fake", "app": "efficientnet", "lam": 0.5})
    df = ctl.run([200.0, 100.0])
    assert (df["source"] == "measured-cpu").all()
    assert df.loc[0, "reconfig_s"] == pytest.approx(5.0 + 18.2)


class MeasuringCosts:
    """A cost model that measures: fixed deploy and serving numbers, one extra column."""

    extra_columns = ("watts",)

    def __init__(self):
        self.calls = []

    def evaluation(self, old, config, metrics, window_s, ci, evaluate):
        self.calls.append(("evaluation", config.key()))
        return Part()  # scored offline: nothing ran

    def switch(self, old, new, metrics, ci, evaluate):
        self.calls.append(("switch", new.key()))
        return Part((Period("reconfig", 7.0, 70.0, 0.0, 0.0, True, new.key()),), 7.0, 1, 2)

    def serve(self, config, metrics, remainder_s, ci):
        self.calls.append(("serve", remainder_s))
        measured = M(82.5, 2.5, 60.0, True, sla_ms=90.0)
        return Part((Period("serve", 20.0, 2.5 * 40, 40.0, 82.5, True, config.key()),),
                    measured=measured)

    def columns(self):
        return {"watts": 12.5}


def test_a_measuring_cost_model_sets_the_steady_columns_and_adds_its_own():
    costs = MeasuringCosts()
    ctl = Controller(problem(), FakeScheme(), FakeEvaluator(), costs,
                     settings=ControlSettings(eval_window_s=5.0, hour_s=20.0),
                     meta={"scheme": "fake", "app": "efficientnet", "lam": 0.5})
    df = ctl.run([200.0])
    assert list(df.columns) == list(LOG_COLUMNS) + ["watts"] and df.loc[0, "watts"] == 12.5
    r = df.iloc[0]
    assert costs.calls == [("evaluation", C1.key()), ("evaluation", C.key()),
                           ("switch", C.key()), ("serve", 13.0)]
    # steady state as measured while serving, scored against A_base and C_base
    carbon = 2.5 * 200 * 1.5 / 3.6e6
    assert (r.accuracy, r.energy_j_per_request, r.p95_ms, r.sla_ms) == (82.5, 2.5, 60.0, 90.0)
    assert r.carbon_g_per_request == pytest.approx(carbon, rel=1e-15)
    assert r.delta_carbon_pct == pytest.approx(REF.delta_carbon_pct(carbon))
    assert r.objective == pytest.approx(REF.objective(82.5, carbon, 0.5))
    assert r.evaluations == 2 and r.evaluation_energy_j == 0
    assert (r.reconfig_s, r.n_layout_changes, r.n_model_loads) == (7.0, 1, 2)
    # realised totals: the deploy's energy and time count, it served no request
    assert (r.hour_s, r.hour_requests, r.hour_energy_j) == (27.0, 40.0, 170.0)
    assert r.hour_accuracy == 82.5 and r.sla_ok_pct == 100.0
    assert r.hour_carbon_g == pytest.approx(170.0 * 200 * 1.5 / 3.6e6, rel=1e-15)
    assert r.overrun_s == 0.0
