"""Per-request data loaders for the library, built fresh for every GraphQL request.

Reader, loans and holds have no batch endpoint: one call per distinct card, concurrently.
Copies and catalogue records do: one ``items_by_barcodes`` / ``books_by_ids`` call per batch
(the connector splits it into upstream calls of at most 50 and caches records across
requests), results aligned to the keys by key, ``None`` for ids the library does not know.
"""

from __future__ import annotations

from connectors.library.client import LibraryConnector
from connectors.library.models import Book, Hold, Item, Loan, Reader
from connectors.loaders import BatchLoader, FanOutLoader


class LibraryLoaders:
    """Everything a library resolver reads, for one request."""

    department = "library"

    def __init__(self, connector: LibraryConnector) -> None:
        self.connector = connector
        naive = connector.policy.naive
        self.reader_by_card: FanOutLoader[str, Reader | None] = FanOutLoader(
            connector.reader, naive=naive
        )
        self.loans_by_card: FanOutLoader[str, tuple[Loan, ...]] = FanOutLoader(
            connector.loans, naive=naive
        )
        self.holds_by_card: FanOutLoader[str, tuple[Hold, ...]] = FanOutLoader(
            connector.holds, naive=naive
        )
        self.item_by_barcode: BatchLoader[str, Item] = BatchLoader(
            connector.items_by_barcodes, naive=naive
        )
        self.book_by_id: BatchLoader[str, Book] = BatchLoader(connector.books_by_ids, naive=naive)
