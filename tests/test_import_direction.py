"""The one-way import rule of docs/ARCHITECTURE.md ("Import rule"), checked by parsing.

Every ``import`` / ``from ... import`` in every module under ``src/clover`` (module level, inside
functions, under ``if TYPE_CHECKING`` alike) is read with :mod:`ast`, relative imports resolved,
and checked against the package order

    mig → models → profiles → carbon, workload → sim → optimize → serve → control → analysis
    → api → commands

(``carbon`` and ``workload`` share a rank and do not import each other). ``clover.api`` (the
run API: ``RunSpec``, ``run``, ``decide``, ``evaluate``) sits above every package; a command
module (``clover.<package>.cli``) ranks as its package and may also import the API and other
command modules (commands parse arguments and call the API); only the entry points and command
modules import a command module or the API. A package may import
itself, an earlier package and the foundations; a foundation (``clover.errors``, ``paths``,
``tables``, ``cliutil``, ``datasets``, ``schemas``, ``timestamps``, ``config``, ``names``,
and the package ``clover.hw``: NVML adapter and energy windows) imports only foundations, so
that any package may use it;
the package ``clover`` itself counts as a foundation (it holds ``__version__``); the entry
points (``clover.__main__``, ``clover.cli``, ``clover.data_cli``,
``clover.pipeline_check``) sit above everything and no package imports them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "clover"

#: package -> rank; an import must not go to a higher rank (same rank: only itself)
ORDER = {"mig": 0, "models": 1, "profiles": 2, "carbon": 3, "workload": 3, "sim": 4,
         "optimize": 5, "serve": 6, "control": 7, "analysis": 8, "api": 9}
#: '' is the ``clover`` package itself (``__version__``; it imports nothing)
FOUNDATIONS = {"", "errors", "paths", "tables", "cliutil", "datasets", "schemas", "timestamps",
               "config", "names", "hw"}
ENTRY_POINTS = {"__main__", "cli", "data_cli", "pipeline_check"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    return (ROOT / f"{name}.py").is_file() or (ROOT / name / "__init__.py").is_file()


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every clover import in ``path``."""
    me = module_name(path)
    package = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module or ""]
            # ``from clover import sim`` imports the package clover.sim; ``from clover import
            # __version__`` only the package clover
            if names[0] == "clover":
                names = [f"clover.{a.name}" if is_module(a.name) else "clover"
                         for a in node.names]
        else:
            continue
        out += [(node.lineno, n) for n in names if n == "clover" or n.startswith("clover.")]
    return out


def top(name: str) -> str:
    """The first component below ``clover`` ('' for ``clover`` itself)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def is_command(name: str) -> bool:
    """A package's command module (``clover.control.cli``)."""
    parts = name.split(".")
    return len(parts) > 2 and parts[-1] == "cli"


def violation(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported``, or None if it may."""
    a, b = top(importer), top(imported)
    if a in ENTRY_POINTS:
        return None
    if b in ENTRY_POINTS:
        return f"clover.{b} is an entry point: nothing below it imports it"
    if is_command(imported) or b == "api":
        return None if is_command(importer) or a == b == "api" else (
            f"{imported} is imported only by the command modules and the entry points")
    if b in FOUNDATIONS:
        return None
    if a in FOUNDATIONS:
        return (f"foundation module clover.{a} may import only foundations "
                f"(clover, {', '.join(f'clover.{f}' for f in sorted(FOUNDATIONS) if f)})")
    if a not in ORDER or b not in ORDER:
        return f"unclassified module: add clover.{a if a not in ORDER else b} to the rule"
    if a == b or ORDER[b] < ORDER[a]:
        return None
    return f"package {a} comes before {b} in the order: {a} must not import {b}"


def all_violations() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        me = module_name(path)
        for line, name in imports_of(path):
            why = violation(me, name)
            if why:
                found.append(f"{path.relative_to(SRC.parent)}:{line}: imports {name}: {why}")
    return found


def test_every_module_is_classified():
    tops = {top(module_name(p)) for p in ROOT.rglob("*.py")}
    assert tops <= set(ORDER) | FOUNDATIONS | ENTRY_POINTS, \
        f"modules outside the import rule: {sorted(tops - set(ORDER) - FOUNDATIONS - ENTRY_POINTS)}"


def test_imports_follow_the_one_way_order():
    found = all_violations()
    assert not found, "imports against docs/ARCHITECTURE.md's one-way rule:\n" + "\n".join(found)


@pytest.mark.parametrize("importer, imported, ok", [
    ("clover.serve.live", "clover.control.controller", False),  # the violation issue 12 fixed
    ("clover.mig.cli", "clover.models.configuration", False),   # likewise
    ("clover.cliutil", "clover.sim.protocol", False),           # a foundation pulling in sim
    ("clover.config", "clover.mig.geometry", False),            # the run config stays below all
    ("clover.control.grid", "clover.config", True),
    ("clover.carbon.windows", "clover.workload.arrivals", False),  # peers stay apart
    ("clover.control.controller", "clover.sim.runlog", True),
    ("clover.analysis.cli", "clover.cliutil", True),
    ("clover.sim.problem", "clover.cli", False),
    ("clover.cli", "clover.analysis", True),
    ("clover.control.cli", "clover.api", True),       # a command calls the run API
    ("clover.analysis.cli", "clover.control.cli", True),  # commands share flags
    ("clover.control.decomposition", "clover.control.cli", False),  # the cycle issue 22 removed
    ("clover.api", "clover.analysis.reference", True),
    ("clover.analysis.summary", "clover.api", False),
    ("clover.optimize.cli", "clover.api", True),
])
def test_rule_itself(importer, imported, ok):
    assert (violation(importer, imported) is None) is ok


def test_parser_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "clover" / "mig"
    pkg.mkdir(parents=True)
    f = pkg / "x.py"
    f.write_text("def f():\n    from clover.models import catalog\n    from ..control import cli\n")
    import tests.test_import_direction as m

    old = m.SRC
    m.SRC = tmp_path
    try:
        assert imports_of(f) == [(2, "clover.models"), (3, "clover.control")]
    finally:
        m.SRC = old


def _module_imports() -> dict[str, set[str]]:
    """module -> the clover modules it imports (a package import names its ``__init__``)."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        me = module_name(path)
        out[me] = {n for _, n in imports_of(path) if n != me}
    return out


def test_no_two_modules_import_each_other():
    """Issue 22: control/cli <-> decomposition, sim/fcfs <-> sim/protocol and
    optimize/replicated <-> optimize/schemes were such pairs; none may come back."""
    graph = _module_imports()
    pairs = sorted({tuple(sorted((a, b))) for a, deps in graph.items() for b in deps
                    if a in graph.get(b, ())})
    assert not pairs, "modules importing each other: " + ", ".join(f"{a} <-> {b}"
                                                                    for a, b in pairs)


#: where argparse may appear: the command modules, the entry points, the shared flag helpers
ARGPARSE_MODULES = {"clover.cli", "clover.data_cli", "clover.cliutil", "clover.__main__"}


def _argparse_uses(path: Path) -> list[str]:
    """``file:line: what`` for every import of argparse and every name ``Namespace`` /
    ``argparse`` in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        hits = [n for n in names if n.split(".")[0] in ("argparse", "Namespace")]
        out += [f"{path.relative_to(SRC.parent)}:{node.lineno}: {n}" for n in hits]
    return out


def test_argparse_appears_only_in_command_modules():
    """The library takes typed values (clover.api.RunSpec), never an argparse Namespace."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        me = module_name(path)
        if is_command(me) or me in ARGPARSE_MODULES:
            continue
        found += _argparse_uses(path)
    assert not found, "argparse outside the command modules:\n" + "\n".join(found)
