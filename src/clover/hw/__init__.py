"""Hardware access shared by the packages that measure (a foundation: imports only foundations).

* :mod:`clover.hw.nvml`: the one NVML adapter (``nvidia-ml-py``, or a stand-in module with the
  same functions in tests) — init/shutdown, handles, MIG mode and devices, energy, power,
  memory; NVML errors become one-line :class:`~clover.errors.CloverError`.
* :mod:`clover.hw.energy`: energy windows in zeus's shape (``begin_window(name)`` /
  ``end_window(name) -> Measurement``) over NVML, RAPL or a labelled model.

Importing this package imports neither ``pynvml`` nor torch.
"""
