"""Warm workers (clover.serve.pool): which worker serves which started instance, what is parked,
what is deleted; and the CUDA deploy path's order (workers off a MIG device before it changes),
against the fake NVML without Ray."""

from __future__ import annotations

from dataclasses import replace

from clover.models.configuration import Configuration, GpuAssignment
from clover.serve.agent import NodeMigAgent
from clover.serve.cluster import InstanceSpec, local_cluster
from clover.serve.pool import (MAX_WORKERS_PER_SLOT, assign_workers, binding_spec, model_config,
                               worker_version)
from clover.serve.service import LiveService
from tests.fakes.fake_nvml import FakeNvml

B1, B3, B5, B7 = "efficientnet-b1", "efficientnet-b3", "efficientnet-b5", "efficientnet-b7"


def inst(slot: int, start: int, profile: str, variant: str, app: str = "", device: str = "cpu",
         cores: tuple = (0,)) -> InstanceSpec:
    return InstanceSpec(f"g{slot}-{profile}-s{start}-{variant}", slot, "local", "local", slot,
                        profile, start, variant, device, 1, cores, 36, 0.15, app)


def test_a_started_instance_takes_a_free_worker_of_its_binding_holding_its_variant_first():
    free = {"clover-w0": inst(0, 0, "4g.20gb", B5, "clover-w0"),
            "clover-w1": inst(0, 4, "3g.20gb", B1, "clover-w1"),
            "clover-w2": inst(1, 0, "7g.40gb", B1, "clover-w2", cores=(1,))}
    start = [inst(0, 0, "7g.40gb", B1)]  # slot 0, core 0: w0 and w1 fit; w1 holds B1
    a = assign_workers(start, free, [], "cpu")
    assert [i.app for i in a.instances] == ["clover-w1"] and a.reused == [start[0].instance_id]
    # the others are parked (CPU), none deleted
    assert sorted(a.parked) == ["clover-w0", "clover-w2"] and a.delete == []


def test_without_a_free_worker_of_its_binding_a_new_worker_gets_the_smallest_free_name():
    active = [inst(0, 0, "4g.20gb", B5, "clover-w0")]
    free = {"clover-w2": inst(1, 0, "7g.40gb", B1, "clover-w2", cores=(1,))}
    start = [inst(0, 4, "3g.20gb", B3), inst(0, 6, "1g.5gb", B1)]
    a = assign_workers(start, free, active, "cpu")
    assert [i.app for i in a.instances] == ["clover-w1", "clover-w3"]  # w0, w2 are taken
    assert a.reused == [] and a.parked == free


def test_parked_workers_are_bounded_per_gpu_slot_active_included():
    active = [inst(0, s, "1g.5gb", B1, f"clover-a{s}") for s in range(6)]
    free = {f"clover-w{k}": inst(0, 0, "1g.5gb", B7, f"clover-w{k}", cores=(9,)) for k in range(3)}
    a = assign_workers([], free, active, "cpu")
    assert MAX_WORKERS_PER_SLOT == 7
    assert list(a.parked) == ["clover-w0"]  # 6 active + 1 parked = 7; the earlier free first
    assert a.delete == ["clover-w1", "clover-w2"]


def test_on_mig_gpus_workers_are_reused_on_unchanged_slices_only_and_never_parked():
    uuid = "MIG-fake-0-4"
    free = {"clover-w0": inst(0, 4, "3g.20gb", B1, "clover-w0", device=uuid),
            "clover-w1": inst(1, 0, "7g.40gb", B1, "clover-w1", device="MIG-fake-1-0"),
            "clover-w2": inst(0, 0, "4g.20gb", B1, "clover-w2", device="MIG-fake-0-0")}
    start = [inst(0, 4, "3g.20gb", B5, device=uuid), inst(1, 0, "7g.40gb", B7, device="MIG-x")]
    a = assign_workers(start, free, [], "cuda", reusable_slots={0})  # slot 1 is re-laid out
    assert [i.app for i in a.instances] == ["clover-w0", "clover-w3"]
    assert a.reused == [start[0].instance_id] and a.parked == {}
    assert a.delete == ["clover-w1", "clover-w2"]


def test_a_worker_s_version_depends_on_its_binding_only_and_its_config_carries_the_model():
    a, b = inst(0, 0, "4g.20gb", B5), inst(0, 4, "3g.20gb", B1)
    assert binding_spec(a) == binding_spec(b)  # the same core share on CPU
    assert worker_version(binding_spec(a), "m", 0) == worker_version(binding_spec(b), "m", 0)
    assert worker_version(binding_spec(a), "m", 0) != worker_version(
        binding_spec(replace(a, cores=(1,))), "m", 0)
    assert worker_version(binding_spec(a), "m", 0) != worker_version(binding_spec(a), "m", 1)
    cfg = model_config(b, 8, False)
    assert (cfg["variant"], cfg["profile"], cfg["instance_id"], cfg["batch_size"],
            cfg["input_size"]) == (B1, "3g.20gb", b.instance_id, 8, 36)
    assert "cores" not in cfg and "threads" not in cfg


def conf(layout, variants):
    return Configuration("a100-40gb", (GpuAssignment(tuple(layout), tuple(variants)),))


def test_cuda_deploy_swaps_a_variant_in_place_and_frees_mig_devices_before_changing_them():
    """The deploy path on a MIG GPU (fake NVML, Ray calls recorded): a variant swap on an
    unchanged layout re-aims the worker (no MIG op, no delete); a layout change deletes the
    workers on that GPU before the agent changes its MIG instances."""
    nvml = FakeNvml(gpus=("a100-40gb",))
    svc = LiveService(local_cluster("cuda", 1, mig_apply=True))
    svc._agents["local"] = NodeMigAgent(True, nvml=nvml)
    svc.ingress = type("Ingress", (), {"drain": type("M", (), {"remote": staticmethod(
        lambda ids, t: None)})})()
    svc._control = lambda response, timeout_s=0: {"drained": True}
    calls: list = []
    svc._delete = lambda apps: calls.append(("delete", sorted(apps))) if apps else None
    svc._start_instances = lambda insts, timeout_s=0: calls.append(
        ("start", [(i.app, i.variant) for i in insts]))
    svc._set_routes = lambda instances, weights: 1
    orig_apply = svc._apply_mig
    svc._apply_mig = lambda new, slots: (calls.append(("mig", sorted(slots))), orig_apply(new, slots))[1]

    svc.deploy(conf(("4g.20gb", "3g.20gb"), (B7, B1)))
    assert calls == [("mig", [0]), ("start", [("clover-w0", B7), ("clover-w1", B1)])]
    calls.clear()
    rep = svc.deploy(conf(("4g.20gb", "3g.20gb"), (B7, B5)))  # swap on the 3g slice
    assert calls == [("start", [("clover-w1", B5)])] and rep.reused == [rep.started[0]]
    assert rep.mig_ops == [] and svc.parked == {}
    calls.clear()
    rep = svc.deploy(conf(("4g.20gb", "2g.10gb", "1g.5gb"), (B7, B3, B1)))  # 3g -> 2g + 1g
    assert calls[0] == ("delete", ["clover-w1"]) and calls[1] == ("mig", [0])
    assert calls[2] == ("start", [("clover-w1", B3), ("clover-w2", B1)]) and rep.reused == []
    assert [i.app for i in svc.instances] == ["clover-w0", "clover-w1", "clover-w2"]


def test_workers_holding_an_instance_s_model_go_to_it_before_any_other_is_reused():
    """Greedy in order, B1 (no worker holds it) would take the only worker, which holds B3,
    and B3 would need a new process; two passes give B3 its model and B1 a new worker."""
    free = {"clover-w0": inst(0, 0, "7g.40gb", B3, "clover-w0")}
    start = [inst(0, 0, "4g.20gb", B1), inst(0, 4, "3g.20gb", B3)]
    a = assign_workers(start, free, [], "cpu")
    assert [i.app for i in a.instances] == ["clover-w1", "clover-w0"]
    assert a.reused == [start[1].instance_id]
