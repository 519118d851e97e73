"""The hub as uvicorn sees it in the benchmarks, and the database set-up before it starts.

    uvicorn --factory bench.app:create          the hub, configured by HUB_* (Settings.from_env)
    python -m bench.app serve PORT WORKERS      the same under ``ihub serve --workers``' supervisor
                                                (a socket per worker, hub.cli.workers)
    python -m bench.app prepare [R:BANK:NO …]   create and seed the database, link appointments

``prepare`` runs the hub's own lifespan once, so that several uvicorn workers start on a
seeded database instead of racing to seed it, and links bank appointments booked earlier to
residents (the home screen then reaches all five departments on a fresh hub).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from sqlmodel import Session
from starlette.applications import Starlette

from hub.app import create_app
from hub.settings import Settings
from hub.store.db import make_engine
from hub.store.models import WindowAppointment


def create() -> Starlette:
    """uvicorn's ``--factory`` entry point: the hub built from the environment."""
    return create_app(Settings.from_env())


async def _prepare(links: list[tuple[str, str, str]]) -> None:
    settings = Settings.from_env()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        pass
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            for resident, bank, number in links:
                if session.get(WindowAppointment, (bank, number)) is None:
                    session.add(
                        WindowAppointment(
                            bank=bank,
                            number=number,
                            resident_id=resident,
                            created_at=datetime.now(UTC),
                        )
                    )
            session.commit()
    finally:
        engine.dispose()


def serve(port: int, workers: int) -> None:
    """``workers`` workers on 127.0.0.1:``port`` as ``ihub serve --workers`` runs them, with
    the bench's uvicorn options (no access log, a deep backlog, a short graceful stop)."""
    import uvicorn

    from hub.cli import workers as supervisor
    from hub.cli.sockets import bind_workers
    from hub.web.protocol import HubHttpProtocol

    config = uvicorn.Config(
        "bench.app:create",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        backlog=4096,
        timeout_graceful_shutdown=3,
        http=HubHttpProtocol,
    )
    sockets = bind_workers("127.0.0.1", port, workers, busy=lambda p: f"port {p} is in use")
    supervisor.serve(config, sockets)


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) == 3:
        serve(int(argv[1]), int(argv[2]))
        return 0
    if not argv or argv[0] != "prepare":
        print(__doc__, file=sys.stderr)
        return 2
    links = [tuple(link.split(":", 2)) for link in argv[1:]]
    asyncio.run(_prepare([(r, b, n) for r, b, n in links]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
