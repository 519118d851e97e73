"""Idempotent mutations: one side effect per (caller, key), whatever the retries.

The first request claims the key with a pending row (the primary key makes the claim
atomic, on SQLite and PostgreSQL alike), performs the side effect, and stores the outcome.
A repeat gets the stored outcome. A concurrent repeat in this process waits on the first
attempt's future; one in another replica polls the row until it is done, or gets
``MutationInProgress``. A failed attempt (the department unreachable, say) releases the key,
so the client may retry: the derived upstream key makes that retry safe upstream too.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hub.store.db import Database
from hub.store.models import IdempotencyRecord
from schema.errors import IdempotencyKeyReused, MutationInProgress


def upstream_key(scope: str, key: str) -> str:
    """What departments see instead of the client's key: stable, opaque, per caller."""
    return "ihub-" + hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()[:32]


class SqlIdempotencyStore:
    """``schema.context.IdempotencyStore`` in the hub's database."""

    def __init__(
        self,
        database: Database,
        *,
        wait_s: float = 10.0,
        poll_s: float = 0.05,
        abandoned_after_s: float = 120.0,
        fingerprint_key: bytes = b"",
    ) -> None:
        self._database = database
        self._fingerprint_key = fingerprint_key
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._abandoned_after = timedelta(seconds=abandoned_after_s)
        self._running: dict[tuple[str, str], tuple[str, asyncio.Future[str]]] = {}

    async def run(
        self,
        *,
        scope: str,
        key: str,
        fingerprint: str,
        perform: Callable[[str], Awaitable[str]],
    ) -> str:
        # keyed, so the table alone does not let anyone test guesses of the arguments (mobiles)
        fingerprint = hmac.new(
            self._fingerprint_key, fingerprint.encode(), hashlib.sha256
        ).hexdigest()
        deadline = time.monotonic() + self._wait_s
        while True:
            running = self._running.get((scope, key))
            if running is not None:
                if running[0] != fingerprint:
                    raise _reused()
                return await asyncio.shield(running[1])
            record = await self._database.run(lambda s: s.get(IdempotencyRecord, (scope, key)))
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise _reused()
                if record.response is not None:
                    return record.response
                if _now() - _aware(record.updated_at) > self._abandoned_after:
                    await self._database.run(
                        partial(_release, scope=scope, key=key, seen=record.updated_at)
                    )
                    continue
                if time.monotonic() >= deadline:
                    raise MutationInProgress(
                        "The first request with this idempotency key is still running."
                    )
                await asyncio.sleep(self._poll_s)
                continue
            if await self._database.run(lambda s: _claim(s, scope, key, fingerprint)):
                return await self._perform(scope, key, fingerprint, perform)

    async def _perform(
        self, scope: str, key: str, fingerprint: str, perform: Callable[[str], Awaitable[str]]
    ) -> str:
        outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._running[(scope, key)] = (fingerprint, outcome)
        try:
            response = await perform(upstream_key(scope, key))
            await self._database.run(lambda s: _complete(s, scope, key, response))
        except BaseException as exc:
            await asyncio.shield(self._database.run(lambda s: _release(s, scope=scope, key=key)))
            outcome.set_exception(exc)
            outcome.exception()  # the waiters, if any, re-raise it; nobody must be warned
            raise
        else:
            outcome.set_result(response)
            return response
        finally:
            del self._running[(scope, key)]


def _reused() -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        "This idempotency key was already used for a different request.", field="idempotencyKey"
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; they were written in UTC
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _claim(session: Session, scope: str, key: str, fingerprint: str) -> bool:
    now = _now()
    session.add(
        IdempotencyRecord(
            scope=scope, key=key, fingerprint=fingerprint, created_at=now, updated_at=now
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def _complete(session: Session, scope: str, key: str, response: str) -> None:
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)  # type: ignore[arg-type]
        .values(response=response, updated_at=_now())
    )
    session.commit()


def _release(session: Session, *, scope: str, key: str, seen: datetime | None = None) -> None:
    """Delete an unfinished claim; with ``seen``, only the abandoned claim read then (another
    replica may meanwhile have released it and claimed the key anew: that claim stays)."""
    statement = delete(IdempotencyRecord).where(
        IdempotencyRecord.scope == scope,  # type: ignore[arg-type]
        IdempotencyRecord.key == key,  # type: ignore[arg-type]
        IdempotencyRecord.response.is_(None),  # type: ignore[union-attr]
    )
    if seen is not None:
        statement = statement.where(IdempotencyRecord.updated_at == seen)  # type: ignore[arg-type]
    session.execute(statement)
    session.commit()
