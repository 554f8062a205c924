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
