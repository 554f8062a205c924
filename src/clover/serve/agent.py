"""Per-node MIG agent: a Ray actor on each GPU node that reads and changes MIG instances there.

The driver never touches a remote GPU itself: it asks the agent of that node, which runs the
:class:`~clover.mig.manager.MigManager` locally. The agent changes instances only when the
cluster file says ``mig_apply: true`` (otherwise it plans, and the wanted layout must already
exist), and only after the driver drained and removed the replicas of that GPU; it waits for
their processes to leave the GPU before it acts (the manager refuses otherwise).
"""

from __future__ import annotations

import time
from typing import Any

import ray

from clover.hw.energy import EnergyMeter


class NodeMigAgent:
    """MIG operations on the GPUs of one node (run as the Ray actor :data:`MigAgent`)."""

    def __init__(self, apply: bool, nvml: Any = None) -> None:
        from clover.mig.manager import MigManager

        self.apply_allowed = bool(apply)
        self.manager = MigManager(nvml=nvml, dry_run=not apply)
        self.manager.open()

    def status(self, gpu_indices: list[int]) -> dict[int, list[dict]]:
        return {i: [m.as_dict() for m in self.manager.instances(i)] for i in gpu_indices}

    def uuids(self, gpu_indices: list[int]) -> dict[int, dict[str, str]]:
        """GPU index -> {"profile@start": MIG UUID}."""
        return {i: {f"{p}@{s}": u for (s, p), u in self.manager.mig_uuids(i).items()}
                for i in gpu_indices}

    def ensure(self, layouts: dict[int, dict], wait_s: float = 60.0) -> dict:
        """Bring GPUs to ``layouts`` ({gpu index: Layout.as_dict()}); returns ops and UUIDs.

        Without permission to apply, returns the plan and ``ok=False`` if any op is needed.
        """
        from clover.errors import CloverError
        from clover.mig.geometry import layout_by_name

        target = {int(i): layout_by_name(d["gpu"], d["name"]) for i, d in layouts.items()}
        ops = self.manager.plan(target)
        if ops and not self.apply_allowed:
            return {"ok": False, "ops": [o.as_dict() for o in ops],
                    "error": "MIG layout differs and mig_apply is false: run `clover mig apply "
                             "--apply` on the node, or set mig_apply: true"}
        if ops:
            deadline = time.monotonic() + wait_s
            while True:  # replicas were removed: wait for their processes to exit
                busy = self.manager.blocking_processes(ops)
                if not busy:
                    break
                if time.monotonic() > deadline:
                    return {"ok": False, "ops": [o.as_dict() for o in ops],
                            "error": f"GPU processes did not exit: {busy}"}
                time.sleep(0.2)
            try:
                self.manager.apply(target, apply=True)
            except CloverError as exc:
                return {"ok": False, "ops": [o.as_dict() for o in ops], "error": exc.message}
        return {"ok": True, "ops": [o.as_dict() for o in ops], "uuids": self.uuids(list(target))}

    def energy_mj(self, gpu_indices: list[int]) -> dict[int, float]:
        """Total-energy counters (mJ, nvmlDeviceGetTotalEnergyConsumption) of these GPUs."""
        nv = self.manager.adapter
        return {i: nv.energy_mj(self.manager.handle(i), f"GPU {i}") for i in gpu_indices}


#: the agent as a Ray actor, pinned to its node by the driver (``node:<ip>`` resource)
MigAgent = ray.remote(num_cpus=0, max_restarts=3)(NodeMigAgent)


#: bound of one agent call (s): a MIG change waits up to 60 s for processes, then applies
AGENT_TIMEOUT_S = 300.0


def call(agent: Any, method: str, *args: Any, timeout_s: float = AGENT_TIMEOUT_S) -> Any:
    """Call an agent method on a Ray actor handle or on a local :class:`NodeMigAgent`.

    A remote call that does not return within ``timeout_s`` raises ``ray.exceptions.GetTimeoutError``.
    """
    fn = getattr(agent, method)
    if hasattr(fn, "remote"):
        return ray.get(fn.remote(*args), timeout=timeout_s)
    return fn(*args)


class AgentEnergyMeter(EnergyMeter):
    """NVML energy of every GPU of the service, read on each node by its agent.

    The windows of :class:`clover.hw.energy.EnergyMeter` (``begin_window``/``end_window``,
    or ``start``/``stop``) over counters that each node's agent reads; works for GPUs on other
    nodes, which the driver cannot read itself.
    """

    source = "nvml"
    note = "nvmlDeviceGetTotalEnergyConsumption per GPU, read by each node's agent"

    def __init__(self, agents: dict[str, Any], gpus: dict[str, list[int]]) -> None:
        super().__init__()
        self.agents = agents  # node name -> MigAgent handle
        self.gpus = gpus  # node name -> GPU indices

    def read_j(self) -> dict[str, float]:
        out = {}
        for n, a in self.agents.items():
            for i, mj in call(a, "energy_mj", self.gpus[n]).items():
                out[f"{n}/gpu{i}"] = mj / 1e3
        return out
