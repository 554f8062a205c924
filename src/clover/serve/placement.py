"""MIG state of the live service's GPU nodes: what each node's :class:`MigAgent` reports and
how it brings changed GPUs to new layouts (a mixin of :class:`clover.serve.service.LiveService`,
kept apart so that the service's deploy logic fits one file).

Needs ``self.cluster`` (:class:`clover.serve.cluster.ClusterSpec`) and ``self._agents`` (node
name -> agent actor handle).
"""

from __future__ import annotations

from typing import Sequence

from clover.errors import CloverError
from clover.serve.cluster import InstanceSpec


class MigPlacement:
    """The MIG side of placement: agents per node, current instances and UUIDs, layout changes."""

    def _agent(self, node_name: str, address: str):
        if node_name not in self._agents:
            from clover.serve.agent import MigAgent

            res = "node:" + (address if address != "local" else __import__("ray").util.get_node_ip_address())
            self._agents[node_name] = MigAgent.options(resources={res: 0.001}).remote(self.cluster.mig_apply)
        return self._agents[node_name]

    def _slot_nodes(self) -> dict[int, tuple[str, str, int]]:
        return {s: (n.name, n.address, g) for s, (n, g) in enumerate(self.cluster.gpu_slots)}

    def _static_uuids(self) -> dict[int, dict[tuple[int, str], str]]:
        out: dict[int, dict[tuple[int, str], str]] = {}
        for s, (node, g) in enumerate(self.cluster.gpu_slots):
            if isinstance(node.mig, dict) and g in node.mig:
                out[s] = {(int(k.split("@")[1]), k.split("@")[0]): v for k, v in node.mig[g].items()}
        return out

    def _mig_state(self, slots: Sequence[int]) -> tuple[dict, dict]:
        """Current MIG instances and UUIDs per slot, read by each node's agent."""
        from clover.mig.manager import MigInstance
        from clover.serve.agent import call

        static = self._static_uuids()
        current: dict[int, list[MigInstance]] = {}
        uuids: dict[int, dict[tuple[int, str], str]] = {}
        by_node: dict[tuple[str, str], list[int]] = {}
        sn = self._slot_nodes()
        for s in slots:
            if s in static:
                uuids[s] = static[s]
                current[s] = [MigInstance(sn[s][2], -1, p, st, 0, 0, u) for (st, p), u in static[s].items()]
            else:
                by_node.setdefault(sn[s][:2], []).append(s)
        for (name, addr), ss in by_node.items():
            st = call(self._agent(name, addr), "status", [sn[s][2] for s in ss])
            for s in ss:
                insts = [MigInstance(**d) for d in st[sn[s][2]]]
                current[s] = insts
                uuids[s] = {(m.start, m.profile): m.uuid for m in insts if m.uuid}
        return current, uuids

    def _apply_mig(self, new: Sequence[InstanceSpec], slots: set[int]) -> tuple[list[dict], dict]:
        """Let the agents bring the changed GPUs to the new layouts; returns ops and UUIDs."""
        from clover.mig.manager import MigInstance, layout_for_profiles
        from clover.serve.agent import call

        sn = self._slot_nodes()
        static = self._static_uuids()
        ops: list[dict] = []
        uuids: dict[int, dict[tuple[int, str], str]] = {}
        by_node: dict[tuple[str, str], dict[int, dict]] = {}
        for s in sorted(slots):
            mine = [i for i in new if i.slot == s]
            if s in static:
                uuids[s] = static[s]
                continue
            profiles = tuple(i.profile for i in sorted(mine, key=lambda i: i.start))
            lay = layout_for_profiles(self.cluster.gpu, profiles,
                                      [MigInstance(0, 0, i.profile, i.start, 0) for i in mine])
            by_node.setdefault(sn[s][:2], {})[sn[s][2]] = lay.as_dict()
        for (name, addr), layouts in by_node.items():
            res = call(self._agent(name, addr), "ensure", layouts)
            ops += res.get("ops", [])
            if not res["ok"]:
                raise CloverError(f"node {name}: {res['error']}")
            for s in slots:
                if sn[s][:2] == (name, addr) and sn[s][2] in res["uuids"]:
                    uuids[s] = {(int(k.split('@')[1]), k.split('@')[0]): v
                                for k, v in res["uuids"][sn[s][2]].items()}
        return ops, uuids
