"""The item-catalogue mock over real HTTP on loopback: the seed's counts and the quirks."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from mocks.bank.catalogue import build_items as bank_items
from mocks.bank.data import split_items
from mocks.catalogue import API_KEY
from mocks.catalogue.items import build_items
from mocks.common.launcher import MockConfig, MockSpec, start_mocks

SPEC = MockSpec("catalogue", 0, "mocks.catalogue:create_app")
SEED = MockConfig().seed
Json = Any


@dataclass
class Catalogue:
    session: aiohttp.ClientSession
    url: str

    async def get(self, path: str, key: str | None = API_KEY) -> tuple[int, Json]:
        headers = {"X-Api-Key": key} if key else {}
        async with self.session.get(self.url + path, headers=headers) as response:
            return response.status, await response.json()

    async def ok(self, path: str) -> Json:
        status, body = await self.get(path)
        assert status == 200, body
        return body

    async def all_items(self) -> list[Json]:
        found: list[Json] = []
        page = 1
        while True:
            body = await self.ok(f"/api/items?page={page}&size=100")
            found.extend(body["items"])
            if len(body["items"]) < 100:
                return found
            page += 1

    async def stats(self) -> Json:
        async with self.session.get(self.url + "/__admin/stats") as response:
            return await response.json()


@pytest.fixture
async def catalogue() -> AsyncIterator[Catalogue]:
    running = await start_mocks([SPEC], ports={"catalogue": 0})
    async with aiohttp.ClientSession() as session:
        yield Catalogue(session, running.urls["catalogue"])
    await running.stop()


@pytest.fixture
async def items(catalogue: Catalogue) -> list[Json]:
    return await catalogue.all_items()


def materials_of(item: Json) -> list[Json]:
    raw = item["materials"]
    return json.loads(raw) if isinstance(raw, str) else list(raw)


async def test_every_call_needs_the_api_key(catalogue: Catalogue) -> None:
    for key in (None, "wrong"):
        status, body = await catalogue.get("/api/items", key=key)
        assert status == 401
        assert body["error"]["code"] == "unauthorized"


async def test_the_seed_counts_hold_exactly(items: list[Json]) -> None:
    assert len(items) == 1201
    assert len({i["impl_code"] for i in items}) == 1201
    with_stage = [i for i in items if i["life_stages"]]
    assert len(with_stage) == 116
    stages = {stage for i in with_stage for stage in i["life_stages"]}
    assert stages == {
        "birth",
        "school",
        "work",
        "housing",
        "marriage",
        "childbirth",
        "retirement",
        "funeral",
        "whole_life",
    }
    assert sum(1 for i in items if i["instant"] is True) == 111
    assert sum(1 for i in items if "bank" in i["channels"]) == 340
    local = [i for i in items if {"street", "community"} & set(i["channels"])]
    assert len(local) >= 200
    departments = {i["dept_code"]: i["dept_name"] for i in items}
    assert len(departments) >= 12
    for name in (
        "公安",
        "民政",
        "人力资源",
        "卫生健康",
        "教育",
        "住房和建设",
        "市场监督",
        "税务",
        "残疾人",
        "医疗保障",
        "公积金",
    ):
        assert any(name in dept for dept in departments.values()), name


async def test_bank_window_items_are_the_codes_the_banks_list(items: list[Json]) -> None:
    at_banks = {i["local_code"]: i for i in items if "bank" in i["channels"]}
    banks = {gov.code: gov for gov in bank_items(SEED)}
    # each bank lists a share; together they list all 340, and those are the catalogue's
    shares = {gov.code for share in split_items(SEED).values() for gov in share}
    assert set(at_banks) == set(banks) == shares
    for code, gov in banks.items():
        assert at_banks[code]["name"] == gov.name
        assert [m["name"] for m in materials_of(at_banks[code])] == list(gov.materials)
    assert at_banks["GJJ-0003"]["name"] == "住房公积金提取"
    others = {i["local_code"] for i in items} - set(banks)
    assert len(others) == 1201 - 340


async def test_searchable_words_exist(items: list[Json]) -> None:
    names = [i["name"] for i in items]
    assert "住房公积金提取" in names
    assert sum("社会保险" in n for n in names) >= 10
    assert any(i["local_code"].startswith("GJJ-") for i in items)


async def test_promised_items_of_the_article_are_instant(items: list[Json]) -> None:
    by_name = {i["name"]: i for i in items}
    for name in ("高龄津贴申领", "应届毕业生落户"):
        assert by_name[name]["instant"] is True
        assert by_name[name]["online_level"] == 4


async def test_quirks_materials_string_and_compact_times(items: list[Json]) -> None:
    as_string = [i for i in items if isinstance(i["materials"], str)]
    assert 100 <= len(as_string) <= 140  # about a tenth
    for item in items:
        datetime.strptime(item["updated_at"], "%Y%m%d%H%M%S")
        for material in materials_of(item):
            assert material["type"] in {"original", "copy", "e-license"}
            assert {"name", "count", "required", "from_dept"} <= set(material)
        assert isinstance(item["fee"], int)
    assert any(i["fee"] > 0 for i in items)


async def test_pages_are_one_based_and_the_last_is_short(catalogue: Catalogue) -> None:
    first = await catalogue.ok("/api/items?page=1&size=100")
    assert first["total"] == 1201 and len(first["items"]) == 100
    last = await catalogue.ok(f"/api/items?page={math.ceil(1201 / 100)}&size=100")
    assert len(last["items"]) == 1
    beyond = await catalogue.ok("/api/items?page=14&size=100")
    assert beyond["items"] == []
    for bad in ("page=0", "size=101", "size=x"):
        status, body = await catalogue.get(f"/api/items?{bad}")
        assert status == 400 and body["error"]["code"] == "bad_request"


async def test_item_by_code_and_batch(catalogue: Catalogue, items: list[Json]) -> None:
    code = items[2]["impl_code"]
    assert await catalogue.ok(f"/api/items/{code}") == items[2]
    status, _ = await catalogue.get("/api/items/NOPE")
    assert status == 404
    codes = [i["impl_code"] for i in items[:50]]
    found = await catalogue.ok("/api/items:batch?codes=" + ",".join([*codes[:49], "NOPE"]))
    assert [i["impl_code"] for i in found["items"]] == codes[:49]
    status, _ = await catalogue.get("/api/items:batch?codes=" + ",".join([*codes, "X"]))
    assert status == 400
    assert (await catalogue.stats())["batch_sizes"]["GET /api/items:batch"] == [50]


async def test_change_feed_reports_an_admin_change(catalogue: Catalogue, items: list[Json]) -> None:
    latest = max(i["updated_at"] for i in items)
    assert (await catalogue.ok(f"/api/changes?since={latest}"))["items"] != []
    now = (await catalogue.ok(f"/api/changes?since={latest}"))["until"]
    assert (await catalogue.ok(f"/api/changes?since={now}"))["items"] == []
    code = items[5]["impl_code"]
    async with catalogue.session.post(
        f"{catalogue.url}/__admin/items/{code}", json={"promise_days": 0, "instant": True}
    ) as response:
        assert response.status == 200
    for refused in ({"impl_code": "X"}, {"no_such_field": 1}, [1]):
        async with catalogue.session.post(
            f"{catalogue.url}/__admin/items/{code}", json=refused
        ) as response:
            assert response.status == 400
    changed = await catalogue.ok(f"/api/changes?since={now}")
    assert [i["impl_code"] for i in changed["items"]] == [code]
    assert changed["items"][0]["instant"] is True
    status, _ = await catalogue.get("/api/changes?since=2026-01-01")
    assert status == 400


async def test_scenarios_merge_materials_and_form(catalogue: Catalogue, items: list[Json]) -> None:
    listed = await catalogue.ok("/api/scenarios")
    assert len(listed) >= 40
    names = {s["name"] for s in listed}
    assert {"开饭店", "开办培训机构", "开办幼儿园", "新生儿出生", "退休"} <= names
    by_code = {i["impl_code"]: i for i in items}
    for summary in listed:
        guide = await catalogue.ok(f"/api/scenarios/{summary['id']}")
        steps = [step["impl_code"] for step in guide["items"]]
        assert [step["order"] for step in guide["items"]] == list(range(1, len(steps) + 1))
        material_names = [m["name"] for m in guide["materials"]]
        assert len(material_names) == len(set(material_names))  # de-duplicated
        wanted = {m["name"] for code in steps for m in materials_of(by_code[code])}
        assert set(material_names) == wanted
        for material in guide["materials"]:
            for code in material["item_codes"]:
                assert material["name"] in {m["name"] for m in materials_of(by_code[code])}
        keys = [field["key"] for field in guide["form"]]
        assert len(keys) == len(set(keys)) and "id_number" in keys
        assert all(set(f["item_codes"]) <= set(steps) for f in guide["form"])
    status, _ = await catalogue.get("/api/scenarios/SC999")
    assert status == 404


async def test_public_services_and_disclosures(catalogue: Catalogue) -> None:
    services = await catalogue.ok("/api/public-services")
    assert len(services) == 43
    assert len({s["id"] for s in services}) == 43
    assert all(s["link"].startswith("https://") for s in services)
    entries = await catalogue.ok("/api/disclosures")
    categories = {e["category"] for e in entries}
    assert len(categories) == 11
    decisions = await catalogue.ok("/api/disclosures?category=decision")
    assert decisions and {e["category"] for e in decisions} == {"decision"}
    assert len({e["url"] for e in entries}) == len(entries)  # stable, one per entry
    status, _ = await catalogue.get("/api/disclosures?category=nope")
    assert status == 400


@pytest.mark.parametrize("seed", [1, 7, 20261127, 424242])
def test_the_counts_hold_for_any_seed(seed: int) -> None:
    items = build_items(seed)
    assert len(items) == 1201
    assert sum(1 for i in items if i["life_stages"]) == 116
    assert sum(1 for i in items if i["instant"]) == 111
    assert sum(1 for i in items if "bank" in i["channels"]) == 340
    assert sum(1 for i in items if {"street", "community"} & set(i["channels"])) == 214
    assert {i["local_code"] for i in items if "bank" in i["channels"]} == {
        gov.code for gov in bank_items(seed)
    }
