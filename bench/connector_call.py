"""What one upstream call costs the hub in CPU: a connector's call against a bare aiohttp GET.

    python -m bench.connector_call [--calls 4000] [--concurrency 16] [--rounds 3]

Starts the garbage mock in a process of its own (``bench.mockproc``), then, in this process
on uvloop (as ``ihub serve`` runs), sends GETs to it in rounds that alternate two ways:

- ``bare``: ``session.get(url, params=...)`` and ``read()`` on the hub's kind of session;
- ``connector``: ``Connector._request`` of a ``GarbageConnector`` built as the hub builds it
  (default policy, the hub's Prometheus observer, a request id and the upstream-wait record
  set as during a request), so breaker, bulkhead, quota, coalescing, metrics and timeouts
  all run.

Each call carries its own query parameter, so no two calls are coalesced. Prints the CPU time
of this process per call (``time.process_time``: the mock's CPU is in the other process) for
each way and round, the median of each way, and the difference: the connector's own cost.
``PYTHONPATH=<another checkout> python bench/connector_call.py`` measures that checkout's
connectors with this script (an A/B).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from connectors import tracing
from connectors.garbage import GarbageConnector
from connectors.policy import DepartmentPolicy
from hub.web.operators import HubObserver


def start_mock(state: Path) -> tuple[subprocess.Popen[bytes], str]:
    ready = state / "ready.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.mockproc", "garbage", str(state), str(ready)]
    )
    deadline = time.monotonic() + 30
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the garbage mock did not start")
        time.sleep(0.05)
    return process, json.loads(ready.read_text())["url"]


async def drive(calls: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> float:
    """CPU seconds of this process per call, ``calls`` calls ``concurrency`` at a time."""
    counter = itertools.count()

    async def worker() -> None:
        while (n := next(counter)) < calls:
            await call(n)

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / calls


async def measure(url: str, calls: int, concurrency: int, rounds: int) -> dict[str, list[float]]:
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=64), headers={"User-Agent": "ihub/0.1"}
    )
    connector = GarbageConnector(session, DepartmentPolicy(base_url=url), observer=HubObserver())
    base = url.rstrip("/") + "/api/categories"

    async def bare(n: int) -> None:
        async with session.get(base, params={"n": str(n)}) as answer:
            await answer.read()

    async def through_connector(n: int) -> None:
        tracing.REQUEST_ID.set(f"bench-{n}")
        tracing.UPSTREAM.set(tracing.Waits())
        await connector._request("GET", "/api/categories", params={"n": str(n)})

    ways: dict[str, Callable[[int], Awaitable[None]]] = {
        "bare": bare,
        "connector": through_connector,
    }
    results: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for call in ways.values():  # warm up: connections open, routes seen
            await drive(min(calls, 500), concurrency, call)
        gc.collect()
        gc.freeze()  # as ``ihub serve`` does after start-up (HUB_GC_FREEZE)
        for _ in range(rounds):
            for name, call in ways.items():
                results[name].append(await drive(calls, concurrency, call))
    finally:
        await session.close()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    import uvloop

    with tempfile.TemporaryDirectory(prefix="ihub-connector-call-") as state:
        process, url = start_mock(Path(state))
        try:
            results = uvloop.run(measure(url, args.calls, args.concurrency, args.rounds))
        finally:
            process.terminate()
            process.wait(10)
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, values in results.items():
        rounds = ", ".join(f"{v * 1e6:.0f}" for v in values)
        print(f"{name:>10}: median {medians[name] * 1e6:6.1f} µs CPU/call  (rounds: {rounds})")
    print(f"connector's own cost: {(medians['connector'] - medians['bare']) * 1e6:.1f} µs/call")


if __name__ == "__main__":
    main()
