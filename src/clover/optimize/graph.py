"""The configuration graph (Clover §4.2): a bipartite graph variant <-> MIG slice type whose
edge weight is the number of instances of that variant on slices of that type, summed over
GPUs. Configurations that differ only by GPU order or slice order have the same graph.

Graph-edit distance with edge substitution cost ``|w1 - w2|`` and insertion / deletion cost
``w`` (node labels fixed: every variant and slice type is a node of both graphs) equals the L1
distance of the edge-weight vectors; ``tests/optimize/test_graph.py`` checks it against
networkx's exact GED, and the search uses the L1 form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from clover.mig.geometry import enumerate_layouts, slice_types
from clover.models.catalog import variants_for_app
from clover.models.configuration import Configuration, GpuAssignment
from clover.sim.problem import Problem

if TYPE_CHECKING:  # networkx is imported where used (a third of a second every process)
    import networkx as nx

_BIG = 1e9


def config_graph(configuration: Configuration, app: str | None = None) -> nx.Graph:
    """Bipartite graph with nodes ``("variant", name)`` and ``("slice", profile)``.

    With ``app`` every variant of the app and every slice type of the GPU is a node (isolated
    if unused), so two graphs of one problem share the node set.
    """
    import networkx as nx

    g = nx.Graph()
    if app is not None:
        for v in variants_for_app(app):
            g.add_node(("variant", v.name), bipartite=0, label=v.name)
        for s in slice_types(configuration.gpu):
            g.add_node(("slice", s), bipartite=1, label=s)
    for gpu in configuration.gpus:  # additive over GPUs
        for v, s in gpu.instances:
            a, b = ("variant", v), ("slice", s)
            g.add_node(a, bipartite=0, label=v)
            g.add_node(b, bipartite=1, label=s)
            if g.has_edge(a, b):
                g[a][b]["weight"] += 1
            else:
                g.add_edge(a, b, weight=1)
    return g


def graph_edit_distance(g1: nx.Graph, g2: nx.Graph, timeout: float | None = None) -> float:
    """Exact GED by networkx: nodes matched by label only, edge costs by weight."""
    import networkx as nx

    return nx.graph_edit_distance(
        g1, g2,
        node_subst_cost=lambda a, b: 0.0 if a["label"] == b["label"] else _BIG,
        node_del_cost=lambda a: _BIG, node_ins_cost=lambda a: _BIG,
        edge_subst_cost=lambda a, b: abs(a["weight"] - b["weight"]),
        edge_del_cost=lambda a: a["weight"], edge_ins_cost=lambda a: a["weight"],
        timeout=timeout,
    )


def l1_distance(a, b) -> int:
    """L1 distance of two edge-weight maps ``{(variant, slice): count}`` or count vectors."""
    if isinstance(a, dict):
        keys = set(a) | set(b)
        return int(sum(abs(a.get(k, 0) - b.get(k, 0)) for k in keys))
    return int(np.abs(np.asarray(a) - np.asarray(b)).sum())


def graph_key(counts: np.ndarray) -> bytes:
    """Hashable id of a graph (count vector)."""
    return np.asarray(counts, dtype=np.int32).tobytes()


def _mutate_gpu_layout(problem: Problem, gpu: GpuAssignment, rng, keep: bool) -> GpuAssignment:
    """The GPU with a different layout; variants kept on slice types that persist if ``keep``."""
    layouts = [lay for lay in problem.usable_layouts()
               if tuple(sorted(lay.profiles)) != tuple(sorted(gpu.layout))]
    lay = layouts[rng.integers(len(layouts))]
    pool: dict[str, list[str]] = {}
    if keep:
        for v, s in gpu.instances:
            pool.setdefault(s, []).append(v)
    variants = []
    for s in lay.profiles:
        if pool.get(s):
            variants.append(pool[s].pop(0))
        else:
            fit = problem.fitting_variants(s)
            variants.append(fit[rng.integers(len(fit))])
    return GpuAssignment(lay.profiles, tuple(variants))


def _mutate_slice(problem: Problem, gpu: GpuAssignment, rng) -> GpuAssignment | None:
    si = int(rng.integers(len(gpu.layout)))
    fit = [v for v in problem.fitting_variants(gpu.layout[si]) if v != gpu.variants[si]]
    if not fit:
        return None
    vs = list(gpu.variants)
    vs[si] = fit[rng.integers(len(fit))]
    return GpuAssignment(gpu.layout, tuple(vs))


def graph_neighbour(problem: Problem, configuration: Configuration, rng,
                    max_distance: int = 4, tries: int = 50) -> Configuration | None:
    """A random configuration realisable on N GPUs whose graph is within L1 (= GED)
    ``max_distance`` of ``configuration``'s and differs from it.

    Moves on a realisation: change one slice's variant (distance 2), two slices' variants
    (<= 4), or one GPU's layout keeping the variants of persisting slice types (split / merge
    of slices, typically 3); a move is kept only if its graph distance is in ``[1, max]``.
    """
    base = problem.counts(configuration)
    gpus = list(configuration.gpus)
    for _ in range(tries):
        new = list(gpus)
        move = rng.integers(3)
        i = int(rng.integers(len(new)))
        if move == 0 or move == 1:
            g = _mutate_slice(problem, new[i], rng)
            if g is None:
                continue
            new[i] = g
            if move == 1:
                j = int(rng.integers(len(new)))
                g2 = _mutate_slice(problem, new[j], rng)
                if g2 is None:
                    continue
                new[j] = g2
        else:
            new[i] = _mutate_gpu_layout(problem, new[i], rng, keep=True)
        cand = Configuration(configuration.gpu, tuple(new))
        dist = l1_distance(problem.counts(cand), base)
        if 1 <= dist <= max_distance:
            return cand
    return None


def raw_neighbour(problem: Problem, configuration: Configuration, rng) -> Configuration | None:
    """Blover's move on the raw per-GPU encoding: change one GPU's layout (any of the valid
    layouts, fresh random variants) or one slice's variant. No graph, no deduplication."""
    gpus = list(configuration.gpus)
    i = int(rng.integers(len(gpus)))
    for _ in range(100):
        if rng.random() < 0.5:
            layouts = [lay for lay in enumerate_layouts(problem.gpu)
                       if lay.profiles != gpus[i].layout
                       and all(problem.fitting_variants(p) for p in lay.profiles)]
            if not layouts:
                continue
            lay = layouts[rng.integers(len(layouts))]
            vs = []
            for s in lay.profiles:
                fit = problem.fitting_variants(s)
                vs.append(fit[rng.integers(len(fit))])
            gpus[i] = GpuAssignment(lay.profiles, tuple(vs))
            break
        g = _mutate_slice(problem, gpus[i], rng)
        if g is not None:
            gpus[i] = g
            break
    else:
        return None
    return Configuration(configuration.gpu, tuple(gpus))


def raw_key(configuration: Configuration) -> tuple:
    """Blover's cache key: the ordered per-GPU encoding (permutations are different keys)."""
    return tuple((g.layout, g.variants) for g in configuration.gpus)
