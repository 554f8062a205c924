"""Model-variant catalog, offline model builders and service configurations."""

from clover.models.catalog import (
    APPS,
    VARIANTS,
    Variant,
    get_app,
    get_variant,
    largest_variant,
    variants_for_app,
)
from clover.models.configuration import Configuration, GpuAssignment

__all__ = [
    "APPS",
    "VARIANTS",
    "Configuration",
    "GpuAssignment",
    "Variant",
    "get_app",
    "get_variant",
    "largest_variant",
    "variants_for_app",
]
