"""Query limits and introspection policy, through the hub's HTTP endpoint.

Each limit refuses with ``QUERY_TOO_COMPLEX`` and the measured numbers, before any resolver
runs: the garbage mock (the department every refused query here would call) sees nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import LiveHub, MockAdmin

ARTICLES = "{ garbageSorting { articles(first: 2) { edges { node { id title } } } } }"
CATEGORIES = "{ garbageSorting { categories { code } } }"
ITEMS = 'query Items($n: Int!) { garbageSorting { items(q: "电池", first: $n) { name } } }'
INTROSPECTION = "{ __schema { types { name } } }"
TYPO = "{ garbageSortin { categories { code } } }"
HOME = """query Home {
  me {
    name
    library {
      card { status fine { yuan } }
      loans { title dueDate overdue renewable book { coverUrl } }
      holds { title status pickupLibrary }
    }
    household { members { id name kind isMe youthCenter { applications { id state course { name } } } } }
    keys { id status canOpenRemotely lock { name online } }
    windowAppointments { number bank date slot status branch { name } item { name } }
    community { name collectionPoints { name address openHours { start end } accepts } }
  }
  garbageSorting {
    categories { code name binColor }
    articles(first: 5) { edges { node { id title summary coverUrl publishedAt } } }
  }
  youthCenter { courses(first: 10) { edges { node { id name fee { yuan } seatsLeft } } } }
}"""


def refusal(response: Any) -> dict[str, Any]:
    """The single QUERY_TOO_COMPLEX error's extensions; the request never reached execution."""
    body = response.json()
    assert "data" not in body or body["data"] is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    return dict(error["extensions"])


def test_too_deep_is_refused_without_an_upstream_call(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin
) -> None:
    hub = start_hub(max_depth=3)
    extensions = refusal(hub.graphql(ARTICLES))
    assert (extensions["depth"], extensions["maxDepth"]) == (5, 3)
    assert garbage.total() == 0


def test_too_many_aliases_is_refused(start_hub: Callable[..., LiveHub], garbage: MockAdmin) -> None:
    hub = start_hub(max_aliases=2)
    query = "{ garbageSorting { a: categories { code } b: categories { name } c: categories { binColor } } }"
    extensions = refusal(hub.graphql(query))
    assert (extensions["aliases"], extensions["maxAliases"]) == (3, 2)
    assert garbage.total() == 0


def test_too_many_tokens_is_refused(start_hub: Callable[..., LiveHub], garbage: MockAdmin) -> None:
    hub = start_hub(max_tokens=12)
    # { garbageSorting { articles ( first : 2 ) { edges { node { id title } } } } } : 21 tokens
    extensions = refusal(hub.graphql(ARTICLES))
    assert (extensions["tokens"], extensions["maxTokens"]) == (21, 12)
    assert garbage.total() == 0


def test_too_many_root_fields_is_refused(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin
) -> None:
    hub = start_hub(max_root_fields=2)
    query = '{ garbageSorting { categories { code } } library { book(id: "B1") { title } } bankWindows { items { code } } }'
    extensions = refusal(hub.graphql(query))
    assert (extensions["rootFields"], extensions["maxRootFields"]) == (3, 2)
    assert garbage.total() == 0


def test_cost_takes_first_from_a_variable_and_is_enforced(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin
) -> None:
    # given a hub allowing a cost of 30
    hub = start_hub(max_cost=30)
    # when a client asks for 40 items (1 + 1 + 40 × 1), then it is refused unasked
    extensions = refusal(hub.graphql(ITEMS, {"n": 40}))
    assert (extensions["estimated"], extensions["limit"]) == (42, 30)
    assert garbage.total() == 0
    # and 5 items (cost 7) are answered
    body = hub.graphql(ITEMS, {"n": 5}).json()
    assert "errors" not in body and body["data"]["garbageSorting"]["items"] is not None
    assert garbage.total() > 0


def test_a_document_is_measured_once_per_variables(
    start_hub: Callable[..., LiveHub], monkeypatch: pytest.MonkeyPatch
) -> None:
    import schema.limits

    measured: list[Any] = []
    measure = schema.limits.measure_operation

    def counting(*args: Any, **kwargs: Any) -> Any:
        measured.append(args[3])
        return measure(*args, **kwargs)

    monkeypatch.setattr(schema.limits, "measure_operation", counting)
    hub = start_hub(max_cost=30)
    outcomes = []
    for n in (5, 40, 5, 40):
        body = hub.graphql(ITEMS, {"n": n}).json()
        outcomes.append(body["errors"][0]["extensions"]["code"] if "errors" in body else "ok")
    # the cost depends on the variables: the kept measurement is per variables, never mixed
    assert outcomes == ["ok", "QUERY_TOO_COMPLEX", "ok", "QUERY_TOO_COMPLEX"]
    assert measured == [{"n": 5}, {"n": 40}]


def test_measure_mode_reports_the_cost_and_runs_the_operation(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin
) -> None:
    hub = start_hub(cost_mode="measure", max_cost=5)
    body = hub.graphql(ITEMS, {"n": 40}).json()
    assert "errors" not in body and body["data"]["garbageSorting"]["items"] is not None
    assert body["extensions"]["cost"] == {"estimated": 42, "limit": 5}
    assert garbage.total() > 0


def test_enforce_mode_adds_no_cost_extension(hub: LiveHub) -> None:
    body = hub.graphql(CATEGORIES).json()
    assert "cost" not in body.get("extensions", {})


def test_a_home_screen_passes_the_default_limits(
    hub: LiveHub, token_for: Callable[..., str]
) -> None:
    body = hub.graphql(HOME, token=token_for("R000005")).json()
    codes = {error["extensions"]["code"] for error in body.get("errors", [])}
    assert "QUERY_TOO_COMPLEX" not in codes
    assert body["data"]["me"]["household"]["members"]
    assert body["data"]["garbageSorting"]["categories"]


def test_residents_and_anonymous_callers_may_introspect(
    hub: LiveHub, token_for: Callable[..., str]
) -> None:
    for token in (None, token_for("R000001")):
        body = hub.graphql(INTROSPECTION, token=token).json()
        assert "errors" not in body
        assert {"Query", "Me"} <= {t["name"] for t in body["data"]["__schema"]["types"]}


def test_field_suggestions_for_a_resident(hub: LiveHub, token_for: Callable[..., str]) -> None:
    body = hub.graphql(TYPO, token=token_for("R000001")).json()
    assert "Did you mean 'garbageSorting'?" in body["errors"][0]["message"]


@pytest.fixture
def partner(start_hub: Callable[..., LiveHub], tmp_path: Path) -> tuple[LiveHub, str]:
    """A hub with a ``log_unknown`` partner (it may send ad-hoc documents), and its token."""
    from sqlmodel import Session

    from hub.security.manifests import register
    from hub.security.partners import add_partner
    from hub.store.db import create_tables, make_engine
    from schema import build_schema

    url = f"sqlite:///{tmp_path / 'partner.db'}"
    engine = make_engine(url)
    create_tables(engine)
    body = "query Categories { garbageSorting { categories { code } } }"
    manifest = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": hashlib.sha256(body.encode()).hexdigest(), "name": "Categories", "type": "query", "body": body}
    ]}  # fmt: skip
    with Session(engine) as session:
        client_id, secret = add_partner(session, "kiosk", name="Kiosk", mode="log_unknown")
        register(session, "kiosk", json.dumps(manifest).encode(), build_schema()._schema)
    hub = start_hub(database_url=url)
    response = hub.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    return hub, str(response.json()["access_token"])


def test_partners_may_not_introspect(partner: tuple[LiveHub, str]) -> None:
    hub, token = partner
    body = hub.graphql(INTROSPECTION, token=token).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert "data" not in body or body["data"] is None
    typename = hub.graphql("{ __typename garbageSorting { __typename } }", token=token).json()
    assert typename["data"] == {
        "__typename": "Query",
        "garbageSorting": {"__typename": "GarbageSorting"},
    }


def test_no_field_suggestions_for_a_partner(partner: tuple[LiveHub, str]) -> None:
    hub, token = partner
    body = hub.graphql(TYPO, token=token).json()
    message = body["errors"][0]["message"]
    assert "Cannot query field 'garbageSortin'" in message
    assert "Did you mean" not in message and "garbageSorting" not in message


def test_introspection_follows_the_setting(start_hub: Callable[..., LiveHub]) -> None:
    from schema.context import CallerKind

    hub = start_hub(introspection=(CallerKind.RESIDENT,))
    body = hub.graphql(INTROSPECTION).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "Did you mean" not in hub.graphql(TYPO).json()["errors"][0]["message"]
