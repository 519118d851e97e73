"""Library records as the hub understands them (never the Interlib payloads)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum


class ReaderStatus(Enum):
    VALID = "VALID"
    EXPIRED = "EXPIRED"
    SUSPENDED = "SUSPENDED"


class CirculationStatus(Enum):
    AVAILABLE = "03"
    ON_LOAN = "04"
    ON_HOLD_SHELF = "08"
    LOST = "12"
    MISSING = "13"


class HoldStatus(Enum):
    WAITING = "WAITING"
    READY = "READY"


class SearchField(Enum):
    TITLE = "title"
    AUTHOR = "author"
    ISBN = "isbn"
    KEYWORD = "keyword"


@dataclass(frozen=True)
class Reader:
    card_id: str
    name: str
    certificate_masked: str
    reader_type: str
    home_library: str
    status: ReaderStatus
    max_loans: int
    fine_fen: int


@dataclass(frozen=True)
class Loan:
    barcode: str
    book_id: str
    title: str
    loan_date: date
    due_date: date
    renew_count: int
    renew_limit: int
    overdue: bool


@dataclass(frozen=True)
class Hold:
    book_id: str
    title: str
    pickup_library: str
    status: HoldStatus
    expires: date | None


@dataclass(frozen=True)
class Item:
    """One physical copy."""

    barcode: str
    book_id: str
    call_number: str
    library: str
    location: str
    status: CirculationStatus
    due_date: date | None


@dataclass(frozen=True)
class Book:
    """A catalogue record (a title), shared by its copies."""

    id: str
    isbn: str
    title: str
    author: str
    publisher: str
    year: str
    subjects: tuple[str, ...]
    cover_url: str | None


@dataclass(frozen=True)
class Holding:
    barcode: str
    library: str
    location: str
    call_number: str
    status: CirculationStatus


@dataclass(frozen=True)
class SearchPage:
    total: int
    books: tuple[Book, ...]


@dataclass(frozen=True)
class Return:
    barcode: str
    fine_fen: int
