"""The on-disk FCFS window cache (issue 20, part 3): identical to a cold evaluation,
invalidated by a profile change and by a change of the evaluator's code."""

from __future__ import annotations

import pytest

import clover.sim.evalcache as evalcache
import clover.sim.fcfs as fcfs
from clover.profiles import load_profiles
from clover.sim.protocol import build_problem, protocol_settings


def _problem(scale: float = 1.0):
    table = load_profiles("efficientnet", "a100-40gb", backend="model", batch_sizes=(1, 8))
    table = table.assign(power_w_busy=table["power_w_busy"] * scale)
    return build_problem("efficientnet", "a100-40gb", 2, table, protocol_settings("paper"))


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(fcfs, "_WINDOWS", {})


def test_cached_windows_equal_cold_ones(tmp_path, fresh, monkeypatch):
    p = _problem()
    ev = fcfs.FcfsEvaluator(p)
    config = p.base_configuration()
    cold = ev.evaluate(config, 250.0)
    assert fcfs.store_windows(p, tmp_path).is_file()
    fcfs._WINDOWS.clear()
    assert fcfs.load_windows(p, tmp_path) >= 1

    def no_simulation(*args, **kw):
        raise AssertionError("the window should come from the file")

    monkeypatch.setattr(fcfs, "simulate_window", no_simulation)
    warm = fcfs.FcfsEvaluator(p).evaluate(config, 250.0)
    assert warm == cold  # every field, bit for bit (floats round-trip through repr)


def test_profile_change_invalidates(tmp_path, fresh):
    p = _problem()
    fcfs.FcfsEvaluator(p).evaluate(p.base_configuration(), 250.0)
    fcfs.store_windows(p, tmp_path)
    changed = _problem(scale=1.01)
    assert fcfs.problem_fingerprint(changed) != fcfs.problem_fingerprint(p)
    assert fcfs.load_windows(changed, tmp_path) == 0


def test_code_change_invalidates(tmp_path, fresh, monkeypatch):
    p = _problem()
    fcfs.FcfsEvaluator(p).evaluate(p.base_configuration(), 250.0)
    fcfs.store_windows(p, tmp_path)
    assert fcfs.load_windows(p, tmp_path) >= 1
    monkeypatch.setattr(evalcache, "code_hash", lambda: "changedcode0")
    assert fcfs.load_windows(p, tmp_path) == 0
