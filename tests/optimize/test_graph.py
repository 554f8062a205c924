"""Configuration graph: additive, order-free; GED (networkx) == L1 of edge weights."""

import itertools

import numpy as np

from clover.models.configuration import Configuration, GpuAssignment
from clover.optimize.graph import (
    config_graph,
    graph_edit_distance,
    graph_neighbour,
    l1_distance,
    raw_key,
    raw_neighbour,
)

G = "a100-40gb"


def _cfg(*gpus):
    return Configuration(G, tuple(GpuAssignment(tuple(l), tuple(v)) for l, v in gpus))


def test_graph_is_additive_and_order_free():
    a = ("4g.20gb", "2g.10gb", "1g.5gb"), ("yolov5x", "yolov5l", "yolov5l")
    b = ("7g.40gb",), ("yolov5x6",)
    g = config_graph(_cfg(a, b, a))
    assert g[("variant", "yolov5l")][("slice", "1g.5gb")]["weight"] == 2
    assert g[("variant", "yolov5x")][("slice", "4g.20gb")]["weight"] == 2
    assert g[("variant", "yolov5x6")][("slice", "7g.40gb")]["weight"] == 1
    perm = _cfg(b, (("1g.5gb", "4g.20gb", "2g.10gb"), ("yolov5l", "yolov5x", "yolov5l")), a)
    h = config_graph(perm)
    assert sorted(g.edges(data="weight")) == sorted(h.edges(data="weight"))
    assert _cfg(a, b, a).key() == perm.key()


def _random_small(rng, n_gpus):
    layouts = [("7g.40gb",), ("4g.20gb", "3g.20gb"), ("3g.20gb", "3g.20gb"),
               ("4g.20gb", "2g.10gb", "1g.5gb")]
    variants = ("yolov5l", "yolov5x")
    gpus = []
    for _ in range(n_gpus):
        lay = layouts[rng.integers(len(layouts))]
        gpus.append((lay, tuple(variants[rng.integers(2)] for _ in lay)))
    return _cfg(*gpus)


def test_ged_equals_l1_on_small_graphs():
    rng = np.random.default_rng(42)
    configs = [_random_small(rng, int(rng.integers(1, 4))) for _ in range(7)]
    for c1, c2 in itertools.combinations(configs, 2):
        ged = graph_edit_distance(config_graph(c1, "yolo"), config_graph(c2, "yolo"))
        assert ged == l1_distance(c1.edge_weights(), c2.edge_weights())


def test_neighbours_are_within_distance_and_realisable(problem10):
    rng = np.random.default_rng(0)
    cfg = problem10.base_configuration()
    seen = set()
    for _ in range(60):
        nb = graph_neighbour(problem10, cfg, rng, max_distance=4)
        assert nb is not None and nb.n_gpus == 10
        nb.validate("efficientnet")
        d = l1_distance(nb.edge_weights(), cfg.edge_weights())
        assert 1 <= d <= 4
        seen.add(nb.key())
        cfg = nb
    assert len(seen) > 30


def test_raw_neighbour_changes_one_gpu(problem10):
    rng = np.random.default_rng(1)
    cfg = problem10.base_configuration()
    for _ in range(30):
        nb = raw_neighbour(problem10, cfg, rng)
        nb.validate("efficientnet")
        diff = [i for i, (a, b) in enumerate(zip(cfg.gpus, nb.gpus)) if a != b]
        assert len(diff) == 1 and raw_key(nb) != raw_key(cfg)
        cfg = nb
