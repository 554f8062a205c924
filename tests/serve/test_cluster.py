"""Cluster file, instance placement, routing weights and load-generator helpers (no Ray)."""

from __future__ import annotations

import math
import re

import pytest

from clover.errors import CloverError
from clover.models.configuration import Configuration, GpuAssignment
from clover.serve.cluster import (diff_instances, cpu_share, load_cluster, local_cluster,
                                  plan_instances, scaled_input_size, with_devices)
from clover.serve.loadgen import RequestRecord, check_loopback, summarize

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLUSTER_YAML = """
backend: cuda
gpu: a100-40gb
ray_address: auto
http: {host: 127.0.0.1, port: 8100}
mig_apply: true
nodes:
  - name: n1
    address: 10.0.0.11
    gpus: [0, 1]
    mig: auto
  - name: n2
    address: 10.0.0.12
    gpus: [0]
    mig: {0: {"3g.20gb@0": "MIG-aaaa", "3g.20gb@4": "MIG-bbbb"}}
"""


def test_cluster_file_is_read_and_ordered(tmp_path):
    p = tmp_path / "cluster.yaml"
    p.write_text(CLUSTER_YAML)
    c = load_cluster(p)
    assert c.backend == "cuda" and c.ray_address == "auto" and c.mig_apply
    assert [(n.name, g) for n, g in c.gpu_slots] == [("n1", 0), ("n1", 1), ("n2", 0)]
    assert c.url == "http://127.0.0.1:8100"
    from dataclasses import replace
    assert replace(c, http_host="0.0.0.0").url == "http://127.0.0.1:8100"  # bound to all: loopback


@pytest.mark.parametrize("text, field", [
    ("backend: tpu\nnodes: [{address: x, gpus: [0]}]", "backend"),
    ("nodes: []", "nodes"),
    ("nodes: [{address: x, gpus: [0, 0]}]", "nodes[0].gpus"),
    ("nodes: [{gpus: [0]}]", "nodes[0].address"),
    ("nodes: [{address: x, gpus: [0], mig: {0: {'3g@0': 'x'}}}]", "nodes[0].mig.0"),
    ("gpu: v100\nnodes: [{address: x, gpus: [0]}]", "gpu"),
    ("colour: red\nnodes: [{address: x, gpus: [0]}]", "colour"),
    # safety fields (clover.serve.safety): the expose opt-in, the HTTP host, ingress limits
    ("expose: yes-please\nnodes: [{address: x, gpus: [0]}]", "expose"),
    ("http: {host: 'a b'}\nnodes: [{address: x, gpus: [0]}]", "http.host"),
    ("limits: [1]\nnodes: [{address: x, gpus: [0]}]", "limits"),
    ("limits: {max_body_bytes: 0}\nnodes: [{address: x, gpus: [0]}]", "limits.max_body_bytes"),
    ("limits: {max_pending: -1}\nnodes: [{address: x, gpus: [0]}]", "limits.max_pending"),
    ("limits: {replica_timeout_s: .nan}\nnodes: [{address: x, gpus: [0]}]",
     "limits.replica_timeout_s"),
    ("limits: {max_queue: 5}\nnodes: [{address: x, gpus: [0]}]", "limits.max_queue"),
    # the ingress listens on the driver's node, which a Ray Client driver is not part of
    ("ray_address: 'ray://head:10001'\nnodes: [{address: x, gpus: [0]}]", "ray_address"),
])
def test_bad_cluster_files_name_the_field(tmp_path, text, field):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(CloverError, match=re.escape(f"{p}: field '{field}'")):
        load_cluster(p)


def test_missing_cluster_file(tmp_path):
    with pytest.raises(CloverError, match="cluster file"):
        load_cluster(tmp_path / "nope.yaml")


def _conf(*gpus):
    return Configuration("a100-40gb", tuple(GpuAssignment(tuple(l), tuple(v)) for l, v in gpus))


def test_cpu_instances_get_core_shares_and_scaled_inputs():
    c = local_cluster("cpu", 1, cores_per_gpu=7)
    conf = _conf((("4g.20gb", "2g.10gb", "1g.5gb"), ("efficientnet-b5", "efficientnet-b3", "efficientnet-b1")))
    insts = plan_instances(conf, c, input_scale=0.25, n_cpus=8)
    assert [(i.profile, i.start, i.variant, i.threads, i.cores) for i in insts] == [
        ("4g.20gb", 0, "efficientnet-b5", 4, (0, 1, 2, 3)),
        ("2g.10gb", 4, "efficientnet-b3", 2, (3, 4)),
        ("1g.5gb", 6, "efficientnet-b1", 1, (5,))]
    assert insts[0].input_size == round(456 * 0.25) and insts[2].input_size == 60
    assert all(i.device == "cpu" for i in insts)
    assert cpu_share(0, 0, 7, 2, 2) == (2, (0, 1))
    assert scaled_input_size("efficientnet-b1", 1.0) is None
    assert scaled_input_size("albert-base-v2", 0.01) == 16
    with pytest.raises(CloverError, match="input-scale"):
        scaled_input_size("efficientnet-b1", 1.5)


def test_redeploy_keeps_instances_that_do_not_change():
    c = local_cluster("cpu", 2, cores_per_gpu=1)
    a = plan_instances(_conf((("3g.20gb", "3g.20gb"), ("efficientnet-b3", "efficientnet-b7")),
                             (("7g.40gb",), ("efficientnet-b7",))), c, n_cpus=2)
    # swap the order of the variants in the assignment: same service, nothing restarts
    b = plan_instances(_conf((("3g.20gb", "3g.20gb"), ("efficientnet-b7", "efficientnet-b3")),
                             (("7g.40gb",), ("efficientnet-b7",))), c, current=a, n_cpus=2)
    d = diff_instances(a, b)
    assert not d.stop and not d.start and len(d.keep) == 3
    # change one slice's variant: only that instance restarts
    e = plan_instances(_conf((("3g.20gb", "3g.20gb"), ("efficientnet-b1", "efficientnet-b7")),
                             (("7g.40gb",), ("efficientnet-b7",))), c, current=b, n_cpus=2)
    d = diff_instances(b, e)
    assert [i.variant for i in d.stop] == ["efficientnet-b3"] and [i.variant for i in d.start] == ["efficientnet-b1"]
    assert d.slots_changed == {0}
    with pytest.raises(CloverError, match="needs 3 GPUs"):
        plan_instances(Configuration.uniform("a100-40gb", 3, "efficientnet-b1"), c)


def test_gpu_instances_need_mig_uuids(tmp_path):
    p = tmp_path / "cluster.yaml"
    p.write_text(CLUSTER_YAML)
    c = load_cluster(p)
    conf = Configuration.uniform("a100-40gb", 3, "efficientnet-b1", layout=("3g.20gb", "3g.20gb"))
    insts = plan_instances(conf, c, uuids={2: {(0, "3g.20gb"): "MIG-aaaa", (4, "3g.20gb"): "MIG-bbbb"}})
    assert [i.device for i in insts if i.slot == 2] == ["MIG-aaaa", "MIG-bbbb"]
    assert insts[0].node == "n1" and insts[-1].node_address == "10.0.0.12"
    with pytest.raises(CloverError, match="no MIG device 3g.20gb@0"):
        with_devices(insts, {2: {(0, "3g.20gb"): "MIG-aaaa", (4, "3g.20gb"): "MIG-bbbb"}})


def test_route_weights_follow_simulator_shares():
    from clover.serve.service import route_weights

    c = local_cluster("cpu", 1)
    insts = plan_instances(_conf((("3g.20gb", "2g.10gb", "1g.5gb", "1g.5gb"),
                                  ("efficientnet-b5", "efficientnet-b1", "efficientnet-b1", "efficientnet-b1"))),
                           c, n_cpus=2)
    w, src = route_weights(insts, {("efficientnet-b5", "3g.20gb"): 6.0, ("efficientnet-b1", "1g.5gb"): 4.0,
                                   ("efficientnet-b1", "2g.10gb"): 0.0})
    assert src == "simulator"
    assert sorted(w.values()) == [0.0, 2.0, 2.0, 6.0]
    with pytest.raises(CloverError, match="not deployed"):
        route_weights(insts, {("efficientnet-b7", "3g.20gb"): 1.0})
    w, src = route_weights(insts, None)
    assert src == "capacity-proxy" and all(v > 0 for v in w.values())


def test_smooth_wrr_gives_exact_shares():
    from clover.serve.app import _SmoothWRR

    wrr = _SmoothWRR({"a": 5.0, "b": 1.0, "c": 2.0, "z": 0.0})
    picks = [wrr.pick() for _ in range(800)]
    assert picks.count("a") == 500 and picks.count("b") == 100 and picks.count("c") == 200
    assert "z" not in picks


def test_loadgen_only_targets_loopback():
    assert check_loopback("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    check_loopback("http://localhost:1")
    with pytest.raises(CloverError, match="loopback"):
        check_loopback("http://10.0.0.1:8000")


def test_summarize_window():
    recs = [RequestRecord(i, i * 0.1, i * 0.1, float(10 + i), 200, "i1" if i % 2 else "i0",
                          "efficientnet-b1", "1g.5gb", 5.0, 9.0, 1) for i in range(20)]
    recs.append(RequestRecord(20, 2.0, 2.0, 1.0, 0, error="ConnectError"))
    s = summarize(recs, 2.0)
    assert s.sent == 21 and s.answered == 20 and s.failed == 1
    assert s.p50_ms == pytest.approx(19.5) and s.throughput_rps == 10.0
    assert s.busy_s == {"i0": pytest.approx(0.05), "i1": pytest.approx(0.05)}
    assert math.isclose(s.mean_latency_ms, 19.5)
