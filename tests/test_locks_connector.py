"""The locks connector against the real lock-cloud mock, over loopback HTTP.

The mock is shared by the whole session, so every test puts back what it changed: the clock
offset, faults and forced lock states (fixture teardown). Unlocks that really go out use
R000001's unit doors the hub itself would refuse (10005 frozen, 10006 expired, 10007 without
remote right; the cloud does not check), the parking barrier without gateway (10003), one
success on 10001, and a lock of R000400 for the rate limit, so that other tests' unlocks stay
well inside the cloud's ten a minute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from connectors.locks import LocksConnector, LocksLoaders
from connectors.locks.models import KeyStatus
from tests.support import BackgroundMocks, MockAdmin

CREDENTIALS = {
    "client_id": "ihub-dev-client",
    "client_secret": "dev-lock-secret",
    "username": "luohu-property-platform",
    "password": "dev-lock-password",
}
TOKEN = "POST /oauth2/token"
KEY_LIST = "GET /v3/key/list"
LIST_BY_IDS = "GET /v3/lock/listByIds"
GATEWAYS = "GET /v3/gateway/listByLock"
UNLOCK = "POST /v3/lock/unlock"
COMMAND = "GET /v3/command/query"
FIRST, SECOND = "700001", "700002"
STATE_FIELDS = ("online", "gateway_online", "busy", "gateway_busy", "fail_with")


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class WallClock:
    """Real time, shifted as a test says (the mock's clock can be shifted the same way)."""

    offset_s: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


@dataclass
class LockCloud:
    """The lock mock's admin surface; remembers what a test changed so teardown restores it."""

    admin: MockAdmin
    saved_states: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.admin.url

    def post(self, path: str, body: object = None) -> Any:
        return httpx.post(f"{self.url}/__admin/{path}", json=body).raise_for_status().json()

    def get(self, path: str) -> Any:
        return httpx.get(f"{self.url}/__admin/{path}").raise_for_status().json()

    def move_clock(self, seconds: float) -> None:
        self.post("clock", {"offset_seconds": seconds})

    def expire_tokens(self) -> None:
        self.post("tokens/expire")

    def force(self, lock_id: int, **state: object) -> None:
        if lock_id not in self.saved_states:
            before = self.get(f"locks/{lock_id}/state")
            self.saved_states[lock_id] = {name: before[name] for name in STATE_FIELDS}
        self.post(f"locks/{lock_id}/state", state)

    def unlocks(self) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = self.get("unlocks")
        return received

    def restore(self) -> None:
        self.admin.clear_faults()
        self.move_clock(0)
        for lock_id, state in self.saved_states.items():
            self.post(f"locks/{lock_id}/state", state)
        self.saved_states.clear()


@pytest.fixture
def cloud(mocks: BackgroundMocks) -> Iterator[LockCloud]:
    """The lock mock with counters zeroed and no faults; everything changed is put back."""
    admin = MockAdmin(mocks.urls["locks"])
    cloud = LockCloud(admin)
    cloud.restore()
    admin.reset()
    yield cloud
    cloud.restore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def policy(url: str, **changes: Any) -> DepartmentPolicy:
    settings: dict[str, Any] = {"timeout_s": 2.0, "credentials": CREDENTIALS, **changes}
    return DepartmentPolicy(base_url=url, **settings)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def connector(session: aiohttp.ClientSession, cloud: LockCloud, clock: FakeClock) -> LocksConnector:
    return LocksConnector(session, policy(cloud.url), clock=clock)


def now() -> datetime:
    return datetime.now(UTC)


async def refusal_code(call: Callable[[], Any]) -> str:
    with pytest.raises(Refused) as raised:
        await call()
    assert raised.value.department == "locks" and raised.value.message
    return raised.value.code


# -- reads ---------------------------------------------------------------------------------


async def test_r000001_keys_leave_deleted_ones_out(connector: LocksConnector) -> None:
    keys = await connector.keys(FIRST)
    by_lock = {key.lock_id: key for key in keys}
    moment = now()
    # then 12 keys of 13, none deleted, one per lock
    assert len(keys) == len(by_lock) == 12
    assert all(key.status is not KeyStatus.DELETED for key in keys)
    happy = by_lock[10001]
    assert (happy.status, happy.remote_enabled, happy.lock_alias) == (
        KeyStatus.NORMAL,
        True,
        "东门闸机",
    )
    assert happy.valid_at(moment)
    assert happy.valid_from is not None and happy.valid_from.tzinfo is UTC
    assert (by_lock[10002].valid_from, by_lock[10002].valid_to) == (None, None)
    assert by_lock[10005].status is KeyStatus.FROZEN
    assert not by_lock[10006].valid_at(moment)
    assert by_lock[10007].remote_enabled is False
    assert [key.status for key in keys].count(KeyStatus.PENDING) == 1
    assert len([key for key in keys if key.valid_from and key.valid_from > moment]) == 1
    assert [key.key_right for key in keys].count(1) == 1


async def test_keys_come_from_every_page(connector: LocksConnector, cloud: LockCloud) -> None:
    whole = await connector.keys(FIRST)
    connector.key_page_size = 5
    paged = await connector.keys(FIRST)
    assert paged == whole
    assert cloud.admin.calls(KEY_LIST) == 1 + 3
    # never cached
    await connector.keys(FIRST)
    assert cloud.admin.calls(KEY_LIST) == 1 + 3 + 3
    assert await connector.keys("799999") == ()


async def test_twelve_locks_in_one_call(connector: LocksConnector, cloud: LockCloud) -> None:
    ids = [key.lock_id for key in await connector.keys(FIRST)]
    cloud.admin.reset()
    # when asked newest first (the cloud answers in id order)
    locks = await connector.locks_by_ids(list(reversed(ids)))
    # then one call, every lock under its own id
    assert cloud.admin.stats()["batch_sizes"][LIST_BY_IDS] == [12]
    assert sorted(locks) == sorted(ids)
    assert all(lock.id == lock_id for lock_id, lock in locks.items())
    gate = locks[10001]
    assert (gate.kind.value, gate.has_gateway, gate.community_id) == ("GATE", True, "C001")
    assert locks[10003].has_gateway is False


async def test_25_locks_in_two_calls_of_at_most_20(
    connector: LocksConnector, cloud: LockCloud, clock: FakeClock
) -> None:
    asked = [*range(10030, 10055), 99999, 10030, 10031]
    locks = await connector.locks_by_ids(asked)
    assert sorted(cloud.admin.stats()["batch_sizes"][LIST_BY_IDS]) == [6, 20]
    assert sorted(locks) == list(range(10030, 10055))
    # lock details are cached across calls; unknown ids are asked again
    again = await connector.locks_by_ids([10054, 10030, 99999])
    assert set(again) == {10054, 10030}
    assert cloud.admin.stats()["batch_sizes"][LIST_BY_IDS] in ([6, 20, 1], [20, 6, 1])
    clock.now += 120
    await connector.locks_by_ids([10030])
    assert cloud.admin.calls(LIST_BY_IDS) == 4
    assert await connector.locks_by_ids([]) == {}


async def test_gateways(connector: LocksConnector) -> None:
    (online,) = await connector.gateways(10001)
    (offline,) = await connector.gateways(10002)
    assert (online.online, offline.online) == (True, False)
    assert online.rssi < 0
    assert await connector.gateways(10003) == ()
    assert await connector.gateways(99999) == ()


async def test_loaders_batch_per_request(connector: LocksConnector, cloud: LockCloud) -> None:
    loaders = LocksLoaders(connector)
    keys, other = await loaders.keys_by_uid.load_many([FIRST, SECOND])
    ids = [key.lock_id for key in (*keys, *other)]
    locks = await asyncio.gather(*(loaders.lock_by_id.load(i) for i in [*ids, 99999]))
    gateways = await loaders.gateways_by_lock.load_many([10001, 10003])
    assert [lock.id if lock else None for lock in locks] == [*ids, None]
    assert cloud.admin.stats()["batch_sizes"][LIST_BY_IDS] == [len(set(ids)) + 1]
    assert [len(found) for found in gateways] == [1, 0]
    assert cloud.admin.calls(KEY_LIST) == 2


# -- the token -----------------------------------------------------------------------------


async def test_one_token_for_twenty_concurrent_calls(
    connector: LocksConnector, cloud: LockCloud
) -> None:
    calls: list[Awaitable[object]] = [connector.keys(FIRST) for _ in range(8)]
    calls += [connector.gateways(lock_id) for lock_id in range(10001, 10009)]
    calls += [connector.locks_by_ids([lock_id]) for lock_id in range(10010, 10014)]
    answers = await asyncio.gather(*calls)
    assert len(answers) == 20
    assert cloud.admin.calls(TOKEN) == 1


async def test_identical_reads_waiting_for_the_first_grant_share_one_call(
    connector: LocksConnector, cloud: LockCloud
) -> None:
    # when eight identical reads reach a connector that has no token yet
    answers = await asyncio.gather(*(connector.keys(FIRST) for _ in range(8)))
    assert all(answer == answers[0] for answer in answers)
    together = cloud.admin.calls(KEY_LIST)
    # then they made the calls of one read alone: the grant they all waited for is a POST,
    # but not a write after which reads must start afresh
    cloud.admin.reset()
    assert await connector.keys(FIRST) == answers[0]
    assert together == cloud.admin.calls(KEY_LIST) >= 1
    assert cloud.admin.calls(TOKEN) == 0


async def test_an_expired_token_is_refreshed_once_for_everyone(
    connector: LocksConnector, cloud: LockCloud
) -> None:
    # ten different locks: identical reads would share one call (see test_singleflight.py)
    lock_ids = range(10001, 10011)
    expected = [await connector.gateways(lock_id) for lock_id in lock_ids]
    assert sum(map(len, expected)) >= 5
    cloud.expire_tokens()
    cloud.admin.reset()
    # when ten reads find it refused at the same time
    answers = await asyncio.gather(*(connector.gateways(lock_id) for lock_id in lock_ids))
    # then one refresh served them all, and each read went out once more
    assert answers == expected
    assert cloud.admin.calls(TOKEN) == 1
    assert connector.tokens.refresh_grants == 1
    assert cloud.admin.calls(GATEWAYS) == 10 + 10
    assert connector.health.status == "ok"


async def test_the_token_is_refreshed_before_it_expires(
    connector: LocksConnector, cloud: LockCloud, clock: FakeClock
) -> None:
    await connector.gateways(10001)
    clock.now += 7200 - 200
    await connector.gateways(10001)
    # renewed on the clock with the refresh token, without a refused call first
    assert (connector.tokens.password_grants, connector.tokens.refresh_grants) == (1, 1)
    assert (cloud.admin.calls(TOKEN), cloud.admin.calls(GATEWAYS)) == (2, 2)


async def test_a_dead_refresh_token_falls_back_to_the_password(
    session: aiohttp.ClientSession, cloud: LockCloud, clock: FakeClock
) -> None:
    wall = WallClock()
    connector = LocksConnector(session, policy(cloud.url), clock=clock, wall_clock=wall)
    await connector.gateways(10001)
    # when 91 days pass for everyone: past the refresh token's 90 days too
    ahead = 91 * 86400
    cloud.move_clock(ahead)
    wall.offset_s = clock.now = ahead
    # then the refused refresh gives way to the password grant
    assert len(await connector.gateways(10001)) == 1
    assert (connector.tokens.password_grants, connector.tokens.refresh_grants) == (2, 0)
    assert cloud.admin.calls(TOKEN) == 3


async def test_clock_skew_is_rejected_and_counts_against_health(
    session: aiohttp.ClientSession, cloud: LockCloud
) -> None:
    skewed = LocksConnector(session, policy(cloud.url), wall_clock=lambda: time.time() + 600)
    with pytest.raises(UpstreamRejected) as raised:
        await skewed.keys(FIRST)
    assert (raised.value.department, raised.value.code) == ("locks", "80000")
    assert skewed.health.status == "failing"
    before = len(cloud.unlocks())
    with pytest.raises(UpstreamRejected) as raised:
        await skewed.unlock(10003, FIRST)
    assert raised.value.code == "80000"
    assert cloud.admin.calls(UNLOCK) == 1 and len(cloud.unlocks()) == before


async def test_bad_credentials_are_rejected(
    session: aiohttp.ClientSession, cloud: LockCloud
) -> None:
    wrong = policy(cloud.url, credentials={**CREDENTIALS, "password": "guess"})
    connector = LocksConnector(session, wrong)
    with pytest.raises(UpstreamRejected) as raised:
        await connector.keys(FIRST)
    assert raised.value.code == "10003"
    assert "guess" not in str(raised.value)
    assert connector.health.status == "failing"


# -- unlock --------------------------------------------------------------------------------


async def test_unlock_returns_after_success(connector: LocksConnector, cloud: LockCloud) -> None:
    before = len(cloud.unlocks())
    await connector.unlock(10001, FIRST)
    received = cloud.unlocks()[before:]
    assert [(u["lockId"], u["uid"], u["errcode"]) for u in received] == [(10001, 700001, 0)]
    assert cloud.admin.calls(UNLOCK) == 1
    assert cloud.admin.calls(COMMAND) >= 2  # pending at first: 300-1500 ms


@pytest.mark.parametrize(
    ("lock_id", "state", "code"),
    [
        (10005, {"online": False}, "LOCK_OFFLINE"),
        (10006, {"busy": True}, "LOCK_BUSY"),
        (10007, {"gateway_online": False}, "GATEWAY_OFFLINE"),
        (10005, {"gateway_busy": True}, "GATEWAY_BUSY"),
        (10006, {"fail_with": -3046}, "NO_REMOTE_RIGHT"),
    ],
)
async def test_unlock_fails_per_lock_state(
    connector: LocksConnector, cloud: LockCloud, lock_id: int, state: dict[str, Any], code: str
) -> None:
    cloud.force(lock_id, **state)
    assert await refusal_code(lambda: connector.unlock(lock_id, FIRST)) == code
    assert cloud.admin.calls(UNLOCK) == 1


async def test_unlock_refusals(connector: LocksConnector, cloud: LockCloud) -> None:
    assert await refusal_code(lambda: connector.unlock(10003, FIRST)) == "NO_GATEWAY"
    assert await refusal_code(lambda: connector.unlock(10004, SECOND)) == "PERMISSION_DENIED"
    assert await refusal_code(lambda: connector.unlock(99999, FIRST)) == "NOT_FOUND"
    assert cloud.admin.calls(UNLOCK) == 3
    assert connector.health.status == "ok"


async def test_unlock_gives_up_at_its_deadline(connector: LocksConnector) -> None:
    started = time.monotonic()
    code = await refusal_code(lambda: connector.unlock(10007, FIRST, deadline_s=0.05))
    assert code == "TIMED_OUT"
    assert time.monotonic() - started < 1.0


async def test_the_eleventh_unlock_in_a_minute_is_refused(
    connector: LocksConnector, cloud: LockCloud
) -> None:
    # given a lock no other test opens: one of R000400's, its gateway forced offline so
    # that every accepted command fails at once
    keys = await connector.keys("700400")
    lock_id = next(key.lock_id for key in keys if key.status is KeyStatus.NORMAL)
    cloud.force(lock_id, gateway_online=False)
    for _ in range(10):
        code = await refusal_code(lambda: connector.unlock(lock_id, "700400"))
        assert code in {"GATEWAY_OFFLINE", "NO_GATEWAY"}
    assert await refusal_code(lambda: connector.unlock(lock_id, "700400")) == "TOO_MANY_ATTEMPTS"
    assert cloud.unlocks()[-1]["errcode"] == 30006


async def test_an_unlock_with_an_expired_token_is_never_resent(
    connector: LocksConnector, cloud: LockCloud
) -> None:
    await connector.gateways(10003)
    cloud.expire_tokens()
    before = len(cloud.unlocks())
    with pytest.raises(UpstreamRejected) as raised:
        await connector.unlock(10003, FIRST)
    # then one unlock call went out, refused before the cloud logged it, and not sent again
    assert raised.value.code == "10004"
    assert cloud.admin.calls(UNLOCK) == 1
    assert len(cloud.unlocks()) == before
    # the token was renewed for later calls: the next unlock goes out once, with it
    assert await refusal_code(lambda: connector.unlock(10003, FIRST)) == "NO_GATEWAY"
    assert cloud.admin.calls(TOKEN) == 2 and cloud.admin.calls(UNLOCK) == 2
    assert [u["lockId"] for u in cloud.unlocks()[before:]] == [10003]


# -- faults --------------------------------------------------------------------------------


async def test_an_outage_is_unavailable_and_an_unlock_is_sent_once(
    connector: LocksConnector, cloud: LockCloud
) -> None:
    await connector.gateways(10001)
    cloud.admin.faults(down=True)
    with pytest.raises(UpstreamUnavailable):
        await connector.keys(FIRST)
    with pytest.raises(UpstreamUnavailable):
        await connector.unlock(10003, FIRST)
    assert cloud.admin.calls(UNLOCK) == 1
    assert connector.health.status == "failing"


async def test_an_outage_before_the_first_token_is_unavailable(
    connector: LocksConnector, cloud: LockCloud
) -> None:
    cloud.admin.faults(down=True)
    with pytest.raises(UpstreamUnavailable):
        await connector.keys(FIRST)


async def test_a_garbage_body_is_a_payload_error_counted_by_health(
    connector: LocksConnector, cloud: LockCloud
) -> None:
    await connector.gateways(10001)
    cloud.admin.faults(garbage_body=True)
    with pytest.raises(UpstreamPayloadError):
        await connector.locks_by_ids([10001, 10002])
    assert connector.health.status == "failing"
    cloud.admin.clear_faults()
    assert len(await connector.locks_by_ids([10001, 10002])) == 2
    assert connector.health.status == "ok"


async def test_a_slow_cloud_times_out(session: aiohttp.ClientSession, cloud: LockCloud) -> None:
    cloud.admin.faults(latency_ms=600)
    connector = LocksConnector(session, policy(cloud.url, timeout_s=0.2))
    with pytest.raises(UpstreamTimeout):
        await connector.keys(FIRST)


# -- what the mock cannot be made to do ----------------------------------------------------


class Scripted(LocksConnector):
    """The connector over canned answers instead of HTTP."""

    def __init__(self, session: aiohttp.ClientSession, answers: Mapping[str, object]) -> None:
        super().__init__(session, policy("http://scripted.invalid"))
        self.answers = answers
        self.sent: list[str] = []

    async def _request(self, method: str, path: str, **_: Any) -> UpstreamResponse:
        self.sent.append(path)
        return UpstreamResponse(200, {}, orjson.dumps(self.answers[path]))


GRANT = {"access_token": "t", "uid": 8800001, "refresh_token": "r", "expires_in": 7200}
TOKEN_REFUSED = {"errcode": 10004, "errmsg": "invalid token", "description": "token无效"}


async def test_a_read_refused_twice_is_rejected(session: aiohttp.ClientSession) -> None:
    connector = Scripted(session, {"/oauth2/token": GRANT, "/v3/key/list": TOKEN_REFUSED})
    with pytest.raises(UpstreamRejected) as raised:
        await connector.keys(FIRST)
    assert raised.value.code == "10004"
    assert connector.sent == ["/oauth2/token", "/v3/key/list"] * 2
    assert connector.health.status == "failing"


async def test_an_unknown_command_failure_is_rejected(session: aiohttp.ClientSession) -> None:
    connector = Scripted(
        session,
        {
            "/oauth2/token": GRANT,
            "/v3/lock/unlock": {"errcode": 0, "errmsg": "none", "commandId": 9},
            "/v3/command/query": {"commandId": 9, "status": "FAILED", "errcode": -4000},
        },
    )
    with pytest.raises(UpstreamRejected) as raised:
        await connector.unlock(10001, FIRST)
    assert raised.value.code == "-4000"
    assert connector.sent == ["/oauth2/token", "/v3/lock/unlock", "/v3/command/query"]
