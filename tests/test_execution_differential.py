"""The hub's executor answers exactly as graphql-core's general one (``schema.execution``).

``HubExecutionContext`` reads plain leaf fields in place instead of through ``execute_field``,
and resolvers that take nothing but ``self`` and ``info`` are called directly rather than
through strawberry's wrapper.
Every document the hub is known to serve — the README's and GraphiQL's examples, the
benchmark's operations, the banks' manifests — and operations generated from the schema run
through both executors on one live hub, back to back, and must answer the same bytes; a small
schema then puts every odd value a leaf can hold (null, an error, an awaitable, a value its
type cannot represent, a property that raises) through both.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import strawberry
from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    NameNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_introspection_query,
    get_named_type,
    is_leaf_type,
    parse,
    print_ast,
    visit,
)

from hub.app import create_app
from mocks.common.launcher import MockConfig
from mocks.registry import MOCKS
from schema.execution import HubExecutionContext, lean_resolvers, leaves_of
from tests.conftest import settings_for
from tests.support import BackgroundMocks, LiveHub
from tests.test_examples import example_files, variables_of

REPO = Path(__file__).resolve().parent.parent
RESIDENT = "R000001"  # the benchmark's resident: loans, holds, keys, a child's applications
TODAY = dt.date.today().isoformat()


def use(schema: Any, planned: type[HubExecutionContext] | None) -> None:
    """``schema`` executing with ``planned`` and the lean resolvers, or (``None``) with
    graphql-core's ``execute_field`` for every field and strawberry's resolvers."""
    schema.execution_context_class = planned or HubExecutionContext
    for resolvers in schema.lean_resolvers.values():
        resolvers.field.resolve = resolvers.lean if planned else resolvers.strawberry


class Executors:
    """The live hub's schema, switched between its own executor and the general one."""

    def __init__(self, live: LiveHub, schema: Any) -> None:
        self.live, self.schema = live, schema
        self.planned = schema.execution_context_class
        assert self.planned is not HubExecutionContext and self.planned.leaves
        assert len(schema.lean_resolvers) > 50

    def answer(self, planned: bool, body: dict[str, Any], headers: dict[str, str]) -> Any:
        use(self.schema, self.planned if planned else None)
        try:
            response = self.live.client.post("/graphql", json=body, headers=headers)
        finally:
            use(self.schema, self.planned)
        return response.status_code, response.json()

    def compare(self, body: dict[str, Any], headers: dict[str, str]) -> Any:
        """Both executors' answers, after a first run that fills the hub's caches. Live data
        (a queue, a gateway) may change when a department's cache entry ends between two
        requests: the planned answer must then equal the general one made just after it."""
        self.answer(False, body, headers)
        general = self.answer(False, body, headers)
        planned = self.answer(True, body, headers)
        if planned != general:
            general = self.answer(False, body, headers)
        assert planned == general, json.dumps(body)[:300]
        return planned


@pytest.fixture(scope="module")
def executors(tmp_path_factory: pytest.TempPathFactory, var_dir: Path) -> Iterator[Executors]:
    """A hub on mocks of its own, without its response cache (every request executes)."""
    mocks = BackgroundMocks(MOCKS, MockConfig(state_dir=tmp_path_factory.mktemp("diff-mocks")))
    database = tmp_path_factory.mktemp("diff-db") / "hub.db"
    settings = settings_for(mocks, var_dir)(
        database_url=f"sqlite:///{database}",
        response_cache=False,
        # the generated operations ask for everything at once
        max_aliases=10_000,
        max_cost=10**9,
        max_tokens=10**6,
        max_depth=64,
    )
    app = create_app(settings)
    live = LiveHub(app)
    yield Executors(live, app.state.schema)
    live.close()
    mocks.close()


@pytest.fixture(scope="module")
def resident(token_for: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(RESIDENT)}"}


def known_queries() -> list[tuple[str, str, dict[str, Any]]]:
    """(name, document, variables) of every query of ``examples/``: the README's, GraphiQL's
    tabs and the benchmark's operations (``bench-*``, kept equal to ``bench/operations``)."""
    known = []
    for path in example_files():
        text = path.read_text(encoding="utf-8")
        if "mutation" not in text.split("{", 1)[0]:
            known.append((path.stem, text, variables_of(path)))
    return known


@pytest.mark.parametrize(
    ("name", "document", "variables"), known_queries(), ids=[k[0] for k in known_queries()]
)
def test_known_documents_answer_the_same(
    executors: Executors, resident: dict[str, str], name: str, document: str, variables: Any
) -> None:
    status, answer = executors.compare({"query": document, "variables": variables}, resident)
    assert status == 200 and answer.get("data"), name


@pytest.mark.parametrize("bank", ["icbc", "ccb"])
def test_the_banks_manifests_answer_the_same(executors: Executors, bank: str) -> None:
    manifest = json.loads((REPO / "partners" / f"{bank}.manifest.json").read_text())
    secret = {"client_id": f"{bank}-window-dev", "client_secret": f"dev-{bank}-partner-secret"}
    granted = executors.live.client.post(
        "/oauth/token", data={"grant_type": "client_credentials", **secret}
    )
    headers = {"Authorization": f"Bearer {granted.json()['access_token']}"}
    variables = {"date": TODAY, "consentId": "no-such-consent"}
    answered = 0
    for operation in manifest["operations"]:
        if operation["type"] != "query":
            continue  # the mutations' effects would differ; their fields are the queries'
        used = {k: v for k, v in variables.items() if f"${k}" in operation["body"]}
        body = {"documentId": f"sha256:{operation['id']}", "variables": used}
        status, answer = executors.compare(body, headers)
        assert status == 200 and ("data" in answer or "errors" in answer), operation["name"]
        answered += 1
    assert answered >= 5


def test_introspection_answers_the_same(executors: Executors, resident: dict[str, str]) -> None:
    status, answer = executors.compare({"query": get_introspection_query()}, resident)
    assert status == 200 and answer["data"]["__schema"]["types"]
    status, answer = executors.compare({"query": "{ _service { sdl } }"}, resident)
    assert status == 200 and "type Query" in answer["data"]["_service"]["sdl"]


def generated_queries(schema: GraphQLSchema, depth: int = 4) -> list[tuple[str, str]]:
    """A query per root field that needs no argument: every field below it that needs none,
    to ``depth``, ``__typename`` everywhere, the members of an interface or union by inline
    fragments, and the first leaf of each selection again under an alias and under a
    ``@skip``/``@include`` pair."""

    def selection(type_: Any, level: int) -> str:
        named = get_named_type(type_)
        if is_leaf_type(named):
            return ""
        if level >= depth:
            return "{ __typename }"
        if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
            members = schema.get_possible_types(named)
            parts = [f"... on {m.name} {selection(m, level)}" for m in members]
            return "{ __typename " + " ".join(parts) + " }"
        parts = ["__typename"]
        doubled = False
        for name, field in named.fields.items():
            if name.startswith("_") or _needs_arguments(field):
                continue
            below = selection(field.type, level + 1)
            parts.append(f"{name} {below}".strip())
            if not below and not doubled:
                parts += [f"alias_{name}: {name}", f"{name} @skip(if: true) @include(if: true)"]
                doubled = True
        return "{ " + " ".join(parts) + " }"

    query = schema.query_type
    assert query is not None
    return [
        (name, f"query Generated {{ {name} {selection(field.type, 1)} }}")
        for name, field in query.fields.items()
        if not name.startswith("_") and not _needs_arguments(field)
    ]


def widened(schema: GraphQLSchema, document: str) -> str:
    """``document`` with every selection set also asking for each leaf field of its type that
    needs no argument, one of them under an alias, and ``__typename``: a known operation's
    arguments lead into parts of the schema a generated one cannot reach."""
    type_info = TypeInfo(schema)

    class Widen(Visitor):
        def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> SelectionSetNode:
            named = get_named_type(type_info.get_type())
            if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
                return node
            asked = {s.name.value for s in node.selections if isinstance(s, FieldNode)}
            extra: list[FieldNode] = [FieldNode(name=NameNode(value="__typename"))]
            for name, field in named.fields.items():
                if name in asked or _needs_arguments(field):
                    continue
                if is_leaf_type(get_named_type(field.type)):
                    alias = None if len(extra) > 1 else NameNode(value=f"widened_{name}")
                    extra.append(FieldNode(name=NameNode(value=name), alias=alias))
            return SelectionSetNode(selections=(*node.selections, *extra))

    return print_ast(visit(parse(document), TypeInfoVisitor(type_info, Widen())))


def _needs_arguments(field: GraphQLField) -> bool:
    return any(isinstance(a.type, GraphQLNonNull) for a in field.args.values())


def leaf_values(answer: Any) -> int:
    """How many non-null scalars an answer holds."""
    if isinstance(answer, dict):
        return sum(leaf_values(value) for value in answer.values())
    if isinstance(answer, list):
        return sum(leaf_values(value) for value in answer)
    return 0 if answer is None else 1


def test_generated_operations_answer_the_same(
    executors: Executors, resident: dict[str, str]
) -> None:
    queries = generated_queries(executors.schema._schema)
    assert {"me", "services", "bankWindows", "garbageSorting"} <= {name for name, _ in queries}
    answered = {}
    for name, document in queries:
        status, answer = executors.compare({"query": document}, resident)
        assert status == 200, (name, answer)
        answered[name] = leaf_values(answer.get("data"))
    # they reach far into the schema: the resident's own data across the departments too
    assert answered["me"] > 200 and sum(answered.values()) > 2_000, answered


@pytest.mark.parametrize(
    ("name", "document", "variables"), known_queries(), ids=[k[0] for k in known_queries()]
)
def test_widened_known_documents_answer_the_same(
    executors: Executors, resident: dict[str, str], name: str, document: str, variables: Any
) -> None:
    wider = widened(executors.schema._schema, document)
    assert len(wider) > len(document) / 2 and "widened_" in wider
    status, answer = executors.compare({"query": wider, "variables": variables}, resident)
    assert status == 200 and answer.get("data"), (name, answer.get("errors"))


# -- every odd value a leaf can hold, through both executors ------------------------------


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    name: str
    nickname: str | None
    count: int
    ratio: float
    colour: Colour
    day: dt.date
    tags: list[str]
    child: Item | None


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Person(Named):
    age: int


class Raises(Item):
    @property  # type: ignore[override]
    def name(self) -> str:
        raise LookupError("the name is not there")


class later:  # lower case: read as a call, item(name=later("x"))
    """An awaitable of ``value`` (not a coroutine: one a query never reads warns nothing)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        yield from asyncio.sleep(0).__await__()
        return self.value


def item(**values: Any) -> Item:
    fields: dict[str, Any] = {
        "name": "a",
        "nickname": None,
        "count": 1,
        "ratio": 0.5,
        "colour": Colour.RED,
        "day": dt.date(2026, 12, 7),
        "tags": ["x"],
        "child": None,
    }
    fields.update(values)
    return Item(**fields)


def odd_items() -> list[Any]:
    broken = object.__new__(Raises)
    for key, value in vars(item()).items():
        if key != "name":
            object.__setattr__(broken, key, value)
    missing = item()
    del missing.__dict__["count"]
    return [
        item(),
        item(name=None),
        item(nickname="nick", child=item(name="child", count=None)),
        item(count="many"),
        item(count=2**40),
        item(count=True, ratio=3),
        item(ratio=float("nan")),
        item(colour="green"),
        item(colour="red"),
        item(day="2026-12-07"),
        item(name=ValueError("an error as the value")),
        item(name=later("awaited"), count=later(7)),
        item(name=later(None)),
        item(name=42, tags=[None]),
        item(name=object()),
        broken,
        missing,
    ]


@strawberry.type
class Resolved:
    value: strawberry.Private[Any]

    @strawberry.field
    def plain(self) -> int:
        if isinstance(self.value, Exception):
            raise self.value
        return self.value  # type: ignore[no-any-return]

    @strawberry.field
    async def awaited(self) -> str:
        await asyncio.sleep(0)
        if isinstance(self.value, Exception):
            raise self.value
        return str(self.value) if self.value is not None else None  # type: ignore[return-value]

    @strawberry.field
    def named(self, info: strawberry.Info) -> str:
        return f"{info.field_name} at {info.path.as_list()}: {self.value!r}"

    @strawberry.field
    def returned(self) -> int | None:
        return ValueError("returned, not raised") if self.value == 0 else self.value  # type: ignore[return-value]

    @strawberry.field
    def nested(self) -> Resolved | None:
        return Resolved(value=None) if self.value == 1 else None

    @strawberry.field
    @staticmethod
    def constant() -> str:
        return "constant"


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return odd_items()

    @strawberry.field
    def resolved(self) -> list[Resolved | None]:
        values = [1, None, 0, "many", LookupError("raised"), 2**40]
        return [Resolved(value=value) for value in values]

    @strawberry.field
    def strict(self) -> list[Item]:
        return [item(), item(count=None)]

    @strawberry.field
    def people(self) -> list[Named]:
        return [Person(name="p", age=3), Person(name=None, age=4)]  # type: ignore[arg-type]


ODD_QUERIES = [
    "{ items { name nickname count ratio colour day tags child { name count } } }",
    "{ items { n: name name ...F __typename } } fragment F on Item { count c: count colour }",
    "query($s: Boolean!) { items { name @skip(if: $s) count @include(if: $s) } }",
    "{ strict { name count } }",
    "{ people { __typename name ... on Person { age } } }",
    "{ items { child { child { name } } nickname } strict { day } }",
    "{ resolved { plain awaited named returned constant nested { plain named } } }",
    "{ resolved { p: plain ...R } } fragment R on Resolved { named awaited }",
]


@pytest.mark.parametrize("document", ODD_QUERIES)
def test_odd_values_are_answered_as_the_general_executor_does(document: str) -> None:
    schema: Any = strawberry.Schema(query=Query, execution_context_class=HubExecutionContext)
    planned = HubExecutionContext.for_schema(schema._schema)
    assert {f for leaves in planned.leaves.values() for f in leaves} >= {"name", "count", "day"}
    schema.lean_resolvers = lean_resolvers(schema)
    assert {name for _, name in schema.lean_resolvers} >= {"plain", "awaited", "named", "constant"}

    def run(executor: type[HubExecutionContext] | None) -> tuple[Any, list[Any]]:
        use(schema, executor)
        result = asyncio.run(schema.execute(document, variable_values={"s": True}))
        return result.data, [error.formatted for error in result.errors or []]

    general = run(None)
    assert run(planned) == general
    assert general[0] is not None or general[1]


def test_leaves_are_fields_without_a_resolver_or_arguments() -> None:
    schema = strawberry.Schema(query=Query)
    leaves = leaves_of(schema._schema)
    item_type = schema._schema.type_map["Item"]
    assert isinstance(item_type, GraphQLObjectType)
    assert set(leaves[item_type]) == {"name", "nickname", "count", "ratio", "colour", "day"}
    assert {leaf.non_null for leaf in leaves[item_type].values()} == {True, False}
    query_type = schema._schema.type_map["Query"]
    assert query_type not in leaves  # resolvers
    items = query_type.fields["items"]  # type: ignore[attr-defined]
    assert isinstance(items, GraphQLField) and isinstance(items.type, GraphQLNonNull)
    assert isinstance(items.type.of_type, GraphQLList)
