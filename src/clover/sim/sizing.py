"""How a protocol sizes its problem (docs/simulator.md, "Protocols"): the offered rate, the SLA,
A_base and C_base under a :class:`clover.sim.protocol.ProtocolSettings` (its
:meth:`~clover.sim.protocol.ProtocolSettings.build_problem`).

Apart from :mod:`clover.sim.protocol` so that the protocol object, which every ``Problem``
holds, does not import the problem it sizes (no two modules import each other).
"""

from __future__ import annotations

from dataclasses import replace

from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.catalog import largest_variant
from clover.sim.problem import Problem, build_types, carbon_g
from clover.sim.queueing import sojourn_quantile


def size_problem(settings, app: str, gpu: str, n_gpus: int, profiles, lam: float,
                 **problem_kwargs) -> Problem:
    """:class:`clover.sim.Problem` sized under ``settings`` (a protocol object).

    The extended case (k = 1, optimal dispatch, batch 1) is exactly ``Problem.build`` (the
    caller's ``load_fraction`` and the rest apply). Otherwise: the profile rows at the app's
    request batch; R = ``base_utilisation`` × k·N × μ_BASE (μ_BASE: requests/s of the largest
    variant on a whole GPU); the SLA, A_base and C_base are BASE's on k·N GPUs at R — from
    the protocol's evaluator (the FCFS window of ``base_requests`` requests under ``dispatch:
    fcfs``) when it judges the SLA by a window, from the closed form otherwise.
    """
    kw = dict(problem_kwargs)
    if settings.sizes_like_extended(app):
        return replace(Problem.build(app, gpu, n_gpus, profiles, lam=lam, **kw),
                       protocol=settings)
    for key in ("load_fraction", "rate_rps", "sla_factor"):
        kw.pop(key, None)  # the protocol sizes the load and the SLA
    spec = get_gpu(gpu)
    n = int(n_gpus)
    if n < 1:
        raise CloverError(f"n_gpus must be >= 1 (got {n_gpus})")
    b = settings.batch(app)
    k = settings.base_gpu_factor
    raw = build_types(profiles, app, spec.key, None, b)
    bi = raw.index(largest_variant(app).name, spec.full_profile.name)
    if not raw.fits[bi]:
        raise CloverError(f"BASE variant {largest_variant(app).name} does not fit a whole "
                          f"{spec.key} at batch {b}")
    rate = float(settings.base_utilisation) * k * n * float(raw.mu_rps[bi])
    if rate >= raw.mu_rps[bi] * n:
        raise CloverError(f"base_utilisation {settings.base_utilisation} x base_gpu_factor {k} "
                          ">= 1: the schemes' N GPUs cannot carry BASE's load")
    sla_in = kw.pop("sla_ms", None)
    draft = Problem.build(app, spec.key, n, profiles, lam=lam, rate_rps=rate,
                          sla_ms=sla_in if sla_in is not None else 1.0, batch_size=b, **kw)
    draft = replace(draft, protocol=settings)
    if settings.sla_by_window:
        w = settings.evaluator(draft).window(draft.base_reference_configuration())
        base_p95, base_energy = w.p95_ms, w.energy_j_per_request
    else:
        base_p95 = float(sojourn_quantile(rate / (k * n), raw.d_ms[bi], raw.beta_ms[bi]))
        base_energy = (spec.idle_power_w * k * n + rate * raw.dyn_j[bi]) / rate
    sla = base_p95 if sla_in is None else float(sla_in)
    out = Problem.build(app, spec.key, n, profiles, lam=lam, rate_rps=rate, sla_ms=sla,
                        batch_size=b, **kw)
    return replace(out, protocol=settings, base_energy_j=float(base_energy),
                   base_carbon_g=float(carbon_g(base_energy, out.ci_ref, out.pue)),
                   sla_factor=float(sla / base_p95))
