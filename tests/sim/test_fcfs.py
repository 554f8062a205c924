"""FCFS longest-idle dispatch (the artifact's generator) and the FCFS window evaluator."""

import numpy as np
import pytest

from clover.mig.geometry import get_gpu
from clover.models.configuration import Configuration, GpuAssignment
from clover.profiles import model_profiles
from clover.sim.fcfs import (
    FcfsEvaluator,
    _WINDOWS,
    common_draws,
    arrival_times,
    fcfs_dispatch,
    fcfs_dispatch_reference,
    simulate_window,
)
from clover.sim.protocol import build_problem, protocol_settings

# 5 requests, 2 instances, computed by hand. Instance 0: 3 s fixed; instance 1: 1.5 s + 0.5 s·x.
ARR = [0.0, 1.0, 2.0, 2.5, 6.0]
X = [0.3, 1.0, 0.7, 1.0, 2.0]
D, B = [3.0, 1.5], [0.0, 0.5]
# r0 t=0: both idle -> instance 0 (lowest index), ends 3.   r1 t=1: instance 1, ends 1+2 = 3.
# r2 t=2: none idle, both free at 3 -> instance 0 (freed first), 3..6.
# r3 t=2.5: waits for instance 1 (free at 3): 3..5.
# r4 t=6: instance 1 idle since 5, instance 0 since 6 -> the longest idle, instance 1: 6..8.5.
WANT_INST = [0, 1, 0, 1, 1]
WANT_START = [0.0, 1.0, 3.0, 3.0, 6.0]
WANT_END = [3.0, 3.0, 6.0, 5.0, 8.5]


@pytest.mark.parametrize("kernel", [fcfs_dispatch, fcfs_dispatch_reference])
def test_hand_computed_trace(kernel):
    inst, start, end = kernel(ARR, X, D, B)
    assert inst.tolist() == WANT_INST
    assert start.tolist() == pytest.approx(WANT_START)
    assert end.tolist() == pytest.approx(WANT_END)


def test_kernel_matches_reference_on_a_long_random_trace():
    gaps, x = common_draws(3000, 7)
    arr = arrival_times(gaps, 40.0)
    d = np.array([0.05, 0.02, 0.08, 0.03, 0.04])
    b = np.array([0.01, 0.0, 0.03, 0.02, 0.01])
    got = fcfs_dispatch(arr, x, d, b)
    ref = fcfs_dispatch_reference(arr, x, d, b)
    assert np.array_equal(got[0], ref[0])
    assert np.allclose(got[1], ref[1]) and np.allclose(got[2], ref[2])


def test_arrivals_start_at_zero_with_exponential_gaps():
    gaps, x = common_draws(20000, 0)
    a = arrival_times(gaps, 5.0)
    assert a[0] == 0.0 and np.all(np.diff(a) > 0)
    assert np.diff(a).mean() == pytest.approx(0.2, rel=0.03)
    assert x.mean() == pytest.approx(1.0, rel=0.03)


@pytest.fixture(scope="module")
def paper_yolo():
    s = protocol_settings("paper")
    return build_problem("yolo", "a100-40gb", 2,
                         model_profiles("yolo", "a100-40gb", batch_sizes=(1, 8)), s)


def _two_slot(p, v1, v2, n=2):
    g = GpuAssignment(("3g.20gb", "4g.20gb"), (v1, v2))
    return Configuration(p.gpu, (g,) * n)


def test_window_energy_accuracy_and_latency(paper_yolo):
    p = paper_yolo
    cfg = _two_slot(p, "yolov5l", "yolov5x")
    w = simulate_window(p, cfg, 1000)
    t = p.types
    types = np.sort([t.index(v, s) for _, _, v, s in cfg.instances()])
    gaps, x = common_draws(1000, p.seed)
    arr = arrival_times(gaps, p.rate_rps)
    inst, _, end = fcfs_dispatch(arr, x, t.d_ms[types] / 1e3, t.beta_ms[types] / 1e3)
    served = types[inst]
    busy = ((t.d_ms[served] + t.beta_ms[served] * x) / 1e3
            * (t.busy_w[served] - t.idle_w[served])).sum()
    idle = get_gpu(p.gpu).idle_power_w * 2 * end.max()
    assert w.energy_j == pytest.approx(idle + busy)
    assert w.energy_j_per_request == pytest.approx((idle + busy) / 1000)
    assert w.accuracy == pytest.approx(t.accuracy[served].mean())
    assert w.p95_ms == pytest.approx(np.percentile((end - arr) * 1e3, 95))


def test_window_depends_on_the_graph_only_and_not_on_order(paper_yolo):
    p = paper_yolo
    a, b = _two_slot(p, "yolov5l", "yolov5x"), _two_slot(p, "yolov5x", "yolov5l")
    permuted = Configuration(p.gpu, (GpuAssignment(("4g.20gb", "3g.20gb"),
                                                   ("yolov5x", "yolov5l")),) * 2)
    _WINDOWS.clear()
    ev = FcfsEvaluator(p)
    first = (ev.evaluate(a, 250).p95_ms, ev.evaluate(b, 250).p95_ms)
    _WINDOWS.clear()
    second = (FcfsEvaluator(p).evaluate(b, 250).p95_ms, FcfsEvaluator(p).evaluate(a, 250).p95_ms)
    assert first == second[::-1]
    assert simulate_window(p, a, 1000).p95_ms == simulate_window(p, a, 1000).p95_ms
    assert FcfsEvaluator(p).evaluate(permuted, 250).p95_ms == first[0]


def test_base_window_has_2000_requests_and_candidates_1000(paper_yolo):
    p = paper_yolo
    ev = FcfsEvaluator(p)
    assert ev.window(p.base_reference_configuration()).n_requests == 2000
    assert ev.window(p.base_configuration()).n_requests == 1000


def test_rescore_keeps_accuracy_and_p95_and_scales_carbon(paper_yolo):
    from clover.optimize.objective import score

    p = paper_yolo
    ev = FcfsEvaluator(p)
    e1 = ev.evaluate(_two_slot(p, "yolov5l", "yolov5x"), 200.0)
    e2 = ev.rescore(e1, 400.0)
    assert (e2.accuracy, e2.p95_ms, e2.energy_j_per_request) == (
        e1.accuracy, e1.p95_ms, e1.energy_j_per_request)
    assert score(p, e2, 400).carbon_g_per_request == pytest.approx(
        2 * score(p, e1, 200).carbon_g_per_request)
