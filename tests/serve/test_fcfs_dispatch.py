"""The live ingress' FCFS dispatch (issue 19) equals the simulator's (clover.sim.fcfs).

A scripted arrival sequence is driven through the dispatcher, and through the real ingress
code (``Ingress.infer`` with replicas replaced by fakes of fixed service times), on a virtual
clock: every arrival and completion is one event, and the asyncio loop is run until it is
quiet after each. The instance each request went to, its start time and its latency must be
those of :func:`clover.sim.fcfs.fcfs_dispatch` (and its reference) for the same inputs.
No Ray, no wall-clock timing: deterministic.
"""

from __future__ import annotations

import asyncio
import heapq

import numpy as np
import pytest

from clover.serve.fcfs_dispatch import FcfsCore, FcfsDispatcher, QueueFull
from clover.sim.fcfs import (arrival_times, common_draws, fcfs_dispatch,
                             fcfs_dispatch_reference)


def scripted(n: int, m: int, seed: int, load: float):
    """(arrivals s, unit service draws, per-instance shift d s, exponential mean beta s)."""
    gaps, x = common_draws(n, seed)
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.02, 0.2, m)
    beta = rng.uniform(0.005, 0.05, m)
    capacity = float(np.sum(1.0 / (d + beta)))
    return arrival_times(gaps, load * capacity), x, d, beta


def core_events(arr, x, d, beta):
    """Discrete-event run of :class:`FcfsCore`: (instance, start, end) per request."""
    names = [f"i{k}" for k in range(len(d))]
    core = FcfsCore(names, max_queue=len(arr) + 1)
    ev = [(float(a), 1, j) for j, a in enumerate(arr)]  # completions (0) before arrivals (1)
    heapq.heapify(ev)
    inst, start, end = [0] * len(arr), [0.0] * len(arr), [0.0] * len(arr)
    while ev:
        t, kind, j = heapq.heappop(ev)
        if kind == 1:
            core.arrive(j)
        else:
            core.release(names[inst[j]])
        for r, name in core.pump():
            i = names.index(name)
            inst[r], start[r] = i, t
            end[r] = t + d[i] + beta[i] * x[r]
            heapq.heappush(ev, (end[r], 0, r))
    return np.array(inst), np.array(start), np.array(end)


@pytest.mark.parametrize("m,load,seed", [(1, 0.7, 1), (3, 0.9, 2), (5, 0.6, 3), (7, 1.1, 4)])
def test_core_equals_the_simulator_kernel(m, load, seed):
    arr, x, d, beta = scripted(400, m, seed, load)
    got = core_events(arr, x, d, beta)
    want = fcfs_dispatch(arr, x, d, beta)
    ref = fcfs_dispatch_reference(arr, x, d, beta)
    assert got[0].tolist() == want[0].tolist() == ref[0].tolist()
    np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[2] - arr, want[2] - arr, rtol=0, atol=1e-12)


def test_idle_longest_first_and_ties_in_instance_order():
    core = FcfsCore(["a", "b", "c"], max_queue=4)
    for t in range(3):
        core.arrive(t)
    assert core.pump() == [(0, "a"), (1, "b"), (2, "c")]
    core.release("b")
    core.release("a")  # b idle longer than a
    core.arrive(3)
    core.arrive(4)
    assert core.pump() == [(3, "b"), (4, "a")]


def test_queue_bound_sheds_and_retries_go_first():
    core = FcfsCore(["a"], max_queue=2)
    core.arrive(0)
    assert core.pump() == [(0, "a")]
    core.arrive(1)
    core.arrive(2)
    with pytest.raises(QueueFull):
        core.arrive(3)
    core.arrive(9, front=True)  # a retry is never shed and goes first
    core.release("a")
    assert core.pump() == [(9, "a")]


def test_reconfiguration_keeps_idle_order_and_drops_removed_instances():
    core = FcfsCore(["a", "b", "c"])
    core.arrive(0)
    assert core.pump() == [(0, "a")]
    core.set_instances(["b", "a", "d"])  # c goes, d comes, a stays busy
    core.release("a")
    for t in (1, 2, 3, 4):
        core.arrive(t)
    # b idle since the start, then d (new), then a (just released); c never again
    assert core.pump() == [(1, "b"), (2, "d"), (3, "a")]
    assert list(core.queue) == [4]
    core.set_instances([])
    core.release("b")
    assert core.pump() == [] and list(core.queue) == [4]


async def settle(rounds: int = 60) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


class VirtualReplicas:
    """Fake replica handles on a virtual clock: the call of request j on instance i completes
    at now + d_i + beta_i·x_j (pushed as an event, resolved by :meth:`run`)."""

    def __init__(self, names, x, d, beta):
        self.names, self.x, self.d, self.beta = list(names), x, d, beta
        self.now = 0.0
        self.events: list = []
        self.calls: dict[int, tuple[int, float]] = {}
        self.busy: set[str] = set()
        self.overlap = False

    def handle(self, name: str):
        outer = self

        class Handle:
            def remote(self, request):
                return outer.call(name, request)

        return Handle()

    def call(self, name: str, request: dict):
        j = int(request["id"])
        i = self.names.index(name)
        self.overlap |= name in self.busy  # each replica serves one request at a time
        self.busy.add(name)
        fut = asyncio.get_running_loop().create_future()
        self.calls[j] = (i, self.now)
        end = self.now + self.d[i] + self.beta[i] * self.x[j]
        heapq.heappush(self.events, (end, 0, j, (fut, name)))
        return fut

    async def run(self, arrivals, submit) -> dict[int, float]:
        """Drive arrivals and completions in time order; returns the end time per request."""
        for j, a in enumerate(arrivals):
            heapq.heappush(self.events, (float(a), 1, j, None))
        ends: dict[int, float] = {}
        tasks = []
        while self.events:
            t, kind, j, payload = heapq.heappop(self.events)
            self.now = t
            if kind == 1:
                tasks.append(asyncio.create_task(submit(j)))
            else:
                fut, name = payload
                self.busy.discard(name)
                ends[j] = t
                fut.set_result({"id": j, "instance": name})
            await settle()
        results = await asyncio.gather(*tasks)
        assert all(r[0] == "answered" for r in results), results[:3]
        return ends


def _ingress(names, replicas, max_pending=10_000):
    from clover.serve.app import Ingress

    ing = Ingress.func_or_class({"max_pending": max_pending})
    ing.handles = {n: replicas.handle(n) for n in names}
    ing.set_routes([{"instance_id": n, "app_name": f"app-{n}", "weight": 0.0} for n in names],
                   dispatch="fcfs")
    return ing


@pytest.mark.parametrize("m,load,seed", [(2, 0.8, 11), (4, 0.95, 12)])
def test_live_ingress_assignments_and_latencies_equal_the_simulator(m, load, seed):
    """Through the real ingress code (Ingress.infer, fcfs): same instance per request, same
    start times, same latencies as clover.sim.fcfs for the same scripted inputs."""
    arr, x, d, beta = scripted(150, m, seed, load)
    names = [f"inst-{k}" for k in range(m)]
    replicas = VirtualReplicas(names, x, d, beta)

    async def main():
        ing = _ingress(names, replicas)
        ends = await replicas.run(arr, lambda j: ing.infer({"id": j}))
        return ing, ends

    ing, ends = asyncio.run(main())
    want_i, want_s, want_e = fcfs_dispatch(arr, x, d, beta)
    got_i = [replicas.calls[j][0] for j in range(len(arr))]
    got_s = np.array([replicas.calls[j][1] for j in range(len(arr))])
    got_lat = np.array([ends[j] for j in range(len(arr))]) - arr
    assert got_i == want_i.tolist()
    np.testing.assert_allclose(got_s, want_s, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_lat, want_e - arr, rtol=0, atol=1e-12)
    assert not replicas.overlap
    assert ing.fcfs.queued == 0 and ing.fcfs.assigned == len(arr)


def test_live_ingress_sheds_past_the_queue_bound_with_503():
    names = ["only"]
    replicas = VirtualReplicas(names, np.ones(10), [1.0], [0.0])

    async def main():
        ing = _ingress(names, replicas, max_pending=3)
        tasks = [asyncio.create_task(ing.infer({"id": j})) for j in range(6)]
        await settle()
        shed = [t.result() for t in tasks if t.done()]
        for _ in range(6):  # complete the admitted ones
            if replicas.events:
                _, _, _, (fut, name) = heapq.heappop(replicas.events)
                replicas.busy.discard(name)
                fut.set_result({"id": 0, "instance": name})
            await settle()
        return shed, [t.result() for t in tasks]

    shed, outcomes = asyncio.run(main())
    # one at the replica, three queued, two shed at once
    assert [o[0] for o in shed] == ["shed", "shed"]
    assert [o[0] for o in outcomes].count("answered") == 4


def test_dispatcher_timeout_leaves_the_queue():
    async def main():
        disp = FcfsDispatcher(["a"], max_queue=5)
        first = await disp.acquire()
        with pytest.raises(asyncio.TimeoutError):
            await disp.acquire(timeout_s=0.01)
        assert disp.queued == 0
        disp.release(first)
        return await disp.acquire(timeout_s=1.0)

    assert asyncio.run(main()) == "a"
