"""Hourly controller: a scheme decides every hour over a carbon trace; the service pays for
online evaluations and reconfigurations as a live system would (see ``docs/controller.md``)."""

from clover.control.accounting import ReconfigCosts, Transition, transition
from clover.control.controller import (
    CONTRACT_COLUMNS,
    LOG_COLUMNS,
    ControlSettings,
    Controller,
    Reference,
)

__all__ = [
    "CONTRACT_COLUMNS", "LOG_COLUMNS", "ControlSettings", "Controller", "Reference",
    "ReconfigCosts", "Transition", "transition",
]
