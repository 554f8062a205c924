"""Real Ray Serve service on CPU: real torch models, routing shares, reconfiguration and crash
recovery without a lost request. One Ray instance for the session (tests/serve/conftest.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from clover.models.configuration import Configuration, GpuAssignment
from clover.serve.loadgen import run_load, summarize

pytestmark = [pytest.mark.live, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

B1, B3, B5 = "efficientnet-b1", "efficientnet-b3", "efficientnet-b5"


def conf(layout, variants) -> Configuration:
    return Configuration("a100-40gb", (GpuAssignment(tuple(layout), tuple(variants)),))


def uniform_arrivals(rate_rps: float, duration_s: float) -> np.ndarray:
    return np.arange(0.0, duration_s, 1.0 / rate_rps)


def load_in_background(url, arrivals):
    out: dict = {}
    th = threading.Thread(target=lambda: out.setdefault("records", run_load(url, arrivals)))
    th.start()
    return th, out


def test_real_models_answer_with_the_simulator_shares(live_service):
    rep = live_service.deploy(conf(("4g.20gb", "3g.20gb"), (B1, B3)),
                              shares={(B1, "4g.20gb"): 3.0, (B3, "3g.20gb"): 1.0})
    assert rep.weights_source == "simulator" and len(rep.started) == 2
    records = run_load(live_service.url, uniform_arrivals(20.0, 3.0))
    s = summarize(records, 3.0)
    assert s.sent == 60 and s.answered == 60 and s.failed == 0
    assert s.by_variant == {B1: 45, B3: 15}  # smooth WRR: exactly 3:1
    assert all(r.service_ms > 0 and r.latency_ms >= r.service_ms for r in records)
    assert s.p95_ms >= s.p50_ms > 0
    stats = live_service.replica_stats()
    assert sum(v["served"] for v in stats.values()) >= 60


def test_reconfiguration_under_load_loses_no_request(live_service):
    live_service.deploy(conf(("4g.20gb", "3g.20gb"), (B1, B3)))
    t_start = time.time()
    th, out = load_in_background(live_service.url, uniform_arrivals(8.0, 8.0))
    time.sleep(1.5)
    rep1 = live_service.deploy(conf(("4g.20gb", "3g.20gb"), (B1, B1)))  # one slice changes
    assert rep1.kept == ["g0-4g.20gb-s0-efficientnet-b1"] and len(rep1.stopped) == 1
    rep2 = live_service.deploy(conf(("7g.40gb",), (B3,)))  # every slice changes: requests wait
    assert not rep2.kept and len(rep2.started) == 1
    th.join()
    records = out["records"]
    s = summarize(records, 8.0)
    assert s.sent == 64 and s.failed == 0, [r for r in records if not r.ok][:3]
    after = run_load(live_service.url, uniform_arrivals(10.0, 1.0))
    assert all(r.ok and r.variant == B3 and r.slice == "7g.40gb" for r in after)
    events = live_service.events(since=t_start)
    assert sum(e["event"] == "routes" for e in events) >= 4  # unroute + route, twice


def test_crashed_replica_is_restarted_and_no_request_is_lost(live_service):
    """A replica dies in the middle of a request: Serve restarts it, the ingress retries."""
    live_service.deploy(conf(("7g.40gb",), (B1,)))
    iid = live_service.instances[0].instance_id
    pid_before = live_service.replica_stats()[iid]["pid"]
    t_start = time.time()
    records = run_load(live_service.url, uniform_arrivals(10.0, 6.0),
                       extra={20: {"fault": "crash"}})  # request 20 kills its replica
    s = summarize(records, 6.0)
    assert s.sent == 60 and s.failed == 0 and s.answered == 60
    crashed = records[20]
    assert crashed.ok and crashed.attempts >= 2 and crashed.instance == iid
    events = live_service.events(since=t_start)
    retries = [e for e in events if e["event"] == "retry"]
    assert any(e["id"] == 20 and e["attempt"] == 1 and e["instance"] == iid for e in retries)
    assert retries[0]["error"]  # the exception that killed the attempt is logged
    assert live_service.replica_stats()[iid]["pid"] != pid_before  # a new replica process


def test_injected_crash_between_requests_is_logged(live_service):
    live_service.deploy(conf(("7g.40gb",), (B1,)))
    iid = live_service.instances[0].instance_id
    t_start = time.time()
    th, out = load_in_background(live_service.url, uniform_arrivals(10.0, 4.0))
    time.sleep(1.0)
    assert live_service.crash(iid)
    th.join()
    s = summarize(out["records"], 4.0)
    assert s.sent == 40 and s.failed == 0
    assert any(e["event"] == "crash-injected" and e["instance"] == iid
               for e in live_service.events(since=t_start))


def test_a_variant_swap_re_aims_the_warm_process_and_a_restart_keeps_the_new_variant(live_service):
    """clover.serve.pool: a deploy that keeps the slice but changes the variant re-aims the
    running replica (same process, one more model load, no new process); killed afterwards,
    Serve restarts it with the instance it served last (its user_config), not the first one."""
    live_service.deploy(conf(("7g.40gb",), (B1,)))
    live_service.release_parked()  # earlier tests' workers (one may hold B5) are gone
    assert not live_service.parked
    before = live_service.replica_stats()[live_service.instances[0].instance_id]
    rep = live_service.deploy(conf(("7g.40gb",), (B5,)))
    iid = live_service.instances[0].instance_id
    assert rep.started == [iid] and rep.reused == [iid] and rep.stopped == [
        "g0-7g.40gb-s0-efficientnet-b1"]
    after = live_service.replica_stats()[iid]
    assert after["pid"] == before["pid"] and after["model_loads"] == before["model_loads"] + 1
    assert after["served"] == 0  # counters are per instance
    assert all(r.ok and r.variant == B5 and r.instance == iid
               for r in run_load(live_service.url, uniform_arrivals(10.0, 0.5)))
    assert live_service.crash(iid)
    records = run_load(live_service.url, uniform_arrivals(5.0, 2.0))
    assert all(r.ok and r.variant == B5 for r in records)  # retried onto the restarted replica
    restarted = live_service.replica_stats()[iid]
    assert restarted["pid"] != before["pid"] and restarted["instance"] == iid
    back = live_service.deploy(conf(("7g.40gb",), (B1,)))  # and back: the same worker again
    assert back.reused == back.started == [live_service.instances[0].instance_id]
