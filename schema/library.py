"""The public library (罗湖区图书馆): catalogue search, and a resident's card, loans, holds."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from connectors.library import LibraryLoaders
from connectors.library import models as m
from schema.common import Money, in_place
from schema.context import HubInfo
from schema.errors import BadUserInput
from schema.pagination import PageInfo, check_first, decode_cursor, encode_cursor, page_info


@strawberry.enum(description="What a catalogue search matches against.")
class BookSearchField(Enum):
    TITLE = "title"
    AUTHOR = "author"
    ISBN = "isbn"
    KEYWORD = "keyword"


@strawberry.enum(description="Where a copy is in its circulation.")
class CopyStatus(Enum):
    AVAILABLE = "AVAILABLE"
    ON_LOAN = "ON_LOAN"
    ON_HOLD_SHELF = "ON_HOLD_SHELF"
    LOST = "LOST"
    MISSING = "MISSING"


@strawberry.enum(description="The state of a library card.")
class CardStatus(Enum):
    VALID = "VALID"
    EXPIRED = "EXPIRED"
    SUSPENDED = "SUSPENDED"


@strawberry.enum(description="WAITING in the queue, or READY to collect.")
class HoldStatus(Enum):
    WAITING = "WAITING"
    READY = "READY"


@strawberry.type(description="One physical copy of a book, where it sits and whether it is in.")
class Copy:
    barcode: str
    library: str
    location: str
    call_number: str
    status: CopyStatus
    due_date: dt.date | None = strawberry.field(description="When an on-loan copy is due back.")


@strawberry.federation.type(
    keys=["id"], description="A title in the library's catalogue (an entity: `@key(id)`)."
)
class Book:
    id: strawberry.ID
    isbn: str
    title: str
    author: str
    publisher: str
    year: str
    subjects: list[str]
    cover_url: str | None

    @strawberry.field(description="The copies of this title across the district's libraries.")
    async def holdings(self, info: HubInfo) -> list[Copy] | None:
        found = await info.context.loaders.get(LibraryLoaders).connector.holdings(str(self.id))
        return [
            Copy(
                barcode=h.barcode,
                library=h.library,
                location=h.location,
                call_number=h.call_number,
                status=CopyStatus[h.status.name],
                due_date=None,
            )
            for h in found
        ]

    @classmethod
    async def resolve_reference(cls, info: HubInfo, id: str) -> Book | None:
        """A gateway's reference: every book of the ``_entities`` call in one catalogue batch."""
        found = await info.context.loaders.get(LibraryLoaders).book_by_id.load(id)
        return book_of(found) if found else None


def book_of(book: m.Book) -> Book:
    return Book(
        id=strawberry.ID(book.id),
        isbn=book.isbn,
        title=book.title,
        author=book.author,
        publisher=book.publisher,
        year=book.year,
        subjects=list(book.subjects),
        cover_url=book.cover_url,
    )


def copy_of(item: m.Item) -> Copy:
    return Copy(
        barcode=item.barcode,
        library=item.library,
        location=item.location,
        call_number=item.call_number,
        status=CopyStatus[item.status.name],
        due_date=item.due_date,
    )


@strawberry.type(description="A book edge in a search result.")
class BookEdge:
    cursor: str
    node: Book


@strawberry.type(description="A page of catalogue search results.")
class BookConnection:
    edges: list[BookEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="A resident's library card.")
class LibraryCard:
    id: strawberry.ID
    status: CardStatus
    max_loans: int
    fine: Money = strawberry.field(description="Overdue fines owed.")
    home_library: str


@strawberry.type(description="A book the resident has borrowed.")
class Loan:
    barcode: str
    title: str
    loan_date: dt.date
    due_date: dt.date
    overdue: bool
    renew_count: int
    renew_limit: int
    book_id: strawberry.Private[str]

    @strawberry.field(description="Whether the loan can still be renewed (limit and due date).")
    def renewable(self) -> bool:
        return self.renew_count < self.renew_limit and not self.overdue

    @strawberry.field(description="The catalogue record of the borrowed title.")
    def book(self, info: HubInfo) -> Book | None:
        return book_in_place(info, self.book_id)

    @strawberry.field(description="The borrowed copy (call number, home library).")
    async def copy(self, info: HubInfo) -> Copy | None:
        found = await info.context.loaders.get(LibraryLoaders).item_by_barcode.load(self.barcode)
        return copy_of(found) if found else None


def book_in_place(info: HubInfo, book_id: str) -> Book | None:
    """The record from the catalogue cache when fresh, else through the request's batch."""
    loaders = info.context.loaders.get(LibraryLoaders)

    async def load() -> Book | None:
        found = await loaders.book_by_id.load(book_id)
        return book_of(found) if found else None

    return in_place(loaders.connector.fresh_book(book_id), book_of, load)


def loan_of(loan: m.Loan) -> Loan:
    return Loan(
        barcode=loan.barcode,
        title=loan.title,
        loan_date=loan.loan_date,
        due_date=loan.due_date,
        overdue=loan.overdue,
        renew_count=loan.renew_count,
        renew_limit=loan.renew_limit,
        book_id=loan.book_id,
    )


@strawberry.type(description="A reservation of a title.")
class Hold:
    title: str
    pickup_library: str
    status: HoldStatus
    expires: dt.date | None
    book_id: strawberry.Private[str]

    @strawberry.field(description="The catalogue record of the reserved title.")
    def book(self, info: HubInfo) -> Book | None:
        return book_in_place(info, self.book_id)


@strawberry.type(description="The resident's library account: card, loans and holds.")
class MyLibrary:
    card_id: strawberry.Private[str | None]

    @strawberry.field(description="The card, or null when the resident has none.")
    async def card(self, info: HubInfo) -> LibraryCard | None:
        if self.card_id is None:
            return None
        reader = await info.context.loaders.get(LibraryLoaders).reader_by_card.load(self.card_id)
        if reader is None:
            return None
        return LibraryCard(
            id=strawberry.ID(reader.card_id),
            status=CardStatus[reader.status.name],
            max_loans=reader.max_loans,
            fine=Money(fen=reader.fine_fen),
            home_library=reader.home_library,
        )

    @strawberry.field(description="Books on loan, soonest due first.")
    async def loans(self, info: HubInfo) -> list[Loan] | None:
        if self.card_id is None:
            return []
        loans = await info.context.loaders.get(LibraryLoaders).loans_by_card.load(self.card_id)
        return [loan_of(loan) for loan in sorted(loans, key=lambda loan: loan.due_date)]

    @strawberry.field(description="Titles reserved, waiting or ready to collect.")
    async def holds(self, info: HubInfo) -> list[Hold] | None:
        if self.card_id is None:
            return []
        holds = await info.context.loaders.get(LibraryLoaders).holds_by_card.load(self.card_id)
        return [
            Hold(
                title=h.title,
                pickup_library=h.pickup_library,
                status=HoldStatus[h.status.name],
                expires=h.expires,
                book_id=h.book_id,
            )
            for h in holds
        ]


MAX_QUERY = 100


@strawberry.type(description="公共图书馆 · The public library: catalogue search and book details.")
class Library:
    @strawberry.field(description="Search the catalogue.")
    async def search(
        self,
        info: HubInfo,
        query: str,
        by: BookSearchField = BookSearchField.KEYWORD,
        first: int = 10,
        after: str | None = None,
    ) -> BookConnection | None:
        text = query.strip()
        if not text or len(text) > MAX_QUERY:
            raise BadUserInput(f"`query` must be 1 to {MAX_QUERY} characters.", field="query")
        limit, offset = check_first(first), decode_cursor("book", after)
        page = await info.context.loaders.get(LibraryLoaders).connector.search_slice(
            text, m.SearchField(by.value), offset=offset, limit=limit
        )
        edges = [
            BookEdge(cursor=encode_cursor("book", offset + i), node=book_of(book))
            for i, book in enumerate(page.books)
        ]
        return BookConnection(
            edges=edges,
            page_info=page_info("book", offset, len(edges), page.total),
            total_count=page.total,
        )

    @strawberry.field(description="One title by its catalogue id, or null if unknown.")
    async def book(self, info: HubInfo, id: strawberry.ID) -> Book | None:
        found = await info.context.loaders.get(LibraryLoaders).book_by_id.load(str(id))
        return book_of(found) if found else None


@strawberry.type
class LibraryQuery:
    @strawberry.field(
        description="图书馆馆藏 · The public library's catalogue. Public: no token needed."
    )
    def library(self) -> Library | None:
        return Library()
