"""``clover serve`` (a service for any HTTP client) and the flags of ``clover live``.

``clover live`` is registered by ``clover.control.cli`` (an alias of ``clover run --backend
live``, which lives in ``control``: ``serve`` does not import ``control``); its flags are
defined here, beside the service they configure (:func:`add_live_args`).
"""

from __future__ import annotations

import argparse
import sys
import time

from clover.cliutil import add_command_group, seed_value
from clover.errors import CloverError
from clover.mig.geometry import DEFAULT_GPU, GPUS
from clover.models.catalog import APPS
from clover.names import SCHEME_NAMES


def _on_sigterm_like_ctrl_c(fn):
    """Run ``fn`` with SIGTERM taking the Ctrl-C path (service stopped, Ray shut down), then
    exit 143 (128 + SIGTERM) after a SIGTERM."""
    import functools

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        from clover.serve.safety import call_with_sigterm_as_ctrl_c

        return call_with_sigterm_as_ctrl_c(fn, args)

    return run


def _serve_up(args: argparse.Namespace) -> int:
    """Deploy one configuration and serve until interrupted."""
    from pathlib import Path

    from clover.models.configuration import Configuration
    from clover.serve.cluster import load_cluster, local_cluster
    from clover.serve.safety import Terminated
    from clover.serve.service import LiveService

    from clover.cliutil import read_json_object

    path = Path(args.configuration)
    data = read_json_object(path, "configuration file")  # size-capped; an object or one line
    inner = data.get("configuration", data)
    if not isinstance(inner, dict):
        raise CloverError(f"configuration file {path}: 'configuration' must be a JSON object, "
                          f"got {type(inner).__name__}")
    config = Configuration.from_dict(inner).validate()
    cluster = (load_cluster(args.cluster) if args.cluster
               else local_cluster(args.backend, config.n_gpus, config.gpu, args.cores_per_gpu, args.port))
    with LiveService(cluster, input_scale=args.input_scale, num_cpus=args.num_cpus) as svc:
        rep = svc.deploy(config)
        print(f"serving {config.key()} at {svc.url}/infer (POST JSON) after {rep.reconfig_s:.1f} s; "
              "Ctrl-C stops", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt as exc:
            print("stopping", file=sys.stderr, flush=True)
            if isinstance(exc, Terminated):
                raise  # after the service stopped (with-block): exit 143
    return 0


#: ``clover live``'s one-line help (the parser is made by ``clover.control.cli``)
LIVE_HELP = ("run a scheme over a carbon trace on the live service "
             "(Ray Serve on MIG slices, or CPU cores on a laptop)")


def add_live_run_flags(p: argparse.ArgumentParser) -> None:
    """The live flags of ``clover run`` / ``run-grid`` (``--backend live``); each overrides
    its ``CLOVER_LIVE_*`` variable (:meth:`clover.serve.live.LiveSettings.with_flags`)."""
    p.add_argument("--hour-seconds", type=float, default=None,
                   help="live: wall seconds one trace hour is served (default "
                        "CLOVER_LIVE_HOUR_SECONDS, else 20)")
    p.add_argument("--input-scale", type=float, default=None,
                   help="live: fraction of each model's native input size (default "
                        "CLOVER_LIVE_INPUT_SCALE, else 1)")
    p.add_argument("--search", choices=["sim", "live"], default=None,
                   help="live: candidates deployed and measured for --eval-window-s (live, "
                        "the paper's online evaluation; default CLOVER_LIVE_SEARCH, else live) "
                        "or scored by the simulator (sim)")
    p.add_argument("--base-deploy", choices=["equivalent", "full"], default=None,
                   help="live, protocol with k > 1: BASE's reference on N GPUs at R/k (the "
                        "artifact's equivalence, default) or on k x N GPUs at R")


def add_live_args(p: argparse.ArgumentParser) -> None:
    """The flags of ``clover live``; ``clover.control.cli`` maps them onto ``clover run
    --backend live`` and :class:`clover.serve.live.LiveSettings`."""
    p.add_argument("--app", required=True, choices=sorted(APPS))
    p.add_argument("--backend", default="cpu", choices=["cpu", "cuda"],
                   help="cpu: slices are shares of CPU cores (laptop); cuda: MIG slices")
    # checked by the run parser (its choices), which clover live's flags go through
    p.add_argument("--scheme", default="clover",
                   help=f"{', '.join(SCHEME_NAMES)} (default clover)")
    p.add_argument("--trace", default="CISO-March", help="carbon trace (preset, zone spec or CSV)")
    p.add_argument("--hours", type=int, default=3, help="hours of the trace to run (default 3)")
    p.add_argument("--hour-seconds", type=float, default=20.0,
                   help="wall seconds one trace hour is served (time compression; default 20)")
    p.add_argument("--input-scale", type=float, default=1.0,
                   help="fraction of each model's native input size (e.g. 0.25 on a laptop); "
                        "stated in the log")
    p.add_argument("--cluster", help="cluster YAML (nodes, GPUs, MIG UUIDs); default: this machine")
    p.add_argument("--gpus", type=int, default=1, help="GPUs (emulated on CPU) without --cluster")
    p.add_argument("--gpu", help=f"GPU model: {', '.join(GPUS)} (default: clover run's, "
                                 f"{DEFAULT_GPU})")
    p.add_argument("--cores-per-gpu", type=int, default=0,
                   help="cpu backend: cores emulating one GPU (default: all cores / GPUs)")
    p.add_argument("--lam", type=float,
                   help="λ of the objective (default: clover run's, the protocol's)")
    p.add_argument("--max-accuracy-loss", default="none", help="'none' or percent vs BASE")
    p.add_argument("--search", default="sim", choices=["sim", "live"],
                   help="score the scheme's candidates with the simulator (fast) or deploy and "
                        "measure each on the live service (the paper's online evaluation)")
    p.add_argument("--candidate-window-s", type=float, default=5.0,
                   help="measurement window of one online candidate (--search live)")
    p.add_argument("--arrivals", default="poisson", help="poisson, azure:code or azure:conv")
    p.add_argument("--rate-rps", type=float, help="offered load (default: load fraction x BASE capacity)")
    p.add_argument("--load-fraction", type=float, default=None,
                   help="offered load as a fraction of BASE's profiled capacity "
                        "(default: the Problem's, clover.sim.problem.LOAD_FRACTION)")
    p.add_argument("--sla-ms", type=float, help="p95 SLA (default: measured BASE p95 x --sla-factor)")
    p.add_argument("--sla-factor", type=float, default=1.0)
    p.add_argument("--profiles", help="profile table CSV (default: calibrate on CPU / model on GPU)")
    p.add_argument("--calib-iterations", type=int, default=10)
    p.add_argument("--scheme-params-json", help="JSON object of make_scheme parameters")
    p.add_argument("--seed", type=seed_value(), help="default: clover run's (0)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port of the service (loopback)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray instance")
    p.add_argument("--out-dir", default="results/live", help="where logs go (default results/live)")
    p.add_argument("--data-dir", help="data directory (default: CLOVER_DATA, ../shared/data, ...)")


def register(sub: argparse._SubParsersAction) -> None:
    ss = add_command_group(sub, "serve", "the live inference service for any HTTP client")
    up = ss.add_parser("up", help="deploy a configuration and serve POST /infer until Ctrl-C")
    up.add_argument("--configuration", required=True, help="Configuration JSON (as_dict form)")
    up.add_argument("--cluster", help="cluster YAML; default: this machine")
    up.add_argument("--backend", default="cpu", choices=["cpu", "cuda"])
    up.add_argument("--input-scale", type=float, default=1.0)
    up.add_argument("--cores-per-gpu", type=int, default=0)
    up.add_argument("--num-cpus", type=int, default=None)
    up.add_argument("--port", type=int, default=8000)
    up.set_defaults(func=_on_sigterm_like_ctrl_c(_serve_up))
