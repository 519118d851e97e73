"""District smart door locks (TTLock-style lock cloud): residents' keys, locks, remote unlocks."""

from connectors.locks.client import LocksConnector
from connectors.locks.loaders import LocksLoaders

__all__ = ["LocksConnector", "LocksLoaders"]
