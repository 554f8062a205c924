"""MIG planning, pure (no NVML): the operations that turn the instances a GPU has into a wanted
:class:`~clover.mig.geometry.Layout`, their ``nvidia-smi`` commands and NVML call names.

:mod:`clover.mig.manager` applies a plan through NVML; see its docstring for the operations,
the safety rules and the GPU-instance profile ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Mapping, Sequence

from clover.errors import CloverError
from clover.mig.geometry import Layout, enumerate_layouts, get_gpu

#: ``nvidia-smi mig -lgip`` GPU-instance profile ids of the five layout profiles, by compute
#: slices (identical on A100-40/80GB, H100 and H200; NVIDIA MIG user guide, "Supported MIG
#: Profiles").
STANDARD_GI_PROFILE_IDS: dict[int, int] = {1: 19, 2: 14, 3: 9, 4: 5, 7: 0}


@dataclass(frozen=True)
class MigInstance:
    """One existing GPU instance (and its compute instance, if any).

    ``start``/``size`` are in memory slices; ``uuid`` is the MIG device UUID
    (``MIG-...``) to put in ``CUDA_VISIBLE_DEVICES``, empty when no compute instance exists.
    """

    gpu_index: int
    gi_id: int
    profile: str
    start: int
    size: int
    ci_id: int | None = None
    uuid: str = ""

    def as_dict(self) -> dict:
        return {"gpu_index": self.gpu_index, "gi_id": self.gi_id, "profile": self.profile,
                "start": self.start, "size": self.size, "ci_id": self.ci_id, "uuid": self.uuid}


@dataclass(frozen=True)
class GpuState:
    """What NVML reports about one physical GPU."""

    index: int
    name: str
    uuid: str
    gpu: str | None  # catalog key, None when the model is not in clover.mig.geometry
    mig_current: int
    mig_pending: int
    instances: tuple[MigInstance, ...] = ()
    processes: tuple[int, ...] = ()

    @property
    def mig_enabled(self) -> bool:
        return self.mig_current == 1

    def as_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "uuid": self.uuid, "gpu": self.gpu,
                "mig_current": self.mig_current, "mig_pending": self.mig_pending,
                "instances": [i.as_dict() for i in self.instances],
                "processes": list(self.processes)}



class OpKind(str, Enum):
    """The four MIG operations, in the order a plan performs them (destroys, CIs first)."""

    DESTROY_CI = "destroy-ci"
    DESTROY_GI = "destroy-gi"
    CREATE_GI = "create-gi"
    CREATE_CI = "create-ci"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def destroys(self) -> bool:
        return self in (OpKind.DESTROY_CI, OpKind.DESTROY_GI)


#: Sort rank of each operation in a plan: all destroys (CI before GI), then creates.
_RANK = {OpKind.DESTROY_CI: 0, OpKind.DESTROY_GI: 1, OpKind.CREATE_GI: 2, OpKind.CREATE_CI: 2}


def _command_destroy_ci(op: "Op") -> str:
    gi = "" if op.gi_id is None else f" -gi {op.gi_id}"
    ci = "" if op.ci_id is None else f" -ci {op.ci_id}"
    return f"nvidia-smi mig -i {op.gpu_index}{gi}{ci} -dci"


def _command_destroy_gi(op: "Op") -> str:
    gi = "" if op.gi_id is None else f" -gi {op.gi_id}"
    return f"nvidia-smi mig -i {op.gpu_index}{gi} -dgi"


#: The equivalent ``nvidia-smi`` command of each operation (``-C`` on ``-cgi`` also creates the
#: default, full-size compute instance, i.e. the create-ci op).
_COMMAND = {
    OpKind.DESTROY_CI: _command_destroy_ci,
    OpKind.DESTROY_GI: _command_destroy_gi,
    OpKind.CREATE_GI: lambda op: f"nvidia-smi mig -i {op.gpu_index} -cgi {op.gi_profile_id}:{op.start} -C",
    OpKind.CREATE_CI: lambda op: f"# (compute instance of {op.profile}@{op.start} created by -C above)",
}

#: The NVML call that performs each operation on named instances.
_NVML_CALL = {
    OpKind.DESTROY_CI: lambda op: f"nvmlComputeInstanceDestroy(gi={op.gi_id}, ci={op.ci_id})",
    OpKind.DESTROY_GI: lambda op: f"nvmlGpuInstanceDestroy(gi={op.gi_id})",
    OpKind.CREATE_GI: lambda op: (f"nvmlDeviceCreateGpuInstanceWithPlacement(gpu={op.gpu_index}, "
                                  f"profile={op.profile} (id {op.gi_profile_id}), start={op.start})"),
    OpKind.CREATE_CI: lambda op: (f"nvmlGpuInstanceCreateComputeInstance({op.profile}@{op.start}, "
                                  f"full-size compute profile)"),
}


@dataclass(frozen=True)
class Op:
    """One MIG operation on one GPU.

    ``action`` is an :class:`OpKind` (a plain string such as ``"destroy-ci"`` is converted).
    ``start`` is the placement in memory slices; ``gi_id``/``ci_id`` name existing instances
    (destroy) or are None for instances not yet created. ``gi_profile_id`` is the
    NVML/nvidia-smi id.
    """

    action: OpKind
    gpu_index: int
    profile: str
    start: int
    gi_profile_id: int
    gi_id: int | None = None
    ci_id: int | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "action", OpKind(self.action))
        except ValueError:
            raise CloverError(f"unknown MIG operation {self.action!r}") from None

    def command(self) -> str:
        """The equivalent ``nvidia-smi`` command."""
        return _COMMAND[self.action](self)

    def nvml_call(self) -> str:
        """The NVML call that performs the operation."""
        if self.gi_id is None and self.action.destroys:
            what = "compute" if self.action is OpKind.DESTROY_CI else "GPU"
            fn = "nvmlComputeInstanceDestroy" if self.action is OpKind.DESTROY_CI else "nvmlGpuInstanceDestroy"
            return f"{fn}(every {what} instance of GPU {self.gpu_index})"
        return _NVML_CALL[self.action](self)

    def describe(self) -> str:
        if self.profile == "*":
            return f"GPU {self.gpu_index}: {self.action:<10} all"
        return f"GPU {self.gpu_index}: {self.action:<10} {self.profile}@{self.start}"

    def as_dict(self) -> dict:
        return {"action": self.action.value, "gpu_index": self.gpu_index, "profile": self.profile,
                "start": self.start, "gi_profile_id": self.gi_profile_id, "gi_id": self.gi_id,
                "ci_id": self.ci_id, "nvml": self.nvml_call(), "command": self.command()}



def layout_for_profiles(gpu: str, profiles: Sequence[str],
                        current: Iterable[MigInstance] = ()) -> Layout:
    """The valid layout of ``gpu`` with exactly these profiles (any order).

    Among layouts with the same profile multiset (e.g. 3g+2g+1g+1g has several placements), the
    one with the given placement order wins, else the one that keeps the most of ``current``.
    """
    want = sorted(profiles)
    matches = [lay for lay in enumerate_layouts(gpu) if sorted(lay.profiles) == want]
    if not matches:
        raise CloverError(f"invalid MIG layout {'+'.join(profiles)} for {gpu}")
    keep = {(m.start, m.profile) for m in current}

    def score(lay: Layout) -> tuple[int, int, int]:
        kept = sum((p.start, p.profile) in keep for p in lay.slices)
        same_order = int(tuple(profiles) == lay.profiles)
        return (kept, same_order, -lay.index)

    return max(matches, key=score)


def layouts_of(target: Any, current: Mapping[int, Sequence[MigInstance]] | None = None
               ) -> dict[int, Layout]:
    """Normalise a target to ``{gpu index: Layout}``.

    ``target`` is a Configuration (GPU i of the configuration -> physical GPU i), a mapping
    ``{gpu index: Layout}``, or a sequence of Layouts (GPU 0, 1, ...).
    """
    current = current or {}
    if hasattr(target, "gpus") and hasattr(target, "gpu"):  # a Configuration
        return {i: layout_for_profiles(target.gpu, g.layout, current.get(i, ()))
                for i, g in enumerate(target.gpus)}
    if isinstance(target, Layout):
        return {0: target}
    if isinstance(target, Mapping):
        out = dict(target)
    else:
        out = dict(enumerate(target))
    for i, lay in out.items():
        if not isinstance(lay, Layout):
            raise CloverError(f"GPU {i}: expected a clover.mig.geometry.Layout, got {lay!r}")
    return out


def _gi_profile_id(gpu: str, profile: str, ids: Mapping[str, int] | None = None) -> int:
    if ids and profile in ids:
        return ids[profile]
    return STANDARD_GI_PROFILE_IDS[get_gpu(gpu).profile(profile).compute_slices]


def plan_operations(target: Any,
                    current: Mapping[int, Sequence[MigInstance]] | None = None,
                    profile_ids: Mapping[str, int] | None = None) -> list["Op"]:
    """The operations that turn ``current`` instances into ``target`` layouts.

    ``current`` maps GPU index -> existing instances (from :meth:`MigManager.status`). When
    it is None (planning without NVML), every GPU is assumed to hold unknown instances, and
    the plan starts by destroying all compute and GPU instances on it (``-dci``, ``-dgi``).
    Kept instances produce no operation. Order: all destroys (CIs before GIs), then creates
    by placement start.
    """
    layouts = layouts_of(target, current)
    ops: list[Op] = []
    for gi, layout in sorted(layouts.items()):
        gpu = layout.gpu
        wanted = {(p.start, p.profile) for p in layout.slices}
        if current is None:
            ops.append(Op(OpKind.DESTROY_CI, gi, "*", -1, -1))
            ops.append(Op(OpKind.DESTROY_GI, gi, "*", -1, -1))
            have: set[tuple[int, str]] = set()
        else:
            have = set()
            existing = sorted(current.get(gi, ()), key=lambda m: m.start)
            doomed = [m for m in existing
                      if (m.start, m.profile) not in wanted or m.ci_id is None]
            for m in existing:
                if m not in doomed:
                    have.add((m.start, m.profile))
            pid = lambda m: _gi_profile_id(gpu, m.profile, profile_ids) if m.profile in {  # noqa: E731
                p.name for p in get_gpu(gpu).profiles} else -1
            for m in doomed:
                if m.ci_id is not None:
                    ops.append(Op(OpKind.DESTROY_CI, gi, m.profile, m.start, pid(m), m.gi_id, m.ci_id))
            for m in doomed:
                ops.append(Op(OpKind.DESTROY_GI, gi, m.profile, m.start, pid(m), m.gi_id))
        for p in layout.slices:
            if (p.start, p.profile) in have:
                continue
            prof_id = _gi_profile_id(gpu, p.profile, profile_ids)
            ops.append(Op(OpKind.CREATE_GI, gi, p.profile, p.start, prof_id))
            ops.append(Op(OpKind.CREATE_CI, gi, p.profile, p.start, prof_id))
    # destroys first (CI before GI) across GPUs, then creates, each group in GPU order
    return sorted(ops, key=lambda o: (_RANK[o.action], o.gpu_index, o.start if o.start >= 0 else -1,
                                      o.action is not OpKind.CREATE_GI))


def format_plan(ops: Sequence[Op]) -> str:
    """Human-readable plan: one line per op with its NVML call and nvidia-smi command."""
    if not ops:
        return "nothing to do: every GPU already has the wanted layout"
    lines = []
    for op in ops:
        lines.append(f"{op.describe():<34} {op.nvml_call()}")
        if op.action is not OpKind.CREATE_CI:
            lines.append(f"{'':<34} $ {op.command()}")
    return "\n".join(lines)




def gpu_key_from_name(name: str) -> str | None:
    """Map an NVML product name to a clover.mig.geometry key (None when unknown)."""
    n = name.upper()
    if "A100" in n:
        return "a100-80gb" if "80GB" in n else "a100-40gb"
    if "H200" in n:
        return "h200"
    if "H100" in n:
        return "h100-80gb"
    return None
