"""Where the project finds its data and writes its outputs.

Data directory resolution order (DEVELOPERS.md, "Data"):

1. an explicit ``data_dir`` (config key or CLI flag),
2. the environment variable ``CLOVER_DATA``,
3. ``../shared/data`` next to the repository, when it exists,
4. ``data/external/`` inside the repository (filled by ``clover data download``).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from clover.errors import CloverError

ENV_DATA = "CLOVER_DATA"


def repo_root() -> Path:
    """The repository checkout this package lives in (``src/clover`` -> repo)."""
    return Path(__file__).resolve().parents[2]


def catalog_dir() -> Path:
    """Hand-written catalogs with their sources (``data/`` in the repository)."""
    path = repo_root() / "data"
    if not path.is_dir():
        raise CloverError(
            f"catalog directory {path} not found: install the package in editable mode "
            "from a checkout (pip install -e .)"
        )
    return path


def candidate_data_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
    """Every place data may live, in resolution order, with the reason for each."""
    out: list[tuple[str, Path]] = []
    if data_dir:
        out.append(("config data_dir", Path(data_dir).expanduser()))
    env = os.environ.get(ENV_DATA)
    if env:
        out.append((f"env {ENV_DATA}", Path(env).expanduser()))
    out.append(("../shared/data", repo_root().parent / "shared" / "data"))
    out.append(("data/external", repo_root() / "data" / "external"))
    return out


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory to read from, following the documented order.

    An explicitly given directory (argument or ``CLOVER_DATA``) must exist; the implicit
    ``../shared/data`` is used only when present; ``data/external`` is the fallback.
    """
    for reason, path in candidate_data_dirs(data_dir):
        if reason.startswith(("config", "env")):
            if not path.is_dir():
                raise CloverError(f"data directory {path} (from {reason}) does not exist")
            return path.resolve()
        if path.is_dir():
            return path.resolve()
    return (repo_root() / "data" / "external").resolve()


def data_file(relative: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """A file under the data directory; a clear error when it is missing."""
    root = resolve_data_dir(data_dir)
    path = root / relative
    if not path.is_file():
        raise CloverError(
            f"data file {path} not found (data directory {root}); "
            "run `clover data download` or set CLOVER_DATA"
        )
    return path


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    A crash or exception leaves no partial file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with open(tmp, mode) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
