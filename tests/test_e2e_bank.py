"""Bank windows end to end: both dialects behind one schema, queues batched, bookings private."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import LiveHub, MockAdmin

ICBC_QUEUES = "POST /api/branch.queue.query"
CCB_QUEUE = "POST /api/wd.pdxx"
ICBC_CREATE = "POST /api/gov.appointment.create"
BRANCHES = """query($near: Location, $item: String) { bankWindows { branches(first: 50, near: $near, itemCode: $item) {
  totalCount edges { node { id bank name address hours distanceMeters queue { waiting estimatedWaitMinutes updatedAt } items { code name } } } } } }"""
BOOK = """mutation Book($input: BookWindowAppointmentInput!) { bookWindowAppointment(input: $input) {
  appointment { number bank date slot status branch { name } item { code name } } userErrors { code message field } } }"""
CANCEL = """mutation Cancel($input: CancelWindowAppointmentInput!) { cancelWindowAppointment(input: $input) {
  appointment { number status } userErrors { code field } } }"""
MINE = "{ me { windowAppointments { number bank status date slot item { code } } } }"
CHINA = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def banks(mocks: Any) -> Iterator[dict[str, MockAdmin]]:
    admins = {name: MockAdmin(mocks.urls[name]) for name in ("icbc", "ccb")}
    for admin in admins.values():
        admin.clear_faults()
        admin.reset()
    yield admins
    for admin in admins.values():
        admin.clear_faults()


def in_days(n: int) -> str:
    return (dt.datetime.now(CHINA).date() + dt.timedelta(days=n)).isoformat()


def booking(**changes: object) -> dict[str, Any]:
    base = {
        "bank": "ICBC", "branchId": "4000101", "itemCode": "SB-0001", "date": in_days(12),
        "slot": "15:00-15:30", "mobile": "13800138000", "idempotencyKey": "book-default",
    }  # fmt: skip
    return {"input": {**base, **changes}}


def test_both_banks_branches_with_queues_in_the_fewest_calls(
    start_hub: Callable[..., LiveHub], banks: dict[str, MockAdmin]
) -> None:
    # given a fresh hub
    hub = start_hub()
    # when the branch page is opened
    body = hub.graphql(BRANCHES, {"near": None, "item": None}).json()
    # then both banks' government windows are there, with their queues
    data = body["data"]["bankWindows"]["branches"]
    nodes = [e["node"] for e in data["edges"]]
    assert data["totalCount"] == 20 and {n["bank"] for n in nodes} == {"ICBC", "CCB"}
    assert all(n["queue"] is not None and n["items"] for n in nodes), body.get("errors")
    # ICBC answers all queues in one batch; CCB one call per branch
    assert banks["icbc"].calls(ICBC_QUEUES) == 1
    assert banks["ccb"].calls(CCB_QUEUE) == 10
    # and within 30 seconds nobody is asked again
    hub.graphql(BRANCHES, {"near": None, "item": None})
    assert (banks["icbc"].calls(ICBC_QUEUES), banks["ccb"].calls(CCB_QUEUE)) == (1, 10)


def test_nearest_first_and_filtered_by_item(hub: LiveHub) -> None:
    near = {"latitude": 22.5455, "longitude": 114.1187}
    nodes = [
        e["node"]
        for e in hub.graphql(BRANCHES, {"near": near, "item": "GJJ-0003"}).json()["data"][
            "bankWindows"
        ]["branches"]["edges"]
    ]
    distances = [n["distanceMeters"] for n in nodes]
    assert distances == sorted(distances) and all(d > 0 for d in distances)
    assert all("GJJ-0003" in {i["code"] for i in n["items"]} for n in nodes)


def test_items_merge_both_banks(hub: LiveHub) -> None:
    items = hub.graphql(
        '{ bankWindows { items(query: "公积金") { code name banks materials } } }'
    ).json()["data"]["bankWindows"]["items"]
    fund = next(i for i in items if i["code"] == "GJJ-0003")
    assert set(fund["banks"]) == {"ICBC", "CCB"} and fund["materials"]
    every = hub.graphql("{ bankWindows { items { code } } }").json()["data"]["bankWindows"]["items"]
    assert len(every) == 340


def test_book_list_and_cancel_an_appointment(
    hub: LiveHub, banks: dict[str, MockAdmin], token_for: Callable[..., str]
) -> None:
    token = token_for("R000301")
    variables = booking(idempotencyKey="book-R000301-1", slot="15:30-16:00")
    # when the resident books, twice with the same key
    first = hub.graphql(BOOK, variables, token=token).json()["data"]["bookWindowAppointment"]
    again = hub.graphql(BOOK, variables, token=token).json()["data"]["bookWindowAppointment"]
    # then one booking exists, and it is theirs
    assert first == again and first["userErrors"] == []
    appointment = first["appointment"]
    assert appointment["status"] == "BOOKED" and appointment["item"]["code"] == "SB-0001"
    assert appointment["branch"]["name"]
    assert banks["icbc"].calls(ICBC_CREATE) == 1
    mine = hub.graphql(MINE, token=token).json()["data"]["me"]["windowAppointments"]
    assert [a["number"] for a in mine] == [appointment["number"]]
    # a neighbour cannot cancel it, and does not reach the bank
    cancel = {
        "input": {"bank": "ICBC", "number": appointment["number"], "idempotencyKey": "cancel-x-1"}
    }
    stranger = hub.graphql(CANCEL, cancel, token=token_for("R000302")).json()
    assert stranger["errors"][0]["extensions"] == {"code": "FORBIDDEN", "field": "number"}
    assert banks["icbc"].calls("POST /api/gov.appointment.cancel") == 0
    # the resident can, once
    done = hub.graphql(CANCEL, cancel, token=token).json()["data"]["cancelWindowAppointment"]
    assert done == {
        "appointment": {"number": appointment["number"], "status": "CANCELLED"},
        "userErrors": [],
    }
    twice = {"input": {**cancel["input"], "idempotencyKey": "cancel-x-2"}}
    refused = hub.graphql(CANCEL, twice, token=token).json()["data"]["cancelWindowAppointment"]
    assert [e["code"] for e in refused["userErrors"]] == ["CANNOT_CANCEL"]


def test_ccb_bookings_speak_the_same_schema(hub: LiveHub, token_for: Callable[..., str]) -> None:
    token = token_for("R000303")
    variables = booking(
        bank="CCB",
        branchId="44200001",
        idempotencyKey="book-R000303-ccb",
        slot="16:00-16:30",
        date=in_days(13),
    )
    payload = hub.graphql(BOOK, variables, token=token).json()["data"]["bookWindowAppointment"]
    assert payload["userErrors"] == [] and payload["appointment"]["bank"] == "CCB"
    assert payload["appointment"]["status"] == "BOOKED"
    mine = hub.graphql(MINE, token=token).json()["data"]["me"]["windowAppointments"]
    assert [(a["bank"], a["status"]) for a in mine] == [("CCB", "BOOKED")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"mobile": "12345"}, "mobile"),
        ({"slot": "morning"}, "slot"),
        ({"idempotencyKey": "x"}, "idempotencyKey"),
    ],
)
def test_bad_booking_input(
    hub: LiveHub,
    banks: dict[str, MockAdmin],
    token_for: Callable[..., str],
    changes: dict[str, str],
    field: str,
) -> None:
    body = hub.graphql(
        BOOK, booking(**{"idempotencyKey": f"bad-{field}-1", **changes}), token=token_for("R000307")
    ).json()
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert banks["icbc"].total() == 0


def test_dates_outside_the_window_and_full_slots_are_user_errors(
    hub: LiveHub, token_for: Callable[..., str]
) -> None:
    token = token_for("R000309")
    late = hub.graphql(
        BOOK, booking(date=in_days(40), idempotencyKey="book-late-1"), token=token
    ).json()
    assert [e["code"] for e in late["data"]["bookWindowAppointment"]["userErrors"]] == [
        "INVALID_BOOKING"
    ]
    unknown_item = hub.graphql(
        BOOK, booking(itemCode="ZZ-9999", idempotencyKey="book-item-1"), token=token
    ).json()
    assert [e["code"] for e in unknown_item["data"]["bookWindowAppointment"]["userErrors"]] == [
        "ITEM_NOT_HANDLED"
    ]


def test_one_bank_down_leaves_the_other_bank_answering(
    start_hub: Callable[..., LiveHub], banks: dict[str, MockAdmin]
) -> None:
    hub = start_hub()
    banks["ccb"].faults(down=True)
    body = hub.graphql(
        "{ bankWindows { branches(first: 50) { totalCount edges { node { bank } } } } }"
    ).json()
    nodes = [e["node"] for e in body["data"]["bankWindows"]["branches"]["edges"]]
    assert {n["bank"] for n in nodes} == {"ICBC"} and len(nodes) == 10
    assert [(e["path"], e["extensions"]) for e in body["errors"]] == [
        (["bankWindows", "branches"], {"code": "UPSTREAM_UNAVAILABLE", "department": "ccb"})
    ]


def test_both_banks_down_each_says_so_once(
    start_hub: Callable[..., LiveHub], banks: dict[str, MockAdmin]
) -> None:
    hub = start_hub()
    banks["icbc"].faults(down=True)
    banks["ccb"].faults(down=True)
    body = hub.graphql("{ bankWindows { branches(first: 5) { totalCount } } }").json()
    assert body["data"]["bankWindows"]["branches"] is None
    assert sorted((e["path"], e["extensions"]["department"]) for e in body["errors"]) == [
        (["bankWindows", "branches"], "ccb"),
        (["bankWindows", "branches"], "icbc"),
    ]
