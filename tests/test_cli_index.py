"""`clover COMMAND` imports only the package registering COMMAND; the index stays complete."""

from __future__ import annotations

import subprocess
import sys

import pytest

from clover.cli import COMMAND_INDEX, build_parser


def _commands(parser):
    return set(next(a for a in parser._actions if a.dest == "command").choices)


def test_index_names_every_command_and_its_package():
    full = _commands(build_parser())
    assert set(COMMAND_INDEX) == full
    for command in COMMAND_INDEX:
        assert command in _commands(build_parser(command)), command


@pytest.mark.parametrize("command", ["run", "live"])
def test_startup_does_not_import_the_optimizers_or_the_service(command):
    """``clover live`` is registered by clover.control (the alias of ``run --backend live``)."""
    assert COMMAND_INDEX[command] == "clover.control"
    code = (f"import sys; from clover.cli import build_parser; build_parser({command!r}); "
            "print(sorted(m for m in ('scipy', 'networkx', 'pandas', 'matplotlib', 'ray', "
            "'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
