"""BASE's reference run on the live service and what the machine must hold (issue 19).

Under a protocol with ``base_gpu_factor`` k (the paper's k = 5), BASE's reference — the run
whose p95 sets the SLA and whose carbon per request is C_base — is BASE on k·N GPUs at the
offered rate R. The original artifact does not deploy k·N GPUs either: "BASE on 2 GPUs at a
1 s inter-arrival stands for 10 GPUs at 0.2 s" (sc23-clover ``system/experiment.py``), i.e.
N instances of the largest variant at R/k, each GPU at the same load as in the k·N-GPU run.
That is ``base_deploy: equivalent`` (the default); ``full`` deploys the k·N instances and
offers R, where the machine holds them.

:func:`check_slots` and :func:`check_memory` refuse, before any replica starts, a live run whose GPUs (GPU slots of
the cluster), cores (CPU backend: one core per emulated GPU at least) or memory (every
replica's weights and activations plus a worker's own footprint) cannot hold BASE's reference
or the largest candidate (every slice a 1g slice with the largest variant that fits it).
"""

from __future__ import annotations

from dataclasses import dataclass

from clover.errors import CloverError

BASE_DEPLOYS = ("equivalent", "full")
#: memory of one replica process besides its model (python, torch, Ray worker), bytes
WORKER_BYTES = 400 * 2**20


@dataclass(frozen=True)
class BaseReference:
    """What is deployed and offered to measure BASE's reference, and how the log states it."""

    configuration: object  # clover.models.configuration.Configuration
    rate_rps: float
    statement: str


def base_reference(problem, mode: str = "equivalent") -> BaseReference:
    """BASE's reference deployment of ``problem`` (see module doc)."""
    if mode not in BASE_DEPLOYS:
        raise CloverError(f"--base-deploy must be one of {', '.join(BASE_DEPLOYS)}, not {mode!r}")
    k = int(getattr(problem.protocol, "base_gpu_factor", 1))
    n, rate = problem.n_gpus, float(problem.rate_rps)
    if k == 1 or mode == "full":
        return BaseReference(problem.base_reference_configuration(), rate,
                             f"BASE measured on {k * n} GPUs at {rate:.4g} req/s")
    return BaseReference(problem.base_configuration(), rate / k,
                         f"BASE measured on {n} GPUs at R/{k} = {rate / k:.4g} req/s (the "
                         f"artifact's equivalence: stands for {k * n} GPUs at {rate:.4g} req/s)")


def replica_bytes(variant: str, batch: int) -> float:
    """Memory of one replica of ``variant`` serving requests of ``batch`` inputs (bytes): the
    worker, fp32 weights, and as much again for activations and the allocator, plus 10 % of
    the weights per further input of a batch (an estimate, not a measurement)."""
    from clover.models.catalog import get_variant

    w = get_variant(variant).params_m * 4e6
    return WORKER_BYTES + w * (2 + 0.1 * (batch - 1))


def largest_candidate_bytes(problem, batch: int) -> float:
    """The most memory a candidate of ``problem`` can take: 7 slices of 1g per GPU (the most
    replicas), each with the largest variant that fits a 1g slice (else the largest overall)."""
    from clover.mig.geometry import get_gpu
    from clover.models.catalog import largest_variant

    spec = get_gpu(problem.gpu)
    small = min(spec.profiles, key=lambda p: p.compute_slices)
    fits = problem.fitting_variants(small.name)
    variant = fits[-1] if fits else largest_variant(problem.app).name
    per_gpu = spec.compute_slices // small.compute_slices
    return per_gpu * problem.n_gpus * replica_bytes(variant, batch)


def check_slots(k: int, n_gpus: int, mode: str, *, gpu_slots: int, backend: str, cpus: int,
                base_variant: str) -> None:
    """Refuse (one line) when the cluster's GPUs, or on CPU the cores (one per emulated GPU),
    cannot hold BASE's reference (N, or k·N GPUs when ``mode`` is ``full``) and the schemes'
    N GPUs. Needs no profile table: the first check of a live run."""
    need = int(k) * int(n_gpus) if mode == "full" else int(n_gpus)
    what = f"BASE's reference ({mode}: {need} x {base_variant})"
    hint = " (use --base-deploy equivalent)" if mode == "full" and k > 1 else ""
    if gpu_slots < need:
        raise CloverError(f"live run: {what} needs {need} GPUs, the cluster has {gpu_slots}"
                          + hint)
    if backend == "cpu" and cpus < need:
        raise CloverError(f"live run: {what} needs {need} CPU cores (one per emulated GPU), "
                          f"the machine has {cpus}" + hint)


def check_memory(problem, mode: str, memory_bytes: float | None, batch: int) -> None:
    """Refuse (one line) when this machine's memory cannot hold BASE's reference or the
    largest candidate's replicas (module doc); None: not known, not checked."""
    from clover.models.catalog import largest_variant

    if memory_bytes is None:
        return
    ref = base_reference(problem, mode)
    need = ref.configuration.n_gpus
    base_b = need * replica_bytes(largest_variant(problem.app).name, batch)
    cand_b = largest_candidate_bytes(problem, batch)
    for label, b in ((f"BASE's reference ({mode}: {need} replicas)", base_b),
                     (f"the largest candidate ({problem.n_gpus} GPUs of 1g slices)", cand_b)):
        if b > memory_bytes:
            raise CloverError(f"live run: {label} needs {b / 2**30:.1f} GiB of memory, "
                              f"{memory_bytes / 2**30:.1f} GiB available")


def available_memory_bytes() -> float | None:
    """Available memory of this machine (bytes; None where psutil cannot say)."""
    try:
        import psutil

        return float(psutil.virtual_memory().available)
    except Exception:  # no psutil, or no /proc
        return None
