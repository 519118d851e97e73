"""The garbage-sorting mock over real HTTP on loopback: dictionary, feeds, ETags, admin."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import aiohttp
import pytest

from mocks.common.launcher import MockConfig, MockSpec, start_mocks
from mocks.common.people import all_community_ids
from mocks.garbage import content

SPEC = MockSpec("garbage", 0, "mocks.garbage:create_app")
HOSTILE = re.compile(r"<script|onerror=|javascript:", re.IGNORECASE)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    running = await start_mocks([SPEC], ports={"garbage": 0})
    try:
        async with aiohttp.ClientSession(base_url=running.urls["garbage"]) as session:
            yield session
    finally:
        await running.stop()


async def get_json(http: aiohttp.ClientSession, path: str, status: int = 200) -> object:
    async with http.get(path) as response:
        assert response.status == status, await response.text()
        return await response.json()


@pytest.mark.parametrize(
    ("name", "category", "special_stream"),
    [
        ("电池", "HAZARDOUS", None),
        ("纽扣电池", "HAZARDOUS", None),
        ("充电电池", "HAZARDOUS", None),
        ("过期药品", "HAZARDOUS", None),
        ("药膏", "HAZARDOUS", None),
        ("灯管", "HAZARDOUS", None),
        ("水银温度计", "HAZARDOUS", None),
        ("油漆", "HAZARDOUS", None),
        ("农药", "HAZARDOUS", None),
        ("废电池", "HAZARDOUS", None),
        ("碎灯管", "OTHER", None),
        ("碎玻璃", "OTHER", None),
        ("塑料袋", "OTHER", None),
        ("保鲜膜", "OTHER", None),
        ("污损纸张", "OTHER", None),
        ("陶瓷", "OTHER", None),
        ("花盆", "OTHER", None),
        ("烟头", "OTHER", None),
        ("牙签", "OTHER", None),
        ("一次性筷子", "OTHER", None),
        ("破袜子", "OTHER", None),
        ("剩饭剩菜", "KITCHEN", None),
        ("骨头", "KITCHEN", None),
        ("果皮", "KITCHEN", None),
        ("茶叶渣", "KITCHEN", None),
        ("蛋壳", "KITCHEN", None),
        ("易拉罐", "RECYCLABLE", None),
        ("玻璃瓶", "RECYCLABLE", None),
        ("纸箱", "RECYCLABLE", None),
        ("书本", "RECYCLABLE", None),
        ("旧衣服", "RECYCLABLE", None),
        ("铁锅", "RECYCLABLE", None),
        ("塑料玩具", "RECYCLABLE", None),
        ("充电宝", "RECYCLABLE", None),
        ("旧家具", "BULKY", "bulky-pickup"),
        ("年花", "GREEN", "spring-festival-plants"),
        ("年桔", "GREEN", "spring-festival-plants"),
    ],
)
async def test_dictionary_follows_shenzhen_rules(
    http: aiohttp.ClientSession, name: str, category: str, special_stream: str | None
) -> None:
    item = await get_json(http, f"/api/items/{name}")
    assert isinstance(item, dict)
    assert (item["category"], item["special_stream"]) == (category, special_stream)
    assert item["tip"]


async def test_tips_say_how_to_throw_away(http: aiohttp.ClientSession) -> None:
    glass = await get_json(http, "/api/items/碎玻璃")
    furniture = await get_json(http, "/api/items/旧家具")
    assert isinstance(glass, dict) and isinstance(furniture, dict)
    assert "包" in glass["tip"]
    assert "物业" in furniture["tip"]
    for item in content.load_json("dictionary.json"):
        if item["category"] == "KITCHEN":
            assert "19:00–21:00" in item["tip"] and "沥干" in item["tip"] and "袋" in item["tip"]


def test_dictionary_is_large_and_unambiguous() -> None:
    items = content.load_json("dictionary.json")
    keys = [key for item in items for key in (item["name"], *item["aliases"])]
    assert len(items) >= 400
    assert len({item["name"] for item in items}) == len(items)
    assert [key for key, n in Counter(keys).items() if n > 1] == []
    assert {item["category"] for item in items} == set(content.CATEGORY_ORDER)
    assert all(item["tip"] for item in items)


async def test_categories_cover_the_six_bins(http: aiohttp.ClientSession) -> None:
    categories = await get_json(http, "/api/categories")
    assert isinstance(categories, list)
    colours = {c["code"]: (c["name_zh"], c["bin_color"]) for c in categories}
    assert colours["RECYCLABLE"] == ("可回收物", "blue")
    assert colours["HAZARDOUS"] == ("有害垃圾", "red")
    assert colours["KITCHEN"] == ("厨余垃圾", "green")
    assert colours["OTHER"] == ("其他垃圾", "grey")
    assert set(colours) == {"RECYCLABLE", "HAZARDOUS", "KITCHEN", "OTHER", "BULKY", "GREEN"}


async def test_search_orders_exact_then_name_prefix_then_alias_prefix(
    http: aiohttp.ClientSession,
) -> None:
    # given: 书 is an alias of 书本, a prefix of 书包 and 书柜, and of the alias 书桌 (桌子)
    # when
    found = await get_json(http, "/api/items?q=%20书%20")
    # then
    assert isinstance(found, list)
    assert [item["name"] for item in found] == ["书本", "书包", "书柜", "桌子"]


async def test_search_limit_and_empty_query(http: aiohttp.ClientSession) -> None:
    three = await get_json(http, "/api/items?q=塑料&limit=3")
    first = await get_json(http, "/api/items")
    fifty = await get_json(http, "/api/items?q=&limit=50")
    assert isinstance(three, list) and isinstance(first, list) and isinstance(fifty, list)
    assert len(three) == 3
    names = sorted(item["name"] for item in content.load_json("dictionary.json"))
    assert [item["name"] for item in first] == names[:10]
    assert [item["name"] for item in fifty] == names[:50]


async def test_an_alias_finds_its_item(http: aiohttp.ClientSession) -> None:
    item = await get_json(http, "/api/items/%E7%A7%BB%E5%8A%A8%E7%94%B5%E6%BA%90")  # 移动电源
    assert isinstance(item, dict) and item["name"] == "充电宝"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/items/不是垃圾", 404, "not_found"),
        ("/api/articles/A9999", 404, "not_found"),
        ("/api/items?limit=51", 400, "bad_request"),
        ("/api/items?limit=ten", 400, "bad_request"),
        ("/api/articles?size=0", 400, "bad_request"),
        ("/api/articles?size=51", 400, "bad_request"),
        ("/api/articles?page=0", 400, "bad_request"),
        ("/api/events?from=27/11/2026", 400, "bad_request"),
    ],
)
async def test_errors_have_the_service_shape(
    http: aiohttp.ClientSession, path: str, status: int, code: str
) -> None:
    body = await get_json(http, path, status)
    assert isinstance(body, dict)
    assert body["error"]["code"] == code and body["error"]["message"]


@pytest.mark.parametrize(
    ("path", "max_age"),
    [
        ("/api/categories", 300),
        ("/api/items?q=纸", 60),
        ("/api/items/电池", 60),
        ("/api/articles?page=2", 60),
        ("/api/articles/A0003", 60),
        ("/api/collection-points?community_id=C001", 60),
        ("/api/events", 60),
    ],
)
async def test_etag_and_304(http: aiohttp.ClientSession, path: str, max_age: int) -> None:
    # given
    async with http.get(path) as first:
        etag, body = first.headers["ETag"], await first.read()
        assert first.headers["Cache-Control"] == f"public, max-age={max_age}"
        assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2
    # when / then
    for header in (etag, f'"stale", W/{etag}', "*"):
        async with http.get(path, headers={"If-None-Match": header}) as cached:
            assert cached.status == 304
            assert cached.headers["ETag"] == etag
            assert await cached.read() == b""
    async with http.get(path, headers={"If-None-Match": '"stale"'}) as fresh:
        assert fresh.status == 200 and await fresh.read() == body


async def test_another_query_has_another_tag(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/items?q=纸") as one, http.get("/api/items?q=电") as two:
        assert one.headers["ETag"] != two.headers["ETag"]
        assert "纸".encode() in await one.read()  # UTF-8, not \\u escapes


async def test_every_seventh_article_carries_hostile_markup(http: aiohttp.ClientSession) -> None:
    hostile = []
    for number in range(1, 61):
        article = await get_json(http, f"/api/articles/A{number:04d}")
        assert isinstance(article, dict)
        html = article["body_html"]
        assert "<p>" in html and "<table>" in html
        if HOSTILE.search(html):
            hostile.append(article["id"])
            assert "<script>" in html and 'onerror="alert(1)"' in html
            assert 'href="javascript:' in html and "JaVaScRiPt:" in html
            assert "<iframe" in html and "expression(" in html and "<svg onload" in html
    assert "A0001" in hostile and len(hostile) >= 8
    assert hostile == [f"A{n:04d}" for n in range(1, 61, 7)]


async def test_paging_and_tag_totals_agree(http: aiohttp.ClientSession) -> None:
    pages = [await get_json(http, f"/api/articles?page={p}&size=7") for p in range(1, 11)]
    ids = [a["id"] for page in pages if isinstance(page, dict) for a in page["items"]]
    stamps = [a["published_at"] for page in pages if isinstance(page, dict) for a in page["items"]]
    assert len(ids) == len(set(ids)) == 60
    assert ids[0] == "A0060" and stamps == sorted(stamps, reverse=True)
    assert all(s.endswith("+08:00") for s in stamps)
    for tag in content.TAGS:
        tagged = await get_json(http, f"/api/articles?tag={tag}&size=50")
        second = await get_json(http, f"/api/articles?tag={tag}&size=50&page=2")
        assert isinstance(tagged, dict) and isinstance(second, dict)
        assert len(tagged["items"]) + len(second["items"]) == tagged["total"]
        assert all(tag in a["tags"] and "body_html" not in a for a in tagged["items"])


async def test_two_collection_points_per_community(http: aiohttp.ClientSession) -> None:
    points = await get_json(http, "/api/collection-points")
    mine = await get_json(http, "/api/collection-points?community_id=C007")
    nowhere = await get_json(http, "/api/collection-points?community_id=C999")
    assert isinstance(points, list) and isinstance(mine, list)
    assert len(points) == 80
    assert Counter(p["community_id"] for p in points) == {c: 2 for c in all_community_ids()}
    assert [p["community_id"] for p in mine] == ["C007", "C007"] and nowhere == []
    for point in points:
        assert 114.10 <= point["lng"] <= 114.20 and 22.53 <= point["lat"] <= 22.60
        assert point["open_hours"] == "07:00-09:00,19:00-21:00"
        assert set(point["accepts"]) <= set(content.CATEGORY_ORDER)


async def test_events_filter_by_start(http: aiohttp.ClientSession) -> None:
    # given
    today = content.today_in_shanghai()
    everything = await get_json(http, "/api/events")
    assert isinstance(everything, list) and 35 <= len(everything) <= 45
    starts = [datetime.fromisoformat(e["starts_at"]) for e in everything]
    assert min(starts).date() >= today - timedelta(days=60)
    assert max(starts).date() <= today + timedelta(days=60)
    # when
    start, end = today, today + timedelta(days=30)
    window = await get_json(http, f"/api/events?from={start}&to={end}")
    precise = await get_json(http, f"/api/events?from={start}T00:00:00%2B08:00")
    # then
    assert isinstance(window, list) and isinstance(precise, list)
    expected = [e for e, s in zip(everything, starts, strict=True) if start <= s.date() <= end]
    assert window == expected and 8 <= len(window) <= 12
    assert precise == [e for e, s in zip(everything, starts, strict=True) if s.date() >= start]


async def test_admin_counts_by_route_pattern(http: aiohttp.ClientSession) -> None:
    # given
    async with http.post("/__admin/stats/reset"):
        pass
    # when
    await get_json(http, "/api/items/电池")
    await get_json(http, "/api/items/纸箱")
    await get_json(http, "/api/items/什么", 404)
    stats = await get_json(http, "/__admin/stats")
    # then
    assert isinstance(stats, dict)
    assert stats["requests"] == {"GET /api/items/{name}": 3} and stats["total"] == 3
    async with http.post("/__admin/stats/reset"):
        pass
    after = await get_json(http, "/__admin/stats")
    assert isinstance(after, dict) and after["total"] == 0


async def test_faults(http: aiohttp.ClientSession) -> None:
    async with http.post("/__admin/faults", json={"down": True}) as set_down:
        assert set_down.status == 200
    async with http.get("/api/categories") as down:
        assert down.status == 503
    await get_json(http, "/__admin/faults")  # the admin surface is never faulted

    async with http.post("/__admin/faults", json={"down": False, "garbage_body": True}):
        pass
    async with http.get("/api/categories") as garbled:
        assert garbled.status == 200
        with pytest.raises(ValueError):
            json.loads(await garbled.read())

    async with http.post("/__admin/faults", json={"garbage_body": False, "latency_ms": 60}):
        pass
    started = time.perf_counter()
    await get_json(http, "/api/items/电池")
    assert time.perf_counter() - started >= 0.06

    async with http.delete("/__admin/faults") as cleared:
        assert (await cleared.json())["latency_ms"] == 0
    assert isinstance(await get_json(http, "/api/categories"), list)


async def read(session: aiohttp.ClientSession, path: str) -> bytes:
    async with session.get(path) as response:
        return await response.read()


async def test_same_seed_same_bytes() -> None:
    paths = [
        "/api/categories",
        "/api/items?q=纸&limit=20",
        "/api/articles?size=50",
        "/api/articles/A0008",
        "/api/collection-points",
        "/api/events",
    ]
    bodies: list[list[bytes]] = []
    for seed in (7, 7, 8):
        running = await start_mocks([SPEC], config=MockConfig(seed=seed), ports={"garbage": 0})
        try:
            async with aiohttp.ClientSession(base_url=running.urls["garbage"]) as session:
                bodies.append([await read(session, path) for path in paths])
        finally:
            await running.stop()
    assert bodies[0] == bodies[1]
    assert bodies[0][4] != bodies[2][4] and bodies[0][2] != bodies[2][2]
