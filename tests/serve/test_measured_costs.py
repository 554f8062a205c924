"""``MeasuredCosts`` (the controller's cost model on the live service) and ``LiveSettings``,
on a fake live evaluator: what each part of an hour is charged, exactly. No Ray."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from clover.errors import CloverError
from clover.models.configuration import Configuration
from clover.hw.energy import Measurement
from clover.serve.evaluator import Deployment, Window
from clover.serve.live import LiveSettings, MeasuredCosts
from clover.serve.loadgen import WindowStats
from clover.serve.service import ReconfigReport
from clover.sim.runlog import LIVE_COLUMNS

GPU = "a100-40gb"
BASE = Configuration.uniform(GPU, 1, "efficientnet-b7")
SMALL = Configuration.uniform(GPU, 1, "efficientnet-b5")


def stats(sent: int, answered: int, duration_s: float) -> WindowStats:
    return WindowStats(sent, answered, sent - answered, 40.0, 90.0, 120.0, 50.0,
                       answered / duration_s, duration_s, {}, {}, {}, 1)


class FakeLive:
    """The LiveEvaluator surface MeasuredCosts uses: records, deploy, measure."""

    def __init__(self):
        self.deployments: list[Deployment] = []
        self.windows: list[Window] = []

    def deploy(self, config, ci):
        rep = ReconfigReport(2.5, kept=["k"], started=["s1", "s2"], layouts_changed=1,
                             mig_ops=[{"op": "create"}])
        self.deployments.append(Deployment(config.key(), rep, Measurement(time_s=2.5, energy_j=30.0, source="modeled")))

    def measure(self, config, ci, window_s):
        self.windows.append(Window(config.key(), ci, 0.0, stats(40, 38, window_s),
                                   Measurement(time_s=window_s, energy_j=95.0, source="rapl"), "simulator", 2.5))
        return SimpleNamespace(accuracy=83.0, sla_met=True, throughput_rps=9.5, power_w=23.75,
                               mean_latency_ms=50.0, feasible=True, reason="")

    def evaluate(self, config, ci):  # the scheme's online evaluation (search live)
        self.deploy(config, ci)
        return self.measure(config, ci, 5.0)


def costs(live):
    return MeasuredCosts(live, 4.0, {"input_scale": 0.5, "input_note": "n", "sla_source": "given",
                                     "search": "live"})


def test_a_candidate_scored_by_the_simulator_costs_nothing():
    c = costs(FakeLive())
    assert c.evaluation(BASE, SMALL, None, 5.0, 200.0, None).periods == ()


def test_an_online_candidate_is_charged_its_deploy_and_window():
    live = FakeLive()
    m = live.evaluate(SMALL, 200.0)
    part = costs(live).evaluation(BASE, SMALL, m, 5.0, 200.0, None)
    deploy, window = part.periods
    assert (part.reconfig_s, part.n_layout_changes, part.n_model_loads) == (2.5, 1, 2)
    assert (deploy.kind, deploy.duration_s, deploy.energy_j, deploy.requests) == ("reconfig", 2.5, 30.0, 0.0)
    assert (window.kind, window.duration_s, window.energy_j, window.requests) == ("evaluation", 5.0, 95.0, 38.0)
    assert window.accuracy == 83.0 and window.sla_met


def test_the_chosen_configuration_is_deployed_then_served_for_hour_seconds():
    live = FakeLive()
    c = costs(live)
    part = c.switch(BASE, SMALL, None, 200.0, None)
    assert len(live.deployments) == 1 and part.reconfig_s == 2.5
    served = c.serve(SMALL, None, 3590.0, 200.0)  # the remainder does not matter: 4 s
    (p,) = served.periods
    assert (p.kind, p.duration_s, p.energy_j, p.requests) == ("serve", 4.0, 95.0, 38.0)
    assert served.measured.accuracy == 83.0
    cols = c.columns()
    assert list(cols) == list(LIVE_COLUMNS)
    assert (cols["requests"], cols["answered"], cols["failed"], cols["retried"]) == (40, 38, 2, 1)
    assert (cols["energy_source"], cols["mig_ops"], cols["replicas_started"],
            cols["replicas_kept"], cols["search"]) == ("rapl", 1, 2, 1, "live")


def test_live_settings_from_the_environment():
    s = LiveSettings.from_env({"CLOVER_LIVE_HOUR_SECONDS": "7.5", "CLOVER_LIVE_BACKEND": "cuda",
                               "CLOVER_LIVE_INPUT_SCALE": "0.25"})
    assert (s.hour_seconds, s.backend, s.input_scale, s.search) == (7.5, "cuda", 0.25, "live")
    assert LiveSettings.from_env({}) == LiveSettings(search="live")
    with pytest.raises(CloverError, match="CLOVER_LIVE_PORT='x'"):
        LiveSettings.from_env({"CLOVER_LIVE_PORT": "x"})
    with pytest.raises(CloverError, match="--search must be sim or live"):
        LiveSettings.from_env({"CLOVER_LIVE_SEARCH": "both"})
