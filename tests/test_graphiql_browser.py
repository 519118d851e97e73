"""Acceptance: headless Chromium runs queries in the hub's self-hosted GraphiQL, offline.

The app under test comes from the one fixture ``graphiql_base_url``. The first test runs a
shared ``?q=`` query; the second uses the explorer as a developer does: example tabs, the
dev token button, a query that needs a resident token, and a screenshot (with a CJK font
installed, the Chinese renders as text, not boxes).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Error,
    Route,
    expect,
    sync_playwright,
)

from hub.web.graphiql import GraphiQL
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


# --- the explorer as a developer uses it ----------------------------------------------------


def _cjk_font_installed() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    found = subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


def _editor_value(context: BrowserContext, selector: str) -> str:
    page = context.pages[0]
    value = page.evaluate(
        "s => document.querySelector(s).CodeMirror.getValue()",
        selector,
    )
    assert isinstance(value, str)
    return value


def test_explorer_example_tab_with_the_dev_token_button(
    graphiql_base_url: str, token_for: Callable[..., str], tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run `apt-get install chromium` to get Chromium")
    if not _cjk_font_installed():
        pytest.fail("no CJK font: run `apt-get install fonts-noto-cjk` (Chinese would be boxes)")
    expected_name = httpx.post(
        f"{graphiql_base_url}/graphql",
        json={"query": "{ me { name } }"},
        headers={"Authorization": f"Bearer {token_for('R000001')}"},
        timeout=30,
    ).json()["data"]["me"]["name"]
    prompts: list[str] = []
    page_errors: list[str] = []
    blocked: list[str] = []

    def guard(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def answer(dialog: Dialog) -> None:
        prompts.append(dialog.message)
        dialog.accept("R000001")

    screenshot = tmp_path / "explorer.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
            context.set_default_timeout(TIMEOUT_MS)
            context.route("**/*", guard)
            page = context.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.on("dialog", answer)
            page.goto(f"{graphiql_base_url}/graphql", wait_until="load", timeout=TIMEOUT_MS)

            tabs = page.locator(".graphiql-tab")
            expect(tabs.first).to_contain_text("Welcome", timeout=TIMEOUT_MS)
            for title in ("Classify", "HomeScreen", "OwnBranchQueues", "Me"):
                expect(tabs.filter(has_text=title).first).to_be_visible(timeout=TIMEOUT_MS)
            welcome = _editor_value(context, ".graphiql-query-editor .CodeMirror")
            assert "罗湖" in welcome and "APQ" in welcome

            tabs.filter(has_text="Me").last.locator("button").first.click()
            page.wait_for_function(
                "() => document.querySelector('.graphiql-query-editor .CodeMirror')"
                ".CodeMirror.getValue().includes('query Me')",
                timeout=TIMEOUT_MS,
            )
            page.get_by_label("Dev resident token into Headers · 填入开发令牌").click()
            page.get_by_role("button", name="Headers", exact=True).click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')]"
                ".some(e => e.CodeMirror.getValue().includes('Bearer '))",
                timeout=TIMEOUT_MS,
            )
            page.locator(".graphiql-execute-button").click()
            result = page.locator(".graphiql-response .result-window")
            expect(result).to_contain_text(expected_name, timeout=TIMEOUT_MS)
            answered = json.loads(_editor_value(context, ".graphiql-response .CodeMirror"))
            page.get_by_label("Show Documentation Explorer").click()
            docs = page.locator(".graphiql-doc-explorer")
            docs.get_by_role("link", name="Query", exact=True).click()
            expect(docs).to_contain_text("垃圾分类 · Garbage sorting", timeout=TIMEOUT_MS)
            page.screenshot(path=str(screenshot), full_page=True)
        except (Error, AssertionError) as exc:
            pytest.fail(f"page errors: {page_errors}\nbrowser step failed: {exc}")
        finally:
            browser.close()

    assert answered == {"data": {"me": {"name": expected_name}}}
    assert len(prompts) == 1  # the button asked which resident
    assert blocked == [], f"page tried to reach outside hosts: {blocked}"
    assert page_errors == [], f"page errors: {page_errors}"
    assert screenshot.stat().st_size > 0
    print(f"explorer screenshot: {screenshot}")
