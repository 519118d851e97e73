"""The README's tour is checked: every GraphQL block is a file of ``examples/``, and every
example (the tour's and GraphiQL's other tabs) answers useful data from a live hub with fresh mocks, with the tour resident's token."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import FieldNode, OperationDefinitionNode, SelectionSetNode, parse

from hub.app import create_app
from mocks.common.launcher import MockConfig
from mocks.registry import MOCKS
from tests.conftest import settings_for
from tests.support import BackgroundMocks, LiveHub

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TOUR_RESIDENT = "R000002"  # the README's `ihub token` line names the same one
GRAPHQL_BLOCK = re.compile(r"```graphql\n(.*?)```", re.DOTALL)


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.graphql"))


def test_every_graphql_block_of_the_readme_is_an_example_file() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [block.strip() for block in GRAPHQL_BLOCK.findall(readme)]
    files = {path.name: path.read_text(encoding="utf-8").strip() for path in example_files()}
    assert blocks, "the README shows GraphQL"
    unknown = [block for block in blocks if block not in files.values()]
    assert unknown == [], "a README GraphQL block differs from every file in examples/"
    # the other way round holds only for the tour: examples/ is also GraphiQL's tabs (the
    # benchmark's operations, `me`), which the README names but does not quote
    tour = [name for name, text in files.items() if text in blocks]
    assert len(tour) == len(set(blocks)), "each README block is exactly one file"
    assert f"ihub token {TOUR_RESIDENT}" in readme


def test_each_example_is_one_named_operation_with_its_variables_beside_it() -> None:
    assert example_files()
    for path in example_files():
        document = parse(path.read_text(encoding="utf-8"))
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        assert len(operations) == len(document.definitions) == 1, path.name
        assert operations[0].name is not None, f"{path.name}: name the operation"
        declared = {v.variable.name.value for v in operations[0].variable_definitions or ()}
        assert set(variables_of(path)) == declared, path.name


def variables_of(path: Path) -> dict[str, Any]:
    beside = path.with_name(path.name.removesuffix(".graphql") + ".variables.json")
    return dict(json.loads(beside.read_text(encoding="utf-8"))) if beside.exists() else {}


def empty_fields(selections: SelectionSetNode, values: list[Any], path: str) -> list[str]:
    """Fields of ``selections`` that are null or empty in every one of ``values``; a
    ``userErrors`` list must be empty instead."""
    found: list[str] = []
    for selection in selections.selections:
        assert isinstance(selection, FieldNode), "examples select fields only"
        key = (selection.alias or selection.name).value
        here = f"{path}.{key}"
        answers = [value[key] for value in values if isinstance(value, dict)]
        if key == "userErrors":
            found += [f"{here}={answer}" for answer in answers if answer != []]
            continue
        items: list[Any] = []
        for answer in answers:
            items.extend(answer if isinstance(answer, list) else [answer])
        items = [item for item in items if item not in (None, "", {})]
        if not items:
            found.append(here)
        elif selection.selection_set is not None:
            found += empty_fields(selection.selection_set, items, here)
    return found


@pytest.fixture(scope="module")
def tour_hub(tmp_path_factory: pytest.TempPathFactory, var_dir: Path) -> Iterator[LiveHub]:
    """A hub on mocks of its own: the borrow example changes the library's state. It shares
    ``var_dir`` (the dev keys ``token_for`` signs with), with a database of its own."""
    mocks = BackgroundMocks(MOCKS, MockConfig(state_dir=tmp_path_factory.mktemp("tour-mocks")))
    database = tmp_path_factory.mktemp("tour-db") / "hub.db"
    settings = settings_for(mocks, var_dir)(database_url=f"sqlite:///{database}")
    live = LiveHub(create_app(settings))
    yield live
    live.close()
    mocks.close()


@pytest.mark.parametrize("path", example_files(), ids=lambda path: path.stem)
def test_the_example_answers_useful_data(
    tour_hub: LiveHub, token_for: Callable[..., str], path: Path
) -> None:
    text = path.read_text(encoding="utf-8")
    operation = parse(text).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    answer = tour_hub.graphql(text, variables_of(path), token=token_for(TOUR_RESIDENT)).json()
    assert "errors" not in answer, answer.get("errors")
    if path.stem.startswith("bench-"):
        # the benchmark's documents are copied as they are (a test keeps them equal): they
        # ask for lists a resident may have empty (holds, appointments); every root answers
        assert all(value is not None for value in answer["data"].values()), answer["data"]
        return
    assert empty_fields(operation.selection_set, [answer["data"]], "") == []
