"""`clover COMMAND` imports only the package registering COMMAND; the index stays complete."""

from __future__ import annotations

import subprocess
import sys

from clover.cli import COMMAND_INDEX, build_parser


def _commands(parser):
    return set(next(a for a in parser._actions if a.dest == "command").choices)


def test_index_names_every_command_and_its_package():
    full = _commands(build_parser())
    assert set(COMMAND_INDEX) == full
    for command in COMMAND_INDEX:
        assert command in _commands(build_parser(command)), command


def test_run_startup_does_not_import_the_optimizers(tmp_path):
    code = ("import sys; from clover.cli import build_parser; build_parser('run'); "
            "print(sorted(m for m in ('scipy', 'networkx', 'pandas', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
