"""Fixtures for the simulator and optimizer tests: the synthetic profile table (until
clover.profiles lands) and small problems built on it."""

from __future__ import annotations

import pytest

from tests.sim.synthetic import synthetic_profiles


@pytest.fixture(scope="session")
def profiles():
    return synthetic_profiles()


@pytest.fixture(scope="session")
def problem10(profiles):
    from clover.sim import Problem

    return Problem.build("efficientnet", "a100-40gb", 10, profiles)
