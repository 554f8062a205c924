"""MIG geometry (profile catalogs, layout enumeration) and the NVML MIG manager."""

from clover.mig.geometry import (
    GPUS,
    GpuSpec,
    Layout,
    MigProfile,
    Placement,
    enumerate_layouts,
    get_gpu,
    layout_from_mix,
    slice_types,
)

__all__ = [
    "GPUS",
    "GpuSpec",
    "Layout",
    "MigProfile",
    "Placement",
    "enumerate_layouts",
    "get_gpu",
    "layout_from_mix",
    "slice_types",
]
