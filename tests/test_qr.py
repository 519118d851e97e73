"""QR codes of the catalogue's public pages, end to end: a hub on a known port in front of a
catalogue mock of this module's own (one item's name is edited to carry HTML), every image
decoded back with a real decoder (zxing-cpp), every page fetched at the URL the code carries.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from defusedxml import ElementTree
from PIL import Image

from hub.app import create_app
from hub.security.ratelimit import BucketPolicy
from hub.settings import DEV_DEPARTMENTS, Settings, SettingsError
from hub.web.pages import is_web_url
from mocks.common.launcher import MockConfig, MockSpec
from schema.context import CallerKind
from tests.serving import MOCK_COUNT, Serve, free_ports
from tests.support import BackgroundMocks, LiveHub, MockAdmin

SPEC = MockSpec("catalogue", 0, "mocks.catalogue:create_app")
API_KEY = {"X-Api-Key": DEV_DEPARTMENTS["catalogue"][1]["api_key"]}
HOSTILE_NAME = '测试<script>alert("x")</script>&事项'
SVG = "{http://www.w3.org/2000/svg}"

QR_CODE = """
query QrCode($kind: QrKind!, $code: ID!, $format: QrFormat!, $size: Int!) {
  qrCode(kind: $kind, code: $code, format: $format, size: $size) {
    url imageUrl format size svg dataUri
  }
}
"""


@pytest.fixture(scope="module")
def catalogue_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    """A catalogue of this module's own: an item's name is changed to carry markup."""
    mocks = BackgroundMocks((SPEC,), MockConfig(state_dir=tmp_path_factory.mktemp("qr")))
    yield mocks
    mocks.close()


@pytest.fixture(scope="module")
def upstream(catalogue_mock: BackgroundMocks) -> dict[str, Any]:
    """A few real records from the mock, and one item renamed before any hub reads it."""
    url = catalogue_mock.urls["catalogue"]
    items = httpx.get(f"{url}/api/items", params={"page": 2, "size": 5}, headers=API_KEY).json()
    hostile = items["items"][1]
    httpx.post(
        f"{url}/__admin/items/{hostile['impl_code']}", json={"name": HOSTILE_NAME}
    ).raise_for_status()
    banks = httpx.get(f"{url}/api/items", params={"page": 1, "size": 1}, headers=API_KEY).json()
    scenarios = httpx.get(f"{url}/api/scenarios", headers=API_KEY).json()
    scenario = httpx.get(f"{url}/api/scenarios/{scenarios[0]['id']}", headers=API_KEY).json()
    disclosures = httpx.get(f"{url}/api/disclosures", headers=API_KEY).json()
    return {
        "item": items["items"][0],
        "hostile": hostile,
        "bank_item": banks["items"][0],
        "scenario": scenario,
        "disclosure": disclosures[0],
    }


def hub_on_known_port(
    make_settings: Callable[..., Settings], catalogue_mock: BackgroundMocks, **overrides: Any
) -> LiveHub:
    """A hub whose public URL is its own address: what a phone would reach."""
    port = free_ports(1)
    settings = make_settings(
        env={"HUB_CATALOGUE_URL": catalogue_mock.urls["catalogue"]},
        public_url=f"http://127.0.0.1:{port}",
        **overrides,
    )
    return LiveHub(create_app(settings), port=port)


@pytest.fixture(scope="module")
def qr_hub(
    make_settings: Callable[..., Settings],
    catalogue_mock: BackgroundMocks,
    upstream: dict[str, Any],
) -> Iterator[LiveHub]:
    live = hub_on_known_port(make_settings, catalogue_mock)
    yield live
    live.close()


def decoded(png: bytes) -> list[str]:
    """What a real QR decoder reads in the image."""
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def svg_raster(svg: bytes) -> Image.Image:
    """The SVG's modules drawn as pixels: segno draws each row's dark runs as ``h`` segments of
    one path (``M x y`` absolute, ``m dx dy`` relative, ``h dx``), scaled by ``transform``."""
    root = ElementTree.fromstring(svg)  # defused: no entities, no external references
    assert root.tag == f"{SVG}svg"
    path = root.find(f"{SVG}path")
    assert path is not None
    scale_match = re.fullmatch(r"scale\(([0-9.]+)\)", path.get("transform", "scale(1)"))
    assert scale_match is not None
    scale = float(scale_match.group(1))
    width = round(float(root.get("width", "0")) / scale)
    assert width == round(float(root.get("height", "0")) / scale) > 21
    image = Image.new("L", (width, width), 255)
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[0-9.]+)(?: (-?[0-9.]+))?", path.get("d", "")):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            for column in range(round(x), round(x + float(a))):
                image.putpixel((column, int(y)), 0)
            x += float(a)
    return image.resize((width * 4, width * 4), Image.Resampling.NEAREST)


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_an_items_png_decodes_to_its_page_and_the_page_names_the_item(
    qr_hub: LiveHub, upstream: dict[str, Any]
) -> None:
    # given
    code = upstream["item"]["impl_code"]
    # when
    image = qr_hub.client.get(f"/qr/item/{code}.png")
    # then
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert decoded(image.content) == [f"{qr_hub.url}/s/item/{code}"]
    page = httpx.get(decoded(image.content)[0])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f"<h1>{upstream['item']['name']}</h1>" in page.text
    assert upstream["item"]["dept_name"] in page.text
    assert f'src="/qr/item/{code}.svg?size=256"' in page.text  # the page shows its own code


def test_the_svg_is_xml_and_draws_the_same_code(qr_hub: LiveHub, upstream: dict[str, Any]) -> None:
    code = upstream["item"]["impl_code"]
    svg = qr_hub.client.get(f"/qr/item/{code}.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["content-security-policy"] == "default-src 'none'"
    assert b"<script" not in svg.content
    assert decoded(png_bytes(svg_raster(svg.content))) == [f"{qr_hub.url}/s/item/{code}"]


def test_size_is_the_width_at_most_in_whole_pixels_a_module(
    qr_hub: LiveHub, upstream: dict[str, Any]
) -> None:
    code = upstream["item"]["impl_code"]
    widths = {}
    for size in (64, 100, 256, 2048):
        answer = qr_hub.client.get(f"/qr/item/{code}.png", params={"size": size})
        assert answer.status_code == 200
        width, height = Image.open(io.BytesIO(answer.content)).size
        assert width == height <= size
        widths[size] = width
        assert decoded(answer.content) == [f"{qr_hub.url}/s/item/{code}"]
    modules = widths[64]  # one pixel a module: the symbol's own width, quiet zone included
    assert all(width % modules == 0 for width in widths.values())
    assert widths[2048] > 2048 - modules


@pytest.mark.parametrize("size", ["63", "2049", "abc", "-5", "1e3", "", "256.0"])
def test_a_size_out_of_bounds_is_a_400_in_the_hubs_error_shape(
    qr_hub: LiveHub, upstream: dict[str, Any], size: str
) -> None:
    code = upstream["item"]["impl_code"]
    answer = qr_hub.client.get(f"/qr/item/{code}.png", params={"size": size})
    assert answer.status_code == 400
    body = answer.json()
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "64 to 2048" in body["errors"][0]["message"]
    assert answer.headers["x-request-id"]


@pytest.mark.parametrize(
    "path",
    [
        "/qr/item/000000000000000000.png",
        "/qr/scenario/SC999.svg",
        "/qr/disclosure/GK99999.png",
        "/qr/book/123.png",
        "/qr/item/{code}.gif",
        "/qr/item/{code}",
    ],
)
def test_an_unknown_code_kind_or_format_is_a_404(
    qr_hub: LiveHub, upstream: dict[str, Any], path: str
) -> None:
    answer = qr_hub.client.get(path.format(code=upstream["item"]["impl_code"]))
    assert answer.status_code == 404
    assert answer.json()["errors"][0]["extensions"] == {"code": "NOT_FOUND"}


def test_an_image_is_cached_publicly_for_long_and_revalidated_by_its_etag(
    qr_hub: LiveHub, upstream: dict[str, Any]
) -> None:
    path = f"/qr/item/{upstream['item']['impl_code']}.png"
    first = qr_hub.client.get(path, params={"size": 300})
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: the same bytes, the same tag
    assert first.headers["cache-control"] == "public, max-age=604800"
    again = qr_hub.client.get(path, params={"size": 300}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = qr_hub.client.get(path, params={"size": 600}, headers={"If-None-Match": etag})
    assert other.status_code == 200
    assert other.headers["etag"] != etag


def test_the_page_escapes_what_the_catalogue_says(
    qr_hub: LiveHub, upstream: dict[str, Any]
) -> None:
    page = qr_hub.client.get(f"/s/item/{upstream['hostile']['impl_code']}")
    assert page.status_code == 200
    assert "<script" not in page.text
    assert "&lt;script&gt;" in page.text
    heading = re.search(r"<h1>(.*?)</h1>", page.text)
    assert heading is not None and html.unescape(heading.group(1)) == HOSTILE_NAME


def test_a_page_runs_no_script_and_is_cached_publicly(
    qr_hub: LiveHub, upstream: dict[str, Any]
) -> None:
    path = f"/s/item/{upstream['item']['impl_code']}"
    page = qr_hub.client.get(path)
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe" not in csp
    assert "<script" not in page.text and " style=" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "public, max-age=60"
    assert (
        qr_hub.client.get(path, headers={"If-None-Match": page.headers["etag"]}).status_code == 304
    )
    stylesheet = qr_hub.client.get("/s/page.css")
    assert stylesheet.status_code == 200
    assert stylesheet.headers["content-type"].startswith("text/css")


def test_an_item_by_its_local_code_leads_to_its_implementation_codes_page(
    qr_hub: LiveHub, upstream: dict[str, Any]
) -> None:
    item = upstream["bank_item"]
    assert item["local_code"] != item["impl_code"]
    page = qr_hub.client.get(f"/s/item/{item['local_code']}")
    assert page.status_code == 301
    assert page.headers["location"] == f"/s/item/{item['impl_code']}"
    image = qr_hub.client.get(f"/qr/item/{item['local_code']}.png")
    assert decoded(image.content) == [f"{qr_hub.url}/s/item/{item['impl_code']}"]


def test_a_scenario_guide_and_a_disclosure_have_pages_and_codes(
    qr_hub: LiveHub, upstream: dict[str, Any]
) -> None:
    scenario, disclosure = upstream["scenario"], upstream["disclosure"]
    for kind, code, text in (
        ("scenario", scenario["id"], scenario["name"]),
        ("disclosure", disclosure["id"], disclosure["title"]),
    ):
        image = qr_hub.client.get(f"/qr/{kind}/{code}.png")
        assert decoded(image.content) == [f"{qr_hub.url}/s/{kind}/{code}"]
        page = httpx.get(f"{qr_hub.url}/s/{kind}/{code}")
        assert page.status_code == 200
        assert f"<h1>{text}</h1>" in page.text
    guide = httpx.get(f"{qr_hub.url}/s/scenario/{scenario['id']}").text
    first_step = scenario["items"][0]
    assert f'href="/s/item/{first_step["impl_code"]}"' in guide
    entry = httpx.get(f"{qr_hub.url}/s/disclosure/{disclosure['id']}").text
    assert f'href="{disclosure["url"]}"' in entry and disclosure["url"].startswith("https://")


@pytest.mark.parametrize("path", ["/s/item/nope", "/s/scenario/SC999", "/s/book/1", "/s/item"])
def test_an_unknown_page_is_a_404_page(qr_hub: LiveHub, path: str) -> None:
    page = qr_hub.client.get(path)
    assert page.status_code == 404
    if path != "/s/item":  # no route at all: Starlette's own 404
        assert page.headers["content-type"].startswith("text/html")
        assert "未找到" in page.text or "页面不存在" in page.text
        assert page.headers["cache-control"] == "no-store"


def test_pages_and_images_answer_from_the_hubs_copy_without_calling_the_catalogue(
    qr_hub: LiveHub, catalogue_mock: BackgroundMocks, upstream: dict[str, Any]
) -> None:
    admin = MockAdmin(catalogue_mock.urls["catalogue"])
    qr_hub.client.get(f"/s/item/{upstream['item']['impl_code']}").raise_for_status()  # warm
    admin.reset()
    for item in (upstream["item"], upstream["hostile"], upstream["bank_item"]):
        qr_hub.client.get(f"/s/item/{item['impl_code']}").raise_for_status()
        qr_hub.client.get(f"/qr/item/{item['impl_code']}.svg").raise_for_status()
        qr_hub.client.get(f"/qr/item/{item['impl_code']}.png?size=128").raise_for_status()
    assert admin.total() == 0


def test_graphql_qr_code_is_the_same_page_and_its_data_uri_decodes(
    qr_hub: LiveHub, upstream: dict[str, Any]
) -> None:
    code = upstream["item"]["impl_code"]
    variables = {"kind": "ITEM", "code": code, "format": "PNG", "size": 200}
    answer = qr_hub.graphql(QR_CODE, variables).json()
    assert "errors" not in answer
    qr = answer["data"]["qrCode"]
    page_url = f"{qr_hub.url}/s/item/{code}"
    assert qr["url"] == page_url
    assert qr["imageUrl"] == f"{qr_hub.url}/qr/item/{code}.png?size=200"
    assert qr["format"] == "PNG" and qr["svg"] is None
    prefix = "data:image/png;base64,"
    assert qr["dataUri"].startswith(prefix)
    png = base64.b64decode(qr["dataUri"].removeprefix(prefix))
    assert decoded(png) == [page_url]
    assert Image.open(io.BytesIO(png)).size == (qr["size"], qr["size"])
    assert httpx.get(qr["imageUrl"]).content == png  # the image URL serves the same image


def test_graphql_svg_is_the_markup_the_route_serves(
    qr_hub: LiveHub, upstream: dict[str, Any]
) -> None:
    code = upstream["scenario"]["id"]
    variables = {"kind": "SCENARIO", "code": code, "format": "SVG", "size": 256}
    qr = qr_hub.graphql(QR_CODE, variables).json()["data"]["qrCode"]
    assert qr["url"] == f"{qr_hub.url}/s/scenario/{code}"
    assert decoded(png_bytes(svg_raster(qr["svg"].encode()))) == [qr["url"]]
    assert httpx.get(qr["imageUrl"]).text == qr["svg"]
    assert base64.b64decode(qr["dataUri"].removeprefix("data:image/svg+xml;base64,")) == (
        qr["svg"].encode()
    )


def test_graphql_qr_code_of_a_local_code_and_of_nothing(
    qr_hub: LiveHub, upstream: dict[str, Any]
) -> None:
    item = upstream["bank_item"]
    variables = {"kind": "ITEM", "code": item["local_code"], "format": "SVG", "size": 256}
    qr = qr_hub.graphql(QR_CODE, variables).json()["data"]["qrCode"]
    assert qr["url"] == f"{qr_hub.url}/s/item/{item['impl_code']}"
    missing = {"kind": "DISCLOSURE", "code": "GK99999", "format": "SVG", "size": 256}
    assert qr_hub.graphql(QR_CODE, missing).json() == {"data": {"qrCode": None}}


@pytest.mark.parametrize("size", [0, 63, 2049])
def test_graphql_size_out_of_bounds_is_bad_user_input(
    qr_hub: LiveHub, upstream: dict[str, Any], size: int
) -> None:
    variables = {"kind": "ITEM", "code": upstream["item"]["impl_code"], "format": "PNG"}
    answer = qr_hub.graphql(QR_CODE, {**variables, "size": size}).json()
    assert answer["data"] == {"qrCode": None}
    (error,) = answer["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "size"}
    assert error["path"] == ["qrCode"]


def test_images_and_pages_share_the_anonymous_callers_rate_limit(
    make_settings: Callable[..., Settings],
    catalogue_mock: BackgroundMocks,
    upstream: dict[str, Any],
) -> None:
    limits = {kind: BucketPolicy(kind.value, 100_000, 10_000.0) for kind in CallerKind}
    limits[CallerKind.ANONYMOUS] = BucketPolicy("anonymous", 2, 0.001)
    live = hub_on_known_port(make_settings, catalogue_mock, rate_limits=limits)
    try:
        code = upstream["item"]["impl_code"]
        assert live.client.get(f"/qr/item/{code}.svg").status_code == 200
        assert live.client.get(f"/s/item/{code}").status_code == 200
        refused = live.client.get(f"/qr/item/{code}.png")
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["extensions"] == {"code": "RATE_LIMITED"}
        assert int(refused.headers["retry-after"]) > 0
        assert live.client.get(f"/s/item/{code}").status_code == 429
    finally:
        live.close()


def test_a_catalogue_outage_before_the_copy_is_filled_is_a_503_never_a_500(
    make_settings: Callable[..., Settings],
    catalogue_mock: BackgroundMocks,
    upstream: dict[str, Any],
    tmp_path: Path,
) -> None:
    # a database of its own: the module's other hubs have filled theirs (and a filled copy
    # answers through an outage, which is the point of keeping one)
    admin = MockAdmin(catalogue_mock.urls["catalogue"])
    admin.faults(error_rate=1.0)
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    live = hub_on_known_port(make_settings, catalogue_mock, database_url=empty)
    try:
        code = upstream["item"]["impl_code"]
        page = live.client.get(f"/s/item/{code}")
        assert page.status_code == 503
        assert "暂时无法访问" in page.text and page.headers["cache-control"] == "no-store"
        image = live.client.get(f"/qr/item/{code}.png")
        assert image.status_code == 503
        (error,) = image.json()["errors"]
        assert error["extensions"]["code"].startswith("UPSTREAM_")
        assert "catalogue" in error["message"]
    finally:
        admin.clear_faults()
        live.close()


# --- the public base URL (HUB_PUBLIC_URL) and what a page may link to ---


def test_the_public_url_defaults_to_the_hubs_own_address() -> None:
    assert Settings.from_env({}).public_base_url == "http://127.0.0.1:8000"
    wildcard = Settings.from_env({"HUB_HOST": "0.0.0.0", "HUB_PORT": "8200"})  # noqa: S104
    assert wildcard.public_base_url == "http://localhost:8200"
    given = Settings.from_env({"HUB_PUBLIC_URL": "https://hub.example.cn/luohu/"})
    assert given.public_base_url == "https://hub.example.cn/luohu"


def test_ihub_serve_in_dev_prints_codes_that_lead_to_itself(tmp_path: Path) -> None:
    # given `ihub serve` as a newcomer runs it, on free ports, with no HUB_PUBLIC_URL
    ports = free_ports(MOCK_COUNT + 1)
    serve = Serve(tmp_path, port=ports, mocks_base_port=ports, HUB_PUBLIC_URL="")
    try:
        serve.wait_ready()
        catalogue = serve.mock_url(DEV_DEPARTMENTS["catalogue"][0])
        items = httpx.get(f"{catalogue}/api/items", params={"size": 1}, headers=API_KEY).json()
        code = items["items"][0]["impl_code"]
        # when a phone scans an item's code
        image = httpx.get(f"{serve.url}/qr/item/{code}.png", timeout=30)
        # then it reads the hub's own address, and that page answers
        (url,) = decoded(image.content)
        assert url == f"http://127.0.0.1:{ports}/s/item/{code}"
        assert httpx.get(url, timeout=30).status_code == 200
    finally:
        serve.stop()


def test_outside_dev_an_unset_public_url_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="ihub"):
        Settings.from_env({"HUB_ENV": "production", "HUB_JWT_DEV_KEY": "false"})
    assert any("HUB_PUBLIC_URL" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "value",
    [
        "hub.example.cn",
        "ftp://hub.example.cn",
        "https://",
        "https://hub.example.cn/?a=1",
        "https://hub.example.cn/#top",
        "https://user:pw@hub.example.cn",
        "https://hub.example.cn:99999",
        "https://hub example.cn",
        'https://hub.example.cn/"><b>',
        "javascript:alert(1)",
    ],
)
def test_a_public_url_the_hub_cannot_print_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="HUB_PUBLIC_URL"):
        Settings.from_env({"HUB_PUBLIC_URL": value})


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://www.szlh.gov.cn/xxgk/decision/GK01001.html", True),
        ("http://www.szlh.gov.cn/a", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//evil.example/x", False),
        ("/relative", False),
        ("https://[bad", False),
    ],
)
def test_a_disclosure_links_only_to_web_urls(url: str, linked: bool) -> None:
    assert is_web_url(url) is linked


ENTRY_QR_CODES = """
query EntryQrCodes($item: ID!, $scenario: ID!) {
  services {
    item(code: $item) { code qrCode(format: PNG, size: 200) { url imageUrl dataUri } }
    scenario(id: $scenario) { id qrCode { url imageUrl } }
    disclosures { id qrCode { url } }
  }
}
"""


def test_items_scenarios_and_disclosures_carry_their_own_qr_codes(
    qr_hub: LiveHub, upstream: dict[str, Any]
) -> None:
    # given: an item asked for by its banks' code, a scenario guide, the disclosure entries
    item = upstream["bank_item"]
    variables = {"item": item["local_code"], "scenario": upstream["scenario"]["id"]}
    # when
    answer = qr_hub.graphql(ENTRY_QR_CODES, variables).json()
    # then: each entry's code leads to its own page (an item's by its implementation code)
    assert "errors" not in answer
    services = answer["data"]["services"]
    qr = services["item"]["qrCode"]
    assert qr["url"] == f"{qr_hub.url}/s/item/{item['impl_code']}"
    assert qr["imageUrl"] == f"{qr_hub.url}/qr/item/{item['impl_code']}.png?size=200"
    png = base64.b64decode(qr["dataUri"].removeprefix("data:image/png;base64,"))
    assert decoded(png) == [qr["url"]]
    scenario = services["scenario"]
    assert scenario["qrCode"]["url"] == f"{qr_hub.url}/s/scenario/{scenario['id']}"
    assert httpx.get(scenario["qrCode"]["url"]).status_code == 200
    disclosures = services["disclosures"]
    assert len(disclosures) > 11
    assert all(d["qrCode"]["url"] == f"{qr_hub.url}/s/disclosure/{d['id']}" for d in disclosures)
