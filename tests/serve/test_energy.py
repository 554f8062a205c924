"""Energy meters against the fake NVML and a fake RAPL sysfs tree."""

from __future__ import annotations

import pytest

from clover.errors import CloverError
from clover.serve.energy import (InstancePower, ModeledEnergyMeter, NvmlEnergyMeter, RaplEnergyMeter,
                                 make_energy_meter, rapl_zones)
from tests.fakes.fake_nvml import FakeNvml


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_nvml_meter_reads_millijoule_counters_per_gpu():
    nvml, clock = FakeNvml(), Clock()
    nvml.gpus[0].power_w, nvml.gpus[1].power_w = 250.0, 40.0
    nvml.advance(3.0)  # counters are not zero at start
    meter = NvmlEnergyMeter(nvml=nvml, clock=clock)
    mark = meter.start()
    nvml.advance(2.0)
    clock.t += 2.0
    r = meter.stop(mark)
    assert r.source == "nvml"
    assert r.per_device_j == {"gpu0": pytest.approx(500.0), "gpu1": pytest.approx(80.0)}
    assert r.energy_j == pytest.approx(580.0) and r.power_w == pytest.approx(290.0)
    only = NvmlEnergyMeter([1], nvml=nvml, clock=clock)
    m2 = only.start()
    nvml.advance(1.0)
    clock.t += 1.0
    assert only.stop(m2).energy_j == pytest.approx(40.0)
    with pytest.raises(CloverError, match="out of range"):
        NvmlEnergyMeter([5], nvml=nvml)


def _zone(root, name, uj, max_uj=None, label="package-0"):
    z = root / name
    z.mkdir(parents=True)
    (z / "energy_uj").write_text(f"{uj}\n")
    (z / "name").write_text(label + "\n")
    if max_uj is not None:
        (z / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return z


def test_rapl_meter_sums_packages_and_handles_wraparound(tmp_path):
    clock = Clock()
    z0 = _zone(tmp_path, "intel-rapl:0", 262_143_000_000, max_uj=262_143_328_850)
    z1 = _zone(tmp_path, "intel-rapl:1", 5_000_000, max_uj=262_143_328_850, label="package-1")
    _zone(tmp_path, "intel-rapl:0:0", 1, label="core")  # sub-zone: ignored (inside package 0)
    assert [z.name for z in rapl_zones(tmp_path)] == ["intel-rapl:0", "intel-rapl:1"]
    meter = RaplEnergyMeter(tmp_path, clock=clock)
    mark = meter.start()
    # package 0 wraps: 328_850 µJ to the end of the range plus 671_150 µJ after it = 1 J
    (z0 / "energy_uj").write_text("671150\n")
    (z1 / "energy_uj").write_text("7500000\n")  # +2.5 J
    clock.t += 0.5
    r = meter.stop(mark)
    assert r.source == "rapl"
    assert r.per_device_j["intel-rapl:0"] == pytest.approx(1.0)
    assert r.per_device_j["intel-rapl:1"] == pytest.approx(2.5)
    assert r.energy_j == pytest.approx(3.5) and r.power_w == pytest.approx(7.0)
    assert "package-0" in r.note


def test_rapl_unreadable_falls_back_to_labelled_model(tmp_path):
    assert not RaplEnergyMeter.available(tmp_path / "none")
    with pytest.raises(CloverError, match="no readable RAPL"):
        RaplEnergyMeter(tmp_path / "none")
    meter = make_energy_meter("cpu", rapl_root=tmp_path / "none",
                              powers={"a": InstancePower(10.0, 2.0)}, model_note="modeled: test")
    assert isinstance(meter, ModeledEnergyMeter) and meter.source == "modeled"
    _zone(tmp_path / "pc", "intel-rapl:0", 10)
    assert isinstance(make_energy_meter("cpu", rapl_root=tmp_path / "pc"), RaplEnergyMeter)
    assert isinstance(make_energy_meter("cuda", nvml=FakeNvml()), NvmlEnergyMeter)
    with pytest.raises(CloverError, match="unknown backend"):
        make_energy_meter("tpu")


def test_modeled_meter_is_idle_plus_busy_increment():
    clock = Clock()
    meter = ModeledEnergyMeter({"g0s0": InstancePower(120.0, 15.0), "g0s1": InstancePower(60.0, 5.0)},
                               base_idle_w=10.0, clock=clock)
    mark = meter.start()
    clock.t += 4.0
    r = meter.stop(mark, busy_s={"g0s0": 1.0, "g0s1": 9.0})  # busy time is capped at the window
    # g0s0: 15*4 + 1*105 = 165; g0s1: 5*4 + 4*55 = 240; base 10*4 = 40
    assert r.per_device_j == {"g0s0": pytest.approx(165.0), "g0s1": pytest.approx(240.0)}
    assert r.energy_j == pytest.approx(445.0) and r.source == "modeled"
    with pytest.raises(CloverError, match="no power"):
        meter.stop(mark, busy_s={"zz": 1.0})
