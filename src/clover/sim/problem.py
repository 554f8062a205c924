"""The optimisation problem of one service: app, GPUs, profiles, load, SLA and objective
constants, and the per-instance-type table every evaluator and scheme shares.

Sizing (docs/simulator.md): BASE is the app's largest variant on ``n_gpus`` whole (7g) GPUs.
The offered load is ``rate_rps = load_fraction x BASE capacity`` (BASE capacity = ``n_gpus x``
the 7g ``max_throughput_rps`` of the largest variant), fixed for a run. The SLA is BASE's p95 at
that load: each BASE GPU receives ``rate_rps / n_gpus`` (utilisation = ``load_fraction``) and
L_tail = ``sla_factor x`` the p95 sojourn of that M/G/1 queue (closed form,
:mod:`clover.sim.queueing`). ``C_base`` is BASE's carbon per request at ``ci_ref`` (250 g/kWh)
and PUE 1.5, as the original Clover.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

import numpy as np
import pandas as pd

from clover.config import schema_default
from clover.errors import CloverError
from clover.mig.geometry import enumerate_layouts, get_gpu, slice_types
from clover.models.catalog import get_variant, largest_variant, variants_for_app
from clover.models.configuration import Configuration
from clover.sim.queueing import fit_shifted_exponential, sla_capacity, sojourn_quantile

#: J -> kWh
J_PER_KWH = 3.6e6
#: reference carbon intensity for C_base, g/kWh, and the power usage effectiveness: the original
#: Clover's, sc23-clover ``system/clover.py``, ``CloverExperiment.run(self, Lambda, base_ci=250,
#: base_pue=1.5)`` (commit 8cea06e, MIT). Their one place is the config schema
#: (``problem.ci_ref``, ``problem.pue``), read here.
CI_REF_G_PER_KWH = float(schema_default("problem.ci_ref"))
PUE = float(schema_default("problem.pue"))
#: default offered load as a fraction of BASE's capacity, and the SLA as a multiple of BASE's
#: p95 (the schema's ``problem.load_fraction``, ``problem.sla_factor``)
LOAD_FRACTION = float(schema_default("problem.load_fraction"))
SLA_FACTOR = float(schema_default("problem.sla_factor"))
#: the seed of every scheme and simulation when none is given (the schema's ``seed``)
SEED = int(schema_default("seed"))
#: relative slack on the SLA when computing capacities (so BASE, which sits exactly at its own
#: p95, is feasible despite floating-point bisection)
SLA_TOL = 1e-9

REQUIRED_COLUMNS = ("app", "gpu", "variant", "slice_profile", "batch_size", "fits",
                    "service_ms_mean", "service_ms_p95", "max_throughput_rps",
                    "power_w_busy", "power_w_idle")


def carbon_g(energy_j: float | np.ndarray, ci_g_per_kwh: float, pue: float = PUE):
    """Operational carbon (g) of ``energy_j`` at intensity ``ci_g_per_kwh`` and ``pue``:
    ``E[J] / 3.6e6 [J/kWh] x ci [g/kWh] x PUE``. Scalars give a float, arrays an array."""
    if type(energy_j) is float:  # the common scalar case, the same IEEE operations
        return energy_j / J_PER_KWH * float(ci_g_per_kwh) * float(pue)
    out = np.asarray(energy_j, dtype=float) / J_PER_KWH * float(ci_g_per_kwh) * float(pue)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True, eq=False)
class InstanceTypes:
    """Per (variant, slice profile) arrays, index ``i = variant_index x n_slices + slice_index``.

    Times ms, rates req/s, power W, energy J. ``cap_rps`` is the SLA-safe arrival rate of one
    instance (0 where it cannot meet the SLA or does not fit).
    """

    variants: tuple[str, ...]
    slices: tuple[str, ...]
    fits: np.ndarray
    mean_ms: np.ndarray
    p95_ms: np.ndarray
    d_ms: np.ndarray
    beta_ms: np.ndarray
    mu_rps: np.ndarray
    busy_w: np.ndarray
    idle_w: np.ndarray
    dyn_j: np.ndarray
    accuracy: np.ndarray
    cap_rps: np.ndarray

    @property
    def keys(self) -> tuple[tuple[str, str], ...]:
        return tuple((v, s) for v in self.variants for s in self.slices)

    def index(self, variant: str, slice_profile: str) -> int:
        try:
            return self.variants.index(variant) * len(self.slices) + self.slices.index(slice_profile)
        except ValueError:
            raise CloverError(f"no instance type ({variant}, {slice_profile}) in this problem"
                              ) from None

    def __len__(self) -> int:
        return len(self.variants) * len(self.slices)


def _check_profiles(profiles: pd.DataFrame, app: str, gpu: str, batch_size: int = 1
                    ) -> pd.DataFrame:
    if not isinstance(profiles, pd.DataFrame):
        raise CloverError("profiles must be a pandas DataFrame in the profile-table schema")
    missing = [c for c in REQUIRED_COLUMNS if c not in profiles.columns]
    if missing:
        raise CloverError(f"profile table lacks column(s) {', '.join(missing)}")
    df = profiles[(profiles["app"] == app) & (profiles["gpu"] == gpu)
                  & (profiles["batch_size"] == int(batch_size))]
    if df.empty:
        raise CloverError(f"profile table has no batch-{int(batch_size)} rows for app {app!r} on "
                          f"gpu {gpu!r} (build them: clover profile ... --batch-size 1 "
                          f"{int(batch_size)})")
    return df


def _refuse_unknown_rows(rows, variants: tuple[str, ...], slices: tuple[str, ...], app: str,
                        gpu: str) -> None:
    """A row of ``app``/``gpu`` for a variant or MIG slice the catalogs do not know is an
    error naming it (such rows used to be ignored without a word: a typo dropped data)."""
    for variant, slice_profile in rows:
        if variant not in variants:
            raise CloverError(f"profile table has a row for unknown variant {variant!r} on "
                              f"{slice_profile} (app {app} knows: {', '.join(variants)})")
        if slice_profile not in slices:
            raise CloverError(f"profile table has a row for {variant} on unknown MIG slice "
                              f"{slice_profile!r} ({gpu} has: {', '.join(slices)})")


def build_types(profiles: pd.DataFrame, app: str, gpu: str, sla_ms: float | None,
                batch_size: int = 1) -> InstanceTypes:
    """Instance-type arrays from the profile table's ``batch_size`` rows (capacities 0 if
    ``sla_ms`` is None). One request = one batch: rates are batches (requests) per second."""
    df = _check_profiles(profiles, app, gpu, batch_size)
    variants = tuple(v.name for v in variants_for_app(app))
    slices = slice_types(gpu)
    rows = {(r.variant, r.slice_profile): r for r in df.itertuples(index=False)}
    _refuse_unknown_rows(rows, variants, slices, app, gpu)
    n = len(variants) * len(slices)
    arr = {k: np.zeros(n) for k in ("mean", "p95", "mu", "busy", "idle", "acc")}
    fits = np.zeros(n, dtype=bool)
    for vi, v in enumerate(variants):
        for si, s in enumerate(slices):
            i = vi * len(slices) + si
            arr["acc"][i] = get_variant(v).accuracy
            r = rows.get((v, s))
            if r is None:
                raise CloverError(f"profile table has no row for {v} on {s} ({gpu})")
            if not bool(r.fits):
                continue
            vals = (r.service_ms_mean, r.service_ms_p95, r.power_w_busy, r.power_w_idle)
            if not all(np.isfinite(float(x)) for x in vals) or float(r.service_ms_mean) <= 0:
                raise CloverError(f"profile row {v} on {s}: fits but has missing or non-positive "
                                  "service time / power")
            fits[i] = True
            arr["mean"][i] = float(r.service_ms_mean)
            arr["p95"][i] = max(float(r.service_ms_p95), float(r.service_ms_mean))
            arr["mu"][i] = 1000.0 / float(r.service_ms_mean)
            arr["busy"][i] = float(r.power_w_busy)
            arr["idle"][i] = float(r.power_w_idle)
    d, beta = fit_shifted_exponential(np.where(fits, arr["mean"], 1.0),
                                      np.where(fits, arr["p95"], 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        dyn = np.where(fits, (arr["busy"] - arr["idle"]) / np.where(fits, arr["mu"], 1.0), 0.0)
    cap = np.zeros(n)
    if sla_ms is not None:
        cap = np.where(fits, sla_capacity(sla_ms * (1.0 + SLA_TOL), d, beta), 0.0)
    return InstanceTypes(variants, slices, fits, arr["mean"], arr["p95"], np.where(fits, d, 0.0),
                         np.where(fits, beta, 0.0), arr["mu"], arr["busy"], arr["idle"],
                         np.maximum(dyn, 0.0), arr["acc"], cap)


@dataclass(frozen=True, eq=False)
class Problem:
    """One service to optimise. Build it with :meth:`Problem.build`.

    Attributes:
        app, gpu, n_gpus: the service.
        profiles: the profile table (only batch-1 rows of ``app``/``gpu`` are used).
        rate_rps: offered load, req/s, fixed during a run.
        sla_ms: L_tail, the p95 bound.
        lam: λ of the objective.
        base_accuracy: A_base (%), the largest variant's accuracy.
        base_energy_j: BASE's energy per request at ``rate_rps`` (J).
        base_carbon_g: C_base = BASE carbon per request at ``ci_ref`` x ``pue`` (g).
        pue: power usage effectiveness applied to carbon.
        accuracy_floor: minimum traffic-weighted accuracy (%), or None.
        seed: seeds every randomised scheme and the event simulation.
        load_fraction, sla_factor, ci_ref: how the numbers above were derived.
        batch_size: images (questions) per request; the profile rows used.
        protocol: the protocol object (:class:`clover.sim.protocol.ProtocolSettings`) the
            problem was built under; always one (None given: the extended preset).
    """

    app: str
    gpu: str
    n_gpus: int
    profiles: pd.DataFrame = field(repr=False)
    rate_rps: float
    sla_ms: float
    lam: float
    base_accuracy: float = 0.0
    base_energy_j: float = 0.0
    base_carbon_g: float = 0.0
    pue: float = PUE
    accuracy_floor: float | None = None
    seed: int = SEED
    load_fraction: float = LOAD_FRACTION
    sla_factor: float = SLA_FACTOR
    ci_ref: float = CI_REF_G_PER_KWH
    batch_size: int = 1
    protocol: object = field(default=None, repr=False)
    types: InstanceTypes = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.protocol is None:
            from clover.sim.protocol import protocol_settings

            object.__setattr__(self, "protocol", protocol_settings("extended"))
        if self.types is None:
            object.__setattr__(self, "types", build_types(self.profiles, self.app, self.gpu,
                                                          self.sla_ms, self.batch_size))

    @classmethod
    def build(cls, app: str, gpu: str, n_gpus: int, profiles: pd.DataFrame,
              lam: float | None = None,
              load_fraction: float = LOAD_FRACTION, sla_factor: float = SLA_FACTOR,
              sla_ms: float | None = None, rate_rps: float | None = None,
              ci_ref: float = CI_REF_G_PER_KWH, pue: float = PUE,
              accuracy_floor: float | None = None, seed: int = SEED,
              batch_size: int = 1) -> "Problem":
        """Size the service from BASE (see the module docstring) and fix the constants.

        ``rate_rps`` / ``sla_ms`` override the derived load / SLA when given; ``lam`` None =
        the extended protocol's λ. The problem's protocol is the extended preset.
        """
        from clover.cliutil import CI_MAX_G_PER_KWH, PUE_MAX, SEED_MAX, check_number as num
        from clover.sim.protocol import protocol_settings

        if lam is None:
            lam = protocol_settings("extended").lam

        # bounds where the values enter (docs/reliability.md): finite, typed, in range
        n_gpus = num(n_gpus, "n_gpus", lo=1, integer=True)
        lam = num(lam, "lam", lo=0.0, hi=1.0)
        load_fraction = num(load_fraction, "load_fraction", lo=0.0, hi=1.0, lo_open=True,
                            hi_open=True)
        sla_factor = num(sla_factor, "sla_factor", lo=0.0, lo_open=True)
        if sla_ms is not None:
            sla_ms = num(sla_ms, "sla_ms", lo=0.0, lo_open=True)
        if rate_rps is not None:
            rate_rps = num(rate_rps, "rate_rps", lo=0.0, lo_open=True)
        ci_ref = num(ci_ref, "ci_ref", lo=0.0, hi=CI_MAX_G_PER_KWH, lo_open=True)
        pue = num(pue, "pue", lo=1.0, hi=PUE_MAX)
        if accuracy_floor is not None:
            accuracy_floor = num(accuracy_floor, "accuracy_floor", lo=0.0, hi=100.0)
        seed = num(seed, "seed", lo=0, hi=SEED_MAX, integer=True)
        spec = get_gpu(gpu)
        raw = build_types(profiles, app, spec.key, None, batch_size)
        big = largest_variant(app).name
        bi = raw.index(big, spec.full_profile.name)
        if not raw.fits[bi]:
            raise CloverError(f"BASE variant {big} does not fit a whole {spec.key}")
        per_gpu = float(load_fraction) * raw.mu_rps[bi] if rate_rps is None else float(rate_rps) / n_gpus
        rate = per_gpu * int(n_gpus)
        if per_gpu >= raw.mu_rps[bi]:
            raise CloverError(f"rate_rps {rate:.1f} req/s exceeds BASE capacity "
                              f"{raw.mu_rps[bi] * n_gpus:.1f} req/s")
        base_p95 = float(sojourn_quantile(per_gpu, raw.d_ms[bi], raw.beta_ms[bi]))
        sla = float(sla_factor) * base_p95 if sla_ms is None else float(sla_ms)
        base_energy = (spec.idle_power_w * n_gpus + rate * raw.dyn_j[bi]) / rate
        return cls(
            app=app, gpu=spec.key, n_gpus=int(n_gpus), profiles=profiles, rate_rps=rate,
            sla_ms=sla, lam=float(lam), base_accuracy=float(raw.accuracy[bi]),
            base_energy_j=float(base_energy),
            base_carbon_g=float(carbon_g(base_energy, ci_ref, pue)), pue=float(pue),
            accuracy_floor=None if accuracy_floor is None else float(accuracy_floor),
            seed=int(seed), load_fraction=float(rate / (raw.mu_rps[bi] * n_gpus)),
            sla_factor=float(sla / base_p95), ci_ref=float(ci_ref), batch_size=int(batch_size),
        )

    def with_params(self, **changes) -> "Problem":
        """A copy with e.g. ``lam`` or ``accuracy_floor`` changed (capacities are reused)."""
        bad = {"sla_ms", "profiles", "app", "gpu"} & set(changes)
        if bad:
            raise CloverError(f"use Problem.build to change {', '.join(sorted(bad))}")
        return replace(self, **changes)

    # --- the objective, linear in per-type traffic y (docs/simulator.md) -------------------
    def carbon_factor(self, ci_g_per_kwh: float) -> float:
        """g of CO2 per J at ``ci_g_per_kwh`` including PUE."""
        return float(ci_g_per_kwh) * self.pue / J_PER_KWH

    def request_values(self, ci_g_per_kwh: float, lam: float | None = None) -> np.ndarray:
        """Objective gained per req/s routed to each instance type (per-request value x 1/R).

        f = const + sum_t y_t * value_t, with
        value_t = 100/R * [(1-λ) a_t / A_base - λ k·dyn_j_t / C_base],  k = ci·PUE/3.6e6.
        """
        lam = self.lam if lam is None else float(lam)
        k = self.carbon_factor(ci_g_per_kwh)
        t = self.types
        return 100.0 / self.rate_rps * ((1.0 - lam) * t.accuracy / self.base_accuracy
                                        - lam * k * t.dyn_j / self.base_carbon_g)

    def objective_constant(self, ci_g_per_kwh: float, n_gpus: int | None = None,
                           lam: float | None = None) -> float:
        """The part of f that does not depend on routing (idle power of every GPU)."""
        lam = self.lam if lam is None else float(lam)
        n = self.n_gpus if n_gpus is None else int(n_gpus)
        k = self.carbon_factor(ci_g_per_kwh)
        idle_e = get_gpu(self.gpu).idle_power_w * n / self.rate_rps
        return lam * 100.0 * (1.0 - k * idle_e / self.base_carbon_g) - (1.0 - lam) * 100.0

    # --- configurations <-> count vectors --------------------------------------------------
    def counts(self, configuration: Configuration) -> np.ndarray:
        """Instance count per type (the graph's edge-weight vector); validates layouts/app."""
        if configuration.gpu != self.gpu:
            raise CloverError(f"configuration is for {configuration.gpu}, problem for {self.gpu}")
        configuration.validate(self.app)
        return self.type_counts(configuration.edge_weights().items())

    def type_counts(self, weights: Iterable[tuple[tuple[str, str], int]]) -> np.ndarray:
        """Instance count per type of ``((variant, slice), count)`` pairs, unchecked (the
        caller's configuration is valid: :meth:`counts`, or built valid)."""
        n = np.zeros(len(self.types), dtype=np.int64)
        for (v, s), w in weights:
            n[self.types.index(v, s)] += w
        return n

    def base_configuration(self) -> Configuration:
        """BASE: the largest variant on every GPU, whole (7g)."""
        return Configuration.uniform(self.gpu, self.n_gpus, largest_variant(self.app).name)

    @property
    def base_gpus(self) -> int:
        """GPUs BASE's own run uses: k·N under a protocol with ``base_gpu_factor`` k."""
        return self.protocol.base_gpus(self.n_gpus)

    def base_reference_configuration(self) -> Configuration:
        """BASE as it runs to define the SLA, A_base and C_base: whole GPUs, k·N of them."""
        return Configuration.uniform(self.gpu, self.base_gpus, largest_variant(self.app).name)

    def fitting_variants(self, slice_profile: str) -> tuple[str, ...]:
        """Variants whose profile row fits ``slice_profile``, smallest first."""
        t = self.types
        si = t.slices.index(slice_profile)
        return tuple(v for vi, v in enumerate(t.variants) if t.fits[vi * len(t.slices) + si])

    def usable_layouts(self):
        """Layouts (one per distinct slice mix) where every slice fits at least one variant."""
        seen, out = set(), []
        for lay in enumerate_layouts(self.gpu):
            if lay.mix in seen:
                continue
            seen.add(lay.mix)
            if all(self.fitting_variants(p) for p in lay.profiles):
                out.append(lay)
        return tuple(out)
