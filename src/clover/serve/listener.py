"""The ingress's own HTTP listener: uvicorn inside the ingress replica, no proxy hop.

Through Ray Serve's HTTP proxy every request costs about 5 ms of CPU before the ingress's code
runs (2-3 ms in the proxy, 2-3 ms in the replica's Serve machinery: measured in
docs/reliability.md, "Overload burst"), so a burst of 500 requests took 1.2 s or more on two
cores just to reach the admission check, and its 503s could not leave within a second. The
ingress therefore serves HTTP itself, as Serve's experimental *direct ingress* does
(``RAY_SERVE_ENABLE_DIRECT_INGRESS``, which was not usable here: it opens an HTTP port on every
application's replica, every worker included, from a port range Serve allocates): one uvicorn
server on the cluster file's ``http.host``/``http.port``, started in the replica's event loop,
calling :meth:`clover.serve.app.Ingress.__call__` in process. Serve still deploys, restarts and
health-checks the replica, and the driver still reaches it through a ``DeploymentHandle``;
Serve's own proxy is not started by the service.

Disconnects keep their meaning: a client that leaves while uploading makes the request's body
read raise Starlette's ``ClientDisconnect``; one that leaves while waiting for its reply is
noticed by :func:`_watch_disconnect` (the ASGI ``http.disconnect`` message uvicorn sends once
the body has been read) and the handler task is cancelled, as Serve's proxy cancels the replica
call. Either way the ingress counts the request ``cancelled``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any, Awaitable, Callable

from clover.errors import CloverError

log = logging.getLogger("clover.serve")

#: keep-alive of idle connections (s): Serve's proxy default (``HTTPOptions.keep_alive_timeout_s``
#: = ``DEFAULT_UVICORN_KEEP_ALIVE_TIMEOUT_S``, 90 s in Ray 2.60), above the load generator's
#: aiohttp pool (15 s), so that a client never sends a POST on a connection the server is
#: closing (aiohttp does not retry a POST on a dropped reused connection)
KEEP_ALIVE_S = 90
#: connections the listening socket queues before accept (uvicorn's default, 2048)
BACKLOG = 2048

Handler = Callable[[Any], Awaitable[Any]]


class ListenError(CloverError):
    """The listener could not bind its address (in use, or not an address of this node)."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (IPv6 for an IPv6 literal); SO_REUSEADDR so that a
    restarted ingress rebinds a port whose old connections are in TIME_WAIT."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def check_free(host: str, port: int, joined_cluster: bool = False) -> None:
    """Raise :class:`ListenError` (one line) unless ``host:port`` can be bound now. On a
    cluster clover joined (``ray_address``), a Serve application outlives its driver, so a
    previous service's ingress may be what holds the port: the message says so."""
    try:
        bind_socket(host, port).close()
    except ListenError as exc:
        if not joined_cluster:
            raise
        raise ListenError(f"{exc} (on a cluster an ingress outlives its driver: a previous "
                          "clover service? `serve delete clover`, or another http.port)") from None


class AsgiAdapter:
    """ASGI app over a Starlette-request handler (``handler(request) -> Response``)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        from starlette.requests import Request
        from starlette.responses import JSONResponse

        body_read = asyncio.Event()

        async def tracked_receive() -> dict:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                body_read.set()
            return message

        task = asyncio.ensure_future(self.handler(Request(scope, tracked_receive)))
        left: list[bool] = []
        watcher = asyncio.ensure_future(_watch_disconnect(body_read, receive, task, left))
        try:
            response = await task
        except asyncio.CancelledError:
            if left:
                return  # the client left; the handler counted the request (cancelled)
            if getattr(asyncio.current_task(), "cancelling", lambda: 0)():
                raise  # this adapter is being cancelled (uvicorn's shutdown), not the handler
            # cancelled by something else (counted cancelled too): say so, as the ingress does
            response = JSONResponse({"error": "request cancelled"}, status_code=499)
        except Exception as exc:  # the handler answers every request itself; a last resort
            log.warning("clover ingress handler raised: %r", exc)
            response = JSONResponse({"error": "internal error"}, status_code=500)
        finally:
            watcher.cancel()
        if not body_read.is_set() and _declares_body(scope):
            # answered before the body was read (shed, 413, 404): the rest of the body (or,
            # after ``Expect: 100-continue``, the client's next bytes) must not be taken for
            # a next request on this connection; uvicorn closes it after this reply
            response.headers["connection"] = "close"
        await response(scope, receive, send)


async def _watch_disconnect(body_read: asyncio.Event, receive, task: asyncio.Future,
                            left: list) -> None:
    """Once the body is read, the next ASGI message is ``http.disconnect`` only if the client
    leaves before the reply: then cancel the handler (counted ``cancelled``) and note it in
    ``left``. (uvicorn marks only a connection's newest request disconnected: a request
    followed by a pipelined one is not cancelled when the client hangs up; it runs to the end.)"""
    await body_read.wait()
    message = await receive()
    if message["type"] == "http.disconnect" and not task.done():
        left.append(True)
        task.cancel()


def _declares_body(scope: dict) -> bool:
    """Whether the request announces a body (``Content-Length`` > 0 or chunked)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.strip() not in (b"", b"0"):
            return True
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            return True
    return False


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _server(config):
    """A uvicorn server that leaves signal handling to its host process (a Ray actor: Ray's
    handlers stop it; uvicorn 0.55 would install its own on the main thread)."""
    import uvicorn

    class Server(uvicorn.Server):
        def capture_signals(self):
            return contextlib.nullcontext()

    return Server(config)


class Listener:
    """One uvicorn server for ``handler`` on ``host:port``, in the running event loop."""

    def __init__(self, handler: Handler, host: str, port: int) -> None:
        import uvicorn

        self.host, self.port = host, port
        self.sock = bind_socket(host, port)
        # as Serve's proxy: no websockets, no X-Forwarded-* trust, uvicorn's own error log
        # (one warning per malformed request) off
        config = uvicorn.Config(AsgiAdapter(handler), host=host, port=port, lifespan="off",
                                log_level=None, access_log=False, log_config=None, ws="none",
                                proxy_headers=False, timeout_keep_alive=KEEP_ALIVE_S,
                                backlog=BACKLOG)
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        self.server = _server(config)
        self.task: asyncio.Task | None = None

    def start(self) -> "Listener":
        self.task = asyncio.get_running_loop().create_task(self.server.serve([self.sock]))
        return self

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Stop accepting, let open requests finish (up to ``timeout_s``; then their
        connections are closed), close the socket."""
        self.server.should_exit = True
        try:
            if self.task is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(self.task), timeout_s)
                except asyncio.TimeoutError:
                    self.server.force_exit = True
                    for conn in list(self.server.server_state.connections):
                        conn.transport.close()
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(self.task, 5.0)
        finally:
            self.sock.close()
