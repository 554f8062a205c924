"""The modeled backend: per-slice service time, power, energy and memory fit, analytically.

Model (docs/profiles.md has the derivation and the calibration; constants and their sources
are in ``data/profile_model.yaml``). For a variant with ``F`` GFLOPs per request, ``K``
kernels per forward pass and batch ``b`` on a slice with ``n`` SMs of a GPU whose chip has
``N`` SMs and a dense TF32 peak ``P``:

* ideal compute time ``x = b·F / (n · P/N)`` (ms);
* GPU time ``t_gpu = (x^k + (K·τ_kernel)^k)^(1/k) / e_max``: a smooth maximum of the ideal
  time and a floor of one minimum kernel time per kernel, so a small model cannot fill a big
  slice (achieved utilisation ``u = x / (x^k + (K·τ_kernel)^k)^(1/k)`` rises with work per SM
  and saturates at 1), divided by the best achieved fraction of peak ``e_max``;
* host time ``t_host = o + K·τ_host``: a fixed per-request overhead (input copy, framework
  entry, synchronisation) plus eager PyTorch's Python/dispatcher/launch cost per kernel;
* service time ``t = t_host + t_gpu``; p50 and p95 are fixed ratios of the mean;
* busy power ``P_idle·c/7 + (TDP − P_idle)·c/7·(β0 + β1·u·t_gpu/t)`` for a slice of ``c``
  compute slices; idle power ``P_idle·c/7``; energy per request = busy power / throughput;
* memory ``params·4 B + peak activations·b·α + CUDA context + workspace`` against the slice's
  memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from clover import __version__
from clover.mig.geometry import GpuSpec, MigProfile, get_gpu
from clover.models.catalog import Variant, get_variant, variants_for_app
from clover.profiles.params import ModelParams, load_params
from clover.profiles.schema import finalize

MIB_PER_GIB_MB = 1073.741824  # 1 GiB in MB (1e6 bytes)


@dataclass(frozen=True)
class ServiceEstimate:
    """Modeled timing of one batch on one slice (ms) and achieved utilisation (0..1)."""

    service_ms: float
    gpu_ms: float
    host_ms: float
    ideal_ms: float
    utilisation: float

    @property
    def duty(self) -> float:
        """Fraction of the service time the GPU is executing kernels."""
        return self.gpu_ms / self.service_ms


def estimate_service(gflops: float, kernels: int, sms: int, gpu: str,
                     params: ModelParams, batch_size: int = 1) -> ServiceEstimate:
    """Service time of one batch of ``batch_size`` requests of ``gflops`` each on ``sms`` SMs.

    Args:
        gflops: forward-pass GFLOPs per request.
        kernels: kernels per forward pass (independent of batch size).
        sms: streaming multiprocessors of the slice.
        gpu: GPU key (``a100-40gb`` ...), selects the peak rate and chip SM count.
    """
    comp = params.gpu(gpu)
    ideal_ms = batch_size * gflops * 1e9 / (sms * comp.peak_tflops_per_sm * 1e12) * 1e3
    floor_ms = kernels * params.tau_kernel_ms
    k = params.hill_k
    smooth = (ideal_ms ** k + floor_ms ** k) ** (1.0 / k)
    gpu_ms = smooth / params.efficiency_max
    host_ms = params.request_overhead_ms + kernels * params.tau_host_ms
    return ServiceEstimate(service_ms=host_ms + gpu_ms, gpu_ms=gpu_ms, host_ms=host_ms,
                           ideal_ms=ideal_ms, utilisation=ideal_ms / smooth)


def slice_power_w(spec: GpuSpec, prof: MigProfile, est: ServiceEstimate | None,
                  params: ModelParams) -> tuple[float, float]:
    """(busy, idle) power of a slice in W; busy is ``nan`` when ``est`` is None."""
    share = prof.compute_slices / spec.compute_slices
    idle = spec.idle_power_w * share
    if est is None:
        return math.nan, idle
    dyn = params.dynamic_base_frac + params.dynamic_util_frac * est.utilisation * est.duty
    return idle + (spec.tdp_w - spec.idle_power_w) * share * dyn, idle


def memory_mb(var: Variant, params: ModelParams, batch_size: int = 1) -> float:
    """Device memory (MB) to serve ``var``: weights, activations, context, workspace."""
    stats = params.variant(var.name)
    weights = var.params_m * params.bytes_per_param  # params_m x 1e6 x B / 1e6
    acts = stats["peak_activation_mb"] * batch_size * params.allocator_factor
    return weights + acts + params.cuda_context_mb + params.workspace_mb


def slice_memory_mb(prof: MigProfile) -> float:
    """Usable memory of a slice in MB (``memory_gb`` is GiB)."""
    return prof.memory_gb * MIB_PER_GIB_MB


def modeled_row(var: Variant, spec: GpuSpec, prof: MigProfile, params: ModelParams,
                batch_size: int = 1) -> dict:
    """One profile-table row (dict with every column) for variant x slice x batch."""
    mem = memory_mb(var, params, batch_size)
    fits = mem <= slice_memory_mb(prof)
    row = {
        "app": var.app, "gpu": spec.key, "variant": var.name, "slice_profile": prof.name,
        "batch_size": batch_size, "fits": fits, "memory_mb": round(mem, 3),
        "source": "modeled", "device": spec.name,
        "software": f"clover {__version__}; profile_model.yaml sha256:{params.sha256[:12]}",
        "timestamp_utc": params.model_date, "power_source": "modeled",
        "input_size": var.input_size, "iterations": 0,
    }
    nan = math.nan
    if not fits:
        _, idle = slice_power_w(spec, prof, None, params)
        row.update(service_ms_mean=nan, service_ms_p50=nan, service_ms_p95=nan,
                   max_throughput_rps=nan, power_w_busy=nan, power_w_idle=idle,
                   energy_j_per_request=nan)
        return row
    est = estimate_service(var.gflops, int(params.variant(var.name)["kernels"]), prof.sms,
                           spec.key, params, batch_size)
    busy, idle = slice_power_w(spec, prof, est, params)
    thr = batch_size / (est.service_ms / 1e3)
    row.update(
        service_ms_mean=est.service_ms,
        service_ms_p50=est.service_ms * params.p50_over_mean,
        service_ms_p95=est.service_ms * params.p95_over_mean,
        max_throughput_rps=thr, power_w_busy=busy, power_w_idle=idle,
        energy_j_per_request=busy / thr,
    )
    return row


def model_profiles(app: str, gpu: str, *, batch_sizes: tuple[int, ...] = (1,),
                   params: ModelParams | None = None,
                   variants: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The modeled profile table of ``app`` on ``gpu``: every variant x slice type x batch.

    Rows are ordered by variant (smallest first), slice (smallest first), batch size. The
    result depends only on the catalogs and ``data/profile_model.yaml`` (deterministic).
    """
    params = params or load_params()
    spec = get_gpu(gpu)
    vars_ = (tuple(get_variant(v) for v in variants) if variants is not None
             else variants_for_app(app))
    rows = [modeled_row(var, spec, prof, params, int(b))
            for var in vars_ for prof in spec.profiles for b in batch_sizes]
    return finalize(rows)
