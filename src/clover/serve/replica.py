"""The worker deployment: one process per slice, serving one model variant.

:class:`SliceReplica` hosts one model variant on one slice. It is its own Serve application
(a worker, ``clover-w<n>``: :mod:`clover.serve.pool`; no HTTP route) with exactly one replica
whose instance is its ``user_config``, pinned to its node through Ray's built-in ``node:<ip>``
resource and bound to its slice *explicitly*: the MIG device UUID goes into
``CUDA_VISIBLE_DEVICES`` (set in the replica's runtime environment and again in ``__init__``
before torch initialises CUDA; Ray does not re-detect MIG devices after a re-partition) or, on
CPU, ``torch.set_num_threads`` and the CPU affinity of its core share. One request at a time
(batch 1, as the simulator assumes); further requests queue in the ingress
(:mod:`clover.serve.app`).

The model code comes from ``clover.models.builders`` (``build_model``, ``example_inputs``,
``run_inference``), imported inside the replica so that the environment is set first.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from ray import serve

from clover.serve.safety import bind_serve_grpc_to_loopback

log = logging.getLogger("clover.serve")


@serve.deployment(num_replicas=1, max_ongoing_requests=1, health_check_period_s=2.0,
                  health_check_timeout_s=60.0, graceful_shutdown_wait_loop_s=0.5,
                  graceful_shutdown_timeout_s=30.0)
class SliceReplica:
    """One process bound to one slice (MIG device or CPU core share), serving one model variant.

    The binding (device, threads, cores) is fixed for the process's life; the model is the
    deployment's ``user_config`` (:meth:`reconfigure`), so a reconfiguration that keeps the slice
    but changes the variant, or reuses a parked process of the same binding, swaps the model in
    place instead of starting a process, importing torch and building the model (5-10 s per
    replica on a 2-core laptop, measured; :mod:`clover.serve.pool`). Serve calls
    :meth:`reconfigure` after ``__init__`` and again after restarting a crashed replica, so a
    restarted process serves the variant it served before. A ``spec`` that names a variant
    (direct use, tests) loads it at once.
    """

    def __init__(self, spec: dict, builders_module: str = "clover.models.builders",
                 seed: int = 0) -> None:
        bind_serve_grpc_to_loopback()  # before Serve starts this replica's gRPC server
        self.binding = dict(spec)
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
        self._builders = importlib.import_module(builders_module)
        self._run = self._builders.run_inference
        self.seed = seed
        self.torch_device = "cuda:0" if device != "cpu" else "cpu"
        self.cuda = device != "cpu"
        if self.cuda:
            if not torch.cuda.is_available() or torch.cuda.device_count() != 1:
                raise RuntimeError(f"CUDA_VISIBLE_DEVICES={device}: torch sees "
                                   f"{torch.cuda.device_count()} CUDA devices, expected exactly 1 "
                                   "(the MIG slice)")
            props = torch.cuda.get_device_properties(0)
            log.info("replica bound to %s: %s, %d SMs, %.1f GiB", device, props.name,
                     props.multi_processor_count, props.total_memory / 2**30)
        self.model, self.inputs, self.loaded = None, None, None
        self.batch, self.load_s, self.loads = 1, 0.0, 0
        self.served, self.busy_s = 0, 0.0
        self.node = socket.gethostname()
        if self.spec.get("variant"):
            self.reconfigure(self.spec)

    def reconfigure(self, config: dict) -> None:
        """Serve ``config`` (variant, instance_id, profile, input_size, batch_size, ...) from
        now on: the model is built (and warmed up) only when variant, input size or batch
        differ from the one held; the request counters restart (they are per instance)."""
        spec = {**self.binding, **dict(config or {})}
        want = (spec["variant"], spec.get("input_size"), int(spec.get("batch_size") or 1))
        if want != self.loaded:
            self.model = self.inputs = None  # free the old model before building the new one
            if self.cuda:
                self.torch.cuda.empty_cache()
            t0 = time.perf_counter()
            self.model = self._builders.build_model(want[0], device=self.torch_device)
            inputs = self._builders.example_inputs(want[0], batch_size=want[2],
                                                   input_size=want[1], seed=self.seed)
            self.inputs = {k: v.to(self.torch_device) for k, v in inputs.items()}
            self.batch = want[2]  # inputs per request, one pass
            with self.torch.inference_mode():
                self._forward()  # warm-up (allocations, cuDNN autotune)
            self.load_s = time.perf_counter() - t0
            self.loaded, self.loads = want, self.loads + 1
        self.spec = spec
        self.served, self.busy_s = 0, 0.0
        log.info("replica %s ready: %s on %s (threads=%s cores=%s, model loads %d, %.1f s)",
                 spec.get("instance_id"), spec["variant"], spec["device"], spec.get("threads"),
                 spec.get("cores"), self.loads, self.load_s)

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
        fault = str(request.get("fault") or "")
        if fault.startswith("sleep:") and self.spec.get("allow_faults"):
            time.sleep(min(float(fault[6:]), 30.0))  # slow-request drill (timeouts, drains)
        if fault == "reject" and self.spec.get("allow_faults"):
            raise ValueError("request rejected by the model (drill)")
        if request.get("batch") not in (None, self.batch):
            raise ValueError(f"request of batch {request.get('batch')!r}, replica serves "
                             f"batch {self.batch}")
        t0 = time.perf_counter()
        with self.torch.inference_mode():
            self._forward()
        service_s = time.perf_counter() - t0
        self.served += 1
        self.busy_s += service_s
        return {"id": request.get("id"), "instance": self.spec["instance_id"],
                "variant": self.spec["variant"], "slice": self.spec["profile"],
                "device": self.spec["device"], "service_ms": service_s * 1000.0,
                "batch": self.batch,
                "pid": os.getpid(), "node": self.node}

    def stats(self) -> dict:
        return {"instance": self.spec["instance_id"], "served": self.served, "busy_s": self.busy_s,
                "load_s": self.load_s, "model_loads": self.loads, "pid": os.getpid()}

    def crash(self) -> None:
        """Fault injection (tests, drills): the replica process dies at once."""
        log.warning("replica %s: crash requested, exiting", self.spec["instance_id"])
        os._exit(17)
