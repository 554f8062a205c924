"""`clover COMMAND` imports only the package registering COMMAND; the index stays complete."""

from __future__ import annotations

import subprocess
import sys

import pytest

from clover.cli import COMMAND_HELP, COMMAND_INDEX, build_parser, index_parser


def _commands(parser):
    return set(next(a for a in parser._actions if a.dest == "command").choices)


def test_index_names_every_command_and_its_package():
    full = _commands(build_parser())
    assert set(COMMAND_INDEX) == full == set(COMMAND_HELP)
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


def test_top_level_help_from_the_index_equals_the_full_parsers():
    """``clover --help`` is printed from COMMAND_HELP without importing a command package;
    it must read exactly as the help of the parser every package registers into."""
    assert index_parser().format_help() == build_parser().format_help()


def test_top_level_help_imports_no_heavy_package():
    """``clover --help`` (the speed is measured by benchmarks/bench_cli_startup.py) loads no
    command package and none of the heavy libraries."""
    code = ("import sys, contextlib, io; from clover.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    try: main(['--help'])\n"
            "    except SystemExit: pass\n"
            "assert 'reference-check' in out.getvalue()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'numpy', "
            "'scipy', 'matplotlib', 'torch', 'yaml') or m.endswith('.cli') and m != 'clover.cli'"
            " or m == 'clover.data_cli'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
