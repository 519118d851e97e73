"""Pure mapping of openlib / OPAC payloads: samples as the library mock sends them, no server."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from connectors.errors import Refused, UpstreamNotFound, UpstreamPayloadError, UpstreamRejected
from connectors.library import envelope, mapping
from connectors.library.models import CirculationStatus, HoldStatus, ReaderStatus
from connectors.library.token import Grant, TokenKeeper, grant

READER_ANSWER: dict[str, Any] = {
    "success": True,
    "messagelist": [{"code": "R00001", "message": "ok"}],
    "reader": {
        "rdid": "LH000001",
        "rdname": "谭桂",
        "rdcertify_masked": "4403**********3895",
        "rdtype": "普通读者",
        "rdlib": "罗湖区图书馆翠竹分馆",
        "status": "VALID",
        "max_loans": 10,
        "fine_fen": 0,
    },
}
LOAN = {
    "barcode": "044000111338",
    "bookrecno": "506012",
    "title": "狐狸不睡觉：成长绘本",
    "loandate": "2026-11-13",
    "returndate": "2026-12-14",
    "renewcount": 0,
    "renewlimit": 1,
    "overdue": False,
}
HOLD = {
    "bookrecno": "507519",
    "title": "趣味烘焙十讲",
    "pickup_lib": "罗湖区图书馆总馆",
    "status": "WAITING",
    "expires": "2027-01-12",
}
ITEM_BATCH_ANSWER: dict[str, Any] = {
    "success": True,
    "messagelist": [
        {"code": "R00001", "message": "ok"},
        {"code": "E00404", "message": "nope not found"},
    ],
    "items": [
        {
            "barcode": "044000102179",
            "bookrecno": "501151",
            "callno": "I712.45/45",
            "lib": "罗湖区图书馆总馆",
            "location": "中文图书借阅区",
            "circstatus": "03",
            "returndate": None,
        },
        {
            "barcode": "044000102180",
            "bookrecno": "501151",
            "callno": "I712.45/45",
            "lib": "罗湖区图书馆莲塘分馆",
            "location": "中文图书借阅区",
            "circstatus": "04",
            "returndate": "2026-11-08",
        },
    ],
}
BOOK = {
    "bookrecno": "500015",
    "isbn": "9787218981758",
    "title": "一本书读懂特区简史（插图本）",
    "author": "叶静",
    "publisher": "广东人民出版社",
    "pubyear": "2003",
    "subjects": ["地方文献", "深圳"],
    "cover": "",
}
SEARCH_ANSWER = {
    "success": True,
    "messagelist": [{"code": "R00001", "message": "ok"}],
    "total": 340,
    "page": 1,
    "rows": 1,
    "records": [BOOK],
}
HOLDING = {
    "barcode": "044000102180",
    "lib": "罗湖区图书馆莲塘分馆",
    "location": "中文图书借阅区",
    "callno": "I712.45/45",
    "circstatus": "04",
}
RETURN_ANSWER = {
    "success": True,
    "messagelist": [{"code": "R00109", "message": "ok"}],
    "fine_fen": 150,
    "barcode": "044000102179",
    "rdid": "LH000002",
}
TOKEN_ANSWER = {
    "success": True,
    "messagelist": [{"code": "R00001", "message": "ok"}],
    "token": "276df9ec2eb615ca6e4d4da9e2b5a9fe",
    "expires_in": 86400,
}


def refusal(code: str, text: str = "upstream words") -> envelope.Envelope:
    return envelope.decode(
        {"success": False, "messagelist": [{"code": code, "message": text}]}, "library"
    )


def test_reader_maps_every_field_and_ignores_unknown_ones() -> None:
    reader = mapping.reader({**READER_ANSWER["reader"], "rdemail": "x@example.org"})
    assert reader.card_id == "LH000001"
    assert reader.name == "谭桂"
    assert reader.certificate_masked == "4403**********3895"
    assert (reader.reader_type, reader.home_library) == ("普通读者", "罗湖区图书馆翠竹分馆")
    assert reader.status is ReaderStatus.VALID
    assert (reader.max_loans, reader.fine_fen) == (10, 0)


def test_loan_dates_become_dates() -> None:
    (loan,) = mapping.loans([LOAN])
    assert (loan.barcode, loan.book_id) == ("044000111338", "506012")
    assert loan.loan_date == date(2026, 11, 13)
    assert loan.due_date == date(2026, 12, 14)
    assert (loan.renew_count, loan.renew_limit, loan.overdue) == (0, 1, False)


def test_hold_status_and_expiry() -> None:
    hold = mapping.hold(HOLD)
    assert hold.status is HoldStatus.WAITING
    assert hold.expires == date(2027, 1, 12)
    assert mapping.hold({**HOLD, "expires": None}).expires is None


def test_items_map_circstatus_and_an_absent_due_date() -> None:
    available, on_loan = mapping.items(ITEM_BATCH_ANSWER["items"])
    assert available.status is CirculationStatus.AVAILABLE and available.due_date is None
    assert on_loan.status is CirculationStatus.ON_LOAN
    assert on_loan.due_date == date(2026, 11, 8)
    assert (on_loan.book_id, on_loan.call_number, on_loan.location) == (
        "501151",
        "I712.45/45",
        "中文图书借阅区",
    )


def test_book_without_cover_has_none_and_keeps_pubyear_as_text() -> None:
    book = mapping.book(BOOK)
    assert book.cover_url is None
    assert book.year == "2003"
    assert book.subjects == ("地方文献", "深圳")
    covered = mapping.book({**BOOK, "cover": "https://opac.lhlib.example/cover/1.jpg"})
    assert covered.cover_url == "https://opac.lhlib.example/cover/1.jpg"


def test_search_page_holdings_and_receipt() -> None:
    page = mapping.search_page(SEARCH_ANSWER)
    assert page.total == 340 and [book.id for book in page.books] == ["500015"]
    (holding,) = mapping.holdings([HOLDING])
    assert holding.status is CirculationStatus.ON_LOAN and holding.library == "罗湖区图书馆莲塘分馆"
    receipt = mapping.receipt(RETURN_ANSWER, "044000102179")
    assert (receipt.barcode, receipt.fine_fen) == ("044000102179", 150)
    assert mapping.receipt({"fine_fen": 0}, "B1").barcode == "B1"


@pytest.mark.parametrize(
    ("to_record", "broken"),
    [
        (mapping.reader, {k: v for k, v in READER_ANSWER["reader"].items() if k != "rdid"}),
        (mapping.reader, {**READER_ANSWER["reader"], "status": "BANNED"}),
        (mapping.loan, {k: v for k, v in LOAN.items() if k != "returndate"}),
        (mapping.loan, {**LOAN, "loandate": "13/11/2026"}),
        (mapping.loan, {**LOAN, "overdue": "no"}),
        (mapping.hold, {**HOLD, "status": "LOST"}),
        (mapping.item, {**ITEM_BATCH_ANSWER["items"][0], "circstatus": "99"}),
        (mapping.item, {k: v for k, v in ITEM_BATCH_ANSWER["items"][0].items() if k != "barcode"}),
        (mapping.book, {**BOOK, "pubyear": 2003}),
        (mapping.book, {**BOOK, "subjects": ["文学", 7]}),
        (mapping.holding, {k: v for k, v in HOLDING.items() if k != "circstatus"}),
        (mapping.search_page, {k: v for k, v in SEARCH_ANSWER.items() if k != "total"}),
        (mapping.loans, {"loans": []}),
        (mapping.reader, None),
    ],
)
def test_missing_or_mistyped_required_fields_are_payload_errors(
    to_record: Any, broken: object
) -> None:
    with pytest.raises(UpstreamPayloadError) as raised:
        to_record(broken)
    assert raised.value.department == "library"


def test_envelope_keeps_codes_in_order() -> None:
    answer = envelope.decode(ITEM_BATCH_ANSWER, "library")
    assert answer.success is True
    assert answer.codes == ("R00001", "E00404")
    assert answer.get("items") == ITEM_BATCH_ANSWER["items"]
    assert not answer.token_invalid and not answer.only_misses


@pytest.mark.parametrize(
    "broken",
    [
        b"not even an object",
        {"messagelist": []},
        {"success": "true", "messagelist": []},
        {"success": True},
        {"success": True, "messagelist": [{"message": "no code"}]},
        {"success": True, "messagelist": "R00001"},
    ],
)
def test_an_answer_without_the_envelope_is_a_payload_error(broken: object) -> None:
    with pytest.raises(UpstreamPayloadError):
        envelope.decode(broken, "library")


@pytest.mark.parametrize(
    ("code", "domain_code"),
    [
        ("E00310", "READER_SUSPENDED"),
        ("E00311", "LOAN_LIMIT_REACHED"),
        ("E00312", "ITEM_NOT_AVAILABLE"),
        ("E00320", "RENEWAL_LIMIT_REACHED"),
        ("E00321", "ON_HOLD_FOR_ANOTHER_READER"),
        ("E00322", "OVERDUE"),
        ("E00330", "NOT_ON_LOAN"),
        ("E00404", "NOT_FOUND"),
    ],
)
def test_refused_writes_carry_the_domain_code_and_our_own_message(
    code: str, domain_code: str
) -> None:
    error = envelope.failure("library", refusal(code), what="POST lend", write=True)
    assert isinstance(error, Refused)
    assert (error.department, error.code) == ("library", domain_code)
    assert error.message and "upstream words" not in error.message
    assert error.message == envelope.REFUSALS[code][1]


@pytest.mark.parametrize("code", ["E00400", "E00401", "E00403", "E99999"])
def test_other_codes_are_rejections_carrying_the_upstream_code(code: str) -> None:
    for write in (True, False):
        error = envelope.failure("library", refusal(code), what="call", write=write)
        assert isinstance(error, UpstreamRejected)
        assert error.code == code
        assert "upstream words" not in str(error)


def test_on_reads_e00404_means_not_found() -> None:
    error = envelope.failure("library", refusal("E00404"), what="GET reader", write=False)
    assert isinstance(error, UpstreamNotFound)


def test_token_invalid_is_recognised() -> None:
    assert refusal("E00401").token_invalid
    assert not refusal("E00310").token_invalid


def test_batch_misses_are_not_failures() -> None:
    # given a batch where nothing was known, answered either way a library might
    all_missing = envelope.decode(
        {
            "success": False,
            "messagelist": [
                {"code": "E00404", "message": "a not found"},
                {"code": "E00404", "message": "b not found"},
            ],
        },
        "library",
    )
    # then it counts as an empty batch, unlike a real refusal
    assert all_missing.only_misses
    assert not refusal("E00400").only_misses
    # and in a successful batch the E00404 notes only mark ids that are absent
    answer = envelope.decode(ITEM_BATCH_ANSWER, "library")
    assert answer.success
    assert [item.barcode for item in mapping.items(answer.get("items"))] == [
        "044000102179",
        "044000102180",
    ]


def test_token_grant_hides_the_token_from_repr() -> None:
    granted = grant(TOKEN_ANSWER)
    assert granted.expires_in == 86400
    assert TOKEN_ANSWER["token"] not in repr(granted)
    with pytest.raises(UpstreamPayloadError):
        grant({**TOKEN_ANSWER, "expires_in": 0})
    with pytest.raises(UpstreamPayloadError):
        grant({k: v for k, v in TOKEN_ANSWER.items() if k != "token"})


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_token_keeper_fetches_once_for_concurrent_callers_and_renews_on_time() -> None:
    # given a keeper whose fetch yields to the loop, as a network call would
    clock = Clock()
    issued: list[str] = []

    async def fetch() -> Grant:
        await asyncio.sleep(0)
        issued.append(f"t{len(issued) + 1}")
        return Grant(issued[-1], 1000)

    keeper = TokenKeeper(fetch, clock=clock)
    # when twenty callers ask at once
    tokens = await asyncio.gather(*(keeper.current() for _ in range(20)))
    # then one fetch served them all
    assert {token.value for token in tokens} == {"t1"}
    # when all of them find it refused, they share one renewal
    renewed = await asyncio.gather(*(keeper.renew(stale=tokens[0]) for _ in range(20)))
    assert {token.value for token in renewed} == {"t2"} and issued == ["t1", "t2"]
    # when the clock nears expiry (a tenth of the lifetime before it), it is renewed unasked
    clock.now = 899
    assert (await keeper.current()).value == "t2"
    clock.now = 901
    assert (await keeper.current()).value == "t3"
