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
#: A test keeps this in step with what the packages register.
COMMAND_INDEX = {
    "data": "clover.data_cli", "mig": "clover.mig", "models": "clover.models",
    "carbon": "clover.carbon", "workload": "clover.workload", "profile": "clover.profiles",
    "optimize": "clover.optimize", "space": "clover.optimize", "run": "clover.control",
    "run-grid": "clover.control", "decomposition": "clover.control",
    "aggregate": "clover.analysis", "figures": "clover.analysis", "gpu-count": "clover.analysis",
    "reference-check": "clover.analysis", "year": "clover.analysis",
    "live": "clover.control", "serve": "clover.serve",
}

#: command -> its one-line help, in ``clover --help`` order: the top-level help is built from
#: this alone, importing no command package (``clover --help`` in ~0.05 s instead of ~1-2 s).
#: A test checks that it prints exactly what the registered parsers would.
COMMAND_HELP = {
    "data": "data directory: where, verify (sha256), download",
    "mig": "MIG profiles and valid layouts",
    "models": "the model-variant catalog",
    "carbon": "carbon-intensity traces: zones, presets, windows, imports",
    "workload": "request arrival processes (Poisson, Azure LLM 2023)",
    "profile": "per-slice latency/power/energy table of an app (modeled or measured)",
    "space": "the artifact's replicated search space: partitions, slice mixes, distinct "
             "configuration graphs",
    "optimize": "choose a configuration for one hour with a scheme",
    "run": "step a scheme through a carbon trace hour by hour (controller log, one row per "
           "hour)",
    "run-grid": "every scheme of one pipeline job in one process (one controller log per "
                "scheme)",
    "decomposition": "where the savings come from: BASE, then one knob at a time (paper "
                     "protocol, modeled)",
    "live": "run a scheme over a carbon trace on the live service (Ray Serve on MIG slices, "
            "or CPU cores on a laptop)",
    "aggregate": "controller logs -> hourly table, per-run summary, headline table "
                 "(summary.md)",
    "figures": "the paper's figures (PDF/PNG) from the aggregated tables",
    "gpu-count": "fewest GPUs each scheme needs for a service target",
    "reference-check": "the artifact's measured arrival sweep beside the modeled profiles "
                       "(held-out check)",
    "year": "the year study: every zone's calendar year (paper protocol, modeled), tonnes at "
            "a stated service",
    "serve": "the live inference service for any HTTP client",
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
        # the top-level parser reports unknown arguments of every command: its prog is the
        # "clover" of "clover: error:" already (issue 21: not "clover: error: clover: ...")
        where = "" if self.prog == "clover" else f"{self.prog}: "
        self.exit(2, f"clover: error: {where}{message} (see {self.prog} --help)\n")


def _top_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = OneLineParser(
        prog="clover",
        description="Carbon-aware ML inference on MIG GPUs (Clover, SC'23 reproduction)",
    )
    parser.add_argument("--version", action="version", version=f"clover {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    return parser, sub


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``clover`` parser; with ``command`` (a key of :data:`COMMAND_INDEX`) only the
    package registering it is imported, without it every package (the full parser)."""
    parser, sub = _top_parser()
    packages = (COMMAND_INDEX[command],) if command in COMMAND_INDEX else COMMAND_PACKAGES
    for module in _command_modules(packages):
        module.register(sub)
    return parser


def index_parser() -> argparse.ArgumentParser:
    """The top-level parser from :data:`COMMAND_HELP` alone, importing no command package:
    what ``clover``, ``clover --help``, ``--version`` and an unknown command meet. Its
    sub-commands are stubs; :func:`main` builds the real one for a known command."""
    parser, sub = _top_parser()
    for command, text in COMMAND_HELP.items():
        sub.add_parser(command, help=text, add_help=False)
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
    known = bool(argv) and argv[0] in COMMAND_INDEX
    parser = build_parser(argv[0]) if known else index_parser()
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
