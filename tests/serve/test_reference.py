"""BASE's reference on the live service and the capacity checks (issue 19; no Ray)."""

from __future__ import annotations

import pytest

from clover.errors import CloverError
from clover.profiles import load_profiles
from clover.serve.reference import (base_reference, check_memory, check_slots,
                                    largest_candidate_bytes, replica_bytes)
from clover.sim.protocol import build_problem, protocol_settings


@pytest.fixture(scope="module")
def paper_problem():
    prof = load_profiles("efficientnet", "a100-40gb", backend="model", batch_sizes=(1, 8))
    return build_problem("efficientnet", "a100-40gb", 2, prof, protocol_settings("paper"))


def test_equivalent_reference_is_n_gpus_at_r_over_k(paper_problem):
    p = paper_problem
    ref = base_reference(p, "equivalent")
    assert ref.configuration.key() == p.base_configuration().key()
    assert ref.configuration.n_gpus == 2
    assert ref.rate_rps == pytest.approx(p.rate_rps / 5, rel=1e-12)
    assert "stands for 10 GPUs" in ref.statement


def test_full_reference_is_k_n_gpus_at_r(paper_problem):
    p = paper_problem
    ref = base_reference(p, "full")
    assert ref.configuration.n_gpus == 10
    assert ref.configuration.key() == p.base_reference_configuration().key()
    assert ref.rate_rps == p.rate_rps
    with pytest.raises(CloverError, match="--base-deploy must be one of"):
        base_reference(p, "half")


def test_check_slots_names_the_shortfall():
    check_slots(5, 2, "equivalent", gpu_slots=2, backend="cpu", cpus=2, base_variant="b7")
    with pytest.raises(CloverError) as e:
        check_slots(5, 2, "full", gpu_slots=10, backend="cpu", cpus=2, base_variant="b7")
    assert e.value.message == ("live run: BASE's reference (full: 10 x b7) needs 10 CPU cores "
                               "(one per emulated GPU), the machine has 2 "
                               "(use --base-deploy equivalent)")
    with pytest.raises(CloverError, match="needs 10 GPUs, the cluster has 4"):
        check_slots(5, 2, "full", gpu_slots=4, backend="cuda", cpus=64, base_variant="b7")
    with pytest.raises(CloverError, match="needs 3 GPUs, the cluster has 2$"):
        check_slots(5, 3, "equivalent", gpu_slots=2, backend="cuda", cpus=64, base_variant="b7")


def test_check_memory_names_base_or_the_largest_candidate(paper_problem):
    p = paper_problem
    check_memory(p, "equivalent", None, 8)  # unknown: not checked
    cand = largest_candidate_bytes(p, 8)
    base10 = 10 * replica_bytes("efficientnet-b7", 8)
    assert cand > 2 * replica_bytes("efficientnet-b7", 8)
    check_memory(p, "equivalent", cand + 1, 8)
    with pytest.raises(CloverError, match=r"^live run: the largest candidate \(2 GPUs of 1g "
                                          r"slices\) needs .* GiB of memory"):
        check_memory(p, "equivalent", cand - 1, 8)
    with pytest.raises(CloverError, match=r"^live run: BASE's reference \(full: 10 replicas\)"):
        check_memory(p, "full", base10 - 1, 8)


def test_a_shared_service_s_own_workers_count_as_available_memory(paper_problem, monkeypatch):
    """run-grid shares one service: the workers an earlier scheme left (active and parked) are
    re-aimed or replaced by the next one, so their memory counts as available."""
    from clover.serve import reference
    from clover.serve.cluster import InstanceSpec, local_cluster
    from clover.serve.live import LiveBackend, LiveSettings
    from clover.serve.service import LiveService

    p = paper_problem
    svc = LiveService(local_cluster("cpu", 2))
    svc.set_protocol("fcfs", 8)
    w = [InstanceSpec(f"i{k}", k % 2, "local", "local", k % 2, "1g.5gb", k // 2,
                      "efficientnet-b7", app=f"clover-w{k}") for k in range(4)]
    svc.instances, svc.parked = w[:1], {i.app: i for i in w[1:]}
    held = 4 * replica_bytes("efficientnet-b7", 8)
    free = largest_candidate_bytes(p, 8) - held + 1
    monkeypatch.setattr(reference, "available_memory_bytes", lambda: free)
    backend = LiveBackend(LiveSettings(backend="cpu"), "efficientnet", "a100-40gb", 2,
                          service=svc, protocol=p.protocol)
    backend.batch = 8
    backend.check_memory(p)  # free + held covers the largest candidate
    svc.parked = {}
    with pytest.raises(CloverError, match="the largest candidate"):
        backend.check_memory(p)
