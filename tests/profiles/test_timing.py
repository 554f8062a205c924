"""The one timing loop (clover.profiles.timing) on a fake clock, and its two users' numbers."""

from __future__ import annotations

import math

import pytest

from clover.errors import CloverError
from clover.profiles.timing import latency_stats, time_passes

#: seconds each call takes on the fake clock: 2 warm-up calls, then 5 timed ones
DURATIONS_S = [5.0, 5.0, 0.010, 0.020, 0.100, 0.040, 0.030]


class FakeModel:
    """Advances a fake clock by the scripted duration of each call; counts syncs."""

    def __init__(self) -> None:
        self.t, self.calls, self.syncs = 0.0, 0, 0

    def clock(self) -> float:
        return self.t

    def run(self) -> None:
        self.t += DURATIONS_S[self.calls]
        self.calls += 1

    def sync(self) -> None:
        self.syncs += 1


def test_time_passes_times_only_after_warmup_between_syncs():
    m = FakeModel()
    lat = time_passes(m.run, 5, warmup=2, sync=m.sync, clock=m.clock)
    assert lat == pytest.approx([10.0, 20.0, 100.0, 40.0, 30.0])  # ms, warm-up not timed
    assert m.calls == 7 and m.syncs == 1 + 2 * 5


def test_latency_stats_hand_computed():
    st = latency_stats([10.0, 20.0, 100.0, 40.0, 30.0])
    # sorted 10, 20, 30, 40, 100: mean 200/5; p50 = the middle one; p95 at rank 0.95 * 4 = 3.8,
    # 80 % of the way from 40 to 100 (linear interpolation)
    assert st.mean_ms == 40.0 and st.p50_ms == 30.0 and st.p95_ms == pytest.approx(88.0)
    assert st.iterations == 5
    two = latency_stats([1.0, 3.0])
    assert (two.mean_ms, two.p50_ms, two.p95_ms) == (2.0, 2.0, pytest.approx(2.9))
    with pytest.raises(CloverError, match="no timed passes"):
        latency_stats([])


def test_profile_row_uses_the_same_statistics():
    from clover.profiles.measure import _timed_row

    row = _timed_row({}, [10.0, 20.0, 100.0, 40.0, 30.0], batch=2, busy_w=50.0, idle_w=5.0,
                     mem=100.0)
    assert (row["service_ms_mean"], row["service_ms_p50"]) == (40.0, 30.0)
    assert row["service_ms_p95"] == pytest.approx(88.0) and row["iterations"] == 5
    assert row["max_throughput_rps"] == 2 / 0.040 and row["energy_j_per_request"] == 50.0 / 50.0


def test_calibration_uses_the_worker_and_the_same_statistics():
    from clover.serve.calibrate import time_variant

    class Worker:
        def __init__(self, latencies, ok=True):
            self.latencies, self.ok, self.loaded = latencies, ok, {}

        def load(self, **kw):
            self.loaded = kw
            return {"ok": self.ok, "error": "RuntimeError: boom"}

        def go(self, iters):
            return {"ok": True, "latencies_ms": self.latencies[:iters]}

    w = Worker([10.0, 20.0, 100.0, 40.0, 30.0])
    st = time_variant(w, "efficientnet-b1", 0, 36, 5)
    assert (st.mean_ms, st.p50_ms, st.iterations) == (40.0, 30.0, 5)
    assert math.isclose(st.p95_ms, 88.0)
    assert w.loaded == {"variant": "efficientnet-b1", "batch_size": 1, "input_size": 36,
                        "warmup": 2, "device": "cpu", "threads": 1, "seed": 0}
    with pytest.raises(CloverError, match="calibrating efficientnet-b1 on 2 thread"):
        time_variant(Worker([], ok=False), "efficientnet-b1", 2, 36, 5)
