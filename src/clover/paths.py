"""Where the project finds its data and writes its outputs.

Data directory resolution order (DEVELOPERS.md, "Data"):

1. an explicit ``data_dir`` (config key or CLI flag),
2. the environment variable ``CLOVER_DATA``,
3. ``../shared/data`` next to the repository, when it exists,
4. ``data/external/`` inside the repository (filled by ``clover data download``).
"""

from __future__ import annotations

import errno
import os
import re
import stat
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
    check_input_size(path, "data file", path.stat().st_size)
    return path


def _os_reason(exc: OSError) -> str:
    """A short, user-facing reason for an OS error (no errno numbers, no traceback)."""
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, NotADirectoryError):
        return "a parent is not a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    return exc.strerror or type(exc).__name__


def input_error(path: str | os.PathLike[str], what: str, exc: OSError) -> CloverError:
    """The one-line error for an input ``path`` that cannot be read."""
    return CloverError(f"cannot read {what} {path}: {_os_reason(exc)}")


#: environment variable overriding :data:`DEFAULT_MAX_INPUT_MB` (docs/reliability.md, "Files")
ENV_MAX_INPUT = "CLOVER_MAX_INPUT_MB"
#: the largest input file (trace, profile table, config, cluster or JSON file) read, in MiB
#: (1 MiB = 2^20 bytes): every shipped data file is under 20 MiB; a file beyond it is refused
#: before it is parsed, so that no input drives a parser to gigabytes (a sparse file, issue 21)
DEFAULT_MAX_INPUT_MB = 256


def max_input_bytes() -> int:
    """The input size cap in bytes: ``$CLOVER_MAX_INPUT_MB`` (a positive number of MiB) or
    :data:`DEFAULT_MAX_INPUT_MB`."""
    raw = os.environ.get(ENV_MAX_INPUT, "").strip()
    if not raw:
        return DEFAULT_MAX_INPUT_MB << 20
    try:
        mib = float(raw)
    except ValueError:
        mib = float("nan")
    if not (mib > 0 and mib < 2 ** 40):
        raise CloverError(f"env {ENV_MAX_INPUT}={raw!r}: must be a positive number of MiB")
    return int(mib * (1 << 20))


def check_input_size(path: str | os.PathLike[str], what: str, size_bytes: int) -> None:
    """One line naming ``path`` when its size (apparent size: a sparse file counts in full)
    exceeds :func:`max_input_bytes`; called before any parser sees the file."""
    cap = max_input_bytes()
    if size_bytes > cap:
        raise CloverError(f"cannot read {what} {path}: {size_bytes:,} bytes exceed the input "
                          f"size cap of {cap:,} bytes (set {ENV_MAX_INPUT}, in MiB, to raise it)")


def check_input_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` if it is a readable regular file within the size cap
    (:func:`check_input_size`); else one clear CloverError naming it (missing, a directory,
    unreadable, name too long, too large)."""
    path = Path(path)
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        with open(path, "rb") as fh:
            fh.read(0)
    except OSError as exc:
        raise input_error(path, what, exc) from None
    if stat.S_ISREG(info.st_mode):
        check_input_size(path, what, info.st_size)
    return path


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of input ``path``; one clear CloverError when it cannot be read."""
    data = read_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CloverError(f"cannot read {what} {path}: not UTF-8 text") from None


def read_bytes(path: str | os.PathLike[str], what: str) -> bytes:
    """The bytes of input ``path``; one clear CloverError when it cannot be read or holds more
    than the size cap (read bounded, so a file that grows or a pipe cannot exceed it either)."""
    path = check_input_file(path, what)
    cap = max_input_bytes()
    try:
        with open(path, "rb") as fh:
            data = fh.read(cap + 1)
    except OSError as exc:
        raise input_error(path, what, exc) from None
    check_input_size(path, what, len(data))
    return data


def output_error(path: str | os.PathLike[str], exc: OSError) -> CloverError:
    """The one-line error for an output ``path`` that cannot be written."""
    return CloverError(f"cannot write output {path}: {_os_reason(exc)}")


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """``path`` if it can be an output file: not a directory, not too long, no file in the way
    of its parent; else one clear CloverError. Check before long computations."""
    path = Path(path)
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):
            raise CloverError(f"cannot write output {path}: is a directory")
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as exc:
        raise output_error(path, exc) from None
    for parent in path.parents:
        try:
            mode = os.stat(parent).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise output_error(path, exc) from None
        if not stat.S_ISDIR(mode):
            raise CloverError(f"cannot write output {path}: parent {parent} is not a directory")
        break
    return path


#: temporary files of :func:`atomic_write`: ``.<name>.<pid>.<random>.tmp`` beside the target
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files that a killed :func:`atomic_write` of ``path`` left behind
    (those whose writing process no longer runs); returns what was removed."""
    path = Path(path)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        m = _TMP_RE.match(entry.name)
        if not m or m.group("name") != path.name or _pid_alive(int(m.group("pid"))):
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    A crash or exception leaves no partial file under the final name; the data is fsynced
    before the rename (and the directory after it); the file gets the mode a plain ``open``
    would give (0666 minus the umask, so 0644 under the usual 022). Temporary files of a
    killed earlier write are removed. A path that is a directory, too long, or in a directory
    that cannot be created or written is one clear :class:`CloverError`. Missing parent
    directories are created.
    """
    path = check_output_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CloverError(f"cannot write output {path}: parent {path.parent} is not a "
                          "directory") from None
    except OSError as exc:
        raise CloverError(f"cannot write output {path}: cannot create directory "
                          f"{path.parent} ({_os_reason(exc)})") from None
    clean_stale_temps(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                                   suffix=".tmp")
    except OSError as exc:
        raise output_error(path, exc) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, CloverError):
            raise output_error(path, exc) from None
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
