"""Live backend: Ray Serve replicas bound to MIG slices (or CPU core shares), an ingress that
routes like the simulator, an open-loop load generator, energy meters, and the live parts of a
run.

Importing this package does not import Ray or torch; the submodules that need them do.

There is one controller for simulated and live runs (``clover.control.controller``);
``clover run --backend live`` (and its alias ``clover live``) gives it this package's pieces.
``serve`` does not import ``control``: the log columns and the cost seam they share live in
``clover.sim.runlog``.

Public API:

* :class:`clover.serve.service.LiveService` (``start``, ``deploy(configuration, shares)``,
  ``stop``, ``events``, ``crash``) and :mod:`clover.serve.cluster` (``load_cluster``,
  ``local_cluster``),
* :class:`clover.serve.evaluator.LiveEvaluator`: the ``clover.sim`` Evaluator protocol,
  measured (every deploy and window recorded),
* :mod:`clover.serve.live`: ``LiveSettings``, ``LiveBackend`` (cluster, profile table, service,
  BASE measured for the SLA and C_base) and ``MeasuredCosts`` (the controller's cost model,
  measured: deploys and serving windows),
* :func:`clover.serve.loadgen.run_load` / ``run_open_loop`` / ``summarize``,
* energy windows from :mod:`clover.hw.energy` (NVML, RAPL, modeled; shared with the profiles),
  read on remote GPU nodes by :class:`clover.serve.agent.AgentEnergyMeter`.
"""
