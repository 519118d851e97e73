"""The load generator: an aiohttp client in a process of its own.

    python -m bench.loadgen            one JSON spec per stdin line, one JSON result per stdout line
    python -m bench.loadgen SPEC.json  one run, the result on stdout

A spec::

    {"url": "http://127.0.0.1:8000", "requests": [{"method": "POST", "path": "/graphql",
     "headers": {...}, "body": "..."}, ...],            # sent round-robin
     "mode": "closed" | "open" | "burst",
     "concurrency": 64,     # closed: clients, each waiting for its answer; burst: requests at once
     "rate": 300,           # open: arrivals per second, whatever the answers do
     "duration_s": 5, "max_requests": 100000, "timeout_s": 30, "max_in_flight": 2000,
     "warm": true}          # open the connections first (GET /healthz), so none is opened mid-run

Closed loop measures throughput at a fixed concurrency. Open loop measures latency at a fixed
arrival rate from each request's *scheduled* start (no coordinated omission); arrivals that
would exceed ``max_in_flight`` are dropped and counted. Burst sends ``concurrency`` requests at
the same moment over already-open connections. An answer is good when it is HTTP 200 and
carries no ``"errors"`` key. Every loop is bounded by count and by time.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

ERROR_SAMPLES = 5
_UPSTREAM = re.compile(r"\bupstream;dur=([0-9.]+)")
_DATABASE = re.compile(r"\bdb;dur=([0-9.]+)")
"""The hub's ``Server-Timing`` entries: waits for departments and for its database (ms)."""


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    overheads: list[float] = field(default_factory=list)
    """Per request: latency minus the time the hub reports waiting for departments."""
    database: list[float] = field(default_factory=list)
    """Per request: the time the hub reports waiting for its own database."""
    ok: int = 0
    errors: int = 0
    dropped: int = 0
    samples: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.samples) < ERROR_SAMPLES:
            self.samples.append(text[:400])


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(latencies: Sequence[float]) -> dict[str, float | None]:
    ordered = sorted(latencies)
    result: dict[str, float | None] = {
        f"p{q:g}": percentile(ordered, q) for q in (50, 90, 99, 99.9)
    }
    result["max"] = ordered[-1] if ordered else None
    result["mean"] = sum(ordered) / len(ordered) if ordered else None
    return {k: round(v, 3) if v is not None else None for k, v in result.items()}


async def _send(
    session: aiohttp.ClientSession,
    base: str,
    request: Mapping[str, Any],
    tally: Tally,
    started: float,
) -> None:
    try:
        async with session.request(
            request.get("method", "POST"),
            base + request.get("path", "/graphql"),
            headers=request.get("headers"),
            data=request.get("body"),
        ) as response:
            body = await response.read()
            status = response.status
            timing = response.headers.get("Server-Timing", "")
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.error(f"{type(exc).__name__}: {exc}")
        return
    latency = (time.perf_counter() - started) * 1000
    tally.latencies.append(latency)
    upstream, database = _UPSTREAM.search(timing), _DATABASE.search(timing)
    if upstream is not None:
        tally.overheads.append(latency - float(upstream.group(1)))
    if database is not None:
        tally.database.append(float(database.group(1)))
    found = body.find(b'"errors"')
    if status != 200 or found >= 0:
        excerpt = body[max(found, 0) : max(found, 0) + 300].decode(errors="replace")
        tally.error(f"HTTP {status}: {excerpt}")
    else:
        tally.ok += 1


async def _warm(session: aiohttp.ClientSession, base: str, connections: int) -> None:
    async def ping() -> None:
        async with session.get(base + "/healthz") as response:
            await response.read()

    await asyncio.gather(*(ping() for _ in range(connections)), return_exceptions=True)


async def run(spec: Mapping[str, Any]) -> dict[str, Any]:
    base = str(spec["url"]).rstrip("/")
    if not base.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError("the load generator only targets loopback")
    requests: list[Mapping[str, Any]] = list(spec["requests"])
    mode = spec.get("mode", "closed")
    concurrency = int(spec.get("concurrency", 1))
    duration_s = float(spec.get("duration_s", 5))
    max_requests = int(spec.get("max_requests", 1_000_000))
    timeout = aiohttp.ClientTimeout(total=float(spec.get("timeout_s", 30)))
    connections = concurrency if mode != "open" else int(spec.get("max_connections", 512))
    # close idle connections before uvicorn does (its keep-alive timeout is 5 s): reusing a
    # connection the server is closing fails the request on the client side only
    connector = aiohttp.TCPConnector(
        limit=connections, limit_per_host=connections, keepalive_timeout=3.0
    )
    tally = Tally()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if spec.get("warm", True):
            await _warm(session, base, min(connections, 1000))
        began = time.perf_counter()
        if mode == "closed":
            await _closed(session, base, requests, tally, concurrency, duration_s, max_requests)
        elif mode == "open":
            rate = float(spec["rate"])
            cap = int(spec.get("max_in_flight", 2000))
            await _open(session, base, requests, tally, rate, duration_s, max_requests, cap)
        elif mode == "burst":
            await _burst(session, base, requests, tally, concurrency)
        else:
            raise ValueError(f"unknown mode {mode!r}")
        elapsed = time.perf_counter() - began
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    done = tally.ok + tally.errors
    return {
        "mode": mode,
        "concurrency": concurrency,
        "rate": spec.get("rate"),
        "requests": done,
        "ok": tally.ok,
        "errors": tally.errors,
        "dropped": tally.dropped,
        "error_samples": tally.samples,
        "elapsed_s": round(elapsed, 3),
        "throughput_rps": round(done / elapsed, 1) if elapsed > 0 else None,
        "latency_ms": summary(tally.latencies),
        "overhead_ms": summary(tally.overheads),
        "database_wait_ms": summary(tally.database),
        "loadgen_cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 3),
    }


async def _closed(
    session: aiohttp.ClientSession,
    base: str,
    requests: Sequence[Mapping[str, Any]],
    tally: Tally,
    concurrency: int,
    duration_s: float,
    max_requests: int,
) -> None:
    deadline = time.perf_counter() + duration_s
    issued = 0

    async def client() -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            # one shared sequence: the requests in flight at once are consecutive, so distinct
            # whenever there are at least as many requests as clients
            request = requests[issued % len(requests)]
            issued += 1
            await _send(session, base, request, tally, time.perf_counter())

    await asyncio.gather(*(client() for _ in range(concurrency)))


async def _open(
    session: aiohttp.ClientSession,
    base: str,
    requests: Sequence[Mapping[str, Any]],
    tally: Tally,
    rate: float,
    duration_s: float,
    max_requests: int,
    cap: int,
) -> None:
    total = min(max_requests, int(rate * duration_s))
    in_flight: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.02
    for n in range(total):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= cap:
            tally.dropped += 1
            continue
        task = asyncio.ensure_future(
            _send(session, base, requests[n % len(requests)], tally, scheduled)
        )
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight)


async def _burst(
    session: aiohttp.ClientSession,
    base: str,
    requests: Sequence[Mapping[str, Any]],
    tally: Tally,
    count: int,
) -> None:
    go = asyncio.Event()

    async def one(n: int) -> None:
        await go.wait()
        await _send(session, base, requests[n % len(requests)], tally, time.perf_counter())

    tasks = [asyncio.ensure_future(one(n)) for n in range(count)]
    await asyncio.sleep(0.05)
    go.set()
    await asyncio.gather(*tasks)


def _loop_run(spec: Mapping[str, Any]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run(spec))
    return uvloop.run(run(spec))


def main(argv: list[str]) -> int:
    if argv:
        with open(argv[0], encoding="utf-8") as source:
            print(json.dumps(_loop_run(json.load(source))), flush=True)
        return 0
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            result = _loop_run(json.loads(line))
        except Exception as exc:  # report, keep serving: the harness decides what to do
            result = {"failed": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
