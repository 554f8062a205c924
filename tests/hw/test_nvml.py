"""The one NVML adapter (clover.hw.nvml) against the fake NVML: reads, and one-line errors."""

from __future__ import annotations

import sys

import pytest

from clover.errors import CloverError
from clover.hw import nvml as hw_nvml
from clover.hw.nvml import Nvml
from clover.mig.geometry import layout_from_mix
from clover.mig.manager import MigManager
from tests.fakes.fake_nvml import NVML_ERROR_NO_PERMISSION, FakeNvml, NVMLError


class BrokenInit(FakeNvml):
    def nvmlInit(self) -> None:
        raise NVMLError(9)  # NVML_ERROR_DRIVER_NOT_LOADED


class MultiLineError(NVMLError):
    def __str__(self) -> str:
        return "Driver/library version mismatch\n  (see dmesg)"


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = exc.value.message
    assert "\n" not in msg
    return msg


def with_layout(mix=(3, 2, 1)) -> FakeNvml:
    nvml = FakeNvml(gpus=("a100-40gb",))
    with MigManager(nvml=nvml, dry_run=False) as mgr:
        mgr.apply({0: layout_from_mix("a100-40gb", mix)}, apply=True)
    return nvml


def test_reads_devices_mig_mode_and_mig_devices():
    nvml = with_layout()
    with Nvml(nvml) as nv:
        assert nv.device_count() == 1
        gpu = nv.handle(0)
        assert nv.name(gpu) == "NVIDIA A100-SXM4-40GB" and nv.uuid(gpu).startswith("GPU-fake-0000")
        assert nv.mig_mode(gpu) == (1, 1)
        migs = nv.mig_devices(gpu)
        assert [nv.name(m) for m in migs] == ["NVIDIA A100-SXM4-40GB MIG 3g.20gb",
                                             "NVIDIA A100-SXM4-40GB MIG 2g.10gb",
                                             "NVIDIA A100-SXM4-40GB MIG 1g.5gb"]
        uuid = nv.uuid(migs[1])
        assert uuid.startswith("MIG-fake-0-") and nv.uuid(nv.handle_by_uuid(uuid)) == uuid
        assert nv.handle_by_uuid(nv.uuid(gpu)) is gpu
        assert nv.memory_used_mb(migs[2]) == 0.0
        nvml.gpus[0].power_w, nvml.gpus[0].energy_mj, nvml.gpus[0].memory_used_mb = 212.5, 7_500.0, 950.0
        assert nv.power_w(gpu) == 212.5 and nv.energy_mj(gpu) == 7_500.0
        assert nv.memory_used_mb(gpu) == 950.0
        assert nv.driver_version() == "unknown"  # the fake has no nvmlSystemGetDriverVersion
    assert nvml.initialised == 0 and nvml.calls[-1].startswith("create-ci")  # reads only


def test_open_close_are_reference_counted_and_wrap_reuses():
    nvml = FakeNvml()
    nv = Nvml(nvml).open()
    assert Nvml.wrap(nv) is nv and Nvml.wrap(nvml).module is nvml
    nv.open()
    assert nvml.initialised == 2
    nv.close(), nv.close(), nv.close()  # the extra close is a no-op
    assert nvml.initialised == 0


def test_mig_mode_of_a_gpu_without_mig_and_mig_off():
    class NoMig(FakeNvml):
        def nvmlDeviceGetMigMode(self, dev):
            raise NVMLError(self.NVML_ERROR_NOT_SUPPORTED)

    with Nvml(NoMig()) as nv:
        assert nv.mig_mode(nv.handle(0)) == (0, 0)
    with Nvml(FakeNvml(mig=False)) as nv:
        assert nv.mig_mode(nv.handle(0)) == (0, 0) and nv.mig_devices(nv.handle(0)) == []

    class Denied(FakeNvml):
        def nvmlDeviceGetMigMode(self, dev):
            raise NVMLError(NVML_ERROR_NO_PERMISSION)

    with Nvml(Denied()) as nv, pytest.raises(CloverError) as exc:
        nv.mig_mode(nv.handle(0))
    assert one_line(exc) == "MIG mode: NVML error 4"


def test_errors_are_one_line_clover_errors():
    with pytest.raises(CloverError) as exc:
        Nvml(BrokenInit()).open()
    assert one_line(exc) == "NVML could not be initialised (no NVIDIA driver or GPU here?): NVML error 9"

    nvml = with_layout((7,))
    with Nvml(nvml) as nv:
        with pytest.raises(CloverError) as exc:
            nv.handle(2)
        assert one_line(exc) == "GPU index 2 out of range (this node has 1 GPUs)"
        with pytest.raises(CloverError) as exc:
            nv.handle_by_uuid("MIG-nope")
        assert one_line(exc) == "no NVML device with UUID MIG-nope: Not Found"
        mig = nv.mig_devices(nv.handle(0))[0]
        with pytest.raises(CloverError) as exc:
            nv.energy_mj(mig, "MIG device")  # MIG slices have no energy counter
        assert one_line(exc) == ("MIG device: total energy counter not readable (needs a Volta or "
                                 "newer GPU): Not Supported")

    class Mismatch(FakeNvml):
        def nvmlDeviceGetPowerUsage(self, dev):
            raise MultiLineError(18)

    with Nvml(Mismatch()) as nv, pytest.raises(CloverError) as exc:
        nv.power_w(nv.handle(0), "GPU 0")
    assert one_line(exc) == "GPU 0: power not readable: Driver/library version mismatch (see dmesg)"


def test_missing_nvidia_ml_py_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    with pytest.raises(CloverError) as exc:
        Nvml()
    assert "nvidia-ml-py is not installed" in one_line(exc)


def test_cli_reports_nvml_failure_in_one_line(monkeypatch, run_cli):
    monkeypatch.setattr(hw_nvml, "load_pynvml", lambda: BrokenInit())
    code, out, err = run_cli("mig", "status")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "clover: error: NVML could not be initialised (no NVIDIA driver or GPU here?): NVML error 9"]
    code, out, err = run_cli("mig", "plan", "--layout", "7g.40gb")  # plans without NVML
    assert code == 0 and "planning from scratch" in err
