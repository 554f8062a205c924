"""Fit the modeled backend's constants to public measurements, and report its error.

Measurements (``../shared/data/calibration/``, restated in its ``FACTS.md``):

* MISO (SoCC'22), A100-40GB, ResNet50-CIFAR training throughput on 1g..7g at batch
  64..512, and whole-GPU power at the same batches (``miso/miso_mig_training_tidy.csv``):
  the *shape* of the utilisation curve (``hill_k``, ``tau_kernel_ms``) and the power line
  (``dynamic_base_frac``, ``dynamic_util_frac``).
* MIGPerf, PyTorch BERT-base inference on 1g.5gb at batch 1 and 16 (FACTS.md): the absolute
  level (``efficiency_max``, ``request_overhead_ms``; ``tau_host_ms`` is taken from the
  literature, not fitted).
* MLPerf Inference v1.1 (NVIDIA closed, TensorRT), A100-SXM4-80GB, 1g.10gb vs the whole GPU
  (``mlperf_inference_v1.1/mlperf_v1.1_nvidia_mig_tidy.csv``): held out, used only to check
  the model's per-slice scaling (Offline throughput ratios). MLPerf's absolute times are
  TensorRT INT8/FP16 with CUDA graphs and are not comparable to eager FP32/TF32 PyTorch.

:func:`fit_constants` reproduces the fitted constants of ``data/profile_model.yaml``;
:func:`calibration_report` lists every check with the measured value, the model's value, the
relative error and the bound the tests hold it to.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.catalog import transformer_encoder_gflops
from clover.paths import data_file
from clover.profiles.model import estimate_service
from clover.profiles.params import ModelParams, load_params

MISO_CSV = "calibration/miso/miso_mig_training_tidy.csv"
MLPERF_CSV = "calibration/mlperf_inference_v1.1/mlperf_v1.1_nvidia_mig_tidy.csv"
MISO_SMS = {"1g.5gb": 14, "2g.10gb": 28, "3g.20gb": 42, "4g.20gb": 56, "7g.40gb": 98,
            "full(no-MIG)": 108}

#: relative-error bounds the tests enforce (docs/profiles.md states them)
BOUNDS = {
    "migperf": 0.02,            # fitted points: reproduced
    "miso_throughput": 0.35,    # 20 points, shape fit: worst point
    "miso_slice_ratio": 0.20,   # 1g..4g throughput relative to 7g at batch 256
    "mlperf_offline_ratio": 0.15,  # held out: 1g.10gb / full throughput, large batch
    "miso_power": 0.05,         # whole-GPU ResNet50 power fit
    "mlperf_singlestream_ratio": 0.50,  # held out, indicative: batch-1 1g/full latency ratio
}
#: MLPerf v1.1 workloads used for the held-out scaling checks: (GFLOPs per sample, kernels).
#: ResNet50 v1.5 4.1 GMAC at 224 px; BERT-large 24 x 1024 at seq 384; SSD-ResNet34 433 GOPs at
#: 1200 px (Reddi et al., MLPerf Inference Benchmark, ISCA 2020, Table I). Kernel counts are
#: for TensorRT-fused engines, far fewer than eager (assumed ~1 per fused layer).
MLPERF_WORKLOADS = {"resnet50": (8.2, 60),
                    "bert-99": (transformer_encoder_gflops(24, 1024, 384), 200),
                    "ssd-resnet34": (433.0, 60)}
#: the GPU of the MISO measurements (A100-SXM4-40GB)
MISO_GPU = "a100-40gb"
#: NVIDIA's MLPerf v1.1 A100 engines run INT8: dense INT8 peak, A100 datasheet (TOPS)
A100_INT8_TOPS = 624.0
MLPERF_OFFLINE_BATCH = {"resnet50": 2048, "bert-99": 1024}  # NVIDIA's Offline batch sizes (order)


def miso_resnet(data_dir: str | Path | None = None) -> pd.DataFrame:
    """MISO ResNet50-CIFAR: slice, batch, throughput (samples/s), sms; and power rows."""
    path = data_file(MISO_CSV, data_dir)
    df = pd.read_csv(path)
    df = df[(df["model"] == "resnet")]
    thr = df[df["metric"] == "throughput_samples_per_s"][["mig_profile", "batch_size", "value"]]
    thr = thr.rename(columns={"mig_profile": "slice", "value": "throughput"})
    thr["sms"] = thr["slice"].map(MISO_SMS)
    if thr.empty or thr["sms"].isna().any():
        raise CloverError(f"{path}: unexpected ResNet rows (slices {sorted(set(thr['slice']))})")
    return thr.reset_index(drop=True)


def miso_power(data_dir: str | Path | None = None) -> pd.DataFrame:
    """MISO whole-A100 ResNet50-CIFAR power (W) by batch size."""
    path = data_file(MISO_CSV, data_dir)
    df = pd.read_csv(path)
    df = df[(df["model"] == "resnet") & (df["metric"] == "power_w_mean")]
    return df[["mig_profile", "batch_size", "value"]].rename(
        columns={"mig_profile": "slice", "value": "power_w"}).reset_index(drop=True)


def _miso_step(params: ModelParams, batch: int, sms: int) -> tuple[float, float]:
    """Modeled training step (ms, utilisation) of MISO ResNet50-CIFAR: no host term."""
    cal = params.calibration["miso_resnet_cifar"]
    est = estimate_service(float(cal["gflops_per_sample"]), int(cal["kernels_per_step"]), sms,
                           MISO_GPU, replace(params, tau_host_ms=0.0, request_overhead_ms=0.0),
                           batch)
    return est.gpu_ms, est.utilisation


def fit_constants(data_dir: str | Path | None = None,
                  params: ModelParams | None = None) -> dict[str, float]:
    """Refit the fitted constants from the calibration data (deterministic least squares)."""
    from scipy.optimize import least_squares

    params = params or load_params()
    cal = params.calibration
    thr = miso_resnet(data_dir)
    kernels = int(cal["miso_resnet_cifar"]["kernels_per_step"])

    # 1. shape: log step time = log((x^k + floor^k)^(1/k) / e_train)
    def resid(p):
        k, floor_ms, e_train = p
        trial = replace(params, hill_k=k, tau_kernel_ms=floor_ms / kernels, efficiency_max=e_train)
        return [math.log(_miso_step(trial, int(b), int(s))[0])
                - math.log(1e3 * b / t) for b, s, t in
                zip(thr["batch_size"], thr["sms"], thr["throughput"])]

    fit = least_squares(resid, [2.0, 2.0, 0.1], bounds=([1.0, 1e-3, 1e-3], [20.0, 100.0, 1.0]))
    k, floor_ms, e_train = (float(v) for v in fit.x)
    tau_kernel = floor_ms / kernels

    # 2. level: two MIGPerf points, linear in (request overhead, 1/e_max); tau_host is given
    mp = cal["migperf_bert_base"]
    shape = replace(params, hill_k=k, tau_kernel_ms=tau_kernel, efficiency_max=1.0,
                    tau_host_ms=0.0, request_overhead_ms=0.0)
    sms = 14  # 1g slice
    a, y = [], []
    for batch, latency in sorted((int(b), float(v)) for b, v in mp["points"].items()):
        est = estimate_service(float(mp["gflops_per_sample"]), int(mp["kernels"]), sms,
                               MISO_GPU, shape, batch)
        a.append([1.0, est.gpu_ms])
        y.append(latency - int(mp["kernels"]) * params.tau_host_ms)
    overhead, inv_e = np.linalg.solve(np.array(a), np.array(y))

    # 3. power: P = idle + (TDP - idle) (b0 + b1 u), whole GPU (108 SMs), duty 1
    pw = miso_power(data_dir)
    trial = replace(params, hill_k=k, tau_kernel_ms=tau_kernel, efficiency_max=e_train)
    u = np.array([_miso_step(trial, int(b), MISO_SMS["full(no-MIG)"])[1] for b in pw["batch_size"]])
    a100 = get_gpu(MISO_GPU)
    idle, tdp = a100.idle_power_w, a100.tdp_w
    frac = (pw["power_w"].to_numpy(float) - idle) / (tdp - idle)
    b1, b0 = np.polyfit(u, frac, 1)
    return {"hill_k": k, "tau_kernel_ms": tau_kernel, "miso_floor_ms": floor_ms,
            "miso_efficiency": e_train, "efficiency_max": float(1.0 / inv_e),
            "request_overhead_ms": float(overhead), "dynamic_base_frac": float(b0),
            "dynamic_util_frac": float(b1)}


def _row(check: str, role: str, kind: str, measured: float, modeled: float) -> dict:
    return {"check": check, "role": role, "kind": kind, "measured": measured,
            "modeled": modeled, "rel_error": modeled / measured - 1.0, "bound": BOUNDS[kind]}


def _migperf_rows(params: ModelParams) -> list[dict]:
    """MIGPerf BERT-base latencies on 1g.5gb (fit)."""
    mp = params.calibration["migperf_bert_base"]
    rows = []
    for batch, latency in sorted((int(b), float(v)) for b, v in mp["points"].items()):
        est = estimate_service(float(mp["gflops_per_sample"]), int(mp["kernels"]), 14,
                               MISO_GPU, params, batch)
        rows.append(_row(f"MIGPerf BERT-base seq64 1g.5gb bs{batch} latency ms", "fit",
                         "migperf", latency, est.service_ms))
    return rows


def _miso_rows(data_dir, params: ModelParams) -> list[dict]:
    """MISO ResNet50-CIFAR throughput, slice ratios and whole-GPU power (fit)."""
    # MISO shape: the e_train of the fit is not a profile constant; use the fitted one
    fitted = fit_constants(data_dir, params)
    trial = replace(params, efficiency_max=fitted["miso_efficiency"])
    thr = miso_resnet(data_dir)
    rows = []
    for b, s, slc, t in zip(thr["batch_size"], thr["sms"], thr["slice"], thr["throughput"]):
        ms, _ = _miso_step(trial, int(b), int(s))
        rows.append(_row(f"MISO ResNet50-CIFAR train {slc} bs{b} samples/s", "fit",
                         "miso_throughput", float(t), 1e3 * b / ms))
    at256 = thr[thr["batch_size"] == 256].set_index("slice")["throughput"]
    full = _miso_step(trial, 256, 98)[0]
    for slc in ("1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb"):
        ms = _miso_step(trial, 256, MISO_SMS[slc])[0]
        rows.append(_row(f"MISO ResNet50-CIFAR bs256 {slc}/7g throughput ratio", "fit",
                         "miso_slice_ratio", float(at256[slc] / at256["7g.40gb"]), full / ms))
    pw = miso_power(data_dir)
    for b, p in zip(pw["batch_size"], pw["power_w"]):
        _, u = _miso_step(trial, int(b), 108)
        a100 = get_gpu(MISO_GPU)
        model_p = a100.idle_power_w + (a100.tdp_w - a100.idle_power_w) * (
            params.dynamic_base_frac + params.dynamic_util_frac * u)
        rows.append(_row(f"MISO ResNet50-CIFAR whole A100 bs{b} power W", "fit", "miso_power",
                         float(p), model_p))
    return rows


def _mlperf(data_dir, metric: str, scenario: str) -> pd.DataFrame:
    """MLPerf v1.1 A100-SXM4-80GB rows of one metric and scenario, Triton systems left out."""
    ml = pd.read_csv(data_file(MLPERF_CSV, data_dir))
    return ml[(ml["gpu"] == "A100-SXM4-80GB") & (ml["metric"] == metric)
              & (ml["scenario"] == scenario) & ~ml["system"].str.endswith("Triton")]


def _mlperf_offline_rows(data_dir, params: ModelParams) -> list[dict]:
    """MLPerf held-out: Offline 1g.10gb / full throughput ratio (TensorRT: no host term)."""
    ml = _mlperf(data_dir, "throughput_samples_per_s", "Offline")
    rows = []
    for name, (gflops, kernels) in MLPERF_WORKLOADS.items():
        if name not in MLPERF_OFFLINE_BATCH:
            continue
        sub = ml[ml["model"] == name].set_index("mig_profile")["value"]
        meas = float(sub["1g.10gb"] / sub["full(no-MIG)"])
        nohost = replace(params, tau_host_ms=0.0, request_overhead_ms=0.0)
        batch = MLPERF_OFFLINE_BATCH[name]
        one = estimate_service(gflops, kernels, 14, "a100-80gb", nohost, batch).service_ms
        whole = estimate_service(gflops, kernels, 108, "a100-80gb", nohost, batch).service_ms
        rows.append(_row(f"MLPerf v1.1 {name} Offline 1g.10gb/full throughput ratio",
                         "held-out", "mlperf_offline_ratio", meas, whole / one))
    return rows


def _mlperf_singlestream_rows(data_dir, params: ModelParams) -> list[dict]:
    """MLPerf held-out, indicative: SingleStream (batch 1) mean latency 1g.10gb / full. The
    engines are INT8 with CUDA graphs: INT8 peak instead of TF32, no host term."""
    ss = _mlperf(data_dir, "latency_ms_mean", "SingleStream")
    gpus = dict(params.gpus)
    gpus["a100-80gb"] = replace(gpus["a100-80gb"], peak_tflops_tf32=A100_INT8_TOPS)
    int8 = replace(params, gpus=gpus, tau_host_ms=0.0, request_overhead_ms=0.0)
    rows = []
    for name, (gflops, kernels) in MLPERF_WORKLOADS.items():
        sub = ss[ss["model"] == name].set_index("mig_profile")["value"]
        meas = float(sub["1g.10gb"] / sub["full(no-MIG)"])
        one = estimate_service(gflops, kernels, 14, "a100-80gb", int8).service_ms
        whole = estimate_service(gflops, kernels, 108, "a100-80gb", int8).service_ms
        rows.append(_row(f"MLPerf v1.1 {name} SingleStream 1g.10gb/full latency ratio "
                         "(INT8 peak)", "held-out", "mlperf_singlestream_ratio", meas,
                         one / whole))
    return rows


def calibration_report(data_dir: str | Path | None = None,
                       params: ModelParams | None = None) -> pd.DataFrame:
    """Every check: ``check, role, kind, measured, modeled, rel_error, bound``.

    ``role`` is ``fit`` (the constant was fitted to it) or ``held-out``.
    """
    params = params or load_params()
    return pd.DataFrame(_migperf_rows(params) + _miso_rows(data_dir, params)
                        + _mlperf_offline_rows(data_dir, params)
                        + _mlperf_singlestream_rows(data_dir, params))


def main() -> None:  # pragma: no cover - maintenance helper
    pd.set_option("display.width", 200)
    print(fit_constants())
    print(calibration_report().to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":  # pragma: no cover
    main()
