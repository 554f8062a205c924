"""Shared fixtures: the real data directory and a clean environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: tests read the real traces from there (DEVELOPERS.md)."""
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: tests need the shared real data next to the repo")
    return SHARED


@pytest.fixture()
def run_cli(capsys):
    """Run ``clover ...`` in-process; returns (exit code, stdout, stderr)."""
    from clover.cli import main

    def _run(*argv: str):
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


@pytest.fixture(scope="session")
def profiles():
    """Synthetic per-slice profile table (tests/sim/synthetic.py) for sim and optimize tests."""
    from tests.sim.synthetic import synthetic_profiles

    return synthetic_profiles()


@pytest.fixture(scope="session")
def problem10(profiles):
    """Efficientnet on 10 A100-40GB over the synthetic profiles."""
    from clover.sim import Problem

    return Problem.build("efficientnet", "a100-40gb", 10, profiles)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI (``CI`` set, as .ci/run runs) a skipped test fails: CI installs every extra,
    so a skip there means a missing install step, not an optional feature."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI (missing dependency?): {report.longrepr}"
