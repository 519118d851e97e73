"""The library end to end: loans with books batched, safe writes, refusals as user errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support import LiveHub, MockAdmin

LOANS = "GET /openlib/service/barcode/rdloanlist"
ITEMS = "GET /openlib/service/item/batch"
BOOKS = "GET /opac/api/book/batch"
LEND = "POST /openlib/service/barcode/lendbook"
RETURN = "POST /openlib/service/barcode/returnbook"

BORROW = """mutation Borrow($input: BarcodeInput!) {
  borrowBook(input: $input) { loan { barcode dueDate renewable book { title } } userErrors { code message field } }
}"""
RENEW = """mutation Renew($input: BarcodeInput!) {
  renewLoan(input: $input) { loan { barcode dueDate renewCount } userErrors { code message field } }
}"""
RETURN_BOOK = """mutation Return($input: BarcodeInput!) {
  returnBook(input: $input) { barcode fine { fen yuan } userErrors { code field } }
}"""
MY_LOANS = (
    "{ me { library { loans { barcode overdue renewable renewCount renewLimit dueDate } } } }"
)


@pytest.fixture
def library(mocks: Any) -> MockAdmin:
    admin = MockAdmin(mocks.urls["library"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


def available_copies(hub: LiveHub, query: str) -> list[str]:
    body = hub.graphql(
        "query($q: String!) { library { search(query: $q, first: 20) { edges { node { holdings { barcode status } } } } } }",
        {"q": query},
    ).json()
    edges = body["data"]["library"]["search"]["edges"]
    return [
        h["barcode"] for e in edges for h in e["node"]["holdings"] if h["status"] == "AVAILABLE"
    ]


def test_ten_loans_with_their_books_take_one_loan_list_and_one_book_batch(
    start_hub: Callable[..., LiveHub], library: MockAdmin, token_for: Callable[..., str]
) -> None:
    # given a hub with nothing cached
    hub = start_hub()
    # when the resident with ten loans opens their loans
    body = hub.graphql(
        "{ me { library { loans { book { title author } } } } }", token=token_for("R000001")
    ).json()
    # then ten books came from one loan list and one book batch
    loans = body["data"]["me"]["library"]["loans"]
    assert len(loans) == 10 and all(loan["book"]["title"] for loan in loans)
    assert (library.calls(LOANS), library.calls(BOOKS), library.calls(ITEMS)) == (1, 1, 0)
    assert library.stats()["batch_sizes"][BOOKS] == [10]


def test_copies_add_exactly_one_item_batch_and_books_stay_cached(
    start_hub: Callable[..., LiveHub], library: MockAdmin, token_for: Callable[..., str]
) -> None:
    hub = start_hub()
    query = "{ me { library { loans { copy { callNumber library status } book { title } } } } }"
    first = hub.graphql(query, token=token_for("R000001")).json()
    assert all(
        loan["copy"]["status"] == "ON_LOAN" for loan in first["data"]["me"]["library"]["loans"]
    )
    assert (library.calls(LOANS), library.calls(ITEMS), library.calls(BOOKS)) == (1, 1, 1)
    hub.graphql(query, token=token_for("R000001"))
    assert library.calls(BOOKS) == 1, "catalogue records are cached across requests"
    assert (library.calls(LOANS), library.calls(ITEMS)) == (2, 2), "circulation data is not"


def test_card_and_holds(hub: LiveHub, token_for: Callable[..., str]) -> None:
    query = "{ me { library { card { id status maxLoans fine { fen yuan } } holds { title status book { title } } } } }"
    body = hub.graphql(query, token=token_for("R000001")).json()
    library = body["data"]["me"]["library"]
    assert library["card"]["id"] == "LH000001" and library["card"]["maxLoans"] == 10
    assert {h["status"] for h in library["holds"]} == {"READY", "WAITING"}
    assert all(h["book"]["title"] == h["title"] for h in library["holds"])


def test_a_resident_without_a_card_has_an_empty_library(
    hub: LiveHub, library: MockAdmin, token_for: Callable[..., str]
) -> None:
    body = hub.graphql(
        "{ me { library { card { id } loans { barcode } holds { title } } } }",
        token=token_for("R000005"),
    ).json()
    assert body["data"]["me"]["library"] == {"card": None, "loans": [], "holds": []}
    assert library.total() == 0


def test_search_pages_and_bad_paging(hub: LiveHub) -> None:
    query = 'query($after: String) { library { search(query: "中国", by: TITLE, first: 5, after: $after) { totalCount edges { node { id } } pageInfo { endCursor hasNextPage } } } }'
    first = hub.graphql(query, {"after": None}).json()["data"]["library"]["search"]
    second = hub.graphql(query, {"after": first["pageInfo"]["endCursor"]}).json()["data"][
        "library"
    ]["search"]
    ids = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert len(ids) == len(set(ids)) == 10 and first["totalCount"] > 10
    for bad in (
        '{ library { search(query: "x", first: 51) { totalCount } } }',
        '{ library { search(query: " ") { totalCount } } }',
    ):
        assert hub.graphql(bad).json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (
        hub.graphql('{ library { book(id: "nope") { title } } }').json()["data"]["library"]["book"]
        is None
    )


def test_fifty_concurrent_and_fifty_sequential_borrows_lend_once(
    hub: LiveHub, library: MockAdmin, token_for: Callable[..., str]
) -> None:
    # given a resident with room on their card and an available copy
    token, barcode = token_for("R000211"), available_copies(hub, "历史")[0]
    variables = {"input": {"barcode": barcode, "idempotencyKey": "borrow-R000211-0001"}}
    # when the app sends the same borrow 50 times at once, then 50 times more
    with ThreadPoolExecutor(max_workers=25) as pool:
        concurrent = list(
            pool.map(lambda _: hub.graphql(BORROW, variables, token=token).json(), range(50))
        )
    sequential = [hub.graphql(BORROW, variables, token=token).json() for _ in range(50)]
    # then the library lent it once, and every answer is that loan
    answers = {json.dumps(a, sort_keys=True) for a in concurrent + sequential}
    assert len(answers) == 1
    payload = concurrent[0]["data"]["borrowBook"]
    assert payload["userErrors"] == [] and payload["loan"]["barcode"] == barcode
    assert library.calls(LEND) == 1
    mine = hub.graphql(MY_LOANS, token=token).json()["data"]["me"]["library"]["loans"]
    assert barcode in {loan["barcode"] for loan in mine}


def test_the_same_key_for_another_copy_is_bad_input(
    hub: LiveHub, library: MockAdmin, token_for: Callable[..., str]
) -> None:
    token = token_for("R000212")
    first, second = available_copies(hub, "经济")[:2]
    ok = hub.graphql(
        BORROW, {"input": {"barcode": first, "idempotencyKey": "borrow-R000212-1"}}, token=token
    ).json()
    assert ok["data"]["borrowBook"]["userErrors"] == []
    reused = hub.graphql(
        BORROW, {"input": {"barcode": second, "idempotencyKey": "borrow-R000212-1"}}, token=token
    ).json()
    assert reused["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "idempotencyKey",
    }
    assert library.calls(LEND) == 1


def test_refusals_are_user_errors(hub: LiveHub, token_for: Callable[..., str]) -> None:
    token = token_for("R000001")
    loans = hub.graphql(MY_LOANS, token=token).json()["data"]["me"]["library"]["loans"]
    overdue = next(loan for loan in loans if loan["overdue"])
    at_limit = next(
        loan for loan in loans if loan["renewCount"] >= loan["renewLimit"] and not loan["overdue"]
    )
    cases = [
        (BORROW, available_copies(hub, "文学")[0], "borrowBook", "LOAN_LIMIT_REACHED"),
        (RENEW, overdue["barcode"], "renewLoan", "OVERDUE"),
        (RENEW, at_limit["barcode"], "renewLoan", "RENEWAL_LIMIT_REACHED"),
    ]
    for number, (mutation, barcode, field, code) in enumerate(cases):
        key = f"refusal-R000001-{number}-{code}"
        body = hub.graphql(
            mutation, {"input": {"barcode": barcode, "idempotencyKey": key}}, token=token
        ).json()
        assert "errors" not in body, body
        assert [e["code"] for e in body["data"][field]["userErrors"]] == [code]
        assert body["data"][field]["loan"] is None
        message = body["data"][field]["userErrors"][0]["message"]
        assert message and "E00" not in message


def test_returning_someone_elses_book_reaches_no_return(
    hub: LiveHub, library: MockAdmin, token_for: Callable[..., str]
) -> None:
    theirs = hub.graphql(MY_LOANS, token=token_for("R000001")).json()["data"]["me"]["library"][
        "loans"
    ][0]["barcode"]
    body = hub.graphql(
        RETURN_BOOK,
        {"input": {"barcode": theirs, "idempotencyKey": "return-R000002-x"}},
        token=token_for("R000002"),
    ).json()
    assert [e["code"] for e in body["data"]["returnBook"]["userErrors"]] == ["NOT_ON_LOAN"]
    assert library.calls(RETURN) == 0


def test_borrow_renew_return_round_trip(hub: LiveHub, token_for: Callable[..., str]) -> None:
    token, barcode = token_for("R000213"), available_copies(hub, "科学")[0]
    borrowed = hub.graphql(
        BORROW, {"input": {"barcode": barcode, "idempotencyKey": "rt-213-borrow"}}, token=token
    ).json()
    assert borrowed["data"]["borrowBook"]["loan"]["renewable"] is True
    renewed = hub.graphql(
        RENEW, {"input": {"barcode": barcode, "idempotencyKey": "rt-213-renew"}}, token=token
    ).json()
    assert renewed["data"]["renewLoan"]["loan"]["renewCount"] == 1
    returned = hub.graphql(
        RETURN_BOOK, {"input": {"barcode": barcode, "idempotencyKey": "rt-213-return"}}, token=token
    ).json()
    assert returned["data"]["returnBook"] == {
        "barcode": barcode,
        "fine": {"fen": 0, "yuan": "0.00"},
        "userErrors": [],
    }


def test_mutations_need_a_resident(hub: LiveHub, library: MockAdmin) -> None:
    body = hub.graphql(
        BORROW, {"input": {"barcode": "044000100001", "idempotencyKey": "anon-0001"}}
    ).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert library.total() == 0


def test_bad_idempotency_key_is_bad_input(
    hub: LiveHub, library: MockAdmin, token_for: Callable[..., str]
) -> None:
    body = hub.graphql(
        BORROW,
        {"input": {"barcode": "044000100001", "idempotencyKey": "short"}},
        token=token_for("R000214"),
    ).json()
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "idempotencyKey"}
    assert library.total() == 0


def test_a_library_outage_nulls_only_the_library(
    start_hub: Callable[..., LiveHub], library: MockAdmin, token_for: Callable[..., str]
) -> None:
    hub = start_hub()
    library.faults(down=True)
    body = hub.graphql(
        "{ me { name library { loans { barcode } } household { members { name } } } }",
        token=token_for("R000001"),
    ).json()
    assert body["data"]["me"]["library"]["loans"] is None
    assert body["data"]["me"]["household"]["members"]
    assert [(e["path"], e["extensions"]) for e in body["errors"]] == [
        (["me", "library", "loans"], {"code": "UPSTREAM_UNAVAILABLE", "department": "library"})
    ]


def test_an_unknown_barcode_is_a_not_found_user_error(
    hub: LiveHub, token_for: Callable[..., str]
) -> None:
    body = hub.graphql(
        BORROW,
        {"input": {"barcode": "049999999999", "idempotencyKey": "unknown-barcode-1"}},
        token=token_for("R000216"),
    ).json()
    assert [e["code"] for e in body["data"]["borrowBook"]["userErrors"]] == ["NOT_FOUND"]
