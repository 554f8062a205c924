"""The live service: Ray + Ray Serve, the ingress, and reconfiguration without lost requests.

:class:`LiveService` owns the Serve applications of one service. ``deploy(configuration,
shares)`` moves the service to a new configuration:

1. plan the instances (placements that keep existing MIG instances and replicas),
2. unroute the instances that go (the ingress keeps serving with the rest, or holds requests
   when nothing is left) and wait until their in-flight requests are answered (drain),
3. free their workers (:mod:`clover.serve.pool`); on GPU nodes delete the workers on GPUs whose
   layout changes and let the node's :class:`MigAgent` change the MIG instances there,
4. start the new instances, each on a free worker of the same binding (re-aimed in place, no
   process start) or on a new one (a Serve application pinned to its node, bound to its
   slice); on CPU park the free workers left, up to the pool's bound,
5. route with the simulator's shares; held requests go out now.

Nothing that reached the ingress is dropped: requests wait in the ingress while no instance is
routable and are retried if their replica goes away. The time of steps 2-5 is ``reconfig_s``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from clover.errors import CloverError
from clover.models.catalog import get_variant
from clover.models.configuration import Configuration
from clover.serve.cluster import (ClusterSpec, Diff, InstanceSpec, diff_instances,
                                  layouts_changed, plan_instances, slots_relaid, with_devices)
from clover.serve.placement import MigPlacement
from clover.serve.pool import (WORKER_PREFIX, assign_workers, binding_spec, model_config,
                               with_apps, worker_version)
from clover.serve.safety import IngressLimits, check_http_host, loopback_ray_env

log = logging.getLogger("clover.serve")

INGRESS_APP = "clover"

#: bound of one control call from the driver to the ingress or an agent (s)
CONTROL_TIMEOUT_S = 60.0
#: bound of starting new replicas (model load, warm-up) before a deploy rolls back (s)
START_TIMEOUT_S = 600.0


def route_weights(instances: Sequence[InstanceSpec],
                  shares: Mapping[tuple[str, str], float] | None) -> tuple[dict[str, float], str]:
    """Per-instance routing weights from the simulator's shares {(variant, slice): req/s}.

    A (variant, slice) share is split evenly over its instances. Without shares (no simulator
    evaluator given) the fallback is proportional to compute slices / GFLOPs, a capacity proxy,
    and the returned label says so.
    """
    groups: dict[tuple[str, str], list[InstanceSpec]] = {}
    for inst in instances:
        groups.setdefault((inst.variant, inst.profile), []).append(inst)
    if shares:
        unknown = {k for k, v in shares.items() if v > 0} - set(groups)
        if unknown:
            raise CloverError(f"router shares name (variant, slice) pairs not deployed: {sorted(unknown)}")
        w = {i.instance_id: float(shares.get(k, 0.0)) / len(g) for k, g in groups.items() for i in g}
        if sum(w.values()) > 0:
            return w, "simulator"
    w = {i.instance_id: int(i.profile.split("g.")[0]) / get_variant(i.variant).gflops for i in instances}
    return w, "capacity-proxy"


@dataclass
class ReconfigReport:
    """What a deploy did and how long it took."""

    reconfig_s: float
    kept: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    #: instances of ``started`` that took a warm worker (model swapped in place, no new process)
    reused: list[str] = field(default_factory=list)
    mig_ops: list[dict] = field(default_factory=list)
    drain_s: float = 0.0
    weights_source: str = ""
    #: GPUs whose slice layout (placements of profiles) changed: MIG re-partitions on GPU
    #: nodes, re-divided core shares on CPU
    layouts_changed: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _abs_pythonpath() -> str:
    """PYTHONPATH for local Ray workers: this package's parent first, all entries absolute."""
    here = str(Path(__file__).resolve().parents[2])
    parts = [here] + [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    seen, out = set(), []
    for p in parts:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return os.pathsep.join(out)


class LiveService(MigPlacement):
    """One Clover inference service on Ray Serve.

    Args:
        cluster: where to run (:func:`~clover.serve.cluster.load_cluster` or ``local_cluster``).
        input_scale: fraction of each variant's native input size (laptops; 1.0 = paper).
        builders_module: module providing build_model / example_inputs / run_inference.
        num_cpus: CPUs of a local Ray instance (None: all).
        allow_faults: let requests carry ``"fault": "crash"`` (a replica dies mid-request) or
            ``"fault": "sleep:<s>"`` (a slow request); drills and tests. Off by default.
        limits: the ingress' bounds (default: the cluster file's ``limits``).
    """

    def __init__(self, cluster: ClusterSpec, *, input_scale: float = 1.0,
                 builders_module: str = "clover.models.builders", num_cpus: int | None = None,
                 seed: int = 0, allow_faults: bool = False,
                 limits: IngressLimits | None = None) -> None:
        self.cluster = cluster
        self.limits = (limits or cluster.limits).validate()
        self.input_scale = input_scale
        self.builders_module = builders_module
        self.num_cpus = num_cpus
        self.seed = seed
        self.allow_faults = allow_faults
        self.instances: list[InstanceSpec] = []
        self.weights: dict[str, float] = {}
        self.configuration: Configuration | None = None
        #: warm workers no instance uses (worker app -> the instance it last served)
        self.parked: dict[str, InstanceSpec] = {}
        self.ingress = None
        #: the protocol's serving knobs (:meth:`set_protocol`): dispatch, request batch, and
        #: the canonical instance order of FCFS ties ((variant, slice) pairs)
        self.dispatch, self.request_batch, self.type_order = "optimal", 1, ()
        self._agents: dict[str, Any] = {}
        self._started_ray = False
        self.node_cpus = os.cpu_count() or 1

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "LiveService":
        import ray
        from ray import serve

        from clover.serve.app import ingress_app
        from clover.serve.listener import check_free

        check_http_host(self.cluster.http_host, self.cluster.expose)  # before Ray starts
        check_free(self.cluster.http_host, self.cluster.http_port, bool(self.cluster.ray_address))
        if not ray.is_initialized():
            # ray.init installs its own SIGTERM handler (sys.exit); keep the caller's
            # (clover.serve.safety.install_sigterm: same shutdown path as Ctrl-C)
            on_term = signal.getsignal(signal.SIGTERM)
            if self.cluster.ray_address:
                ray.init(address=self.cluster.ray_address, log_to_driver=False)
            else:
                os.environ["PYTHONPATH"] = _abs_pythonpath()
                with contextlib.ExitStack() as stack:
                    if not self.cluster.expose:  # GCS, raylet, agents on 127.0.0.1 only
                        stack.enter_context(loopback_ray_env())
                    ray.init(num_cpus=self.num_cpus or os.cpu_count(), include_dashboard=False,
                             log_to_driver=False, configure_logging=True,
                             logging_level=logging.WARNING)
                self._started_ray = True
            if (threading.current_thread() is threading.main_thread()
                    and on_term not in (None, signal.SIG_DFL)):
                signal.signal(signal.SIGTERM, on_term)
        self.node_cpus = int(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
        serve.start(proxy_location="Disabled",  # the ingress listens itself (.listener)
                    logging_config={"log_level": "WARNING"})
        app = ingress_app(self.limits.as_dict(), self.cluster.http_host, self.cluster.http_port,
                          ray.util.get_node_ip_address())
        self.ingress = serve.run(app, name=INGRESS_APP, route_prefix=None)
        self._control(self.ingress.listen.remote())
        return self

    def stop(self) -> None:
        """Delete the service's Serve applications (and the local Ray instance it started)."""
        import ray
        from ray import serve

        if not ray.is_initialized():
            return
        try:
            with contextlib.suppress(Exception):  # stop accepting; open requests finish
                self._control(self.ingress.close.remote(10.0))  # (<= 10 s; none if dead)
            for app in [i.app_name for i in self.instances] + list(self.parked):
                serve.delete(app, _blocking=False)
            serve.delete(INGRESS_APP)
            if self._started_ray:
                serve.shutdown()
        finally:
            for a in self._agents.values():
                if isinstance(a, ray.actor.ActorHandle):
                    ray.kill(a)
            self._agents.clear()
            if self._started_ray:
                ray.shutdown()
                self._started_ray = False
        self.instances, self.parked = [], {}

    def __enter__(self) -> "LiveService":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.cluster.url

    def set_protocol(self, dispatch: str = "optimal", request_batch: int = 1,
                     type_order: Sequence[tuple[str, str]] = ()) -> None:
        """Serve under a protocol's knobs from the next deploy on: ``dispatch`` ``fcfs`` (the
        artifact's one queue; :mod:`clover.serve.fcfs_dispatch`) or ``optimal`` (weighted),
        ``request_batch`` inputs per request (one forward pass), ``type_order`` the instance
        order of FCFS ties (the simulator's type order)."""
        if dispatch not in ("optimal", "fcfs"):
            raise CloverError(f"dispatch must be optimal or fcfs, not {dispatch!r}")
        if int(request_batch) < 1:
            raise CloverError(f"request batch must be >= 1 (got {request_batch})")
        self.dispatch, self.request_batch = dispatch, int(request_batch)
        self.type_order = tuple(tuple(k) for k in type_order)

    # ------------------------------------------------------------------ placement
    def _node_resource(self, inst: InstanceSpec) -> str:
        import ray

        address = inst.node_address
        if address == "local":
            address = ray.util.get_node_ip_address()
        return f"node:{address}"

    # ------------------------------------------------------------------ deployment
    def _targets(self, instances: Sequence[InstanceSpec]):
        """One Serve target per instance, on its worker (``app_name``): the process binding as
        constructor arguments under a version fixed by the binding, the instance as
        ``user_config``, so that re-targeting a running worker re-aims it (``reconfigure``)."""
        from ray import serve

        from clover.serve.replica import SliceReplica

        targets = []
        for inst in instances:
            opts: dict[str, Any] = {"num_cpus": 0, "resources": {self._node_resource(inst): 0.001}}
            if inst.device != "cpu":
                opts["runtime_env"] = {"env_vars": {"CUDA_VISIBLE_DEVICES": inst.device}}
            binding = binding_spec(inst)
            # ``version`` is Serve-internal in Ray 2.60 (pinned); without it every serve.run
            # draws a random code version and restarts the replica
            dep = SliceReplica.options(
                name="SliceReplica", ray_actor_options=opts, _internal=True,
                version=worker_version(binding, self.builders_module, self.seed),
                user_config=model_config(inst, self.request_batch, self.allow_faults))
            targets.append(serve.RunTarget(dep.bind(binding, self.builders_module, self.seed),
                                           name=inst.app_name, route_prefix=None))
        return targets

    def _routes(self, instances: Sequence[InstanceSpec], weights: Mapping[str, float]) -> list[dict]:
        if self.dispatch == "fcfs" and self.type_order:  # the simulator's instance order
            rank = {k: n for n, k in enumerate(self.type_order)}
            instances = sorted(instances, key=lambda i: (rank.get((i.variant, i.profile), 1 << 30),
                                                         i.slot, i.start))
        return [{"instance_id": i.instance_id, "app_name": i.app_name,
                 "weight": float(weights.get(i.instance_id, 0.0)), "variant": i.variant,
                 "slice": i.profile, "slot": i.slot, "start": i.start, "device": i.device}
                for i in instances]

    def plan(self, configuration: Configuration) -> tuple[list[InstanceSpec], Diff, dict]:
        """Instances of ``configuration`` and the diff from what runs now (changes nothing)."""
        configuration = configuration.validate()
        uuids: dict = {}
        mig_current: dict = {}
        if self.cluster.backend == "cuda":
            mig_current, uuids = self._mig_state(range(configuration.n_gpus))
        new = plan_instances(configuration, self.cluster, self.instances, mig_current, uuids,
                             self.input_scale, self.node_cpus)
        return new, diff_instances(self.instances, new), uuids

    def _control(self, response, timeout_s: float = CONTROL_TIMEOUT_S):
        """The result of a control call to the ingress, bounded in time."""
        return response.result(timeout_s=timeout_s)

    def _set_routes(self, instances: Sequence[InstanceSpec], weights: Mapping[str, float]) -> int:
        return self._control(self.ingress.set_routes.remote(self._routes(instances, weights),
                                                             self.dispatch))

    def _start_instances(self, instances: Sequence[InstanceSpec],
                         timeout_s: float = START_TIMEOUT_S) -> None:
        """Start one Serve application per instance; raise unless all run within ``timeout_s``."""
        from ray import serve

        serve.run_many(self._targets(instances), wait_for_applications_running=False)
        names = {i.app_name for i in instances}
        deadline = time.monotonic() + timeout_s
        while True:
            apps = serve.status().applications
            states = {n: str(getattr(apps.get(n), "status", "NOT_STARTED")) for n in names}
            failed = {n: st for n, st in states.items() if "FAIL" in st or "UNHEALTHY" in st}
            if failed:
                msgs = {n: getattr(apps[n], "message", "")[:300] for n in failed}
                raise CloverError(f"replicas failed to start: {msgs}")
            if all(st.endswith("RUNNING") for st in states.values()) and self._aimed(instances):
                return
            if time.monotonic() > deadline:
                raise CloverError(f"replicas not running after {timeout_s:.0f} s: {states}")
            time.sleep(0.1)

    def _aimed(self, instances: Sequence[InstanceSpec]) -> bool:
        """Whether every worker reports its instance (no request reaches an old model)."""
        from ray import serve

        for i in instances:
            try:
                h = serve.get_deployment_handle("SliceReplica", app_name=i.app_name)
                if h.stats.remote().result(timeout_s=CONTROL_TIMEOUT_S)["instance"] != i.instance_id:
                    return False
            except Exception:  # not reachable yet: poll again
                return False
        return True

    def _delete(self, apps: Sequence[str]) -> None:
        """Delete these Serve applications (workers), all at once."""
        from ray import serve

        for app in apps:
            serve.delete(app, _blocking=False)
        for app in apps:
            serve.delete(app, _blocking=True)

    def deploy(self, configuration: Configuration,
               shares: Mapping[tuple[str, str], float] | None = None,
               drain_timeout_s: float = 120.0) -> ReconfigReport:
        """Move the live service to ``configuration`` and route with ``shares``.

        On failure (replicas do not drain within ``drain_timeout_s``, a MIG change or a
        replica start fails or times out) the previous replicas are restored and routed with
        their previous weights, and a :class:`CloverError` says what failed (and whether the
        rollback succeeded).
        """
        if self.ingress is None:
            raise CloverError("LiveService.start() first")
        t0 = time.monotonic()
        new, diff, uuids = self.plan(configuration)
        report = ReconfigReport(0.0, [i.instance_id for i in diff.keep],
                                [i.instance_id for i in diff.stop], [])
        old_instances, old_weights = list(self.instances), dict(self.weights)
        if diff.stop:
            keep_ids = {i.instance_id for i in diff.keep}
            remaining = [i for i in self.instances if i.instance_id in keep_ids]
            t_d = time.monotonic()
            ids = [i.instance_id for i in diff.stop]
            try:
                self._set_routes(remaining, self.weights)
                res = self._control(self.ingress.drain.remote(ids, drain_timeout_s),
                                    drain_timeout_s + CONTROL_TIMEOUT_S)
            except Exception as exc:  # control call failed or timed out: nothing stopped yet
                res = {"drained": False, "inflight": f"unknown ({type(exc).__name__}: {exc})"}
            report.drain_s = time.monotonic() - t_d
            if not res["drained"]:
                self._set_routes(old_instances, old_weights)  # nothing was stopped yet
                raise CloverError(f"replicas did not drain within {drain_timeout_s:g} s "
                                  f"({res['inflight']} in flight); kept the previous replicas")
        try:
            new = self._place(new, diff, uuids, report, old_instances)
            weights, source = route_weights(new, shares)
            self._set_routes(new, weights)
        except Exception as exc:
            why = exc.message if isinstance(exc, CloverError) else f"{type(exc).__name__}: {exc}"
            raise CloverError(f"reconfiguration failed ({why}); "
                              + self._rollback(old_instances, old_weights, report.kept)) from None
        report.layouts_changed = layouts_changed(old_instances, new)
        self.instances, self.weights, self.configuration = list(new), weights, configuration
        report.weights_source = source
        report.reconfig_s = time.monotonic() - t0
        return report

    def _place(self, new: list[InstanceSpec], diff: Diff, uuids: dict, report: ReconfigReport,
               old: Sequence[InstanceSpec]) -> list[InstanceSpec]:
        """Steps 3-4 of a deploy: free the stopped instances' workers, change MIG layouts
        (GPU nodes), start the new instances on warm or new workers; returns the new instances
        with their devices and workers."""
        free = {**{i.app_name: i for i in diff.stop}, **self.parked}  # stopped ones first
        self.parked = {}
        relaid = slots_relaid(old, new)
        if self.cluster.backend == "cuda":
            gone = [a for a, i in free.items() if i.slot in relaid]  # on MIG devices to change
            self._delete(gone)
            free = {a: i for a, i in free.items() if a not in gone}
            if relaid:
                report.mig_ops, new_uuids = self._apply_mig(new, relaid)
                uuids = {**uuids, **new_uuids}
            new = with_devices(new, uuids)
            diff = diff_instances([i for i in old if i.instance_id in set(report.kept)], new)
        plan = assign_workers(diff.start, free, diff.keep, self.cluster.backend)  # relaid: gone
        self._delete(plan.delete)
        if plan.instances:
            self._start_instances(plan.instances)
        report.started = [i.instance_id for i in plan.instances]
        report.reused = list(plan.reused)
        self.parked = dict(plan.parked)
        return with_apps(new, {i.instance_id: i.app for i in list(diff.keep) + plan.instances})

    def _rollback(self, old: Sequence[InstanceSpec], weights: Mapping[str, float],
                  kept: Sequence[str]) -> str:
        """Bring back the replicas of ``old`` after a failed deploy; returns what happened.

        Every worker the old instances do not use is deleted (the pool starts empty again);
        the old instances' workers are re-aimed at them, or started again where gone."""
        kept_ids = set(kept)
        try:
            from ray import serve

            apps = serve.status().applications
            old_apps = {o.app_name for o in old}
            self._delete([a for a in apps if a.startswith(WORKER_PREFIX) and a not in old_apps])
            self.parked = {}
            back = [i for i in old if i.instance_id not in kept_ids]
            if back and self.cluster.backend == "cuda":
                _, uuids = self._apply_mig(old, {i.slot for i in back})
                back = with_devices(back, uuids)
                old = [i for i in old if i.instance_id in kept_ids] + back
            if back:
                self._start_instances(back)
            self._set_routes(old, weights)
        except Exception as exc:  # the service holds requests (no routes) until the next deploy
            self.instances = [i for i in old if i.instance_id in kept_ids]
            log.error("rollback failed: %s", exc)
            return f"rollback to the previous replicas failed too: {type(exc).__name__}: {exc}"
        self.instances = list(old)
        log.warning("deploy failed; rolled back to the previous %d replicas", len(old))
        return f"rolled back to the previous {len(old)} replicas"

    def release_parked(self) -> list[str]:
        """Delete the parked workers (their memory back; the next deploy starts afresh)."""
        apps, self.parked = sorted(self.parked), {}
        return self._delete(apps) or apps

    def set_shares(self, shares: Mapping[tuple[str, str], float] | None) -> str:
        """Re-weight the current instances without redeploying."""
        weights, source = route_weights(self.instances, shares)
        self._set_routes(self.instances, weights)
        self.weights = weights
        return source

    def energy_meter(self):
        """NVML energy meter over every GPU slot of the cluster (cuda backend)."""
        from clover.serve.agent import AgentEnergyMeter

        agents, gpus = {}, {}
        for node, g in self.cluster.gpu_slots:
            agents[node.name] = self._agent(node.name, node.address)
            gpus.setdefault(node.name, []).append(g)
        return AgentEnergyMeter(agents, gpus)

    # ------------------------------------------------------------------ observation
    def events(self, since: float = 0.0) -> list[dict]:
        return self._control(self.ingress.events.remote(since))

    def status(self) -> dict:
        return self._control(self.ingress.status.remote())

    def stats(self) -> dict:
        """The ingress' request accounting (:class:`clover.serve.safety.RequestCounters`)."""
        return self._control(self.ingress.stats.remote())

    def idle_stats(self, timeout_s: float = 30.0) -> dict:
        """:meth:`stats` once nothing is in flight (or after ``timeout_s``: bounded wait)."""
        deadline = time.monotonic() + timeout_s
        while True:
            st = self.stats()
            if st["in_flight"] == 0 or time.monotonic() > deadline:
                return st
            time.sleep(0.1)

    def set_limits(self, limits: IngressLimits) -> None:
        """Change the ingress' bounds at run time (tests, drills)."""
        self._control(self.ingress.set_limits.remote(limits.validate().as_dict()))

    def replica_stats(self) -> dict[str, dict]:
        """served requests and busy seconds per instance (since each replica started)."""
        from ray import serve

        out = {}
        for inst in self.instances:
            h = serve.get_deployment_handle("SliceReplica", app_name=inst.app_name)
            try:
                out[inst.instance_id] = h.stats.remote().result(timeout_s=30)
            except Exception as exc:  # a replica restarting: no stats this time
                out[inst.instance_id] = {"error": type(exc).__name__}
        return out

    def crash(self, instance_id: str) -> bool:
        """Fault injection: kill one replica's process (Serve restarts it)."""
        return self._control(self.ingress.crash_instance.remote(instance_id))

