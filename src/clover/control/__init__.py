"""Hourly controller: a scheme decides every hour over a carbon trace; the service pays for
online evaluations and reconfigurations as a live system would (see ``docs/controller.md``).

Names are imported on first use (PEP 562), so ``clover run --help`` and the pipeline's job
startup do not pay for the controller's dependencies before they are needed.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ReconfigCosts": "clover.control.accounting", "Transition": "clover.control.accounting",
    "ModeledCosts": "clover.control.accounting",
    "transition": "clover.control.accounting",
    "CONTRACT_COLUMNS": "clover.control.controller", "LOG_COLUMNS": "clover.control.controller",
    "ControlSettings": "clover.control.controller", "Controller": "clover.control.controller",
    "Reference": "clover.control.controller",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
