"""Circulation rules: lend, renew and return against the library's in-memory state."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from mocks.library.clock import Clock
from mocks.library.records import (
    AVAILABLE,
    HOLD_SHELF,
    HOLD_SHELF_DAYS,
    LOAN_DAYS,
    ON_LOAN,
    Book,
    Hold,
    Item,
    Loan,
    Reader,
)


@dataclass(frozen=True)
class Outcome:
    """A business answer: an ``R…`` code on success, an ``E…`` code on refusal."""

    code: str
    message: str
    payload: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code.startswith("R")


def _refuse(code: str, message: str) -> Outcome:
    return Outcome(code, message)


class Library:
    """Books, copies, readers, loans and holds, indexed for O(1) look-ups."""

    def __init__(
        self, books: Iterable[Book], items: Iterable[Item], readers: Iterable[Reader], clock: Clock
    ) -> None:
        self.clock = clock
        self.books = {book.bookrecno: book for book in books}
        self.items = {item.barcode: item for item in items}
        self.readers = {reader.rdid: reader for reader in readers}
        self.by_certify = {reader.rdcertify: reader for reader in self.readers.values()}
        self.copies: defaultdict[str, list[Item]] = defaultdict(list)
        for item in self.items.values():
            self.copies[item.bookrecno].append(item)
        # WAITING holds per bookrecno, in queue order.
        self.waiting: defaultdict[str, list[Hold]] = defaultdict(list)

    def today(self) -> date:
        return self.clock.today()

    def place_loan(
        self, reader: Reader, item: Item, loandate: date, returndate: date, renewcount: int = 0
    ) -> Loan:
        """Record a loan with no rule checks (seeding and the lend rule share it)."""
        book = self.books[item.bookrecno]
        loan = Loan(reader.rdid, item.barcode, item.bookrecno, book.title, loandate, returndate)
        loan.renewcount = renewcount
        reader.loans[item.barcode] = loan
        item.loan, item.circstatus, item.ready_hold = loan, ON_LOAN, None
        return loan

    def place_hold(
        self, reader: Reader, bookrecno: str, pickup_lib: str, expires: date, item: Item | None
    ) -> Hold:
        """A WAITING hold on a title, or a READY one when a copy is put on the hold shelf."""
        title = self.books[bookrecno].title
        if item is None:
            hold = Hold(reader.rdid, bookrecno, title, pickup_lib, "WAITING", expires)
            self.waiting[bookrecno].append(hold)
        else:
            hold = Hold(reader.rdid, bookrecno, title, pickup_lib, "READY", expires, item.barcode)
            item.circstatus, item.ready_hold = HOLD_SHELF, hold
        reader.holds.append(hold)
        return hold

    def active_holds(self, reader: Reader) -> list[Hold]:
        today = self.today()
        return [hold for hold in reader.holds if hold.active(today)]

    def lend(self, rdid: str, barcode: str) -> Outcome:
        """Check out a copy for 31 days; the reader's own READY hold is collected on the way."""
        today = self.today()
        reader = self.readers.get(rdid)
        if reader is None:
            return _refuse("E00404", f"reader {rdid} not found")
        if reader.status == "SUSPENDED":
            return _refuse("E00310", "reader suspended")
        if reader.status == "EXPIRED":
            return _refuse("E00310", "reader card expired")
        if len(reader.loans) >= reader.max_loans:
            return _refuse("E00311", "loan limit reached")
        item = self.items.get(barcode)
        if item is None:
            return _refuse("E00404", f"{barcode} not found")
        status = item.status(today)
        hold = item.ready_hold
        collecting = status == HOLD_SHELF and hold is not None and hold.rdid == rdid
        if status != AVAILABLE and not collecting:
            return _refuse("E00312", "item not available")
        if hold is not None:
            # Either the reader collects their own hold, or it lapsed: both end it.
            self.readers[hold.rdid].holds.remove(hold)
        loan = self.place_loan(reader, item, today, today + timedelta(days=LOAN_DAYS))
        return Outcome("R00102", "ok", {"loan": loan.as_json(today)})

    def renew(self, rdid: str, barcode: str) -> Outcome:
        """Extend a loan to 31 days from today, once, unless overdue or wanted by someone else."""
        today = self.today()
        reader = self.readers.get(rdid)
        if reader is None:
            return _refuse("E00404", f"reader {rdid} not found")
        loan = reader.loans.get(barcode)
        if loan is None:
            return _refuse("E00404", f"{barcode} not on loan to {rdid}")
        if loan.returndate < today:
            return _refuse("E00322", "overdue, cannot renew")
        if loan.renewcount >= loan.renewlimit:
            return _refuse("E00320", "renewal limit reached")
        if any(h.rdid != rdid and h.active(today) for h in self.waiting.get(loan.bookrecno, ())):
            return _refuse("E00321", "on hold for another reader")
        loan.renewcount += 1
        loan.returndate = today + timedelta(days=LOAN_DAYS)
        return Outcome("R00108", "ok", {"loan": loan.as_json(today)})

    def give_back(self, barcode: str) -> Outcome:
        """Check a copy in, charge the overdue fine, and trap it for the first waiting hold."""
        today = self.today()
        item = self.items.get(barcode)
        if item is None:
            return _refuse("E00404", f"{barcode} not found")
        loan = item.loan
        if loan is None:
            return _refuse("E00330", "item not on loan")
        fine = loan.fine_fen(today)
        reader = self.readers[loan.rdid]
        del reader.loans[barcode]
        reader.fine_fen += fine
        item.loan, item.circstatus = None, AVAILABLE
        queue = self.waiting.get(item.bookrecno, [])
        hold = next((h for h in queue if h.active(today)), None)
        if hold is not None:
            queue.remove(hold)
            hold.status, hold.barcode = "READY", barcode
            hold.expires = today + timedelta(days=HOLD_SHELF_DAYS)
            item.circstatus, item.ready_hold = HOLD_SHELF, hold
        return Outcome("R00109", "ok", {"fine_fen": fine, "barcode": barcode, "rdid": loan.rdid})
