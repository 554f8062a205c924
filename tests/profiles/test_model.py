"""The modeled backend: schema, properties the issue asks for, calibration error bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clover.errors import CloverError
from clover.mig.geometry import GPUS, get_gpu
from clover.models.catalog import APPS, get_variant, variants_for_app
from clover.profiles import PROFILE_COLUMNS, load_profiles, model_profiles
from clover.profiles.calibration import BOUNDS, calibration_report, fit_constants
from clover.profiles.model import memory_mb, slice_memory_mb
from clover.profiles.params import load_params, parse_params
from clover.profiles.schema import CORE_COLUMNS, read_table, to_csv_text, write_table

ARCH_COLUMNS = (
    "app", "gpu", "variant", "slice_profile", "batch_size", "fits", "memory_mb",
    "service_ms_mean", "service_ms_p50", "service_ms_p95", "max_throughput_rps",
    "power_w_busy", "power_w_idle", "energy_j_per_request", "source", "device", "software",
    "timestamp_utc",
)


def test_columns_are_the_architecture_contract_in_order():
    assert CORE_COLUMNS == ARCH_COLUMNS
    assert PROFILE_COLUMNS[:len(ARCH_COLUMNS)] == ARCH_COLUMNS
    df = model_profiles("albert", "a100-40gb")
    assert tuple(df.columns) == PROFILE_COLUMNS


@pytest.mark.parametrize("gpu", sorted(GPUS))
def test_all_variants_times_five_slices(gpu):
    for app in APPS:
        df = model_profiles(app, gpu)
        n_var = len(variants_for_app(app))
        assert len(df) == n_var * 5
        assert set(df["slice_profile"]) == {p.name for p in get_gpu(gpu).profiles}
        assert (df["source"] == "modeled").all() and (df["power_source"] == "modeled").all()
        assert (df["batch_size"] == 1).all()


def test_eleven_variants_on_a100():
    rows = sum(len(model_profiles(app, "a100-40gb")) for app in APPS)
    assert rows == 55


@pytest.mark.parametrize("gpu", ["a100-40gb", "h100-80gb"])
@pytest.mark.parametrize("app", sorted(APPS))
def test_larger_slice_lower_service_time(app, gpu):
    df = model_profiles(app, gpu)
    for _, grp in df[df["fits"]].groupby("variant"):
        times = grp["service_ms_mean"].to_numpy()  # slices smallest first
        assert np.all(np.diff(times) < 0), grp[["slice_profile", "service_ms_mean"]]


@pytest.mark.parametrize("gpu", sorted(GPUS))
@pytest.mark.parametrize("app", sorted(APPS))
def test_larger_variant_more_energy_and_accuracy(app, gpu):
    df = model_profiles(app, gpu)
    order = [v.name for v in variants_for_app(app)]
    acc = [get_variant(v).accuracy for v in order]
    assert acc == sorted(acc) and len(set(acc)) == len(acc)
    for _, grp in df.groupby("slice_profile"):
        energy = grp.set_index("variant").loc[order, "energy_j_per_request"].to_numpy()
        assert np.all(np.diff(energy) > 0), grp[["variant", "energy_j_per_request"]]


def test_power_and_energy_arithmetic():
    df = model_profiles("yolo", "a100-40gb")
    spec = get_gpu("a100-40gb")
    for _, row in df.iterrows():
        share = spec.profile(row["slice_profile"]).compute_slices / 7
        assert row["power_w_idle"] == pytest.approx(spec.idle_power_w * share)
        assert row["power_w_idle"] < row["power_w_busy"] < spec.tdp_w * share
        assert row["energy_j_per_request"] == pytest.approx(
            row["power_w_busy"] / row["max_throughput_rps"])
        assert row["max_throughput_rps"] == pytest.approx(1e3 / row["service_ms_mean"])
        assert row["service_ms_p50"] <= row["service_ms_mean"] <= row["service_ms_p95"]


def test_memory_model_is_honest_about_the_smallest_slice():
    """By weights + activations + context the largest models DO fit 1g.5gb at batch 1.

    ALBERT-xxlarge: 940 MB of FP32 weights + 148 MB activations + 756 MB context/workspace
    = 1.84 GB; YOLOv5x6 at 1280 px: 563 + 341 + 756 = 1.66 GB; the slice has 4.75 GiB. The
    memory model does exclude them once the batch makes the activations large.
    """
    params = load_params()
    spec = get_gpu("a100-40gb")
    small = spec.profile("1g.5gb")
    for name, expect_mb in (("albert-xxlarge-v2", 1844), ("yolov5x6", 1660)):
        var = get_variant(name)
        assert memory_mb(var, params) == pytest.approx(expect_mb, abs=2)
        assert memory_mb(var, params) < slice_memory_mb(small)
    df = model_profiles("yolo", "a100-40gb", batch_sizes=(1, 16))
    x6 = df[df["variant"] == "yolov5x6"].set_index(["slice_profile", "batch_size"])
    assert x6.loc[("1g.5gb", 1), "fits"]
    assert not x6.loc[("1g.5gb", 16), "fits"]          # 563 + 16 x 341 + 756 MB > 5.1 GB
    assert math.isnan(x6.loc[("1g.5gb", 16), "service_ms_mean"])
    assert x6.loc[("7g.40gb", 16), "fits"]
    # the memory estimate grows with the variant within each app
    for app in APPS:
        mems = [memory_mb(v, params) for v in variants_for_app(app)]
        assert mems == sorted(mems)


def test_identical_inputs_identical_bytes(tmp_path):
    a = write_table(model_profiles("efficientnet", "a100-40gb"), tmp_path / "a.csv")
    b = write_table(model_profiles("efficientnet", "a100-40gb"), tmp_path / "b.csv")
    assert a.read_bytes() == b.read_bytes()
    assert to_csv_text(read_table(a)) == a.read_text()


def test_load_profiles_model_and_path(tmp_path):
    df = load_profiles("albert", "a100-40gb")
    out = write_table(df, tmp_path / "t.csv")
    back = load_profiles("albert", "a100-40gb", path=out)
    assert tuple(back.columns) == PROFILE_COLUMNS
    assert back["fits"].dtype == bool and back["batch_size"].dtype == np.int64
    np.testing.assert_allclose(back["service_ms_mean"], df["service_ms_mean"], rtol=1e-5)
    with pytest.raises(CloverError, match="expected 'yolo'"):
        load_profiles("yolo", "a100-40gb", path=out)


def test_load_profiles_bad_inputs(tmp_path):
    with pytest.raises(CloverError, match="unknown app"):
        load_profiles("resnet", "a100-40gb")
    with pytest.raises(CloverError, match="unknown GPU"):
        load_profiles("albert", "v100")
    with pytest.raises(CloverError, match="unknown profile backend"):
        load_profiles("albert", "a100-40gb", backend="tpu")
    with pytest.raises(CloverError, match="not found"):
        load_profiles("albert", "a100-40gb", path=tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    df = model_profiles("albert", "a100-40gb").drop(columns=["power_w_busy"])
    df.to_csv(bad, index=False)
    with pytest.raises(CloverError, match="missing columns.*power_w_busy"):
        load_profiles("albert", "a100-40gb", path=bad)
    df = model_profiles("albert", "a100-40gb")
    df.loc[0, "source"] = "guessed"
    df.to_csv(bad, index=False)
    with pytest.raises(CloverError, match="unknown values"):
        load_profiles("albert", "a100-40gb", path=bad)


def test_every_constant_has_a_source(tmp_path):
    text = (load_params().path and open(load_params().path).read())
    broken = text.replace('source: "FP32 weights (precision above)"', 'source: ""')
    with pytest.raises(CloverError, match="bytes_per_param has no source"):
        parse_params(broken, tmp_path / "p.yaml")


def test_calibration_error_within_stated_bounds(shared_data):
    rep = calibration_report(shared_data)
    assert set(rep["kind"]) == set(BOUNDS)
    worst = rep.assign(abs_err=rep["rel_error"].abs()).groupby("kind")["abs_err"].max()
    for kind, err in worst.items():
        assert err <= BOUNDS[kind], (kind, err)
    held = rep[rep["role"] == "held-out"]
    assert len(held) == 2 and (held["rel_error"].abs() < 0.10).all()


def test_fitted_constants_reproduce(shared_data):
    fit = fit_constants(shared_data)
    p = load_params()
    for key in ("hill_k", "tau_kernel_ms", "efficiency_max", "request_overhead_ms",
                "dynamic_base_frac", "dynamic_util_frac"):
        assert getattr(p, key) == pytest.approx(fit[key], rel=2e-3), key


def test_cli_model_backend(run_cli, tmp_path):
    out = tmp_path / "eff.csv"
    code, stdout, _ = run_cli("profile", "--app", "efficientnet", "--gpu", "a100-40gb",
                              "--backend", "model", "--out", str(out), "--quiet")
    assert code == 0 and "20 rows" in stdout
    assert read_table(out)["variant"].nunique() == 4


def test_cli_bad_app_and_backend(run_cli):
    code, _, err = run_cli("profile", "--app", "resnet", "--backend", "model")
    assert code == 2 and "clover: error: unknown app 'resnet'" in err
    code, _, err = run_cli("profile", "--app", "yolo", "--backend", "tpu")
    assert code == 2 and "unknown profile backend 'tpu'" in err
