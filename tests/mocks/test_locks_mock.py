"""The lock-cloud mock over real HTTP on loopback: tokens, guard, keys, locks, async unlocks."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from mocks.common.launcher import MockConfig, MockSpec, start_mocks
from mocks.locks.clock import Clock
from mocks.locks.cloud import Cloud
from mocks.locks.commands import Commands

SPEC = MockSpec("locks", 0, "mocks.locks:create_app")
CLIENT_ID = "ihub-dev-client"
ACCOUNT = {
    "clientId": CLIENT_ID,
    "clientSecret": "dev-lock-secret",
    "username": "luohu-property-platform",
    "password": hashlib.md5(b"dev-lock-password").hexdigest(),  # noqa: S324 - the protocol
}
KEY_FIELDS = {
    "keyId",
    "lockId",
    "lockAlias",
    "keyStatus",
    "startDate",
    "endDate",
    "remoteEnable",
    "keyRight",
}
LOCK_FIELDS = {
    "lockId",
    "lockAlias",
    "lockMac",
    "electricQuantity",
    "hasGateway",
    "communityId",
    "kind",
}
FIRST, SECOND = 700001, 700002
NORMAL, PENDING, FROZEN, DELETED = 110401, 110402, 110405, 110408

Answer = dict[str, Any]


class LockCloud:
    """A thin caller: client, token and a ``date`` that follows the mock clock it has moved."""

    def __init__(self, http: aiohttp.ClientSession, token: str) -> None:
        self.http = http
        self.token = token
        self.offset_ms = 0

    def common(self) -> dict[str, str]:
        date = int(time.time() * 1000) + self.offset_ms
        return {"clientId": CLIENT_ID, "accessToken": self.token, "date": str(date)}

    async def get(self, path: str, **params: object) -> Answer:
        query = {**self.common(), **{name: str(value) for name, value in params.items()}}
        async with self.http.get(f"/v3/{path}", params=query) as response:
            return await answer_of(response)

    async def post(self, path: str, **form: object) -> Answer:
        data = {**self.common(), **{name: str(value) for name, value in form.items()}}
        async with self.http.post(f"/v3/{path}", data=data) as response:
            return await answer_of(response)

    async def admin(self, path: str, body: object = None, method: str | None = None) -> Any:
        method = method or ("GET" if body is None else "POST")
        async with self.http.request(method, f"/__admin/{path}", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def move_clock(self, seconds: float) -> None:
        await self.admin("clock", {"offset_seconds": seconds})
        self.offset_ms = int(seconds * 1000)

    async def keys(self, uid: int) -> list[Answer]:
        answer = await self.get("key/list", uid=uid, pageNo=1, pageSize=100)
        keys: list[Answer] = answer["list"]
        return keys

    async def lock(self, lock_id: int) -> Answer:
        return await self.get("lock/detail", lockId=lock_id)

    async def gateways(self, lock_id: int) -> list[Answer]:
        gateways: list[Answer] = (await self.get("gateway/listByLock", lockId=lock_id))["list"]
        return gateways

    async def unlock(self, lock_id: int, uid: int) -> Answer:
        return await self.post("lock/unlock", lockId=lock_id, uid=uid)

    async def command(self, command_id: int) -> Answer:
        return await self.get("command/query", commandId=command_id)


async def answer_of(response: aiohttp.ClientResponse) -> Answer:
    assert response.status == 200, await response.text()
    answer: Answer = await response.json()
    return answer


def assert_refused(answer: Answer, errcode: int) -> None:
    assert answer["errcode"] == errcode, answer
    assert set(answer) == {"errcode", "errmsg", "description"}
    assert answer["errmsg"] and answer["description"]


async def get_token(http: aiohttp.ClientSession, **form: str) -> Answer:
    async with http.post("/oauth2/token", data={**ACCOUNT, **form}) as response:
        return await answer_of(response)


@pytest.fixture
async def cloud() -> AsyncIterator[LockCloud]:
    running = await start_mocks([SPEC], ports={"locks": 0})
    try:
        async with aiohttp.ClientSession(base_url=running.urls["locks"]) as http:
            yield LockCloud(http, (await get_token(http))["access_token"])
    finally:
        await running.stop()


def now_ms(cloud: LockCloud) -> int:
    return int(time.time() * 1000) + cloud.offset_ms


async def test_token_is_issued_for_the_platform_account(cloud: LockCloud) -> None:
    answer = await get_token(cloud.http)
    assert set(answer) == {"access_token", "uid", "refresh_token", "expires_in"}
    assert answer["expires_in"] == 7200
    assert isinstance(answer["uid"], int)
    assert answer["access_token"] != cloud.token
    cloud.token = answer["access_token"]
    assert (await cloud.lock(10001))["lockId"] == 10001


async def test_wrong_credentials_answer_10003_with_http_200(cloud: LockCloud) -> None:
    plain = await get_token(cloud.http, password="dev-lock-password")
    wrong_secret = await get_token(cloud.http, clientSecret="guess")
    wrong_user = await get_token(cloud.http, username="someone")
    for answer in (plain, wrong_secret, wrong_user):
        assert_refused(answer, 10003)
    upper = await get_token(cloud.http, password=ACCOUNT["password"].upper())
    assert "access_token" in upper


async def test_refresh_token_gives_a_new_pair_once(cloud: LockCloud) -> None:
    first = await get_token(cloud.http)
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    renewed = await get_token(cloud.http, **refresh)
    assert set(renewed) == {"access_token", "uid", "refresh_token", "expires_in"}
    assert renewed["access_token"] != first["access_token"]
    assert renewed["refresh_token"] != first["refresh_token"]
    assert_refused(await get_token(cloud.http, **refresh), 10004)
    cloud.token = renewed["access_token"]
    assert (await cloud.lock(10001))["lockId"] == 10001


async def test_unknown_or_admin_expired_token_answers_10004(cloud: LockCloud) -> None:
    fresh = await get_token(cloud.http)
    assert (await cloud.admin("tokens/expire", {}))["expired"] == 2
    assert_refused(await cloud.lock(10001), 10004)
    cloud.token = "not-a-token"
    assert_refused(await cloud.unlock(10001, FIRST), 10004)
    assert await cloud.admin("unlocks") == []
    # refresh tokens survive the admin expiry: a client recovers without the password
    refresh = {"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]}
    cloud.token = (await get_token(cloud.http, **refresh))["access_token"]
    assert (await cloud.lock(10001))["lockId"] == 10001


async def test_token_expires_after_expires_in_on_the_mock_clock(cloud: LockCloud) -> None:
    await cloud.move_clock(7200 - 60)
    assert (await cloud.lock(10001))["lockId"] == 10001
    await cloud.move_clock(7200 + 1)
    assert_refused(await cloud.lock(10001), 10004)


async def test_date_more_than_five_minutes_off_answers_80000(cloud: LockCloud) -> None:
    cloud.offset_ms = -4 * 60 * 1000
    assert (await cloud.lock(10001))["lockId"] == 10001
    cloud.offset_ms = 6 * 60 * 1000
    assert_refused(await cloud.lock(10001), 80000)
    # the mock's clock moved, the caller's did not
    await cloud.move_clock(600)
    cloud.offset_ms = 0
    assert_refused(await cloud.get("key/list", uid=FIRST), 80000)
    async with cloud.http.get("/v3/lock/detail", params={"lockId": "10001"}) as response:
        no_client = await answer_of(response)
    assert_refused(no_client, 10003)


async def test_key_list_pages_and_fields(cloud: LockCloud) -> None:
    first = await cloud.get("key/list", uid=FIRST, pageNo=1, pageSize=5)
    assert {k: first[k] for k in ("pageNo", "pageSize", "pages", "total")} == {
        "pageNo": 1,
        "pageSize": 5,
        "pages": 3,
        "total": 13,
    }
    last = await cloud.get("key/list", uid=FIRST, pageNo=3, pageSize=5)
    beyond = await cloud.get("key/list", uid=FIRST, pageNo=4, pageSize=5)
    assert len(first["list"]) == 5 and len(last["list"]) == 3 and beyond["list"] == []
    middle = await cloud.get("key/list", uid=FIRST, pageNo=2, pageSize=5)
    every = await cloud.keys(FIRST)
    assert every == first["list"] + middle["list"] + last["list"]
    for key in every:
        assert set(key) == KEY_FIELDS
        assert key["remoteEnable"] in (1, 2)
        assert key["keyStatus"] in (NORMAL, PENDING, FROZEN, DELETED)
    nobody = await cloud.get("key/list", uid=799999)
    assert (nobody["list"], nobody["total"], nobody["pageSize"]) == ([], 0, 20)
    assert_refused(await cloud.get("key/list", uid=FIRST, pageSize=101), -3)
    assert_refused(await cloud.get("key/list"), -3)


async def test_resident_r000001_holds_the_fixed_keys(cloud: LockCloud) -> None:
    keys = {key["lockId"]: key for key in await cloud.keys(FIRST)}
    now = now_ms(cloud)
    assert len([k for k in keys.values() if k["keyStatus"] != DELETED]) >= 12
    answer = await cloud.get("lock/listByIds", lockIds=",".join(map(str, keys)))
    locks = {lock["lockId"]: lock for lock in answer["list"]}

    happy = keys[10001]
    assert (happy["keyStatus"], happy["remoteEnable"]) == (NORMAL, 1)
    assert happy["startDate"] <= now < happy["endDate"]
    assert locks[10001]["kind"] == "GATE" and locks[10001]["hasGateway"] == 1
    assert [g["isOnline"] for g in await cloud.gateways(10001)] == [1]
    assert keys[10002]["keyStatus"] == NORMAL
    assert (keys[10002]["startDate"], keys[10002]["endDate"]) == (0, 0)
    assert [g["isOnline"] for g in await cloud.gateways(10002)] == [0]
    assert locks[10003]["hasGateway"] == 0 and locks[10003]["kind"] == "PARKING"
    assert await cloud.gateways(10003) == []
    assert keys[10005]["keyStatus"] == FROZEN
    assert keys[10006]["endDate"] < now
    assert keys[10007]["remoteEnable"] == 2
    statuses = sorted(key["keyStatus"] for key in keys.values())
    assert statuses.count(PENDING) == 1 and statuses.count(DELETED) == 1
    assert any(key["startDate"] > now for key in keys.values())
    assert {lock["communityId"] for lock in locks.values()} >= {"C001", "C002", "C007"}


async def test_r000002_holds_none_of_r000001s_unit_doors(cloud: LockCloud) -> None:
    first = {key["lockId"] for key in await cloud.keys(FIRST)}
    second = {key["lockId"] for key in await cloud.keys(SECOND)}
    answer = await cloud.get("lock/listByIds", lockIds=",".join(map(str, sorted(first))))
    unit_doors = {lock["lockId"] for lock in answer["list"] if lock["kind"] == "UNIT_DOOR"}
    assert unit_doors == {10004, 10005, 10006, 10007}
    assert not unit_doors & second
    assert {10001, 10002} <= second


async def test_seed_has_200_locks_with_a_gate_in_every_community(cloud: LockCloud) -> None:
    await cloud.admin("stats/reset", {})
    locks: list[Answer] = []
    for start in range(10001, 10221, 20):
        ids = ",".join(str(lock_id) for lock_id in range(start, start + 20))
        locks += (await cloud.get("lock/listByIds", lockIds=ids))["list"]
    assert len(locks) == 200
    assert all(set(lock) == LOCK_FIELDS for lock in locks)
    gates = {lock["communityId"] for lock in locks if lock["kind"] == "GATE"}
    assert gates == {f"C{n:03d}" for n in range(1, 41)}
    assert {lock["kind"] for lock in locks} == {"GATE", "PARKING", "UNIT_DOOR"}
    assert all(5 <= lock["electricQuantity"] <= 100 for lock in locks)
    assert any(lock["hasGateway"] == 0 for lock in locks)
    stats = await cloud.admin("stats")
    assert stats["batch_sizes"]["GET /v3/lock/listByIds"] == [20] * 11


async def test_list_by_ids_leaves_unknown_ids_out_and_refuses_more_than_20(
    cloud: LockCloud,
) -> None:
    await cloud.admin("stats/reset", {})
    answer = await cloud.get("lock/listByIds", lockIds="10003,99999,10001,10003")
    assert [lock["lockId"] for lock in answer["list"]] == [10001, 10003]
    too_many = ",".join(str(lock_id) for lock_id in range(10001, 10022))
    assert_refused(await cloud.get("lock/listByIds", lockIds=too_many), -3)
    assert_refused(await cloud.get("lock/listByIds", lockIds="10001,x"), -3)
    stats = await cloud.admin("stats")
    assert stats["batch_sizes"]["GET /v3/lock/listByIds"] == [4, 21]


async def test_lock_detail_and_unknown_lock(cloud: LockCloud) -> None:
    lock = await cloud.lock(10001)
    assert set(lock) == LOCK_FIELDS
    assert (lock["communityId"], lock["kind"], lock["lockAlias"]) == ("C001", "GATE", "东门闸机")
    assert len(lock["lockMac"].split(":")) == 6
    assert_refused(await cloud.lock(99999), -1003)
    assert_refused(await cloud.get("gateway/listByLock", lockId=99999), -1003)
    assert_refused(await cloud.unlock(99999, FIRST), -1003)


async def test_gateways_of_a_lock(cloud: LockCloud) -> None:
    gateways = await cloud.gateways(10004)
    assert gateways and all(set(g) == {"gatewayId", "isOnline", "rssi"} for g in gateways)
    assert all(g["rssi"] < 0 for g in gateways)
    await cloud.admin("locks/10004/state", {"gateway_online": False})
    assert {g["isOnline"] for g in await cloud.gateways(10004)} == {0}


async def test_unlock_is_pending_until_the_clock_passes_its_delay(cloud: LockCloud) -> None:
    issued = await cloud.unlock(10001, FIRST)
    assert issued["errcode"] == 0
    command_id = issued["commandId"]
    pending = await cloud.command(command_id)
    assert (pending["status"], pending["errcode"]) == ("PENDING", 0)
    await cloud.move_clock(2)
    done = await cloud.command(command_id)
    assert (done["commandId"], done["status"], done["errcode"]) == (command_id, "SUCCESS", 0)
    await cloud.move_clock(0)
    assert (await cloud.command(command_id))["status"] == "SUCCESS"
    assert_refused(await cloud.command(command_id + 100), -3)


@pytest.mark.parametrize(
    ("state", "errcode", "at_once"),
    [
        ({"online": False}, -3036, False),
        ({"busy": True}, -3037, False),
        ({"gateway_busy": True}, -3003, False),
        ({"fail_with": -3046}, -3046, False),
        ({"gateway_online": False}, -3002, True),
    ],
)
async def test_unlock_fails_per_forced_lock_state(
    cloud: LockCloud, state: Answer, errcode: int, at_once: bool
) -> None:
    await cloud.admin("locks/10004/state", state)
    command_id = (await cloud.unlock(10004, FIRST))["commandId"]
    first = await cloud.command(command_id)
    assert first["status"] == ("FAILED" if at_once else "PENDING")
    await cloud.move_clock(2)
    done = await cloud.command(command_id)
    assert (done["status"], done["errcode"]) == ("FAILED", errcode)


async def test_seeded_gateway_states_fail_unlocks_at_once(cloud: LockCloud) -> None:
    no_gateway = await cloud.command((await cloud.unlock(10003, FIRST))["commandId"])
    offline = await cloud.command((await cloud.unlock(10002, FIRST))["commandId"])
    assert (no_gateway["status"], no_gateway["errcode"]) == ("FAILED", -2012)
    assert (offline["status"], offline["errcode"]) == ("FAILED", -3002)
    state = await cloud.admin("locks/10002/state")
    assert (state["hasGateway"], state["gateway_online"], state["online"]) == (True, False, True)


async def test_unlock_needs_a_key_record_but_not_a_valid_key(cloud: LockCloud) -> None:
    assert_refused(await cloud.unlock(10004, SECOND), -2018)
    assert_refused(await cloud.unlock(10001, 799999), -2018)
    deleted = next(k for k in await cloud.keys(FIRST) if k["keyStatus"] == DELETED)
    assert_refused(await cloud.unlock(deleted["lockId"], FIRST), -2018)
    # frozen, expired, no remote right: the cloud opens anyway, checking is the hub's job
    for lock_id in (10005, 10006, 10007):
        command_id = (await cloud.unlock(lock_id, FIRST))["commandId"]
        await cloud.move_clock(2)
        assert (await cloud.command(command_id))["status"] == "SUCCESS"
        await cloud.move_clock(0)


async def test_eleventh_unlock_of_a_lock_in_a_minute_answers_30006(cloud: LockCloud) -> None:
    for _ in range(10):
        assert (await cloud.unlock(10001, FIRST))["errcode"] == 0
    assert_refused(await cloud.unlock(10001, FIRST), 30006)
    assert (await cloud.unlock(10004, FIRST))["errcode"] == 0
    await cloud.move_clock(61)
    assert (await cloud.unlock(10001, FIRST))["errcode"] == 0


async def test_admin_unlocks_lists_every_unlock_call_received(cloud: LockCloud) -> None:
    assert await cloud.admin("unlocks") == []
    issued = await cloud.unlock(10001, FIRST)
    await cloud.unlock(10004, SECOND)
    unlocks = await cloud.admin("unlocks")
    assert [(u["commandId"], u["lockId"], u["uid"], u["errcode"]) for u in unlocks] == [
        (issued["commandId"], 10001, FIRST, 0),
        (None, 10004, SECOND, -2018),
    ]
    assert all(abs(u["at"] - now_ms(cloud)) < 60_000 for u in unlocks)
    assert (await cloud.admin("unlocks", method="DELETE"))["cleared"] == 2
    assert await cloud.admin("unlocks") == []


async def test_admin_lock_state_validates_its_input(cloud: LockCloud) -> None:
    async with cloud.http.post("/__admin/locks/99999/state", json={"busy": True}) as response:
        assert response.status == 404
    async with cloud.http.post("/__admin/locks/10001/state", json={"busy": "yes"}) as response:
        assert response.status == 400
    async with cloud.http.post("/__admin/locks/10001/state", json={"color": 1}) as response:
        assert response.status == 400
    state = await cloud.admin("locks/10001/state", {"busy": True, "fail_with": None})
    assert (state["busy"], state["fail_with"]) == (True, None)


async def test_same_seed_same_data() -> None:
    specs = [MockSpec("a", 0, SPEC.factory), MockSpec("b", 0, SPEC.factory)]
    running = await start_mocks(specs, ports={"a": 0, "b": 0})
    try:
        answers = []
        for name in ("a", "b"):
            async with aiohttp.ClientSession(base_url=running.urls[name]) as http:
                caller = LockCloud(http, (await get_token(http))["access_token"])
                ids = ",".join(str(n) for n in range(10101, 10121))
                answers.append(
                    (await caller.keys(700123), await caller.get("lock/listByIds", lockIds=ids))
                )
        assert answers[0] == answers[1]
    finally:
        await running.stop()


def test_command_delays_are_drawn_from_the_seed_and_command_number() -> None:
    seed = MockConfig().seed
    delays = [Commands(seed, Cloud(), Clock()).delay_ms(n) for n in range(1, 50)]
    again = [Commands(seed, Cloud(), Clock()).delay_ms(n) for n in range(1, 50)]
    assert delays == again
    assert all(300 <= delay <= 1500 for delay in delays)
    assert len(set(delays)) > 10
