"""Unit tests for hub.web.graphiql: page parsing, page rewriting, verified npm fetching, serving."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import sys
import tarfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient
from strawberry.http.ides import get_graphql_ide_html

from hub.web.graphiql import GraphiQL, local_page, page_assets
from hub.web.graphiql_assets import Asset, GraphiQLAssetsError, ensure_assets

STRAWBERRY_PAGE = get_graphql_ide_html("graphiql")

EXPECTED = {
    ("react", "18.2.0", "umd/react.production.min.js"),
    ("react-dom", "18.2.0", "umd/react-dom.production.min.js"),
    ("js-cookie", "3.0.5", "dist/js.cookie.min.js"),
    ("graphiql", "3.8.3", "graphiql.min.css"),
    ("graphiql", "3.8.3", "graphiql.min.js"),
    ("@graphiql/plugin-explorer", "1.0.2", "dist/style.css"),
    ("@graphiql/plugin-explorer", "1.0.2", "dist/index.umd.js"),
}


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


class _Attrs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.integrity: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if values.get("integrity"):
            self.integrity.append(values["integrity"] or "")
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def attrs_of(html: str) -> _Attrs:
    parser = _Attrs()
    parser.feed(html)
    return parser


# --- page_assets / local_page -------------------------------------------------------------


def test_page_assets_finds_the_seven_pinned_assets() -> None:
    assets = page_assets(STRAWBERRY_PAGE)
    assert len(assets) == 7
    assert {(a.package, a.version, a.path) for a in assets} == EXPECTED
    for asset in assets:
        assert asset.url.startswith("https://")
        assert asset.url.endswith(f"/{asset.package}@{asset.version}/{asset.path}")
        assert asset.integrity.startswith("sha384-")
        assert asset.integrity in STRAWBERRY_PAGE
    names = {a.local_name for a in assets}
    assert len(names) == 7
    assert "graphiql-3.8.3-graphiql.min.js" in names
    assert "graphiql-plugin-explorer-1.0.2-dist-style.css" in names
    assert all("/" not in n and ".." not in n and not n.startswith(".") for n in names)


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example/pkg/dist/x.js",  # no version
        "https://cdn.example/pkg@1.0.0/../../etc/passwd",
        "https://cdn.example/pkg@1.0.0/",
        "https://cdn.example/--evil@1.0.0/x.js",
        "https://cdn.example/pkg@1.0.0/a/.hidden",
    ],
)
def test_page_assets_rejects_odd_urls(url: str) -> None:
    html = f'<script src="{url}" integrity="{sri(b"x")}"></script>'
    with pytest.raises(GraphiQLAssetsError):
        page_assets(html)


def test_local_page_points_every_asset_at_the_hub_and_keeps_integrity() -> None:
    assets = page_assets(STRAWBERRY_PAGE)
    page = local_page(STRAWBERRY_PAGE, assets)
    found = attrs_of(page)
    asset_urls = [u for u in found.urls if not u.startswith("data:")]
    assert sorted(asset_urls) == sorted(f"/graphiql/assets/{a.local_name}" for a in assets)
    assert not any("unpkg" in u or "https://" in u or u.startswith("//") for u in asset_urls)
    assert sorted(found.integrity) == sorted(a.integrity for a in assets)
    assert found.title == "i罗湖 Hub GraphiQL"
    # everything else is untouched
    assert page.count("\n") == STRAWBERRY_PAGE.count("\n")
    assert "GraphiQL.createFetcher" in page
    assert local_page(STRAWBERRY_PAGE, assets, prefix="/x/").count('src="/x/') == 5


# --- ensure_assets against a fake npm -----------------------------------------------------

CONTENT = b"console.log('graphiql');\n"
STYLE = b"body { color: red }\n"
PAGE = (
    '<script src="https://cdn.example/fake-pkg@1.0.0/dist/x.js" integrity="{js}"></script>'
    '<link rel="stylesheet" href="https://cdn.example/fake-pkg@1.0.0/dist/x.css" '
    'integrity="{css}">'
    "<script>render(GraphiQL)</script>"  # the inline script the explorer replaces
)


def make_tgz(path: Path, members: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return path


class FakeNpm:
    """An executable standing in for npm: logs argv, copies a prepared .tgz."""

    def __init__(self, tmp_path: Path, exit_code: int = 0) -> None:
        self.log = tmp_path / "npm-calls.jsonl"
        self.tarball = tmp_path / "fake-pkg-1.0.0.tgz"
        self.exe = tmp_path / "fake-npm"
        self.exe.write_text(
            f"#!{sys.executable}\n"
            "import json, shutil, sys\n"
            f"open({str(self.log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
            "dest = sys.argv[sys.argv.index('--pack-destination') + 1]\n"
            f"shutil.copy({str(self.tarball)!r}, dest)\n"
            f"sys.exit({exit_code})\n"
        )
        self.exe.chmod(self.exe.stat().st_mode | stat.S_IXUSR)

    @property
    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def fake_assets() -> list[Asset]:
    return page_assets(PAGE.format(js=sri(CONTENT), css=sri(STYLE)))


@pytest.fixture
def npm(tmp_path: Path) -> FakeNpm:
    fake = FakeNpm(tmp_path)
    make_tgz(fake.tarball, {"package/dist/x.js": CONTENT, "package/dist/x.css": STYLE})
    return fake


def test_ensure_assets_writes_verified_files_packing_each_package_once(
    tmp_path: Path, npm: FakeNpm, fake_assets: list[Asset]
) -> None:
    out = tmp_path / "cache" / "graphiql"
    ensure_assets(out, fake_assets, npm=str(npm.exe), timeout=30)
    assert (out / "fake-pkg-1.0.0-dist-x.js").read_bytes() == CONTENT
    assert (out / "fake-pkg-1.0.0-dist-x.css").read_bytes() == STYLE
    assert sorted(p.name for p in out.iterdir()) == [a.local_name for a in fake_assets][::-1]
    [call] = npm.calls
    assert call[:2] == ["pack", "fake-pkg@1.0.0"]
    assert "--pack-destination" in call


def test_tampered_tarball_raises_and_writes_nothing(
    tmp_path: Path, npm: FakeNpm, fake_assets: list[Asset]
) -> None:
    make_tgz(npm.tarball, {"package/dist/x.js": CONTENT + b"evil()", "package/dist/x.css": STYLE})
    out = tmp_path / "out"
    with pytest.raises(GraphiQLAssetsError, match=r"fake-pkg@1\.0\.0"):
        ensure_assets(out, fake_assets, npm=str(npm.exe), timeout=30)
    assert list(out.iterdir()) == []  # not even the good CSS, nor temp files


def test_existing_good_file_is_not_refetched(
    tmp_path: Path, npm: FakeNpm, fake_assets: list[Asset]
) -> None:
    out = tmp_path / "out"
    ensure_assets(out, fake_assets, npm=str(npm.exe), timeout=30)
    ensure_assets(out, fake_assets, npm=str(npm.exe), timeout=30)
    assert len(npm.calls) == 1
    assert GraphiQL(
        out, npm=str(npm.exe), source_html=PAGE.format(js=sri(CONTENT), css=sri(STYLE))
    ).ready


def test_existing_bad_file_is_replaced(
    tmp_path: Path, npm: FakeNpm, fake_assets: list[Asset]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "fake-pkg-1.0.0-dist-x.js").write_bytes(b"stale")
    (out / "fake-pkg-1.0.0-dist-x.css").write_bytes(STYLE)
    ensure_assets(out, fake_assets, npm=str(npm.exe), timeout=30)
    assert (out / "fake-pkg-1.0.0-dist-x.js").read_bytes() == CONTENT
    assert len(npm.calls) == 1


@pytest.mark.parametrize(
    "evil", ["package/../../escape.js", "/etc/evil.js", "../package/dist/x.js"]
)
def test_path_traversal_member_is_refused(
    tmp_path: Path, npm: FakeNpm, fake_assets: list[Asset], evil: str
) -> None:
    make_tgz(npm.tarball, {evil: b"x", "package/dist/x.js": CONTENT, "package/dist/x.css": STYLE})
    out = tmp_path / "out"
    with pytest.raises(GraphiQLAssetsError, match="unsafe tarball member"):
        ensure_assets(out, fake_assets, npm=str(npm.exe), timeout=30)
    assert list(out.iterdir()) == []
    assert not (tmp_path / "escape.js").exists()


def test_missing_member_raises(tmp_path: Path, npm: FakeNpm, fake_assets: list[Asset]) -> None:
    make_tgz(npm.tarball, {"package/dist/x.js": CONTENT})
    with pytest.raises(GraphiQLAssetsError, match=r"fake-pkg@1\.0\.0"):
        ensure_assets(tmp_path / "out", fake_assets, npm=str(npm.exe), timeout=30)


def test_failing_or_missing_npm_raises(tmp_path: Path, fake_assets: list[Asset]) -> None:
    failing = FakeNpm(tmp_path, exit_code=1)
    make_tgz(failing.tarball, {"package/dist/x.js": CONTENT, "package/dist/x.css": STYLE})
    out = tmp_path / "out"
    with pytest.raises(GraphiQLAssetsError, match=r"npm pack fake-pkg@1\.0\.0 exited 1"):
        ensure_assets(out, fake_assets, npm=str(failing.exe), timeout=30)
    with pytest.raises(GraphiQLAssetsError, match=r"fake-pkg@1\.0\.0"):
        ensure_assets(out, fake_assets, npm=str(tmp_path / "no-such-npm"), timeout=30)
    assert list(out.iterdir()) == []


# --- serve_asset --------------------------------------------------------------------------


def test_serve_asset_serves_only_known_names(
    tmp_path: Path, npm: FakeNpm, fake_assets: list[Asset]
) -> None:
    out = tmp_path / "out"
    (tmp_path / "secret.txt").write_text("secret")
    graphiql = GraphiQL(
        out, npm=str(npm.exe), source_html=PAGE.format(js=sri(CONTENT), css=sri(STYLE))
    )
    app = Starlette(routes=[Route("/graphiql/assets/{name}", graphiql.serve_asset)])
    with TestClient(app) as client:
        assert client.get("/graphiql/assets/fake-pkg-1.0.0-dist-x.js").status_code == 404
        graphiql.fetch()
        js = client.get("/graphiql/assets/fake-pkg-1.0.0-dist-x.js")
        assert js.status_code == 200
        assert js.content == CONTENT
        assert js.headers["content-type"].startswith("application/javascript")
        assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
        css = client.get("/graphiql/assets/fake-pkg-1.0.0-dist-x.css")
        assert css.headers["content-type"].startswith("text/css")
        for bad in ("secret.txt", "..%2Fsecret.txt", "%2E%2E", "npm-calls.jsonl", ""):
            assert client.get(f"/graphiql/assets/{bad}").status_code == 404
    assert 'src="/graphiql/assets/fake-pkg-1.0.0-dist-x.js"' in graphiql.html


# --- the real thing -----------------------------------------------------------------------


def test_real_npm_packages_match_the_page_hashes(tmp_path: Path) -> None:
    """Needs the npm client and its configured registry: proof the pinned hashes match."""
    graphiql = GraphiQL(tmp_path / "graphiql")
    assert not graphiql.ready
    graphiql.fetch()
    assert graphiql.ready
    for asset in graphiql.assets:
        assert sri((tmp_path / "graphiql" / asset.local_name).read_bytes()) == asset.integrity
    assert len(list((tmp_path / "graphiql").iterdir())) == 7
