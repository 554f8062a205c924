"""Clover: carbon-aware ML inference on MIG GPUs (reproduction of Li et al., SC'23).

Packages, in the one-way order data flows through them:
``mig`` -> ``models`` -> ``profiles`` -> ``carbon``, ``workload`` -> ``sim`` ->
``optimize`` -> ``control`` -> ``analysis``; ``serve`` is the live backend.
"""

__version__ = "0.1.0"
