"""Catalogue mapping on payload samples: both materials shapes, compact times, strictness."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from connectors.catalogue import mapping
from connectors.catalogue.models import Channel, ItemStatus, MaterialKind
from connectors.errors import UpstreamPayloadError

BEIJING = timezone(timedelta(hours=8))
MATERIALS = [
    {
        "name": "居民身份证",
        "type": "e-license",
        "count": 1,
        "required": True,
        "from_dept": "深圳市公安局罗湖分局",
    },
    {"name": "购房合同", "type": "copy", "count": 2, "required": False, "from_dept": None},
]


def sample(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "basic_code": "020200003000",
        "impl_code": "02020000300044030302",
        "local_code": "GJJ-0003",
        "name": "住房公积金提取",
        "dept_code": "440303-GJJ",
        "dept_name": "深圳市住房公积金管理中心",
        "type": "行政给付",
        "legal_basis": "《住房公积金管理条例》",
        "promise_days": 0,
        "legal_days": 5,
        "visits": 0,
        "online_level": 4,
        "instant": True,
        "channels": ["hall", "bank"],
        "fee": 0,
        "materials": MATERIALS,
        "conditions": "",
        "life_stages": ["housing"],
        "groups": [],
        "updated_at": "20260927113800",
        "something_new": {"ignored": True},
    }
    item.update(changes)
    return item


def test_an_item_with_materials_as_an_array() -> None:
    item = mapping.item(sample())
    assert item.local_code == "GJJ-0003"
    assert item.channels == (Channel.HALL, Channel.BANK)
    assert item.materials[0].kind is MaterialKind.E_LICENSE
    assert item.materials[0].from_dept == "深圳市公安局罗湖分局"
    assert item.materials[1].count == 2 and item.materials[1].required is False
    assert item.life_stages == ("housing",)


def test_materials_as_a_json_string_map_the_same() -> None:
    as_string = sample(materials=json.dumps(MATERIALS, ensure_ascii=False))
    assert mapping.item(as_string) == mapping.item(sample())


def test_updated_at_is_beijing_wall_time() -> None:
    item = mapping.item(sample())
    assert item.updated_at == datetime(2026, 9, 27, 11, 38, 0, tzinfo=BEIJING)
    assert mapping.format_time(item.updated_at.astimezone(UTC)) == "20260927113800"


@pytest.mark.parametrize("bad", ["2026-09-27 11:38:00", "202609271138", "20261327113800", ""])
def test_a_malformed_time_is_a_payload_error(bad: str) -> None:
    with pytest.raises(UpstreamPayloadError, match="updated_at"):
        mapping.item(sample(updated_at=bad))


def test_fee_is_fen() -> None:
    assert mapping.item(sample(fee=2000)).fee_fen == 2000
    with pytest.raises(UpstreamPayloadError):
        mapping.item(sample(fee="20.00"))


@pytest.mark.parametrize(
    "field", ["impl_code", "name", "dept_code", "updated_at", "materials", "instant", "local_code"]
)
def test_a_missing_required_field_is_a_payload_error(field: str) -> None:
    payload = sample()
    del payload[field]
    with pytest.raises(UpstreamPayloadError, match=field):
        mapping.item(payload)


@pytest.mark.parametrize(
    "materials",
    [
        "not json [",
        json.dumps({"name": "x"}),
        [{"name": "x", "type": "scan", "required": True}],
        [{"type": "copy", "required": True}],
    ],
)
def test_broken_materials_are_payload_errors(materials: object) -> None:
    with pytest.raises(UpstreamPayloadError, match="materials"):
        mapping.item(sample(materials=materials))


def test_unknown_channel_is_a_payload_error() -> None:
    with pytest.raises(UpstreamPayloadError, match="channel"):
        mapping.item(sample(channels=["hall", "post_office"]))


def test_page_and_change_feed() -> None:
    page = mapping.item_page({"total": 1201, "page": 13, "size": 100, "items": [sample()]})
    assert (page.total, page.page, page.size, len(page.items)) == (1201, 13, 100, 1)
    feed = mapping.changes(
        {"since": "20261201000000", "until": "20261202140000", "items": [sample()]}
    )
    assert feed.until == datetime(2026, 12, 2, 14, 0, tzinfo=BEIJING)
    with pytest.raises(UpstreamPayloadError, match="until"):
        mapping.changes({"since": "20261201000000", "items": []})


def test_scenario_steps_are_ordered_and_merges_keep_item_codes() -> None:
    guide = mapping.scenario(
        {
            "id": "SC001",
            "name": "开饭店",
            "items": [
                {"order": 2, "impl_code": "B", "name": "食品经营许可", "dept_name": "市监"},
                {"order": 1, "impl_code": "A", "name": "个体工商户设立登记", "dept_name": "市监"},
            ],
            "materials": [
                {
                    "name": "营业执照",
                    "type": "e-license",
                    "from_dept": "市监",
                    "item_codes": ["A", "B"],
                }
            ],
            "form": [{"key": "id_number", "label": "身份证号码", "item_codes": ["A", "B"]}],
        }
    )
    assert [step.impl_code for step in guide.steps] == ["A", "B"]
    assert guide.materials[0].item_codes == ("A", "B")
    assert guide.form[0].key == "id_number"


def test_disclosures_and_public_services() -> None:
    entries = mapping.disclosures(
        [
            {
                "id": "GK01001",
                "category": "decision",
                "category_name": "决策公开",
                "title": "t",
                "url": "https://www.szlh.gov.cn/xxgk/decision/GK01001.html",
                "published_at": "20260204090000",
            }
        ]
    )
    assert entries[0].published_at == datetime(2026, 2, 4, 9, 0, tzinfo=BEIJING)
    services = mapping.public_services(
        [
            {
                "id": "PS001",
                "name": "图书馆座位预约",
                "category": "culture_sports",
                "link": "https://www.szlh.gov.cn/bmfw/culture_sports/PS001",
            }
        ]
    )
    assert services[0].category_name == ""
    with pytest.raises(UpstreamPayloadError, match="link"):
        mapping.public_services([{"id": "PS001", "name": "x", "category": "c"}])


def test_status_is_mapped_and_missing_means_active() -> None:
    assert mapping.item(sample()).status is ItemStatus.ACTIVE, "older exports carry no status"
    assert mapping.item(sample(status="active")).status is ItemStatus.ACTIVE
    assert mapping.item(sample(status="withdrawn")).status is ItemStatus.WITHDRAWN
    with pytest.raises(UpstreamPayloadError):
        mapping.item(sample(status="retired"))
