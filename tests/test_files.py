"""Issue 13 item 2: output and input files - one clear line each, atomic, 0644, no stale temp.

Tests run as root, for whom a read-only directory is writable: a read-only directory is
simulated by making ``tempfile.mkstemp`` (atomic_write's open) and ``open`` raise
PermissionError, which is what the kernel returns to a non-root user.
"""

from __future__ import annotations

import os
import stat
import tempfile

import pytest

from clover.errors import CloverError
from clover.paths import atomic_write, clean_stale_temps

LONG = "x" * 300  # > NAME_MAX (255): ENAMETOOLONG

WRITERS = {
    "carbon": None,  # carbon prints to stdout; it only reads (see INPUTS)
    "run": ("run", "--app", "efficientnet", "--scheme", "base", "--trace", "CISO-March",
            "--n-gpus", "2", "--hours", "2", "--out"),
    "profile": ("profile", "--app", "efficientnet", "--quiet", "--out"),
    "mig-plan": ("mig", "plan", "--layout", "7g.40gb", "--from-scratch", "--out"),
}


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("clover: error: "), err
    return lines[0]


@pytest.mark.parametrize("cmd", [k for k, v in WRITERS.items() if v])
def test_output_path_problems_are_one_line(run_cli, shared_data, tmp_path, monkeypatch, cmd):
    argv = WRITERS[cmd]
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("")
    cases = {
        "directory": (tmp_path / "adir", "is a directory"),
        "too-long": (tmp_path / LONG, "file name too long"),
        "parent-is-file": (tmp_path / "afile" / "out.csv", "is not a directory"),
    }
    for name, (target, why) in cases.items():
        code, _, err = run_cli(*argv, str(target))
        assert code == 2, (name, err)
        line = _one_line(err)
        assert str(target) in line and why in line, (name, line)

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    target = tmp_path / "ro" / "out.csv"
    code, _, err = run_cli(*argv, str(target))
    assert code == 2
    assert _one_line(err) == f"clover: error: cannot write output {target}: permission denied"
    assert not target.exists()


def test_missing_parent_is_created(run_cli, shared_data, tmp_path):
    target = tmp_path / "new" / "deeper" / "plan.json"
    code, _, err = run_cli(*WRITERS["mig-plan"], str(target))
    assert code == 0, err
    assert target.is_file()


INPUTS = {
    "carbon": ("carbon", "show", "{path}"),
    "run-trace": ("run", "--app", "efficientnet", "--scheme", "base", "--trace", "{path}"),
    "run-profiles": ("run", "--app", "efficientnet", "--scheme", "base", "--trace",
                     "CISO-March", "--profiles", "{path}"),
    "optimize-profiles": ("optimize", "--app", "efficientnet", "--ci", "1", "--profiles",
                          "{path}"),
    "mig-plan": ("mig", "plan", "--from-scratch", "--configuration", "{path}"),
    "data-verify": ("data", "verify", "--manifest", "{path}"),
}


@pytest.mark.parametrize("cmd", sorted(INPUTS))
def test_input_directory_and_unreadable_are_one_line(run_cli, shared_data, tmp_path,
                                                     monkeypatch, cmd):
    adir = tmp_path / "in.csv"
    adir.mkdir()
    argv = [a.replace("{path}", str(adir)) for a in INPUTS[cmd]]
    code, _, err = run_cli(*argv)
    line = _one_line(err)
    assert code == 2 and str(adir) in line and ("directory" in line or "not a file" in line)

    path = tmp_path / "locked.csv"
    path.write_text("x\n")
    real_open = open

    def guarded(file, *a, **k):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr("builtins.open", guarded)
    argv = [a.replace("{path}", str(path)) for a in INPUTS[cmd]]
    code, _, err = run_cli(*argv)
    line = _one_line(err)
    assert code == 2 and str(path) in line and "permission denied" in line, line


def test_atomic_write_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.txt") as fh:
            fh.write("x")
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
        os.umask(0o077)
        with atomic_write(tmp_path / "b.txt") as fh:
            fh.write("x")
        assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_atomic_write_fsyncs_before_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    with atomic_write(tmp_path / "c.txt") as fh:
        fh.write("data")
    assert calls[:2] == ["fsync", "replace"]
    assert (tmp_path / "c.txt").read_text() == "data"


def test_killed_write_leaves_no_tmp_after_next_run(tmp_path):
    target = tmp_path / "log.csv"
    # what a SIGKILLed writer leaves: a temp file named after a process that no longer runs
    dead = 2**22 + 12345
    while True:
        try:
            os.kill(dead, 0)
            dead += 1
        except ProcessLookupError:
            break
    stale = tmp_path / f".log.csv.{dead}.abc123.tmp"
    stale.write_text("partial")
    other = tmp_path / f".other.csv.{dead}.abc123.tmp"
    other.write_text("partial")
    live = tmp_path / f".log.csv.{os.getppid()}.zz.tmp"  # a writer still running
    live.write_text("in progress")
    with atomic_write(target) as fh:
        fh.write("ok")
    assert not stale.exists() and other.exists() and live.exists()
    assert target.read_text() == "ok"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".log.csv")] == [live.name]
    assert clean_stale_temps(target) == []


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_write(tmp_path / "d.txt") as fh:
            fh.write("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_directory_target_raises_clover_error(tmp_path):
    with pytest.raises(CloverError, match="is a directory"):
        with atomic_write(tmp_path):
            pass
