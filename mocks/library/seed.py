"""The library as it stands on the day the mock starts: loans and holds relative to today.

Fixed facts other tests rely on (the rest is random but reproducible from the seed):

- ``LH000001`` (R000001): 10 loans, the card's limit. Two are overdue (due 5 and 20 days ago,
  never renewed), two were renewed once already (renewcount 1, not overdue), six are ordinary;
  one ordinary loan (taken 12 days ago) is wanted by ``LH000003``'s WAITING hold. Holds: one
  READY (expires in 5 days) and one WAITING.
- ``LH000002`` (R000002): 3 ordinary loans (taken 5, 10, 15 days ago), renewable, no holds.
- ``LH000003`` (R000003): the WAITING hold above, no loans.
- ``LH000004`` fine_fen 150; ``LH000006`` SUSPENDED; ``LH000007`` EXPIRED (readers.py).
- Residents 1–10 get no random holds; about 1 % of copies are lost (12), 0.5 % missing (13).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from mocks.library.catalogue import LIBRARIES, build_books, build_items
from mocks.library.circulation import Library
from mocks.library.clock import Clock
from mocks.library.readers import build_readers
from mocks.library.records import AVAILABLE, LOAN_DAYS, Item, Reader

# (days since the loan, days since its renewal or None) for LH000001, in this order.
SHOWCASE_LOANS = (
    (36, None),
    (51, None),  # overdue by 5 and 20 days
    (40, 10),
    (50, 25),  # renewed once: due in 21 and 6 days
    (3, None),
    (8, None),
    (12, None),
    (17, None),
    (22, None),
    (28, None),
)
HELD_SHOWCASE_LOAN = 6  # the loan taken 12 days ago
SECOND_READER_LOANS = (5, 10, 15)
RANDOM_WAITING_HOLDS = 120
RANDOM_READY_HOLDS = 40


class _Shelf:
    """Available copies handed out in a seeded order, optionally one per title."""

    def __init__(self, rng: random.Random, items: list[Item]) -> None:
        self.pool = [item for item in items if item.circstatus == AVAILABLE]
        rng.shuffle(self.pool)
        self.reserved: set[str] = set()

    def take(self, distinct: bool = False) -> Item:
        while True:
            item = self.pool.pop()
            if item.circstatus != AVAILABLE:
                continue
            if distinct and item.bookrecno in self.reserved:
                self.pool.insert(0, item)
                continue
            if distinct:
                self.reserved.add(item.bookrecno)
            return item


def _lend(
    library: Library, reader: Reader, item: Item, today: date, ago: int, renewed: int | None
) -> None:
    loandate = today - timedelta(days=ago)
    start = loandate if renewed is None else today - timedelta(days=renewed)
    returndate = start + timedelta(days=LOAN_DAYS)
    library.place_loan(reader, item, loandate, returndate, 0 if renewed is None else 1)


def _showcase(library: Library, shelf: _Shelf, today: date) -> None:
    first, second, third = (library.readers[f"LH00000{n}"] for n in (1, 2, 3))
    for ago, renewed in SHOWCASE_LOANS:
        _lend(library, first, shelf.take(distinct=True), today, ago, renewed)
    held = list(first.loans.values())[HELD_SHOWCASE_LOAN]
    library.place_hold(third, held.bookrecno, LIBRARIES[0], today + timedelta(days=60), None)
    for ago in SECOND_READER_LOANS:
        _lend(library, second, shelf.take(distinct=True), today, ago, None)
    ready = shelf.take(distinct=True)
    library.place_hold(first, ready.bookrecno, ready.lib, today + timedelta(days=5), ready)


def _random_loans(library: Library, rng: random.Random, shelf: _Shelf, today: date) -> None:
    for reader in list(library.readers.values())[3:]:
        for _ in range(rng.choices(range(5), (35, 25, 20, 12, 8))[0]):
            item = shelf.take()
            if rng.random() < 0.12:
                _lend(library, reader, item, today, rng.randint(LOAN_DAYS + 1, 90), None)
                continue
            ago = rng.randint(0, LOAN_DAYS - 1)
            renewed = rng.randint(0, ago - 1) if ago > 7 and rng.random() < 0.2 else None
            _lend(library, reader, item, today, ago, renewed)


def _random_holds(library: Library, rng: random.Random, shelf: _Shelf, today: date) -> None:
    readers = [r for r in list(library.readers.values())[8:] if r.status == "VALID"]
    on_loan = sorted(
        {i.bookrecno for i in library.items.values() if i.loan} - shelf.reserved, key=int
    )
    first = library.readers["LH000001"]
    wanted = rng.choice(on_loan)
    library.place_hold(first, wanted, LIBRARIES[0], today + timedelta(days=45), None)
    for _ in range(RANDOM_WAITING_HOLDS):
        reader, bookrecno = rng.choice(readers), rng.choice(on_loan)
        if any(h.bookrecno == bookrecno for h in reader.holds) or any(
            loan.bookrecno == bookrecno for loan in reader.loans.values()
        ):
            continue
        expires = today + timedelta(days=rng.randint(10, 90))
        library.place_hold(reader, bookrecno, rng.choice(LIBRARIES), expires, None)
    for _ in range(RANDOM_READY_HOLDS):
        item = shelf.take(distinct=True)
        expires = today + timedelta(days=rng.randint(0, 6))
        library.place_hold(rng.choice(readers), item.bookrecno, item.lib, expires, item)


def build_library(seed: int, clock: Clock) -> Library:
    """Everything from ``random.Random(seed)``: same seed and same day, same library."""
    rng = random.Random(seed)
    books = build_books(rng)
    items = build_items(rng, books)
    library = Library(books, items, build_readers(rng), clock)
    today = clock.today()
    shelf = _Shelf(rng, items)
    _showcase(library, shelf, today)
    _random_loans(library, rng, shelf, today)
    _random_holds(library, rng, shelf, today)
    return library
