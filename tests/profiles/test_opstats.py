"""Kernel counts and peak activations stored in data/profile_model.yaml are re-derivable."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from clover.profiles.opstats import trace_forward, variant_opstats  # noqa: E402
from clover.profiles.params import load_params  # noqa: E402


def test_efficientnet_b1_stats_match_constants_file():
    torch.set_num_threads(1)
    stats = variant_opstats("efficientnet-b1")
    stored = load_params().variant("efficientnet-b1")
    assert stats.kernels == stored["kernels"]
    assert stats.peak_activation_mb == pytest.approx(stored["peak_activation_mb"], abs=0.01)


def test_trace_counts_allocations_not_views():
    lin = torch.nn.Linear(256, 512).to("meta")
    stats = trace_forward(torch.nn.Sequential(lin, torch.nn.Flatten()),
                          {"x": torch.zeros(4, 256, device="meta")})
    # addmm allocates 4 x 512 fp32 = 8192 B; the weight transpose and the flatten are views
    assert stats.kernels == 1
    assert stats.peak_activation_mb == pytest.approx(8192 / 1e6, abs=0.01)
