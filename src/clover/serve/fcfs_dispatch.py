"""The artifact's dispatch in the live ingress (``dispatch: fcfs``): one FCFS queue, a FIFO of
idle instances.

sc23-clover ``system/generator.py`` keeps one request queue in arrival order and a deque of
idle instances: ``ip_state.pop()`` takes the instance idle longest, ``appendleft`` returns an
instance when its request completes, and a request waits while no instance is idle. This
module is that dispatcher for the live ingress (:class:`clover.serve.app.Ingress`), written
without Ray so that it can be driven event by event in tests:

* :class:`FcfsCore` is the pure state (queue of waiting tokens, deque of idle instances);
  :meth:`FcfsCore.pump` pairs the queue's head with the instance idle longest while both exist.
  Initially every instance is idle and ties go to instance order (the first instance first),
  exactly as :func:`clover.sim.fcfs.fcfs_dispatch` (the earliest free time; ties to the lowest
  index).
* :class:`FcfsDispatcher` wraps it for asyncio: ``await acquire()`` waits in the queue and
  returns the instance the request is to be sent to (the caller sends exactly one request to
  it, so each replica serves one request at a time and no request waits anywhere but in this
  queue); ``release(instance)`` hands it back. The queue is bounded: past ``max_queue``
  waiting requests :meth:`FcfsDispatcher.acquire` raises :class:`QueueFull` (the ingress
  answers 503, counted as ``shed``).

Reconfiguration (:meth:`FcfsDispatcher.set_instances`): instances that stay keep their place
in the idle deque (or stay busy), new ones join as idle in the given order, removed ones are
never handed out again (a busy one that completes is dropped on release). With no instance
the queue holds its requests until instances come back (the live service's no-lost-request
guarantee).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Hashable, Sequence


class QueueFull(Exception):
    """The FCFS queue holds ``max_queue`` requests: shed this one."""


class FcfsCore:
    """One FCFS queue of tokens and a deque of idle instances (pure, synchronous)."""

    def __init__(self, instances: Sequence[str] = (), max_queue: int = 1024) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1 (got {max_queue})")
        self.max_queue = int(max_queue)
        self.instances: tuple[str, ...] = ()
        self.idle: deque[str] = deque()  # pop() = idle longest; appendleft() on completion
        self.busy: set[str] = set()
        self.queue: deque[Hashable] = deque()
        self.set_instances(instances)

    def set_instances(self, instances: Sequence[str]) -> None:
        """Serve with ``instances`` (in instance order) from now on (see module doc)."""
        new = tuple(dict.fromkeys(instances))
        keep = set(new)
        self.idle = deque(i for i in self.idle if i in keep)
        known = set(self.idle) | self.busy
        for i in new:  # new instances are idle since now: behind the ones idle before
            if i not in known:
                self.idle.appendleft(i)
        self.instances = new

    def arrive(self, token: Hashable, front: bool = False) -> None:
        """Queue ``token`` (at the back; at the front for a retry). Raises QueueFull."""
        if not front and len(self.queue) >= self.max_queue:
            raise QueueFull(f"{len(self.queue)} requests queued")
        if front:
            self.queue.appendleft(token)
        else:
            self.queue.append(token)

    def withdraw(self, token: Hashable) -> bool:
        """Remove a waiting ``token`` (cancelled, timed out); False when it is not queued."""
        try:
            self.queue.remove(token)
        except ValueError:
            return False
        return True

    def release(self, instance: str) -> None:
        """``instance`` completed its request: it is idle from now (dropped if removed)."""
        self.busy.discard(instance)
        if instance in self.instances and instance not in self.idle:
            self.idle.appendleft(instance)

    def pump(self) -> list[tuple[Hashable, str]]:
        """Pair the queue's head with the instance idle longest while both exist."""
        out = []
        while self.queue and self.idle:
            token = self.queue.popleft()
            inst = self.idle.pop()
            self.busy.add(inst)
            out.append((token, inst))
        return out


class FcfsDispatcher:
    """:class:`FcfsCore` for asyncio callers (the ingress' ``infer``)."""

    def __init__(self, instances: Sequence[str] = (), max_queue: int = 1024) -> None:
        self.core = FcfsCore(instances, max_queue)
        self.assigned = 0  # requests handed to an instance (tests, stats)

    @property
    def queued(self) -> int:
        return len(self.core.queue)

    def set_instances(self, instances: Sequence[str]) -> None:
        self.core.set_instances(instances)
        self._pump()

    def set_max_queue(self, max_queue: int) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1 (got {max_queue})")
        self.core.max_queue = int(max_queue)

    def _pump(self) -> None:
        for fut, inst in self.core.pump():
            if fut.done():  # cancelled meanwhile: the instance goes back, idle as before
                self.core.busy.discard(inst)
                self.core.idle.append(inst)
                continue
            self.assigned += 1
            fut.set_result(inst)

    async def acquire(self, timeout_s: float | None = None, front: bool = False) -> str:
        """The instance to send the next request to; waits in the FCFS queue.

        Raises :class:`QueueFull` at once when the queue is full, ``asyncio.TimeoutError``
        after ``timeout_s`` (the request leaves the queue). ``front``: a retry goes first.
        """
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self.core.arrive(fut, front=front)
        self._pump()
        try:
            if timeout_s is None:
                return await fut
            return await asyncio.wait_for(asyncio.shield(fut), timeout=timeout_s)
        except BaseException:
            if not self.core.withdraw(fut) and fut.done() and not fut.cancelled():
                self.release(fut.result())  # assigned as we gave up: hand it back
            if not fut.done():
                fut.cancel()
            raise

    def release(self, instance: str) -> None:
        """The request sent to ``instance`` is over (answered or failed)."""
        self.core.release(instance)
        self._pump()

    def snapshot(self) -> dict[str, Any]:
        c = self.core
        return {"queued": len(c.queue), "idle": list(reversed(c.idle)), "busy": sorted(c.busy),
                "max_queue": c.max_queue, "assigned": self.assigned}
