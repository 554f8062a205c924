"""Safety rules of the live service without Ray running: host validation and the expose opt-in,
ingress limits, request ids, the accounting identity, retry classification, and a load
generator that records every request whatever exception it met."""

from __future__ import annotations

import asyncio
import json
import random
import re

import pytest

from clover.errors import CloverError
from clover.serve.cluster import load_cluster
from clover.serve.safety import (EXIT_SIGTERM, IngressLimits, RequestCounters, check_http_host,
                                 check_request_id, is_loopback)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NODES = "nodes: [{address: 10.0.0.11, gpus: [0]}]\n"


@pytest.mark.parametrize("host, loop", [
    ("127.0.0.1", True), ("127.8.9.1", True), ("localhost", True), ("LOCALHOST.", True),
    ("::1", True), ("::ffff:127.0.0.1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.11", False), ("::ffff:10.0.0.1", False),
    ("node1.example.org", False), ("192.0.2.2", False)])
def test_loopback_addresses(host, loop):
    assert is_loopback(host) is loop


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.11", "node1", "::"])
def test_non_loopback_http_host_needs_the_opt_in(host):
    with pytest.raises(CloverError, match="not a loopback address.*expose: true"):
        check_http_host(host, expose=False)
    assert check_http_host(host, expose=True) == host


@pytest.mark.parametrize("host", ["", "bad host", "a..b", "-x.org", "x" * 300, 5, None, "http://x"])
def test_http_host_must_be_an_ip_or_hostname(host):
    with pytest.raises(CloverError, match="must be an IP address or a hostname"):
        check_http_host(host, expose=True)


def test_cluster_file_expose_and_limits(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("http: {host: 0.0.0.0, port: 8000}\n" + NODES)
    with pytest.raises(CloverError, match=re.escape(f"{p}: field 'http.host' is '0.0.0.0', not a "
                                                    "loopback address")):
        load_cluster(p)
    p.write_text("expose: true\nhttp: {host: 0.0.0.0, port: 8000}\n"
                 "limits: {max_body_bytes: 1024, max_pending: 8}\n" + NODES)
    c = load_cluster(p)
    assert c.expose and c.http_host == "0.0.0.0"
    assert c.limits == IngressLimits(max_body_bytes=1024, max_pending=8)
    p.write_text(NODES)
    c = load_cluster(p)
    assert not c.expose and c.http_host == "127.0.0.1" and c.limits == IngressLimits()
    assert c.limits.max_body_bytes == 8 * 2**20
    # malformed safety fields: tests/serve/test_cluster.py::test_bad_cluster_files_name_the_field


@pytest.mark.parametrize("value, ok", [
    (None, True), (7, True), ("req-1:a.b_c", True), ("x" * 64, True),
    ("x" * 65, False), (10**70, False), ("a b", False), ("<script>", False), (True, False),
    ([1], False), ({"a": 1}, False), (1.5, False)])
def test_request_ids_are_bounded_and_plain(value, ok):
    if ok:
        assert check_request_id(value, 64) == value
    else:
        with pytest.raises(ValueError):
            check_request_id(value, 64)


def test_accounting_identity_holds_at_every_step():
    rng = random.Random(3)
    c = RequestCounters(keep=50)
    open_ = 0
    for _ in range(2000):
        if open_ and rng.random() < 0.5:
            outcome = rng.choice(["answered", "rejected", "failed", "cancelled", "shed"])
            c.close(outcome, "why: detail" if outcome != "answered" else "", rid=open_)
            open_ -= 1
        else:
            c.open()
            open_ += 1
        assert c.check()
        snap = c.snapshot()
        assert snap["received"] == (snap["answered"] + snap["rejected"] + snap["failed"]
                                    + snap["cancelled"] + snap["shed"] + snap["in_flight"])
    assert c.in_flight == open_ and len(c.unanswered) == 50  # bounded log of the reasons
    assert sum(c.reasons.values()) == c.received - c.in_flight - c.counts["answered"]
    with pytest.raises(ValueError):
        c.close("vanished")


def test_retry_classification():
    pytest.importorskip("ray.serve")
    from ray import exceptions as rx
    from ray.serve import exceptions as sx

    from clover.serve.app import is_retryable

    assert is_retryable(rx.ActorDiedError())
    assert is_retryable(rx.ActorUnavailableError("gone", b"\0" * 16))
    assert is_retryable(sx.DeploymentUnavailableError("clover-x"))
    rejected = rx.RayTaskError("__call__", "Traceback ...", ValueError("bad input"))
    assert not is_retryable(rejected)  # the model rejected it: another replica would too
    assert not is_retryable(asyncio.TimeoutError())
    assert not is_retryable(rx.TaskCancelledError())
    assert not is_retryable(RuntimeError("unknown"))


async def _toy_http_server(handle_body):
    """A bare HTTP/1.1 server on 127.0.0.1 (keep-alive): ``handle_body(json)`` returns the reply
    body to send, a number of seconds to stall, or None to close the connection unanswered."""
    async def serve(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                what = handle_body(json.loads(await reader.readexactly(length)))
                if what is None:
                    break
                if isinstance(what, float):
                    await asyncio.sleep(what)
                    what = b"{}"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(what), what))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def test_loadgen_records_every_exception_type(monkeypatch):
    """A real loopback server answers, stalls past the client timeout or hangs up; the request
    call itself raises any other exception: every request is one record, in id order."""
    pytest.importorskip("aiohttp")
    from clover.serve import loadgen

    ok = b'{"instance": "i", "variant": "v", "slice": "s", "service_ms": 1.0}'
    pads = []

    def handle(body):
        pads.append(len(body.get("pad", "")))
        return {0: ok, 1: 1.0, 2: None}[body["id"] % 5]

    real_post = loadgen._post

    async def post(session, url, body):
        if body["id"] % 5 == 3:
            raise ValueError("not an aiohttp error")
        if body["id"] % 5 == 4:
            raise RuntimeError("boom")
        return await real_post(session, url, body)

    monkeypatch.setattr(loadgen, "_post", post)

    async def drill():
        server = await _toy_http_server(handle)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await loadgen.run_open_loop(f"http://127.0.0.1:{port}", [0.0] * 15,
                                               timeout_s=0.5, payload_bytes=100)

    records = asyncio.run(drill())
    assert [r.id for r in records] == list(range(15))  # nobody dropped, in id order
    assert [r.error_type for r in records[:5]] == ["", "TimeoutError", "ServerDisconnectedError",
                                                   "ValueError", "RuntimeError"]
    assert sum(r.ok for r in records) == 3 and records[0].instance == "i"
    assert all(r.status == 0 and r.error for r in records if not r.ok)
    assert pads == [100] * 9  # the padding reached the server


def test_loadgen_records_a_refused_connection():
    import socket

    from clover.serve.loadgen import run_load

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [rec] = run_load(f"http://127.0.0.1:{port}", [0.0], timeout_s=5.0)
    assert rec.status == 0 and rec.error_type == "ClientConnectorError"


def test_loadgen_only_sends_to_loopback():
    from clover.serve.loadgen import run_load

    with pytest.raises(CloverError, match="only sends to loopback"):
        run_load("http://10.0.0.1:8000", [0.0])


def test_sigterm_exit_status_is_documented():
    assert EXIT_SIGTERM == 143
