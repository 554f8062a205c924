"""The live service's safety and accounting on the real (CPU) Ray Serve service: loopback-only
listeners, exact paths, body cap, id check, load shedding, replica timeout, retries only for
replica loss and to another instance, rollback of failed deploys, and a bounded load drill
on 127.0.0.1 whose every request is accounted for (tests/serve/conftest.py: one Ray)."""

from __future__ import annotations

import contextlib
import os
import threading
import time

import numpy as np
import pytest

from clover.errors import CloverError
from clover.models.configuration import Configuration, GpuAssignment
from clover.serve.loadgen import run_load
from clover.serve.safety import IngressLimits, listening_sockets, non_loopback_listeners

pytestmark = [pytest.mark.live, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

B1, B3 = "efficientnet-b1", "efficientnet-b3"
ONE = ("7g.40gb",), (B1,)
TWO = ("4g.20gb", "3g.20gb"), (B1, B1)


def conf(layout, variants) -> Configuration:
    return Configuration("a100-40gb", (GpuAssignment(tuple(layout), tuple(variants)),))


def deployed(svc, layout_variants) -> None:
    layout, variants = layout_variants
    if svc.configuration != conf(layout, variants):
        svc.deploy(conf(layout, variants))


@contextlib.contextmanager
def limits(svc, **kw):
    svc.set_limits(IngressLimits(**kw))
    try:
        yield
    finally:
        svc.set_limits(svc.limits)  # the service's own (the fixture's)


def idle_stats(svc, timeout_s: float = 30.0) -> dict:
    """The ingress' counters once nothing is in flight (bounded wait)."""
    return svc.idle_stats(timeout_s)


def delta(after: dict, before: dict) -> dict:
    keys = ("received", "answered", "rejected", "failed", "cancelled", "shed", "in_flight")
    return {k: after[k] - before[k] for k in keys}


@pytest.fixture(scope="module")
def http():
    httpx = pytest.importorskip("httpx")
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        yield client


def test_ray_and_serve_listen_on_loopback_only(live_service):
    socks = listening_sockets(os.getpid())
    names = {s["name"] for s in socks}
    assert any("raylet" in n for n in names) and any("gcs_server" in n for n in names)
    assert any(s["port"] == live_service.cluster.http_port for s in socks)  # the ingress
    assert non_loopback_listeners(os.getpid()) == []


def test_the_ingress_replica_itself_serves_http_and_serve_runs_no_proxy(live_service, http):
    """Issue 21 item 4: no Serve proxy hop (about 5 ms of CPU per request, which kept a burst's
    503s past a second): the one socket on the HTTP port is the ingress replica's own."""
    import psutil
    from ray import serve

    assert http.get(f"{live_service.url}/healthz").status_code == 200
    port = live_service.cluster.http_port
    owners = {s["pid"] for s in listening_sockets(os.getpid()) if s["port"] == port}
    assert len(owners) == 1
    title = " ".join(psutil.Process(owners.pop()).cmdline())
    assert title.startswith("ray::ServeReplica:clover:Ingress"), title
    assert serve.status().proxies == {}


def _raw_post(url: str, body: bytes, content_length: int) -> "socket.socket":
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=10)
    sock.sendall(b"POST /infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {content_length}\r\n\r\n".encode() + body)
    return sock


@pytest.mark.parametrize("where", ["uploading", "waiting"])
def test_a_client_that_leaves_is_counted_cancelled_over_real_http(live_service, where):
    """Issue 21 item 4, through the ingress's own listener: a client that hangs up halfway
    through its body, or while its request is at the replica, is ``cancelled``, not failed."""
    deployed(live_service, ONE)
    before = idle_stats(live_service)
    body = b'{"id": "gone-1", "fault": "sleep:2"}'
    if where == "uploading":
        sock = _raw_post(live_service.url, body[:10], content_length=len(body))
    else:
        sock = _raw_post(live_service.url, body, content_length=len(body))
    time.sleep(0.5)
    sock.close()
    d = delta(idle_stats(live_service), before)
    assert d == {**d, "received": 1, "cancelled": 1, "failed": 0, "answered": 0}, d
    # the replica sleeps on: the next call's occupancy includes the rest of it, which would
    # inflate the ingress' service estimate (EWMA) for later tests; let it settle again
    time.sleep(2.0)
    run_load(live_service.url, np.zeros(15) + np.arange(15) * 0.05, timeout_s=30.0)


def test_paths_match_exactly(live_service, http):
    deployed(live_service, ONE)
    url = live_service.url
    assert http.get(f"{url}/healthz").status_code == 200
    assert http.get(f"{url}/stats").json()["identity_holds"] is True
    for bad in ("/inferx", "/x/infer", "/healthz/x", "/routes2", "/", "/stats/"):
        assert http.get(url + bad).status_code == 404, bad
        assert http.post(url + bad, json={}).status_code == 404, bad
    assert http.get(f"{url}/infer").status_code == 405
    assert http.post(f"{url}/infer", json={"id": 1}).status_code == 200


def test_body_cap_bad_json_and_ids_are_rejected_and_counted(live_service, http):
    deployed(live_service, ONE)
    url = live_service.url
    before = idle_stats(live_service)
    with limits(live_service, max_body_bytes=4096):
        r = http.post(f"{url}/infer", json={"id": 1, "pad": "x" * 5000})
        assert r.status_code == 413 and "exceeds 4096 bytes" in r.json()["error"]

        def chunks():  # no Content-Length: the cap holds while streaming
            for _ in range(10):
                yield b" " * 1000
        r = http.post(f"{url}/infer", content=chunks())
        assert r.status_code == 413
        assert http.post(f"{url}/infer", content=b"{not json").status_code == 400
        assert http.post(f"{url}/infer", json=[1, 2]).status_code == 400
        r = http.post(f"{url}/infer", json={"id": "x" * 65})
        assert r.status_code == 400 and "x" * 65 not in r.text  # never echoed
        assert http.post(f"{url}/infer", json={"id": "<b>"}).status_code == 400
        ok = http.post(f"{url}/infer", json={"id": "req-7", "pad": "x" * 1000})
        assert ok.status_code == 200 and ok.json()["id"] == "req-7"
    d = delta(idle_stats(live_service), before)
    assert d == {"received": 7, "answered": 1, "rejected": 6, "failed": 0, "cancelled": 0,
                 "shed": 0, "in_flight": 0}


def test_model_rejection_is_not_retried_and_timeout_is_bounded(live_service, http):
    deployed(live_service, TWO)
    url = live_service.url
    t0 = time.time()
    before = idle_stats(live_service)
    r = http.post(f"{url}/infer", json={"id": 11, "fault": "reject"})
    assert r.status_code == 422 and r.json()["attempts"] == 1
    assert "ValueError" in r.json()["error"]
    with limits(live_service, replica_timeout_s=0.5):
        t = time.monotonic()
        r = http.post(f"{url}/infer", json={"id": 12, "fault": "sleep:3"})
        assert r.status_code == 503 and r.json()["attempts"] == 1
        assert "replica-timeout" in r.json()["error"] and time.monotonic() - t < 2.5
    events = live_service.events(since=t0)
    assert not [e for e in events if e["event"] == "retry" and e["id"] in (11, 12)]
    d = delta(idle_stats(live_service), before)
    assert d["received"] == 2 and d["failed"] == 2
    reasons = {u["id"]: u["reason"] for u in live_service._control(
        live_service.ingress.unanswered.remote(t0))}
    assert reasons[11].startswith("replica-error") and reasons[12].startswith("replica-timeout")
    time.sleep(2.5)  # let the slow drill request finish on its replica


def test_retry_after_replica_death_goes_to_another_instance(live_service, http):
    deployed(live_service, TWO)
    t0 = time.time()
    r = http.post(f"{live_service.url}/infer", json={"id": 21, "fault": "crash"})
    assert r.status_code == 200 and r.json()["attempts"] == 2
    retry = [e for e in live_service.events(since=t0) if e["event"] == "retry" and e["id"] == 21]
    assert len(retry) == 1 and retry[0]["instance"] != r.json()["instance"]
    assert "ActorDiedError" in retry[0]["error"] or "Actor" in retry[0]["error"]


def test_load_beyond_the_admission_bound_is_shed(live_service):
    deployed(live_service, ONE)
    before = idle_stats(live_service)
    with limits(live_service, max_pending=5):
        records = run_load(live_service.url, [0.0] * 40, timeout_s=30.0,
                           extra={k: {"fault": "sleep:0.1"} for k in range(40)})
    assert len(records) == 40
    shed = [r for r in records if r.status == 503]
    assert len(shed) >= 30 and all("overloaded" in r.error for r in shed)
    d = delta(idle_stats(live_service), before)
    assert d["received"] == 40 and d["shed"] == len(shed) and d["answered"] == 40 - len(shed)


def test_failed_drain_keeps_the_previous_replicas(live_service, http):
    deployed(live_service, ONE)
    old = [i.instance_id for i in live_service.instances]
    th = threading.Thread(target=lambda: http.post(f"{live_service.url}/infer",
                                                   json={"id": 31, "fault": "sleep:2"}))
    th.start()
    time.sleep(0.5)
    with pytest.raises(CloverError, match="did not drain within 0.2 s.*kept the previous"):
        live_service.deploy(conf(("7g.40gb",), (B3,)), drain_timeout_s=0.2)
    th.join()
    assert [i.instance_id for i in live_service.instances] == old
    r = http.post(f"{live_service.url}/infer", json={"id": 32})
    assert r.status_code == 200 and r.json()["instance"] == old[0]


def test_failed_start_rolls_back_to_the_previous_replicas(live_service, http, monkeypatch):
    deployed(live_service, ONE)
    old = [i.instance_id for i in live_service.instances]
    real = live_service._start_instances
    calls = []

    def flaky(instances, timeout_s=600.0):
        calls.append([i.instance_id for i in instances])
        if len(calls) == 1:
            raise CloverError("replicas failed to start: injected")
        return real(instances, timeout_s)

    monkeypatch.setattr(live_service, "_start_instances", flaky)
    with pytest.raises(CloverError, match="injected.*rolled back to the previous 1 replicas"):
        live_service.deploy(conf(("7g.40gb",), (B3,)))
    assert calls[1] == old  # the removed replica was started again
    assert [i.instance_id for i in live_service.instances] == old
    r = http.post(f"{live_service.url}/infer", json={"id": 41})
    assert r.status_code == 200 and r.json()["instance"] == old[0]


def test_load_drill_every_request_accounted_for_on_loopback(live_service):
    """300 concurrent requests, 2 s client timeout, large bodies (some over the cap), a small
    admission bound: every request ends answered, rejected, cancelled or shed, on both sides."""
    deployed(live_service, ONE)
    n, cap = 300, 256 * 1024
    big = {k: (2 * cap if k % 10 == 0 else cap // 2) for k in range(n)}
    before = idle_stats(live_service)
    t = time.monotonic()
    with limits(live_service, max_body_bytes=cap, max_pending=100):
        records = run_load(live_service.url, np.zeros(n), timeout_s=2.0, payload_bytes=big,
                           extra={k: {"fault": "sleep:0.05"} for k in range(n)})
        after = idle_stats(live_service)
    assert time.monotonic() - t < 60
    assert len(records) == n and [r.id for r in records] == list(range(n))
    d = delta(after, before)
    assert after["identity_holds"] and d["in_flight"] == 0
    # a request the client drops before Ray's proxy hands it to the ingress is never received:
    # the client logs it as an error (status 0); everything received has exactly one outcome
    assert d["received"] <= n and d["failed"] == 0, d
    assert d == {**d, "received": d["answered"] + d["rejected"] + d["cancelled"] + d["shed"]}
    by = {s: sum(r.status == s for r in records) for s in (0, 200, 413, 503)}
    assert sum(by.values()) == n
    oversized = {k for k in range(n) if k % 10 == 0}
    assert {r.id for r in records if r.status == 413} <= oversized
    assert by[413] <= d["rejected"] <= len(oversized)  # only oversized bodies are refused
    # an early 413 or 503 (answered before the body is read) may not reach a client that is
    # still uploading (the connection closes under it): a client-side error then, never a
    # reply of another kind
    assert all(r.status in (0, 413) for r in records if r.id in oversized)
    assert by[503] <= d["shed"]
    assert by[200] <= d["answered"]  # a reply racing the client's timeout counts as answered
    assert by[0] == (n - d["received"] + d["cancelled"] + d["answered"] - by[200]
                     + d["rejected"] - by[413] + d["shed"] - by[503]), (d, by)
    assert by[200] < n  # the drill did overload the service
    assert all(r.error_type for r in records if r.status == 0)  # every failure says its type
    assert non_loopback_listeners(os.getpid()) == []
    time.sleep(1.0)


def test_a_burst_beyond_what_one_replica_serves_in_time_is_shed_at_once(live_service):
    """Issue 21 item 4: 500 concurrent requests against one CPU replica: those beyond what it
    serves within max_wait_s (1 s) are shed with 503 at once (not held for the 60 s replica
    timeout), appear as ``shed`` in /stats, and everything else is answered."""
    import httpx

    deployed(live_service, ONE)
    with httpx.Client(timeout=30.0, trust_env=False) as client, limits(live_service):
        for k in range(5):  # the ingress measures the replica
            assert client.post(f"{live_service.url}/infer", json={"id": k}).status_code == 200
        before = idle_stats(live_service)
        records = run_load(live_service.url, np.zeros(500), timeout_s=90.0)
        after = idle_stats(live_service)
        shown = client.get(f"{live_service.url}/stats").json()
    d = delta(after, before)
    by = {s: sum(r.status == s for r in records) for s in (200, 503)}
    assert by[200] + by[503] == 500 and by[503] > 0, by
    assert d == {**d, "received": 500, "answered": by[200], "shed": by[503], "failed": 0}
    assert all(r.error.startswith("overloaded: wait bound:") for r in records if r.status == 503)
    assert shown["shed"] >= d["shed"] and shown["reasons"]["shed: wait bound"] >= by[503]
    # the figure the issue asks for (reported, not asserted: no timed asserts; the figures
    # measured so far and the machine's load: docs/reliability.md, "Overload burst")
    shed_ms = [r.latency_ms for r in records if r.status == 503]
    print(f"503 latency: p50 {np.median(shed_ms):.0f} ms, slowest {max(shed_ms):.0f} ms; "
          f"slowest 200: {max(r.latency_ms for r in records if r.status == 200):.0f} ms; "
          f"load average {os.getloadavg()[0]:.1f}")
