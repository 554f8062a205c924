"""MIG profile catalogs and the enumeration of valid GPU layouts.

Source for every profile, size and placement: NVIDIA Multi-Instance GPU User Guide,
"Supported MIG Profiles" (https://docs.nvidia.com/datacenter/tesla/mig-user-guide/
supported-mig-profiles.html) and ``nvidia-smi mig -lgip`` / ``-lgipp`` output restated in
``../shared/data/calibration/FACTS.md``.

Model of placement. A MIG-capable GPU has 8 memory slices (indices 0..7) and 7 compute
slices. A GPU-instance profile occupies ``memory_slices`` consecutive memory slices starting
at one of its allowed ``placements``; instances may not overlap and their compute slices may
not exceed 7. A *layout* is a maximal set of non-overlapping placements (no further instance
fits). On the A100-40GB this yields exactly the 19 layouts NVIDIA documents and the original
Clover code lists (``mig/partition_code.json``), 14 distinct slice mixes.

Only the five "full" profiles (1g, 2g, 3g, 4g, 7g) are used for layouts, as in Clover;
``1g.*+me`` and the double-memory ``1g`` profiles are deliberately left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from clover.errors import CloverError

MIG_DOC = (
    "NVIDIA MIG User Guide, Supported MIG Profiles "
    "(https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-mig-profiles.html)"
)


@dataclass(frozen=True)
class MigProfile:
    """One GPU-instance profile (e.g. ``3g.20gb``).

    Attributes:
        name: NVIDIA profile name.
        compute_slices: GPCs (compute slices) out of 7.
        memory_slices: memory slices out of 8.
        memory_gb: usable memory in GiB (``nvidia-smi mig -lgip``).
        sms: streaming multiprocessors in the instance.
        placements: allowed start indices in memory-slice space.
    """

    name: str
    compute_slices: int
    memory_slices: int
    memory_gb: float
    sms: int
    placements: tuple[int, ...]

    @property
    def compute_fraction(self) -> float:
        """Share of the GPU's MIG compute (out of 7 compute slices)."""
        return self.compute_slices / 7.0


@dataclass(frozen=True)
class GpuSpec:
    """A MIG-capable GPU model.

    Attributes:
        key: short id used on the command line (``a100-40gb``).
        name: marketing name as NVML reports it.
        memory_gb: total memory, GB.
        tdp_w: board power limit (W).
        idle_power_w: power of the whole GPU idle with MIG enabled (W).
        profiles: the five layout profiles, smallest first.
        source: where the numbers come from.
    """

    key: str
    name: str
    memory_gb: float
    tdp_w: float
    idle_power_w: float
    profiles: tuple[MigProfile, ...]
    source: str
    idle_power_source: str = ""
    memory_slices: int = 8
    compute_slices: int = 7

    def profile(self, name: str) -> MigProfile:
        for prof in self.profiles:
            if prof.name == name:
                return prof
        known = ", ".join(p.name for p in self.profiles)
        raise CloverError(f"unknown MIG profile {name!r} for {self.key} (known: {known})")

    def profile_by_compute(self, compute_slices: int) -> MigProfile:
        for prof in self.profiles:
            if prof.compute_slices == compute_slices:
                return prof
        raise CloverError(f"{self.key} has no {compute_slices}g MIG profile")

    @property
    def full_profile(self) -> MigProfile:
        """The whole-GPU profile (7g)."""
        return self.profiles[-1]


def _profiles(mem_names: tuple[str, str, str, str, str], mem_gb: tuple[float, ...],
              sms: tuple[int, ...]) -> tuple[MigProfile, ...]:
    """The five standard profiles; placements are the same on A100, H100 and H200."""
    compute = (1, 2, 3, 4, 7)
    memory = (1, 2, 4, 4, 8)
    placements = ((0, 1, 2, 3, 4, 5, 6), (0, 2, 4), (0, 4), (0,), (0,))
    return tuple(
        MigProfile(f"{c}g.{m}", c, ms, g, s, p)
        for c, m, ms, g, s, p in zip(compute, mem_names, memory, mem_gb, sms, placements)
    )


_A100_IDLE = (
    "36.1 W: near-idle whole A100-40GB, MISO (SoCC'22) util_collection/power_dummy.json "
    "(calibration/FACTS.md)"
)

GPUS: dict[str, GpuSpec] = {
    "a100-40gb": GpuSpec(
        key="a100-40gb",
        name="NVIDIA A100-SXM4-40GB",
        memory_gb=40.0,
        tdp_w=400.0,
        idle_power_w=36.1,
        profiles=_profiles(
            ("5gb", "10gb", "20gb", "20gb", "40gb"),
            (4.75, 9.75, 19.62, 19.62, 39.50),
            (14, 28, 42, 56, 98),
        ),
        source=f"{MIG_DOC}; nvidia-smi mig -lgip (calibration/FACTS.md); TDP: NVIDIA A100 datasheet",
        idle_power_source=_A100_IDLE,
    ),
    "a100-80gb": GpuSpec(
        key="a100-80gb",
        name="NVIDIA A100-SXM4-80GB",
        memory_gb=80.0,
        tdp_w=400.0,
        idle_power_w=36.1,
        profiles=_profiles(
            ("10gb", "20gb", "40gb", "40gb", "80gb"),
            (9.50, 19.50, 39.25, 39.25, 79.25),
            (14, 28, 42, 56, 98),
        ),
        source=f"{MIG_DOC}; TDP: NVIDIA A100 datasheet (SXM4 400 W)",
        idle_power_source=_A100_IDLE + "; assumed equal for the 80GB part",
    ),
    "h100-80gb": GpuSpec(
        key="h100-80gb",
        name="NVIDIA H100 80GB HBM3",
        memory_gb=80.0,
        tdp_w=700.0,
        idle_power_w=63.2,
        profiles=_profiles(
            ("10gb", "20gb", "40gb", "40gb", "80gb"),
            (9.75, 19.75, 39.75, 39.75, 79.75),
            (16, 32, 60, 64, 132),
        ),
        source=f"{MIG_DOC}; TDP: NVIDIA H100 SXM5 datasheet (700 W)",
        idle_power_source="assumed: A100 near-idle 36.1 W scaled by TDP 700/400 (no public measurement)",
    ),
    "h200": GpuSpec(
        key="h200",
        name="NVIDIA H200",
        memory_gb=141.0,
        tdp_w=700.0,
        idle_power_w=63.2,
        profiles=_profiles(
            ("18gb", "35gb", "71gb", "71gb", "141gb"),
            (16.5, 32.5, 69.75, 69.75, 139.75),
            (16, 32, 60, 64, 132),
        ),
        source=f"{MIG_DOC}; TDP: NVIDIA H200 SXM datasheet (700 W)",
        idle_power_source="assumed: A100 near-idle 36.1 W scaled by TDP 700/400 (no public measurement)",
    ),
}
#: the GPU of the original Clover experiments (sc23-clover: A100-SXM4-40GB nodes), every
#: command's and function's default (the config schema's ``gpu`` default agrees: a test)
DEFAULT_GPU = "a100-40gb"


def get_gpu(key: str) -> GpuSpec:
    """The catalog entry for ``key`` (case-insensitive); a clear error when unknown."""
    spec = GPUS.get(str(key).lower())
    if spec is None:
        raise CloverError(f"unknown GPU {key!r} (known: {', '.join(GPUS)})")
    return spec


@dataclass(frozen=True, order=True)
class Placement:
    """One GPU instance: a profile placed at a start index in memory-slice space."""

    start: int
    profile: str


@dataclass(frozen=True)
class Layout:
    """A maximal, valid set of GPU instances on one GPU.

    ``slices`` are ordered by placement start. ``index`` is the position in
    :func:`enumerate_layouts` order for that GPU.
    """

    gpu: str
    index: int
    slices: tuple[Placement, ...]
    _compute: tuple[int, ...] = field(default=(), repr=False, compare=False)

    @property
    def profiles(self) -> tuple[str, ...]:
        """Profile names ordered by placement."""
        return tuple(p.profile for p in self.slices)

    @property
    def mix(self) -> tuple[int, ...]:
        """Compute-slice sizes, largest first (the slice mix, e.g. ``(3, 2, 1, 1)``)."""
        return tuple(sorted(self._compute, reverse=True))

    @property
    def name(self) -> str:
        return "+".join(self.profiles)

    @property
    def compute_slices_used(self) -> int:
        return sum(self._compute)

    def as_dict(self) -> dict:
        return {
            "gpu": self.gpu,
            "index": self.index,
            "name": self.name,
            "mix": list(self.mix),
            "slices": [{"profile": p.profile, "start": p.start} for p in self.slices],
        }


def _maximal_placements(spec: GpuSpec) -> list[tuple[tuple[int, MigProfile], ...]]:
    """All maximal non-overlapping placement sets, in a deterministic order."""
    options = [(start, prof) for prof in reversed(spec.profiles) for start in prof.placements]

    def fits(chosen: tuple[tuple[int, MigProfile], ...], start: int, prof: MigProfile) -> bool:
        lo, hi = start, start + prof.memory_slices
        if hi > spec.memory_slices:
            return False
        used_compute = sum(p.compute_slices for _, p in chosen)
        if used_compute + prof.compute_slices > spec.compute_slices:
            return False
        return all(hi <= s or lo >= s + p.memory_slices for s, p in chosen)

    found: list[tuple[tuple[int, MigProfile], ...]] = []
    seen: set[tuple[tuple[int, str], ...]] = set()

    def extend(chosen: tuple[tuple[int, MigProfile], ...]) -> None:
        addable = [(s, p) for s, p in options if fits(chosen, s, p)]
        if not addable:
            key = tuple(sorted((s, p.name) for s, p in chosen))
            if key not in seen:
                seen.add(key)
                found.append(tuple(sorted(chosen, key=lambda sp: sp[0])))
            return
        # branch on the lowest free memory slice to avoid permutations of the same set
        occupied = {i for s, p in chosen for i in range(s, s + p.memory_slices)}
        first_free = min(i for i in range(spec.memory_slices) if i not in occupied)
        at_first = [(s, p) for s, p in addable if s == first_free]
        if not at_first:  # nothing may start at the first free slice: it stays empty
            later = [(s, p) for s, p in addable if s > first_free]
            for s, p in later:
                extend(chosen + ((s, p),))
            return
        for s, p in at_first:
            extend(chosen + ((s, p),))

    extend(())
    return found


@lru_cache(maxsize=None)
def enumerate_layouts(gpu: str) -> tuple[Layout, ...]:
    """Every valid maximal MIG layout of ``gpu``.

    Ordered by slice mix (fewest, largest instances first), then by placement. On the
    A100-40GB the result has 19 layouts and 14 distinct mixes.
    """
    spec = get_gpu(gpu)
    raw = _maximal_placements(spec)
    raw.sort(key=lambda pl: (
        len(pl),
        tuple(-p.compute_slices for _, p in sorted(pl, key=lambda sp: -sp[1].compute_slices)),
        tuple((s, p.compute_slices) for s, p in pl),
    ))
    return tuple(
        Layout(
            gpu=spec.key,
            index=i,
            slices=tuple(Placement(s, p.name) for s, p in pl),
            _compute=tuple(p.compute_slices for _, p in pl),
        )
        for i, pl in enumerate(raw)
    )


def slice_types(gpu: str) -> tuple[str, ...]:
    """Profile names that appear in layouts, smallest first."""
    return tuple(p.name for p in get_gpu(gpu).profiles)


def layout_from_mix(gpu: str, mix: tuple[int, ...] | list[int]) -> Layout:
    """The first layout whose slice mix equals ``mix`` (compute sizes, any order)."""
    want = tuple(sorted((int(m) for m in mix), reverse=True))
    for layout in enumerate_layouts(gpu):
        if layout.mix == want:
            return layout
    raise CloverError(f"no valid {gpu} MIG layout has slice mix {list(want)}")


def layout_by_name(gpu: str, name: str) -> Layout:
    """The layout whose ``name`` (profiles joined by '+', in placement order) matches."""
    for layout in enumerate_layouts(gpu):
        if layout.name == name:
            return layout
    raise CloverError(f"invalid MIG layout {name!r} for {gpu}")


def layouts_json(gpu: str) -> str:
    return json.dumps([lay.as_dict() for lay in enumerate_layouts(gpu)], indent=2)
