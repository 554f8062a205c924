"""The slice replica's model code in-process (no Ray): every app's smallest variant, tiny inputs."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("variant, input_size", [
    ("efficientnet-b1", 32), ("albert-base-v2", 16), ("yolov5l", 64)])
def test_replica_serves_each_app(variant, input_size, monkeypatch):
    import torch

    from clover.serve.replica import SliceReplica
    from clover.serve.cluster import InstanceSpec

    torch.manual_seed(0)
    spec = InstanceSpec("g0-1g.5gb-s0-x", 0, "local", "local", 0, "1g.5gb", 0, variant, "cpu",
                        threads=1, cores=(0,), input_size=input_size).as_dict()
    old = torch.get_num_threads()
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        replica = SliceReplica.func_or_class(spec)
        out = replica({"id": 7})
        assert out["id"] == 7 and out["variant"] == variant and out["slice"] == "1g.5gb"
        assert out["device"] == "cpu" and out["service_ms"] > 0
        assert replica.stats()["served"] == 1 and replica.stats()["busy_s"] > 0
        if affinity is not None:
            assert os.sched_getaffinity(0) == {0}  # bound to its core share
    finally:
        torch.set_num_threads(old)
        if affinity is not None:
            os.sched_setaffinity(0, affinity)  # this process is pytest's: give the cores back
