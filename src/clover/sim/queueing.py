"""Closed-form M/G/1 latency model of one serving instance.

Each (variant, MIG slice) instance is a single-server FCFS queue fed by a Poisson stream (the
router splits a Poisson stream at random, and a random split of a Poisson process is Poisson).
Its service time is fitted from the profile's mean and p95 (batch size 1) as a **shifted
exponential** ``S = d + Exp(mean beta)``: ``beta = (p95 - mean)/(ln 20 - 1)``, ``d = mean - beta``
(``p95 <= mean`` gives a deterministic service; ``d < 0`` is clamped to a pure exponential).

Sojourn time ``T = W + S`` with ``W`` the FCFS waiting time, independent of the request's own
service time. The waiting-time tail uses the Cramér–Lundberg approximation, asymptotically exact
for light-tailed service times (Asmussen, *Applied Probability and Queues*, 2nd ed., 2003,
Ch. XIII.5; Tijms, *A First Course in Stochastic Models*, 2003, §2.5 / §9.3)::

    P(W > x) ≈ C·exp(-gamma·x),   lam·(M_S(gamma) - 1) = gamma,
    C = (1 - rho) / (lam·M_S'(gamma) - 1),   M_S(g) = exp(g·d) / (1 - beta·g)

(exact for M/M/1: gamma = mu - lam, C = rho). ``W`` is then taken as an atom at 0 with mass
``1 - C`` plus ``Exp(1/gamma)`` with mass ``C``, and ``T - d`` is a mixture of an exponential and
a hypo-exponential, whose survival function is closed form; the p95 is its root, found by
vectorised bisection. The mean sojourn is Pollaczek–Khinchine (exact).
``tests/sim/test_queueing.py`` checks the p95 against the event simulation
(:mod:`clover.sim.events`) over a grid of utilisations. All times in ms, rates in req/s.
"""

from __future__ import annotations

import numpy as np

LN20 = float(np.log(20.0))
#: the tail quantile the SLA is stated on
QUANTILE = 0.95


def fit_shifted_exponential(mean_ms, p95_ms):
    """Fit ``S = d + Exp(beta)`` to a service-time mean and p95 (ms); arrays broadcast.

    Returns ``(d_ms, beta_ms)``. ``p95 <= mean`` gives ``beta = 0`` (deterministic); a p95 above
    ``~3x`` the mean would need ``d < 0`` and is clamped to ``d = 0, beta = mean``.
    """
    mean = np.asarray(mean_ms, dtype=float)
    p95 = np.asarray(p95_ms, dtype=float)
    beta = np.maximum(p95 - mean, 0.0) / (LN20 - 1.0)
    beta = np.minimum(beta, mean)
    return mean - beta, beta


def _exp_sf(x, scale):
    """Survival of Exp(mean ``scale``) at x >= 0; ``scale == 0`` is a point mass at 0."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.where(scale > 0, np.exp(-x / np.where(scale > 0, scale, 1.0)), 0.0)
    return np.where(x < 0, 1.0, out)


def _hypo_sf(x, a, b):
    """Survival at x >= 0 of Exp(mean a) + Exp(mean b), a > 0, b >= 0 (vectorised)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        close = np.abs(a - b) <= 1e-9 * np.maximum(a, b)
        diff = np.where(close, 1.0, a - b)
        general = (a * np.exp(-x / a) - b * np.exp(-x / np.where(b > 0, b, 1.0))) / diff
        general = np.where(b > 0, general, np.exp(-x / a))
        equal = (1.0 + x / a) * np.exp(-x / a)
    return np.clip(np.where(close, equal, general), 0.0, 1.0)


def _decay(rate_per_ms, d, beta, es2):
    """Cramér–Lundberg decay rate gamma (1/ms) and constant C, vectorised (rho < 1)."""
    lam = rate_per_ms
    rho = lam * (d + beta)
    hi = 2.0 * (1.0 - rho) / np.maximum(lam * es2, 1e-300)
    hi = np.where(beta > 0, np.minimum(hi, (1.0 - 1e-12) / np.where(beta > 0, beta, 1.0)), hi)
    lo = np.zeros_like(hi)

    def h(g):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ms = np.exp(np.minimum(g * d, 700.0)) / (1.0 - beta * g)
            return lam * (ms - 1.0) - g

    for _ in range(80):
        mid = 0.5 * (lo + hi)
        neg = h(mid) < 0
        lo = np.where(neg, mid, lo)
        hi = np.where(neg, hi, mid)
    g = 0.5 * (lo + hi)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ms = np.exp(np.minimum(g * d, 700.0)) / (1.0 - beta * g)
        dms = ms * (d + beta / (1.0 - beta * g))
        c = (1.0 - rho) / (lam * dms - 1.0)
    c = np.clip(np.nan_to_num(c, nan=0.0, posinf=1.0), 0.0, 1.0)
    return g, c


def _tail_params(rate_rps, d, beta):
    """(rho, gamma, C) of the waiting-time approximation, vectorised."""
    rate = np.asarray(rate_rps, dtype=float) / 1000.0
    es2 = (d + beta) ** 2 + beta ** 2
    rho = rate * (d + beta)
    stable = rho < 1.0
    g, c = _decay(np.where(stable & (rate > 0), rate, 1e-12), d, beta, es2)
    c = np.where(rate > 0, c, 0.0)
    return rho, g, c


def _sf(t_ms, rho, g, c, d, beta):
    theta = np.where(g > 0, 1.0 / np.where(g > 0, g, 1.0), np.inf)
    x = np.asarray(t_ms, dtype=float) - d
    sf = (1.0 - c) * _exp_sf(x, beta) + c * _hypo_sf(np.maximum(x, 0.0), theta, beta)
    sf = np.where(x < 0, 1.0, sf)
    return np.where(rho < 1.0, sf, 1.0)


def sojourn_sf(t_ms, rate_rps, d_ms, beta_ms):
    """P(T > t) for the M/G/1 sojourn time under the approximation above (vectorised)."""
    d = np.asarray(d_ms, dtype=float)
    beta = np.asarray(beta_ms, dtype=float)
    rho, g, c = _tail_params(rate_rps, d, beta)
    return _sf(t_ms, rho, g, c, d, beta)


def sojourn_quantile(rate_rps, d_ms, beta_ms, q: float = QUANTILE, iters: int = 70):
    """The q-quantile (default p95) of the sojourn time, ms; ``inf`` when rho >= 1."""
    rate = np.asarray(rate_rps, dtype=float)
    d = np.asarray(d_ms, dtype=float)
    beta = np.asarray(beta_ms, dtype=float)
    rate, d, beta = np.broadcast_arrays(rate, d, beta)
    mean = d + beta
    rho = rate / 1000.0 * mean
    stable = rho < 1.0
    tail = 1.0 - q
    # upper bracket: W's tail scale is at most the M/M/1-like mean waiting time bound
    es2 = mean ** 2 + beta ** 2
    ew = np.where(stable, rate / 1000.0 * es2 / (2.0 * np.maximum(1.0 - rho, 1e-12)), 0.0)
    hi = d + (beta + ew / np.maximum(rho, 1e-12) + mean) * 40.0 + 1e-9
    lo = d.copy()
    rho_, g, c = _tail_params(rate, d, beta)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        over = _sf(mid, rho_, g, c, d, beta) > tail
        lo = np.where(over, mid, lo)
        hi = np.where(over, hi, mid)
    out = 0.5 * (lo + hi)
    return np.where(stable, out, np.inf)


def mean_sojourn(rate_rps, d_ms, beta_ms):
    """Pollaczek–Khinchine mean sojourn time, ms (exact for M/G/1); ``inf`` when rho >= 1."""
    rate = np.asarray(rate_rps, dtype=float) / 1000.0
    d = np.asarray(d_ms, dtype=float)
    beta = np.asarray(beta_ms, dtype=float)
    mean = d + beta
    es2 = mean ** 2 + beta ** 2
    rho = rate * mean
    with np.errstate(divide="ignore", invalid="ignore"):
        w = rate * es2 / (2.0 * (1.0 - rho))
    return np.where(rho < 1.0, mean + w, np.inf)


def sla_capacity(sla_ms: float, d_ms, beta_ms, q: float = QUANTILE, iters: int = 48):
    """Largest Poisson arrival rate (req/s) at which the instance's p95 sojourn <= ``sla_ms``.

    0 where even an idle instance misses the SLA (service-time quantile above it). Bisection
    on the rate between 0 and the service rate; the result is a lower bound within
    ``2**-iters`` of the service rate.
    """
    d = np.asarray(d_ms, dtype=float)
    beta = np.asarray(beta_ms, dtype=float)
    d, beta = np.broadcast_arrays(d, beta)
    mu = 1000.0 / (d + beta)
    idle_q = sojourn_quantile(np.zeros_like(d), d, beta, q)
    lo = np.zeros_like(d)
    hi = mu.copy()
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        ok = sojourn_quantile(mid, d, beta, q, iters=50) <= sla_ms
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return np.where(idle_q <= sla_ms, lo, 0.0)
