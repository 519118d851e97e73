"""Both bank connectors against the real ICBC and CCB mocks, over loopback HTTP.

The mocks run for the whole session: bookings here use branches, dates (+10…+13 days) and
afternoon slots (from 15:00) that other tests leave alone, and fresh msg_ids. Each test starts
with zeroed counters, and the fixture puts faults and limits back afterwards; the bank's rate
limit is lifted during a test so that bursts of calls measure the connector, not the gate.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.bank import (
    BankConnector,
    CcbConnector,
    CcbLoaders,
    IcbcConnector,
    IcbcLoaders,
    protocol,
    signing,
)
from connectors.bank.models import AppointmentStatus, Bank
from connectors.base import DepartmentPolicy
from connectors.errors import (
    Refused,
    UpstreamPayloadError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from mocks.bank import keys_dir
from tests.support import BackgroundMocks, MockAdmin

CONNECTORS: dict[str, type[BankConnector]] = {"icbc": IcbcConnector, "ccb": CcbConnector}
METHODS = {
    "icbc": {
        "branches": "branch.list",
        "items": "gov.item.list",
        "queue": "branch.queue.query",
        "create": "gov.appointment.create",
        "query": "gov.appointment.query",
    },
    "ccb": {
        "branches": "wd.list",
        "items": "zw.sx.list",
        "queue": "wd.pdxx",
        "create": "zw.yy.create",
        "query": "zw.yy.cx",
    },
}
PREFIX = {"icbc": "ICGA", "ccb": "JHYY"}
CCB_WITHOUT_WINDOW = {"44200004", "44200009", "44200013"}
ANCHORS = {"SB-0001", "GJJ-0003", "SC-0102"}
DEFAULT_LIMITS = {"per_second": 50, "max_in_flight": 10, "busy": False, "processing_ms": 0}
MOBILE = "13900009999"


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class BankAdmin(MockAdmin):
    """One bank mock's admin surface, plus its name and where its keys are."""

    name: str = ""
    keys: Path = Path()

    def endpoint(self, verb: str) -> str:
        return f"POST /api/{METHODS[self.name][verb]}"

    def limits(self, **limits: object) -> None:
        httpx.post(f"{self.url}/__admin/limits", json=limits).raise_for_status()

    def today(self) -> date:
        now = httpx.get(f"{self.url}/__admin/clock").raise_for_status().json()["now"]
        return datetime.strptime(now, "%Y-%m-%d %H:%M:%S").date()

    def credentials(self, **changes: str) -> dict[str, str]:
        app_id = json.loads((self.keys / "app.json").read_text(encoding="utf-8"))["app_id"]
        return {
            "app_id": app_id,
            "app_private_key": str(self.keys / "app-private.pem"),
            "bank_public_key": str(self.keys / "bank-public.pem"),
            **changes,
        }


def policy(bank: BankAdmin, url: str | None = None, **changes: Any) -> DepartmentPolicy:
    settings: dict[str, Any] = {
        "timeout_s": 5.0,
        "cache_ttl_s": 60.0,
        "max_concurrency": 8,
        "credentials": bank.credentials(),
        **changes,
    }
    return DepartmentPolicy(base_url=url or bank.url, **settings)


@pytest.fixture(params=["icbc", "ccb"])
def bank(request: pytest.FixtureRequest, mocks: BackgroundMocks) -> Iterator[BankAdmin]:
    """Each bank mock in turn: no faults, counters zeroed, rate limit out of the way."""
    name: str = request.param
    admin = BankAdmin(mocks.urls[name], name=name, keys=keys_dir(mocks.state_dir, name))
    admin.clear_faults()
    admin.limits(**{**DEFAULT_LIMITS, "per_second": 100_000})
    admin.reset()
    yield admin
    admin.clear_faults()
    admin.limits(**DEFAULT_LIMITS)


@pytest.fixture
def icbc(mocks: BackgroundMocks) -> Iterator[BankAdmin]:
    admin = BankAdmin(mocks.urls["icbc"], name="icbc", keys=keys_dir(mocks.state_dir, "icbc"))
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def connector(bank: BankAdmin, session: aiohttp.ClientSession, clock: FakeClock) -> BankConnector:
    return CONNECTORS[bank.name](session, policy(bank), clock=clock)


def msg_id() -> str:
    return f"test-bank-{uuid.uuid4().hex[:24]}"


async def refusal(call: Any) -> str:
    with pytest.raises(Refused) as raised:
        await call
    return raised.value.code


# -- catalogue ----------------------------------------------------------------------------


async def test_branches_are_the_government_windows_in_luohu(
    connector: BankConnector, bank: BankAdmin, clock: FakeClock
) -> None:
    branches = await connector.branches()
    assert len(branches) == 10 == len({b.id for b in branches})
    assert {b.bank for b in branches} == {connector.bank}
    assert all(b.district == "罗湖区" and set(b.item_codes) >= ANCHORS for b in branches)
    assert not CCB_WITHOUT_WINDOW & {b.id for b in branches}
    assert branches[0].hours == "09:00-17:00"
    assert bank.calls(bank.endpoint("branches")) == 1
    # cached for the policy's TTL (60 s here)
    clock.now += 59
    assert await connector.branches() == branches
    assert bank.calls(bank.endpoint("branches")) == 1
    clock.now += 2
    assert await connector.branches() == branches
    assert bank.calls(bank.endpoint("branches")) == 2


async def test_the_two_banks_together_handle_340_items(
    mocks: BackgroundMocks, session: aiohttp.ClientSession
) -> None:
    found = {}
    for name, kind in CONNECTORS.items():
        admin = BankAdmin(mocks.urls[name], name=name, keys=keys_dir(mocks.state_dir, name))
        admin.reset()
        items = await kind(session, policy(admin)).items()
        assert len(items) == len({i.code for i in items}) > 150
        assert admin.calls(admin.endpoint("items")) == -(-len(items) // 50)
        found[name] = {i.code: i for i in items}
    assert len(found["icbc"].keys() | found["ccb"].keys()) == 340
    assert found["icbc"]["SB-0001"] == found["ccb"]["SB-0001"]
    gjj = found["ccb"]["GJJ-0003"]
    assert (gjj.name, gjj.department) == ("住房公积金提取", "深圳市住房公积金管理中心")
    assert "居民身份证" in gjj.materials


# -- queues -------------------------------------------------------------------------------


async def test_queues_for_every_branch_in_the_fewest_calls_then_30_s_from_cache(
    connector: BankConnector, bank: BankAdmin, clock: FakeClock
) -> None:
    ids = [b.id for b in await connector.branches()]
    queue_calls = bank.endpoint("queue")
    per_round = 1 if bank.name == "icbc" else 10
    # when every branch's queue is asked for, twice at once, with an unknown branch
    loaders = (IcbcLoaders if bank.name == "icbc" else CcbLoaders)(connector)
    asked = [*ids, "99999999", ids[0]]
    queues = await loaders.queue_by_branch.load_many(asked)
    # then ICBC answers them in one batch, CCB one call per branch
    assert [q.branch_id if q else None for q in queues] == [*ids, None, ids[0]]
    assert all(q is not None and q.bank is connector.bank and q.waiting >= 0 for q in queues[:10])
    first_round = 1 if bank.name == "icbc" else 11
    assert bank.calls(queue_calls) == first_round
    if bank.name == "icbc":
        assert bank.stats()["batch_sizes"][queue_calls] == [11]
    # within 30 s no call at all; past 30 s, the calls again
    clock.now += 29
    assert await connector.queues(ids) == {q.branch_id: q for q in queues[:10] if q}
    assert bank.calls(queue_calls) == first_round
    clock.now += 2
    assert set(await connector.queues(ids)) == set(ids)
    assert bank.calls(queue_calls) == first_round + per_round


async def test_concurrent_queue_reads_share_one_flight(
    connector: BankConnector, bank: BankAdmin
) -> None:
    ids = [b.id for b in await connector.branches()]
    bank.limits(processing_ms=50)
    first, second = await asyncio.gather(connector.queues(ids), connector.queues(ids[:5]))
    assert set(first) == set(ids) and set(second) == set(ids[:5])
    assert bank.calls(bank.endpoint("queue")) == (1 if bank.name == "icbc" else 10)


# -- booking ------------------------------------------------------------------------------


async def test_book_replay_and_cancel(connector: BankConnector, bank: BankAdmin) -> None:
    branch = (await connector.branches())[6]
    day = bank.today() + timedelta(days=10)
    request = {
        "branch_id": branch.id,
        "item_code": "SB-0001",
        "day": day,
        "slot": "15:00-15:30",
        "applicant_ref": "ref-bank-connector-1",
        "mobile": MOBILE,
    }
    # when the same booking is sent twice under one msg_id
    key = msg_id()
    booked = await connector.book(**request, msg_id=key)
    again = await connector.book(**request, msg_id=key)
    # then both answers are the one appointment
    assert booked == again
    assert (booked.bank, booked.branch_id, booked.item_code, booked.date, booked.slot) == (
        connector.bank,
        branch.id,
        "SB-0001",
        day,
        "15:00-15:30",
    )
    assert booked.status is AppointmentStatus.BOOKED and booked.number.startswith(PREFIX[bank.name])
    assert bank.calls(bank.endpoint("create")) == 2
    # and the bank made one booking: the number after it does not exist
    following = f"{booked.number[:4]}{int(booked.number[4:]) + 1:08d}"
    assert await connector.appointments([booked.number, following]) == {booked.number: booked}
    # cancel, then cancel again under a new msg_id (refused) or the same one (replayed)
    cancel_key = msg_id()
    cancelled = await connector.cancel(booked.number, msg_id=cancel_key)
    assert cancelled.status is AppointmentStatus.CANCELLED
    assert (cancelled.number, cancelled.date, cancelled.slot) == (booked.number, day, booked.slot)
    assert await refusal(connector.cancel(booked.number, msg_id=msg_id())) == "CANNOT_CANCEL"
    assert await connector.cancel(booked.number, msg_id=cancel_key) == cancelled
    assert await refusal(connector.cancel(f"{PREFIX[bank.name]}99999999", msg_id=msg_id())) == (
        "NOT_FOUND"
    )


async def test_booking_refusals_carry_domain_codes(
    connector: BankConnector, bank: BankAdmin
) -> None:
    branches = await connector.branches()
    branch = branches[7]
    today = bank.today()

    def book(**changes: Any) -> Any:
        wanted: dict[str, Any] = {
            "branch_id": branch.id,
            "item_code": "GJJ-0003",
            "day": today + timedelta(days=11),
            "slot": "16:00-16:30",
            "applicant_ref": "ref-bank-connector-2",
            "mobile": MOBILE,
            "msg_id": msg_id(),
            **changes,
        }
        return connector.book(**wanted)

    # outside the window, a slot outside the hours or a bad mobile: the resident's to fix
    for wrong in (
        {"day": today},
        {"day": today + timedelta(days=15)},
        {"slot": "21:00-21:30"},
        {"mobile": "12345"},
    ):
        with pytest.raises(Refused) as raised:
            await book(**wrong)
        assert raised.value.code == "INVALID_BOOKING"
        assert raised.value.message == protocol.INVALID_BOOKING[1]
    # a slot takes four bookings
    made = [await book() for _ in range(4)]
    assert len({a.number for a in made}) == 4
    assert await refusal(book()) == "SLOT_FULL"
    # an item the branch does not handle, a branch that does not exist
    items = await connector.items()
    elsewhere = next(i.code for i in items if i.code not in branch.item_codes)
    assert await refusal(book(item_code=elsewhere, slot="15:30-16:00")) == "ITEM_NOT_HANDLED"
    assert await refusal(book(branch_id="88888888", slot="15:30-16:00")) == "NOT_FOUND"
    if bank.name == "ccb":
        without_window = book(branch_id="44200004", slot="15:30-16:00")
        assert await refusal(without_window) == "ITEM_NOT_HANDLED"


async def test_appointments_in_batches_of_20_at_icbc_and_one_by_one_at_ccb(
    connector: BankConnector, bank: BankAdmin
) -> None:
    numbers = [f"{PREFIX[bank.name]}{n:08d}" for n in range(1, 26)]
    loaders = (IcbcLoaders if bank.name == "icbc" else CcbLoaders)(connector)
    found = await loaders.appointment_by_number.load_many([*numbers, "NOPE00000001"])
    # the seeded appointments: 1, 2 and 6 may since have been cancelled by another test
    assert all(a is not None for a in found[:6])
    settled = [a.status if a else None for a in found[2:5]]
    assert settled == [
        AppointmentStatus.SERVED,
        AppointmentStatus.CANCELLED,
        AppointmentStatus.NO_SHOW,
    ]
    assert all(a is None or a.number == n for a, n in zip(found, numbers, strict=False))
    assert found[-1] is None
    query = bank.endpoint("query")
    if bank.name == "icbc":
        assert bank.calls(query) == 2
        assert sorted(bank.stats()["batch_sizes"][query]) == [6, 20]
    else:
        assert bank.calls(query) == 26
    # never cached
    await connector.appointments(numbers[:1])
    assert bank.calls(query) == (3 if bank.name == "icbc" else 27)


# -- what the bank says about us, and what goes wrong on the way ---------------------------


def answer_body(content: dict[str, Any], key: rsa.RSAPrivateKey, *, tamper: bool = False) -> bytes:
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    sign = signing.sign(key, text.encode())
    if tamper:
        text = text.replace('"waiting":3', '"waiting":0')
    return f'{{"response_biz_content":{text},"sign":"{sign}"}}'.encode()


async def test_an_answer_without_the_banks_signature_is_refused(
    icbc: BankAdmin, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    # a stand-in for the bank (a test server on loopback) that answers what we tell it to
    bank_key = serialization.load_pem_private_key(
        (icbc.keys / "bank-private.pem").read_bytes(), None
    )
    assert isinstance(bank_key, rsa.RSAPrivateKey)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    content = {
        "return_code": 0,
        "return_msg": "",
        "queues": [
            {
                "branch_no": "4000101",
                "waiting": 3,
                "est_wait_min": 12,
                "updated_at": "2026-11-27 10:00:00",
            }
        ],
    }
    answers = {
        "genuine": answer_body(content, bank_key),
        "forged": answer_body(content, stranger),
        "tampered": answer_body(content, bank_key, tamper=True),
        "unsigned": f'{{"response_biz_content":{json.dumps(content)}}}'.encode(),
    }

    current = ["genuine"]

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=answers[current[0]], content_type="application/json")

    app = web.Application()
    app.router.add_post("/api/branch.queue.query", answer)
    server = TestServer(app)
    await server.start_server()
    try:
        url = str(server.make_url(""))
        # the genuine answer gets through: the stand-in works
        connector = IcbcConnector(session, policy(icbc, url))
        assert (await connector.queues(["4000101"]))["4000101"].waiting == 3
        assert connector.health.status == "ok"
        for current[0] in ("forged", "tampered", "unsigned"):
            connector = IcbcConnector(session, policy(icbc, url))
            with pytest.raises(UpstreamPayloadError):
                await connector.queues(["4000101"])
            assert connector.health.status == "failing"
    finally:
        await server.close()


async def test_a_key_the_bank_does_not_know_is_a_bad_signature(
    bank: BankAdmin, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    fresh = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "app-private.pem"
    pem.write_bytes(
        fresh.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    credentials = bank.credentials(app_private_key=str(pem))
    connector = CONNECTORS[bank.name](session, policy(bank, credentials=credentials))
    with pytest.raises(UpstreamRejected) as raised:
        await connector.items()
    assert (raised.value.code, raised.value.department) == ("bad_signature", bank.name)
    assert connector.health.status == "failing"
    # an app id the bank never issued is refused the same way
    stranger = CONNECTORS[bank.name](
        session, policy(bank, credentials=bank.credentials(app_id="someone-else"))
    )
    with pytest.raises(UpstreamRejected) as raised:
        await stranger.appointments(["X"])
    assert raised.value.code == "bad_signature"


async def test_a_skewed_wall_clock_is_refused_as_bad_parameters(
    bank: BankAdmin, session: aiohttp.ClientSession
) -> None:
    late = CONNECTORS[bank.name](session, policy(bank), wall_clock=lambda: time.time() - 600)
    with pytest.raises(UpstreamRejected) as raised:
        await late.items()
    assert raised.value.code == "bad_parameters"


async def test_keys_are_read_on_first_use_and_missing_ones_are_rejected(
    bank: BankAdmin, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    # given credentials naming files the bank has not written yet: the connector still builds
    credentials = {
        "app_id": bank.credentials()["app_id"],
        "app_private_key": str(tmp_path / "app-private.pem"),
        "bank_public_key": str(tmp_path / "bank-public.pem"),
    }
    connector = CONNECTORS[bank.name](session, policy(bank, credentials=credentials))
    with pytest.raises(UpstreamRejected) as raised:
        await connector.branches()
    assert (raised.value.code, connector.health.status) == ("keys", "failing")
    assert bank.total() == 0
    # when the files appear, the next call reads them
    for name in ("app-private.pem", "bank-public.pem"):
        shutil.copy(bank.keys / name, tmp_path / name)
    assert len(await connector.branches()) == 10
    # an unreadable key is rejected likewise
    (tmp_path / "broken.pem").write_text("not a key")
    broken = CONNECTORS[bank.name](
        session,
        policy(bank, credentials={**credentials, "bank_public_key": str(tmp_path / "broken.pem")}),
    )
    with pytest.raises(UpstreamRejected) as raised:
        await broken.appointments(["X"])
    assert raised.value.code == "keys"


async def test_faults_become_typed_errors_and_keyed_writes_are_retried_within_bounds(
    bank: BankAdmin, session: aiohttp.ClientSession
) -> None:
    connector = CONNECTORS[bank.name](session, policy(bank, timeout_s=0.5))
    number = f"{PREFIX[bank.name]}00000001"
    cancel = "gov.appointment.cancel" if bank.name == "icbc" else "zw.yy.cancel"
    bank.faults(down=True)
    with pytest.raises(UpstreamUnavailable):
        await connector.appointments([number])
    with pytest.raises(UpstreamUnavailable):
        await connector.cancel(f"{PREFIX[bank.name]}99999998", msg_id=msg_id())
    # repeated within the policy's retries, never more: its msg_id makes a repeat safe
    assert bank.calls(f"POST /api/{cancel}") == 1 + connector.policy.max_retries
    bank.clear_faults()
    bank.faults(garbage_body=True)
    with pytest.raises(UpstreamPayloadError):
        await connector.appointments([number])
    bank.clear_faults()
    bank.faults(latency_ms=1500)
    with pytest.raises(UpstreamTimeout):
        await connector.appointments([number])
    bank.clear_faults()
    bank.limits(busy=True)
    with pytest.raises(UpstreamUnavailable):
        await connector.appointments([number])
    assert connector.health.status == "failing"
    bank.limits(busy=False)
    assert set(await connector.appointments([number])) == {number}
    assert connector.health.status == "ok"


async def test_loaders_belong_to_their_bank(
    mocks: BackgroundMocks, session: aiohttp.ClientSession
) -> None:
    admin = BankAdmin(mocks.urls["icbc"], name="icbc", keys=keys_dir(mocks.state_dir, "icbc"))
    icbc = IcbcConnector(session, policy(admin))
    assert IcbcLoaders(icbc).connector is icbc
    assert icbc.bank is Bank.ICBC and CcbConnector.bank is Bank.CCB
    with pytest.raises(ValueError):
        CcbLoaders(icbc)
