"""Pure tier for the bank windows: signing vectors, the answer envelope, the code table, both
dialects' payloads → the one model, and the per-branch queue cache. No server; keys are made
fresh in the test."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.bank import ccb, icbc, protocol, signing
from connectors.bank.client import Booking, KeyedCache
from connectors.bank.models import AppointmentStatus, Bank
from connectors.errors import (
    Refused,
    UpstreamPayloadError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from mocks.bank import signing as bank_side

APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
BANK_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)

ICBC_BRANCH = {
    "branch_no": "4000101",
    "branch_name": "工商银行深圳东门支行",
    "address": "深圳市罗湖区东门中路2085号",
    "district": "罗湖区",
    "longitude": 114.123456,
    "latitude": 22.551234,
    "business_hours": "09:00-17:00",
    "gov_window": True,
    "gov_items": ["GJJ-0003", "SB-0001", "SC-0102"],
    "brand_new_field": "ignored",
}
CCB_WD = {
    "wd_id": "44200001",
    "wd_mc": "建设银行深圳罗湖支行",
    "dz": "深圳市罗湖区深南东路4003号",
    "qx": "罗湖区",
    "jd": 114.15,
    "wd": 22.56,
    "yysj": "09:00-17:00",
    "zwzc": "Y",
    "sx_list": ["GJJ-0003", "SB-0001", "SC-0102"],
}
CCB_PLAIN = {
    **CCB_WD,
    "wd_id": "44200004",
    "wd_mc": "建设银行深圳国贸自助银行",
    "zwzc": "N",
    "sx_list": [],
}
BOOKING = Booking("44200001", "GJJ-0003", date(2026, 12, 8), "15:00-15:30", "ref-1", "13900002222")


def body(content_text: str, signature: str | None, *, sign_first: bool = False) -> bytes:
    sign_part = "" if signature is None else f'"sign":"{signature}"'
    content_part = f'"response_biz_content":{content_text}'
    parts = [sign_part, content_part] if sign_first else [content_part, sign_part]
    return ("{" + ",".join(p for p in parts if p) + "}").encode()


def signed(content_text: str, key: rsa.RSAPrivateKey = BANK_KEY) -> str:
    return signing.sign(key, content_text.encode())


# -- signing ------------------------------------------------------------------------------


def test_a_request_is_signed_the_way_the_bank_verifies_it() -> None:
    # given a call with Chinese in its biz_content
    form = protocol.request_form(
        "branch.list",
        {"district": "罗湖区", "page_no": 1, "page_size": 50},
        app_id="ihub-icbc-dev",
        msg_id="a" * 32,
        timestamp=protocol.stamp(datetime(2026, 11, 27, 16, 0, tzinfo=UTC).timestamp()),
        key=APP_KEY,
    )
    # then the form carries the protocol's fields, Chinese as is, compact JSON
    # 16:00 UTC is already the next day in Shanghai
    assert form["timestamp"] == "2026-11-28 00:00:00"
    assert (form["format"], form["charset"], form["sign_type"]) == ("json", "UTF-8", "RSA2")
    assert form["biz_content"] == '{"district":"罗湖区","page_no":1,"page_size":50}'
    # and the bank's own code computes the same signing string and accepts the signature
    text = signing.signing_string("/api/branch.list", form)
    assert text == bank_side.signing_string("/api/branch.list", form)
    assert text.startswith("/api/branch.list?app_id=ihub-icbc-dev&biz_content=")
    assert "sign=" not in text
    assert bank_side.verify(APP_KEY.public_key(), text.encode(), form["sign"])
    assert not bank_side.verify(STRANGER.public_key(), text.encode(), form["sign"])


def test_empty_values_are_left_out_of_the_signing_string() -> None:
    assert signing.signing_string("/api/x", {"b": "2", "a": "", "sign": "s", "c": "3"}) == (
        "/api/x?b=2&c=3"
    )


@pytest.mark.parametrize(
    "content_text",
    [
        '{"return_code":0,"return_msg":"","district":"罗湖区"}',
        '{ "return_code" : 0 , "return_msg" : "" , "b" : [1, 2] }',
        '{"return_code":0,"return_msg":"","district":"\\u7f57\\u6e56\\u533a"}',
        '{"return_code":0,"return_msg":"say \\"}\\" ok","nested":{"response_biz_content":{"x":1}}}',
    ],
)
def test_the_answer_is_verified_over_its_exact_content_text(content_text: str) -> None:
    for sign_first in (False, True):
        raw = body(content_text, signed(content_text), sign_first=sign_first)
        answer = protocol.open_answer(raw, BANK_KEY.public_key(), "icbc")
        assert answer.code == 0
        assert answer.fields == json.loads(content_text)
    # re-serialising the parsed content would have produced other bytes
    assert json.dumps(json.loads(content_text), ensure_ascii=False) != content_text


@pytest.mark.parametrize(
    "raw",
    [
        # signed by someone else
        body('{"return_code":0}', signed('{"return_code":0}', STRANGER)),
        # signed by the bank, then changed
        body('{"return_code":0,"x":2}', signed('{"return_code":0,"x":1}')),
        # a re-serialised content no longer matches what was signed
        body('{"return_code": 0}', signed('{"return_code":0}')),
        body('{"return_code":0}', None),
        body('{"return_code":0}', "not base64!"),
        b'{"response_biz_content":{"return_code":0},"sign":12}',
        # the content twice: which one was signed is not ours to guess
        b'{"response_biz_content":{"return_code":0},"response_biz_content":{"return_code":0}}',
        body('{"return_code":0}', signed('{"return_code":0}')) + b"{}",
        body('{"return_code":0}', signed('{"return_code":0}'))[:-7] + b"\x00{",
        b'{"sign":"abc"}',
        b"[]",
        b"",
        b"\xff\xfe",
    ],
)
def test_an_answer_that_fails_verification_never_gets_through(raw: bytes) -> None:
    with pytest.raises(UpstreamPayloadError) as raised:
        protocol.open_answer(raw, BANK_KEY.public_key(), "icbc")
    assert raised.value.department == "icbc"


def test_a_verified_answer_still_needs_an_object_with_a_return_code() -> None:
    for content_text in ('[{"return_code":0}]', '{"return_msg":""}', '{"return_code":"0"}'):
        with pytest.raises(UpstreamPayloadError):
            protocol.open_answer(
                body(content_text, signed(content_text)), BANK_KEY.public_key(), "ccb"
            )


def test_signature_checks_refuse_garbage_without_raising() -> None:
    good = signed("x")
    assert signing.verify(BANK_KEY.public_key(), b"x", good)
    assert not signing.verify(BANK_KEY.public_key(), b"y", good)
    for junk in ("", "====", base64.b64encode(b"short").decode(), None, 5):
        assert not signing.verify(BANK_KEY.public_key(), b"x", junk)


def write_pem(path: Path, key: rsa.RSAPrivateKey, *, public: bool = False) -> str:
    if public:
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(pem)
    return str(path)


def test_keys_load_from_pem_files_or_fail_as_key_errors(tmp_path: Path) -> None:
    private = write_pem(tmp_path / "app-private.pem", APP_KEY)
    public = write_pem(tmp_path / "bank-public.pem", BANK_KEY, public=True)
    keys = signing.load_keys(
        {"app_id": "ihub", "app_private_key": private, "bank_public_key": public}
    )
    assert keys.app_id == "ihub"
    assert keys.bank_public.public_numbers() == BANK_KEY.public_key().public_numbers()
    (tmp_path / "garbage.pem").write_text("-----BEGIN NOTHING-----\n")
    broken = [
        {"app_private_key": private, "bank_public_key": public},
        {"app_id": "ihub", "app_private_key": "", "bank_public_key": public},
        {
            "app_id": "ihub",
            "app_private_key": str(tmp_path / "absent.pem"),
            "bank_public_key": public,
        },
        {"app_id": "ihub", "app_private_key": public, "bank_public_key": public},
        {"app_id": "ihub", "app_private_key": private, "bank_public_key": private},
        {
            "app_id": "ihub",
            "app_private_key": str(tmp_path / "garbage.pem"),
            "bank_public_key": public,
        },
    ]
    for credentials in broken:
        with pytest.raises(signing.KeyFileError):
            signing.load_keys(credentials)


# -- the code table -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "booking", "kind", "domain_code"),
    [
        (400011, False, UpstreamRejected, "bad_parameters"),
        (400011, True, Refused, "INVALID_BOOKING"),
        (400017, False, UpstreamRejected, "bad_signature"),
        (400017, True, UpstreamRejected, "bad_signature"),
        (400021, True, Refused, "SLOT_FULL"),
        (400022, False, Refused, "CANNOT_CANCEL"),
        (400023, True, Refused, "ITEM_NOT_HANDLED"),
        (400024, False, Refused, "NOT_FOUND"),
        (500031, False, UpstreamUnavailable, None),
        (500032, True, UpstreamUnavailable, None),
        (5205, False, UpstreamUnavailable, None),
        (999999, False, UpstreamRejected, "999999"),
    ],
)
def test_every_return_code_has_one_meaning(
    code: int, booking: bool, kind: type[Exception], domain_code: str | None
) -> None:
    error = protocol.failure("ccb", code, "zw.yy.create", booking=booking)
    assert type(error) is kind
    assert error.department == "ccb"
    assert getattr(error, "code", None) == domain_code
    if isinstance(error, Refused):
        assert error.message in {m for _, m in protocol.REFUSALS.values()} | {
            protocol.INVALID_BOOKING[1]
        }


def test_only_a_refused_signature_or_a_busy_bank_counts_against_health() -> None:
    counted = [
        c
        for c in (0, 400011, 400017, 400021, 400024, 500031, 500032, 5205)
        if protocol.counts_against_health(c)
    ]
    assert counted == [400017, 500031, 500032, 5205]


def test_batches_keep_the_first_of_each_key_and_hold_at_most_20() -> None:
    keys = protocol.distinct(["b", "a", "b", "", *[f"k{n}" for n in range(25)]])
    assert keys[:3] == ["b", "a", "k0"] and len(keys) == 27
    assert [len(chunk) for chunk in protocol.chunks(keys)] == [20, 7]
    assert protocol.checked_msg_id("m" * 40) == "m" * 40
    for bad in ("", "m" * 41):
        with pytest.raises(ValueError):
            protocol.checked_msg_id(bad)


# -- ICBC ---------------------------------------------------------------------------------


def test_icbc_branches_items_and_queues() -> None:
    [branch] = icbc.branches(
        [ICBC_BRANCH, {**ICBC_BRANCH, "branch_no": "4000199", "gov_window": False}]
    )
    assert (branch.bank, branch.id, branch.name, branch.hours) == (
        Bank.ICBC,
        "4000101",
        "工商银行深圳东门支行",
        "09:00-17:00",
    )
    assert (branch.district, branch.longitude, branch.latitude) == ("罗湖区", 114.123456, 22.551234)
    assert branch.item_codes == ("GJJ-0003", "SB-0001", "SC-0102")
    [item] = icbc.items(
        [
            {
                "item_code": "SB-0001",
                "item_name": "社会保险参保登记",
                "department": "深圳市社会保险基金管理局",
                "materials": ["居民身份证", "户口簿"],
                "assisted": True,
            }
        ]
    )
    assert (item.code, item.name, item.materials) == (
        "SB-0001",
        "社会保险参保登记",
        ("居民身份证", "户口簿"),
    )
    queues = icbc.queues(
        {
            "queues": [
                {
                    "branch_no": "4000103",
                    "waiting": 7,
                    "est_wait_min": 28,
                    "updated_at": "2026-11-27 10:31:00",
                },
                {
                    "branch_no": "4000101",
                    "waiting": 0,
                    "est_wait_min": 0,
                    "updated_at": "2026-11-27 10:31:00",
                },
            ]
        }
    )
    assert sorted(queues) == ["4000101", "4000103"]
    assert (queues["4000103"].waiting, queues["4000103"].estimated_wait_minutes) == (7, 28)
    assert queues["4000103"].updated_at == datetime(2026, 11, 27, 10, 31, tzinfo=protocol.SHANGHAI)
    assert queues["4000103"].bank is Bank.ICBC


def test_icbc_appointments_are_keyed_by_number() -> None:
    rows = [
        {
            "appointment_no": f"ICGA0000000{n}",
            "branch_no": "4000101",
            "item_code": "SB-0001",
            "date": "2026-12-01",
            "slot": "10:00-10:30",
            "status": status,
            "applicant_ref": "x",
        }
        for n, status in enumerate(("BOOKED", "SERVED", "CANCELLED", "NO_SHOW"), start=1)
    ]
    found = icbc.appointments({"appointments": list(reversed(rows))})
    assert [found[f"ICGA0000000{n}"].status for n in range(1, 5)] == list(AppointmentStatus)
    assert found["ICGA00000001"].date == date(2026, 12, 1)
    with pytest.raises(UpstreamPayloadError):
        icbc.appointment({**rows[0], "status": "LOST"})
    with pytest.raises(UpstreamPayloadError):
        icbc.appointment({k: v for k, v in rows[0].items() if k != "slot"})
    assert icbc.create_biz(BOOKING) == {
        "branch_no": "44200001",
        "item_code": "GJJ-0003",
        "date": "2026-12-08",
        "slot": "15:00-15:30",
        "applicant_ref": "ref-1",
        "mobile": "13900002222",
    }
    icbc.cancelled({"appointment_no": "ICGA1", "status": "CANCELLED"}, "ICGA1")
    with pytest.raises(UpstreamPayloadError):
        icbc.cancelled({"appointment_no": "ICGA2", "status": "CANCELLED"}, "ICGA1")


@pytest.mark.parametrize(
    "change",
    [
        {"longitude": "114.1"},
        {"gov_items": ["SB-0001", 7]},
        {"branch_name": None},
        {"gov_window": "Y"},
    ],
)
def test_icbc_branch_breaking_the_contract_is_a_payload_error(change: Mapping[str, Any]) -> None:
    with pytest.raises(UpstreamPayloadError):
        icbc.branches([{**ICBC_BRANCH, **change}])


# -- CCB ----------------------------------------------------------------------------------


def test_ccb_outlets_without_a_government_window_are_left_out() -> None:
    found = ccb.branches([CCB_WD, CCB_PLAIN])
    assert [b.id for b in found] == ["44200001"]
    [branch] = found
    assert (branch.bank, branch.name, branch.address, branch.hours) == (
        Bank.CCB,
        "建设银行深圳罗湖支行",
        "深圳市罗湖区深南东路4003号",
        "09:00-17:00",
    )
    assert (branch.longitude, branch.latitude, branch.item_codes) == (
        114.15,
        22.56,
        ("GJJ-0003", "SB-0001", "SC-0102"),
    )
    with pytest.raises(UpstreamPayloadError):
        ccb.branches([{k: v for k, v in CCB_WD.items() if k != "zwzc"}])


def test_ccb_queue_item_and_appointment_map_onto_the_shared_model() -> None:
    queue = ccb.queue({"wd_id": "44200002", "ddrs": 5, "yjsc": 20, "gxsj": "2026-11-27 09:05:00"})
    assert (queue.bank, queue.branch_id, queue.waiting, queue.estimated_wait_minutes) == (
        Bank.CCB,
        "44200002",
        5,
        20,
    )
    assert queue.updated_at.isoformat() == "2026-11-27T09:05:00+08:00"
    with pytest.raises(UpstreamPayloadError):
        ccb.queue({"wd_id": "44200002", "ddrs": 5, "yjsc": 20, "gxsj": "2026-11-27T09:05:00Z"})
    item = ccb.item(
        {
            "sx_bm": "GJJ-0003",
            "sx_mc": "住房公积金提取",
            "bm": "深圳市住房公积金管理中心",
            "cl": ["居民身份证"],
        }
    )
    assert (item.code, item.name, item.department, item.materials) == (
        "GJJ-0003",
        "住房公积金提取",
        "深圳市住房公积金管理中心",
        ("居民身份证",),
    )
    statuses = {}
    for zt in ("YYY", "YBL", "YQX", "SY"):
        found = ccb.appointment(
            {
                "yy_bh": "JHYY00000001",
                "wd_id": "44200001",
                "sx_bm": "SB-0001",
                "rq": "2026-11-28",
                "sd": "10:00-10:30",
                "zt": zt,
                "sqr": "ref",
            }
        )
        statuses[zt] = found.status
        assert (found.bank, found.branch_id, found.item_code, found.date, found.slot) == (
            Bank.CCB,
            "44200001",
            "SB-0001",
            date(2026, 11, 28),
            "10:00-10:30",
        )
    assert statuses == {
        "YYY": AppointmentStatus.BOOKED,
        "YBL": AppointmentStatus.SERVED,
        "YQX": AppointmentStatus.CANCELLED,
        "SY": AppointmentStatus.NO_SHOW,
    }
    with pytest.raises(UpstreamPayloadError):
        ccb.appointment(
            {
                "yy_bh": "J",
                "wd_id": "1",
                "sx_bm": "S",
                "rq": "2026-11-28",
                "sd": "x",
                "zt": "BOOKED",
            }
        )


def test_ccb_booking_is_sent_in_pinyin_and_answered_with_number_and_status() -> None:
    assert ccb.create_biz(BOOKING) == {
        "wd_id": "44200001",
        "sx_bm": "GJJ-0003",
        "rq": "2026-12-08",
        "sd": "15:00-15:30",
        "sqr": "ref-1",
        "sj": "13900002222",
    }
    made = ccb.created({"yy_bh": "JHYY00000042", "zt": "YYY"}, BOOKING)
    assert (made.number, made.status, made.branch_id, made.date, made.slot) == (
        "JHYY00000042",
        AppointmentStatus.BOOKED,
        "44200001",
        date(2026, 12, 8),
        "15:00-15:30",
    )
    ccb.cancelled({"yy_bh": "JHYY1", "zt": "YQX"}, "JHYY1")
    with pytest.raises(UpstreamPayloadError):
        ccb.cancelled({"yy_bh": "JHYY1", "zt": "YYY"}, "JHYY1")


# -- the per-branch queue cache ------------------------------------------------------------


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Upstream:
    """A batch fetch that records what it was asked and knows keys starting with ``k``."""

    calls: list[list[str]]
    fail: bool = False

    async def fetch(self, keys: Sequence[str]) -> dict[str, str]:
        self.calls.append(list(keys))
        await asyncio.sleep(0)  # stay in flight while the others arrive
        if self.fail:
            raise UpstreamUnavailable("icbc", "down")
        return {key: key.upper() for key in keys if key.startswith("k")}


async def test_keyed_cache_fetches_misses_together_once_and_keeps_them_for_the_ttl() -> None:
    clock = FakeClock()
    cache: KeyedCache[str] = KeyedCache(maxsize=100, ttl_s=30, clock=clock)
    upstream = Upstream([])
    # when two callers ask at once for overlapping keys
    first, second = await asyncio.gather(
        cache.get_many(["k1", "k2", "x"], upstream.fetch),
        cache.get_many(["k2", "k3"], upstream.fetch),
    )
    # then the overlap was fetched once, unknown keys are absent
    assert first == {"k1": "K1", "k2": "K2"} and second == {"k2": "K2", "k3": "K3"}
    assert upstream.calls == [["k1", "k2", "x"], ["k3"]]
    # within the TTL only the unknown key is asked again; after it, everything
    clock.now += 29
    assert await cache.get_many(["k1", "k3", "x"], upstream.fetch) == {"k1": "K1", "k3": "K3"}
    assert upstream.calls[-1] == ["x"]
    clock.now += 2
    await cache.get_many(["k1", "k2"], upstream.fetch)
    assert upstream.calls[-1] == ["k1", "k2"]


async def test_keyed_cache_does_not_keep_failures() -> None:
    cache: KeyedCache[str] = KeyedCache(maxsize=100, ttl_s=30, clock=FakeClock())
    upstream = Upstream([], fail=True)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await cache.get_many(["k1"], upstream.fetch)
    assert len(upstream.calls) == 2
    upstream.fail = False
    assert await cache.get_many(["k1"], upstream.fetch) == {"k1": "K1"}
