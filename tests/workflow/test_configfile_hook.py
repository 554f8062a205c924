"""Issue 21 item 3: a YAML syntax error in a ``--configfile`` names the file, line and column.

Snakemake reads ``--configfile`` before any project code; the ``clover`` logger plugin
(``src/snakemake_logger_plugin_clover``), which Snakemake imports while building its argument
parser, wraps ``snakemake.common.configfile._load_configfile`` so that its "not valid JSON or
YAML" error names the file, line and column (docs/reliability.md, "Pipeline configuration").
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from clover.config import yaml_file_error_text

REPO = Path(__file__).resolve().parents[2]
#: "key: value: other": the second ':' (line 2, column 11) is a mapping value PyYAML refuses
BROKEN = "seed: 0\nkey: value: other\n"
BROKEN_LINE = "line 2 column 11: YAML syntax error: mapping values are not allowed here"


def snakemake(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` from the repository root, as a user types it."""
    cmd = [sys.executable, "-m", "snakemake", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300,
                         env={**os.environ, **(env or {})})
    out.log = out.stdout + out.stderr
    return out


def test_dry_run_names_the_configfile_line_and_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN)
    out = snakemake("-n", "--cores", "1", "--configfile", str(bad))
    assert out.returncode != 0
    assert f"config file {bad} {BROKEN_LINE}" in out.log.splitlines(), out.log[-2000:]
    assert "Traceback" not in out.log and "snakemake_logger_plugin_clover" not in out.log

    off = snakemake("-n", "--cores", "1", "--configfile", str(bad),
                    env={"CLOVER_SNAKEMAKE_HOOK": "0"})  # the opt-out: Snakemake's own text
    assert off.returncode != 0 and "Config file is not valid JSON or YAML" in off.log
    assert str(bad) not in off.log


def test_two_configfiles_name_the_broken_one(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("seed: 1\n")
    bad.write_text("seed: 2\n\tcontrol: {}\n")  # a tab cannot start a token
    out = snakemake("-n", "--cores", "1", "--configfile", str(good), str(bad))
    assert out.returncode != 0
    assert (f"config file {bad} line 2 column 1: YAML syntax error: found character '\\t' "
            "that cannot start any token") in out.log.splitlines(), out.log[-2000:]
    assert str(good) not in out.log


def test_logger_clover_prints_the_error_as_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN)
    out = snakemake("-n", "--cores", "1", "--logger", "clover", "--configfile", str(bad))
    assert out.returncode != 0
    # the whole output (on stdout: a dry run's log goes there, as Snakemake's own does)
    assert out.log == f"clover: error: WorkflowError: config file {bad} {BROKEN_LINE}\n"


def test_logger_clover_runs_a_dry_run(tmp_path):
    """A tiny workflow, dry-run under ``--logger clover``: Snakemake's usual report."""
    (tmp_path / "Snakefile").write_text("rule a:\n    output: 'a.txt'\n    shell: 'touch {output}'\n")
    out = snakemake("-s", str(tmp_path / "Snakefile"), "--directory", str(tmp_path), "-n",
                    "--cores", "1", "--logger", "clover")
    assert out.returncode == 0, out.log[-2000:]
    assert "This was a dry-run" in out.stdout and "rule a:" in out.stdout
    assert "clover: error" not in out.log


def test_snakemake_lists_the_plugin():
    from snakemake_interface_logger_plugins.registry import LoggerPluginRegistry

    import snakemake_logger_plugin_clover as plugin

    registry = LoggerPluginRegistry()
    registry.validate_plugin("snakemake_logger_plugin_clover", plugin)  # raises if invalid
    assert registry.get_plugin("clover").log_handler is plugin.LogHandler
    assert "--logger {clover" in snakemake("--help").stdout


def test_log_handler_writes_records_and_one_line_errors(capsys):
    from snakemake_logger_plugin_clover import LogHandler

    handler = LogHandler(SimpleNamespace(stdout=False), None)
    handler.setFormatter(logging.Formatter("%(message)s"))
    assert (handler.writes_to_stream, handler.writes_to_file, handler.has_filter,
            handler.has_formatter, handler.needs_rulegraph) == (True, False, False, False, False)
    for level, msg in [(logging.INFO, "Job stats:\njob  count"), (logging.ERROR, "Bad:\n  x  y")]:
        handler.handle(logging.LogRecord("snakemake", level, __file__, 1, msg, None, None))
    assert capsys.readouterr() == ("", "Job stats:\njob  count\nclover: error: Bad: x y\n")


@pytest.fixture()
def original():
    """Snakemake's own ``_load_configfile`` (unwrapped, whether or not the hook is in)."""
    from snakemake.common import configfile

    return getattr(configfile._load_configfile, "__wrapped__", configfile._load_configfile)


def test_wrapper_names_a_yaml_error_and_passes_everything_else(tmp_path, original):
    from snakemake.common.configfile import WorkflowError

    from snakemake_logger_plugin_clover import wrap

    load = wrap(original, WorkflowError)
    good, data, bad = tmp_path / "good.yaml", tmp_path / "c.json", tmp_path / "bad.yaml"
    good.write_text("seed: 3\ncontrol: {initial: none}\n")
    data.write_text(json.dumps({"seed": 4, "traces": {"a": "b"}}))
    bad.write_text(BROKEN)
    assert load(good) == original(good) == {"seed": 3, "control": {"initial": "none"}}
    assert load(str(data)) == original(str(data)) == {"seed": 4, "traces": {"a": "b"}}

    with pytest.raises(WorkflowError) as named:
        load(bad)
    assert str(named.value) == f"config file {bad} {BROKEN_LINE}"
    assert "not valid JSON or YAML" in str(named.value.__cause__)
    assert str(named.value) == yaml_file_error_text(bad, _yaml_error(bad))  # one wording

    # not a config file's YAML error: Snakemake's own exception, unchanged
    with pytest.raises(WorkflowError, match="^Schema file is not valid JSON or YAML"):
        load(bad, filetype="Schema")
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load(tmp_path / "nope.yaml")
    plain = WorkflowError("Config file x not found.")

    def fails(*_args, **_kwargs):
        raise plain

    with pytest.raises(WorkflowError) as passed:
        wrap(fails, WorkflowError)(str(bad))
    assert passed.value is plain


def _yaml_error(path: Path) -> Exception:
    from clover.schemas import load_yaml

    try:
        load_yaml(path.read_text())
    except Exception as exc:  # noqa: BLE001 - the PyYAML error the project's own check sees
        return exc
    raise AssertionError(f"{path} parsed")


def test_install_is_idempotent_and_optional(monkeypatch, original):
    from snakemake.common import configfile

    from snakemake_logger_plugin_clover import HOOK_ENV, install

    monkeypatch.setattr(configfile, "_load_configfile", original)
    monkeypatch.setenv(HOOK_ENV, "0")
    assert install() is False and configfile._load_configfile is original
    monkeypatch.delenv(HOOK_ENV)
    assert install() is True
    wrapped = configfile._load_configfile
    assert wrapped is not original and wrapped.__wrapped__ is original
    assert install() is False and configfile._load_configfile is wrapped  # not wrapped twice
    monkeypatch.delattr(configfile, "_load_configfile")
    assert install() is False and not hasattr(configfile, "_load_configfile")
