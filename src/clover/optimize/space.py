"""The artifact's search space (``space: replicated``): one single-GPU assignment — a
partition code and one variant per slot — deployed on every GPU.

Partition codes: sc23-clover ``mig/partition_code.json`` (compute slices per slot, in slot
order) minus the codes ``system/experiment.py`` drops as duplicates (9, 15, 16, 17; code 17 is
not even a valid placement). The 15 codes left cover 14 slice mixes (codes 12 and 13 share
one). A configuration graph (single-GPU edge weights variant -> slice type) is what Clover
searches and deduplicates: 438 distinct graphs for YOLO (3 variants), 1,282 for ALBERT and
EfficientNet (4 variants), counted as the artifact does (every variant on every slot).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.catalog import variants_for_app
from clover.models.configuration import Configuration, GpuAssignment

#: sc23-clover mig/partition_code.json, compute slices per slot
PARTITION_CODES: dict[str, tuple[int, ...]] = {
    "0": (7,), "1": (3, 4), "2": (2, 1, 4), "3": (1, 1, 1, 4), "4": (3, 3), "5": (2, 1, 3),
    "6": (1, 1, 1, 3), "7": (3, 2, 2), "8": (3, 2, 1, 1), "9": (3, 1, 1, 2),
    "10": (3, 1, 1, 1, 1), "11": (2, 1, 2, 2), "12": (2, 1, 2, 1, 1), "13": (2, 1, 1, 1, 2),
    "14": (1, 1, 1, 2, 1, 1), "15": (1, 1, 1, 1, 1, 2), "16": (2, 1, 1, 1, 1, 1),
    "17": (1, 2, 1, 1, 1, 1), "18": (1, 1, 1, 1, 1, 1, 1),
}
#: codes sc23-clover system/experiment.py drops (``duplicated_keys``)
DUPLICATED_CODES = ("9", "15", "16", "17")


@dataclass(frozen=True)
class Partition:
    """One partition code: its slots' MIG profile names in slot order."""

    code: str
    profiles: tuple[str, ...]

    @property
    def mix(self) -> tuple[str, ...]:
        return tuple(sorted(self.profiles))


def artifact_partitions(gpu: str) -> tuple[Partition, ...]:
    """The 15 partition codes the artifact searches, as profiles of ``gpu``."""
    spec = get_gpu(gpu)
    return tuple(Partition(code, tuple(spec.profile_by_compute(c).name for c in slots))
                 for code, slots in PARTITION_CODES.items() if code not in DUPLICATED_CODES)


def slice_mixes(gpu: str) -> tuple[tuple[str, ...], ...]:
    """Distinct slice mixes of the artifact's partitions (14)."""
    return tuple(dict.fromkeys(p.mix for p in artifact_partitions(gpu)))


def _mix_assignments(mix: tuple[str, ...], options) -> list[GpuAssignment]:
    """One assignment per distinct graph on ``mix``: a multiset of variants per slice type."""
    per_type = []
    for s in sorted(set(mix), key=mix.index):
        n = mix.count(s)
        per_type.append([(s, combo) for combo in
                         itertools.combinations_with_replacement(options(s), n)])
    out = []
    for choice in itertools.product(*per_type):
        layout, variants = [], []
        for s, combo in choice:
            layout += [s] * len(combo)
            variants += list(combo)
        out.append(GpuAssignment(tuple(layout), tuple(variants)))
    return out


def restricted_fitting(fitting, variants=None):
    """``fitting`` (slice -> variants) keeping only the variants named in ``variants``
    (None: all). A search-space restriction (the decomposition's "no variants" steps)."""
    if variants is None:
        return fitting
    keep = frozenset(variants)
    return lambda s: tuple(v for v in fitting(s) if v in keep)


def restricted_partitions(gpu: str, codes=None) -> tuple[Partition, ...]:
    """:func:`artifact_partitions` limited to the partition ``codes`` (None: all 15); an
    unknown or dropped code is a one-line error."""
    parts = artifact_partitions(gpu)
    if codes is None:
        return parts
    known = {p.code for p in parts}
    bad = [str(c) for c in codes if str(c) not in known]
    if bad:
        raise CloverError(f"unknown partition code(s) {', '.join(bad)} "
                          f"(known: {', '.join(sorted(known, key=int))})")
    want = {str(c) for c in codes}
    return tuple(p for p in parts if p.code in want)


def distinct_graphs(app: str, gpu: str, fitting=None, partitions=None,
                    variants=None) -> list[GpuAssignment]:
    """One single-GPU assignment per distinct graph of the replicated space.

    ``fitting(slice_profile) -> variants`` restricts the slot choices (e.g.
    ``Problem.fitting_variants``); default: every variant of the app on every slot (the
    artifact's count). ``partitions`` (codes) and ``variants`` (names) restrict the space
    further (None: no restriction)."""
    names = tuple(v.name for v in variants_for_app(app))
    options = fitting if fitting is not None else (lambda s: names)
    options = restricted_fitting(options, variants)
    mixes = (slice_mixes(gpu) if partitions is None else
             tuple(dict.fromkeys(p.mix for p in restricted_partitions(gpu, partitions))))
    out = []
    for mix in mixes:
        if all(options(s) for s in mix):
            out += _mix_assignments(mix, options)
    return out


def replicate(assignment: GpuAssignment, gpu: str, n_gpus: int) -> Configuration:
    """The same single-GPU assignment on each of ``n_gpus`` GPUs."""
    return Configuration(get_gpu(gpu).key, (assignment,) * int(n_gpus))


def single_gpu_counts(problem, assignment: GpuAssignment) -> np.ndarray:
    """Single-GPU edge-weight vector of ``assignment`` in ``problem.types`` order."""
    return problem.counts(Configuration(problem.gpu, (assignment,)))


def space_summary(app: str, gpu: str, fitting=None) -> dict:
    """Partitions, slice mixes and graph counts (``clover space``)."""
    parts = artifact_partitions(gpu)
    mixes = slice_mixes(gpu)
    out = {
        "app": app, "gpu": get_gpu(gpu).key,
        "variants": [v.name for v in variants_for_app(app)],
        "partitions": [{"code": p.code, "profiles": list(p.profiles)} for p in parts],
        "slice_mixes": [list(m) for m in mixes],
        "graphs": len(distinct_graphs(app, gpu)),
        "graphs_per_mix": {"+".join(m): len(_mix_assignments(
            m, lambda s: tuple(v.name for v in variants_for_app(app)))) for m in mixes},
    }
    if fitting is not None:
        out["fitting_graphs"] = len(distinct_graphs(app, gpu, fitting))
    return out
