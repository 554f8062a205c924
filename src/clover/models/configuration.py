"""A service configuration: for every GPU a MIG layout and a model variant per slice.

This is the unit every scheme chooses, the simulator and the live service evaluate, and the
controller logs. Two configurations that differ only by the order of GPUs or of slices on a
GPU are the same service; :meth:`Configuration.canonical` maps them to one representative,
and :meth:`Configuration.edge_weights` gives the bipartite-graph view (variant, slice profile)
-> number of instances that Clover searches over.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from dataclasses import dataclass

from clover.errors import CloverError
from clover.mig.geometry import enumerate_layouts, get_gpu
from clover.models.catalog import get_variant


@dataclass(frozen=True)
class GpuAssignment:
    """One GPU: its layout (profile names in placement order) and a variant per slice."""

    layout: tuple[str, ...]
    variants: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.layout) != len(self.variants):
            raise CloverError(
                f"GPU assignment has {len(self.layout)} slices but {len(self.variants)} variants"
            )

    @property
    def instances(self) -> tuple[tuple[str, str], ...]:
        """(variant, slice profile) pairs."""
        return tuple(zip(self.variants, self.layout))

    def canonical(self) -> "GpuAssignment":
        """Same GPU with slices sorted (largest profile first, then variant name)."""
        pairs = sorted(zip(self.layout, self.variants),
                       key=lambda lv: (-int(lv[0].split("g.")[0]), lv[0], lv[1]))
        return GpuAssignment(tuple(p for p, _ in pairs), tuple(v for _, v in pairs))

    def as_dict(self) -> dict:
        return {"layout": list(self.layout), "variants": list(self.variants)}


@dataclass(frozen=True)
class Configuration:
    """The whole service: ``gpu`` model key and one :class:`GpuAssignment` per GPU."""

    gpu: str
    gpus: tuple[GpuAssignment, ...]

    def __hash__(self) -> int:
        """The dataclass hash of (gpu, gpus), computed once per object (the transition memo
        hashes the deployed and the chosen configuration every hour)."""
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.gpu, self.gpus))
            object.__setattr__(self, "_hash", h)
        return h

    def __getstate__(self) -> dict:
        """Pickled without the cached hash: string hashes differ between processes."""
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    @property
    def n_gpus(self) -> int:
        return len(self.gpus)

    def canonical(self) -> "Configuration":
        """Order-free representative: slices sorted within GPUs, GPUs sorted."""
        gpus = sorted((g.canonical() for g in self.gpus),
                      key=lambda g: (g.layout, g.variants))
        return Configuration(self.gpu, tuple(gpus))

    def edge_weights(self) -> dict[tuple[str, str], int]:
        """Bipartite graph edges: (variant, slice profile) -> number of instances."""
        counts: Counter[tuple[str, str]] = Counter()
        for g in self.gpus:
            counts.update(g.instances)
        return dict(sorted(counts.items()))

    def instances(self) -> list[tuple[int, int, str, str]]:
        """Every instance as (gpu index, slice index, variant, slice profile)."""
        return [(gi, si, v, p) for gi, g in enumerate(self.gpus)
                for si, (v, p) in enumerate(g.instances)]

    def validate(self, app: str | None = None) -> "Configuration":
        """Check every layout is a valid MIG layout and every variant is known (and of ``app``)."""
        valid = _valid_layouts(self.gpu)
        for i, g in enumerate(self.gpus):
            if tuple(sorted(g.layout)) not in valid:
                raise CloverError(f"GPU {i}: invalid MIG layout {'+'.join(g.layout)} for {self.gpu}")
            for v in g.variants:
                var = get_variant(v)
                if app is not None and var.app != app:
                    raise CloverError(f"GPU {i}: variant {v} is not a {app} model")
        return self

    def key(self) -> str:
        """A stable string id of the canonical configuration (computed once per object: the
        controller and the schemes ask for it several times an hour)."""
        k = self.__dict__.get("_key")
        if k is None:
            k = _canonical_key(self)
            object.__setattr__(self, "_key", k)
        return k

    def as_dict(self) -> dict:
        return {"gpu": self.gpu, "gpus": [g.as_dict() for g in self.gpus]}

    @classmethod
    def from_dict(cls, data: dict) -> "Configuration":
        try:
            gpus = tuple(GpuAssignment(tuple(g["layout"]), tuple(g["variants"])) for g in data["gpus"])
            return cls(str(data["gpu"]), gpus)
        except (KeyError, TypeError) as exc:
            raise CloverError(f"malformed configuration: missing or bad field {exc}") from None

    @classmethod
    def uniform(cls, gpu: str, n_gpus: int, variant: str, layout: tuple[str, ...] | None = None
                ) -> "Configuration":
        """``n_gpus`` GPUs with the same layout (default: whole GPU) all serving ``variant``."""
        spec = get_gpu(gpu)
        lay = layout or (spec.full_profile.name,)
        return cls(spec.key, tuple(GpuAssignment(tuple(lay), (variant,) * len(lay))
                                   for _ in range(n_gpus)))


@lru_cache(maxsize=None)
def _valid_layouts(gpu: str) -> frozenset[tuple[str, ...]]:
    """The sorted profile tuples of every valid MIG layout of ``gpu`` (an unknown GPU is a
    CloverError naming it; built once per GPU: the replicated search validates thousands of
    configurations a run)."""
    get_gpu(gpu)
    return frozenset(tuple(sorted(lay.profiles)) for lay in enumerate_layouts(gpu))


@lru_cache(maxsize=65536)
def _canonical_key(config: Configuration) -> str:
    """:meth:`Configuration.key` of an equal configuration seen before (schemes rebuild the
    same configurations every hour; hashing one is cheaper than canonicalising it)."""
    return json.dumps(config.canonical().as_dict()["gpus"], separators=(",", ":"))
