"""Re-export of :mod:`clover.control.gpucount` (it runs experiments, so it lives beside the
controller); kept because ``clover.analysis.cli`` (``clover gpu-count``) imports it from here."""

from clover.control.gpucount import GPU_COUNT_COLUMNS, gpu_count_table, gpus_needed  # noqa: F401

__all__ = ["GPU_COUNT_COLUMNS", "gpu_count_table", "gpus_needed"]
