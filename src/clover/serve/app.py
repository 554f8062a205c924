"""Ray Serve deployments: one replica per slice, and the ingress that routes like the simulator.

* :class:`SliceReplica` (:mod:`clover.serve.replica`) hosts one model variant on one slice,
  as its own Serve application (a worker, ``clover-w<n>``; no HTTP route).
* :class:`Ingress` is the HTTP entry (exact paths: ``POST /infer``, ``GET /routes``,
  ``GET /healthz``, ``GET /stats``; 404 otherwise). It spreads requests over instances with the
  shares the simulator's router assigns (smooth weighted round robin: deterministic and exact in
  the long run), holds requests while no instance is routable (reconfiguration), and retries a
  request whose replica died or became unavailable on another instance (or on the replacement
  of a dead replica); a request the model rejected, or a call that timed out, is not retried.
  It is bounded (:class:`clover.serve.safety.IngressLimits`: body cap, admission bound with
  503 shedding, replica timeout, id length) and accounts for every request it received
  (:class:`clover.serve.safety.RequestCounters`). Every event is logged and kept for
  :meth:`Ingress.events`. It serves HTTP itself, on the cluster file's ``http`` address
  (:mod:`clover.serve.listener`: uvicorn in the replica, no Serve proxy hop), so that a burst
  reaches its admission check at once; the driver reaches it through a ``DeploymentHandle``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Any

from ray import serve

from clover.serve.admission import (Cancelled, ServiceEstimate, is_cancellation,
                                    is_retryable, json_depth_exceeds)
from clover.serve.fcfs_dispatch import FcfsDispatcher, QueueFull
from clover.serve.listener import Listener
from clover.serve.safety import (IngressLimits, RequestCounters, bind_serve_grpc_to_loopback,
                                 check_request_id)

log = logging.getLogger("clover.serve")

#: the paths the ingress serves (exact match) and their method
PATHS = {"/infer": "POST", "/routes": "GET", "/healthz": "GET", "/stats": "GET"}


class _SmoothWRR:
    """Smooth weighted round robin (nginx): each pick goes to the max of current += weight."""

    def __init__(self, weights: dict[str, float]) -> None:
        self.weights = {k: float(w) for k, w in weights.items() if w > 0}
        self.current = {k: 0.0 for k in self.weights}
        self.total = sum(self.weights.values())

    def pick(self, exclude: set[str] = frozenset()) -> str | None:
        cands = [k for k in self.weights if k not in exclude]
        if not cands:
            return None
        total = sum(self.weights[k] for k in cands)
        for k in cands:
            self.current[k] += self.weights[k]
        best = max(cands, key=lambda k: (self.current[k], k))
        self.current[best] -= total
        return best


class _Reject(Exception):
    """A request refused before routing (HTTP status and reason)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


@serve.deployment(num_replicas=1, max_ongoing_requests=1088, max_queued_requests=1024,
                  health_check_period_s=2.0, ray_actor_options={"num_cpus": 0})
class Ingress:
    """HTTP entry and router of the service (one replica; it holds the routing state)."""

    def __init__(self, limits: dict | None = None, listen: dict | None = None) -> None:
        bind_serve_grpc_to_loopback()  # before Serve starts this replica's gRPC server
        self.limits = IngressLimits(**(limits or {})).validate()
        self.handles: dict[str, Any] = {}
        self.meta: dict[str, dict] = {}
        self.wrr = _SmoothWRR({})
        self.routable = asyncio.Event()
        self.inflight: dict[str, int] = {}
        self.events_log: deque = deque(maxlen=10_000)
        self.generation = 0
        self.counters = RequestCounters()
        self.pending = 0  # admitted /infer requests (body read, waiting, or at a replica)
        self.retried = 0
        self.estimate = ServiceEstimate()
        #: ``optimal``: smooth WRR by the router's shares; ``fcfs``: the artifact's one queue
        #: (clover.serve.fcfs_dispatch), bounded by the admission bound
        self.dispatch = "optimal"
        self.fcfs = FcfsDispatcher((), self.limits.max_pending)
        #: where the replica's own HTTP server listens ({"host", "port"}; None: no listener)
        self.listen_at = dict(listen) if listen else None
        self.listener: Listener | None = None

    async def listen(self) -> str:
        """Start the HTTP listener (clover.serve.listener) in this replica's event loop, once:
        the driver calls it after the deploy, Serve's health check after a restart."""
        if self.listener is None and self.listen_at is not None:
            self.listener = Listener(self.__call__, self.listen_at["host"],
                                     int(self.listen_at["port"])).start()
        return "" if self.listener is None else f"{self.listener.host}:{self.listener.port}"

    async def check_health(self) -> None:
        """Serve's health check (every 2 s): listen if not yet (a replacement replica); a
        listener that stopped makes Serve replace the replica."""
        await self.listen()
        if self.listener is not None and not self.listener.alive:
            raise RuntimeError(f"the HTTP listener on {self.listener.host}:"
                               f"{self.listener.port} stopped")

    async def close(self, timeout_s: float = 30.0) -> bool:
        """Stop listening; open HTTP requests finish first (up to ``timeout_s``). Called by the
        driver before it deletes the ingress (Serve's graceful shutdown does not see requests
        that did not come through its proxy). True if a listener was stopped."""
        listener, self.listener, self.listen_at = self.listener, None, None
        if listener is None:
            return False
        await listener.stop(timeout_s)
        return True

    def _event(self, kind: str, **fields: Any) -> None:
        ev = {"t": time.time(), "event": kind, **fields}
        self.events_log.append(ev)
        log.warning("clover ingress event: %s", ev)

    # -- control plane (called by the driver through a DeploymentHandle)
    def set_routes(self, routes: list[dict], dispatch: str | None = None) -> int:
        """Replace the routing table: [{instance_id, app_name, weight, variant, slice}].

        An empty table (or all weights 0) makes the ingress hold new requests until routes
        come back. ``dispatch`` (None: unchanged): ``optimal`` routes by the weights, ``fcfs``
        gives each request to the instance idle longest (every route, in table order; the
        weights are ignored). Returns the new generation number.
        """
        handles = {}
        for r in routes:
            iid = r["instance_id"]
            handles[iid] = self.handles.get(iid) or serve.get_deployment_handle(
                "SliceReplica", app_name=r["app_name"])
        self.handles = handles
        self.meta = {r["instance_id"]: dict(r) for r in routes}
        self.wrr = _SmoothWRR({r["instance_id"]: r["weight"] for r in routes})
        self.estimate.forget(self.handles)
        if dispatch is not None:
            if dispatch not in ("optimal", "fcfs"):
                raise ValueError(f"dispatch must be optimal or fcfs, not {dispatch!r}")
            self.dispatch = dispatch
        if self.dispatch == "fcfs":
            self.wrr = _SmoothWRR({r["instance_id"]: 1.0 for r in routes})
        self.fcfs.set_instances([r["instance_id"] for r in routes] if self.dispatch == "fcfs"
                                else [])
        self.generation += 1
        if self.wrr.weights:
            self.routable.set()
        else:
            self.routable.clear()
        self._event("routes", generation=self.generation,
                    weights={k: round(v, 6) for k, v in self.wrr.weights.items()})
        return self.generation

    def set_limits(self, limits: dict) -> dict:
        """Change the bounds at run time (HTTP requests do not pass Serve's own bounds: the
        ingress listens itself, so these are the only ones)."""
        self.limits = IngressLimits(**limits).validate()
        self.fcfs.set_max_queue(self.limits.max_pending)
        self._event("limits", **self.limits.as_dict())
        return self.limits.as_dict()

    async def drain(self, instance_ids: list[str], timeout_s: float = 120.0) -> dict:
        """Wait until no request is in flight to these instances (they must be unrouted first)."""
        t0 = time.monotonic()
        while any(self.inflight.get(i, 0) for i in instance_ids):
            if time.monotonic() - t0 > timeout_s:
                return {"drained": False, "waited_s": time.monotonic() - t0,
                        "inflight": {i: self.inflight.get(i, 0) for i in instance_ids}}
            await asyncio.sleep(0.02)
        return {"drained": True, "waited_s": time.monotonic() - t0}

    def stats(self) -> dict:
        """Request accounting: received = answered + rejected + failed + cancelled + shed + in_flight."""
        return {**self.counters.snapshot(), "pending": self.pending, "retried": self.retried,
                "limits": self.limits.as_dict()}

    def unanswered(self, since: float = 0.0) -> list[dict]:
        """Every request not answered (bounded log), with its outcome and reason."""
        return [r for r in self.counters.unanswered if r["t"] >= since]

    def status(self) -> dict:
        st = self.counters.snapshot()
        return {"generation": self.generation, "received": st["received"],
                "answered": st["answered"], "failed": st["failed"], "inflight": dict(self.inflight),
                "routes": list(self.meta.values()), "requests": st}

    def events(self, since: float = 0.0) -> list[dict]:
        return [e for e in self.events_log if e["t"] >= since]

    async def crash_instance(self, instance_id: str) -> bool:
        """Fault injection: make one replica's process exit (its requests are retried)."""
        h = self.handles.get(instance_id)
        if h is None:
            return False
        self._event("crash-injected", instance=instance_id)
        try:
            await h.crash.remote()
        except Exception:  # the call itself dies with the process
            pass
        return True

    # -- data plane
    async def _pick(self, tried: set, retry: bool, remaining: float) -> str | None:
        """The instance of the next attempt (None: none now, try again). ``fcfs``: wait in the
        artifact's queue for the instance idle longest (a retry goes first; QueueFull past the
        bound). ``optimal``: a retry goes to an instance not tried yet; when every routable
        instance was tried, to the replacement of the (dead) replica that Serve starts."""
        if self.dispatch == "fcfs":
            try:
                iid = await self.fcfs.acquire(timeout_s=remaining, front=retry)
            except asyncio.TimeoutError:
                return None
            if iid not in self.handles:  # unrouted while it was handed out
                self.fcfs.release(iid)
                return None
            return iid
        iid = self.wrr.pick(exclude=tried) or self.wrr.pick()
        if iid is None:
            self.routable.clear()
        return iid

    async def infer(self, request: dict) -> tuple[str, str, dict]:
        """Serve one request: route, retry on replica loss; returns (outcome, reason, reply)."""
        t0 = time.perf_counter()
        rid = request.get("id")
        lim = self.limits
        attempts, last_err, tried = 0, "", set()
        deadline = time.monotonic() + lim.retry_deadline_s

        def failed(reason: str) -> tuple[str, str, dict]:
            return "failed", reason, {"id": rid, "error": reason, "attempts": attempts,
                                      "server_ms": (time.perf_counter() - t0) * 1000}

        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return failed(f"no instance answered within {lim.retry_deadline_s:g} s"
                              + (f": {last_err}" if last_err else ""))
            if self.dispatch != "fcfs" and not self.routable.is_set():  # fcfs: its queue holds
                try:
                    await asyncio.wait_for(self.routable.wait(), timeout=remaining)
                except asyncio.TimeoutError:
                    continue
            gen = self.generation
            try:
                iid = await self._pick(tried, attempts > 0, remaining)
            except QueueFull as exc:
                return "shed", str(exc), {"id": rid, "error": f"overloaded: {exc}"}
            if iid is None:
                continue
            handle = self.handles[iid]
            attempts += 1
            tried.add(iid)
            self.inflight[iid] = self.inflight.get(iid, 0) + 1
            sent_s = time.monotonic()
            try:
                out = await asyncio.wait_for(handle.remote(request),
                                             timeout=min(lim.replica_timeout_s, remaining))
            except asyncio.TimeoutError:
                return failed(f"replica-timeout: {iid} did not answer within "
                              f"{min(lim.replica_timeout_s, remaining):.3g} s")
            except Exception as exc:
                if is_cancellation(exc):
                    raise Cancelled(_one_line(exc)) from None
                last_err = _one_line(exc)
                if not is_retryable(exc):
                    return failed(f"replica-error: {iid}: {last_err}")
                self.retried += 1
                self._event("retry", id=rid, instance=iid, attempt=attempts,
                            generation=gen, error=last_err)
                request = {k: v for k, v in request.items() if k != "fault"}  # drills are one-shot
                await asyncio.sleep(min(0.05 * attempts, 1.0))
                continue
            finally:
                self.inflight[iid] -= 1
                if self.dispatch == "fcfs":
                    self.fcfs.release(iid)
            self.estimate.observe(iid, sent_s, time.monotonic())
            out["attempts"] = attempts
            out["server_ms"] = (time.perf_counter() - t0) * 1000.0
            return "answered", "", out

    def _check_length(self, http_request) -> None:
        """413 from the declared Content-Length alone (the body is not read)."""
        cap = self.limits.max_body_bytes
        declared = http_request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise _Reject(400, "bad Content-Length")
            if int(declared) > cap:
                raise _Reject(413, f"body of {int(declared)} bytes exceeds {cap} bytes")

    def _parse_json(self, data: bytes) -> Any:
        """JSON of a body; 400 for bad JSON and for nesting beyond ``max_json_depth`` (checked
        after parsing, iteratively; a RecursionError of the parser is the same 400)."""
        depth = self.limits.max_json_depth
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise _Reject(400, "body must be JSON") from None
        except RecursionError:
            raise _Reject(400, f"body nested deeper than {depth} levels") from None
        if json_depth_exceeds(body, depth):
            raise _Reject(400, f"body nested deeper than {depth} levels")
        return body

    def _shed_reason(self) -> str | None:
        """Why a new /infer request is shed (503 at once), or None to admit it: the admission
        bound ``max_pending``, or the work admitted exceeding ``max_wait_s``."""
        if self.pending >= self.limits.max_pending:
            return f"admission bound: {self.pending} requests pending"
        if not self.routable.is_set():
            return None  # a reconfiguration holds requests; max_pending bounds them
        return self.estimate.overload_reason(self.pending, list(self.wrr.weights),
                                             self.limits.max_wait_s)

    async def _read_json(self, http_request) -> dict:
        """The body as a JSON object, read up to the cap (413 beyond, without reading on)."""
        cap = self.limits.max_body_bytes
        buf, size = [], 0
        async for chunk in http_request.stream():
            size += len(chunk)
            if size > cap:
                raise _Reject(413, f"body exceeds {cap} bytes")
            buf.append(chunk)
        body = self._parse_json(b"".join(buf))
        if not isinstance(body, dict):
            raise _Reject(400, "body must be a JSON object")
        try:
            body["id"] = check_request_id(body.get("id"), self.limits.max_id_chars)
        except ValueError as exc:
            raise _Reject(400, f"bad id: {exc}") from None
        return body

    async def _infer_http(self, http_request) -> Any:
        """POST /infer with accounting: exactly one outcome per received request."""
        from starlette.responses import JSONResponse

        self.counters.open()
        outcome, reason, rid, status = "failed", "internal error", None, 500
        reply: dict = {"error": reason}
        headers: dict = {}
        try:
            try:
                self._check_length(http_request)
            except _Reject as rej:
                outcome, reason, status, reply = "rejected", rej.reason, rej.status, {"error": rej.reason}
                return JSONResponse(reply, status_code=status)
            shed = self._shed_reason()
            if shed is not None:
                outcome, reason, status = "shed", shed, 503
                reply, headers = {"error": f"overloaded: {reason}, retry later"}, {"Retry-After": "1"}
            else:
                self.pending += 1
                try:
                    body = await self._read_json(http_request)
                    rid = body.get("id")
                    outcome, reason, reply = await self.infer(body)
                    status = (200 if outcome == "answered"
                              else 422 if reason.startswith("replica-error") else 503)
                except _Reject as rej:
                    outcome, reason, status, reply = "rejected", rej.reason, rej.status, {"error": rej.reason}
                finally:
                    self.pending -= 1
            return JSONResponse(reply, status_code=status, headers=headers)
        except asyncio.CancelledError:
            outcome, reason = "cancelled", "client disconnected or timed out"
            raise
        except Exception as exc:
            if isinstance(exc, Cancelled) or is_cancellation(exc):
                outcome, reason, status = "cancelled", f"client disconnected: {exc}", 499
            else:
                outcome, reason, status = "failed", f"internal error: {_one_line(exc)}", 500
            return JSONResponse({"error": reason}, status_code=status)
        finally:
            rec = self.counters.close(outcome, reason, rid, status=status)
            if rec is not None:
                log.warning("clover request not answered: %s", rec)

    async def __call__(self, http_request) -> Any:
        from starlette.responses import JSONResponse

        path = http_request.url.path
        method = PATHS.get(path)
        if method is None:
            return JSONResponse({"error": f"no such path; the service has {', '.join(PATHS)}"},
                                status_code=404)
        if http_request.method != method:
            return JSONResponse({"error": f"{path} takes {method}"}, status_code=405,
                                headers={"Allow": method})
        if path == "/infer":
            return await self._infer_http(http_request)
        if path == "/healthz":
            return JSONResponse({"ok": True, "routable": self.routable.is_set(),
                                 "requests": self.counters.snapshot()})
        if path == "/stats":
            return JSONResponse(self.stats())
        return JSONResponse(self.status())


def ingress_app(limits: dict, host: str, port: int, node_ip: str):
    """The ingress application: listening on ``host:port`` (the caller checks that it is free,
    so that a port in use is one line, not a failed Serve deploy), on the node ``node_ip``
    (the driver's), where that address is. It admits ``max_pending`` and sheds the rest itself
    (503, counted); the Serve bounds of the deployment only cover the driver's control-plane
    calls."""
    ingress = Ingress.options(ray_actor_options={"num_cpus": 0,
                                                 "resources": {f"node:{node_ip}": 0.001}})
    return ingress.bind(limits, {"host": host, "port": port})
