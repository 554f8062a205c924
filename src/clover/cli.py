"""The ``clover`` command.

Each package that offers commands has a ``cli`` module with ``register(subparsers)``; this
module discovers them, so packages add commands without editing this file. A
:class:`~clover.errors.CloverError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from clover import __version__
from clover.errors import CloverError

#: packages whose ``<pkg>.cli`` module registers sub-commands, in help order
COMMAND_PACKAGES = (
    "clover.data_cli",
    "clover.mig",
    "clover.models",
    "clover.carbon",
    "clover.workload",
    "clover.profiles",
    "clover.sim",
    "clover.optimize",
    "clover.control",
    "clover.analysis",
    "clover.serve",
)


def _command_modules():
    for pkg in COMMAND_PACKAGES:
        name = pkg if pkg.endswith("_cli") else f"{pkg}.cli"
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name in (name, pkg):  # package has no commands (yet)
                continue
            raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clover",
        description="Carbon-aware ML inference on MIG GPUs (Clover, SC'23 reproduction)",
    )
    parser.add_argument("--version", action="version", version=f"clover {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _command_modules():
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        # argparse ``type=`` checks (clover.cliutil) raise CloverError naming the option
        args = parser.parse_args(argv)
        result = args.func(args)
    except CloverError as exc:
        print(f"clover: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("clover: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
