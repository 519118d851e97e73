"""The hub as a Federation 2 subgraph, asked directly the way a gateway asks it.

``_service { sdl }`` is the checked-in schema; ``_entities`` resolves public entities through
the request's loaders (the library's batch endpoint: fifty books, one call), is bounded and
costed per representation, refuses what is not an entity's representation, and partners may
no more read the SDL than introspect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import LiveHub, MockAdmin
from tests.test_partners import ICBC, token

REPO = Path(__file__).resolve().parent.parent
BOOKS = "GET /opac/api/book/batch"
COURSE = "GET /api/v1/courses/{course_id}"
SERVICE = "{ _service { sdl } }"
ENTITIES = """query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Book { id title author }
    ... on Course { id name fee { yuan } }
    ... on BankBranch { id bank name }
  }
}"""


@pytest.fixture
def library(mocks: Any) -> Iterator[MockAdmin]:
    admin = MockAdmin(mocks.urls["library"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


@pytest.fixture
def youth(mocks: Any) -> Iterator[MockAdmin]:
    admin = MockAdmin(mocks.urls["youth"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


def entities(hub: LiveHub, representations: list[Any], **kwargs: Any) -> dict[str, Any]:
    return dict(hub.graphql(ENTITIES, {"representations": representations}, **kwargs).json())


def book_ids(hub: LiveHub, count: int) -> list[str]:
    """Catalogue ids from searches (so the test does not know the mock's numbering)."""
    found: list[str] = []
    after = None
    while len(found) < count:
        body = hub.graphql(
            'query($after: String) { library { search(query: "的", first: 50, after: $after) {'
            " edges { node { id } } pageInfo { hasNextPage endCursor } } } }",
            {"after": after},
        ).json()
        page = body["data"]["library"]["search"]
        found += [e["node"]["id"] for e in page["edges"] if e["node"]["id"] not in found]
        assert page["pageInfo"]["hasNextPage"] or len(found) >= count, "too few books"
        after = page["pageInfo"]["endCursor"]
    return found[:count]


def course_ids(hub: LiveHub, count: int) -> list[str]:
    body = hub.graphql(
        "query($n: Int!) { youthCenter { courses(first: $n) { edges { node { id } } } } }",
        {"n": count},
    ).json()
    return [e["node"]["id"] for e in body["data"]["youthCenter"]["courses"]["edges"]]


def test_the_sdl_a_gateway_reads_is_the_checked_in_schema(hub: LiveHub) -> None:
    sdl = hub.graphql(SERVICE).json()["data"]["_service"]["sdl"]
    assert sdl + "\n" == (REPO / "schema.graphql").read_text(encoding="utf-8")
    assert '@link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])' in sdl


def test_partners_may_not_read_the_sdl(start_hub: Callable[..., LiveHub], tmp_path: Path) -> None:
    # given a partner allowed ad-hoc documents (log_unknown): the SDL is still introspection
    from sqlmodel import Session

    from hub.security.partners import add_partner
    from hub.store.db import create_tables, make_engine

    url = f"sqlite:///{tmp_path / 'partner.db'}"
    engine = make_engine(url)
    create_tables(engine)
    with Session(engine) as session:
        client_id, secret = add_partner(session, "kiosk", name="Kiosk", mode="log_unknown")
    engine.dispose()
    hub = start_hub(database_url=url)
    bearer = token(hub, {"client_id": client_id, "client_secret": secret})
    body = hub.graphql(SERVICE, token=bearer).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert body.get("data") is None
    # and a bank (ids_only) never gets as far as the policy: the document is not its own
    body = hub.graphql(SERVICE, token=token(hub, ICBC)).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PERSISTED_QUERY_NOT_ALLOWED"]


def test_fifty_books_by_reference_take_one_catalogue_batch(
    start_hub: Callable[..., LiveHub], library: MockAdmin
) -> None:
    # given a fresh hub and fifty catalogue ids
    ids = book_ids(start_hub(), 50)
    hub = start_hub()
    library.reset()
    representations = [{"__typename": "Book", "id": i} for i in ids]
    # when a gateway asks for all of them at once
    body = entities(hub, representations)
    # then they come back in order from one batch of fifty
    assert "errors" not in body, body
    found = body["data"]["_entities"]
    assert [b["id"] for b in found] == ids
    assert all(b["__typename"] == "Book" and b["title"] for b in found)
    assert library.calls(BOOKS) == 1 and library.stats()["batch_sizes"][BOOKS] == [50]
    # and a repeat is answered from the catalogue cache
    before = library.total()
    assert entities(hub, representations)["data"] == body["data"]
    assert library.total() == before
    # and a book the library does not know is null, not an error
    unknown = entities(hub, [{"__typename": "Book", "id": "B-NO-SUCH-BOOK"}])
    assert unknown == {"data": {"_entities": [None]}}


def test_courses_by_reference_make_one_call_per_distinct_course_and_stay_cached(
    start_hub: Callable[..., LiveHub], youth: MockAdmin
) -> None:
    # given ten course ids, each asked for twice (the center has no batch endpoint)
    ids = course_ids(start_hub(), 10)
    hub = start_hub()
    youth.reset()
    representations = [{"__typename": "Course", "id": i} for i in ids + ids]
    # when a gateway resolves them
    body = entities(hub, representations)
    # then the request's loader asked the center once per distinct course
    assert "errors" not in body, body
    assert [c["id"] for c in body["data"]["_entities"]] == ids + ids
    assert youth.calls(COURSE) == 10 and youth.total() == 10
    # and the next gateway request within the TTL asks for none again
    entities(hub, representations)
    assert youth.total() == 10


def test_branches_by_reference_carry_the_bank_in_their_key(hub: LiveHub) -> None:
    body = hub.graphql("{ bankWindows { branches(first: 50) { edges { node { id bank } } } } }")
    branches = [e["node"] for e in body.json()["data"]["bankWindows"]["branches"]["edges"]]
    some = [next(b for b in branches if b["bank"] == bank) for bank in ("ICBC", "CCB")]
    representations = [{"__typename": "BankBranch", **b} for b in some]
    representations.append({"__typename": "BankBranch", "bank": "ICBC", "id": "no-such-branch"})
    found = entities(hub, representations)["data"]["_entities"]
    assert [(b["id"], b["bank"]) for b in found[:2]] == [(b["id"], b["bank"]) for b in some]
    assert all(b["name"] for b in found[:2]) and found[2] is None


@pytest.mark.parametrize(
    "representation",
    [
        {"__typename": "Me", "id": "R000001"},  # personal: not an entity
        {"__typename": "LibraryCard", "id": "LH000001"},
        {"__typename": "Book"},  # no key
        {"__typename": "Book", "id": 7},
        {"__typename": "Book", "id": "x" * 129},
        {"__typename": "BankBranch", "bank": "NOBANK", "id": "B1"},
        {"id": "B1"},
        "Book:B1",
    ],
)
def test_what_is_not_an_entitys_representation_is_bad_input(
    hub: LiveHub, representation: Any
) -> None:
    body = entities(hub, [{"__typename": "Book", "id": "B1"}, representation])
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == "representations"
    # the whole (non-null) field, or (an unknown bank, only the resolver knows banks) that item
    assert body["data"] in (None, {"_entities": [None, None]})


def test_representations_are_bounded_before_any_department_is_called(
    hub: LiveHub, library: MockAdmin
) -> None:
    body = entities(hub, [{"__typename": "Book", "id": f"B{n}"} for n in range(101)])
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "representations"}
    assert library.total() == 0


def test_entities_cost_their_selection_once_per_representation(
    start_hub: Callable[..., LiveHub], library: MockAdmin
) -> None:
    # given a hub allowing a cost of 100: ENTITIES costs 1 + n × (3 + 4 + 3) = 1 + 10n
    hub = start_hub(max_cost=100)
    nine = [{"__typename": "Book", "id": f"B{n}"} for n in range(9)]
    body = entities(hub, [*nine, {"__typename": "Book", "id": "B9"}])
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert (error["extensions"]["estimated"], error["extensions"]["limit"]) == (101, 100)
    assert library.total() == 0
    # and nine (cost 91) are answered
    assert "errors" not in entities(hub, nine)
    # and representations written in the document count the same as a variable's
    listed = ", ".join(f'{{__typename: "Book", id: "B{n}"}}' for n in range(10))
    before = library.total()
    document = ENTITIES.replace("($representations: [_Any!]!)", "")
    literal = hub.graphql(document.replace("$representations", f"[{listed}]")).json()
    assert literal["errors"][0]["extensions"]["estimated"] == 101
    assert library.total() == before


ITEM_ENTITIES = """query ItemEntities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on ServiceItem { code name promisedDays }
  }
}"""


def test_service_items_by_reference_are_answered_from_the_hubs_copy(
    hub: LiveHub, mocks: Any
) -> None:
    # given twenty items' implementation codes, read once the hub's copy is filled
    page = hub.graphql("{ services { items(first: 20) { edges { node { code name } } } } }").json()
    nodes = [edge["node"] for edge in page["data"]["services"]["items"]["edges"]]
    assert len(nodes) == 20
    catalogue = MockAdmin(mocks.urls["catalogue"])
    catalogue.reset()
    # when a gateway asks for all of them, and for an item by its local code (not its key)
    representations = [{"__typename": "ServiceItem", "code": n["code"]} for n in nodes]
    representations.append({"__typename": "ServiceItem", "code": "GJJ-0003"})
    body = hub.graphql(ITEM_ENTITIES, {"representations": representations}).json()
    # then each comes back in order, the local code is no key, and the catalogue was not asked
    assert "errors" not in body, body
    found = body["data"]["_entities"]
    assert [(f["code"], f["name"]) for f in found[:20]] == [(n["code"], n["name"]) for n in nodes]
    assert found[20] is None
    assert catalogue.total() == 0
