"""The database: SQLite embedded by default, PostgreSQL by URL, the same code for both."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, event, inspect, text
from sqlmodel import Session, SQLModel, create_engine

from connectors.tracing import Waits, waiting
from hub.store import catalogue, models  # noqa: F401  (registers the tables)

T = TypeVar("T")
_INIT_LOCK = 0x1B0B_1A17
"""The advisory lock key the table set-up takes on PostgreSQL (any constant of the hub's)."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # with WAL, NORMAL syncs at checkpoints rather than on every commit: a commit survives the
    # process crashing, and only an OS crash or power loss can lose the last ones (never
    # corrupt the file). FULL cost an fsync per request (the audit record).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_tables(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine)
    _add_columns(engine)


ADDED_COLUMNS = {
    "audit_record": {"consents": "TEXT"},
    "consent_filing": {"decision_id": "VARCHAR(40)", "refusal": "VARCHAR(32)"},
    "approval_grant": {"state": "VARCHAR(8)", "amount_fen": "INTEGER", "claimed_at": "TIMESTAMP"},
    "offer": {"outcome_id": "VARCHAR(40)"},
    "offer_delivery": {"decision_id": "VARCHAR(40)"},
}
"""Nullable columns added to tables that databases of earlier versions already have."""


def _add_columns(engine: Engine) -> None:
    """Add the ``ADDED_COLUMNS`` an existing table lacks (``create_all`` never alters)."""
    inspector = inspect(engine)
    for table, columns in ADDED_COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        missing = {name: kind for name, kind in columns.items() if name not in present}
        if missing:
            with engine.begin() as connection:
                for name, kind in missing.items():
                    connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))


@contextlib.contextmanager
def initialising(engine: Engine) -> Iterator[None]:
    """Held while a process creates the tables and seeds them: several replicas (or uvicorn
    workers) starting together on one database take turns, so that none sees a half-created
    schema or seeds what another is seeding. PostgreSQL: a session advisory lock on a
    connection of its own; SQLite: an exclusive ``flock`` on a file beside the database.
    Blocking."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _INIT_LOCK})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _INIT_LOCK})
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.init-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def drop_tables(engine: Engine) -> None:
    SQLModel.metadata.drop_all(engine)


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


DATABASE: ContextVar[Waits | None] = ContextVar("ihub_database_waits", default=None)
"""The moments the request being served waited for the hub's own database (Server-Timing)."""


class Database:
    """The engine plus a way to run blocking sessions off the event loop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def run(self, work: Callable[[Session], T]) -> T:
        def in_thread() -> T:
            with Session(self.engine) as session:
                return work(session)

        with waiting(DATABASE):
            return await asyncio.to_thread(in_thread)

    async def ping(self) -> None:
        await asyncio.to_thread(ping, self.engine)
