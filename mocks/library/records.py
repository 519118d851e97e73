"""The library's records and circulation constants: books, items, readers, loans, holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

LOAN_DAYS = 31
RENEW_LIMIT = 1
MAX_LOANS = 10
FINE_PER_DAY_FEN = 30
FINE_CAP_FEN = 1000
HOLD_SHELF_DAYS = 7

AVAILABLE = "03"
ON_LOAN = "04"
HOLD_SHELF = "08"
LOST = "12"
MISSING = "13"


def iso(day: date | None) -> str | None:
    """Dates travel as ``YYYY-MM-DD``."""
    return None if day is None else day.isoformat()


@dataclass(frozen=True, slots=True)
class Book:
    """A bibliographic record; ``callno`` is shared by its copies and not part of the answer."""

    bookrecno: str
    isbn: str
    title: str
    author: str
    publisher: str
    pubyear: str
    subjects: tuple[str, ...]
    cover: str
    callno: str

    def as_json(self) -> dict[str, object]:
        return {
            "bookrecno": self.bookrecno,
            "isbn": self.isbn,
            "title": self.title,
            "author": self.author,
            "publisher": self.publisher,
            "pubyear": self.pubyear,
            "subjects": list(self.subjects),
            "cover": self.cover,
        }


@dataclass(slots=True)
class Loan:
    """One copy lent to one reader."""

    rdid: str
    barcode: str
    bookrecno: str
    title: str
    loandate: date
    returndate: date
    renewcount: int = 0
    renewlimit: int = RENEW_LIMIT

    def overdue_days(self, today: date) -> int:
        return max((today - self.returndate).days, 0)

    def fine_fen(self, today: date) -> int:
        return min(self.overdue_days(today) * FINE_PER_DAY_FEN, FINE_CAP_FEN)

    def as_json(self, today: date) -> dict[str, object]:
        return {
            "barcode": self.barcode,
            "bookrecno": self.bookrecno,
            "title": self.title,
            "loandate": iso(self.loandate),
            "returndate": iso(self.returndate),
            "renewcount": self.renewcount,
            "renewlimit": self.renewlimit,
            "overdue": self.returndate < today,
        }


@dataclass(slots=True, eq=False)
class Hold:
    """A title-level hold: ``WAITING`` for a copy, or ``READY`` with ``barcode`` on the shelf."""

    rdid: str
    bookrecno: str
    title: str
    pickup_lib: str
    status: str
    expires: date
    barcode: str | None = None

    def active(self, today: date) -> bool:
        return self.expires >= today

    def as_json(self) -> dict[str, object]:
        return {
            "bookrecno": self.bookrecno,
            "title": self.title,
            "pickup_lib": self.pickup_lib,
            "status": self.status,
            "expires": iso(self.expires),
        }


@dataclass(slots=True)
class Item:
    """One physical copy; ``loan`` and ``ready_hold`` link it to circulation state."""

    barcode: str
    bookrecno: str
    callno: str
    lib: str
    location: str
    circstatus: str
    loan: Loan | None = None
    ready_hold: Hold | None = None

    def status(self, today: date) -> str:
        # A READY hold that nobody collected lapses by itself: the copy is back on the shelf.
        if self.circstatus == HOLD_SHELF and (
            self.ready_hold is None or not self.ready_hold.active(today)
        ):
            return AVAILABLE
        return self.circstatus

    def as_json(self, today: date) -> dict[str, object]:
        return {
            "barcode": self.barcode,
            "bookrecno": self.bookrecno,
            "callno": self.callno,
            "lib": self.lib,
            "location": self.location,
            "circstatus": self.status(today),
            "returndate": iso(self.loan.returndate) if self.loan else None,
        }

    def holding_json(self, today: date) -> dict[str, object]:
        return {
            "barcode": self.barcode,
            "lib": self.lib,
            "location": self.location,
            "callno": self.callno,
            "circstatus": self.status(today),
        }


@dataclass(slots=True)
class Reader:
    """A library card; ``loans`` is keyed by barcode."""

    rdid: str
    rdname: str
    rdcertify: str
    rdtype: str
    rdlib: str
    status: str = "VALID"
    max_loans: int = MAX_LOANS
    fine_fen: int = 0
    loans: dict[str, Loan] = field(default_factory=dict)
    holds: list[Hold] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "rdid": self.rdid,
            "rdname": self.rdname,
            "rdcertify_masked": f"{self.rdcertify[:4]}{'*' * 10}{self.rdcertify[-4:]}",
            "rdtype": self.rdtype,
            "rdlib": self.rdlib,
            "status": self.status,
            "max_loans": self.max_loans,
            "fine_fen": self.fine_fen,
        }
