"""FCFS windows shared across processes (CLOVER_FCFS_CACHE): read back identical, never
simulated twice, and nothing written without the variable."""

from __future__ import annotations

import pytest

from clover.profiles import model_profiles
from clover.sim import fcfs, window_cache
from clover.sim.fcfs import FcfsEvaluator
from clover.sim.protocol import build_problem, protocol_settings


@pytest.fixture()
def problem():
    s = protocol_settings("paper")
    return build_problem("yolo", "a100-40gb", 2, model_profiles(
        "yolo", "a100-40gb", batch_sizes=(1, s.batch("yolo"))), s, seed=7)


def _fresh(monkeypatch):
    """A new process's view: no window in memory, nothing read from disk yet."""
    monkeypatch.setattr(fcfs, "_WINDOWS", {})
    monkeypatch.setattr(window_cache, "_LOADED", {})
    monkeypatch.setattr(window_cache, "_NEW", {})


def test_windows_come_back_identical_from_disk(problem, tmp_path, monkeypatch):
    monkeypatch.setenv(fcfs.CACHE_ENV, str(tmp_path))
    _fresh(monkeypatch)
    cfg = problem.base_configuration()
    first = FcfsEvaluator(problem).evaluate(cfg, 250.0)
    window_cache.flush()
    assert len(list(tmp_path.glob("*.pkl"))) == 1
    _fresh(monkeypatch)

    def boom(*a, **k):
        raise AssertionError("simulated again")

    monkeypatch.setattr(fcfs, "simulate_window", boom)
    again = FcfsEvaluator(problem).evaluate(cfg, 600.0)
    assert (again.p95_ms, again.energy_j_per_request, again.accuracy) == \
        (first.p95_ms, first.energy_j_per_request, first.accuracy)


def test_no_variable_no_files(problem, tmp_path, monkeypatch):
    monkeypatch.delenv(fcfs.CACHE_ENV, raising=False)
    _fresh(monkeypatch)
    FcfsEvaluator(problem).evaluate(problem.base_configuration(), 250.0)
    window_cache.flush()
    assert window_cache.cache_dir() is None and not window_cache._NEW


def test_a_profile_change_reads_no_old_window(problem, tmp_path, monkeypatch):
    """Issue 20: the cache is keyed by the problem's fingerprint (profile numbers, rate, seed,
    GPU, app), so a changed profile table simulates its windows anew."""
    monkeypatch.setenv(fcfs.CACHE_ENV, str(tmp_path))
    _fresh(monkeypatch)
    FcfsEvaluator(problem).evaluate(problem.base_configuration(), 250.0)
    window_cache.flush()
    s = protocol_settings("paper")
    table = model_profiles("yolo", "a100-40gb", batch_sizes=(1, s.batch("yolo")))
    changed = build_problem("yolo", "a100-40gb", 2,
                            table.assign(power_w_busy=table["power_w_busy"] * 1.01), s, seed=7)
    assert fcfs.problem_fingerprint(changed) != fcfs.problem_fingerprint(problem)
    _fresh(monkeypatch)
    calls = []
    real = fcfs.simulate_window

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(fcfs, "simulate_window", counting)
    FcfsEvaluator(changed).evaluate(changed.base_configuration(), 250.0)
    assert calls  # simulated, not read from the old file
