"""Energy windows (clover.hw.energy) against the fake NVML and a fake powercap tree."""

from __future__ import annotations

import pytest

from clover.errors import CloverError
from clover.hw.energy import (InstancePower, Measurement, ModeledEnergyMeter, NvmlEnergyMeter,
                              RaplEnergyMeter, make_energy_meter, rapl_zones)
from clover.hw.nvml import Nvml
from tests.fakes.fake_nvml import FakeNvml


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_nvml_window_is_the_counter_difference_in_joules():
    nvml, clock = FakeNvml(), Clock()
    nvml.gpus[0].energy_mj, nvml.gpus[1].energy_mj = 1_234_567.0, 9_000.0  # mJ since driver load
    meter = NvmlEnergyMeter(nvml=nvml, clock=clock)
    meter.begin_window("w")
    nvml.gpus[0].energy_mj, nvml.gpus[1].energy_mj = 2_000_000.0, 9_500.0
    clock.t += 2.0
    m = meter.end_window("w")
    assert isinstance(m, Measurement) and m.source == "nvml" and m.time_s == 2.0
    # 765 433 mJ and 500 mJ
    assert m.per_device_j == {"gpu0": pytest.approx(765.433), "gpu1": pytest.approx(0.5)}
    assert m.energy_j == pytest.approx(765.933) and m.power_w == pytest.approx(382.9665)
    assert "nvmlDeviceGetTotalEnergyConsumption" in m.note
    meter.close()
    assert nvml.initialised == 0


def test_nvml_named_windows_overlap_and_power_integrates():
    nvml, clock = FakeNvml(), Clock()
    nvml.gpus[0].power_w, nvml.gpus[1].power_w = 250.0, 40.0
    nvml.advance(3.0)  # counters are not zero at start
    meter = NvmlEnergyMeter(nvml=nvml, clock=clock)
    meter.begin_window("all")
    meter.begin_window("first")
    nvml.advance(2.0)
    clock.t += 2.0
    first = meter.end_window("first")
    nvml.advance(1.0)
    clock.t += 1.0
    everything = meter.end_window("all")
    assert first.per_device_j == {"gpu0": pytest.approx(500.0), "gpu1": pytest.approx(80.0)}
    assert first.energy_j == pytest.approx(580.0) and first.power_w == pytest.approx(290.0)
    assert everything.energy_j == pytest.approx(870.0) and everything.time_s == 3.0
    only = NvmlEnergyMeter([1], nvml=nvml, clock=clock)
    only.begin_window("one")
    nvml.advance(1.0)
    clock.t += 1.0
    assert only.end_window("one").energy_j == pytest.approx(40.0)


def test_window_misuse_and_bad_gpu_are_one_line_errors():
    nvml = FakeNvml()
    meter = NvmlEnergyMeter(nvml=nvml)
    meter.begin_window("a")
    with pytest.raises(CloverError, match="'a' is already open"):
        meter.begin_window("a")
    with pytest.raises(CloverError, match="'b' was never begun"):
        meter.end_window("b")
    with pytest.raises(CloverError, match=r"GPU index 5 out of range \(this node has 2 GPUs\)"):
        NvmlEnergyMeter([5], nvml=nvml)
    assert nvml.initialised == 1  # the failed meter closed its session; the first is open
    meter.close()


def test_nvml_meter_shares_an_open_adapter():
    nvml = FakeNvml(gpus=("a100-40gb",))
    with Nvml(nvml) as nv:
        meter = NvmlEnergyMeter([0], nvml=nv)
        assert meter.nvml is nv and nvml.initialised == 2
        meter.close()
        assert nvml.initialised == 1
    assert nvml.initialised == 0


def _zone(root, name, uj, max_uj=None, label="package-0"):
    z = root / name
    z.mkdir(parents=True)
    (z / "energy_uj").write_text(f"{uj}\n")
    (z / "name").write_text(label + "\n")
    if max_uj is not None:
        (z / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return z


def test_rapl_sums_packages_and_handles_wraparound(tmp_path):
    clock = Clock()
    z0 = _zone(tmp_path, "intel-rapl:0", 262_143_000_000, max_uj=262_143_328_850)
    z1 = _zone(tmp_path, "intel-rapl:1", 5_000_000, max_uj=262_143_328_850, label="package-1")
    _zone(tmp_path, "intel-rapl:0:0", 1, label="core")  # sub-zone: inside package 0, not counted
    assert [z.name for z in rapl_zones(tmp_path)] == ["intel-rapl:0", "intel-rapl:1"]
    meter = RaplEnergyMeter(tmp_path, clock=clock)
    meter.begin_window("w")
    # package 0 wraps: 328_850 µJ to the end of the range plus 671_150 µJ after it = 1 J
    (z0 / "energy_uj").write_text("671150\n")
    (z1 / "energy_uj").write_text("7500000\n")  # +2.5 J
    clock.t += 0.5
    m = meter.end_window("w")
    assert m.source == "rapl"
    assert m.per_device_j == {"intel-rapl:0": pytest.approx(1.0), "intel-rapl:1": pytest.approx(2.5)}
    assert m.energy_j == pytest.approx(3.5) and m.power_w == pytest.approx(7.0)
    assert "intel-rapl:0=package-0" in m.note and "intel-rapl:1=package-1" in m.note


def test_rapl_wraps_between_reads_of_overlapping_windows(tmp_path):
    dom = _zone(tmp_path, "intel-rapl:0", 900_000, max_uj=1_000_000)
    meter = RaplEnergyMeter(tmp_path)
    meter.begin_window("all")
    meter.begin_window("a")
    (dom / "energy_uj").write_text("950000\n")
    assert meter.end_window("a").energy_j == pytest.approx(0.05)
    meter.begin_window("b")
    (dom / "energy_uj").write_text("50000\n")  # wrapped: 50_000 to the end + 50_000 after
    assert meter.end_window("b").energy_j == pytest.approx(0.1)
    (dom / "energy_uj").write_text("250000\n")
    assert meter.end_window("all").energy_j == pytest.approx(0.35)


def test_rapl_without_a_range_counts_a_wrapped_interval_as_zero(tmp_path):
    dom = _zone(tmp_path, "intel-rapl:0", 900_000)
    meter = RaplEnergyMeter(tmp_path)
    meter.begin_window("w")
    (dom / "energy_uj").write_text("100\n")
    assert meter.end_window("w").energy_j == 0.0


def test_rapl_unreadable_falls_back_to_labelled_model(tmp_path):
    assert not RaplEnergyMeter.available(tmp_path / "none")
    with pytest.raises(CloverError, match="no readable RAPL"):
        RaplEnergyMeter(tmp_path / "none")
    meter = make_energy_meter("cpu", rapl_root=tmp_path / "none",
                              powers={"a": InstancePower(10.0, 2.0)}, model_note="modeled: test")
    assert isinstance(meter, ModeledEnergyMeter) and meter.source == "modeled"
    meter.begin_window("w")
    m = meter.end_window("w", busy_s={"a": 0.0})
    assert m.source == "modeled" and m.note == "modeled: test"
    _zone(tmp_path / "pc", "intel-rapl:0", 10)
    assert isinstance(make_energy_meter("cpu", rapl_root=tmp_path / "pc"), RaplEnergyMeter)
    assert isinstance(make_energy_meter("cuda", nvml=FakeNvml()), NvmlEnergyMeter)
    with pytest.raises(CloverError, match="unknown backend"):
        make_energy_meter("tpu")


def test_modeled_meter_is_idle_plus_busy_increment():
    clock = Clock()
    meter = ModeledEnergyMeter({"g0s0": InstancePower(120.0, 15.0), "g0s1": InstancePower(60.0, 5.0)},
                               base_idle_w=10.0, clock=clock)
    meter.begin_window("w")
    clock.t += 4.0
    m = meter.end_window("w", busy_s={"g0s0": 1.0, "g0s1": 9.0})  # busy time is capped at the window
    # g0s0: 15*4 + 1*105 = 165; g0s1: 5*4 + 4*55 = 240; base 10*4 = 40
    assert m.per_device_j == {"g0s0": pytest.approx(165.0), "g0s1": pytest.approx(240.0)}
    assert m.energy_j == pytest.approx(445.0) and m.source == "modeled"
    assert m.note == "modeled: busy seconds x profile power"
    meter.begin_window("bad")
    with pytest.raises(CloverError, match="no power"):
        meter.end_window("bad", busy_s={"zz": 1.0})


def test_measurement_is_frozen_and_serialises():
    m = Measurement(2.0, 10.0, {"gpu0": 10.0}, "nvml", "n")
    with pytest.raises(AttributeError):
        m.energy_j = 1.0  # type: ignore[misc]
    assert m.as_dict() == {"time_s": 2.0, "energy_j": 10.0, "source": "nvml", "power_w": 5.0,
                           "per_device_j": {"gpu0": 10.0}, "note": "n"}
    assert Measurement(0.0, 1.0).power_w != Measurement(0.0, 1.0).power_w  # NaN
