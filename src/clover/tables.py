"""Reading the project's input CSVs with one clear error per problem (file and line named)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from clover.errors import CloverError, quoted


def read_checked_csv(path: str, what: str, required: Sequence[str], **read_csv_kw) -> pd.DataFrame:
    """``pd.read_csv(path)`` that raises :class:`CloverError` naming ``what`` and the file when
    it is empty, unreadable or lacks a ``required`` column."""
    from clover.paths import check_input_file, input_error

    check_input_file(path, f"{what} file")
    try:
        raw = pd.read_csv(path, **read_csv_kw)
    except OSError as exc:
        raise input_error(path, f"{what} file", exc) from None
    except pd.errors.EmptyDataError:
        raise CloverError(f"{what} file {path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CloverError(f"{what} file {path} is not a readable CSV: "
                          f"{str(exc).strip().splitlines()[0]}") from None
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise CloverError(f"{what} file {path}: missing column(s) {', '.join(missing)} "
                          f"(needs {', '.join(required)})")
    return raw


def parse_timestamps(raw: pd.DataFrame, column: str, path: str, what: str, *, utc: bool = False,
                     hint: str = "") -> pd.Series:
    """ISO-8601 timestamps of ``column``; the first unparsable one is an error naming its line."""
    ts = pd.to_datetime(raw[column], utc=utc, format="ISO8601", errors="coerce")
    bad = ts.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CloverError(f"{what} file {path} line {i + 2}: unparsable {column} "
                          f"{quoted(raw[column].iloc[i])}{hint}")
    return ts


#: How every output table is written: no index, 10 significant digits, ``\n`` line ends.
CSV_FORMAT = {"index": False, "float_format": "%.10g", "lineterminator": "\n"}


def write_csv(table: pd.DataFrame, path: str) -> None:
    """``table`` to ``path`` in :data:`CSV_FORMAT`, atomically (:func:`clover.paths.atomic_write`)."""
    from clover.paths import atomic_write

    with atomic_write(path) as fh:
        table.to_csv(fh, **CSV_FORMAT)
