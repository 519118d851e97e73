"""Start mock applications on loopback ports, for the dev launcher, tests and benchmarks."""

from __future__ import annotations

import errno
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from aiohttp import web


def shanghai_today() -> date:
    return datetime.now(timezone(timedelta(hours=8))).date()


@dataclass(frozen=True)
class MockConfig:
    """What a mock factory gets: the data seed and a directory for state it must keep (keys).

    ``population`` is the size of the government systems' shared population
    (``mocks.common.population``; 1,000 = the hub's residents), ``as_of`` the day their
    boundary cases are dated from (default: today in Shanghai, when the config is made).
    """

    seed: int = 20261127
    state_dir: Path = Path("var/mocks")
    population: int = 1000
    as_of: date = field(default_factory=shanghai_today)


DEV_BASE_PORT = 8100


class PortInUse(OSError):
    """A mock's port is taken by another process (often a second stack on the same base)."""

    def __init__(self, name: str, port: int) -> None:
        super().__init__(errno.EADDRINUSE, f"port {port} (mock {name}) is already in use")
        self.name = name
        self.port = port


@dataclass(frozen=True)
class MockSpec:
    """One department system: its name, port offset from the base and ``module:function``."""

    name: str
    offset: int
    factory: str

    def port(self, base: int = DEV_BASE_PORT) -> int:
        return base + self.offset

    def build(self, config: MockConfig) -> web.Application:
        module_name, _, attr = self.factory.partition(":")
        create: Callable[[MockConfig], web.Application] = getattr(
            importlib.import_module(module_name), attr
        )
        return create(config)


@dataclass
class RunningMocks:
    """Mocks listening on loopback; ``urls`` maps each name to its base URL."""

    urls: dict[str, str] = field(default_factory=dict)
    runners: list[web.AppRunner] = field(default_factory=list)

    async def stop(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()
        forget_stopped_apps()


def forget_stopped_apps() -> None:
    """Let the stopped mocks' data go.

    aiohttp memoises each application's middleware chain in a module-level LRU cache of 1,024
    entries keyed by the application, so every app a process ever served stays alive with all
    it holds. A mock process serves one; the test process starts and stops hundreds (each
    library mock alone holds 15,000 copies), which grew its heap by millions of objects and
    its garbage collector's passes into seconds-long stalls. The cache only saves rebuilding
    a chain, so clearing it costs the running mocks one rebuild each."""
    from aiohttp import web_app

    cached = getattr(web_app, "_cached_build_middleware", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


async def start_mocks(
    specs: Sequence[MockSpec],
    *,
    config: MockConfig | None = None,
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
    base_port: int = DEV_BASE_PORT,
) -> RunningMocks:
    """Start each mock at ``base_port`` + its offset; a port of 0 in ``ports`` picks a free one
    (tests). A port already taken raises ``PortInUse``, after stopping the mocks started."""
    config = config or MockConfig()
    running = RunningMocks()
    try:
        for spec in specs:
            runner = web.AppRunner(spec.build(config), access_log=None)
            await runner.setup()
            running.runners.append(runner)
            port = spec.port(base_port)
            port = port if ports is None else ports.get(spec.name, port)
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUse(spec.name, port) from exc
                raise
            sockets = getattr(site._server, "sockets", None)
            bound = sockets[0].getsockname()[1] if sockets else port
            running.urls[spec.name] = f"http://{host}:{bound}"
    except BaseException:
        await running.stop()
        raise
    return running
