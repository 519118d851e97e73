"""The database: SQLite embedded by default, PostgreSQL by URL, the same code for both."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Dialect, Engine, event, inspect, text
from sqlmodel import Session, SQLModel, create_engine

from connectors.tracing import Waits, waiting
from hub.store import catalogue, models  # noqa: F401  (registers the tables)

T = TypeVar("T")
logger = logging.getLogger("ihub.database")
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
    "catalogue_item": {"terms": "TEXT", "terms_version": "VARCHAR(32)"},
    "catalogue_sync": {"analysis": "TEXT"},
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
    """The engine plus a way to run blocking sessions off the event loop, and one dedicated
    connection (``writer``) for the hot write path."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer: DedicatedConnection | None = None
        self._reader: DedicatedConnection | None = None

    @property
    def writer(self) -> DedicatedConnection:
        """A connection of its own on a thread of its own, made on first use."""
        if self._writer is None:
            self._writer = DedicatedConnection(self.engine)
        return self._writer

    async def read(self, work: Callable[[Any], T]) -> T:
        """``work(cursor)`` on a second kept connection with a thread of its own, for the
        reads every home screen makes (the resident's bank appointment links): a third of
        the CPU of a Session from the pool on the shared thread pool (~110 against ~310 µs
        a read here). Each read ends its transaction, so the next sees every commit."""
        if self._reader is None:
            self._reader = DedicatedConnection(self.engine, name="ihub-db-reader")
        with waiting(DATABASE):
            return await self._reader.transaction(work)

    def close(self) -> None:
        """Close the dedicated connections (the pool's are the engine's to dispose)."""
        for kept in (self._writer, self._reader):
            if kept is not None:
                kept.close()
        self._writer = self._reader = None

    async def run(self, work: Callable[[Session], T]) -> T:
        def in_thread() -> T:
            with Session(self.engine) as session:
                return work(session)

        with waiting(DATABASE):
            return await asyncio.to_thread(in_thread)

    async def ping(self) -> None:
        await asyncio.to_thread(ping, self.engine)


class _Disconnected(Exception):
    """The connection was found gone before the commit; ``error`` says how."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Compiled:
    """A statement compiled once for a dialect: its SQL and the order of its parameters
    (positional for sqlite3's ``?``, by name for psycopg's ``%(name)s``)."""

    def __init__(
        self, statement: Any, dialect: Dialect, columns: tuple[str, ...] | None = None
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=columns)
        self.sql = str(compiled)
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positional else None
        )

    def _params(self, values: dict[str, Any]) -> Any:
        return values if self.order is None else tuple(values[name] for name in self.order)

    def execute(self, cursor: Any, values: dict[str, Any]) -> None:
        cursor.execute(self.sql, self._params(values))

    def execute_many(self, cursor: Any, rows: list[dict[str, Any]]) -> None:
        cursor.executemany(self.sql, [self._params(row) for row in rows])


class DedicatedConnection:
    """One DBAPI connection, kept, on one thread of its own: ``transaction(work)`` runs
    ``work(cursor)`` there and commits (or rolls back and re-raises).

    For the write every personal answer waits for (the audit chain's group commit), the
    Session/ORM path cost more CPU than the write itself: a pool checkout (a ping on
    PostgreSQL), a Session, SQLAlchemy's statement execution, and a hop onto the shared
    thread pool. Here the statements go straight to the driver on a connection that stays
    open; one thread means one transaction at a time, which a chain append is anyway.
    A connection that fails is dropped and the next transaction opens a new one; a
    transaction that found its kept connection gone before it committed (a database
    restart) is run once more on a new one.
    """

    def __init__(self, engine: Engine, *, name: str = "ihub-db-writer") -> None:
        self.engine = engine
        self.transactions = 0
        """Transactions begun (each retry on a new connection counts)."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._connection: Any = None

    async def transaction(self, work: Callable[[Any], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, work)

    def _run(self, work: Callable[[Any], T]) -> T:
        kept = self._connection is not None
        try:
            return self._once(work)
        except _Disconnected as gone:
            if not kept:
                raise gone.error from None
            logger.warning("the dedicated database connection was gone; opened a new one")
            try:
                return self._once(work)  # nothing was committed: the connection died first
            except _Disconnected as again:
                raise again.error from None

    def _once(self, work: Callable[[Any], T]) -> T:
        if self._connection is None:
            self._connection = self.engine.raw_connection()
        connection = self._connection
        self.transactions += 1
        cursor = connection.cursor()
        try:
            result = work(cursor)
        except self.engine.dialect.loaded_dbapi.Error as exc:
            if self.engine.dialect.is_disconnect(exc, connection.dbapi_connection, cursor):
                self._drop()
                raise _Disconnected(exc) from exc
            self._rollback()
            raise
        except BaseException:
            self._rollback()
            raise
        finally:
            with contextlib.suppress(Exception):
                cursor.close()
        try:
            connection.commit()
        except Exception:
            self._drop()  # whether it committed is unknown: it is never run again
            raise
        return result

    def _rollback(self) -> None:
        try:
            self._connection.rollback()
        except Exception:
            self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.invalidate()

    def close(self) -> None:
        def closing() -> None:
            connection, self._connection = self._connection, None
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.close()

        self._executor.submit(closing).result()
        self._executor.shutdown(wait=True)
