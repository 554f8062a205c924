"""Small argument helpers shared by the ``clover`` sub-commands."""

from __future__ import annotations

import json

from clover.errors import CloverError


def parse_json_arg(text: str | None, flag: str) -> dict:
    """A JSON object given on the command line; a clear error naming the flag otherwise."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CloverError(f"{flag}: not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise CloverError(f"{flag}: expected a JSON object, got {type(value).__name__}")
    return value


def parse_max_loss(text: str | None) -> float | None:
    """``none`` or a percentage in [0, 100]: the largest accuracy loss allowed vs BASE."""
    if text is None or str(text).lower() in ("", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise CloverError(f"--max-accuracy-loss must be 'none' or a percentage (got {text!r})") from None
    if not 0.0 <= value <= 100.0:
        raise CloverError(f"--max-accuracy-loss must be within [0, 100] % (got {value})")
    return value
