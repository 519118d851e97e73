"""Garbage-sorting content service (垃圾分类): categories, dictionary, articles, points, events."""

from connectors.garbage.client import GarbageConnector
from connectors.garbage.loaders import GarbageLoaders

__all__ = ["GarbageConnector", "GarbageLoaders"]
