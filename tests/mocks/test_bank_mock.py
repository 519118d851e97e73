"""Both bank mocks over real HTTP on loopback: keys, signatures, replay, limits, dialects, rules."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mocks.common.launcher import MockConfig, MockSpec, RunningMocks, start_mocks

SPECS = [
    MockSpec("icbc", 0, "mocks.bank:create_icbc_app"),
    MockSpec("ccb", 0, "mocks.bank:create_ccb_app"),
]
SHANGHAI = timezone(timedelta(hours=8))
PREFIX = '{"response_biz_content":'
KEY_FILES = {"bank-private.pem", "bank-public.pem", "app-private.pem", "app-public.pem", "app.json"}
ANCHORS = {"SB-0001", "GJJ-0003", "SC-0102"}
FREE_SLOT = "14:30-15:00"

Json = dict[str, Any]
_msg_ids = itertools.count(1)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def split_answer(body: str) -> tuple[str, str]:
    """The exact ``response_biz_content`` text and the ``sign`` of an answer body."""
    assert body.startswith(PREFIX)
    _, end = json.JSONDecoder().raw_decode(body, len(PREFIX))
    return body[len(PREFIX) : end], json.loads(body)["sign"]


def verifies(key: rsa.RSAPublicKey, content: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature), content, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@dataclass
class Bank:
    """A signing caller for one bank, built from the files the mock wrote."""

    session: aiohttp.ClientSession
    url: str
    app_id: str
    app_key: rsa.RSAPrivateKey
    bank_public: rsa.RSAPublicKey

    @classmethod
    def load(cls, session: aiohttp.ClientSession, url: str, folder: Path) -> Bank:
        app_key = serialization.load_pem_private_key(
            (folder / "app-private.pem").read_bytes(), None
        )
        bank_public = serialization.load_pem_public_key((folder / "bank-public.pem").read_bytes())
        assert isinstance(app_key, rsa.RSAPrivateKey)
        assert isinstance(bank_public, rsa.RSAPublicKey)
        app_id = json.loads((folder / "app.json").read_text(encoding="utf-8"))["app_id"]
        return cls(session, url, app_id, app_key, bank_public)

    def params(
        self,
        method: str,
        biz: Json,
        *,
        msg_id: str | None = None,
        timestamp: datetime | None = None,
        app_id: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> dict[str, str]:
        params = {
            "app_id": app_id or self.app_id,
            "msg_id": msg_id or f"test-{next(_msg_ids)}",
            "format": "json",
            "charset": "UTF-8",
            "sign_type": "RSA2",
            "timestamp": _stamp(timestamp or datetime.now(SHANGHAI)),
            "biz_content": json.dumps(biz, ensure_ascii=False),
        }
        pairs = sorted((k, v) for k, v in params.items() if v)
        content = f"/api/{method}?" + "&".join(f"{k}={v}" for k, v in pairs)
        signature = (key or self.app_key).sign(
            content.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        params["sign"] = base64.b64encode(signature).decode()
        return params

    async def post(self, method: str, params: dict[str, str]) -> str:
        async with self.session.post(f"{self.url}/api/{method}", data=params) as response:
            assert response.status == 200
            return await response.text()

    async def raw(self, method: str, biz: Json, **options: Any) -> str:
        return await self.post(method, self.params(method, biz, **options))

    async def call(self, method: str, biz: Json, **options: Any) -> Json:
        """The verified ``response_biz_content``; every answer must carry a valid bank sign."""
        content, signature = split_answer(await self.raw(method, biz, **options))
        assert verifies(self.bank_public, content.encode(), signature)
        answer: Json = json.loads(content)
        return answer

    async def ok(self, method: str, biz: Json, **options: Any) -> Json:
        answer = await self.call(method, biz, **options)
        assert answer["return_code"] == 0, answer
        return answer

    async def code(self, method: str, biz: Json, **options: Any) -> int:
        code: int = (await self.call(method, biz, **options))["return_code"]
        return code

    async def admin(self, path: str, body: Json | None = None, status: int = 200) -> Json:
        request = self.session.get if body is None else self.session.post
        async with request(f"{self.url}/__admin/{path}", json=body) as response:
            assert response.status == status, await response.text()
            answer: Json = await response.json()
            return answer

    async def today(self) -> date:
        now = (await self.admin("clock"))["now"]
        return datetime.strptime(now, "%Y-%m-%d %H:%M:%S").date()

    async def day(self, days: int) -> str:
        return (await self.today() + timedelta(days=days)).isoformat()


@dataclass
class Banks:
    icbc: Bank
    ccb: Bank


async def _start(state_dir: Path) -> RunningMocks:
    return await start_mocks(
        SPECS, config=MockConfig(state_dir=state_dir), ports={"icbc": 0, "ccb": 0}
    )


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared across tests so the RSA keys are generated once."""
    return tmp_path_factory.mktemp("bank-state")


@pytest.fixture
async def banks(state_dir: Path) -> AsyncIterator[Banks]:
    running = await _start(state_dir)
    session = aiohttp.ClientSession()
    try:
        yield Banks(
            *(
                Bank.load(session, running.urls[name], state_dir / "bank" / name)
                for name in ("icbc", "ccb")
            )
        )
    finally:
        await session.close()
        await running.stop()


async def _icbc_book(icbc: Bank, **changes: str) -> Json:
    biz = {
        "branch_no": "4000101",
        "item_code": "SB-0001",
        "date": await icbc.day(1),
        "slot": FREE_SLOT,
        "applicant_ref": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "mobile": "13900001111",
        **changes,
    }
    return await icbc.call("gov.appointment.create", biz)


async def _ccb_book(ccb: Bank, **changes: str) -> Json:
    biz = {
        "wd_id": "44200001",
        "sx_bm": "GJJ-0003",
        "rq": await ccb.day(1),
        "sd": FREE_SLOT,
        "sqr": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "sj": "13900002222",
        **changes,
    }
    return await ccb.call("zw.yy.create", biz)


async def _all_items(bank: Bank, method: str, page: str, size: str, rows: str) -> list[Json]:
    found: list[Json] = []
    for number in itertools.count(1):
        answer = await bank.ok(method, {page: number, size: 50})
        found.extend(answer[rows])
        if len(found) >= answer["zs" if rows == "sx_list" else "total"]:
            return found
    raise AssertionError("unreachable")


async def test_keys_are_written_on_first_start_and_reused_on_the_second(tmp_path: Path) -> None:
    running = await _start(tmp_path)
    await running.stop()
    written = {}
    for bank, app_id in (("icbc", "ihub-icbc-dev"), ("ccb", "ihub-ccb-dev")):
        folder = tmp_path / "bank" / bank
        assert {path.name for path in folder.iterdir()} == KEY_FILES
        for name in ("bank-private.pem", "app-private.pem"):
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
        assert json.loads((folder / "app.json").read_text())["app_id"] == app_id
        written[bank] = {name: (folder / name).read_bytes() for name in KEY_FILES}
    assert written["icbc"]["bank-public.pem"] != written["ccb"]["bank-public.pem"]

    running = await _start(tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            for bank in ("icbc", "ccb"):
                folder = tmp_path / "bank" / bank
                assert {n: (folder / n).read_bytes() for n in KEY_FILES} == written[bank]
                client = Bank.load(session, running.urls[bank], folder)
                method = "gov.item.list" if bank == "icbc" else "zw.sx.list"
                await client.ok(method, {})
    finally:
        await running.stop()


async def test_answers_are_signed_over_the_exact_content_text(banks: Banks) -> None:
    for bank, method in ((banks.icbc, "branch.list"), (banks.ccb, "wd.list")):
        body = await bank.raw(method, {"district": "罗湖区", "qx": "罗湖区"})
        content, signature = split_answer(body)
        assert "罗湖区" in content  # Chinese is sent as-is, not \u-escaped
        assert verifies(bank.bank_public, content.encode(), signature)
        changed = content.replace('"return_code":0', '"return_code":1', 1)
        assert changed != content
        assert not verifies(bank.bank_public, changed.encode(), signature)


async def test_a_bad_signature_or_unknown_app_is_400017_and_still_signed(banks: Banks) -> None:
    icbc = banks.icbc
    params = icbc.params("branch.list", {"district": "罗湖区"})
    params["biz_content"] = json.dumps({"district": "福田区"}, ensure_ascii=False)
    content, signature = split_answer(await icbc.post("branch.list", params))
    assert verifies(icbc.bank_public, content.encode(), signature)
    assert json.loads(content)["return_code"] == 400017

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await icbc.code("branch.list", {}, key=stranger) == 400017
    assert await icbc.code("branch.list", {}, app_id="ihub-ccb-dev") == 400017
    assert await banks.ccb.code("wd.list", {}, app_id="someone-else") == 400017


async def test_stale_timestamps_and_malformed_calls_are_400011(banks: Banks) -> None:
    icbc = banks.icbc
    old = datetime.now(SHANGHAI) - timedelta(minutes=6)
    assert await icbc.code("branch.list", {}, timestamp=old) == 400011
    assert await icbc.code("branch.list", {}, timestamp=datetime.now(SHANGHAI)) == 0

    await banks.ccb.admin("clock", {"offset_seconds": 600})
    assert await banks.ccb.code("wd.list", {}) == 400011
    await banks.ccb.admin("clock", {"offset_seconds": 0})

    assert await icbc.code("branch.list", {}, msg_id="m" * 41) == 400011
    assert await icbc.code("no.such.method", {}) == 400011
    assert await icbc.code("branch.queue.query", {"branch_nos": "4000101"}) == 400011
    params = icbc.params("branch.list", {})
    del params["timestamp"]
    assert json.loads(split_answer(await icbc.post("branch.list", params))[0])["return_code"] == (
        400011
    )


async def test_a_repeated_msg_id_replays_the_first_answer_and_books_once(banks: Banks) -> None:
    icbc = banks.icbc
    biz = {
        "branch_no": "4000102",
        "item_code": "GJJ-0003",
        "date": await icbc.day(2),
        "slot": FREE_SLOT,
        "applicant_ref": "ref-replay",
        "mobile": "13900003333",
    }
    first = await icbc.raw("gov.appointment.create", biz, msg_id="replay-1")
    # a retry re-signed with a later timestamp is still the same call
    later = datetime.now(SHANGHAI) + timedelta(seconds=30)
    again = await icbc.raw("gov.appointment.create", biz, msg_id="replay-1", timestamp=later)
    assert again == first
    booked = json.loads(split_answer(first)[0])
    assert booked["return_code"] == 0

    other = {**biz, "slot": "15:00-15:30"}
    assert await icbc.code("gov.appointment.create", other, msg_id="replay-1") == 400011
    nxt = await icbc.ok("gov.appointment.create", other)
    assert int(nxt["appointment_no"][4:]) == int(booked["appointment_no"][4:]) + 1


async def test_refused_calls_are_not_remembered_under_their_msg_id(banks: Banks) -> None:
    ccb = banks.ccb
    old = datetime.now(SHANGHAI) - timedelta(minutes=6)
    assert await ccb.code("wd.pdxx", {"wd_id": "44200001"}, msg_id="retry-1", timestamp=old) == (
        400011
    )
    assert await ccb.code("wd.pdxx", {"wd_id": "44200001"}, msg_id="retry-1") == 0


async def test_icbc_branch_list_pages_government_outlets_in_luohu(banks: Banks) -> None:
    icbc = banks.icbc
    answer = await icbc.ok("branch.list", {"district": "罗湖区", "page_no": 1, "page_size": 50})
    branches = answer["branches"]
    assert answer["total"] == len(branches) == 10
    assert branches[0]["branch_no"] == "4000101"
    assert branches[0]["branch_name"] == "工商银行深圳东门支行"
    assert branches[0]["business_hours"] == "09:00-17:00"
    for branch in branches:
        assert branch["district"] == "罗湖区"
        assert branch["gov_window"] is True
        assert 114.10 <= branch["longitude"] <= 114.20
        assert 22.53 <= branch["latitude"] <= 22.60
        assert set(branch["gov_items"]) >= ANCHORS
    page = await icbc.ok("branch.list", {"district": "罗湖区", "page_no": 3, "page_size": 4})
    assert [b["branch_no"] for b in page["branches"]] == ["4000109", "4000110"]
    assert (await icbc.ok("branch.list", {"district": "福田区"}))["total"] == 0
    assert await icbc.code("branch.list", {"page_size": 51}) == 400011


async def test_icbc_queue_query_batches_up_to_20_and_records_sizes(banks: Banks) -> None:
    icbc = banks.icbc
    await icbc.admin("stats/reset", {})
    asked = ["4000103", "4000101", "4000103", "9999999"]
    queues = (await icbc.ok("branch.queue.query", {"branch_nos": asked}))["queues"]
    assert [q["branch_no"] for q in queues] == ["4000101", "4000103"]
    for queue in queues:
        assert 0 <= queue["waiting"] <= 30
        assert queue["est_wait_min"] >= queue["waiting"] * 3
        assert queue["updated_at"].endswith(":00")
    again = (await icbc.ok("branch.queue.query", {"branch_nos": asked}))["queues"]
    if again[0]["updated_at"] == queues[0]["updated_at"]:  # same minute: same queue
        assert [q["waiting"] for q in again] == [q["waiting"] for q in queues]

    too_many = [f"{4000101 + n}" for n in range(21)]
    assert await icbc.code("branch.queue.query", {"branch_nos": too_many}) == 400011
    assert await icbc.code("gov.appointment.query", {"appointment_nos": too_many}) == 400011
    stats = await icbc.admin("stats")
    assert stats["batch_sizes"] == {
        "POST /api/branch.queue.query": [4, 4, 21],
        "POST /api/gov.appointment.query": [21],
    }
    assert stats["requests"]["POST /api/branch.queue.query"] == 3


async def test_icbc_items_carry_departments_and_materials(banks: Banks) -> None:
    items = await _all_items(banks.icbc, "gov.item.list", "page_no", "page_size", "items")
    codes = [item["item_code"] for item in items]
    assert len(codes) == len(set(codes)) > 200
    sb = next(item for item in items if item["item_code"] == "SB-0001")
    assert sb["item_name"] == "社会保险参保登记"
    assert sb["department"] == "深圳市社会保险基金管理局"
    assert sb["materials"][0] == "居民身份证"
    assert isinstance(sb["assisted"], bool)


async def test_icbc_appointment_create_query_settle_and_cancel(banks: Banks) -> None:
    icbc = banks.icbc
    made = await _icbc_book(icbc)
    assert made["return_code"] == 0
    assert made["status"] == "BOOKED"
    assert (made["branch_no"], made["item_code"], made["slot"]) == ("4000101", "SB-0001", FREE_SLOT)
    other = await _icbc_book(icbc, slot="15:00-15:30")
    numbers = [other["appointment_no"], made["appointment_no"], "ICGA99999999"]
    await icbc.admin("stats/reset", {})
    found = (await icbc.ok("gov.appointment.query", {"appointment_nos": numbers}))["appointments"]
    assert [a["appointment_no"] for a in found] == sorted(numbers[:2])
    assert found[0]["date"] == made["date"]
    assert (await icbc.admin("stats"))["batch_sizes"] == {"POST /api/gov.appointment.query": [3]}

    settled = await icbc.admin(
        f"appointments/{made['appointment_no']}/status", {"status": "SERVED"}
    )
    assert settled["status"] == "SERVED"
    query = {"appointment_nos": [made["appointment_no"]]}
    assert (await icbc.ok("gov.appointment.query", query))["appointments"][0]["status"] == "SERVED"
    cancel = {"appointment_no": made["appointment_no"]}
    assert await icbc.code("gov.appointment.cancel", cancel) == 400022

    cancelled = await icbc.ok("gov.appointment.cancel", {"appointment_no": other["appointment_no"]})
    assert cancelled["status"] == "CANCELLED"
    assert await icbc.code("gov.appointment.cancel", {"appointment_no": "ICGA99999999"}) == 400024


async def test_seeded_appointments_cover_every_status(banks: Banks) -> None:
    numbers = [f"ICGA{n:08d}" for n in range(1, 7)]
    found = await banks.icbc.ok("gov.appointment.query", {"appointment_nos": numbers})
    statuses = [a["status"] for a in found["appointments"]]
    assert statuses == ["BOOKED", "BOOKED", "SERVED", "CANCELLED", "NO_SHOW", "BOOKED"]
    assert (await banks.ccb.ok("zw.yy.cx", {"yy_bh": "JHYY00000005"}))["zt"] == "SY"
    for answer in found["appointments"]:
        assert not answer["applicant_ref"].isdigit()


async def test_ccb_lists_outlets_without_government_window_too(banks: Banks) -> None:
    answer = await banks.ccb.ok("wd.list", {"qx": "罗湖区", "ym": 1, "mys": 50})
    outlets = answer["wd_list"]
    assert answer["zs"] == len(outlets) == 13
    windows = [o for o in outlets if o["zwzc"] == "Y"]
    plain = [o for o in outlets if o["zwzc"] == "N"]
    assert len(windows) == 10
    assert [o["wd_id"] for o in plain] == ["44200004", "44200009", "44200013"]
    assert all(o["sx_list"] == [] for o in plain)
    first = outlets[0]
    assert (first["wd_id"], first["wd_mc"], first["qx"]) == (
        "44200001",
        "建设银行深圳罗湖支行",
        "罗湖区",
    )
    assert 114.10 <= first["jd"] <= 114.20 and 22.53 <= first["wd"] <= 22.60
    assert set(first["sx_list"]) >= ANCHORS
    second = await banks.ccb.ok("wd.list", {"qx": "罗湖区", "ym": 2, "mys": 10})
    assert len(second["wd_list"]) == 3


async def test_ccb_queue_is_one_outlet_per_call(banks: Banks) -> None:
    ccb = banks.ccb
    queue = await ccb.ok("wd.pdxx", {"wd_id": "44200002"})
    assert queue["wd_id"] == "44200002"
    assert 0 <= queue["ddrs"] <= 30
    assert queue["yjsc"] >= queue["ddrs"] * 3
    assert len(queue["gxsj"]) == 19
    assert await ccb.code("wd.pdxx", {"wd_id": "00000000"}) == 400024
    assert await ccb.code("wd.pdxx", {"wd_ids": ["44200002"]}) == 400011


async def test_ccb_items_and_appointment_lifecycle(banks: Banks) -> None:
    ccb = banks.ccb
    items = await _all_items(ccb, "zw.sx.list", "ym", "mys", "sx_list")
    gjj = next(item for item in items if item["sx_bm"] == "GJJ-0003")
    assert (gjj["sx_mc"], gjj["bm"]) == ("住房公积金提取", "深圳市住房公积金管理中心")
    assert "居民身份证" in gjj["cl"]

    made = await _ccb_book(ccb)
    assert made["return_code"] == 0 and made["zt"] == "YYY"
    seen = await ccb.ok("zw.yy.cx", {"yy_bh": made["yy_bh"]})
    assert (seen["wd_id"], seen["sx_bm"], seen["sd"], seen["zt"]) == (
        "44200001",
        "GJJ-0003",
        FREE_SLOT,
        "YYY",
    )
    assert (await ccb.ok("zw.yy.cancel", {"yy_bh": made["yy_bh"]}))["zt"] == "YQX"
    assert await ccb.code("zw.yy.cancel", {"yy_bh": made["yy_bh"]}) == 400022
    assert (await ccb.ok("zw.yy.cx", {"yy_bh": made["yy_bh"]}))["zt"] == "YQX"
    assert await ccb.code("zw.yy.cx", {"yy_bh": "JHYY99999999"}) == 400024

    served = await _ccb_book(ccb, sd="15:00-15:30")
    await ccb.admin(f"appointments/{served['yy_bh']}/status", {"status": "SERVED"})
    assert (await ccb.ok("zw.yy.cx", {"yy_bh": served["yy_bh"]}))["zt"] == "YBL"
    await ccb.admin(f"appointments/{served['yy_bh']}/status", {"status": "NO_SHOW"}, status=409)
    await ccb.admin("appointments/JHYY99999999/status", {"status": "SERVED"}, status=404)


async def test_booking_window_runs_from_tomorrow_for_14_days(banks: Banks) -> None:
    icbc, ccb = banks.icbc, banks.ccb
    for days, code in ((0, 400011), (1, 0), (14, 0), (15, 400011), (-1, 400011)):
        assert (await _icbc_book(icbc, date=await icbc.day(days)))["return_code"] == code
        assert (await _ccb_book(ccb, rq=await ccb.day(days)))["return_code"] == code
    refused = await _icbc_book(icbc, date=await icbc.day(15))
    assert "14" in refused["return_msg"]
    assert (await _icbc_book(icbc, date="2026/12/01"))["return_code"] == 400011
    assert (await _icbc_book(icbc, slot="17:00-17:30"))["return_code"] == 400011
    assert (await _icbc_book(icbc, slot="09:10-09:40"))["return_code"] == 400011
    assert (await _ccb_book(ccb, sj="12345"))["return_code"] == 400011


async def test_a_slot_takes_four_bookings(banks: Banks) -> None:
    icbc, ccb = banks.icbc, banks.ccb
    day = await icbc.day(5)
    made = [await _icbc_book(icbc, date=day) for _ in range(4)]
    assert [a["return_code"] for a in made] == [0, 0, 0, 0]
    full = await _icbc_book(icbc, date=day)
    assert full["return_code"] == 400021
    await icbc.ok("gov.appointment.cancel", {"appointment_no": made[0]["appointment_no"]})
    assert (await _icbc_book(icbc, date=day))["return_code"] == 0

    rq = await ccb.day(5)
    assert [(await _ccb_book(ccb, rq=rq))["return_code"] for _ in range(5)] == [0, 0, 0, 0, 400021]


async def test_an_outlet_books_only_the_items_it_handles(banks: Banks) -> None:
    icbc, ccb = banks.icbc, banks.ccb
    first = (await icbc.ok("branch.list", {"page_size": 1}))["branches"][0]
    items = await _all_items(icbc, "gov.item.list", "page_no", "page_size", "items")
    elsewhere = next(i["item_code"] for i in items if i["item_code"] not in first["gov_items"])
    assert (await _icbc_book(icbc, item_code=elsewhere))["return_code"] == 400023
    assert (await _icbc_book(icbc, item_code="XX-9999"))["return_code"] == 400023
    assert (await _icbc_book(icbc, branch_no="4000999"))["return_code"] == 400024
    assert (await _ccb_book(ccb, wd_id="44200004"))["return_code"] == 400023


async def test_the_two_banks_share_codes_and_together_handle_340_items(banks: Banks) -> None:
    icbc = await _all_items(banks.icbc, "gov.item.list", "page_no", "page_size", "items")
    ccb = await _all_items(banks.ccb, "zw.sx.list", "ym", "mys", "sx_list")
    icbc_codes = {item["item_code"] for item in icbc}
    ccb_codes = {item["sx_bm"] for item in ccb}
    assert len(icbc_codes | ccb_codes) == 340
    assert icbc_codes & ccb_codes >= ANCHORS
    assert icbc_codes - ccb_codes and ccb_codes - icbc_codes
    names = {item["item_code"]: item["item_name"] for item in icbc}
    for item in ccb:
        assert names.get(item["sx_bm"], item["sx_mc"]) == item["sx_mc"]
    assert names["SC-0102"] == "法人机构变更登记"


async def test_lowering_the_rate_limit_answers_500031(banks: Banks) -> None:
    icbc = banks.icbc
    assert (await icbc.admin("limits"))["per_second"] == 50
    await icbc.admin("limits", {"per_second": 3})
    codes = await asyncio.gather(*(icbc.code("gov.item.list", {}) for _ in range(6)))
    assert sorted(codes) == [0, 0, 0, 500031, 500031, 500031]
    await icbc.admin("limits", {"per_second": 1000})
    assert await icbc.code("gov.item.list", {}) == 0
    await icbc.admin("limits", {"per_second": 0}, status=400)


async def test_in_flight_and_busy_limits(banks: Banks) -> None:
    ccb = banks.ccb
    await ccb.admin("limits", {"max_in_flight": 1, "processing_ms": 300})
    codes = await asyncio.gather(*(ccb.code("zw.sx.list", {}) for _ in range(3)))
    assert sorted(codes) == [0, 500032, 500032]
    await ccb.admin("limits", {"max_in_flight": 10, "processing_ms": 0, "busy": True})
    assert await ccb.code("zw.sx.list", {}) == 5205
    await ccb.admin("limits", {"busy": False})
    assert await ccb.code("zw.sx.list", {}) == 0
