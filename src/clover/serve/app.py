"""Ray Serve deployments: one replica per slice, and the ingress that routes like the simulator.

* :class:`SliceReplica` hosts one model variant on one slice. It is its own Serve application
  (``clover-<instance id>``, no HTTP route) with exactly one replica, pinned to its node through
  Ray's built-in ``node:<ip>`` resource and bound to its slice *explicitly*: the MIG device
  UUID goes into ``CUDA_VISIBLE_DEVICES`` (set in the replica's runtime environment and again in
  ``__init__`` before torch initialises CUDA; Ray does not re-detect MIG devices after a
  re-partition) or, on CPU, ``torch.set_num_threads`` and the CPU affinity of its core share.
  One request at a time (batch 1, as the simulator assumes); further requests queue in the
  ingress' handle.
* :class:`Ingress` is the HTTP entry (``POST /infer``, ``GET /routes``, ``GET /healthz``). It
  spreads requests over instances with the shares the simulator's router assigns (smooth
  weighted round robin: deterministic and exact in the long run), holds requests while no
  instance is routable (reconfiguration), and retries a request whose replica died or was
  removed (crash, redeploy) on the restarted or another instance. Every such event is logged
  and kept for :meth:`Ingress.events`.

The model code comes from ``clover.models.builders`` (``build_model``, ``example_inputs``,
``run_inference``), imported inside the replica so that the environment is set first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from typing import Any

from ray import serve

log = logging.getLogger("clover.serve")

#: retry budget of one request (s): covers a replica restart (model load) or a redeploy
RETRY_DEADLINE_S = 120.0


@serve.deployment(num_replicas=1, max_ongoing_requests=1, health_check_period_s=2.0,
                  health_check_timeout_s=60.0, graceful_shutdown_wait_loop_s=0.5,
                  graceful_shutdown_timeout_s=30.0)
class SliceReplica:
    """One model variant bound to one slice (MIG device or CPU core share)."""

    def __init__(self, spec: dict, builders_module: str = "clover.models.builders",
                 seed: int = 0) -> None:
        self.spec = dict(spec)
        device = self.spec["device"]
        if device != "cpu":
            os.environ["CUDA_VISIBLE_DEVICES"] = device  # before torch touches CUDA
        # idle OpenMP threads sleep instead of spinning: slices share cores on small machines
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import importlib

        import torch

        threads = int(self.spec.get("threads") or 1)
        torch.set_num_threads(threads)
        cores = self.spec.get("cores") or []
        if device == "cpu" and cores and hasattr(os, "sched_setaffinity"):
            try:
                usable = set(os.sched_getaffinity(0))
                want = {c for c in cores if c in usable}
                if want:
                    os.sched_setaffinity(0, want)
            except OSError:  # affinity not allowed (container): threads still bounded
                pass
        self.torch = torch
        b = importlib.import_module(builders_module)
        self._run = b.run_inference
        torch_device = "cuda:0" if device != "cpu" else "cpu"
        if device != "cpu":
            if not torch.cuda.is_available() or torch.cuda.device_count() != 1:
                raise RuntimeError(f"CUDA_VISIBLE_DEVICES={device}: torch sees "
                                   f"{torch.cuda.device_count()} CUDA devices, expected exactly 1 "
                                   "(the MIG slice)")
            props = torch.cuda.get_device_properties(0)
            log.info("replica %s bound to %s: %s, %d SMs, %.1f GiB", self.spec["instance_id"],
                     device, props.name, props.multi_processor_count, props.total_memory / 2**30)
        t0 = time.perf_counter()
        self.model = b.build_model(self.spec["variant"], device=torch_device)
        inputs = b.example_inputs(self.spec["variant"], batch_size=1,
                                  input_size=self.spec.get("input_size"), seed=seed)
        self.inputs = {k: v.to(torch_device) for k, v in inputs.items()}
        self.cuda = device != "cpu"
        with torch.inference_mode():
            self._forward()  # warm-up (allocations, cuDNN autotune)
        self.load_s = time.perf_counter() - t0
        self.served = 0
        self.busy_s = 0.0
        self.node = socket.gethostname()
        log.info("replica %s ready: %s on %s (threads=%s cores=%s) in %.1f s", self.spec["instance_id"],
                 self.spec["variant"], device, threads, cores, self.load_s)

    def _forward(self) -> Any:
        out = self._run(self.model, self.inputs)
        if self.cuda:
            self.torch.cuda.synchronize()
        return out

    def __call__(self, request: dict) -> dict:
        if request.get("fault") == "crash" and self.spec.get("allow_faults"):
            # fault drill: die in the middle of serving this request (its caller must retry)
            log.warning("replica %s: crash drill on request %s", self.spec["instance_id"], request.get("id"))
            os._exit(17)
        t0 = time.perf_counter()
        with self.torch.inference_mode():
            self._forward()
        service_s = time.perf_counter() - t0
        self.served += 1
        self.busy_s += service_s
        return {"id": request.get("id"), "instance": self.spec["instance_id"],
                "variant": self.spec["variant"], "slice": self.spec["profile"],
                "device": self.spec["device"], "service_ms": service_s * 1000.0,
                "pid": os.getpid(), "node": self.node}

    def stats(self) -> dict:
        return {"instance": self.spec["instance_id"], "served": self.served, "busy_s": self.busy_s,
                "load_s": self.load_s, "pid": os.getpid()}

    def crash(self) -> None:
        """Fault injection (tests, drills): the replica process dies at once."""
        log.warning("replica %s: crash requested, exiting", self.spec["instance_id"])
        os._exit(17)


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


@serve.deployment(num_replicas=1, max_ongoing_requests=100_000, health_check_period_s=2.0,
                  ray_actor_options={"num_cpus": 0})
class Ingress:
    """HTTP entry and router of the service (one replica; it holds the routing state)."""

    def __init__(self) -> None:
        self.handles: dict[str, Any] = {}
        self.meta: dict[str, dict] = {}
        self.wrr = _SmoothWRR({})
        self.routable = asyncio.Event()
        self.inflight: dict[str, int] = {}
        self.events_log: deque = deque(maxlen=10_000)
        self.generation = 0
        self.received = 0
        self.answered = 0
        self.failed = 0

    def _event(self, kind: str, **fields: Any) -> None:
        ev = {"t": time.time(), "event": kind, **fields}
        self.events_log.append(ev)
        log.warning("clover ingress event: %s", ev)

    # -- control plane (called by the driver through a DeploymentHandle)
    def set_routes(self, routes: list[dict]) -> int:
        """Replace the routing table: [{instance_id, app_name, weight, variant, slice}].

        An empty table (or all weights 0) makes the ingress hold new requests until routes
        come back. Returns the new generation number.
        """
        handles = {}
        for r in routes:
            iid = r["instance_id"]
            handles[iid] = self.handles.get(iid) or serve.get_deployment_handle(
                "SliceReplica", app_name=r["app_name"])
        self.handles = handles
        self.meta = {r["instance_id"]: dict(r) for r in routes}
        self.wrr = _SmoothWRR({r["instance_id"]: r["weight"] for r in routes})
        self.generation += 1
        if self.wrr.weights:
            self.routable.set()
        else:
            self.routable.clear()
        self._event("routes", generation=self.generation,
                    weights={k: round(v, 6) for k, v in self.wrr.weights.items()})
        return self.generation

    async def drain(self, instance_ids: list[str], timeout_s: float = 120.0) -> dict:
        """Wait until no request is in flight to these instances (they must be unrouted first)."""
        t0 = time.monotonic()
        while any(self.inflight.get(i, 0) for i in instance_ids):
            if time.monotonic() - t0 > timeout_s:
                return {"drained": False, "waited_s": time.monotonic() - t0,
                        "inflight": {i: self.inflight.get(i, 0) for i in instance_ids}}
            await asyncio.sleep(0.02)
        return {"drained": True, "waited_s": time.monotonic() - t0}

    def status(self) -> dict:
        return {"generation": self.generation, "received": self.received, "answered": self.answered,
                "failed": self.failed, "inflight": dict(self.inflight),
                "routes": list(self.meta.values())}

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
    async def infer(self, request: dict) -> dict:
        """Serve one request: route, retry on replica loss, report where and how long."""
        t0 = time.perf_counter()
        self.received += 1
        attempts, last_err = 0, ""
        deadline = time.monotonic() + RETRY_DEADLINE_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.failed += 1
                self._event("gave-up", id=request.get("id"), attempts=attempts, error=last_err)
                return {"id": request.get("id"), "error": f"no instance answered: {last_err}",
                        "attempts": attempts, "server_ms": (time.perf_counter() - t0) * 1000}
            if not self.routable.is_set():
                try:
                    await asyncio.wait_for(self.routable.wait(), timeout=remaining)
                except asyncio.TimeoutError:
                    continue
            gen = self.generation
            iid = self.wrr.pick()
            if iid is None:
                self.routable.clear()
                continue
            handle = self.handles[iid]
            attempts += 1
            self.inflight[iid] = self.inflight.get(iid, 0) + 1
            try:
                out = await handle.remote(request)
            except Exception as exc:  # replica died / app deleted / unavailable: retry
                last_err = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                self._event("retry", id=request.get("id"), instance=iid, attempt=attempts,
                            generation=gen, error=last_err[:300])
                request = {k: v for k, v in request.items() if k != "fault"}  # drills are one-shot
                await asyncio.sleep(min(0.05 * attempts, 1.0))
                continue
            finally:
                self.inflight[iid] -= 1
            self.answered += 1
            out["attempts"] = attempts
            out["server_ms"] = (time.perf_counter() - t0) * 1000.0
            return out

    async def __call__(self, http_request) -> Any:
        from starlette.responses import JSONResponse

        path = http_request.url.path.rstrip("/")
        if path.endswith("/healthz"):
            return JSONResponse({"ok": True, "routable": self.routable.is_set()})
        if path.endswith("/routes"):
            return JSONResponse(self.status())
        if not path.endswith("/infer") or http_request.method != "POST":
            return JSONResponse({"error": "POST /infer with a JSON object"}, status_code=404)
        try:
            body = await http_request.json()
        except Exception:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        out = await self.infer(body)
        return JSONResponse(out, status_code=503 if "error" in out else 200)
