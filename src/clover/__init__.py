"""Clover: carbon-aware ML inference on MIG GPUs (reproduction of Li et al., SC'23).

Packages, in the one-way order data flows through them:
``mig`` -> ``models`` -> ``profiles`` -> ``carbon``, ``workload`` -> ``sim`` ->
``optimize`` -> ``serve`` (the live backend) -> ``control`` -> ``analysis``
(docs/ARCHITECTURE.md, checked by tests/test_import_direction.py).
"""

__version__ = "0.1.0"
