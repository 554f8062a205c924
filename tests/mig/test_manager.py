"""The MIG manager against a fake NVML that enforces the A100 placement rules."""

from __future__ import annotations

import ctypes
import json

import pytest

from clover.errors import CloverError
from clover.mig.geometry import enumerate_layouts, layout_by_name, layout_from_mix
from clover.mig.manager import MigManager, Op, format_plan, layout_for_profiles, plan_operations
from clover.models.configuration import Configuration, GpuAssignment
from tests.fakes.fake_nvml import (NVML_ERROR_INSUFFICIENT_RESOURCES, NVML_ERROR_INVALID_ARGUMENT,
                                   NVML_ERROR_IN_USE, FakeNvml, NVMLError, Process)


@pytest.fixture()
def nvml():
    return FakeNvml()


def _live(nvml) -> MigManager:
    return MigManager(nvml=nvml, dry_run=False)


def _state(mgr: MigManager, i: int = 0) -> list[tuple[int, str]]:
    return [(m.start, m.profile) for m in mgr.instances(i)]


def test_plan_without_nvml_clears_then_creates_with_placements():
    lay = layout_by_name("a100-40gb", "1g.5gb+1g.5gb+2g.10gb+3g.20gb")
    ops = plan_operations([lay])
    assert [o.action for o in ops] == ["destroy-ci", "destroy-gi"] + ["create-gi", "create-ci"] * 4
    cmds = [o.command() for o in ops if o.action != "create-ci"]
    assert cmds == ["nvidia-smi mig -i 0 -dci", "nvidia-smi mig -i 0 -dgi",
                    "nvidia-smi mig -i 0 -cgi 19:0 -C", "nvidia-smi mig -i 0 -cgi 19:1 -C",
                    "nvidia-smi mig -i 0 -cgi 14:2 -C", "nvidia-smi mig -i 0 -cgi 9:4 -C"]
    assert "nvmlDeviceCreateGpuInstanceWithPlacement" in format_plan(ops)


def test_plan_from_configuration_maps_gpus_and_layouts():
    conf = Configuration("a100-40gb", (
        GpuAssignment(("7g.40gb",), ("efficientnet-b7",)),
        GpuAssignment(("4g.20gb", "2g.10gb", "1g.5gb"), ("efficientnet-b5", "efficientnet-b3",
                                                         "efficientnet-b1")),
    ))
    ops = plan_operations(conf)
    creates = [(o.gpu_index, o.profile, o.start) for o in ops if o.action == "create-gi"]
    assert creates == [(0, "7g.40gb", 0), (1, "4g.20gb", 0), (1, "2g.10gb", 4), (1, "1g.5gb", 6)]


def test_every_a100_layout_is_created_exactly_by_the_fake(nvml):
    """All 19 layouts go through real NVML calls; the fake ends with exactly that layout."""
    mgr = _live(nvml)
    for lay in enumerate_layouts("a100-40gb"):
        ops = mgr.apply({0: lay}, apply=True)
        assert _state(mgr) == [(p.start, p.profile) for p in lay.slices], lay.name
        uuids = mgr.mig_uuids(0)
        assert len(uuids) == len(lay.slices) and all(u.startswith("MIG-") for u in uuids.values())
        assert all(o.gpu_index == 0 for o in ops)
    assert len(enumerate_layouts("a100-40gb")) == 19


def test_reconfiguration_keeps_unchanged_instances(nvml):
    mgr = _live(nvml)
    mgr.apply({0: layout_by_name("a100-40gb", "3g.20gb+2g.10gb+1g.5gb")}, apply=True)
    before = {(m.start, m.profile): m.uuid for m in mgr.instances(0)}
    target = layout_by_name("a100-40gb", "3g.20gb+3g.20gb")
    ops = mgr.plan({0: target})
    # the 3g at 0 stays; 2g@4 and 1g@6 go; a 3g@4 comes
    assert [(o.action, o.profile, o.start) for o in ops] == [
        ("destroy-ci", "2g.10gb", 4), ("destroy-ci", "1g.5gb", 6),
        ("destroy-gi", "2g.10gb", 4), ("destroy-gi", "1g.5gb", 6),
        ("create-gi", "3g.20gb", 4), ("create-ci", "3g.20gb", 4)]
    mgr.apply({0: target}, apply=True)
    after = {(m.start, m.profile): m.uuid for m in mgr.instances(0)}
    assert after[(0, "3g.20gb")] == before[(0, "3g.20gb")]  # untouched slice keeps its UUID
    assert mgr.plan({0: target}) == []  # idempotent


def test_layout_choice_prefers_current_placements():
    from clover.mig.manager import MigInstance
    current = [MigInstance(0, 1, "1g.5gb", 0, 1, 0), MigInstance(0, 2, "1g.5gb", 1, 1, 0)]
    lay = layout_for_profiles("a100-40gb", ("3g.20gb", "2g.10gb", "1g.5gb", "1g.5gb"), current)
    # a 3g+2g+1g+1g layout exists with the two 1g at 0 and 1: it keeps both
    assert {(0, "1g.5gb"), (1, "1g.5gb")} <= {(p.start, p.profile) for p in lay.slices}


def test_dry_run_changes_nothing(nvml):
    mgr = MigManager(nvml=nvml)  # dry_run=True by default
    ops = mgr.apply({0: layout_from_mix("a100-40gb", (7,))}, apply=True)
    assert [o.action for o in ops] == ["create-gi", "create-ci"]
    assert nvml.calls == [] and mgr.instances(0) == ()
    live = _live(nvml)
    live.apply({0: layout_from_mix("a100-40gb", (7,))})  # apply not asked: still a dry run
    assert nvml.calls == []
    with pytest.raises(CloverError, match="dry-run"):
        mgr.execute(ops)


def test_refuses_while_processes_run(nvml):
    mgr = _live(nvml)
    mgr.apply({0: layout_from_mix("a100-40gb", (4, 2, 1))}, apply=True)
    gi = next(iter(nvml.gpus[0].gis.values()))
    gi.ci.processes.append(Process(4242))
    with pytest.raises(CloverError, match="4242"):
        mgr.apply({0: layout_from_mix("a100-40gb", (7,))}, apply=True)
    assert sorted(p for _, p in _state(mgr)) == ["1g.5gb", "2g.10gb", "4g.20gb"]
    assert mgr.status(0)[0].processes == (4242,)


def test_never_toggles_mig_mode_and_says_how():
    nvml = FakeNvml(mig=False)
    mgr = _live(nvml)
    with pytest.raises(CloverError, match=r"sudo nvidia-smi -i 0 -mig 1"):
        mgr.apply({0: layout_from_mix("a100-40gb", (7,))}, apply=True)
    assert nvml.calls == []
    nvml.gpus[0].set_mig(True)  # the administrator did it
    mgr.apply({0: layout_from_mix("a100-40gb", (7,))}, apply=True)
    assert _state(mgr) == [(0, "7g.40gb")]


def test_gpu_model_mismatch_is_refused(nvml):
    with pytest.raises(CloverError, match="is a a100-40gb"):
        _live(nvml).plan({0: layout_from_mix("h100-80gb", (7,))})


def test_status_lists_instances_with_uuids(nvml):
    mgr = _live(nvml)
    mgr.apply({1: layout_by_name("a100-40gb", "4g.20gb+2g.10gb+1g.5gb")}, apply=True)
    states = mgr.status()
    assert [s.index for s in states] == [0, 1]
    assert states[0].instances == ()
    inst = states[1].instances
    assert [(m.profile, m.start, m.size) for m in inst] == [("4g.20gb", 0, 4), ("2g.10gb", 4, 2),
                                                           ("1g.5gb", 6, 1)]
    assert all(m.ci_id == 0 and m.uuid.startswith("MIG-") for m in inst)
    json.dumps([s.as_dict() for s in states])  # serialisable
    ops = mgr.destroy_all(1, apply=True)
    assert [o.action for o in ops] == ["destroy-ci"] * 3 + ["destroy-gi"] * 3
    assert mgr.instances(1) == ()


def test_fake_enforces_placement_rules(nvml):
    """The fake is honest: NVML rejects what the geometry forbids."""
    nvml.nvmlInit()
    dev = nvml.nvmlDeviceGetHandleByIndex(0)

    def create(profile_id, start, size):
        pl = nvml.c_nvmlGpuInstancePlacement_t(start, size)
        return nvml.nvmlDeviceCreateGpuInstanceWithPlacement(dev, profile_id, ctypes.byref(pl))

    with pytest.raises(NVMLError) as err:
        create(9, 2, 4)  # 3g may start at 0 or 4 only
    assert err.value.value == NVML_ERROR_INVALID_ARGUMENT
    gi = create(9, 0, 4)
    with pytest.raises(NVMLError) as err:
        create(14, 2, 2)  # overlaps the 3g at 0..3
    assert err.value.value == NVML_ERROR_INSUFFICIENT_RESOURCES
    create(9, 4, 4)  # second 3g at 4: 6 compute slices
    with pytest.raises(NVMLError):
        create(19, 3, 1)  # overlaps
    nvml.nvmlGpuInstanceCreateComputeInstance(gi, 2)
    with pytest.raises(NVMLError) as err:
        nvml.nvmlGpuInstanceDestroy(gi)  # has a compute instance
    assert err.value.value == NVML_ERROR_IN_USE
    # 4g at 0 + 3g at 4 uses all 7 compute slices; a 1g cannot be added anywhere
    nvml2 = FakeNvml()
    nvml2.nvmlInit()
    d2 = nvml2.nvmlDeviceGetHandleByIndex(0)
    for pid, start, size in ((5, 0, 4), (9, 4, 4)):
        nvml2.nvmlDeviceCreateGpuInstanceWithPlacement(
            d2, pid, ctypes.byref(nvml2.c_nvmlGpuInstancePlacement_t(start, size)))
    assert {g.compute for g in nvml2.gpus[0].gis.values()} == {4, 3}


def test_ops_serialise_to_json():
    ops = plan_operations([layout_from_mix("a100-40gb", (3, 3))])
    data = [o.as_dict() for o in ops]
    assert data[2]["command"] == "nvidia-smi mig -i 0 -cgi 9:0 -C"
    assert isinstance(ops[0], Op)


def test_cli_plan_apply_status_with_fake_nvml(monkeypatch, run_cli, tmp_path):
    import clover.hw.nvml as hw_nvml

    fake = FakeNvml(gpus=("a100-40gb",))
    monkeypatch.setattr(hw_nvml, "load_pynvml", lambda: fake)
    code, out, _ = run_cli("mig", "plan", "--layout", "4g.20gb+2g.10gb+1g.5gb",
                           "--out", str(tmp_path / "plan.json"))
    assert code == 0 and "-cgi 5:0 -C" in out and "-cgi 19:6 -C" in out
    assert json.loads((tmp_path / "plan.json").read_text())["operations"][0]["action"] == "create-gi"
    code, out, _ = run_cli("mig", "apply", "--layout", "4g.20gb+2g.10gb+1g.5gb")
    assert code == 0 and "dry run" in out and fake.calls == []
    code, out, _ = run_cli("mig", "apply", "--layout", "4g.20gb+2g.10gb+1g.5gb", "--apply")
    assert code == 0 and out.count("MIG-fake") == 3
    code, out, _ = run_cli("mig", "status")
    assert code == 0 and "MIG enabled" in out and "2g.10gb" in out
    code, _, err = run_cli("mig", "plan", "--layout", "4g+3g")
    assert code == 2 and "invalid MIG layout" in err


def test_cli_plan_from_scratch_needs_no_nvml(run_cli):
    code, out, _ = run_cli("mig", "plan", "--from-scratch", "--layout", "3g.20gb+3g.20gb")
    assert code == 0 and "nvidia-smi mig -i 0 -dgi" in out and "-cgi 9:4 -C" in out


def test_busy_kept_instance_does_not_block_a_partial_change(nvml):
    """Only processes on instances that go (or outside any MIG device) block a change."""
    mgr = _live(nvml)
    mgr.apply({0: layout_by_name("a100-40gb", "3g.20gb+2g.10gb+1g.5gb")}, apply=True)
    gi3 = next(g for g in nvml.gpus[0].gis.values() if g.profile == "3g.20gb")
    gi3.ci.processes.append(Process(111))  # a replica still serving on the 3g slice
    target = {0: layout_by_name("a100-40gb", "3g.20gb+3g.20gb")}
    assert mgr.blocking_processes(mgr.plan(target)) == {}
    assert mgr.process_map(0) == {gi3.gi_id: (111,)}
    mgr.apply(target, apply=True)  # 2g + 1g replaced by a 3g; the busy 3g untouched
    assert _state(mgr) == [(0, "3g.20gb"), (4, "3g.20gb")]
    gi_new = next(g for g in nvml.gpus[0].gis.values() if g.start == 4)
    gi_new.ci.processes.append(Process(222))
    with pytest.raises(CloverError, match=r"process\(es\) 111;"):  # 3g@0 goes, 3g@4 stays
        mgr.apply({0: layout_by_name("a100-40gb", "4g.20gb+3g.20gb")}, apply=True)
    gi3.ci.processes.clear()
    nvml.gpus[0].processes.append(Process(333))  # not on any MIG device: whole GPU blocked
    with pytest.raises(CloverError, match="333"):
        mgr.apply({0: layout_by_name("a100-40gb", "4g.20gb+3g.20gb")}, apply=True)
