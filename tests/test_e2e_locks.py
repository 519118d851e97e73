"""Smart locks end to end: keys with their locks batched, and a door that opens only for its keyholder."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import LiveHub, MockAdmin

LIST_BY_IDS = "GET /v3/lock/listByIds"
KEYS = """{ me { keys { id status validFrom validTo canOpenRemotely
  lock { id name kind battery online community { id name } } } } }"""
OPEN = """mutation Open($input: OpenDoorInput!) { openDoor(input: $input) { outcome userErrors { code message } } }"""


class LockCloud(MockAdmin):
    def unlocks(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/__admin/unlocks").raise_for_status().json()

    def set_state(self, lock_id: int, **state: object) -> None:
        httpx.post(f"{self.url}/__admin/locks/{lock_id}/state", json=state).raise_for_status()


@pytest.fixture
def cloud(mocks: Any) -> Iterator[LockCloud]:
    admin = LockCloud(mocks.urls["locks"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


@pytest.fixture
def door_hub(start_hub: Callable[..., LiveHub], tmp_path: Path) -> tuple[LiveHub, Path]:
    """A hub with its own database (to read the door log) and room for many attempts."""
    database = tmp_path / "door.db"
    return start_hub(database_url=f"sqlite:///{database}", door_attempts_per_minute=100), database


def open_door(hub: LiveHub, token: str, lock_id: int, key: str) -> dict[str, Any]:
    body = hub.graphql(
        OPEN, {"input": {"lockId": str(lock_id), "idempotencyKey": key}}, token=token
    ).json()
    assert "errors" not in body, body
    return body["data"]["openDoor"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


def test_twelve_keys_resolve_their_locks_in_one_list_by_ids(
    start_hub: Callable[..., LiveHub], cloud: LockCloud, token_for: Callable[..., str]
) -> None:
    hub = start_hub()
    keys = hub.graphql(KEYS, token=token_for("R000001")).json()["data"]["me"]["keys"]
    assert len(keys) == 12
    assert all(k["lock"]["name"] for k in keys)
    assert cloud.calls(LIST_BY_IDS) == 1
    assert cloud.stats()["batch_sizes"][LIST_BY_IDS] == [12]
    by_lock = {k["lock"]["id"]: k for k in keys}
    assert (
        by_lock["10001"]["canOpenRemotely"] is True and by_lock["10001"]["lock"]["online"] is True
    )
    assert by_lock["10001"]["lock"]["community"]["id"] == "C001"
    assert by_lock["10005"]["status"] == "FROZEN" and by_lock["10005"]["canOpenRemotely"] is False
    assert by_lock["10007"]["canOpenRemotely"] is False  # no remote right
    assert by_lock["10003"]["lock"]["online"] is False  # no gateway


def test_the_keyholder_opens_the_gate_once_per_idempotency_key(
    door_hub: tuple[LiveHub, Path], cloud: LockCloud, token_for: Callable[..., str]
) -> None:
    hub, database = door_hub
    before = len(cloud.unlocks())
    token = token_for("R000001")
    first = open_door(hub, token, 10001, "open-10001-a")
    again = open_door(hub, token, 10001, "open-10001-a")
    assert first == again == {"outcome": "OPENED", "userErrors": []}
    assert len(cloud.unlocks()) == before + 1, (
        "a repeat returns the first outcome, never a second unlock"
    )
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT resident_id, lock_id, outcome FROM door_attempt").fetchall()
    assert rows == [("R000001", 10001, "OPENED")]


@pytest.mark.parametrize(
    ("lock_id", "code"),
    [
        (10005, "NO_VALID_KEY"),
        (10006, "NO_VALID_KEY"),
        (10007, "NO_REMOTE_RIGHT"),
        (99999, "NO_VALID_KEY"),
    ],
)
def test_the_hub_refuses_before_any_unlock(
    door_hub: tuple[LiveHub, Path],
    cloud: LockCloud,
    token_for: Callable[..., str],
    lock_id: int,
    code: str,
) -> None:
    hub, database = door_hub
    before = len(cloud.unlocks())
    payload = open_door(hub, token_for("R000001"), lock_id, f"refused-{lock_id}")
    assert payload["outcome"] == "REFUSED" and codes(payload) == [code]
    assert len(cloud.unlocks()) == before, "nothing was sent to the lock cloud"
    with sqlite3.connect(database) as db:
        assert db.execute(
            "SELECT outcome FROM door_attempt WHERE lock_id = ?", (lock_id,)
        ).fetchall() == [(code,)]


def test_another_residents_door_is_refused(
    door_hub: tuple[LiveHub, Path], cloud: LockCloud, token_for: Callable[..., str]
) -> None:
    hub, _ = door_hub
    before = len(cloud.unlocks())
    payload = open_door(hub, token_for("R000002"), 10004, "neighbour-10004")  # R000001's unit door
    assert codes(payload) == ["NO_VALID_KEY"]
    assert len(cloud.unlocks()) == before


@pytest.mark.parametrize(
    ("lock_id", "state", "code"),
    [
        (10003, None, "NO_GATEWAY"),
        (10002, None, "GATEWAY_OFFLINE"),
        (10004, {"online": False}, "LOCK_OFFLINE"),
        (10004, {"busy": True}, "LOCK_BUSY"),
    ],
)
def test_lock_state_refusals_come_back_as_user_errors(
    door_hub: tuple[LiveHub, Path],
    cloud: LockCloud,
    token_for: Callable[..., str],
    lock_id: int,
    state: dict[str, bool] | None,
    code: str,
) -> None:
    hub, _ = door_hub
    if state:
        cloud.set_state(lock_id, **state)
    try:
        payload = open_door(hub, token_for("R000001"), lock_id, f"state-{lock_id}-{code}")
    finally:
        if state:
            cloud.set_state(lock_id, online=True, busy=False)
    assert payload["outcome"] == "REFUSED" and codes(payload) == [code]


def test_a_resident_gets_five_attempts_a_minute(
    start_hub: Callable[..., LiveHub], cloud: LockCloud, token_for: Callable[..., str]
) -> None:
    hub, token = start_hub(), token_for("R000003")  # default limit: 5 a minute
    outcomes = [open_door(hub, token, 10001, f"limit-R000003-{n}") for n in range(6)]
    assert all(codes(o) != ["TOO_MANY_ATTEMPTS"] for o in outcomes[:5])
    assert codes(outcomes[5]) == ["TOO_MANY_ATTEMPTS"]
    calls = cloud.total()
    open_door(hub, token, 10001, "limit-R000003-extra")
    assert cloud.total() == calls, "a refused attempt reaches no upstream"


def test_open_door_needs_a_resident(hub: LiveHub, cloud: LockCloud) -> None:
    body = hub.graphql(OPEN, {"input": {"lockId": "10001", "idempotencyKey": "anonymous-1"}}).json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert cloud.total() == 0
