"""The one exception type that user-facing code raises for bad input.

The CLI (and the Snakemake rules through it) turn a :class:`CloverError` into one line on
stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations


class CloverError(Exception):
    """Bad input or an impossible request; the message names the file or field at fault."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message
