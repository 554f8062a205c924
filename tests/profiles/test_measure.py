"""Measured backends: real CPU timings of a real model; GPU orchestration with a fake NVML."""

from __future__ import annotations

import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from clover.errors import CloverError  # noqa: E402
from clover.mig.geometry import get_gpu  # noqa: E402
from clover.profiles import PROFILE_COLUMNS, model_profiles  # noqa: E402
from clover.hw.energy import EnergyMeter  # noqa: E402
from clover.profiles.measure import (  # noqa: E402
    SubprocessWorker,
    attribute_power,
    cpu_profiles,
    cpu_threads,
    cuda_profiles,
    list_mig_slices,
)
from clover.profiles.schema import read_table, validate_table, write_table  # noqa: E402
from clover.profiles.worker import LocalWorker  # noqa: E402

A100 = "NVIDIA A100-SXM4-40GB"
IDLE_W, ACTIVE_W = 60.0, 180.0


class FakeNVML:
    """A ``pynvml``-compatible stand-in: GPUs, MIG mode, MIG devices, an energy counter.

    The energy counter integrates a scripted power over real time: reads come in groups of
    four per metered row (baseline start/end, active start/end); the interval between the
    third and fourth read of a group draws ``ACTIVE_W``, every other interval ``IDLE_W``.
    """

    NVML_DEVICE_MIG_ENABLE = 1
    NVML_DEVICE_MIG_DISABLE = 0

    class NVMLError(Exception):
        pass

    def __init__(self, gpus):
        # gpus: list of (name, mig_enabled, [(profile, uuid), ...])
        self.gpus = gpus
        self.energy_mj = 1_000_000.0
        self.reads = 0
        self.last_t = None
        self.set_mig_calls = 0
        self.inited = False

    def nvmlInit(self):
        self.inited = True

    def nvmlShutdown(self):
        self.inited = False

    def nvmlSystemGetDriverVersion(self):
        return "550.54.15"

    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i):
        return ("gpu", i)

    def nvmlDeviceGetMigMode(self, handle):
        name, enabled, _ = self.gpus[handle[1]]
        if enabled is None:
            raise self.NVMLError("not supported")
        return [int(enabled), int(enabled)]

    def nvmlDeviceSetMigMode(self, *a):  # must never be called
        self.set_mig_calls += 1

    def nvmlDeviceGetName(self, handle):
        if handle[0] == "gpu":
            return self.gpus[handle[1]][0]
        prof = self.gpus[handle[1]][2][handle[2]][0]
        return f"{self.gpus[handle[1]][0]} MIG {prof}".encode()  # bytes, as old pynvml

    def nvmlDeviceGetMaxMigDeviceCount(self, handle):
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, j):
        if j >= len(self.gpus[handle[1]][2]):
            raise self.NVMLError("not found")
        return ("mig", handle[1], j)

    def nvmlDeviceGetUUID(self, handle):
        return self.gpus[handle[1]][2][handle[2]][1]

    def nvmlDeviceGetMemoryInfo(self, handle):
        class Mem:
            used = 1_234_000_000
        return Mem()

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        assert handle[0] == "gpu", "energy is metered on the parent GPU"
        now = time.perf_counter()
        if self.last_t is not None:
            power = ACTIVE_W if self.reads % 4 == 3 else IDLE_W
            self.energy_mj += power * (now - self.last_t) * 1e3
        self.last_t = now
        self.reads += 1
        return int(self.energy_mj)


@pytest.fixture(autouse=True)
def _threads():
    prev = torch.get_num_threads()
    yield
    torch.set_num_threads(prev)


def test_cpu_backend_real_timings():
    df = cpu_profiles("efficientnet", "a100-40gb", variants=["efficientnet-b1"],
                      slices=["1g.5gb", "7g.40gb"], iters=5, warmup=1, input_scale=0.15,
                      idle_s=0.01, meter=None)
    validate_table(df)
    assert tuple(df.columns) == PROFILE_COLUMNS and len(df) == 2
    assert (df["source"] == "measured-cpu").all() and (df["power_source"] == "modeled").all()
    assert (df["input_size"] == 36).all() and (df["iterations"] == 5).all()
    assert (df["service_ms_mean"] > 0).all() and (df["service_ms_p95"] >= df["service_ms_p50"]).all()
    assert np.allclose(df["max_throughput_rps"], 1e3 / df["service_ms_mean"])
    assert df["device"].str.contains("CPU stand-in for 1g.5gb").any()
    for col in ("software", "timestamp_utc", "device"):
        assert (df[col].str.len() > 0).all()
    # modeled power: the GPU slice's modeled power, energy from the measured throughput
    ref = model_profiles("efficientnet", "a100-40gb").set_index(["variant", "slice_profile"])
    row = df.iloc[0]
    assert row["power_w_busy"] == pytest.approx(ref.loc[("efficientnet-b1", "1g.5gb"), "power_w_busy"])
    assert row["energy_j_per_request"] == pytest.approx(row["power_w_busy"] / row["max_throughput_rps"])


class ScriptedMeter(EnergyMeter):
    """Cumulative joules with a scripted power per read interval (same grouping as FakeNVML)."""

    source = "rapl"

    def __init__(self):
        super().__init__(clock=time.perf_counter)
        self.e, self.reads, self.last = 0.0, 0, None

    def read_j(self):
        now = time.perf_counter()
        if self.last is not None:
            self.e += (ACTIVE_W if self.reads % 4 == 3 else IDLE_W) * (now - self.last)
        self.last, self.reads = now, self.reads + 1
        return {"package": self.e}


def test_cpu_backend_with_rapl_meter():
    df = cpu_profiles("albert", "a100-40gb", variants=["albert-base-v2"], slices=["7g.40gb"],
                      iters=3, warmup=1, input_scale=0.05, idle_s=0.02, meter=ScriptedMeter())
    row = df.iloc[0]
    assert row["power_source"] == "rapl" and row["input_size"] == 19
    threads = cpu_threads(get_gpu("a100-40gb").profile("7g.40gb"), get_gpu("a100-40gb"))
    import os
    share = threads / len(os.sched_getaffinity(0))
    assert row["power_w_idle"] == pytest.approx(IDLE_W * share, rel=0.05)
    assert row["power_w_busy"] == pytest.approx(IDLE_W * share + ACTIVE_W - IDLE_W, rel=0.05)


def test_metered_go_closes_its_windows_when_the_worker_fails():
    from clover.profiles.measure import _metered_go

    class Hung:
        def go(self, iters):
            raise CloverError("profile worker gave no answer to 'go' within 900 s")

    meter = ScriptedMeter()
    with pytest.raises(CloverError, match="no answer"):
        _metered_go(Hung(), meter, 3, 0.0, 0.0)
    meter.begin_window("active")  # not left open by the failure
    assert meter.end_window("active").source == "rapl"


def test_attribute_power():
    busy, idle = attribute_power(70.0, 150.0, 3 / 7)
    assert idle == pytest.approx(30.0) and busy == pytest.approx(110.0)
    assert attribute_power(70.0, 65.0, 1 / 7) == pytest.approx((10.0, 10.0))


def test_cpu_threads_share():
    spec = get_gpu("a100-40gb")
    assert [cpu_threads(p, spec, 14) for p in spec.profiles] == [2, 4, 6, 8, 14]
    assert [cpu_threads(p, spec, 2) for p in spec.profiles] == [1, 1, 1, 1, 2]


def test_list_mig_slices_reads_only():
    nvml = FakeNVML([("Tesla V100", None, []), (A100, False, []),
                     (A100, True, [("3g.20gb", "MIG-aaa"), ("1g.5gb", "MIG-bbb")])])
    found = list_mig_slices(nvml)
    assert [(s.gpu_index, s.profile, s.uuid) for s in found] == [
        (2, "3g.20gb", "MIG-aaa"), (2, "1g.5gb", "MIG-bbb")]
    assert nvml.set_mig_calls == 0


def test_cuda_backend_subprocess_and_energy(tmp_path):
    """One MIG slice, a real worker subprocess (CPU stand-in for the CUDA run)."""
    nvml = FakeNVML([(A100, True, [("1g.5gb", "MIG-11111111-2222-3333-4444-555555555555")])])
    seen = {}

    def factory(env):
        seen.update(env)
        return SubprocessWorker(env)

    with pytest.warns(UserWarning, match=r"no MIG device of profile\(s\) \['2g.10gb'"):
        df = cuda_profiles("efficientnet", "a100-40gb", variants=["efficientnet-b1"], iters=3,
                           warmup=1, input_scale=0.15, idle_s=0.2, min_time_s=0.2, nvml=nvml,
                           worker_factory=factory, device="cpu")
    assert seen["CUDA_VISIBLE_DEVICES"] == "MIG-11111111-2222-3333-4444-555555555555"
    assert nvml.set_mig_calls == 0 and nvml.reads == 4
    validate_table(df)
    row = df.iloc[0]
    assert len(df) == 1 and row["slice_profile"] == "1g.5gb" and row["source"] == "measured-gpu"
    assert row["power_source"] == "nvml" and row["memory_mb"] == pytest.approx(1234.0)
    # the fake counter integrates real time and the meter times its window with its own clock
    # reads around the counter reads (clock, counter ... counter, clock), so a loaded machine
    # makes the window look longer by the gaps: 10 % leaves room for 20 ms of them, and still
    # tells the 1/7 idle share and the busy increment from any other attribution
    assert row["power_w_idle"] == pytest.approx(IDLE_W / 7, rel=0.1)
    assert row["power_w_busy"] == pytest.approx(IDLE_W / 7 + ACTIVE_W - IDLE_W, rel=0.1)
    assert row["energy_j_per_request"] == pytest.approx(row["power_w_busy"] / row["max_throughput_rps"])
    assert row["iterations"] >= 3 and row["service_ms_p95"] >= row["service_ms_p50"] > 0
    assert "MIG-11111111" in row["device"] and "NVIDIA driver 550.54.15" in row["software"]
    out = write_table(df, tmp_path / "cuda.csv")
    assert tuple(read_table(out).columns) == PROFILE_COLUMNS


class StandInWorker(LocalWorker):
    """In-process CPU stand-in that reports the env it was given; OOMs on request."""

    def __init__(self, env, oom_variants=()):
        super().__init__()
        self.env, self.oom = env, set(oom_variants)

    def load(self, **kw):
        if kw["variant"] in self.oom:
            return {"ok": False, "oom": True, "error": "CUDA out of memory"}
        kw["device"] = "cpu"
        info = super().load(threads=1, **kw)
        info["env_cuda_visible_devices"] = self.env["CUDA_VISIBLE_DEVICES"]
        return info


def test_cuda_backend_orchestration_oom_and_missing_profiles():
    nvml = FakeNVML([(A100, True, [("2g.10gb", "MIG-b"), ("1g.5gb", "MIG-a"),
                                   ("1g.5gb", "MIG-c")])])
    workers = []

    def factory(env):
        workers.append(env["CUDA_VISIBLE_DEVICES"])
        return StandInWorker(env, oom_variants={"efficientnet-b3"})

    with pytest.warns(UserWarning, match="not measured"):
        df = cuda_profiles("efficientnet", "a100-40gb",
                           variants=["efficientnet-b1", "efficientnet-b3"], iters=2, warmup=0,
                           input_scale=0.15, idle_s=0.01, min_time_s=0.0, nvml=nvml,
                           worker_factory=factory)
    assert workers == ["MIG-a", "MIG-b"]               # one worker per slice type, smallest first
    assert list(df["slice_profile"]) == ["1g.5gb", "1g.5gb", "2g.10gb", "2g.10gb"]
    b3 = df[df["variant"] == "efficientnet-b3"]
    assert (~b3["fits"]).all() and b3["service_ms_mean"].isna().all()
    assert (df[df["variant"] == "efficientnet-b1"]["fits"]).all()
    validate_table(df)


def test_cuda_backend_refuses_without_mig():
    nvml = FakeNVML([(A100, False, [])])
    with pytest.raises(CloverError, match="never changes MIG mode"):
        cuda_profiles("yolo", "a100-40gb", nvml=nvml, worker_factory=lambda env: None)
    assert nvml.set_mig_calls == 0
    nvml = FakeNVML([(A100, True, [("7g.40gb", "MIG-z")])])
    with pytest.raises(CloverError, match="none of the requested profiles"):
        cuda_profiles("yolo", "a100-40gb", slices=["1g.5gb"], nvml=nvml,
                      worker_factory=lambda env: None)
    nvml = FakeNVML([("NVIDIA H100 80GB HBM3", True, [("1g.10gb", "MIG-h")])])
    with pytest.raises(CloverError, match="no MIG-enabled NVIDIA A100-SXM4-40GB"):
        cuda_profiles("yolo", "a100-40gb", nvml=nvml, worker_factory=lambda env: None)


def test_three_backends_same_schema():
    modeled = model_profiles("efficientnet", "a100-40gb")
    cpu = cpu_profiles("efficientnet", "a100-40gb", variants=["efficientnet-b1"],
                       slices=["1g.5gb"], iters=2, warmup=0, input_scale=0.15, idle_s=0.0,
                       meter=None)
    nvml = FakeNVML([(A100, True, [("1g.5gb", "MIG-a")])])
    gpu = cuda_profiles("efficientnet", "a100-40gb", variants=["efficientnet-b1"],
                        slices=["1g.5gb"], iters=2, warmup=0, input_scale=0.15, idle_s=0.01,
                        min_time_s=0.0, nvml=nvml, worker_factory=lambda env: StandInWorker(env))
    assert list(modeled.columns) == list(cpu.columns) == list(gpu.columns) == list(PROFILE_COLUMNS)
    assert dict(modeled.dtypes) == dict(cpu.dtypes) == dict(gpu.dtypes)
    assert {modeled["source"][0], cpu["source"][0], gpu["source"][0]} == {
        "modeled", "measured-cpu", "measured-gpu"}


def test_cli_cpu_backend(run_cli, tmp_path):
    out = tmp_path / "cpu.csv"
    code, stdout, err = run_cli("profile", "--app", "efficientnet", "--backend", "cpu",
                                "--variant", "efficientnet-b1", "--slice", "1g.5gb", "--iters", "2",
                                "--warmup", "0", "--input-scale", "0.15", "--out", str(out))
    assert code == 0, err
    df = read_table(out)
    assert len(df) == 1 and df["source"][0] == "measured-cpu"
    code, _, err = run_cli("profile", "--app", "efficientnet", "--backend", "cpu",
                           "--variant", "yolov5l")
    assert code == 2 and "not a variant of app 'efficientnet'" in err
