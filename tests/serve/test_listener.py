"""The ingress's own HTTP listener (clover.serve.listener), without Ray: the ASGI adapter's
disconnect handling against scripted ASGI messages, and a real uvicorn server on loopback."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from clover.errors import CloverError
from clover.serve.listener import AsgiAdapter, Listener, ListenError, bind_socket

pytest.importorskip("uvicorn")
SCOPE = {"type": "http", "method": "POST", "path": "/infer", "headers": [], "query_string": b"",
         "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 1), "root_path": ""}


def scripted(*messages, then_disconnect_after: float | None = None):
    """An ASGI receive() that returns ``messages`` and then, if asked, ``http.disconnect``
    after a delay (a client that leaves while waiting); otherwise it blocks."""
    queue = list(messages)

    async def receive() -> dict:
        if queue:
            return queue.pop(0)
        if then_disconnect_after is None:
            await asyncio.Event().wait()
        await asyncio.sleep(then_disconnect_after)
        return {"type": "http.disconnect"}
    return receive


def sink():
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)
    return sent, send


def test_a_client_that_leaves_while_waiting_cancels_the_handler_and_gets_nothing():
    seen = {}

    async def handler(request):
        seen["body"] = await request.body()
        try:
            await asyncio.sleep(30)  # the replica call
        except asyncio.CancelledError:
            seen["cancelled"] = True
            raise

    sent, send = sink()
    receive = scripted({"type": "http.request", "body": b'{"id": 1}', "more_body": False},
                       then_disconnect_after=0.05)
    asyncio.run(asyncio.wait_for(AsgiAdapter(handler)(SCOPE, receive, send), 5))
    assert seen == {"body": b'{"id": 1}', "cancelled": True} and sent == []


def test_a_reply_is_sent_and_a_handler_that_raises_is_a_500():
    from starlette.responses import JSONResponse

    async def ok(request):
        return JSONResponse({"got": json.loads(await request.body())}, status_code=200)

    async def broken(request):
        raise KeyError("bug")

    for handler, status, body in ((ok, 200, b'{"got":{"id":2}}'),
                                  (broken, 500, b'{"error":"internal error"}')):
        sent, send = sink()
        receive = scripted({"type": "http.request", "body": b'{"id": 2}', "more_body": False})
        asyncio.run(asyncio.wait_for(AsgiAdapter(handler)(SCOPE, receive, send), 5))
        assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == status
        assert sent[1]["body"] == body


def test_a_reply_before_the_body_is_read_closes_the_connection():
    """A shed (or 413, 404) reply to a request that announced a body: ``connection: close``,
    so that the unread body is never parsed as a next request; a GET keeps its connection."""
    from starlette.responses import JSONResponse

    async def shed(request):
        return JSONResponse({"error": "overloaded"}, status_code=503)

    for headers, closes in (([(b"content-length", b"9")], True),
                            ([(b"transfer-encoding", b"chunked")], True),
                            ([(b"content-length", b"0")], False), ([], False)):
        sent, send = sink()
        receive = scripted()  # nothing read: the handler answers first
        asyncio.run(asyncio.wait_for(AsgiAdapter(shed)({**SCOPE, "headers": headers},
                                                       receive, send), 5))
        assert sent[0]["status"] == 503
        assert ((b"connection", b"close") in sent[0]["headers"]) == closes, headers


def test_a_handler_cancelled_by_something_else_answers_499():
    """Not the client leaving (it is still there): the reply says the request was cancelled,
    as the ingress counts it (499), instead of uvicorn's bare 500."""
    async def cancelled(request):
        await request.body()
        raise asyncio.CancelledError

    sent, send = sink()
    receive = scripted({"type": "http.request", "body": b'{"id": 4}', "more_body": False})
    asyncio.run(asyncio.wait_for(AsgiAdapter(cancelled)(SCOPE, receive, send), 5))
    assert sent[0]["status"] == 499 and sent[1]["body"] == b'{"error":"request cancelled"}'


def test_a_port_in_use_is_one_line_naming_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ListenError, match=rf"^cannot listen on 127\.0\.0\.1:{port}: ") as err:
            bind_socket("127.0.0.1", port)
    assert isinstance(err.value, CloverError) and "\n" not in str(err.value)


def test_a_real_listener_serves_and_stops():
    """uvicorn on a free loopback port: one request answered, then a clean stop (socket closed)."""
    from starlette.responses import JSONResponse

    async def handler(request):
        return JSONResponse({"path": request.url.path})

    async def main() -> tuple[bytes, bool]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        listener = Listener(handler, "127.0.0.1", port).start()
        for _ in range(100):  # until uvicorn accepts
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.02)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = await reader.read()
        writer.close()
        alive = listener.alive
        await listener.stop(timeout_s=5)
        return reply, alive and not listener.alive

    reply, stopped = asyncio.run(asyncio.wait_for(main(), 20))
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b'{"path":"/healthz"}')
    assert stopped


def test_serve_up_on_a_port_in_use_is_one_line_before_ray_starts(tmp_path):
    """``clover serve up`` checks the port before it starts Ray: exit 2, one line naming it."""
    import subprocess
    import sys

    from clover.models.configuration import Configuration, GpuAssignment

    conf = tmp_path / "conf.json"
    conf.write_text(json.dumps(Configuration(
        "a100-40gb", (GpuAssignment(("7g.40gb",), ("efficientnet-b1",)),)).as_dict()))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "clover", "serve", "up", "--configuration",
                            str(conf), "--port", str(port)], capture_output=True, text=True,
                           timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"clover: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_a_port_in_use_on_a_joined_cluster_names_the_likely_holder():
    from clover.serve.listener import check_free

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ListenError, match=r"a previous clover service\? `serve delete clover`"):
            check_free("127.0.0.1", port, joined_cluster=True)
