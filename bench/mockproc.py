"""One department mock in a process of its own, on a loopback port.

    python -m bench.mockproc NAME STATE_DIR READY_FILE [PORT]

Writes ``{"name": ..., "url": ...}`` to READY_FILE once listening (port 0: a free one) and
serves until SIGTERM or SIGINT. Uses uvloop when installed, so the mocks spend as little of the
machine's CPU as they can: they stand for department systems running elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from mocks.common.launcher import MockConfig, start_mocks
from mocks.registry import MOCKS


async def serve(name: str, state_dir: Path, ready: Path, port: int) -> None:
    specs = [spec for spec in MOCKS if spec.name == name]
    if not specs:
        raise SystemExit(f"unknown mock {name!r}: one of {[s.name for s in MOCKS]}")
    # the government mocks' population: HUB_MOCKS_POPULATION (100,000 or 1,000,000 for benchmarks)
    population = int(os.environ.get("HUB_MOCKS_POPULATION") or 1000)
    config = MockConfig(state_dir=state_dir, population=population)
    running = await start_mocks(specs, config=config, ports={name: port})
    try:
        partial = ready.with_suffix(".partial")
        partial.write_text(json.dumps({"name": name, "url": running.urls[name]}))
        partial.replace(ready)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await running.stop()


def main(argv: list[str]) -> None:
    name, state_dir, ready = argv[0], Path(argv[1]), Path(argv[2])
    port = int(argv[3]) if len(argv) > 3 else 0
    coroutine = serve(name, state_dir, ready, port)
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


if __name__ == "__main__":
    main(sys.argv[1:])
