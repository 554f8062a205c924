"""Safety of the live service: loopback binding, ingress limits, request accounting, SIGTERM.

* :func:`is_loopback` / :func:`check_http_host`: the ingress's HTTP listener binds to a loopback address
  unless the cluster file opts in (``expose: true``); the host must be an IP literal or an
  RFC 1123 hostname.
* :func:`loopback_ray_env`: makes a *local* Ray instance (started by clover) bind its GCS,
  raylet, dashboard process and agents to 127.0.0.1 only. Ray resolves a given
  ``_node_ip_address="127.0.0.1"`` to the machine's outward IP (``resolve_ip_for_localhost``), so
  that option alone does not work in Ray 2.60; what does is Ray's own switch for single-machine
  use, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (``ray._private.ray_constants.ENABLE_RAY_CLUSTER``):
  the node IP is then 127.0.0.1 and every Ray server binds there
  (``get_localhost_ip() if is_localhost(ip) else get_all_interfaces_ip()``).
* :func:`listening_sockets` / :func:`non_loopback_listeners`: what a process tree listens on
  (psutil), for the tests and the load drill.
* :class:`IngressLimits`: body cap, admission bound, replica timeout, id length.
* :class:`RequestCounters`: every request that reached the ingress ends in exactly one outcome;
  ``received == answered + rejected + failed + cancelled + shed + in_flight`` at every moment.
* :func:`install_sigterm`: SIGTERM takes the same shutdown path as Ctrl-C.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from clover.errors import CloverError

#: Ray's switch for single-machine clusters (ray/_private/ray_constants.py, Ray 2.60)
RAY_LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"

_HOSTNAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")


class FieldError(CloverError):
    """A bad setting: ``field`` and ``why`` (callers prefix the file name)."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field} {why}")
        self.field, self.why = field, why


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 (dual-stack sockets) is 127.0.0.1
    return ip


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8, ``::1`` and IPv4-mapped loopback addresses."""
    if host.lower().rstrip(".") == "localhost":
        return True
    ip = _ip(host)
    return ip is not None and ip.is_loopback


def check_http_host(host: Any, expose: bool, where: str = "http.host") -> str:
    """The HTTP bind host, validated: an IP literal or hostname; non-loopback only if exposed."""
    if (not isinstance(host, str) or not host
            or (_ip(host) is None and not _HOSTNAME.fullmatch(host))):
        raise FieldError(where, f"must be an IP address or a hostname, not {host!r}")
    if not is_loopback(host) and not expose:
        raise FieldError(where, f"is {host!r}, not a loopback address: the service has no "
                                "authentication; set 'expose: true' in the cluster file to bind "
                                "it beyond this machine")
    return host


@contextmanager
def loopback_ray_env() -> Iterator[None]:
    """While active, a Ray instance started here binds every server to 127.0.0.1.

    The environment variable reaches the processes Ray spawns; the module constant is read by
    this process (``ray.util.get_node_ip_address``), which may have imported Ray already.
    """
    import ray._private.ray_constants as rc

    old_env, old_const = os.environ.get(RAY_LOCAL_ONLY_ENV), rc.ENABLE_RAY_CLUSTER
    os.environ[RAY_LOCAL_ONLY_ENV] = "0"
    rc.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        rc.ENABLE_RAY_CLUSTER = old_const
        if old_env is None:
            os.environ.pop(RAY_LOCAL_ONLY_ENV, None)
        else:
            os.environ[RAY_LOCAL_ONLY_ENV] = old_env


def bind_serve_grpc_to_loopback() -> bool:
    """In a Serve replica on a loopback node: bind its inter-deployment gRPC server to 127.0.0.1.

    Ray Serve 2.60 binds that server to ``[::]:0`` unconditionally
    (``ray/serve/_private/replica.py``, ``_on_initialized``), i.e. every interface even when the
    node IP is 127.0.0.1. The replica calls this from its ``__init__``, which Serve runs before
    ``_on_initialized``; it wraps the module's ``add_port_to_grpc_server`` so that ``[::]:port``
    becomes ``<node ip>:port``. A no-op on a node with a routable IP (clusters). Returns
    whether it applied.
    """
    try:
        import ray
        from ray.serve._private import replica as rep

        ip = ray.util.get_node_ip_address()
        orig = rep.add_port_to_grpc_server
    except Exception:  # not in a Ray worker, or Serve's internals moved: nothing to do
        return False
    if not is_loopback(ip) or getattr(orig, "_clover_loopback", False):
        return getattr(orig, "_clover_loopback", False)

    def add_port(server, address: str):
        if address.startswith("[::]:"):
            address = f"{ip}:{address[5:]}"
        return orig(server, address)

    add_port._clover_loopback = True
    rep.add_port_to_grpc_server = add_port
    return True


def listening_sockets(root_pid: int | None = None) -> list[dict]:
    """TCP/UDP sockets in LISTEN state (TCP) or bound (UDP) of ``root_pid`` and its descendants."""
    import psutil

    root = psutil.Process(root_pid or os.getpid())
    out = []
    for p in [root] + root.children(recursive=True):
        try:
            name = p.name()
            conns = p.net_connections(kind="inet")
        except psutil.Error:  # exited meanwhile
            continue
        for c in conns:
            listening = c.status == psutil.CONN_LISTEN or (c.type == 2 and not c.raddr)  # SOCK_DGRAM
            if listening and c.laddr:
                out.append({"pid": p.pid, "name": name, "host": c.laddr.ip, "port": c.laddr.port})
    return out


def non_loopback_listeners(root_pid: int | None = None) -> list[dict]:
    """The listening sockets of the process tree that are reachable from other machines."""
    return [s for s in listening_sockets(root_pid) if not is_loopback(s["host"])]


# ------------------------------------------------------------------ ingress limits

@dataclass(frozen=True)
class IngressLimits:
    """Bounds of the ingress (defaults chosen for one node; all configurable).

    Attributes:
        max_body_bytes: request body cap (413 beyond; 8 MiB = 8 * 2**20 bytes).
        max_pending: requests admitted at once (in flight or waiting for a route); beyond it
            the ingress answers 503 at once ("shed") instead of queueing.
        replica_timeout_s: bound of one replica call (s); a timed-out call is not retried.
        retry_deadline_s: bound of all attempts of one request (covers a replica restart).
        max_id_chars: longest accepted request ``id`` (a string of [A-Za-z0-9_.:-] or an int).
        max_wait_s: overload bound (s, issue 21): a new request is shed (503 at once) when the
            work already admitted would keep it waiting longer than this, i.e. when
            ``(pending + 1) / capacity_rps > max_wait_s``, capacity being the sum over the
            routed instances of 1 / (measured replica call time). Applies once every routed
            instance has answered once (before that, only ``max_pending``) and not while no
            instance is routable (a reconfiguration holds requests).
        max_json_depth: deepest nesting of a request body (400 beyond; a deeply nested body
            used to end in a RecursionError, a 500).
    """

    max_body_bytes: int = 8 * 2**20
    max_pending: int = 1024
    replica_timeout_s: float = 60.0
    retry_deadline_s: float = 120.0
    max_id_chars: int = 64
    max_wait_s: float = 1.0
    max_json_depth: int = 32

    def validate(self, where: str = "limits") -> "IngressLimits":
        for name in ("max_body_bytes", "max_pending", "max_id_chars", "max_json_depth"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise FieldError(f"{where}.{name}", f"must be a positive integer, not {v!r}")
        for name in ("replica_timeout_s", "retry_deadline_s", "max_wait_s"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v < 86400:
                raise FieldError(f"{where}.{name}",
                                 f"must be a number of seconds in (0, 86400), not {v!r}")
        return self

    @classmethod
    def from_mapping(cls, data: Any, where: str = "limits") -> "IngressLimits":
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise FieldError(where, "must be a mapping")
        known = set(cls.__dataclass_fields__)
        extra = set(data) - known
        if extra:
            raise FieldError(f"{where}.{sorted(extra)[0]}",
                             f"is not a known field (known: {', '.join(sorted(known))})")
        return cls(**data).validate(where)

    def as_dict(self) -> dict:
        return asdict(self)


_ID = re.compile(r"[A-Za-z0-9_.:-]+")


def check_request_id(value: Any, max_chars: int) -> str | int | None:
    """The request id to echo, or raise ValueError: an int, or a short string of safe characters."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("id must be an integer or a string")
    if isinstance(value, int):
        if len(str(value)) > max_chars:
            raise ValueError(f"id longer than {max_chars} characters")
        return value
    if isinstance(value, str):
        if len(value) > max_chars:
            raise ValueError(f"id longer than {max_chars} characters")
        if not _ID.fullmatch(value):
            raise ValueError("id may only contain A-Z a-z 0-9 _ . : -")
        return value
    raise ValueError("id must be an integer or a string")


# ------------------------------------------------------------------ accounting

OUTCOMES = ("answered", "rejected", "failed", "cancelled", "shed")


class RequestCounters:
    """Every request the ingress received, and how it ended (one outcome each).

    ``open()`` counts a request as received and in flight; ``close(outcome, ...)`` moves it to
    exactly one outcome. Both run on the ingress' event loop (no await in between), so
    :meth:`check` holds at every moment, not only when idle. Non-answered requests are kept
    (bounded) with their reason in ``unanswered``.
    """

    def __init__(self, keep: int = 10_000) -> None:
        self.received = 0
        self.in_flight = 0
        self.counts = {k: 0 for k in OUTCOMES}
        self.reasons: dict[str, int] = {}
        self.unanswered: deque = deque(maxlen=keep)

    def open(self) -> None:
        self.received += 1
        self.in_flight += 1

    def close(self, outcome: str, reason: str = "", rid: Any = None, **fields: Any) -> dict | None:
        if outcome not in self.counts:
            raise ValueError(f"unknown outcome {outcome!r}")
        self.in_flight -= 1
        self.counts[outcome] += 1
        if outcome == "answered":
            return None
        key = f"{outcome}: {reason.split(':')[0]}" if reason else outcome
        self.reasons[key] = self.reasons.get(key, 0) + 1
        rec = {"t": time.time(), "outcome": outcome, "reason": reason, "id": rid, **fields}
        self.unanswered.append(rec)
        return rec

    def check(self) -> bool:
        return self.received == sum(self.counts.values()) + self.in_flight and self.in_flight >= 0

    def snapshot(self) -> dict:
        return {"received": self.received, **self.counts, "in_flight": self.in_flight,
                "identity_holds": self.check(), "reasons": dict(sorted(self.reasons.items()))}


# ------------------------------------------------------------------ SIGTERM

class Terminated(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM: the same unwinding (finally, with) as Ctrl-C."""


#: exit status after a SIGTERM shutdown (128 + SIGTERM, the shell convention)
EXIT_SIGTERM = 128 + signal.SIGTERM


def _on_sigterm(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the shutdown
    raise Terminated()


def install_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread (LiveService.start keeps it
    across ``ray.init``, which installs its own handler)."""
    signal.signal(signal.SIGTERM, _on_sigterm)


def call_with_sigterm_as_ctrl_c(fn, *args, **kwargs) -> int:
    """``fn(*args, **kwargs)`` with SIGTERM taking the Ctrl-C path (every ``finally`` and
    ``with`` unwinds: service stopped, Ray shut down); returns :data:`EXIT_SIGTERM` (143) after
    a SIGTERM, else ``fn``'s result. Used by ``clover live``, ``clover serve up`` and
    ``clover run --backend live``."""
    import sys

    install_sigterm()
    try:
        return fn(*args, **kwargs)
    except Terminated:
        print("clover: terminated (SIGTERM); service stopped", file=sys.stderr)
        return EXIT_SIGTERM
