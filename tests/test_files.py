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


# --- issue 21 item 2: every input is size-checked before it is parsed -------------------------

SIZED_INPUTS = {
    **{k: v for k, v in INPUTS.items() if k != "data-verify"},
    "data-verify": ("data", "verify", "--manifest", "{path}"),
    "config": ("run", "--app", "efficientnet", "--scheme", "base", "--trace", "CISO-March",
               "--config", "{path}"),
    "serve-configuration": ("serve", "up", "--configuration", "{path}"),
    "live-cluster": ("serve", "up", "--configuration", "{conf}", "--cluster", "{path}"),
}


@pytest.mark.parametrize("cmd", sorted(SIZED_INPUTS))
def test_sparse_input_beyond_the_cap_is_refused_before_parsing(run_cli, shared_data, tmp_path,
                                                               cmd):
    """A 64 GiB sparse file (no disk used) is one line naming it and the cap; before the cap
    a trace read of such a file went to gigabytes of memory."""
    big = tmp_path / ("big.json" if cmd in ("config", "serve-configuration") else "big.csv")
    os.truncate(os.open(big, os.O_CREAT | os.O_WRONLY), 64 << 30)
    conf = tmp_path / "conf.json"
    conf.write_text('{"gpu": "a100-40gb", "gpus": [{"layout": ["7g.40gb"], '
                    '"variants": ["efficientnet-b1"]}]}')
    argv = [a.replace("{path}", str(big)).replace("{conf}", str(conf)) for a in SIZED_INPUTS[cmd]]
    code, _, err = run_cli(*argv)
    line = _one_line(err)
    assert code == 2 and str(big) in line, line
    assert ("68,719,476,736 bytes exceed the input size cap of 268,435,456 bytes (set "
            "CLOVER_MAX_INPUT_MB") in line


def test_input_size_cap_is_overridable(run_cli, shared_data, tmp_path, monkeypatch):
    trace = tmp_path / "t.csv"
    trace.write_text("timestamp_utc,zone,carbon_intensity_g_per_kwh\n" + "".join(
        f"2023-01-01T{h:02d}:00:00Z,XX,{100 + h}\n" for h in range(24)))  # 0.7 kB
    code, _, err = run_cli("carbon", "show", str(trace), "--csv")
    assert code == 0, err
    monkeypatch.setenv("CLOVER_MAX_INPUT_MB", "0.0005")
    code, _, err = run_cli("carbon", "show", str(trace))
    assert code == 2 and "exceed the input size cap of 524 bytes" in _one_line(err)
    monkeypatch.setenv("CLOVER_MAX_INPUT_MB", "lots")
    code, _, err = run_cli("carbon", "show", str(trace))
    assert _one_line(err) == ("clover: error: env CLOVER_MAX_INPUT_MB='lots': must be a "
                              "positive number of MiB")


def test_sparse_trace_within_the_cap_needs_a_small_multiple_of_its_size(tmp_path):
    """A 64 MiB trace of NUL bytes (a header, then a sparse tail) is read and refused in a
    process whose peak memory stays within a small multiple of the file (measured: ~3x plus
    the interpreter); the error quotes the bad value cut short, not 64 MiB of it."""
    import subprocess
    import sys

    path = tmp_path / "sparse.csv"
    path.write_text("timestamp_utc,zone,carbon_intensity_g_per_kwh\n")
    os.truncate(path, 64 << 20)
    # the child's own peak (VmHWM of its address space): ru_maxrss would include what it
    # inherited from this pytest process at fork
    script = ("import sys; from clover.cli import main; code = main(sys.argv[1:]); "
              "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]); "
              "sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", script, "carbon", "show", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    line = _one_line(out.stderr)
    assert "line 2: unparsable timestamp_utc '\\x00" in line and len(line) < 300
    peak_mb = int(out.stdout.split()[-1]) / 1024  # kB
    assert peak_mb < 64 * 6 + 200, peak_mb


def test_pandas_tokenizer_error_is_one_line(run_cli, tmp_path):
    """pandas' tokenizer error ends in a newline; the message is flattened (CloverError)."""
    from clover.profiles import load_profiles

    path = tmp_path / "ragged.csv"
    text = load_profiles("efficientnet", "a100-40gb").to_csv(index=False)
    path.write_text(text + "a,b,c" + "," * 40 + "\n")
    code, _, err = run_cli("optimize", "--app", "efficientnet", "--ci", "1", "--profiles",
                           str(path))
    assert code == 2 and "Error tokenizing data" in _one_line(err)
    assert CloverError("a\nb\r\n  c").message == "a b c"


@pytest.mark.parametrize("text, kind", [("[1, 2]", "list"), ("3", "int"), ('"x"', "str")])
def test_json_that_is_not_an_object_is_one_line_everywhere(run_cli, tmp_path, text, kind):
    path = tmp_path / "conf.json"
    path.write_text(text)
    for argv in (("mig", "plan", "--configuration", str(path), "--from-scratch"),
                 ("serve", "up", "--configuration", str(path)),
                 ("run", "--app", "efficientnet", "--scheme", "base", "--trace", "CISO-March",
                  "--config", str(path))):
        code, _, err = run_cli(*argv)
        line = _one_line(err)
        assert code == 2 and str(path) in line and kind in line, line


def test_yaml_aliases_that_expand_without_bound_are_refused(run_cli, tmp_path):
    """Nested aliases: 400 bytes that stand for 9^9 values (expanded by the schema check and
    the effective-config JSON); refused naming the line and column."""
    from clover.serve.cluster import load_cluster

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run_cli("run", "--app", "efficientnet", "--scheme", "base", "--trace",
                           "CISO-March", "--config", str(path))
    assert code == 2 and _one_line(err) == (
        f"clover: error: config file {path} line 2 column 10: YAML syntax error: aliases "
        "(*name) are not allowed: they can expand a small file without bound")
    with pytest.raises(CloverError, match="line 2 column 10.*aliases"):
        load_cluster(path)
