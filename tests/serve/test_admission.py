"""Issue 21 item 4, without Ray running: the ingress's admission rules on its real code (the
Serve deployment's class, driven with fake requests and a fake replica handle).

Deeply nested JSON is a 400; a client that disconnects while uploading or waiting is counted
``cancelled`` whatever exception Ray raises; under overload new requests are shed (503, at
once, counted ``shed``) as soon as the admitted work exceeds ``max_wait_s`` of the replicas'
measured capacity."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("ray.serve")

from ray import exceptions as rx  # noqa: E402
from ray.serve import exceptions as sx  # noqa: E402
from starlette.requests import ClientDisconnect  # noqa: E402

from clover.serve.admission import ServiceEstimate, is_cancellation, json_depth_exceeds  # noqa: E402
from clover.serve.app import Ingress, _SmoothWRR  # noqa: E402


class FakeRequest:
    """What the ingress reads of a Starlette request: headers and the body stream."""

    def __init__(self, body: bytes = b"{}", error: BaseException | None = None) -> None:
        self.headers = {"content-length": str(len(body))}
        self.body, self.error = body, error

    async def stream(self):
        if self.error is not None:
            raise self.error
        yield self.body


class FakeHandle:
    """One replica serving one request at a time in ``service_s``, or raising ``error``."""

    def __init__(self, service_s: float = 0.0, error: BaseException | None = None) -> None:
        self.service_s, self.error = service_s, error
        self.lock = asyncio.Lock()

    async def _call(self, request):
        if self.error is not None:
            raise self.error
        async with self.lock:
            await asyncio.sleep(self.service_s)
        return {"id": request.get("id"), "instance": "a"}

    def remote(self, request):
        return self._call(request)


def ingress(handle=None, **limits) -> object:
    ing = Ingress.func_or_class(limits)
    if handle is not None:
        ing.handles = {"a": handle}
        ing.wrr = _SmoothWRR({"a": 1.0})
        ing.routable.set()
    return ing


def run(ing, *requests):
    async def go():
        return await asyncio.gather(*(ing._infer_http(r) for r in requests))
    return asyncio.run(go())


def test_deeply_nested_json_is_a_400_not_a_500():
    ing = ingress(FakeHandle())
    deep = b"[" * 100_000 + b"]" * 100_000  # RecursionError in json.loads
    nested = json.dumps({"id": 1, "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}).encode()
    replies = run(ing, FakeRequest(deep), FakeRequest(nested), FakeRequest(b'{"id": 2}'))
    assert [r.status_code for r in replies] == [400, 400, 200]
    assert b"nested deeper than 32 levels" in replies[0].body
    st = ing.stats()
    assert (st["rejected"], st["failed"], st["answered"], st["identity_holds"]) == (2, 0, 1, True)


@pytest.mark.parametrize("where, error", [
    ("upload", ClientDisconnect()),
    ("waiting", sx.RequestCancelledError("req-1")),
    ("waiting", rx.TaskCancelledError()),
])
def test_a_client_that_disconnects_is_cancelled_not_failed(where, error):
    if where == "upload":
        ing, req = ingress(FakeHandle()), FakeRequest(error=error)
    else:
        ing, req = ingress(FakeHandle(error=error)), FakeRequest(b'{"id": 3}')
    (reply,) = run(ing, req)
    st = ing.stats()
    assert (st["cancelled"], st["failed"], st["in_flight"]) == (1, 0, 0), st
    assert reply.status_code == 499 and st["reasons"] == {"cancelled: client disconnected": 1}


def test_is_cancellation_and_json_depth():
    assert is_cancellation(asyncio.CancelledError()) and is_cancellation(ClientDisconnect())
    assert not is_cancellation(ValueError("x")) and not is_cancellation(rx.RayActorError())
    assert json_depth_exceeds([[[1]]], 2) and not json_depth_exceeds([[[1]]], 3)
    assert not json_depth_exceeds({"a": [1, {"b": 2}]}, 3) and json_depth_exceeds({"a": {"b": {}}}, 2)


def test_service_estimate_sheds_beyond_max_wait():
    est = ServiceEstimate()
    assert est.overload_reason(10_000, ["a"], 1.0) is None  # nothing measured yet
    est.observe("a", 5.0, 5.01)  # idle instance: dispatch to answer
    assert est.capacity_rps(["a"]) == pytest.approx(100.0)
    est.observe("a", 5.0, 5.02)  # queued behind the previous one: from its completion on
    assert est.call_s["a"] == pytest.approx(0.01)
    assert est.overload_reason(99, ["a"], 1.0) is None
    assert est.overload_reason(100, ["a"], 1.0) == \
        "wait bound: 100 requests pending would wait 1.01 s > 1 s at 100 requests/s"
    assert est.overload_reason(100, ["a", "b"], 1.0) is not None  # b unmeasured counts 0
    est.forget({"b"})
    assert est.overload_reason(10_000, ["a", "b"], 1.0) is None  # nothing measured


def test_a_burst_beyond_what_the_replica_serves_within_max_wait_is_shed_at_once():
    """500 concurrent requests against one replica of 10 ms: 100 fit in the 1 s bound and are
    answered; the other 400 are shed (503, Retry-After) before any is served, and counted."""
    ing = ingress(FakeHandle(service_s=0.01))
    run(ing, FakeRequest(b'{"id": 0}'))  # the ingress measures the replica once
    ing.estimate.call_s["a"] = 0.01  # exactly (the measured one depends on this machine)
    replies = run(ing, *(FakeRequest(b'{"id": %d}' % k) for k in range(1, 501)))
    codes = [r.status_code for r in replies]
    assert codes.count(200) == 100 and codes.count(503) == 400
    assert all(r.headers["retry-after"] == "1" for r in replies if r.status_code == 503)
    st = ing.stats()
    assert (st["received"], st["answered"], st["shed"], st["identity_holds"]) == (501, 101, 400, True)
    assert st["reasons"] == {"shed: wait bound": 400}
    assert ing.counters.unanswered[-1]["reason"] == (
        "wait bound: 100 requests pending would wait 1.01 s > 1 s at 100 requests/s")
