"""Exact optima: a MILP over instance counts (scipy HiGHS ``milp``) and, for small N, an
exhaustive search over every distinct configuration graph. Both maximise the same objective
the :class:`~clover.sim.SimEvaluator` computes (objective-maximising routing included).

MILP (docs/simulator.md): integer ``m_l`` = GPUs with slice mix ``l`` (``sum m_l = N``),
integer ``w_t`` = instances of type t = (variant v, slice s) with
``sum_v w_(v,s) = sum_l m_l·count_l(s)``, continuous ``y_t <= cap_t·w_t`` (SLA-safe traffic),
``sum y_t = R``, ``w_t = 0`` where v does not fit s, optional ``sum y_t·(a_t - A_min) >= 0``;
maximise ``sum y_t·value_t`` (the objective minus its routing-free constant). Its size depends on
the number of types and mixes only, not on N.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from clover.errors import CloverError
from clover.models.configuration import Configuration, GpuAssignment
from clover.sim.evaluator import objective_batch
from clover.sim.problem import Problem


@dataclass(frozen=True)
class ExactResult:
    """An exact optimum: the configuration, its objective, the instance-count vector."""

    configuration: Configuration
    objective: float
    counts: np.ndarray
    solve_s: float
    method: str
    n_candidates: int = 0


def _layout_matrix(problem: Problem, variants=None):
    layouts = problem.usable_layouts()
    if variants is not None:
        layouts = tuple(lay for lay in layouts if all(
            set(problem.fitting_variants(s)) & set(variants) for s in lay.profiles))
    slices = problem.types.slices
    mat = np.array([[lay.profiles.count(s) for s in slices] for lay in layouts], dtype=float)
    return layouts, mat


def solve_milp(problem: Problem, ci_g_per_kwh: float, lam: float | None = None,
               values: np.ndarray | None = None, time_limit_s: float = 60.0,
               variants: tuple[str, ...] | None = None) -> ExactResult:
    """The exact optimum of ``problem`` at ``ci_g_per_kwh`` (objective ``values`` per req/s
    routed to each type; default the Clover objective with ``lam``), optionally restricted to
    ``variants``. Raises CloverError when no configuration meets the SLA (and the floor)."""
    t0 = time.perf_counter()
    t = problem.types
    T = len(t)
    S = len(t.slices)
    layouts, lmat = _layout_matrix(problem, variants)
    L = len(layouts)
    if L == 0:
        raise CloverError("no MIG layout can be filled with variants that fit")
    val = problem.request_values(ci_g_per_kwh, lam) if values is None else np.asarray(values)
    N = problem.n_gpus
    R = problem.rate_rps
    # variables: m (L), w (T), y (T)
    nv = L + 2 * T
    c = np.zeros(nv)
    c[L + T:] = -val
    rows, lb, ub = [], [], []

    def add(row, lo, hi):
        rows.append(row), lb.append(lo), ub.append(hi)

    r = np.zeros(nv); r[:L] = 1; add(r, N, N)
    for si in range(S):
        r = np.zeros(nv)
        r[:L] = -lmat[:, si]
        for vi in range(len(t.variants)):
            r[L + vi * S + si] = 1
        add(r, 0, 0)
    for i in range(T):
        r = np.zeros(nv); r[L + T + i] = 1; r[L + i] = -t.cap_rps[i]; add(r, -np.inf, 0)
    r = np.zeros(nv); r[L + T:] = 1; add(r, R, R)
    if problem.accuracy_floor is not None:
        r = np.zeros(nv); r[L + T:] = t.accuracy - problem.accuracy_floor; add(r, 0, np.inf)
    allowed = t.fits.copy()
    if variants is not None:
        allowed &= np.array([v in variants for v, _ in t.keys])
    upper = np.concatenate([np.full(L, N), np.where(allowed, 7 * N, 0),
                            np.where(allowed & (t.cap_rps > 0), np.inf, 0)])
    integrality = np.concatenate([np.ones(L + T), np.zeros(T)])
    res = milp(c, constraints=LinearConstraint(np.array(rows), lb, ub),
               integrality=integrality, bounds=Bounds(np.zeros(nv), upper),
               options={"time_limit": time_limit_s, "mip_rel_gap": 1e-9})
    if res.status != 0 or res.x is None:
        floor = "" if problem.accuracy_floor is None else f" and accuracy >= {problem.accuracy_floor}%"
        raise CloverError(
            f"no configuration of {N} x {problem.gpu} serves {R:.1f} req/s of {problem.app} "
            f"with p95 <= {problem.sla_ms:.2f} ms{floor} ({res.message})")
    m = np.rint(res.x[:L]).astype(int)
    w = np.rint(res.x[L:L + T]).astype(int)
    cfg = configuration_from_counts(problem, layouts, m, w)
    f = float(-res.fun + problem.objective_constant(ci_g_per_kwh, N, lam)) if values is None \
        else float(-res.fun)
    return ExactResult(cfg, f, w, time.perf_counter() - t0, "milp")


def configuration_from_counts(problem: Problem, layouts, m, w) -> Configuration:
    """A Configuration with ``m[l]`` GPUs of layout ``l`` and ``w[t]`` instances per type.

    Each slice type's instances are handed out from a pool (largest variants first) by a
    moving index, so building the configuration is linear in the number of instances
    (100,000 GPUs in well under a second; ``benchmarks/bench_oracle.py``)."""
    t = problem.types
    S = len(t.slices)
    pools: dict[str, list[str]] = {s: [] for s in t.slices}
    for vi in reversed(range(len(t.variants))):  # largest variants first
        for si, s in enumerate(t.slices):
            pools[s].extend([t.variants[vi]] * int(w[vi * S + si]))
    taken = dict.fromkeys(pools, 0)
    gpus = []
    for lay, k in zip(layouts, m):
        profiles = lay.profiles
        for _ in range(int(k)):
            variants = []
            for s in profiles:
                i = taken[s]
                if i >= len(pools[s]):
                    raise CloverError("instance counts do not fill the layouts")
                variants.append(pools[s][i])
                taken[s] = i + 1
            gpus.append(GpuAssignment(profiles, tuple(variants)))
    if any(taken[s] < len(pool) for s, pool in pools.items()):
        raise CloverError("instance counts exceed the layouts' slices")
    return Configuration(problem.gpu, tuple(gpus))


def gpu_assignments(problem: Problem, variants: tuple[str, ...] | None = None
                    ) -> list[GpuAssignment]:
    """Every distinct single-GPU assignment (one layout per mix, variant multiset per slice
    type) using fitting ``variants`` (default all of the app)."""
    out = []
    for lay in problem.usable_layouts():
        groups = []
        for s in sorted(set(lay.profiles), key=lay.profiles.index):
            k = lay.profiles.count(s)
            fit = [v for v in problem.fitting_variants(s) if variants is None or v in variants]
            groups.append([(s, combo) for combo in itertools.combinations_with_replacement(fit, k)])
        for choice in itertools.product(*groups):
            layout, vs = [], []
            for s, combo in choice:
                layout.extend([s] * len(combo))
                vs.extend(combo)
            out.append(GpuAssignment(tuple(layout), tuple(vs)))
    return out


def exhaustive(problem: Problem, ci_g_per_kwh: float, lam: float | None = None,
               variants: tuple[str, ...] | None = None, chunk: int = 200_000) -> ExactResult:
    """Exact optimum by enumerating every multiset of N single-GPU assignments (so every
    distinct configuration graph), scored in vectorised batches. Small N only."""
    t0 = time.perf_counter()
    per_gpu = gpu_assignments(problem, variants)
    vecs = np.array([problem.counts(Configuration(problem.gpu, (g,))) for g in per_gpu])
    N = problem.n_gpus
    combos = itertools.combinations_with_replacement(range(len(per_gpu)), N)
    best_f, best_idx, seen = -np.inf, None, set()
    while True:
        block = np.array(list(itertools.islice(combos, chunk)), dtype=np.int64)
        if block.size == 0:
            break
        counts = vecs[block].sum(axis=1)
        f = objective_batch(problem, counts, ci_g_per_kwh, lam)
        seen.update(map(bytes, counts.astype(np.int16)))
        i = int(np.argmax(f))
        if f[i] > best_f:
            best_f, best_idx = float(f[i]), block[i]
    if best_idx is None or not np.isfinite(best_f):
        raise CloverError("no configuration meets the SLA")
    cfg = Configuration(problem.gpu, tuple(per_gpu[j] for j in best_idx))
    return ExactResult(cfg, best_f, problem.counts(cfg), time.perf_counter() - t0, "exhaustive",
                       len(seen))
