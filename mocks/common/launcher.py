"""Start mock applications on loopback ports, for the dev launcher, tests and benchmarks."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web


@dataclass(frozen=True)
class MockConfig:
    """What a mock factory gets: the data seed and a directory for state it must keep (keys)."""

    seed: int = 20261127
    state_dir: Path = Path("var/mocks")


@dataclass(frozen=True)
class MockSpec:
    """One department system: its name, dev port and ``module:function`` factory."""

    name: str
    port: int
    factory: str

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


async def start_mocks(
    specs: Sequence[MockSpec],
    *,
    config: MockConfig | None = None,
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
) -> RunningMocks:
    """Start each mock; a port of 0 in ``ports`` picks a free one (tests)."""
    config = config or MockConfig()
    running = RunningMocks()
    try:
        for spec in specs:
            runner = web.AppRunner(spec.build(config), access_log=None)
            await runner.setup()
            running.runners.append(runner)
            port = spec.port if ports is None else ports.get(spec.name, spec.port)
            site = web.TCPSite(runner, host, port)
            await site.start()
            sockets = getattr(site._server, "sockets", None)
            bound = sockets[0].getsockname()[1] if sockets else port
            running.urls[spec.name] = f"http://{host}:{bound}"
    except BaseException:
        await running.stop()
        raise
    return running
