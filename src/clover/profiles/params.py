"""The constants of the modeled backend, read from ``data/profile_model.yaml``.

Every constant in that file is ``{value, source}``; a constant without a source is an error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from clover.errors import CloverError
from clover.paths import catalog_dir

PARAMS_FILE = "profile_model.yaml"


@dataclass(frozen=True)
class GpuCompute:
    """Compute facts of one GPU model (datasheet)."""

    peak_tflops_tf32: float
    peak_tflops_fp32: float
    peak_tflops_fp16: float
    sms_full_chip: int

    @property
    def peak_tflops_per_sm(self) -> float:
        """Dense TF32 TFLOP/s of one SM (the precision the model assumes)."""
        return self.peak_tflops_tf32 / self.sms_full_chip


@dataclass(frozen=True)
class ModelParams:
    """All constants of the analytical profile model (units in the names)."""

    precision: str
    model_date: str
    gpus: dict[str, GpuCompute]
    hill_k: float
    tau_kernel_ms: float
    efficiency_max: float
    tau_host_ms: float
    request_overhead_ms: float
    p50_over_mean: float
    p95_over_mean: float
    dynamic_base_frac: float
    dynamic_util_frac: float
    bytes_per_param: float
    cuda_context_mb: float
    workspace_mb: float
    allocator_factor: float
    variants: dict[str, dict[str, float]]
    calibration: dict = field(default_factory=dict)
    sha256: str = ""
    path: str = ""

    def gpu(self, key: str) -> GpuCompute:
        spec = self.gpus.get(key)
        if spec is None:
            raise CloverError(f"{self.path}: no compute constants for GPU {key!r} under 'gpus'")
        return spec

    def variant(self, name: str) -> dict[str, float]:
        stats = self.variants.get(name)
        if stats is None:
            raise CloverError(f"{self.path}: no kernel/activation stats for variant {name!r} "
                              "under 'variants' (run python -m clover.profiles.opstats)")
        return stats


def _value(section: dict, key: str, where: str, path: Path) -> float | str:
    entry = section.get(key) if isinstance(section, dict) else None
    if not isinstance(entry, dict) or "value" not in entry:
        raise CloverError(f"{path}: missing constant {where}.{key} ({{value, source}})")
    if not str(entry.get("source", "")).strip():
        raise CloverError(f"{path}: constant {where}.{key} has no source")
    return entry["value"]


def parse_params(text: str, path: Path) -> ModelParams:
    """Parse and validate the YAML text of the constants file."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CloverError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise CloverError(f"{path}: expected a mapping at the top level")
    for key in ("gpus", "service", "power", "memory", "variants"):
        if not isinstance(raw.get(key), dict):
            raise CloverError(f"{path}: missing section {key!r}")
    gpus = {}
    for gkey, sec in raw["gpus"].items():
        gpus[gkey] = GpuCompute(
            peak_tflops_tf32=float(_value(sec, "peak_tflops_tf32", f"gpus.{gkey}", path)),
            peak_tflops_fp32=float(_value(sec, "peak_tflops_fp32", f"gpus.{gkey}", path)),
            peak_tflops_fp16=float(_value(sec, "peak_tflops_fp16", f"gpus.{gkey}", path)),
            sms_full_chip=int(_value(sec, "sms_full_chip", f"gpus.{gkey}", path)),
        )
    svc, pw, mem = raw["service"], raw["power"], raw["memory"]
    variants = {}
    for name, stats in raw["variants"].items():
        if not isinstance(stats, dict) or not {"kernels", "peak_activation_mb"} <= set(stats):
            raise CloverError(f"{path}: variants.{name} needs kernels and peak_activation_mb")
        variants[name] = {"kernels": int(stats["kernels"]),
                          "peak_activation_mb": float(stats["peak_activation_mb"])}
    params = ModelParams(
        precision=str(_value(raw, "precision", "", path)),
        model_date=str(raw.get("model_date", "")),
        gpus=gpus,
        hill_k=float(_value(svc, "hill_k", "service", path)),
        tau_kernel_ms=float(_value(svc, "tau_kernel_ms", "service", path)),
        efficiency_max=float(_value(svc, "efficiency_max", "service", path)),
        tau_host_ms=float(_value(svc, "tau_host_ms", "service", path)),
        request_overhead_ms=float(_value(svc, "request_overhead_ms", "service", path)),
        p50_over_mean=float(_value(svc, "p50_over_mean", "service", path)),
        p95_over_mean=float(_value(svc, "p95_over_mean", "service", path)),
        dynamic_base_frac=float(_value(pw, "dynamic_base_frac", "power", path)),
        dynamic_util_frac=float(_value(pw, "dynamic_util_frac", "power", path)),
        bytes_per_param=float(_value(mem, "bytes_per_param", "memory", path)),
        cuda_context_mb=float(_value(mem, "cuda_context_mb", "memory", path)),
        workspace_mb=float(_value(mem, "workspace_mb", "memory", path)),
        allocator_factor=float(_value(mem, "allocator_factor", "memory", path)),
        variants=variants,
        calibration=raw.get("calibration") or {},
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        path=str(path),
    )
    if params.precision != "tf32":
        raise CloverError(f"{path}: precision {params.precision!r} unsupported (tf32)")
    if params.hill_k < 1:
        raise CloverError(f"{path}: service.hill_k must be >= 1 (monotone service time)")
    return params


@lru_cache(maxsize=8)
def _load(path_str: str, mtime_ns: int) -> ModelParams:
    path = Path(path_str)
    return parse_params(path.read_text(), path)


def load_params(path: str | Path | None = None) -> ModelParams:
    """The model constants (default ``data/profile_model.yaml`` of the repository)."""
    path = Path(path) if path is not None else catalog_dir() / PARAMS_FILE
    if not path.is_file():
        raise CloverError(f"profile-model constants {path} not found")
    return _load(str(path.resolve()), path.stat().st_mtime_ns)
