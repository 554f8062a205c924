"""Admission policy of the ingress (issue 21): what a cancelled request is, how deep a body
may nest, and when the queued work is too much for the routed replicas (early shedding).

Kept apart from :mod:`clover.serve.app` (the Serve deployments) so that the ingress' routing
and dispatch can change without touching these rules; docs/live.md, "Safety and accounting".
"""

from __future__ import annotations

import asyncio
from typing import Any


def is_cancellation(exc: BaseException) -> bool:
    """The request was cancelled, not failed: the client disconnected while uploading
    (Starlette's ``ClientDisconnect``) or while waiting (asyncio's ``CancelledError``, or
    whatever Ray raises for it: ``TaskCancelledError``, ``RequestCancelledError``, or a
    ``RayTaskError`` whose cause is one of these)."""
    from ray import exceptions as rx
    from ray.serve import exceptions as sx
    from starlette.requests import ClientDisconnect

    kinds = (asyncio.CancelledError, ClientDisconnect, rx.TaskCancelledError,
             sx.RequestCancelledError)
    if isinstance(exc, kinds):
        return True
    return isinstance(exc, rx.RayTaskError) and isinstance(getattr(exc, "cause", None), kinds)


class Cancelled(Exception):
    """A replica call ended by a cancellation (:func:`is_cancellation`), raised out of
    :meth:`clover.serve.app.Ingress.infer` so that the request is counted ``cancelled``."""


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` (parsed JSON) nests deeper than ``limit`` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in item)
    return False


class ServiceEstimate:
    """Per-instance occupancy per request (s, EWMA) as the ingress sees it, and the overload
    check of :attr:`clover.serve.safety.IngressLimits.max_wait_s` (issue 21).

    A replica serves one request at a time, so a request occupies its instance from the later
    of its dispatch and the previous completion there until its own completion. That includes
    what the replica's own service time leaves out (Ray's dispatch, the handle's queue turn):
    on a busy machine it is several times the model's time, and only it predicts throughput.
    """

    ALPHA = 0.2  # weight of the newest sample

    def __init__(self) -> None:
        self.call_s: dict[str, float] = {}
        self.last_done: dict[str, float] = {}

    def observe(self, instance_id: str, dispatched_s: float, done_s: float) -> None:
        """A call to ``instance_id`` sent at ``dispatched_s`` answered at ``done_s``
        (``time.monotonic()`` seconds)."""
        start = max(dispatched_s, self.last_done.get(instance_id, dispatched_s))
        self.last_done[instance_id] = done_s
        new = max(done_s - start, 0.0)
        old = self.call_s.get(instance_id)
        self.call_s[instance_id] = new if old is None else old + self.ALPHA * (new - old)

    def forget(self, keep) -> None:
        """Drop the estimates of instances not in ``keep`` (after a reconfiguration)."""
        for d in (self.call_s, self.last_done):
            for k in [k for k in d if k not in keep]:
                del d[k]

    def capacity_rps(self, routed: list[str]) -> float | None:
        """Requests per second the routed instances measured so far serve (an instance not
        measured yet counts nothing: conservative); None while none is measured."""
        known = [i for i in routed if i in self.call_s]
        if not known:
            return None
        return sum(1.0 / max(self.call_s[i], 1e-4) for i in known)

    def overload_reason(self, pending: int, routed: list[str], max_wait_s: float) -> str | None:
        cap = self.capacity_rps(routed)
        if cap is None:
            return None
        wait_s = (pending + 1) / cap
        if wait_s <= max_wait_s:
            return None
        return (f"wait bound: {pending} requests pending would wait {wait_s:.2f} s > {max_wait_s:g} s "
                f"at {cap:.0f} requests/s")


def is_retryable(exc: BaseException) -> bool:
    """A replica call failed in a way another replica can fix: it died or is unavailable.

    Not retryable: the replica's own code raised (``RayTaskError``: the model rejected the
    request), a timeout, a cancellation, anything unknown.
    """
    from ray import exceptions as rx
    from ray.serve import exceptions as sx

    if isinstance(exc, (rx.RayTaskError, rx.TaskCancelledError)):
        return False
    return isinstance(exc, (rx.RayActorError, sx.ReplicaUnavailableError,
                            sx.DeploymentUnavailableError, sx.BackPressureError))
