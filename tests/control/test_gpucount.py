"""The GPU-count study under the paper protocol (issue 11 item 1)."""

from __future__ import annotations

import pytest

from clover.control.gpucount import gpu_count_table
from clover.control.runs import profile_source, profile_table
from clover.errors import CloverError
from clover.sim.protocol import protocol_settings


def _table(base_gpus=10, schemes=("base", "clover")):
    prof = profile_table("efficientnet", "a100-40gb", None, batch_sizes=(1, 8))
    return gpu_count_table("efficientnet", "a100-40gb", prof, list(schemes), base_gpus, 4, 5.0,
                           250.0, 0.1, {}, {}, 0, profile_source(prof), protocol=protocol_settings("paper"))


def test_paper_target_is_base_on_k_times_n():
    t = _table().set_index("scheme")
    assert set(t["protocol"]) == {"paper"}
    # BASE on k x N = 5 x 2 sets the target, so BASE itself needs exactly those 10 GPUs
    assert t.loc["base", "gpus_needed"] == 10
    assert t.loc["clover", "gpus_needed"] < 10
    assert t.loc["clover", "p95_ms"] <= t.loc["clover", "sla_ms"] + 1e-9


def test_base_gpus_must_be_a_multiple_of_k():
    with pytest.raises(CloverError, match="multiple"):
        _table(base_gpus=4)
