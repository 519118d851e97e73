"""The library connector against the real library mock, over loopback HTTP.

The mock is shared by the whole session: writes use LH000002 and copies from the far end of
the catalogue, and every test puts back what it borrowed. LH000001's showcase loans are only
read, or refused (a refusal changes nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

from connectors.base import DepartmentPolicy, UpstreamResponse
from connectors.errors import (
    Refused,
    UpstreamPayloadError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.library import LibraryConnector, LibraryLoaders
from connectors.library.models import CirculationStatus, HoldStatus, ReaderStatus, SearchField
from tests.support import BackgroundMocks, MockAdmin

CREDENTIALS = {"appid": "ihub-dev", "secret": "dev-library-secret"}
SERVICE = "/openlib/service"
TOKEN = f"GET {SERVICE}/barcode/token"
READER_INFO = f"GET {SERVICE}/reader/info"
ITEM_BATCH = f"GET {SERVICE}/item/batch"
BOOK_BATCH = "GET /opac/api/book/batch"
LEND = f"POST {SERVICE}/barcode/lendbook"
FAR_SHELF = [f"04400{100001 + n:07d}" for n in range(14900, 14950)]
UNKNOWN_BARCODE = "044009999999"


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def library(mocks: BackgroundMocks) -> Iterator[MockAdmin]:
    """The library mock's admin surface, with counters zeroed and no faults."""
    admin = MockAdmin(mocks.urls["library"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def policy(url: str, **changes: Any) -> DepartmentPolicy:
    settings: dict[str, Any] = {"timeout_s": 2.0, "credentials": CREDENTIALS, **changes}
    return DepartmentPolicy(base_url=url, **settings)


@pytest.fixture
async def connector(library: MockAdmin, clock: FakeClock) -> AsyncIterator[LibraryConnector]:
    async with aiohttp.ClientSession() as session:
        yield LibraryConnector(session, policy(library.url, cache_ttl_s=30.0), clock=clock)


def request_id() -> str:
    return f"test-{uuid.uuid4().hex}"


def expire_tokens(library: MockAdmin) -> None:
    httpx.post(f"{library.url}/__admin/tokens/expire").raise_for_status()


async def free_copies(connector: LibraryConnector, count: int) -> list[str]:
    """Available copies of titles nobody waits for (every copy of the title on the shelf)."""
    shelf = await connector.items_by_barcodes(FAR_SHELF)
    free = []
    for barcode, item in sorted(shelf.items()):
        if item.status is not CirculationStatus.AVAILABLE:
            continue
        copies = await connector.holdings(item.book_id)
        if all(copy.status is CirculationStatus.AVAILABLE for copy in copies):
            free.append(barcode)
        if len(free) == count:
            return free
    raise AssertionError("not enough free copies on the far shelf")


async def put_back(connector: LibraryConnector, *barcodes: str) -> None:
    """Return copies a test may have left on loan (a copy already back is refused: fine)."""
    for barcode in barcodes:
        with contextlib.suppress(Refused):
            await connector.give_back(barcode, request_id=request_id())


async def test_reader_details_and_an_unknown_card(connector: LibraryConnector) -> None:
    reader = await connector.reader("LH000001")
    assert reader is not None
    assert (reader.card_id, reader.status, reader.max_loans) == ("LH000001", ReaderStatus.VALID, 10)
    assert reader.certificate_masked.startswith("4403**********")
    assert await connector.reader("LH000005") is None  # residents 5, 10, … have no card


async def test_ten_loans_and_their_copies_in_one_batch(
    connector: LibraryConnector, library: MockAdmin
) -> None:
    # given the ten loans of R000001's card
    loans = await connector.loans("LH000001")
    assert len(loans) == 10
    library.reset()
    # when their copies are asked for, newest loan first (the mock answers in barcode order)
    barcodes = [loan.barcode for loan in reversed(loans)]
    items = await connector.items_by_barcodes(barcodes)
    # then one call, every copy under its own barcode
    assert library.calls(ITEM_BATCH) == 1
    assert library.stats()["batch_sizes"][ITEM_BATCH] == [10]
    assert sorted(items) == sorted(barcodes)
    for loan in loans:
        item = items[loan.barcode]
        assert item.barcode == loan.barcode and item.book_id == loan.book_id
        assert item.status is CirculationStatus.ON_LOAN
        assert item.due_date == loan.due_date


async def test_large_batches_are_split_into_calls_of_at_most_50(
    connector: LibraryConnector, library: MockAdmin
) -> None:
    # given 118 real barcodes, 2 unknown ones and a few repeats
    known = [f"04400{100001 + n:07d}" for n in range(118)]
    asked = [*reversed(known), UNKNOWN_BARCODE, "nonsense", *known[:5]]
    # when
    items = await connector.items_by_barcodes(asked)
    # then 120 distinct barcodes went out in three calls
    sizes = library.stats()["batch_sizes"][ITEM_BATCH]
    assert sorted(sizes) == [20, 50, 50]
    assert library.calls(ITEM_BATCH) == 3
    assert set(items) == set(known)
    assert all(items[barcode].barcode == barcode for barcode in known)
    assert await connector.items_by_barcodes([]) == {}
    assert library.calls(ITEM_BATCH) == 3


async def test_books_are_cached_across_calls(
    connector: LibraryConnector, library: MockAdmin, clock: FakeClock
) -> None:
    ids = [loan.book_id for loan in await connector.loans("LH000002")]
    # when the same records are asked for twice
    first = await connector.books_by_ids(ids)
    second = await connector.books_by_ids(list(reversed(ids)))
    # then only the first call went upstream
    assert first == second and sorted(first) == sorted(ids)
    assert library.calls(BOOK_BATCH) == 1
    # when a new id and an unknown one join: only those two are fetched
    more = await connector.books_by_ids([*ids, "500001", "999"])
    assert set(more) == {*ids, "500001"}
    assert library.stats()["batch_sizes"][BOOK_BATCH] == [len(ids), 2]
    # an unknown id is not remembered; after the TTL everything is fetched again
    await connector.books_by_ids(["999"])
    clock.now += 31
    await connector.books_by_ids(ids)
    assert library.stats()["batch_sizes"][BOOK_BATCH] == [len(ids), 2, 1, len(ids)]


async def test_search_pages_and_slices(connector: LibraryConnector) -> None:
    whole = await connector.search("深圳", SearchField.KEYWORD, page=1, rows=20)
    assert whole.total > 20 and len(whole.books) == 20
    sliced = await connector.search_slice("深圳", SearchField.KEYWORD, offset=7, limit=5)
    assert sliced.total == whole.total
    assert [book.id for book in sliced.books] == [book.id for book in whole.books[7:12]]
    by_isbn = await connector.search(whole.books[0].isbn, SearchField.ISBN, page=1, rows=5)
    assert [book.id for book in by_isbn.books] == [whole.books[0].id]
    with pytest.raises(ValueError):
        await connector.search("深圳", SearchField.TITLE, page=1, rows=51)


async def test_holdings_and_holds(connector: LibraryConnector) -> None:
    loan = (await connector.loans("LH000002"))[0]
    copies = {holding.barcode: holding for holding in await connector.holdings(loan.book_id)}
    assert copies[loan.barcode].status is CirculationStatus.ON_LOAN
    holds = await connector.holds("LH000001")
    assert sorted(hold.status.value for hold in holds) == ["READY", "WAITING"]


async def test_one_token_for_twenty_concurrent_calls(
    connector: LibraryConnector, library: MockAdmin
) -> None:
    cards = [f"LH{n:06d}" for n in (1, 2, 3, 4, 6)] * 4
    readers = await asyncio.gather(*(connector.reader(card) for card in cards))
    assert all(reader is not None for reader in readers)
    assert library.calls(TOKEN) == 1


async def test_a_refused_token_is_renewed_once_for_everyone(
    connector: LibraryConnector, library: MockAdmin
) -> None:
    # given a connector holding a token the library then forgets
    assert await connector.reader("LH000001") is not None
    expire_tokens(library)
    # when ten calls find it refused at the same time (ten cards: identical reads would share
    # one call, see test_singleflight.py)
    cards = [f"LH{n:06d}" for n in range(11, 23) if n % 5]  # every 5th resident has none
    readers = await asyncio.gather(*(connector.reader(card) for card in cards))
    # then one renewal served them all, and each call was sent again once
    assert all(reader is not None for reader in readers)
    assert library.calls(TOKEN) == 2
    assert library.calls(READER_INFO) == 1 + 10 + 10


async def test_the_token_is_renewed_before_it_expires(
    connector: LibraryConnector, library: MockAdmin, clock: FakeClock
) -> None:
    await connector.reader("LH000001")
    clock.now += 86400
    await connector.reader("LH000001")
    # renewed on the clock, without a refused call first
    assert library.calls(TOKEN) == 2
    assert library.calls(READER_INFO) == 2


async def test_bad_credentials_are_rejected(library: MockAdmin) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = policy(library.url, credentials={**CREDENTIALS, "secret": "guess"})
        connector = LibraryConnector(session, wrong)
        with pytest.raises(UpstreamRejected) as raised:
            await connector.loans("LH000001")
    assert (raised.value.department, raised.value.code) == ("library", "E00403")
    assert "guess" not in str(raised.value)
    assert connector.health.status == "failing"


async def test_lend_renew_and_return(connector: LibraryConnector) -> None:
    (barcode,) = await free_copies(connector, 1)
    before = len(await connector.loans("LH000002"))
    try:
        # when LH000002 borrows, renews twice and returns a copy
        lent = await connector.lend("LH000002", barcode, request_id=request_id())
        assert (lent.barcode, lent.renew_count, lent.overdue) == (barcode, 0, False)
        assert (lent.due_date - lent.loan_date).days == 31
        assert len(await connector.loans("LH000002")) == before + 1
        renewed = await connector.renew("LH000002", barcode, request_id=request_id())
        assert renewed.renew_count == 1 == renewed.renew_limit
        with pytest.raises(Refused) as raised:
            await connector.renew("LH000002", barcode, request_id=request_id())
        assert raised.value.code == "RENEWAL_LIMIT_REACHED"
        back = await connector.give_back(barcode, request_id=request_id())
        # then the copy is back on the shelf and nothing is owed
        assert (back.barcode, back.fine_fen) == (barcode, 0)
        item = (await connector.items_by_barcodes([barcode]))[barcode]
        assert item.status is CirculationStatus.AVAILABLE
    finally:
        await put_back(connector, barcode)
    assert len(await connector.loans("LH000002")) == before


async def test_a_repeated_request_id_has_one_side_effect(
    connector: LibraryConnector, library: MockAdmin
) -> None:
    first, second = await free_copies(connector, 2)
    before = len(await connector.loans("LH000002"))
    lend_id, return_id = request_id(), request_id()
    try:
        lent = await connector.lend("LH000002", first, request_id=lend_id)
        replayed = await connector.lend("LH000002", second, request_id=lend_id)
        assert replayed == lent
        assert len(await connector.loans("LH000002")) == before + 1
        shelf = await connector.items_by_barcodes([first, second])
        assert shelf[second].status is CirculationStatus.AVAILABLE
        returned = await connector.give_back(first, request_id=return_id)
        assert await connector.give_back(first, request_id=return_id) == returned
    finally:
        await put_back(connector, first, second)
    assert len(await connector.loans("LH000002")) == before


async def refusal_code(call: Awaitable[object]) -> str:
    with pytest.raises(Refused) as raised:
        await call
    assert raised.value.department == "library" and raised.value.message
    return raised.value.code


async def test_lending_refusals(connector: LibraryConnector) -> None:
    (free,) = await free_copies(connector, 1)
    loans = await connector.loans("LH000001")
    assert len(loans) == 10  # the card's limit

    def lend(card: str, barcode: str) -> Awaitable[object]:
        return connector.lend(card, barcode, request_id=request_id())

    cases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("READER_SUSPENDED", lambda: lend("LH000006", free)),
        ("READER_SUSPENDED", lambda: lend("LH000007", free)),  # an expired card
        ("LOAN_LIMIT_REACHED", lambda: lend("LH000001", free)),
        ("ITEM_NOT_AVAILABLE", lambda: lend("LH000002", loans[0].barcode)),
        ("NOT_FOUND", lambda: lend("LH000002", UNKNOWN_BARCODE)),
        ("NOT_ON_LOAN", lambda: connector.give_back(free, request_id=request_id())),
    ]
    for expected, call in cases:
        assert await refusal_code(call()) == expected
    shelf = await connector.items_by_barcodes([free])
    assert shelf[free].status is CirculationStatus.AVAILABLE


async def test_renewal_refusals(connector: LibraryConnector) -> None:
    loans = await connector.loans("LH000001")
    overdue = next(loan for loan in loans if loan.overdue)
    used_up = next(loan for loan in loans if loan.renew_count >= loan.renew_limit)
    (wanted,) = [h for h in await connector.holds("LH000003") if h.status is HoldStatus.WAITING]
    held = next(loan for loan in loans if loan.book_id == wanted.book_id)

    def renew(barcode: str) -> Awaitable[object]:
        return connector.renew("LH000001", barcode, request_id=request_id())

    assert await refusal_code(renew(overdue.barcode)) == "OVERDUE"
    assert await refusal_code(renew(used_up.barcode)) == "RENEWAL_LIMIT_REACHED"
    assert await refusal_code(renew(held.barcode)) == "ON_HOLD_FOR_ANOTHER_READER"
    assert await connector.loans("LH000001") == loans


async def test_loaders_batch_per_request(connector: LibraryConnector, library: MockAdmin) -> None:
    loans = await connector.loans("LH000001")
    library.reset()
    loaders = LibraryLoaders(connector)
    barcodes = [loan.barcode for loan in loans]
    items = await asyncio.gather(
        *(loaders.item_by_barcode.load(b) for b in [*barcodes, UNKNOWN_BARCODE, barcodes[0]])
    )
    books = await loaders.book_by_id.load_many([loan.book_id for loan in loans])
    readers = await loaders.reader_by_card.load_many(["LH000001", "LH000005"])
    assert [item.barcode if item else None for item in items] == [
        *barcodes,
        None,
        barcodes[0],
    ]
    assert [book.id for book in books] == [loan.book_id for loan in loans]
    assert readers[0] is not None and readers[1] is None
    assert library.stats()["batch_sizes"] == {ITEM_BATCH: [11], BOOK_BATCH: [10]}


async def test_an_outage_is_unavailable_and_a_keyed_write_is_retried_within_bounds(
    connector: LibraryConnector, library: MockAdmin
) -> None:
    await connector.reader("LH000001")
    library.faults(down=True)
    with pytest.raises(UpstreamUnavailable):
        await connector.reader("LH000001")
    with pytest.raises(UpstreamUnavailable):
        await connector.lend("LH000002", FAR_SHELF[0], request_id=request_id())
    # repeated within the policy's retries, never more: its request_id makes a repeat safe
    assert library.calls(LEND) == 1 + connector.policy.max_retries
    assert connector.health.status == "failing"


async def test_an_outage_before_the_first_token_is_unavailable(
    connector: LibraryConnector, library: MockAdmin
) -> None:
    library.faults(down=True)
    with pytest.raises(UpstreamUnavailable):
        await connector.loans("LH000001")


async def test_a_garbage_body_is_a_payload_error_counted_by_health(
    connector: LibraryConnector, library: MockAdmin
) -> None:
    await connector.reader("LH000001")
    library.faults(garbage_body=True)
    with pytest.raises(UpstreamPayloadError):
        await connector.items_by_barcodes(FAR_SHELF[:3])
    assert connector.health.status == "failing"
    library.clear_faults()
    assert len(await connector.items_by_barcodes(FAR_SHELF[:3])) == 3
    assert connector.health.status == "ok"


async def test_a_slow_library_times_out(library: MockAdmin) -> None:
    library.faults(latency_ms=600)
    async with aiohttp.ClientSession() as session:
        connector = LibraryConnector(session, policy(library.url, timeout_s=0.2))
        with pytest.raises(UpstreamTimeout):
            await connector.reader("LH000001")


class Scripted(LibraryConnector):
    """The connector over canned answers instead of HTTP, for what the mock cannot be made to do."""

    def __init__(self, session: aiohttp.ClientSession, answers: Mapping[str, object]) -> None:
        super().__init__(session, policy("http://scripted.invalid"))
        self.answers = answers
        self.sent: list[tuple[str, str]] = []

    async def _request(self, method: str, path: str, **_: Any) -> UpstreamResponse:
        self.sent.append((method, path))
        return UpstreamResponse(200, {}, orjson.dumps(self.answers[path]))


async def test_a_token_refused_twice_is_rejected_and_the_write_sent_twice_at_most() -> None:
    refused = {"success": False, "messagelist": [{"code": "E00401", "message": "token invalid"}]}
    token = {"success": True, "messagelist": [], "token": "t", "expires_in": 86400}
    async with aiohttp.ClientSession() as session:
        connector = Scripted(
            session, {f"{SERVICE}/barcode/token": token, f"{SERVICE}/barcode/lendbook": refused}
        )
        with pytest.raises(UpstreamRejected) as raised:
            await connector.lend("LH000002", "B1", request_id="r1")
    assert raised.value.code == "E00401"
    assert [path for _, path in connector.sent] == [
        f"{SERVICE}/barcode/token",
        f"{SERVICE}/barcode/lendbook",
        f"{SERVICE}/barcode/token",
        f"{SERVICE}/barcode/lendbook",
    ]


async def test_a_batch_answering_only_misses_is_empty_not_an_error() -> None:
    misses = {
        "success": False,
        "messagelist": [{"code": "E00404", "message": "x not found"}],
    }
    token = {"success": True, "messagelist": [], "token": "t", "expires_in": 86400}
    async with aiohttp.ClientSession() as session:
        connector = Scripted(
            session, {f"{SERVICE}/barcode/token": token, f"{SERVICE}/item/batch": misses}
        )
        assert await connector.items_by_barcodes(["x"]) == {}
