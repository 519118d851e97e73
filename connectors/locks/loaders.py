"""Per-request data loaders for the lock cloud, built fresh for every GraphQL request.

Keys and gateways have no batch endpoint: one call per distinct uid / lock, concurrently.
Locks do: one ``locks_by_ids`` call per batch (the connector splits it into upstream calls of
at most 20 ids and caches details across requests), results aligned to the keys by id,
``None`` for ids the cloud does not know.
"""

from __future__ import annotations

from connectors.loaders import BatchLoader, FanOutLoader
from connectors.locks.client import LocksConnector
from connectors.locks.models import Gateway, Lock, LockKey


class LocksLoaders:
    """Everything a lock resolver reads, for one request."""

    department = "locks"

    def __init__(self, connector: LocksConnector) -> None:
        self.connector = connector
        naive = connector.policy.naive
        self.keys_by_uid: FanOutLoader[str, tuple[LockKey, ...]] = FanOutLoader(
            connector.keys, naive=naive
        )
        self.lock_by_id: BatchLoader[int, Lock] = BatchLoader(connector.locks_by_ids, naive=naive)
        self.gateways_by_lock: FanOutLoader[int, tuple[Gateway, ...]] = FanOutLoader(
            connector.gateways, naive=naive
        )
