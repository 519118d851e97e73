"""Pure mapping of lock-cloud payloads, envelope codes and the token keeper: no server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.errors import Refused, UpstreamNotFound, UpstreamPayloadError, UpstreamRejected
from connectors.locks import envelope, mapping
from connectors.locks.mapping import CommandStatus
from connectors.locks.models import KeyStatus, LockKind
from connectors.locks.token import Grant, TokenKeeper, grant

KEY: dict[str, Any] = {
    "keyId": 3100001,
    "lockId": 10001,
    "lockAlias": "东门闸机",
    "keyStatus": 110401,
    "startDate": 1_767_196_800_000,
    "endDate": 1_830_268_800_000,
    "remoteEnable": 1,
    "keyRight": 0,
}
PERMANENT = {**KEY, "keyId": 3100002, "lockId": 10002, "startDate": 0, "endDate": 0}
LOCK: dict[str, Any] = {
    "lockId": 10003,
    "lockAlias": "地下车库道闸",
    "lockMac": "3A:1F:00:C2:9B:04",
    "electricQuantity": 87,
    "hasGateway": 0,
    "communityId": "C001",
    "kind": "PARKING",
}
REFUSED = {"errcode": -3036, "errmsg": "lock offline", "description": "锁离线"}


def test_a_key_with_epoch_milliseconds_maps_to_aware_utc_datetimes() -> None:
    key = mapping.key(KEY)
    assert (key.key_id, key.lock_id, key.lock_alias) == (3100001, 10001, "东门闸机")
    assert key.status is KeyStatus.NORMAL and key.remote_enabled is True
    assert key.valid_from == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
    assert key.valid_to is not None and key.valid_to.tzinfo is UTC
    assert key.valid_at(datetime(2026, 6, 1, tzinfo=UTC))
    assert not key.valid_at(datetime(2025, 12, 31, tzinfo=UTC))


def test_a_permanent_key_has_no_bounds_and_remote_enable_2_is_false() -> None:
    key = mapping.key({**PERMANENT, "remoteEnable": 2, "keyStatus": 110405, "keyRight": 1})
    assert (key.valid_from, key.valid_to) == (None, None)
    assert key.valid_at(datetime(1999, 1, 1, tzinfo=UTC))
    assert (key.remote_enabled, key.status, key.key_right) == (False, KeyStatus.FROZEN, 1)


@pytest.mark.parametrize(
    "broken",
    [
        {k: v for k, v in KEY.items() if k != "keyId"},
        {**KEY, "keyStatus": 110499},
        {**KEY, "remoteEnable": 0},
        {**KEY, "startDate": "2026-01-01"},
        {**KEY, "endDate": -5},
        {**KEY, "lockId": True},
    ],
)
def test_a_broken_key_is_a_payload_error(broken: dict[str, Any]) -> None:
    with pytest.raises(UpstreamPayloadError) as raised:
        mapping.key(broken)
    assert raised.value.department == "locks"


def test_a_key_page_and_unknown_fields() -> None:
    page = mapping.key_page(
        {"list": [KEY, {**PERMANENT, "new": "x"}], "pageNo": 1, "pageSize": 2, "pages": 3}
    )
    assert page.pages == 3 and [key.lock_id for key in page.keys] == [10001, 10002]
    with pytest.raises(UpstreamPayloadError):
        mapping.key_page({"pages": 1})


def test_locks_and_their_flags() -> None:
    (lock,) = mapping.locks({"list": [LOCK]})
    assert (lock.id, lock.alias, lock.battery, lock.kind) == (
        10003,
        "地下车库道闸",
        87,
        LockKind.PARKING,
    )
    assert (lock.has_gateway, lock.community_id, lock.mac) == (False, "C001", "3A:1F:00:C2:9B:04")
    other = mapping.lock({**LOCK, "hasGateway": 1, "kind": "UNIT_DOOR", "communityId": None})
    assert (other.has_gateway, other.kind, other.community_id) == (True, LockKind.UNIT_DOOR, None)
    for broken in ({**LOCK, "kind": "WINDOW"}, {**LOCK, "hasGateway": 2}, {**LOCK, "lockId": None}):
        with pytest.raises(UpstreamPayloadError):
            mapping.lock(broken)


def test_gateways() -> None:
    gateways = mapping.gateways(
        {
            "list": [
                {"gatewayId": 60001, "isOnline": 1, "rssi": -55},
                {"gatewayId": 60002, "isOnline": 0, "rssi": -80},
            ]
        }
    )
    assert [(g.id, g.online, g.rssi) for g in gateways] == [(60001, True, -55), (60002, False, -80)]
    assert mapping.gateways({"list": []}) == () == mapping.gateways({})
    with pytest.raises(UpstreamPayloadError):
        mapping.gateways({"list": [{"gatewayId": 1, "isOnline": "yes"}]})


def test_commands() -> None:
    assert mapping.command_id({"errcode": 0, "errmsg": "none", "commandId": 7}) == 7
    pending = mapping.command({"commandId": 7, "status": "PENDING", "errcode": 0})
    failed = mapping.command({"commandId": 7, "status": "FAILED", "errcode": -3036})
    assert (pending.status, failed.status, failed.errcode) == (
        CommandStatus.PENDING,
        CommandStatus.FAILED,
        -3036,
    )
    for broken in ({"status": "DONE"}, {"status": "FAILED", "errcode": 0}, {}):
        with pytest.raises(UpstreamPayloadError):
            mapping.command(broken)


def test_the_envelope_tells_a_refused_call_from_a_failed_command() -> None:
    assert envelope.decode({"list": []}, "locks").ok
    assert envelope.decode({"errcode": 0, "commandId": 1}, "locks").ok
    refused = envelope.decode(REFUSED, "locks")
    assert (refused.ok, refused.errcode) == (False, -3036)
    assert envelope.decode({"errcode": 10004, "errmsg": "invalid token"}, "locks").token_invalid
    # a FAILED command is a successful call whose errcode belongs to the command
    outcome = envelope.decode({"status": "FAILED", "errcode": -3036}, "locks")
    assert outcome.ok and outcome.get("errcode") == -3036
    with pytest.raises(UpstreamPayloadError):
        envelope.decode([REFUSED], "locks")
    with pytest.raises(UpstreamPayloadError):
        envelope.decode({"errcode": "-3036"}, "locks")


@pytest.mark.parametrize(
    ("errcode", "code"),
    [
        (-2018, "PERMISSION_DENIED"),
        (-3046, "NO_REMOTE_RIGHT"),
        (-2012, "NO_GATEWAY"),
        (-3002, "GATEWAY_OFFLINE"),
        (-3003, "GATEWAY_BUSY"),
        (-3036, "LOCK_OFFLINE"),
        (-3037, "LOCK_BUSY"),
        (30006, "TOO_MANY_ATTEMPTS"),
        (-1003, "NOT_FOUND"),
    ],
)
def test_unlock_codes_map_to_domain_refusals(errcode: int, code: str) -> None:
    refusal = envelope.unlock_failure("locks", errcode, "POST /v3/lock/unlock")
    assert isinstance(refusal, Refused)
    assert (refusal.department, refusal.code) == ("locks", code)
    assert refusal.message and "lock offline" not in refusal.message


def test_other_codes_are_rejections_and_reads_know_not_found() -> None:
    odd = envelope.unlock_failure("locks", -9999, "command 7")
    assert isinstance(odd, UpstreamRejected) and odd.code == "-9999"
    skew = envelope.read_failure("locks", 80000, "GET /v3/key/list")
    assert isinstance(skew, UpstreamRejected) and skew.code == "80000"
    assert "clock" in skew.detail
    assert isinstance(envelope.read_failure("locks", -1003, "GET x"), UpstreamNotFound)
    assert envelope.timed_out("locks").code == "TIMED_OUT"
    assert envelope.operator_problem(80000) and envelope.operator_problem(10003)
    assert not envelope.operator_problem(-3036)


def test_grant() -> None:
    granted = grant(
        {"access_token": "a1", "uid": 8800001, "refresh_token": "r1", "expires_in": 7200}
    )
    assert (granted.access_token, granted.refresh_token, granted.expires_in) == ("a1", "r1", 7200)
    assert "a1" not in repr(granted) and "r1" not in repr(granted)
    for broken in ({"access_token": "a", "expires_in": 0}, {"expires_in": 60}):
        with pytest.raises(UpstreamPayloadError):
            grant(broken)


class FakeCloud:
    """Token endpoints that count their calls; the refresh one can be made to refuse."""

    def __init__(self) -> None:
        self.now = 0.0
        self.issued = 0
        self.refuse_refresh = False
        self.calls: list[str] = []

    def clock(self) -> float:
        return self.now

    def _pair(self) -> Grant:
        self.issued += 1
        return Grant(f"a{self.issued}", f"r{self.issued}", 7200)

    async def password(self) -> Grant:
        self.calls.append("password")
        await asyncio.sleep(0)
        return self._pair()

    async def refresh(self, refresh_token: str) -> Grant:
        self.calls.append(f"refresh {refresh_token}")
        await asyncio.sleep(0)
        if self.refuse_refresh:
            raise UpstreamRejected("locks", "refresh refused", code="10004")
        return self._pair()


def keeper(cloud: FakeCloud) -> TokenKeeper:
    return TokenKeeper(cloud.password, cloud.refresh, clock=cloud.clock)


async def test_the_token_is_fetched_lazily_once_for_concurrent_callers() -> None:
    cloud = FakeCloud()
    tokens = keeper(cloud)
    assert cloud.calls == []
    got = await asyncio.gather(*(tokens.current() for _ in range(20)))
    assert {token.value for token in got} == {"a1"} and cloud.calls == ["password"]
    assert "a1" not in repr(got[0])


async def test_a_refused_token_is_renewed_once_with_the_refresh_token() -> None:
    cloud = FakeCloud()
    tokens = keeper(cloud)
    stale = await tokens.current()
    renewed = await asyncio.gather(*(tokens.renew(stale=stale) for _ in range(10)))
    assert {token.value for token in renewed} == {"a2"}
    assert cloud.calls == ["password", "refresh r1"]
    assert (tokens.password_grants, tokens.refresh_grants) == (1, 1)


async def test_the_token_is_renewed_before_it_expires() -> None:
    cloud = FakeCloud()
    tokens = keeper(cloud)
    await tokens.current()
    cloud.now = 7200 - 301
    assert (await tokens.current()).value == "a1"
    cloud.now = 7200 - 299
    assert (await tokens.current()).value == "a2"
    assert cloud.calls == ["password", "refresh r1"]


async def test_a_refused_refresh_token_falls_back_to_the_password() -> None:
    cloud = FakeCloud()
    tokens = keeper(cloud)
    stale = await tokens.current()
    cloud.refuse_refresh = True
    assert (await tokens.renew(stale=stale)).value == "a2"
    assert cloud.calls == ["password", "refresh r1", "password"]
    # the refused refresh token is never tried again
    cloud.refuse_refresh = False
    assert (await tokens.renew(stale=await tokens.current())).value == "a3"
    assert cloud.calls[-1] == "refresh r2"
