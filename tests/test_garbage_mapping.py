"""Pure mapping of garbage-sorting CMS payloads: samples in, records out, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.errors import UpstreamPayloadError
from connectors.garbage import mapping
from connectors.garbage.html import sanitize_article_html
from connectors.garbage.models import BinCategory

BATTERY = {
    "name": "电池",
    "aliases": ["干电池", "废电池"],
    "category": "HAZARDOUS",
    "tip": "请投放至有害垃圾收集容器",
    "special_stream": None,
    "extra_field_from_a_newer_cms": 1,
}
HOSTILE_HTML = """
<p onclick="steal()">正文<script>alert(document.cookie)</script></p>
<img src=x onerror="alert(1)"><a href="javascript:alert(1)">a</a>
<a href=" JaVaScRiPt:alert(2)">b</a><a href="data:text/html,<script>alert(3)</script>">c</a>
<iframe src="https://evil.example/"></iframe><svg onload="alert(4)"><circle/></svg>
<div style="width:expression(alert(5))">d</div><a href="https://www.szlh.gov.cn/">ok</a>
"""


def test_item_maps_fields_and_ignores_unknown_ones() -> None:
    item = mapping.item(BATTERY)
    assert item.name == "电池"
    assert item.aliases == ("干电池", "废电池")
    assert item.category is BinCategory.HAZARDOUS
    assert item.special_stream is None


@pytest.mark.parametrize(
    "broken",
    [
        {k: v for k, v in BATTERY.items() if k != "name"},
        {**BATTERY, "category": "PURPLE"},
        {**BATTERY, "name": 42},
        ["not", "an", "object"],
    ],
)
def test_item_with_missing_or_wrong_required_field_is_a_payload_error(broken: object) -> None:
    with pytest.raises(UpstreamPayloadError) as raised:
        mapping.item(broken)
    assert raised.value.department == "garbage"


def test_classification_prefers_an_exact_name_or_alias_match() -> None:
    # given
    candidates = mapping.items(
        [
            {**BATTERY, "name": "电池盒", "aliases": [], "category": "OTHER"},
            BATTERY,
        ]
    )
    # when
    by_alias = mapping.classification("废电池", candidates)
    by_prefix = mapping.classification("电", candidates)
    # then
    assert by_alias.match is not None and by_alias.match.name == "电池"
    assert [s.name for s in by_alias.suggestions] == ["电池盒"]
    assert by_prefix.match is None
    assert [s.name for s in by_prefix.suggestions] == ["电池盒", "电池"]


def test_classification_ignores_width_case_and_spaces() -> None:
    candidates = mapping.items([{**BATTERY, "name": "LED灯", "aliases": []}])
    assert mapping.classification("  ｌｅｄ灯 ", candidates).match is not None


def test_article_summary_keeps_the_offset_of_published_at() -> None:
    summary = mapping.article_summary(
        {"id": "A1", "title": "t", "summary": "s", "published_at": "2026-11-20T09:30:00+08:00"}
    )
    assert summary.published_at == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    assert summary.published_at.utcoffset() == timedelta(hours=8)


def test_article_without_offset_is_refused() -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.article_summary({"id": "A1", "title": "t", "published_at": "2026-11-20T09:30:00"})


def test_article_body_is_sanitised_by_the_allow_list() -> None:
    article = mapping.article(
        {
            "id": "A1",
            "title": "t",
            "published_at": "2026-11-20T09:30:00+08:00",
            "body_html": HOSTILE_HTML,
        }
    )
    body = article.body_html.lower()
    for forbidden in (
        "<script",
        "onerror",
        "onclick",
        "onload",
        "javascript:",
        "data:",
        "<iframe",
        "style=",
        "expression(",
    ):
        assert forbidden not in body
    assert "正文" in article.body_html
    assert 'href="https://www.szlh.gov.cn/"' in article.body_html


def test_sanitiser_keeps_benign_structure() -> None:
    html = '<h2>标题</h2><ul><li>一</li></ul><table><tr><td>格</td></tr></table><img src="https://a.example/x.jpg" alt="图">'
    cleaned = sanitize_article_html(html)
    for kept in ("<h2>", "<li>", "<td>", 'src="https://a.example/x.jpg"', 'alt="图"'):
        assert kept in cleaned


def test_collection_point_parses_opening_windows() -> None:
    point = mapping.collection_point(
        {
            "point_id": "CP1",
            "community_id": "C001",
            "name": "1栋",
            "address": "松园路1号",
            "lng": 114.12,
            "lat": 22.55,
            "open_hours": "07:00-09:00,19:00-21:00",
            "accepts": ["KITCHEN", "OTHER"],
        }
    )
    assert [(w.start, w.end) for w in point.open_hours] == [("07:00", "09:00"), ("19:00", "21:00")]
    assert point.accepts == (BinCategory.KITCHEN, BinCategory.OTHER)


def test_collection_point_with_unreadable_hours_is_a_payload_error() -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.opening_windows("早上七点到九点")


def test_lists_must_be_arrays() -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.items({"items": []})
