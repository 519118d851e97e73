"""The library mock over real HTTP on loopback: tokens, envelope, batches, search, circulation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import aiohttp
import pytest

from mocks.common.launcher import MockConfig, MockSpec, start_mocks
from mocks.library.readers import id_number

SPEC = MockSpec("library", 0, "mocks.library:create_app")
TOKEN = "/openlib/service/barcode/token"
SERVICE = "/openlib/service"
CREDENTIALS = {"appid": "ihub-dev", "secret": "dev-library-secret"}
DAY = 86400
READER_FIELDS = {
    "rdid",
    "rdname",
    "rdcertify_masked",
    "rdtype",
    "rdlib",
    "status",
    "max_loans",
    "fine_fen",
}
ITEM_FIELDS = {"barcode", "bookrecno", "callno", "lib", "location", "circstatus", "returndate"}
BOOK_FIELDS = {"bookrecno", "isbn", "title", "author", "publisher", "pubyear", "subjects", "cover"}

Answer = dict[str, Any]


class Openlib:
    """A thin caller: a token for every call, envelope and HTTP 200 checked on every answer."""

    def __init__(self, http: aiohttp.ClientSession, token: str) -> None:
        self.http = http
        self.token = token

    async def get(self, path: str, **params: str) -> Answer:
        async with self.http.get(path, params={"token": self.token, **params}) as response:
            return await envelope(response)

    async def post(self, path: str, **form: str) -> Answer:
        form.setdefault("request_id", uuid.uuid4().hex)
        data = {"token": self.token, **form}
        async with self.http.post(f"{SERVICE}/barcode/{path}", data=data) as response:
            return await envelope(response)

    async def admin(self, path: str, body: object = None) -> Answer:
        method = self.http.get if body is None else self.http.post
        async with method(f"/__admin/{path}", json=body) as response:
            assert response.status == 200, await response.text()
            answer: Answer = await response.json()
            return answer

    async def today(self) -> date:
        return date.fromisoformat((await self.admin("clock"))["today"])

    async def loans(self, rdid: str) -> list[Answer]:
        loans: list[Answer] = (await self.get(f"{SERVICE}/barcode/rdloanlist", rdid=rdid))["loans"]
        return loans

    async def reader(self, rdid: str) -> Answer:
        reader: Answer = (await self.get(f"{SERVICE}/reader/info", rdid=rdid))["reader"]
        return reader

    async def items(self, *barcodes: str) -> dict[str, Answer]:
        answer = await self.get(f"{SERVICE}/item/batch", barcodes=",".join(barcodes))
        return {item["barcode"]: item for item in answer["items"]}

    async def available(self, count: int) -> list[str]:
        shelf = await self.items(*(f"04400{100001 + n:07d}" for n in range(50)))
        free = [barcode for barcode, item in shelf.items() if item["circstatus"] == "03"]
        assert len(free) >= count
        return free[:count]


async def envelope(response: aiohttp.ClientResponse) -> Answer:
    assert response.status == 200, await response.text()
    answer: Answer = await response.json()
    assert isinstance(answer["success"], bool)
    assert answer["messagelist"]
    assert all(set(m) == {"code", "message"} for m in answer["messagelist"])
    return answer


def codes(answer: Answer) -> list[str]:
    return [message["code"] for message in answer["messagelist"]]


async def get_token(http: aiohttp.ClientSession) -> str:
    async with http.get(TOKEN, params=CREDENTIALS) as response:
        answer = await envelope(response)
    token: str = answer["token"]
    return token


@pytest.fixture
async def library() -> AsyncIterator[Openlib]:
    running = await start_mocks([SPEC], ports={"library": 0})
    try:
        async with aiohttp.ClientSession(base_url=running.urls["library"]) as http:
            yield Openlib(http, await get_token(http))
    finally:
        await running.stop()


async def test_token_is_issued_for_the_dev_credentials(library: Openlib) -> None:
    async with library.http.get(TOKEN, params=CREDENTIALS) as response:
        answer = await envelope(response)
    assert answer["success"] is True
    assert answer["messagelist"] == [{"code": "R00001", "message": "ok"}]
    assert answer["expires_in"] == DAY
    assert answer["token"] and answer["token"] != library.token


async def test_wrong_credentials_are_refused_inside_the_envelope(library: Openlib) -> None:
    params = {**CREDENTIALS, "secret": "guess"}
    async with library.http.get(TOKEN, params=params) as response:
        answer = await envelope(response)
    assert answer["success"] is False
    assert codes(answer) == ["E00403"]
    assert "token" not in answer


async def test_missing_or_unknown_token_answers_e00401_with_http_200(library: Openlib) -> None:
    async with library.http.get(f"{SERVICE}/reader/info?rdid=LH000001") as response:
        missing = await envelope(response)
    library.token = "not-a-token"
    unknown = await library.get(f"{SERVICE}/reader/info", rdid="LH000001")
    write = await library.post("lendbook", rdid="LH000002", barcode="044000100001")
    for answer in (missing, unknown, write):
        assert answer == {
            "success": False,
            "messagelist": [{"code": "E00401", "message": "token invalid"}],
        }


async def test_token_expires_when_the_clock_passes_expires_in(library: Openlib) -> None:
    assert (await library.get(f"{SERVICE}/reader/info", rdid="LH000001"))["success"]
    await library.admin("clock", {"offset_seconds": DAY - 60})
    assert (await library.get(f"{SERVICE}/reader/info", rdid="LH000001"))["success"]
    await library.admin("clock", {"offset_seconds": DAY + 1})
    expired = await library.get(f"{SERVICE}/reader/info", rdid="LH000001")
    assert codes(expired) == ["E00401"]
    library.token = await get_token(library.http)
    assert (await library.get(f"{SERVICE}/reader/info", rdid="LH000001"))["success"]


async def test_admin_can_expire_every_token(library: Openlib) -> None:
    second = await get_token(library.http)
    assert (await library.admin("tokens/expire", {}))["expired"] == 2
    for token in (library.token, second):
        library.token = token
        assert codes(await library.get(f"{SERVICE}/reader/info", rdid="LH000001")) == ["E00401"]


async def test_every_answer_uses_the_envelope_and_only_outages_use_5xx(library: Openlib) -> None:
    calls = [
        (f"{SERVICE}/reader/info", {"rdid": "LH000001"}),
        (f"{SERVICE}/reader/info", {"rdid": "LH999999"}),
        (f"{SERVICE}/reader/info", {}),
        (f"{SERVICE}/reader/search", {"selecttype": "name", "queryvalue": "x"}),
        (f"{SERVICE}/reader/holds", {"rdid": "LH000001"}),
        (f"{SERVICE}/barcode/rdloanlist", {"rdid": "nobody"}),
        (f"{SERVICE}/item/batch", {"barcodes": ""}),
        ("/opac/api/book/batch", {"bookrecnos": "500001"}),
        ("/opac/advance/search", {"q": "深圳", "rows": "500"}),
        ("/opac/api/holding/1", {}),
    ]
    for path, params in calls:
        await library.get(path, **params)  # envelope() asserts HTTP 200 and the shape
    assert codes(await library.post("lendbook", rdid="LH000002")) == ["E00400"]
    await library.admin("faults", {"down": True})
    async with library.http.get(f"{SERVICE}/reader/info") as response:
        assert response.status == 503


async def test_reader_info_masks_the_id_number(library: Openlib) -> None:
    reader = await library.reader("LH000001")
    assert set(reader) == READER_FIELDS
    assert reader["rdcertify_masked"] == f"4403{'*' * 10}{id_number(1)[-4:]}"
    assert (reader["status"], reader["max_loans"], reader["fine_fen"]) == ("VALID", 10, 0)
    assert (await library.reader("LH000004"))["fine_fen"] == 150
    assert (await library.reader("LH000007"))["status"] == "EXPIRED"
    unknown = await library.get(f"{SERVICE}/reader/info", rdid="LH000005")
    assert (unknown["success"], codes(unknown)) == (False, ["E00404"])


async def test_reader_search_finds_a_card_by_id_number(library: Openlib) -> None:
    found = await library.get(
        f"{SERVICE}/reader/search", selecttype="rdcertify", queryvalue=id_number(2)
    )
    assert [reader["rdid"] for reader in found["readers"]] == ["LH000002"]
    assert len(id_number(2)) == 18 and id_number(2).startswith("440303")
    no_card = await library.get(
        f"{SERVICE}/reader/search", selecttype="rdcertify", queryvalue=id_number(5)
    )
    assert (no_card["success"], no_card["readers"]) == (True, [])


async def test_item_batch_reports_unknown_barcodes_per_id(library: Openlib) -> None:
    loaned = [loan["barcode"] for loan in await library.loans("LH000002")]
    asked = [*loaned, "044009999999", "nonsense"]
    answer = await library.get(f"{SERVICE}/item/batch", barcodes=",".join(reversed(asked)))
    assert answer["success"] is True
    assert sorted(item["barcode"] for item in answer["items"]) == sorted(loaned)
    assert [m for m in answer["messagelist"] if m["code"] == "E00404"] == [
        {"code": "E00404", "message": "nonsense not found"},
        {"code": "E00404", "message": "044009999999 not found"},
    ]
    for item in answer["items"]:
        assert set(item) == ITEM_FIELDS
        assert item["circstatus"] == "04" and item["returndate"]


async def test_batches_over_50_are_refused_and_sizes_are_recorded(library: Openlib) -> None:
    await library.admin("stats/reset", {})
    barcodes = [f"04400{100001 + n:07d}" for n in range(51)]
    too_many = await library.get(f"{SERVICE}/item/batch", barcodes=",".join(barcodes))
    assert (too_many["success"], codes(too_many)) == (False, ["E00400"])
    fifty = await library.get(f"{SERVICE}/item/batch", barcodes=",".join(barcodes[:50]))
    assert len(fifty["items"]) == 50
    recnos = [str(500001 + n) for n in range(51)]
    refused = await library.get("/opac/api/book/batch", bookrecnos=",".join(recnos))
    assert codes(refused) == ["E00400"]
    await library.get("/opac/api/book/batch", bookrecnos="500001,500002")
    sizes = (await library.admin("stats"))["batch_sizes"]
    assert sizes[f"GET {SERVICE}/item/batch"] == [51, 50]
    assert sizes["GET /opac/api/book/batch"] == [51, 2]


async def test_book_batch_returns_records_with_valid_isbns(library: Openlib) -> None:
    answer = await library.get("/opac/api/book/batch", bookrecnos="500002,999,500001")
    books = answer["books"]
    assert [book["bookrecno"] for book in books] == ["500001", "500002"]
    assert codes(answer) == ["R00001", "E00404"]
    for book in books:
        assert set(book) == BOOK_FIELDS
        digits = [int(d) for d in book["isbn"]]
        assert len(digits) == 13 and book["isbn"].startswith("9787")
        assert sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


async def test_search_pages_through_the_catalogue(library: Openlib) -> None:
    first = await library.get("/opac/advance/search", q="", page="1", rows="50")
    second = await library.get("/opac/advance/search", q="", page="2", rows="50")
    assert first["total"] == second["total"] >= 8000
    assert (first["page"], first["rows"], len(first["records"])) == (1, 50, 50)
    assert first["records"][-1]["bookrecno"] < second["records"][0]["bookrecno"]
    too_many = await library.get("/opac/advance/search", q="", rows="51")
    assert codes(too_many) == ["E00400"]
    beyond = await library.get("/opac/advance/search", q="", page="1000", rows="50")
    assert beyond["records"] == [] and beyond["total"] == first["total"]


async def test_search_ways_look_in_their_own_field(library: Openlib) -> None:
    book = (await library.get("/opac/api/book/batch", bookrecnos="500010"))["books"][0]
    by_title = await library.get("/opac/advance/search", q=book["title"], searchWay="title")
    assert by_title["total"] >= 1
    assert all(book["title"] in record["title"] for record in by_title["records"])
    by_author = await library.get("/opac/advance/search", q=book["author"], searchWay="author")
    assert book["bookrecno"] in [record["bookrecno"] for record in by_author["records"]]
    by_isbn = await library.get("/opac/advance/search", q=book["isbn"], searchWay="isbn")
    assert by_isbn["records"] == [book]
    keyword = await library.get("/opac/advance/search", q="深圳", searchWay="keyword", rows="50")
    title_only = await library.get("/opac/advance/search", q="深圳", searchWay="title")
    assert keyword["total"] > title_only["total"] > 0
    bad = await library.get("/opac/advance/search", q="深圳", searchWay="everything")
    assert codes(bad) == ["E00400"]


async def test_holding_lists_every_copy_of_a_record(library: Openlib) -> None:
    loan = (await library.loans("LH000002"))[0]
    holdings = (await library.get(f"/opac/api/holding/{loan['bookrecno']}"))["holdings"]
    copy = next(h for h in holdings if h["barcode"] == loan["barcode"])
    assert copy["circstatus"] == "04"
    assert set(copy) == {"barcode", "lib", "location", "callno", "circstatus"}
    assert codes(await library.get("/opac/api/holding/42")) == ["E00404"]


async def test_first_resident_has_ten_loans_overdue_and_renewed_ones(library: Openlib) -> None:
    today = await library.today()
    loans = await library.loans("LH000001")
    assert len(loans) == 10
    overdue = [loan for loan in loans if loan["overdue"]]
    assert sorted((today - date.fromisoformat(x["returndate"])).days for x in overdue) == [5, 20]
    at_limit = [loan for loan in loans if loan["renewcount"] == loan["renewlimit"] == 1]
    assert len(at_limit) == 2 and not any(loan["overdue"] for loan in at_limit)
    items = await library.items(*(loan["barcode"] for loan in loans))
    for loan in loans:
        assert items[loan["barcode"]]["circstatus"] == "04"
        assert items[loan["barcode"]]["returndate"] == loan["returndate"]
    assert len(await library.loans("LH000002")) == 3


async def test_holds_include_a_waiting_hold_on_a_loan_of_the_first_resident(
    library: Openlib,
) -> None:
    mine = (await library.get(f"{SERVICE}/reader/holds", rdid="LH000001"))["holds"]
    assert sorted(hold["status"] for hold in mine) == ["READY", "WAITING"]
    theirs = (await library.get(f"{SERVICE}/reader/holds", rdid="LH000003"))["holds"]
    loaned = {loan["bookrecno"] for loan in await library.loans("LH000001")}
    assert [hold["status"] for hold in theirs] == ["WAITING"]
    assert theirs[0]["bookrecno"] in loaned


async def test_lending_stops_at_ten_books(library: Openlib) -> None:
    today = await library.today()
    barcodes = await library.available(8)
    for barcode in barcodes[:7]:
        lent = await library.post("lendbook", rdid="LH000002", barcode=barcode)
        assert codes(lent) == ["R00102"]
        assert lent["loan"]["returndate"] == (today + timedelta(days=31)).isoformat()
    refused = await library.post("lendbook", rdid="LH000002", barcode=barcodes[7])
    assert (refused["success"], codes(refused)) == (False, ["E00311"])
    assert len(await library.loans("LH000002")) == 10
    assert (await library.items(barcodes[0]))[barcodes[0]]["circstatus"] == "04"


async def test_unavailable_items_and_suspended_readers_cannot_borrow(library: Openlib) -> None:
    taken = (await library.loans("LH000002"))[0]["barcode"]
    unavailable = await library.post("lendbook", rdid="LH000008", barcode=taken)
    assert codes(unavailable) == ["E00312"]
    free = (await library.available(1))[0]
    suspended = await library.post("lendbook", rdid="LH000006", barcode=free)
    assert (suspended["success"], codes(suspended)) == (False, ["E00310"])
    assert (await library.items(free))[free]["circstatus"] == "03"


async def test_renewal_moves_the_due_date_once(library: Openlib) -> None:
    today = await library.today()
    barcode = (await library.loans("LH000002"))[0]["barcode"]
    renewed = await library.post("renewbook", rdid="LH000002", barcode=barcode)
    assert codes(renewed) == ["R00108"]
    assert renewed["loan"]["returndate"] == (today + timedelta(days=31)).isoformat()
    assert renewed["loan"]["renewcount"] == 1
    again = await library.post("renewbook", rdid="LH000002", barcode=barcode)
    assert (again["success"], codes(again)) == (False, ["E00320"])


async def test_overdue_and_wanted_loans_cannot_be_renewed(library: Openlib) -> None:
    loans = await library.loans("LH000001")
    overdue = next(loan for loan in loans if loan["overdue"])
    refused = await library.post("renewbook", rdid="LH000001", barcode=overdue["barcode"])
    assert codes(refused) == ["E00322"]
    wanted = (await library.get(f"{SERVICE}/reader/holds", rdid="LH000003"))["holds"][0]
    held = next(loan for loan in loans if loan["bookrecno"] == wanted["bookrecno"])
    refused = await library.post("renewbook", rdid="LH000001", barcode=held["barcode"])
    assert codes(refused) == ["E00321"]


async def test_return_charges_the_overdue_fine(library: Openlib) -> None:
    today = await library.today()
    overdue = [loan for loan in await library.loans("LH000001") if loan["overdue"]]
    fines = 0
    for loan in overdue:
        days = (today - date.fromisoformat(loan["returndate"])).days
        returned = await library.post("returnbook", barcode=loan["barcode"])
        assert codes(returned) == ["R00109"]
        assert returned["fine_fen"] == days * 30
        fines += days * 30
    assert fines == 750
    assert (await library.reader("LH000001"))["fine_fen"] == 750
    assert len(await library.loans("LH000001")) == 8


async def test_the_fine_is_capped_at_ten_yuan_a_book(library: Openlib) -> None:
    today = await library.today()
    loan = (await library.loans("LH000002"))[0]
    due = date.fromisoformat(loan["returndate"])
    await library.admin("clock", {"offset_seconds": ((due - today).days + 60) * DAY})
    library.token = await get_token(library.http)
    assert (await library.loans("LH000002"))[0]["overdue"] is True
    returned = await library.post("returnbook", barcode=loan["barcode"])
    assert returned["fine_fen"] == 1000  # 60 days x 30 fen would be 1800
    assert (await library.reader("LH000002"))["fine_fen"] == 1000
    not_on_loan = await library.post("returnbook", barcode=loan["barcode"])
    assert (not_on_loan["success"], codes(not_on_loan)) == (False, ["E00330"])


async def test_a_returned_copy_is_trapped_for_the_waiting_hold(library: Openlib) -> None:
    wanted = (await library.get(f"{SERVICE}/reader/holds", rdid="LH000003"))["holds"][0]
    loans = await library.loans("LH000001")
    held = next(loan for loan in loans if loan["bookrecno"] == wanted["bookrecno"])
    assert (await library.post("returnbook", barcode=held["barcode"]))["fine_fen"] == 0
    assert (await library.items(held["barcode"]))[held["barcode"]]["circstatus"] == "08"
    ready = (await library.get(f"{SERVICE}/reader/holds", rdid="LH000003"))["holds"][0]
    assert ready["status"] == "READY"
    stranger = await library.post("lendbook", rdid="LH000002", barcode=held["barcode"])
    assert codes(stranger) == ["E00312"]
    collected = await library.post("lendbook", rdid="LH000003", barcode=held["barcode"])
    assert codes(collected) == ["R00102"]
    assert (await library.get(f"{SERVICE}/reader/holds", rdid="LH000003"))["holds"] == []


async def test_an_uncollected_hold_lapses_with_the_clock(library: Openlib) -> None:
    holds = (await library.get(f"{SERVICE}/reader/holds", rdid="LH000001"))["holds"]
    ready = next(hold for hold in holds if hold["status"] == "READY")
    copies = (await library.get(f"/opac/api/holding/{ready['bookrecno']}"))["holdings"]
    shelf = next(copy["barcode"] for copy in copies if copy["circstatus"] == "08")
    lapse = (date.fromisoformat(ready["expires"]) - await library.today()).days + 1
    await library.admin("clock", {"offset_seconds": lapse * DAY})
    library.token = await get_token(library.http)
    holds = (await library.get(f"{SERVICE}/reader/holds", rdid="LH000001"))["holds"]
    assert "READY" not in [hold["status"] for hold in holds]
    assert (await library.items(shelf))[shelf]["circstatus"] == "03"


async def test_request_id_makes_a_write_happen_once(library: Openlib) -> None:
    first, second = await library.available(2)
    request_id = "req-lend-1"
    lent = await library.post("lendbook", rdid="LH000002", barcode=first, request_id=request_id)
    replay = await library.post("lendbook", rdid="LH000002", barcode=second, request_id=request_id)
    assert codes(lent) == ["R00102"]
    assert replay == lent
    assert len(await library.loans("LH000002")) == 4
    assert (await library.items(second))[second]["circstatus"] == "03"
    returned = await library.post("returnbook", barcode=first, request_id="req-return-1")
    again = await library.post("returnbook", barcode=first, request_id="req-return-1")
    assert codes(returned) == codes(again) == ["R00109"]
    missing_id = await library.post("returnbook", barcode=first, request_id="")
    assert codes(missing_id) == ["E00400"]


async def test_the_same_seed_gives_the_same_library() -> None:
    specs = [SPEC, MockSpec("twin", 0, SPEC.factory), MockSpec("other", 0, SPEC.factory)]
    running = await start_mocks(specs[:2], ports={"library": 0, "twin": 0})
    other = await start_mocks(specs[2:], config=MockConfig(seed=7), ports={"other": 0})
    try:
        seen = []
        for url in [*running.urls.values(), *other.urls.values()]:
            async with aiohttp.ClientSession(base_url=url) as http:
                library = Openlib(http, await get_token(http))
                books = await library.get(
                    "/opac/api/book/batch", bookrecnos=",".join(str(500001 + n) for n in range(50))
                )
                seen.append(
                    (
                        await library.reader("LH000001"),
                        await library.loans("LH000001"),
                        await library.loans("LH000011"),
                        books["books"],
                        await library.items(*(f"04400{100001 + n:07d}" for n in range(50))),
                        await library.get("/opac/advance/search", q="深圳", rows="50"),
                    )
                )
        assert seen[0] == seen[1]
        assert seen[0][3] != seen[2][3]
    finally:
        await running.stop()
        await other.stop()
