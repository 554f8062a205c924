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
    """Per-instance service time (EWMA of the replica's call time, s) and the overload check
    of :attr:`clover.serve.safety.IngressLimits.max_wait_s` (issue 21)."""

    ALPHA = 0.2  # weight of the newest call time

    def __init__(self) -> None:
        self.call_s: dict[str, float] = {}

    def observe(self, instance_id: str, reply: dict) -> None:
        ms = reply.get("call_ms", reply.get("service_ms"))
        if isinstance(ms, (int, float)) and ms >= 0:
            old = self.call_s.get(instance_id)
            new = ms / 1000.0
            self.call_s[instance_id] = new if old is None else old + self.ALPHA * (new - old)

    def capacity_rps(self, routed: list[str]) -> float | None:
        """Requests per second the routed instances serve; None until each has answered."""
        if not routed or any(i not in self.call_s for i in routed):
            return None
        return sum(1.0 / max(self.call_s[i], 1e-4) for i in routed)

    def overload_reason(self, pending: int, routed: list[str], max_wait_s: float) -> str | None:
        cap = self.capacity_rps(routed)
        if cap is None:
            return None
        wait_s = (pending + 1) / cap
        if wait_s <= max_wait_s:
            return None
        return (f"wait bound: {pending} requests pending would wait {wait_s:.2f} s > {max_wait_s:g} s "
                f"at {cap:.0f} requests/s")
