"""The GPU path of the live service without a GPU: MIG state, layout changes and UUID binding
through the per-node agent, against the fake NVML (no Ray needed)."""

from __future__ import annotations

import pytest

from clover.errors import CloverError
from clover.models.configuration import Configuration, GpuAssignment
from clover.serve.agent import AgentEnergyMeter, NodeMigAgent
from clover.serve.cluster import local_cluster, with_devices
from clover.serve.service import LiveService
from tests.fakes.fake_nvml import FakeNvml, Process

B1, B5, B7 = "efficientnet-b1", "efficientnet-b5", "efficientnet-b7"


def service(apply: bool, nvml: FakeNvml) -> LiveService:
    svc = LiveService(local_cluster("cuda", 1, mig_apply=apply))
    svc._agents["local"] = NodeMigAgent(apply, nvml=nvml)  # what _agent() would start on the node
    return svc


def conf(layout, variants):
    return Configuration("a100-40gb", (GpuAssignment(tuple(layout), tuple(variants)),))


def test_agent_creates_layout_and_binds_replicas_to_mig_uuids():
    nvml = FakeNvml(gpus=("a100-40gb",))
    svc = service(True, nvml)
    c1 = conf(("4g.20gb", "2g.10gb", "1g.5gb"), (B7, B5, B1))
    new, diff, uuids = svc.plan(c1)
    assert len(diff.start) == 3 and uuids == {0: {}}  # GPU empty: nothing to bind yet
    ops, uuids = svc._apply_mig(new, {0})
    assert [o["command"] for o in ops if o["action"] == "create-gi"] == [
        "nvidia-smi mig -i 0 -cgi 5:0 -C", "nvidia-smi mig -i 0 -cgi 14:4 -C",
        "nvidia-smi mig -i 0 -cgi 19:6 -C"]
    bound = with_devices(new, uuids)
    assert all(i.device.startswith("MIG-fake-0-") for i in bound)
    assert len({i.device for i in bound}) == 3
    svc.instances, svc.configuration = bound, c1
    # next hour: the 4g slice keeps its variant; 2g+1g become a 3g
    c2 = conf(("4g.20gb", "3g.20gb"), (B7, B1))
    new2, diff2, uuids2 = svc.plan(c2)
    assert [i.profile for i in diff2.keep] == ["4g.20gb"] and diff2.keep[0].device == bound[0].device
    assert sorted(i.profile for i in diff2.stop) == ["1g.5gb", "2g.10gb"]
    ops2, uuids2 = svc._apply_mig(new2, diff2.slots_changed)
    assert [(o["action"], o["profile"]) for o in ops2] == [
        ("destroy-ci", "2g.10gb"), ("destroy-ci", "1g.5gb"), ("destroy-gi", "2g.10gb"),
        ("destroy-gi", "1g.5gb"), ("create-gi", "3g.20gb"), ("create-ci", "3g.20gb")]
    bound2 = with_devices(new2, uuids2)
    assert bound2[0].device == bound[0].device  # untouched slice, same MIG device


def test_agent_without_permission_refuses_to_change_mig():
    svc = service(False, FakeNvml(gpus=("a100-40gb",)))
    new, _, _ = svc.plan(conf(("7g.40gb",), (B7,)))
    with pytest.raises(CloverError, match="mig_apply is false"):
        svc._apply_mig(new, {0})


def test_agent_waits_for_gpu_processes_then_refuses():
    nvml = FakeNvml(gpus=("a100-40gb",))
    nvml.gpus[0].processes.append(Process(999))
    agent = NodeMigAgent(True, nvml=nvml)
    res = agent.ensure({0: {"gpu": "a100-40gb", "name": "7g.40gb"}}, wait_s=0.3)
    assert not res["ok"] and "did not exit" in res["error"] and nvml.calls == []


def test_energy_of_all_gpus_through_agents():
    nvml = FakeNvml(gpus=("a100-40gb", "a100-40gb"))
    nvml.gpus[0].power_w, nvml.gpus[1].power_w = 100.0, 50.0
    meter = AgentEnergyMeter({"n1": NodeMigAgent(False, nvml=nvml)}, {"n1": [0, 1]})
    meter.begin_window("w")
    nvml.advance(2.0)
    r = meter.end_window("w")
    assert r.source == "nvml" and r.energy_j == pytest.approx(300.0)
    assert r.per_device_j == {"n1/gpu0": pytest.approx(200.0), "n1/gpu1": pytest.approx(100.0)}
