"""The measurement worker: load one real model, warm up, run timed iterations on command.

The same code times the CPU stand-in (in-process, :class:`LocalWorker`) and the MIG slices
(a subprocess per slice, started with ``CUDA_VISIBLE_DEVICES=<MIG UUID>`` in its environment
before torch is imported; ``python -m clover.profiles.worker``). The parent reads the energy
counter between ``load`` and ``go`` so that model construction and warm-up are not metered.

Protocol (one JSON object per line, parent -> worker on stdin, reply on stdout):

* ``{"cmd": "load", "variant", "batch_size", "input_size", "warmup", "device", "threads",
  "weights"}`` -> ``{"ok": true, "params_m", "env_cuda_visible_devices", "torch"}`` or
  ``{"ok": false, "oom": bool, "error"}``
* ``{"cmd": "go", "iters"}`` -> ``{"ok": true, "latencies_ms": [...], "peak_memory_mb",
  "wall_s"}``
* ``{"cmd": "quit"}``
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from typing import Any

from clover.profiles.timing import time_passes


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


class LocalWorker:
    """Loads and times one model at a time in this process.

    ``builders``: the module that builds models and inputs (``build_model``,
    ``example_inputs``, ``inputs_to``, ``run_inference``, ``param_count_m``).
    """

    def __init__(self, builders: str = "clover.models.builders") -> None:
        self.builders = importlib.import_module(builders)
        self.model = None
        self.inputs: dict | None = None
        self.device = "cpu"

    def load(self, variant: str, batch_size: int = 1, input_size: int | None = None,
             warmup: int = 5, device: str = "cpu", threads: int | None = None,
             weights: str | None = None, seed: int = 0) -> dict[str, Any]:
        import torch

        b = self.builders
        self.close()
        if threads:
            torch.set_num_threads(int(threads))
        torch.manual_seed(seed)
        self.device = device
        if device.startswith("cuda"):
            torch.backends.cuda.matmul.allow_tf32 = True  # TF32 as the modeled backend assumes
            torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = False
            torch.cuda.reset_peak_memory_stats()
        try:
            self.model = b.build_model(variant, weights=weights, device=device)
            self.inputs = b.inputs_to(b.example_inputs(variant, batch_size, input_size=input_size,
                                                       seed=seed), device)
            time_passes(self._pass, 0, warmup=warmup, sync=self._sync)
        except Exception as exc:  # OOM is an answer ("does not fit"), not a crash
            oom = "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"
            self.close()
            return {"ok": False, "oom": oom, "error": f"{type(exc).__name__}: {exc}"[:500]}
        return {"ok": True, "params_m": b.param_count_m(self.model),
                "env_cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "torch": torch.__version__, "threads": torch.get_num_threads()}

    def _pass(self) -> None:
        self.builders.run_inference(self.model, self.inputs)

    def _sync(self) -> None:
        _sync(self.device)

    def go(self, iters: int) -> dict[str, Any]:
        if self.model is None:
            return {"ok": False, "oom": False, "error": "go before a successful load"}
        t0 = time.perf_counter()
        lat = time_passes(self._pass, iters, sync=self._sync)
        wall = time.perf_counter() - t0
        peak = None
        if self.device.startswith("cuda"):
            import torch

            peak = torch.cuda.max_memory_reserved() / 1e6
        return {"ok": True, "latencies_ms": lat, "peak_memory_mb": peak, "wall_s": wall}

    def close(self) -> None:
        self.model = None
        self.inputs = None
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


def serve(stdin=None, stdout=None) -> int:
    """Answer protocol lines until ``quit`` or end of input."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    worker = LocalWorker()
    for line in stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
            cmd = msg.pop("cmd")
            if cmd == "quit":
                break
            if cmd == "load":
                reply = worker.load(**msg)
            elif cmd == "go":
                reply = worker.go(**msg)
            else:
                reply = {"ok": False, "oom": False, "error": f"unknown command {cmd!r}"}
        except Exception as exc:  # report, keep serving
            reply = {"ok": False, "oom": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()
    worker.close()
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in tests
    raise SystemExit(serve())
