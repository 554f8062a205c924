"""Arrival processes: rates, determinism, burstiness of the real Azure LLM trace, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from clover.errors import CloverError
from clover.workload import (
    KINDS,
    WorkloadSpec,
    arrival_stats,
    arrivals,
    azure_arrivals,
    load_azure_trace,
    poisson_arrivals,
    rescale_periodic,
)

# Azure LLM 2023 (shared data): request counts and raw inter-arrival CV, measured on the files
AZURE = {"code": (8819, 13.1513), "conv": (19366, 1.09417)}


@pytest.fixture(autouse=True)
def _shared(shared_data, monkeypatch):
    monkeypatch.setenv("CLOVER_DATA", str(shared_data))


def _monotone_in_window(times: np.ndarray, duration: float) -> None:
    assert times.dtype == np.float64
    assert (np.diff(times) >= 0).all()
    assert times.size == 0 or (times[0] >= 0 and times[-1] < duration)


def test_poisson_rate_cv_and_determinism():
    times = poisson_arrivals(50.0, 1000.0, seed=7)
    _monotone_in_window(times, 1000.0)
    stats = arrival_stats(times, 1000.0)
    # N ~ Poisson(50 000): sd 0.45 %; 2 % is > 4 sigma
    assert stats["mean_rate_rps"] == pytest.approx(50.0, rel=0.02)
    assert stats["interarrival_cv"] == pytest.approx(1.0, abs=0.03)  # exponential gaps
    np.testing.assert_array_equal(times, poisson_arrivals(50.0, 1000.0, seed=7))
    assert not np.array_equal(times[:100], poisson_arrivals(50.0, 1000.0, seed=8)[:100])


@pytest.mark.parametrize("trace", ["code", "conv"])
def test_azure_trace_loads_real_requests(trace):
    frame = load_azure_trace(trace)
    count, cv = AZURE[trace]
    assert len(frame) == count
    assert list(frame.columns) == ["arrival_s", "context_tokens", "generated_tokens"]
    gaps = np.diff(frame["arrival_s"].to_numpy())
    assert gaps.min() >= 0 and gaps.std() / gaps.mean() == pytest.approx(cv, rel=1e-4)
    assert frame.attrs["first_timestamp"].startswith("2023-11-16 18:1")
    if trace == "code":  # first rows of AzureLLMInferenceTrace_code.csv
        assert frame["context_tokens"].iloc[:2].tolist() == [4808, 3180]
        assert frame["arrival_s"].iloc[1] == pytest.approx(0.052)


@pytest.mark.parametrize("trace", ["code", "conv"])
def test_azure_rescaling_is_exact_over_whole_periods(trace):
    count, _ = AZURE[trace]
    rate = 40.0
    period = count / rate  # rescaled period holds exactly all requests once
    for seed in (0, 1, 2):
        times = azure_arrivals(trace, rate, 3 * period, seed=seed)
        _monotone_in_window(times, 3 * period)
        assert len(times) == 3 * count
        assert arrival_stats(times, 3 * period)["mean_rate_rps"] == pytest.approx(rate)


@pytest.mark.parametrize("trace", ["code", "conv"])
def test_azure_rescaling_preserves_burstiness(trace):
    count, cv = AZURE[trace]
    raw = load_azure_trace(trace)["arrival_s"].to_numpy()
    period = count / 100.0
    # phase 0, one period: every gap is the raw gap times one common factor
    one = rescale_periodic(raw, 100.0, period, phase=0.0)
    factor = period / (raw[-1] * count / (count - 1))
    np.testing.assert_allclose(one, raw * factor, rtol=1e-12, atol=1e-12)
    # any seed, several periods: inter-arrival CV of the real trace is kept
    for seed in (0, 5):
        times = azure_arrivals(trace, 100.0, 4 * period, seed=seed)
        assert arrival_stats(times, 4 * period)["interarrival_cv"] == pytest.approx(cv, rel=0.02)


def test_azure_is_deterministic_by_seed_and_tiles_beyond_the_trace():
    a = azure_arrivals("conv", 50.0, 600.0, seed=3)
    np.testing.assert_array_equal(a, azure_arrivals("conv", 50.0, 600.0, seed=3))
    b = azure_arrivals("conv", 50.0, 600.0, seed=4)
    assert not np.array_equal(a[:50], b[:50])
    # 600 s at 50 req/s is 1.55 periods of the conv trace (387 s)
    assert 600.0 > 19366 / 50.0
    assert arrival_stats(a, 600.0)["mean_rate_rps"] == pytest.approx(50.0, rel=0.05)
    _monotone_in_window(a, 600.0)


def test_dispatcher_and_spec():
    assert KINDS == ("poisson", "azure-code", "azure-conv")
    spec = WorkloadSpec("azure_conv", 20, 30, seed=1)
    assert spec.kind == "azure-conv" and spec.rate_rps == 20.0 and spec.name == "azure-conv@20rps"
    np.testing.assert_array_equal(spec.arrivals(), arrivals("azure-conv", 20, 30, 1))
    np.testing.assert_array_equal(arrivals("poisson", 5, 10, 2), poisson_arrivals(5, 10, 2))
    with pytest.raises(Exception):
        spec.rate_rps = 3  # frozen


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="poisson", rate_rps=0, duration_s=10), "rate_rps must be a positive"),
    (dict(kind="poisson", rate_rps=-1, duration_s=10), "rate_rps must be a positive"),
    (dict(kind="poisson", rate_rps=float("nan"), duration_s=10), "rate_rps must be a positive"),
    (dict(kind="azure-code", rate_rps=5, duration_s=0), "duration_s must be a positive"),
    (dict(kind="poisson", rate_rps=5, duration_s=10, seed=-1), "seed must be a non-negative"),
    (dict(kind="burst", rate_rps=5, duration_s=10), "unknown workload kind 'burst'"),
])
def test_bad_workload_parameters(kwargs, message):
    with pytest.raises(CloverError, match=message):
        WorkloadSpec(**kwargs)


@pytest.mark.parametrize("text, message", [
    ("TIMESTAMP,ContextTokens\n2023-11-16 18:00:00,1\n2023-11-16 18:00:01,2\n",
     r"AzureLLMInferenceTrace_conv\.csv: missing column\(s\) GeneratedTokens"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,1,1\nsoon,2,2\n",
     r"AzureLLMInferenceTrace_conv\.csv line 3: unparsable TIMESTAMP 'soon'"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,1,1\n2023-11-16 18:00:01,x,2\n",
     r"AzureLLMInferenceTrace_conv\.csv line 3: ContextTokens 'x'"),
    ("", r"AzureLLMInferenceTrace_conv\.csv is empty"),
])
def test_bad_azure_file(tmp_path, run_cli, text, message):
    path = tmp_path / "requests" / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(CloverError, match=message):
        azure_arrivals("conv", 5, 10, data_dir=tmp_path)
    code, out, err = run_cli("workload", "sample", "--kind", "azure-conv", "--data-dir",
                             str(tmp_path))
    assert code == 2 and out == "" and err.startswith("clover: error: ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_azure_file(tmp_path):
    with pytest.raises(CloverError, match=r"AzureLLMInferenceTrace_code\.csv not found"):
        azure_arrivals("code", 5, 10, data_dir=tmp_path)


def test_cli_sample_summary(run_cli, tmp_path, shared_data):
    code, out, err = run_cli("workload", "sample", "--kind", "poisson", "--rate", "50",
                             "--duration", "60", "--seed", "0", "--data-dir", str(shared_data))
    times = poisson_arrivals(50, 60, 0)
    assert code == 0 and err == ""
    assert out.splitlines()[0] == f"poisson: {len(times)} requests in 60 s (seed 0)"
    assert "inter-arrival CV" in out
    target = tmp_path / "arr.csv"
    code, out, _ = run_cli("workload", "sample", "--kind", "azure-code", "--rate", "50",
                           "--duration", "60", "--json", "--out", str(target))
    assert code == 0 and '"count"' in out
    written = np.loadtxt(target, skiprows=1)
    np.testing.assert_allclose(written, azure_arrivals("code", 50, 60, 0), atol=1e-6)
    code, _, err = run_cli("workload", "sample", "--rate", "-5")
    assert code == 2 and err == "clover: error: --rate must be within (0, inf) (got '-5')\n"


def test_one_kind_grammar_accepts_both_spellings():
    from clover.workload import parse_kind

    assert parse_kind("azure:code") == parse_kind("azure-code") == parse_kind("Azure_Code") == "azure-code"
    assert parse_kind(" poisson ") == "poisson"
    with pytest.raises(CloverError, match="unknown workload kind 'azure:chat'"):
        parse_kind("azure:chat")
