"""The cluster file of the live service and the placement of instances on nodes and slices.

One YAML file is all a cluster user writes (see ``docs/live.md``)::

    backend: cuda              # cuda (MIG slices) or cpu (core shares)
    gpu: a100-40gb             # clover.mig.geometry key of every GPU
    ray_address: auto          # join the cluster started with `ray start`; null: local Ray
    http: {host: 127.0.0.1, port: 8000}   # a non-loopback host needs expose: true
    expose: false              # true: bind HTTP (and a local Ray) beyond loopback
    limits: {max_body_bytes: 8388608, max_pending: 1024}   # clover.serve.safety.IngressLimits
    mig_apply: false           # true: the per-node agents may create/destroy MIG instances
    nodes:
      - name: node1
        address: 10.0.0.11     # the node IP Ray reports (`ray status`, node:<ip> resource)
        gpus: [0, 1]           # physical GPU indices the service may use
        mig: auto              # read MIG UUIDs via NVML on the node, or a map per GPU:
                               # {0: {"3g.20gb@0": "MIG-...", "3g.20gb@4": "MIG-..."}}

GPU *i* of a :class:`~clover.models.configuration.Configuration` is the *i*-th GPU in node
order. In CPU mode each "GPU" is emulated by ``cores_per_gpu`` cores of the local node and a
slice gets a share of them proportional to its compute slices (at least one thread).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import jsonschema

from clover.errors import CloverError
from clover.mig.geometry import DEFAULT_GPU, get_gpu
from clover.mig.manager import MigInstance, layout_for_profiles
from clover.models.catalog import get_variant, scaled_input_size as models_scaled_input_size
from clover.models.configuration import Configuration
from clover.schemas import field_path, load_schema, load_yaml, missing_property
from clover.serve.safety import FieldError, IngressLimits, check_http_host

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class NodeSpec:
    """One Ray node of the service."""

    name: str
    address: str  # node IP as Ray reports it; "local" = the node this driver runs on
    gpus: tuple[int, ...]
    mig: Any = "auto"  # "auto" or {gpu index: {"profile@start": uuid}}


@dataclass(frozen=True)
class ClusterSpec:
    """Where the service runs and how its slices are bound."""

    backend: str
    gpu: str
    nodes: tuple[NodeSpec, ...]
    ray_address: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    mig_apply: bool = False
    cores_per_gpu: int = 0  # cpu backend: cores emulating one GPU (0: all cores / GPUs)
    source: str = "<built-in>"
    expose: bool = False  # opt-in: HTTP and a local Ray may listen beyond loopback
    limits: IngressLimits = field(default_factory=IngressLimits)

    @property
    def gpu_slots(self) -> list[tuple[NodeSpec, int]]:
        """(node, physical GPU index) for configuration GPU 0, 1, ... in node order."""
        return [(n, g) for n in self.nodes for g in n.gpus]

    @property
    def n_gpus(self) -> int:
        return len(self.gpu_slots)

    @property
    def url(self) -> str:
        """Where clients on this machine reach the ingress (loopback even when bound to all)."""
        host = {"::1": "[::1]", "::": "[::1]", "0.0.0.0": "127.0.0.1", "": "127.0.0.1"}.get(
            self.http_host, self.http_host)
        return f"http://{host}:{self.http_port}"


def local_cluster(backend: str = "cpu", n_gpus: int = 1, gpu: str = DEFAULT_GPU,
                  cores_per_gpu: int = 0, http_port: int = 8000, mig_apply: bool = False
                  ) -> ClusterSpec:
    """A one-node cluster on this machine (a laptop, or one GPU node without a cluster file)."""
    if backend not in ("cpu", "cuda"):
        raise CloverError(f"unknown backend {backend!r} (cpu or cuda)")
    if n_gpus < 1:
        raise CloverError(f"--gpus must be at least 1 (got {n_gpus})")
    return ClusterSpec(backend, get_gpu(gpu).key,
                       (NodeSpec("local", "local", tuple(range(n_gpus)), "auto"),),
                       None, "127.0.0.1", http_port, mig_apply, cores_per_gpu)


CLUSTER_SCHEMA = "cluster.schema.yaml"  #: package data of clover.serve

#: What each structural field must be, as the one-line error says it.
_FIELD_RULES = {
    "backend": "must be cpu or cuda, not {value!r}",
    "http": "must be a mapping with host and port",
    "http.port": "must be a TCP port number, not {value!r}",
    "expose": "must be true or false, not {value!r}",
    "nodes": "must be a non-empty list of nodes",
    "node": "must be a mapping with name, address, gpus",
    "node.gpus": "must be a non-empty list of distinct GPU indices",
    "node.address": "is missing (the node IP Ray reports)",
    "cores_per_gpu": "must be a non-negative integer",
}
#: The order the fields are reported in when a file breaks several rules.
_FIELD_ORDER = ("backend", "gpu", "http", "expose", "nodes", "cores_per_gpu")


def _schema_problem(data: dict) -> tuple[str, str] | None:
    """``(field, why)`` for the first way ``data`` breaks ``cluster.schema.yaml``, else None."""
    schema = load_schema("clover.serve", CLUSTER_SCHEMA)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if not errors:
        return None

    def rank(e) -> tuple[int, int]:
        where = field_path(e)
        top = where[0] if where else ("nodes" if e.validator == "required" else "")
        return (_FIELD_ORDER.index(top) if top in _FIELD_ORDER else -1, len(where))

    error = min(errors, key=rank)
    where = field_path(error)
    if not where and error.validator == "additionalProperties":
        known = sorted(schema["properties"])
        extra = sorted(set(data) - set(known))[0]
        return extra, f"is not a known field (known: {', '.join(known)})"
    if not where:  # nodes missing
        return "nodes", _FIELD_RULES["nodes"]
    if where[0] == "nodes" and len(where) >= 2:
        node = f"nodes[{where[1]}]"
        if len(where) == 2 and error.validator == "required":
            key = missing_property(error)
            return f"{node}.{key}", _FIELD_RULES[f"node.{key}"]
        if len(where) == 2:
            return node, _FIELD_RULES["node"]
        return f"{node}.gpus", _FIELD_RULES["node.gpus"]
    name = ".".join(where[:2])
    return name, _FIELD_RULES[name].format(value=error.instance)


def load_cluster(path: str | os.PathLike[str]) -> ClusterSpec:
    """Read and validate a cluster YAML file; errors name the file and field."""
    import yaml

    from clover.paths import read_text

    path = Path(path)
    text = read_text(path, "cluster file")  # size-capped, one line when unreadable
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        from clover.config import yaml_file_error_text

        raise CloverError(yaml_file_error_text(path, exc, "cluster")) from None
    if not isinstance(data, dict):
        raise CloverError(f"cluster file {path}: expected a mapping at the top level")

    def bad(field_: str, why: str) -> CloverError:
        return CloverError(f"cluster file {path}: field '{field_}' {why}")

    # a falsy http (``http:`` or ``http: {}``) means the defaults
    data = {**data, "http": data.get("http") or {}}
    problem = _schema_problem(data)
    if problem is not None:
        raise bad(*problem)
    backend = data.get("backend", "cuda")
    try:
        gpu = get_gpu(data.get("gpu", DEFAULT_GPU)).key
    except CloverError as exc:
        raise bad("gpu", exc.message) from None
    http = data["http"]
    expose = data.get("expose", False)
    try:
        host = check_http_host(http.get("host", "127.0.0.1"), expose, "http.host")
        limits = IngressLimits.from_mapping(data.get("limits"), "limits")
    except FieldError as exc:
        raise bad(exc.field, exc.why) from None
    port = http.get("port", 8000)
    nodes_raw = data.get("nodes")
    nodes = []
    for k, n in enumerate(nodes_raw):
        where = f"nodes[{k}]"
        gpus = n["gpus"]
        mig = n.get("mig", "auto")
        if mig != "auto":
            if not isinstance(mig, dict) or not set(mig) <= set(gpus):
                raise bad(f"{where}.mig", "must be 'auto' or a map {gpu index: {profile@start: uuid}} "
                                          "over the node's gpus")
            for g, m in mig.items():
                if not isinstance(m, dict) or not all(
                        re.fullmatch(r"\dg\.\d+gb@\d", str(s)) and str(u).startswith("MIG-")
                        for s, u in m.items()):
                    raise bad(f"{where}.mig.{g}", "must map 'profile@start' to a 'MIG-...' UUID")
        nodes.append(NodeSpec(str(n.get("name", f"node{k}")), str(n["address"]), tuple(gpus), mig))
    cores = data.get("cores_per_gpu", 0)
    ray_address = data.get("ray_address")
    if str(ray_address or "").startswith("ray://"):  # the ingress runs on the driver's node
        raise bad("ray_address", "is a Ray Client address (ray://): run clover on a node of "
                                 "the cluster, with ray_address auto or HOST:PORT")
    return ClusterSpec(backend, gpu, tuple(nodes), None if ray_address in (None, "") else str(ray_address),
                       host, port, bool(data.get("mig_apply", False)), cores, str(path), expose,
                       limits)


# ------------------------------------------------------------------- instances

@dataclass(frozen=True)
class InstanceSpec:
    """One serving instance: a variant on a slice, as the replica needs it."""

    instance_id: str
    slot: int  # configuration GPU index
    node: str
    node_address: str
    gpu_index: int  # physical GPU on the node
    profile: str
    start: int
    variant: str
    device: str = "cpu"  # "cpu" or a MIG device UUID
    threads: int = 1
    cores: tuple[int, ...] = ()
    input_size: int | None = None  # None: the variant's native size
    input_scale: float = 1.0
    app: str = ""  # the worker (Serve application) serving it (clover.serve.pool); "" = its own

    @property
    def key(self) -> tuple[int, int, str, str]:
        return (self.slot, self.start, self.profile, self.variant)

    @property
    def app_name(self) -> str:
        return self.app or f"clover-{self.instance_id}"

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["cores"] = list(self.cores)
        return d


def instance_id(slot: int, profile: str, start: int, variant: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"g{slot}-{profile}-s{start}-{variant}")


def scaled_input_size(variant: str, scale: float) -> int | None:
    """The input size at ``scale`` of the native one (None at 1.0), by
    :func:`clover.models.catalog.scaled_input_size` (images: px, min 32; ALBERT: tokens, min 16)."""
    if scale == 1.0:
        return None
    if not 0 < scale <= 1:
        raise CloverError(f"--input-scale must be in (0, 1], got {scale}")
    return models_scaled_input_size(variant, scale)


def cpu_share(slot: int, start: int, compute_slices: int, cores_per_gpu: int, n_cpus: int
              ) -> tuple[int, tuple[int, ...]]:
    """Threads and cores for a slice in CPU mode.

    GPU ``slot`` is emulated by ``cores_per_gpu`` cores ``slot*cpg ... (mod n_cpus)``; a slice
    gets ``max(1, round(cpg * compute/7))`` threads on the cores at its memory-slice offset.
    """
    cpg = max(1, cores_per_gpu)
    threads = max(1, int(round(cpg * compute_slices / 7.0)))
    gpu_cores = [(slot * cpg + k) % n_cpus for k in range(cpg)]
    first = int(start * cpg / 8)
    cores = tuple(sorted({gpu_cores[(first + k) % cpg] for k in range(threads)}))
    return threads, cores


def plan_instances(config: Configuration, cluster: ClusterSpec,
                   current: Sequence[InstanceSpec] = (),
                   mig_current: Mapping[int, Sequence[MigInstance]] | None = None,
                   uuids: Mapping[int, Mapping[tuple[int, str], str]] | None = None,
                   input_scale: float = 1.0, n_cpus: int | None = None) -> list[InstanceSpec]:
    """Every instance of ``config`` placed on the cluster.

    Layout placements are chosen to keep current MIG instances, and variants are assigned to
    placements so that instances that exist with the same variant stay where they are.
    ``uuids`` maps slot -> (start, profile) -> MIG UUID (cuda backend; filled after the MIG
    change when unknown).
    """
    if config.gpu != cluster.gpu:
        raise CloverError(f"configuration is for {config.gpu} but the cluster has {cluster.gpu}")
    slots = cluster.gpu_slots
    if config.n_gpus > len(slots):
        raise CloverError(f"configuration needs {config.n_gpus} GPUs; the cluster has {len(slots)}")
    spec = get_gpu(config.gpu)
    n_cpus = n_cpus or os.cpu_count() or 1
    cpg = cluster.cores_per_gpu or max(1, n_cpus // max(1, config.n_gpus))
    mig_current = mig_current or {}
    cur_by_slot: dict[int, list[InstanceSpec]] = {}
    for inst in current:
        cur_by_slot.setdefault(inst.slot, []).append(inst)
    out: list[InstanceSpec] = []
    for slot, assign in enumerate(config.gpus):
        node, gpu_index = slots[slot]
        existing = list(mig_current.get(slot, ()))
        existing += [MigInstance(gpu_index, -1, c.profile, c.start, 0, 0) for c in cur_by_slot.get(slot, [])]
        layout = layout_for_profiles(config.gpu, assign.layout, existing)
        # variants per profile, and placements per profile
        free: dict[str, list[int]] = {}
        for p in layout.slices:
            free.setdefault(p.profile, []).append(p.start)
        todo: dict[str, list[str]] = {}
        for prof, var in zip(assign.layout, assign.variants):
            todo.setdefault(prof, []).append(var)
        chosen: list[tuple[int, str, str]] = []
        for c in sorted(cur_by_slot.get(slot, []), key=lambda c: c.start):  # keep what exists
            if c.profile in todo and c.variant in todo[c.profile] and c.start in free.get(c.profile, []):
                todo[c.profile].remove(c.variant)
                free[c.profile].remove(c.start)
                chosen.append((c.start, c.profile, c.variant))
        for prof, variants in todo.items():
            for var, start in zip(sorted(variants, key=lambda v: (-get_variant(v).rank, v)),
                                  sorted(free[prof])):
                chosen.append((start, prof, var))
        for start, prof, var in sorted(chosen):
            compute = spec.profile(prof).compute_slices
            if cluster.backend == "cpu":
                threads, cores = cpu_share(slot, start, compute, cpg, n_cpus)
                device = "cpu"
            else:
                threads, cores = 0, ()
                device = (uuids or {}).get(slot, {}).get((start, prof), "")
            out.append(InstanceSpec(instance_id(slot, prof, start, var), slot, node.name,
                                    node.address, gpu_index, prof, start, var, device, threads,
                                    cores, scaled_input_size(var, input_scale), input_scale))
    return out


def with_devices(instances: Sequence[InstanceSpec],
                 uuids: Mapping[int, Mapping[tuple[int, str], str]]) -> list[InstanceSpec]:
    """Fill in MIG UUIDs (cuda backend); a clear error when a slice has no MIG device."""
    out = []
    for inst in instances:
        if inst.device == "cpu":
            out.append(inst)
            continue
        uuid = uuids.get(inst.slot, {}).get((inst.start, inst.profile), "")
        if not uuid:
            raise CloverError(f"GPU {inst.gpu_index} on node {inst.node}: no MIG device "
                              f"{inst.profile}@{inst.start} (create the layout first, or set "
                              "mig_apply: true in the cluster file)")
        out.append(replace(inst, device=uuid))
    return out


@dataclass
class Diff:
    """Instances to keep, stop and start when moving between two instance sets."""

    keep: list[InstanceSpec] = field(default_factory=list)
    stop: list[InstanceSpec] = field(default_factory=list)
    start: list[InstanceSpec] = field(default_factory=list)

    @property
    def slots_changed(self) -> set[int]:
        return {i.slot for i in self.stop} | {i.slot for i in self.start}


def diff_instances(old: Sequence[InstanceSpec], new: Sequence[InstanceSpec]) -> Diff:
    """Keep instances whose (slot, start, profile, variant) and binding are unchanged (a kept
    instance keeps its worker, ``app``)."""
    def ident(i: InstanceSpec):
        return (i.key, i.device, i.threads, i.cores, i.input_size)

    old_by = {ident(i): i for i in old}
    new_by = {ident(i): i for i in new}
    return Diff(keep=[replace(new_by[k], app=old_by[k].app) for k in new_by if k in old_by],
                stop=[old_by[k] for k in old_by if k not in new_by],
                start=[new_by[k] for k in new_by if k not in old_by])


def slots_relaid(old: Sequence[InstanceSpec], new: Sequence[InstanceSpec]) -> set[int]:
    """GPU slots whose set of (start, profile) placements differs from ``old`` to ``new`` (a
    slot that only swaps variants keeps its layout)."""
    def layouts(instances):
        out: dict[int, set] = {}
        for i in instances:
            out.setdefault(i.slot, set()).add((i.start, i.profile))
        return out

    a, b = layouts(old), layouts(new)
    return {slot for slot in set(a) | set(b) if a.get(slot) != b.get(slot)}


def layouts_changed(old: Sequence[InstanceSpec], new: Sequence[InstanceSpec]) -> int:
    """Number of GPU slots whose layout differs (:func:`slots_relaid`)."""
    return len(slots_relaid(old, new))
