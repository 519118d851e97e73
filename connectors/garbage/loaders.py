"""Per-request data loaders for garbage sorting, built fresh for every GraphQL request.

The CMS has no batch endpoint, so each loader fans one call out per distinct key (the loader
de-duplicates within the request; the connector's cache and single-flight span requests).
Results are aligned to keys; a failure for one key is returned as that key's exception.
"""

from __future__ import annotations

from connectors.garbage.client import GarbageConnector
from connectors.garbage.models import Article, Classification, CollectionPoint
from connectors.loaders import FanOutLoader


class GarbageLoaders:
    """Everything a garbage-sorting resolver reads, for one request."""

    department = "garbage"

    def __init__(self, connector: GarbageConnector) -> None:
        self.connector = connector
        naive = connector.policy.naive
        self.classification_by_query: FanOutLoader[str, Classification] = FanOutLoader(
            connector.classify, naive=naive
        )
        self.article_by_id: FanOutLoader[str, Article | None] = FanOutLoader(
            connector.article, naive=naive
        )
        self.collection_points_by_community: FanOutLoader[str, tuple[CollectionPoint, ...]] = (
            FanOutLoader(connector.collection_points, naive=naive)
        )
