"""Per-request data loaders for garbage sorting, built fresh for every GraphQL request.

The CMS has no batch endpoint, so each loader fans one call out per distinct key (the loader
de-duplicates within the request; the connector's cache and single-flight span requests).
Results are aligned to keys; a failure for one key is returned as that key's exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from aiodataloader import DataLoader

from connectors.garbage.client import GarbageConnector
from connectors.garbage.models import Article, Classification, CollectionPoint

K = TypeVar("K")
V = TypeVar("V")


class FanOutLoader(DataLoader[K, V], Generic[K, V]):
    """One call per key, concurrently; per-key failures stay per key (and are not cached)."""

    def __init__(self, load_one: Callable[[K], Awaitable[V]]) -> None:
        super().__init__()
        self._load_one = load_one

    # aiodataloader resolves a key whose value is an exception by raising it (its stub says
    # values only)
    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | BaseException]:  # type: ignore[override]
        answers = await asyncio.gather(
            *(self._load_one(key) for key in keys), return_exceptions=True
        )
        for key, answer in zip(keys, answers, strict=True):
            if isinstance(answer, BaseException):
                self.clear(key)
        return list(answers)


class GarbageLoaders:
    """Everything a garbage-sorting resolver reads, for one request."""

    department = "garbage"

    def __init__(self, connector: GarbageConnector) -> None:
        self.connector = connector
        self.classification_by_query: FanOutLoader[str, Classification] = FanOutLoader(
            connector.classify
        )
        self.article_by_id: FanOutLoader[str, Article | None] = FanOutLoader(connector.article)
        self.collection_points_by_community: FanOutLoader[str, tuple[CollectionPoint, ...]] = (
            FanOutLoader(connector.collection_points)
        )
