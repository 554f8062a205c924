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
from clover.schemas import field_path, first_error, load_schema, load_yaml, missing_property

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


PARAMS_SCHEMA = "params.schema.yaml"  #: package data of clover.profiles
#: Sections whose constants are floats named like the ModelParams fields.
_FLOAT_SECTIONS = ("service", "power", "memory")


def _value(section: dict, key: str) -> float | str:
    return section[key]["value"]


def _schema_message(raw: object, path: Path) -> str | None:
    """One line for the first way ``raw`` breaks ``params.schema.yaml`` (None: it is valid)."""
    error = first_error(raw, load_schema("clover.profiles", PARAMS_SCHEMA))
    if error is None:
        return None
    where = field_path(error)
    if not where:
        if error.validator == "type":
            return f"{path}: expected a mapping at the top level"
        key = missing_property(error)
        if key == "precision":
            return f"{path}: missing constant .precision ({{value, source}})"
        return f"{path}: missing section {key!r}"
    head = where[0]
    depth = 2 if head == "gpus" else 0 if head == "precision" else 1  # length of a section path
    if len(where) < depth or (len(where) == 1 and head != "precision" and error.validator == "type"):
        return f"{path}: missing section {head!r}"
    if head == "variants":
        return f"{path}: variants.{where[1]} needs kernels and peak_activation_mb"
    if len(where) == depth:  # a section (or gpus.<key>) without one of its constants
        key = error.schema["required"][0] if error.validator == "type" else missing_property(error)
        return f"{path}: missing constant {'.'.join(where)}.{key} ({{value, source}})"
    constant = ".precision" if head == "precision" else ".".join(where[:depth + 1])
    if error.validator == "pattern" or (error.validator == "required"
                                        and missing_property(error) == "source"):
        return f"{path}: constant {constant} has no source"
    return f"{path}: missing constant {constant} ({{value, source}})"


def parse_params(text: str, path: Path) -> ModelParams:
    """Parse and validate (``params.schema.yaml``) the YAML text of the constants file."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise CloverError(f"{path}: not valid YAML ({exc})") from None
    message = _schema_message(raw, path)
    if message is not None:
        raise CloverError(message)
    gpus = {}
    for gkey, sec in raw["gpus"].items():
        gpus[gkey] = GpuCompute(
            peak_tflops_tf32=float(_value(sec, "peak_tflops_tf32")),
            peak_tflops_fp32=float(_value(sec, "peak_tflops_fp32")),
            peak_tflops_fp16=float(_value(sec, "peak_tflops_fp16")),
            sms_full_chip=int(_value(sec, "sms_full_chip")),
        )
    variants = {}
    for name, stats in raw["variants"].items():
        variants[name] = {"kernels": int(stats["kernels"]),
                          "peak_activation_mb": float(stats["peak_activation_mb"])}
    schema = load_schema("clover.profiles", PARAMS_SCHEMA)["properties"]
    constants = {key: float(_value(raw[section], key)) for section in _FLOAT_SECTIONS
                 for key in schema[section]["required"]}  # the schema names each constant once
    params = ModelParams(
        precision=str(_value(raw, "precision")),
        model_date=str(raw.get("model_date", "")),
        gpus=gpus,
        **constants,
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
    from clover.paths import read_text

    path = Path(path_str)
    return parse_params(read_text(path, "model constants file"), path)


def load_params(path: str | Path | None = None) -> ModelParams:
    """The model constants (default ``data/profile_model.yaml`` of the repository)."""
    path = Path(path) if path is not None else catalog_dir() / PARAMS_FILE
    if not path.is_file():
        raise CloverError(f"profile-model constants {path} not found")
    return _load(str(path.resolve()), path.stat().st_mtime_ns)
