"""The explorer page: example tabs from ``examples/``, and the dev-only ``POST /dev/token``."""

from __future__ import annotations

import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse, print_ast, validate
from strawberry.http.ides import get_graphql_ide_html

from hub.app import create_app
from hub.settings import Settings
from hub.web.explorer import (
    EXAMPLES_DIRECTORY,
    WELCOME,
    Example,
    ExampleError,
    explorer_page,
    load_examples,
)
from schema import build_schema
from tests.support import LiveHub

REPO = Path(__file__).resolve().parents[1]
HTML = {"Accept": "text/html"}


class _Config(HTMLParser):
    """The JSON of ``<script id="hub-explorer-config">``."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self._inside = False
        self.text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._inside = tag == "script" and ("id", "hub-explorer-config") in attrs

    def handle_endtag(self, tag: str) -> None:
        self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.text += data


def page_config(html: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(_Config(html).text)
    return parsed


# --- the examples folder --------------------------------------------------------------------


def test_every_example_is_one_named_operation_valid_against_the_schema() -> None:
    schema = build_schema()._schema
    examples = load_examples()
    assert {"garbage-classify", "me"} <= {example.name for example in examples}
    for example in examples:
        document = parse(example.document)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        assert len(operations) == 1 and operations[0].name is not None, example.name
        assert validate(schema, document) == [], example.name
        if example.variables is not None:
            assert isinstance(json.loads(example.variables), dict), example.name


def test_the_benchmark_operations_are_among_the_examples() -> None:
    examples = {print_ast(parse(example.document)) for example in load_examples()}
    bench = sorted((REPO / "bench" / "operations").glob("*.graphql"))
    assert bench
    for path in bench:
        assert print_ast(parse(path.read_text(encoding="utf-8"))) in examples, path.name


def test_examples_load_in_file_order_with_their_variables(tmp_path: Path) -> None:
    (tmp_path / "b.graphql").write_text("query B($x: Int) { __typename }\n")
    (tmp_path / "b.variables.json").write_text('{"x": 1}')
    (tmp_path / "a.graphql").write_text("# first\nquery A { __typename }\n")
    examples = load_examples(tmp_path)
    assert [(e.name, e.variables) for e in examples] == [("a", None), ("b", '{\n  "x": 1\n}')]
    assert examples[0].document.startswith("# first\n")
    assert load_examples(tmp_path / "missing") == []


@pytest.mark.parametrize("variables", ["[1]", "{not json"])
def test_bad_variables_file_is_refused(tmp_path: Path, variables: str) -> None:
    (tmp_path / "a.graphql").write_text("query A { __typename }\n")
    (tmp_path / "a.variables.json").write_text(variables)
    with pytest.raises(ExampleError, match=r"a\.variables\.json"):
        load_examples(tmp_path)


# --- the page -------------------------------------------------------------------------------


def test_page_opens_on_the_welcome_tab_then_the_examples(
    start_hub: Callable[..., LiveHub],
) -> None:
    live = start_hub(graphiql=True)
    response = live.client.get("/graphql", headers=HTML)
    assert response.status_code == 200
    config = page_config(response.text)
    assert config["devTokenUrl"] == "/dev/token"
    tabs = config["tabs"]
    assert tabs[0] == {"query": WELCOME}
    assert tabs[1:] == [example.tab() for example in load_examples(EXAMPLES_DIRECTORY)]
    assert "APQ" in WELCOME and "/oauth/token" in WELCOME
    assert "Welcome to GraphiQL" not in response.text  # the stock comment is gone
    assert "https://unpkg.com" not in response.text  # assets stay the hub's own, hash-checked
    assert response.text.count('integrity="sha384-') == 7


def test_page_config_cannot_end_its_script_early() -> None:
    hostile = Example("x", "# </script><script>alert(1)</script>\nquery X { __typename }\n")
    page = explorer_page(get_graphql_ide_html("graphiql"), [hostile])
    assert "</script><script>alert(1)" not in page
    assert page_config(page)["tabs"][1]["query"] == hostile.document


# --- POST /dev/token ------------------------------------------------------------------------


def test_dev_token_signs_a_seeded_residents_token(start_hub: Callable[..., LiveHub]) -> None:
    live = start_hub()
    answer = live.client.post("/dev/token", json={"resident": "R000002"})
    assert answer.status_code == 200
    token = answer.json()["token"]
    me = live.graphql("{ me { name } }", token=token).json()
    assert isinstance(me["data"]["me"]["name"], str) and me["data"]["me"]["name"]
    default = live.client.post("/dev/token", json={}).json()
    assert default["resident"] == "R000001"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"resident": "nobody"}', "application/json", 400),
        (b'{"resident": 7}', "application/json", 400),
        (b"[1]", "application/json", 400),
        (b"{not json", "application/json", 400),
        (b"resident=R000001", "application/x-www-form-urlencoded", 415),
    ],
)
def test_dev_token_refuses_bad_input_with_a_typed_error(
    hub: LiveHub, body: bytes, content_type: str, status: int
) -> None:
    answer = hub.client.post("/dev/token", content=body, headers={"Content-Type": content_type})
    assert answer.status_code == status
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("overrides", [{"env": "prod"}, {"jwt_dev_key": False}])
def test_dev_token_exists_only_in_dev(
    make_settings: Callable[..., Settings], overrides: dict[str, Any]
) -> None:
    live = LiveHub(create_app(make_settings(graphiql=True).with_changes(**overrides)))
    try:
        assert live.client.post("/dev/token", json={}).status_code == 404
        page = live.client.get("/graphql", headers=HTML)
        assert page_config(page.text)["devTokenUrl"] is None
    finally:
        live.close()


# --- the Docs pane --------------------------------------------------------------------------


def test_root_types_and_fields_are_described_in_chinese_and_english() -> None:
    schema = build_schema()._schema
    roots = [schema.query_type, schema.mutation_type]
    described = [(root.name, root.description) for root in roots if root is not None]
    for root in roots:
        assert root is not None
        for name, field in root.fields.items():
            described.append((f"{root.name}.{name}", field.description))
            named = field.type
            while hasattr(named, "of_type"):
                named = named.of_type
            if root is schema.query_type:  # the namespace types the Docs pane opens on
                described.append((str(named), getattr(named, "description", None)))
    for where, description in described:
        assert description, where
        chinese, sep, english = description.partition(" · ")
        assert sep and english, f"{where}: {description!r} is not '中文 · English'"
        assert any("\u4e00" <= char <= "\u9fff" for char in chinese), where


def test_assets_missing_page_says_how_to_fetch_and_escapes_the_failure(tmp_path: Path) -> None:
    from hub.web.graphiql import GraphiQL

    graphiql = GraphiQL(tmp_path / "empty")
    html, status = graphiql.page()
    assert status == 503 and "ihub graphiql fetch" in html and "in the background" in html
    graphiql.problem = "npm said <script>alert(1)</script>"
    html, _ = graphiql.page()
    assert "<script>" not in html and "&lt;script&gt;alert(1)" in html
