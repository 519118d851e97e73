"""District library (罗湖区图书馆, Interlib-style openlib): readers, loans, holds, catalogue."""

from connectors.library.client import LibraryConnector
from connectors.library.loaders import LibraryLoaders

__all__ = ["LibraryConnector", "LibraryLoaders"]
