"""Pure functions: one openlib / OPAC record in, one library record out. No I/O.

Record functions take one upstream object; list functions take the upstream array. Unknown
fields are ignored; a missing or mistyped required field raises ``UpstreamPayloadError``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import Enum
from typing import TypeVar

from connectors.errors import UpstreamPayloadError
from connectors.library.models import (
    Book,
    CirculationStatus,
    Hold,
    Holding,
    HoldStatus,
    Item,
    Loan,
    Reader,
    ReaderStatus,
    Return,
    SearchPage,
)
from connectors.payload import Fields, elements

DEPARTMENT = "library"

E = TypeVar("E", bound=Enum)
T = TypeVar("T")


def _enum(kind: type[E], f: Fields, key: str, record: str) -> E:
    raw = f.text(key)
    try:
        return kind(raw)
    except ValueError as exc:
        raise UpstreamPayloadError(DEPARTMENT, f"{record}.{key}: unknown value {raw!r}") from exc


def _opt_day(f: Fields, key: str) -> date | None:
    return f.day(key) if f.opt_text(key) else None


def _strings(f: Fields, key: str, record: str) -> tuple[str, ...]:
    values = tuple(f.opt_array(key))
    if not all(isinstance(value, str) for value in values):
        raise UpstreamPayloadError(DEPARTMENT, f"{record}.{key}: expected strings")
    return values


def _each(to_record: Callable[[object], T], payload: object, record: str) -> tuple[T, ...]:
    return tuple(to_record(element) for element in elements(payload, DEPARTMENT, record))


def reader(payload: object) -> Reader:
    f = Fields(payload, DEPARTMENT, "reader")
    return Reader(
        card_id=f.text("rdid"),
        name=f.text("rdname"),
        certificate_masked=f.opt_text("rdcertify_masked") or "",
        reader_type=f.opt_text("rdtype") or "",
        home_library=f.opt_text("rdlib") or "",
        status=_enum(ReaderStatus, f, "status", "reader"),
        max_loans=f.integer("max_loans"),
        fine_fen=f.opt_integer("fine_fen") or 0,
    )


def loan(payload: object) -> Loan:
    f = Fields(payload, DEPARTMENT, "loan")
    return Loan(
        barcode=f.text("barcode"),
        book_id=f.text("bookrecno"),
        title=f.opt_text("title") or "",
        loan_date=f.day("loandate"),
        due_date=f.day("returndate"),
        renew_count=f.integer("renewcount"),
        renew_limit=f.integer("renewlimit"),
        overdue=f.flag("overdue"),
    )


def loans(payload: object) -> tuple[Loan, ...]:
    return _each(loan, payload, "loans")


def hold(payload: object) -> Hold:
    f = Fields(payload, DEPARTMENT, "hold")
    return Hold(
        book_id=f.text("bookrecno"),
        title=f.opt_text("title") or "",
        pickup_library=f.opt_text("pickup_lib") or "",
        status=_enum(HoldStatus, f, "status", "hold"),
        expires=_opt_day(f, "expires"),
    )


def holds(payload: object) -> tuple[Hold, ...]:
    return _each(hold, payload, "holds")


def item(payload: object) -> Item:
    f = Fields(payload, DEPARTMENT, "item")
    return Item(
        barcode=f.text("barcode"),
        book_id=f.text("bookrecno"),
        call_number=f.opt_text("callno") or "",
        library=f.opt_text("lib") or "",
        location=f.opt_text("location") or "",
        status=_enum(CirculationStatus, f, "circstatus", "item"),
        due_date=_opt_day(f, "returndate"),
    )


def items(payload: object) -> tuple[Item, ...]:
    return _each(item, payload, "items")


def book(payload: object) -> Book:
    f = Fields(payload, DEPARTMENT, "book")
    return Book(
        id=f.text("bookrecno"),
        isbn=f.opt_text("isbn") or "",
        title=f.text("title"),
        author=f.opt_text("author") or "",
        publisher=f.opt_text("publisher") or "",
        year=f.opt_text("pubyear") or "",
        subjects=_strings(f, "subjects", "book"),
        cover_url=f.opt_text("cover") or None,
    )


def books(payload: object) -> tuple[Book, ...]:
    return _each(book, payload, "books")


def holding(payload: object) -> Holding:
    f = Fields(payload, DEPARTMENT, "holding")
    return Holding(
        barcode=f.text("barcode"),
        library=f.opt_text("lib") or "",
        location=f.opt_text("location") or "",
        call_number=f.opt_text("callno") or "",
        status=_enum(CirculationStatus, f, "circstatus", "holding"),
    )


def holdings(payload: object) -> tuple[Holding, ...]:
    return _each(holding, payload, "holdings")


def search_page(payload: object) -> SearchPage:
    """``{total, page, rows, records: [book]}`` → ``SearchPage``."""
    f = Fields(payload, DEPARTMENT, "search")
    return SearchPage(total=f.integer("total"), books=books(f.array("records")))


def receipt(payload: object, barcode: str) -> Return:
    """The answer to a return, ``{fine_fen}``, for the copy that was handed in."""
    f = Fields(payload, DEPARTMENT, "return")
    return Return(barcode=f.opt_text("barcode") or barcode, fine_fen=f.integer("fine_fen"))
