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
from clover.cliutil import config_keys as parser_config_keys
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


#: command -> the package that registers it, so that ``clover run ...`` imports only what
#: ``run`` needs (each pipeline job starts a process: startup cost is paid per job).
#: ``clover --help`` and unknown names still discover every package; a test keeps this in step.
COMMAND_INDEX = {
    "data": "clover.data_cli", "mig": "clover.mig", "models": "clover.models",
    "carbon": "clover.carbon", "workload": "clover.workload", "profile": "clover.profiles",
    "optimize": "clover.optimize", "space": "clover.optimize", "run": "clover.control",
    "run-grid": "clover.control", "decomposition": "clover.control",
    "aggregate": "clover.analysis", "figures": "clover.analysis", "gpu-count": "clover.analysis",
    "reference-check": "clover.analysis", "year": "clover.analysis",
    "live": "clover.control", "serve": "clover.serve",
}


def _command_modules(packages: Sequence[str] = COMMAND_PACKAGES):
    for pkg in packages:
        name = pkg if pkg.endswith("_cli") else f"{pkg}.cli"
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name in (name, pkg):  # package has no commands (yet)
                continue
            raise


class OneLineParser(argparse.ArgumentParser):
    """argparse with the project's error contract: a usage error (unknown option, invalid
    choice, missing required option) is one line ``clover: error: <prog>: <message>`` on stderr
    and exit 2, like every other bad input; ``--help`` still prints the usage."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"clover: error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``clover`` parser; with ``command`` (a key of :data:`COMMAND_INDEX`) only the
    package registering it is imported."""
    parser = OneLineParser(
        prog="clover",
        description="Carbon-aware ML inference on MIG GPUs (Clover, SC'23 reproduction)",
    )
    parser.add_argument("--version", action="version", version=f"clover {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    packages = (COMMAND_INDEX[command],) if command in COMMAND_INDEX else COMMAND_PACKAGES
    for module in _command_modules(packages):
        module.register(sub)
    return parser


def command_parser(*words: str) -> argparse.ArgumentParser:
    """The parser of ``clover WORD ...`` (``"run-grid"``, or ``"data", "verify"``)."""
    parser = build_parser(words[0])
    for word in words:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


def config_keys(*words: str, given: Sequence[str] = ()) -> tuple[str, ...]:
    """The config keys ``clover WORD ...`` reads from ``--config`` when the flags in ``given``
    are on its command line."""
    return parser_config_keys(command_parser(*words), given)


def command_settings(config, *words: str, given: Sequence[str] = ()) -> str:
    """The values in ``config`` (a :class:`clover.config.RunConfig`) of the keys
    :func:`config_keys` names, as canonical JSON: a pipeline rule's rerun trigger (its
    params), so that a job reruns when a value its command reads changes, and only then."""
    return config.settings(config_keys(*words, given=given))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv else None)
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
