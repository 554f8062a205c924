"""The one exception type that user-facing code raises for bad input.

The CLI (and the Snakemake rules through it) turn a :class:`CloverError` into one line on
stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import re

_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def one_line(text: object) -> str:
    """``text`` with every line break (and the blanks around it) turned into one space: library
    error texts (a pandas tokenizer error, PyYAML's marks, jsonschema) span several lines."""
    return _LINE_BREAKS.sub(" ", str(text)).strip()


def quoted(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (``...`` marks the cut): an error line
    quotes the bad value, never a whole megabyte field of a hostile file."""
    text = repr(value) if not isinstance(value, str) or len(value) <= 4 * limit \
        else repr(value[:4 * limit])
    return text if len(text) <= limit else text[:limit - 3] + "..."


class CloverError(Exception):
    """Bad input or an impossible request; the message names the file or field at fault.
    The message is always one line (:func:`one_line`), whatever library text it quotes."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        message = one_line(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message
