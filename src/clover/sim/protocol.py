"""The two experiment protocols and their knobs (issue 10; docs/simulator.md, "Protocols").

``paper`` is the original artifact's experiment (``boringlee24/sc23-clover``):

* ``base_gpu_factor`` k = 5: BASE serves the rate R on k·N GPUs ("BASE on 2 GPUs at a 1 s
  inter-arrival stands for 10 GPUs at 0.2 s", ``system/experiment.py``), every other scheme
  serves R on N GPUs; the SLA, A_base and C_base are BASE's at that load.
* ``space = "replicated"``: one single-GPU assignment (a partition code of
  ``partition_code.json`` and a variant per slot) deployed on every GPU.
* ``dispatch = "fcfs"``: one FCFS request queue, each request to the instance idle longest
  (``system/generator.py``), evaluated by an event simulation of 1,000 requests per candidate
  and 2,000 for BASE (``req_limit``), exponential inter-arrivals.
* ``request_batch``: a vision request carries 8 images (``generator.py``:
  ``random.sample(input_list, 8)``), an ALBERT request one question.
* ``lam = 0.1`` (``run.py --Lambda`` default).
* ``accounting = "artifact"``: the hour as ``system/run.py`` accounts it — each new online
  evaluation serves 30 s, a history hit 0 s, the final configuration the rest; reconfigurations
  cost no downtime (``extended``: ``modeled``, priced by :mod:`clover.control.accounting`).
* ``base_utilisation`` = 0.15: BASE's utilisation at its own load (a stated choice of this
  project; the artifact fixes inter-arrival times, not utilisations), so R = 0.15·k·N·μ_BASE
  is 0.75 of BASE's capacity on the schemes' N GPUs.

``extended`` is this project's generalisation (k = 1, a layout per GPU, objective-optimal
routing, batch 1, λ = 0.5, BASE at 60 % utilisation).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Mapping

from clover.errors import CloverError
from clover.names import PROTOCOL_NAMES

PROTOCOLS = PROTOCOL_NAMES  # the light registry (clover.names)
SPACES = ("replicated", "per-gpu")
DISPATCHES = ("fcfs", "optimal")
ACCOUNTINGS = ("artifact", "modeled")

#: requests per request of each app under ``paper`` (sc23-clover ``system/generator.py``)
PAPER_REQUEST_BATCH = {"yolo": 8, "efficientnet": 8, "albert": 1}
#: requests per candidate evaluation and for BASE (sc23-clover ``req_limit``)
EVAL_REQUESTS = 1000
BASE_REQUESTS = 2000


@dataclass(frozen=True)
class ProtocolSettings:
    """Every knob of a protocol. ``request_batch`` maps app -> images (or questions) per
    request; ``lam`` is the preset's λ (None: leave the caller's); ``base_utilisation`` is
    BASE's utilisation at its own load (k·N GPUs), which fixes the offered rate R."""

    name: str
    base_gpu_factor: int
    space: str
    dispatch: str
    request_batch: Mapping[str, int]
    lam: float | None
    base_utilisation: float
    eval_requests: int = EVAL_REQUESTS
    base_requests: int = BASE_REQUESTS
    #: N when the caller gives none: the artifact's node (2 GPUs) or this project's 10
    default_gpus: int = 10
    #: hourly accounting: ``artifact`` = sc23-clover ``system/run.py`` (each new online
    #: evaluation serves 30 s, a history hit 0 s, the final configuration the rest; no
    #: reconfiguration downtime), ``modeled`` = this project's (MIG re-partition and model-load
    #: downtime priced by clover.control.accounting)
    accounting: str = "modeled"

    @property
    def default_lam(self) -> float:
        """λ when the caller gives none: the preset's (paper 0.1), else 0.5."""
        return self.lam if self.lam is not None else 0.5

    def batch(self, app: str) -> int:
        """Request batch of ``app`` (1 when the map does not name it)."""
        return int(self.request_batch.get(app, 1))

    @property
    def is_paper_like(self) -> bool:
        """True when anything differs from today's (extended) evaluation path."""
        return self.dispatch == "fcfs" or self.space == "replicated" or self.base_gpu_factor != 1

    def columns(self, app: str) -> dict:
        """The run-log columns this protocol adds."""
        return {"protocol": self.name, "space": self.space, "dispatch": self.dispatch,
                "base_gpu_factor": self.base_gpu_factor, "request_batch": self.batch(app)}


PRESETS = {
    "paper": ProtocolSettings("paper", 5, "replicated", "fcfs", dict(PAPER_REQUEST_BATCH), 0.1,
                              0.15, default_gpus=2, accounting="artifact"),
    "extended": ProtocolSettings("extended", 1, "per-gpu", "optimal",
                                 {"yolo": 1, "efficientnet": 1, "albert": 1}, None, 0.6),
}

_KNOBS = {f.name for f in fields(ProtocolSettings)} - {"name"}


def _request_batch(value) -> dict[str, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = {app: value for app in PAPER_REQUEST_BATCH}
    if not isinstance(value, Mapping):
        raise CloverError(f"request_batch must be an integer or app -> integer map (got {value!r})")
    out = {}
    for app, b in value.items():
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise CloverError(f"request_batch.{app} must be an integer >= 1 (got {b!r})")
        out[str(app)] = int(b)
    return out


def protocol_settings(name: str = "extended", **overrides) -> ProtocolSettings:
    """The preset ``name`` with each knob in ``overrides`` (None = the preset's) replaced.

    Raises CloverError (one line) for an unknown protocol, space or dispatch, k < 1, a bad
    request batch or a utilisation outside (0, 1).
    """
    if name not in PRESETS:
        raise CloverError(f"unknown protocol {name!r} (known: {', '.join(PROTOCOLS)})")
    unknown = set(overrides) - _KNOBS
    if unknown:
        raise CloverError(f"unknown protocol knob(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(_KNOBS))})")
    base = PRESETS[name]
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "request_batch" in changes:
        merged = dict(base.request_batch)
        merged.update(_request_batch(changes["request_batch"]))
        changes["request_batch"] = merged
    s = replace(base, **changes)
    if s.space not in SPACES:
        raise CloverError(f"unknown space {s.space!r} (known: {', '.join(SPACES)})")
    if s.dispatch not in DISPATCHES:
        raise CloverError(f"unknown dispatch {s.dispatch!r} (known: {', '.join(DISPATCHES)})")
    if s.accounting not in ACCOUNTINGS:
        raise CloverError(f"unknown accounting {s.accounting!r} (known: {', '.join(ACCOUNTINGS)})")
    k = s.base_gpu_factor
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        if isinstance(k, float) and k.is_integer() and k >= 1:
            s = replace(s, base_gpu_factor=int(k))
        else:
            raise CloverError(f"base_gpu_factor must be an integer >= 1 (got {k!r})")
    if not 0.0 < float(s.base_utilisation) < 1.0:
        raise CloverError(f"base_utilisation must be in (0, 1) (got {s.base_utilisation!r})")
    if s.lam is not None and not 0.0 <= float(s.lam) <= 1.0:
        raise CloverError(f"lam must be in [0, 1] (got {s.lam!r})")
    for key in ("eval_requests", "base_requests"):
        if int(getattr(s, key)) < 20:
            raise CloverError(f"{key} must be >= 20 (got {getattr(s, key)!r})")
    return s


def build_problem(app: str, gpu: str, n_gpus: int, profiles, settings: ProtocolSettings,
                  lam: float | None = None, **problem_kwargs):
    """:class:`clover.sim.Problem` sized under ``settings``.

    ``extended`` (k = 1, optimal dispatch, batch 1) is exactly ``Problem.build`` (the caller's
    ``load_fraction`` and the rest apply). Otherwise: the profile rows at the app's request
    batch; R = ``base_utilisation`` × k·N × μ_BASE (μ_BASE: requests/s of the largest variant
    on a whole GPU); the SLA, A_base and C_base are BASE's on k·N GPUs at R — from the FCFS
    window of ``base_requests`` requests under ``dispatch: fcfs``, from the closed form under
    ``dispatch: optimal``. ``lam`` None = the preset's λ (else 0.5).
    """
    from dataclasses import replace as _replace

    from clover.mig.geometry import get_gpu
    from clover.models.catalog import largest_variant
    from clover.sim.problem import Problem, build_types, carbon_g
    from clover.sim.queueing import sojourn_quantile

    if lam is None:
        lam = settings.default_lam
    kw = dict(problem_kwargs)
    if not settings.is_paper_like and settings.batch(app) == 1:
        return _replace(Problem.build(app, gpu, n_gpus, profiles, lam=lam, **kw),
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
    draft = _replace(draft, protocol=settings)
    if settings.dispatch == "fcfs":
        from clover.sim.fcfs import FcfsEvaluator

        w = FcfsEvaluator(draft).window(draft.base_reference_configuration())
        base_p95, base_energy = w.p95_ms, w.energy_j_per_request
    else:
        base_p95 = float(sojourn_quantile(rate / (k * n), raw.d_ms[bi], raw.beta_ms[bi]))
        base_energy = (spec.idle_power_w * k * n + rate * raw.dyn_j[bi]) / rate
    sla = base_p95 if sla_in is None else float(sla_in)
    out = Problem.build(app, spec.key, n, profiles, lam=lam, rate_rps=rate, sla_ms=sla,
                        batch_size=b, **kw)
    return _replace(out, protocol=settings, base_energy_j=float(base_energy),
                    base_carbon_g=float(carbon_g(base_energy, out.ci_ref, out.pue)),
                    sla_factor=float(sla / base_p95))


def protocol_from_args(args) -> ProtocolSettings:
    """:class:`ProtocolSettings` from :func:`clover.cliutil.add_protocol_args` flags (here, not
    in ``clover.cliutil``, so that the shared argparse helpers import nothing from ``sim``)."""
    import json

    batch = args.request_batch
    if isinstance(batch, str):
        try:
            batch = json.loads(batch)
        except json.JSONDecodeError:
            raise CloverError(f"--request-batch: expected an integer or a JSON object "
                              f"(got {batch!r})") from None
    return protocol_settings(args.protocol, base_gpu_factor=args.base_gpu_factor,
                             space=args.space, dispatch=args.dispatch, request_batch=batch,
                             base_utilisation=args.base_utilisation)
