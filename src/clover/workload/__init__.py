"""Request arrival processes (Poisson, the real Azure LLM 2023 trace rescaled) in seconds."""

from clover.workload.arrivals import (
    AZURE_TRACES,
    KINDS,
    WorkloadSpec,
    arrival_stats,
    arrivals,
    parse_kind,
    azure_arrivals,
    load_azure_trace,
    poisson_arrivals,
    rescale_periodic,
)

__all__ = [
    "AZURE_TRACES",
    "KINDS",
    "WorkloadSpec",
    "arrival_stats",
    "arrivals",
    "parse_kind",
    "azure_arrivals",
    "load_azure_trace",
    "poisson_arrivals",
    "rescale_periodic",
]
