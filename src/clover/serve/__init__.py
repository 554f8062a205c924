"""Live backend: Ray Serve replicas bound to MIG slices (or CPU core shares), an ingress that
routes like the simulator, an open-loop load generator, energy meters and the live controller.

Importing this package does not import Ray or torch; the submodules that need them do.

Public API:

* :class:`clover.serve.service.LiveService` (``start``, ``deploy(configuration, shares)``,
  ``stop``, ``events``, ``crash``) and :mod:`clover.serve.cluster` (``load_cluster``,
  ``local_cluster``),
* :class:`clover.serve.evaluator.LiveEvaluator`: the ``clover.sim`` Evaluator protocol,
* :func:`clover.serve.loadgen.run_load` / ``run_open_loop`` / ``summarize``,
* energy windows from :mod:`clover.hw.energy` (NVML, RAPL, modeled; shared with the profiles),
  read on remote GPU nodes by :class:`clover.serve.agent.AgentEnergyMeter`,
* :func:`clover.serve.live.run_live` (``clover live``), and :func:`live_evaluator` below, which
  ``clover run --backend live`` (clover.control) uses.
"""

from __future__ import annotations

import atexit
import os


def live_evaluator(problem, *, cluster_file: str | None = None, backend: str | None = None,
                   window_s: float | None = None, input_scale: float | None = None,
                   arrivals: str | None = None, http_port: int | None = None):
    """A started live service wrapped as an Evaluator for ``problem`` (stopped at exit).

    Settings default to environment variables so that the Snakemake ``backend: live`` switch
    needs no code: ``CLOVER_LIVE_CLUSTER`` (cluster YAML; default: this machine),
    ``CLOVER_LIVE_BACKEND`` (``cpu``/``cuda`` without a cluster file; default ``cpu``),
    ``CLOVER_LIVE_WINDOW_S`` (evaluation window, default 10), ``CLOVER_LIVE_INPUT_SCALE``
    (default 1.0), ``CLOVER_LIVE_ARRIVALS`` (default ``poisson``), ``CLOVER_LIVE_PORT``
    (default 8000).
    """
    from clover.serve.cluster import load_cluster, local_cluster
    from clover.serve.evaluator import LiveEvaluator
    from clover.serve.service import LiveService

    env = os.environ.get
    cluster_file = cluster_file or env("CLOVER_LIVE_CLUSTER")
    port = int(http_port or env("CLOVER_LIVE_PORT", "8000"))
    if cluster_file:
        cluster = load_cluster(cluster_file)
    else:
        cluster = local_cluster(backend or env("CLOVER_LIVE_BACKEND", "cpu"), problem.n_gpus,
                                problem.gpu, http_port=port)
    scale = float(input_scale if input_scale is not None else env("CLOVER_LIVE_INPUT_SCALE", "1.0"))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    service = LiveService(cluster, input_scale=scale, seed=int(getattr(problem, "seed", 0))).start()
    atexit.register(service.stop)
    return LiveEvaluator(service, problem, window_s=float(window_s or env("CLOVER_LIVE_WINDOW_S", "10")),
                         arrivals=arrivals or env("CLOVER_LIVE_ARRIVALS", "poisson"),
                         seed=int(getattr(problem, "seed", 0)))


__all__ = ["live_evaluator"]
