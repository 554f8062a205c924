"""Open-loop load generator: send requests at given arrival times, record what came back.

Open loop (as the paper's client): request *k* is sent at ``t0 + arrivals_s[k]`` whether or not
earlier ones were answered, so queueing shows up in the latencies instead of slowing the
client. Arrival times come from :mod:`clover.workload` (Poisson or the Azure traces). Bounded in
count (``max_requests``) and time (``duration_s`` plus a drain ``timeout_s``), and only sent to
loopback addresses: the live service's ingress listens on this machine (or an SSH tunnel).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from typing import Mapping, Sequence
from urllib.parse import urlparse

import numpy as np

from clover.errors import CloverError
from clover.serve.cluster import LOOPBACK

MAX_REQUESTS = 200_000


@dataclass(frozen=True)
class RequestRecord:
    """One request as the client saw it (times in s from the window start, latencies in ms)."""

    id: int
    scheduled_s: float
    sent_s: float
    latency_ms: float
    status: int  # HTTP status; 0 = no response (timeout, connection error)
    instance: str = ""
    variant: str = ""
    slice: str = ""
    service_ms: float = math.nan
    server_ms: float = math.nan
    attempts: int = 0
    error: str = ""
    error_type: str = ""  # exception class for status 0 (TimeoutError, ClientConnectorError, ...)

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error


def check_loopback(url: str) -> str:
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK:
        raise CloverError(f"load generator only sends to loopback addresses, not {host!r} ({url})")
    return url.rstrip("/")


def _request_body(rid: int, k: int, extra: dict[int, dict] | None,
                  payload_bytes: int | Mapping[int, int],
                  request_fields: dict | None = None) -> dict:
    """The JSON body of request ``k``: its id, ``extra`` fields, a ``pad`` of the asked size."""
    body = {"id": rid, **(request_fields or {}), **((extra or {}).get(k, {}))}
    pad = payload_bytes.get(k, 0) if isinstance(payload_bytes, Mapping) else payload_bytes
    if pad:
        body["pad"] = "x" * int(pad)
    return body


def _reply_record(rid: int, at: float, sent: float, lat_ms: float, status: int,
                  data: bytes) -> RequestRecord:
    """The record of a request that got an HTTP reply (any status, any body)."""
    text = data.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = {"error": text[:200]}
    if not isinstance(body, dict):
        body = {"error": f"reply is not a JSON object: {text[:200]}"}
    return RequestRecord(
        rid, at, sent, lat_ms, status, str(body.get("instance", "")),
        str(body.get("variant", "")), str(body.get("slice", "")),
        float(body.get("service_ms", math.nan)), float(body.get("server_ms", math.nan)),
        int(body.get("attempts", 0)), str(body.get("error", "")))


async def _post(session, url: str, body: dict) -> tuple[int, bytes]:
    """POST ``body`` as JSON; the reply's status and body (read whole, within the timeout)."""
    async with session.post(url, json=body) as resp:
        return resp.status, await resp.read()


def _error_record(rid: int, at: float, sent: float, lat_ms: float,
                  exc: BaseException) -> RequestRecord:
    """The record of a request that got no reply (timeout, connection error, cancellation)."""
    return RequestRecord(rid, at, sent, lat_ms, 0, error=f"{type(exc).__name__}: {exc}"[:300],
                         error_type=type(exc).__name__)


def _arrivals(arrivals_s: Sequence[float], duration_s: float | None,
              max_requests: int) -> np.ndarray:
    arr = np.sort(np.asarray(arrivals_s, dtype=float))
    if duration_s is not None:
        arr = arr[arr < duration_s]
    if len(arr) > max_requests:
        raise CloverError(f"{len(arr)} arrivals exceed the bound of {max_requests} requests per window")
    return arr


async def run_open_loop(url: str, arrivals_s: Sequence[float], *, timeout_s: float = 120.0,
                        max_requests: int = MAX_REQUESTS, duration_s: float | None = None,
                        first_id: int = 0, max_connections: int = 512,
                        extra: dict[int, dict] | None = None,
                        payload_bytes: int | Mapping[int, int] = 0,
                        request_fields: Mapping | None = None) -> list[RequestRecord]:
    """Send one POST /infer per arrival time; returns one record per request, in id order.

    Every request gets a record, whatever happened to it: any exception (not only
    ``aiohttp.ClientError``) is recorded with its type in ``error_type`` and status 0, and a request
    whose task did not finish is recorded as such. ``extra`` adds fields to the JSON body of
    some requests (by index), e.g. a fault drill; ``payload_bytes`` pads every body (int) or
    some (by index) with a ``pad`` string of that many bytes (large-body drills);
    ``request_fields`` go into every body (``{"batch": 8}``: the inputs a request carries,
    which the replica checks against its own batch). ``timeout_s`` bounds each request as a
    whole, from its send (waiting for one of the ``max_connections`` included) to the last byte
    of its reply; it ends as a ``TimeoutError`` record.
    """
    import aiohttp

    base = check_loopback(url)
    arr = _arrivals(arrivals_s, duration_s, max_requests)
    records: list[RequestRecord | None] = [None] * len(arr)
    # aiohttp, not httpx: the httpx client was the bottleneck of a 500-request burst (its
    # slowest 503 came 8 s after its send, aiohttp's 1.4 s: docs/reliability.md)
    connector = aiohttp.TCPConnector(limit=max_connections)
    async with aiohttp.ClientSession(connector=connector, trust_env=False,
                                     timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        t0 = time.perf_counter()

        async def one(k: int, at: float) -> None:
            delay = at - (time.perf_counter() - t0)
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter() - t0
            rid = first_id + k
            try:
                status, data = await _post(session, f"{base}/infer",
                                           _request_body(rid, k, extra, payload_bytes,
                                                         request_fields))
                records[k] = _reply_record(rid, at, sent, (time.perf_counter() - t0 - sent) * 1000.0,
                                           status, data)
            except (Exception, asyncio.CancelledError) as exc:  # every failure is a record
                records[k] = _error_record(rid, at, sent, (time.perf_counter() - t0 - sent) * 1000.0,
                                           exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise

        tasks = [asyncio.create_task(one(k, float(a))) for k, a in enumerate(arr)]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
    return [r if r is not None else
            RequestRecord(first_id + k, float(arr[k]), math.nan, math.nan, 0,
                          error="not completed: the client task ended without a reply",
                          error_type="NotCompleted")
            for k, r in enumerate(records)]


def run_load(url: str, arrivals_s: Sequence[float], **kwargs) -> list[RequestRecord]:
    """Synchronous wrapper of :func:`run_open_loop` (own event loop)."""
    return asyncio.run(run_open_loop(url, arrivals_s, **kwargs))


@dataclass(frozen=True)
class WindowStats:
    """Summary of one measurement window."""

    sent: int
    answered: int
    failed: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_latency_ms: float
    throughput_rps: float
    duration_s: float
    by_variant: Mapping[str, int]
    by_instance: Mapping[str, int]
    busy_s: Mapping[str, float]
    retried: int

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["by_variant"], d["by_instance"], d["busy_s"] = (dict(self.by_variant), dict(self.by_instance),
                                                          dict(self.busy_s))
        return d


def summarize(records: Sequence[RequestRecord], duration_s: float) -> WindowStats:
    """Latency percentiles (client side, ms), throughput (answered / window) and mix."""
    ok = [r for r in records if r.ok]
    lat = np.array([r.latency_ms for r in ok], dtype=float)
    pct = (lambda q: float(np.percentile(lat, q))) if len(lat) else (lambda q: math.nan)
    by_var: dict[str, int] = {}
    by_inst: dict[str, int] = {}
    busy: dict[str, float] = {}
    for r in ok:
        by_var[r.variant] = by_var.get(r.variant, 0) + 1
        by_inst[r.instance] = by_inst.get(r.instance, 0) + 1
        if not math.isnan(r.service_ms):
            busy[r.instance] = busy.get(r.instance, 0.0) + r.service_ms / 1000.0
    return WindowStats(len(records), len(ok), len(records) - len(ok), pct(50), pct(95), pct(99),
                       float(lat.mean()) if len(lat) else math.nan,
                       len(ok) / duration_s if duration_s > 0 else math.nan, duration_s,
                       dict(sorted(by_var.items())), dict(sorted(by_inst.items())),
                       dict(sorted(busy.items())), sum(1 for r in ok if r.attempts > 1))
