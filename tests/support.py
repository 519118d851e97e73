"""Test harness: real servers on loopback ports, in background threads.

- ``BackgroundMocks``: every registered mock on a free port, in its own event loop/thread,
  so sync and async tests alike reach it over real HTTP.
- ``LiveHub``: the hub under uvicorn on a free port, built by ``create_app(settings)``.
- ``MockAdmin``: the mocks' admin surface (stats, faults) from a test.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import uvicorn

from hub.web.protocol import HubHttpProtocol
from mocks.common.launcher import MockConfig, MockSpec, RunningMocks, start_mocks

T = TypeVar("T")


async def until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition()`` holds (bounded: never a timed sleep)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


@contextmanager
def counted_tasks() -> Iterator[Counter[str]]:
    """The tasks created on the running loop meanwhile, by their coroutine's ``__name__``."""
    loop = asyncio.get_running_loop()
    created: Counter[str] = Counter()

    def factory(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kw: Any) -> Any:
        created[coro.__name__] += 1
        return asyncio.Task(coro, loop=loop, **kw)

    loop.set_task_factory(factory)
    try:
        yield created
    finally:
        loop.set_task_factory(None)


class BackgroundLoop:
    """An event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class BackgroundMocks:
    """Mocks listening on free loopback ports until ``close()``."""

    def __init__(self, specs: tuple[MockSpec, ...], config: MockConfig) -> None:
        self.state_dir = config.state_dir  # where the bank mocks keep their keys
        self._loop = BackgroundLoop()
        ports = {spec.name: 0 for spec in specs}
        self._running: RunningMocks = self._loop.run(start_mocks(specs, config=config, ports=ports))
        self.urls: Mapping[str, str] = dict(self._running.urls)

    def close(self) -> None:
        self._loop.run(self._running.stop())
        self._loop.close()


@dataclass
class MockAdmin:
    """Read counters and inject faults on one running mock."""

    url: str

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/__admin/stats").raise_for_status().json()

    def calls(self, endpoint: str) -> int:
        return int(self.stats()["requests"].get(endpoint, 0))

    def answers(self, endpoint: str, status: int) -> int:
        return int(self.stats()["responses"].get(f"{endpoint} {status}", 0))

    def total(self) -> int:
        return int(self.stats()["total"])

    def reset(self) -> None:
        httpx.post(f"{self.url}/__admin/stats/reset").raise_for_status()

    def faults(self, **faults: object) -> None:
        httpx.post(f"{self.url}/__admin/faults", json=faults).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.url}/__admin/faults").raise_for_status()


class LiveHub:
    """The hub served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Any, *, port: int = 0) -> None:
        """``port`` 0: any free one (a hub that must know its address picks one first)."""
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            http=HubHttpProtocol,  # as the hub serves in production (hub.cli)
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._thread.start()
        deadline = threading.Event()
        for _ in range(400):
            if self.server.started:
                break
            deadline.wait(0.025)
        if not self.server.started:
            raise RuntimeError("the hub did not start")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def graphql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return self.client.post("/graphql", json=body, headers=sent)

    def close(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self._thread.join(timeout=15)
