"""Acceptance: headless Chromium runs a query in the hub's self-hosted GraphiQL, offline.

The app under test comes from the one fixture ``graphiql_base_url``; the test itself only
uses that fixture plus ``QUERY`` and ``EXPECTED_TEXT``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Error, Route, expect, sync_playwright

from hub.graphiql import GraphiQL
from tests.support import LiveHub

QUERY = '{ garbageSorting { classify(item: "电池") { category { name } } } }'
EXPECTED_TEXT = "有害垃圾"

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 30_000
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
REPO_ROOT = Path(__file__).resolve().parents[1]


# --- the app under test: the real hub, wired to the running mocks -------------------------


@pytest.fixture(scope="session")
def graphiql_assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GraphiQL's assets fetched (via npm) into ./var/graphiql, reused across runs."""
    directory = REPO_ROOT / "var" / "graphiql"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        directory = tmp_path_factory.mktemp("graphiql")
    graphiql = GraphiQL(directory)
    graphiql.fetch()
    assert graphiql.ready
    return directory


@pytest.fixture
def graphiql_base_url(graphiql_assets: Path, start_hub: Callable[..., LiveHub]) -> Iterator[str]:
    """The hub with GraphiQL on, as ``ihub serve`` runs it."""
    yield start_hub(graphiql=True, graphiql_dir=graphiql_assets).url


# --- the acceptance test ------------------------------------------------------------------


def test_graphiql_runs_a_query_with_no_outside_network(graphiql_base_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run `apt-get install chromium` to get Chromium")
    blocked: list[str] = []
    page_errors: list[str] = []
    console_errors: list[str] = []
    failed: list[str] = []

    def guard(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context()
            context.set_default_timeout(TIMEOUT_MS)
            context.route("**/*", guard)
            page = context.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.on("console", on_console)
            page.on("requestfailed", lambda request: failed.append(request.url))

            response = page.goto(
                f"{graphiql_base_url}/graphql?q={quote(QUERY, safe='')}",
                wait_until="load",
                timeout=TIMEOUT_MS,
            )
            assert response is not None and response.ok
            assert "text/html" in (response.request.headers.get("accept") or "")
            expect(page).to_have_title("i罗湖 Hub GraphiQL", timeout=TIMEOUT_MS)
            editor = page.locator(".graphiql-query-editor .CodeMirror")
            expect(editor).to_be_visible(timeout=TIMEOUT_MS)
            page.wait_for_function(  # the editor holds QUERY (from the ?q= parameter)
                "q => document.querySelector('.graphiql-query-editor .CodeMirror')"
                ".CodeMirror.getValue() === q",
                arg=QUERY,
                timeout=TIMEOUT_MS,
            )

            page.locator(".graphiql-execute-button").click(timeout=TIMEOUT_MS)
            result = page.locator(".graphiql-response .result-window")
            expect(result).to_contain_text(EXPECTED_TEXT, timeout=TIMEOUT_MS)
        except (Error, AssertionError) as exc:
            pytest.fail(
                f"blocked outside requests: {blocked}\npage errors: {page_errors}\n"
                f"console errors: {console_errors}\nbrowser step failed: {exc}"
            )
        finally:
            browser.close()

    assert blocked == [], f"page tried to reach outside hosts: {blocked}"
    assert page_errors == [], f"page errors: {page_errors}"
    assert console_errors == [], f"console errors: {console_errors}"
    assert failed == [], f"failed requests: {failed}"
