"""Stale-if-error bookkeeping: which answers of this request were served stale, and why.

When a department fails but a cache holds an answer younger than the department's
``stale_if_error_s``, the cache serves it and calls ``record_stale``. The records go to the
collector of the current context (``collecting()``, opened once per GraphQL operation by
``schema.extensions.Degradation``), which tells the client in ``extensions.degraded``.

A ``ContextVar`` holding a list: tasks started during the operation (resolvers, loader
batches) copy the context, and with it the same list, so their records land in it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from connectors.errors import ConnectorError, Refused, UpstreamNotFound


@dataclass(frozen=True)
class StaleServe:
    """An answer served from cache because ``error`` prevented a fresh one."""

    department: str
    age_s: float
    error: ConnectorError


_SERVES: ContextVar[list[StaleServe] | None] = ContextVar("ihub_stale_serves", default=None)


def may_serve_stale(error: BaseException) -> bool:
    """Failures of the department, not answers: "not found" and refusals are never hidden."""
    return isinstance(error, ConnectorError) and not isinstance(error, UpstreamNotFound | Refused)


def record_stale(serve: StaleServe) -> None:
    """Note a stale answer for the current operation (nothing happens outside one)."""
    serves = _SERVES.get()
    if serves is not None:
        serves.append(serve)


@contextmanager
def collecting() -> Iterator[list[StaleServe]]:
    """Collect the stale answers served within the block (and the tasks it starts)."""
    serves: list[StaleServe] = []
    token = _SERVES.set(serves)
    try:
        yield serves
    finally:
        _SERVES.reset(token)


def oldest_per_department(serves: Iterable[StaleServe]) -> list[StaleServe]:
    """One record per department, the oldest answer it served, in first-seen order."""
    worst: dict[str, StaleServe] = {}
    for serve in serves:
        seen = worst.get(serve.department)
        if seen is None or serve.age_s > seen.age_s:
            worst[serve.department] = serve
    return list(worst.values())
