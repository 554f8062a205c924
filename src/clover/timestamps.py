"""One ISO-8601 UTC timestamp format for every file and log the project writes."""

from __future__ import annotations

from datetime import datetime, timezone

#: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds), the tidy carbon schema's ``timestamp_utc``.
ISO_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso_utc(ts=None) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` for a timestamp (pandas, numpy, datetime or string; naive = UTC),
    or for now when ``ts`` is None."""
    if ts is None:
        return datetime.now(timezone.utc).strftime(ISO_UTC_FORMAT)
    import pandas as pd

    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.strftime(ISO_UTC_FORMAT)
