"""The hub behind a real federation gateway, composed with another team's subgraph.

The stack, started here on free loopback ports: the hub (depth limit 6 and a burst of 10
requests per resident, so limits are easy to reach) on the running mocks; ``tests/node/ratings-subgraph.mjs``, which extends the hub's
``Course`` with ``rating`` and has ``featuredCourses`` references of its own; both subgraphs'
``_service { sdl }`` composed by Apollo's composition *and* The Guild's (both must accept
it); and Hive Gateway (``tests/node/gateway.mjs``) serving The Guild's supergraph, passing
the caller's ``Authorization`` to the hub and sending it automatic persisted queries.

What a gateway must not change: a resident's ``me`` works with their token and is audited,
the same depth refusal comes back, the resident's one rate-limit bucket counts both routes, partners stay bound to their manifests, and the hub's
persisted-query protocol carries the gateway's documents.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from hub.app import create_app
from hub.security.ratelimit import BucketPolicy
from hub.settings import Settings
from hub.store.db import drop_tables, make_engine
from hub.store.models import AuditRecord, PersistedDocument
from schema.context import CallerKind
from tests.serving import free_ports
from tests.support import LiveHub, MockAdmin
from tests.test_partners import ICBC, token

NODE_DIR = Path(__file__).resolve().parent / "node"
URLS = ["sqlite"] + (["postgresql"] if os.environ.get("HUB_TEST_DATABASE_URL") else [])
COURSE = "GET /api/v1/courses/{course_id}"
MAX_DEPTH = 6
RESIDENT_BURST = 10  # hub requests per resident for the module (one more per 100 s)
COURSES_WITH_RATINGS = """query CoursesWithRatings {
  youthCenter { courses(first: 3) { edges { node { id name rating { stars reviews } } } } }
}"""
FEATURED = "query Featured { featuredCourses { id name fee { yuan } rating { stars } } }"
MY_NAME = "query MyName { me { name } }"
TOO_DEEP = """query TooDeep { me { household { members { youthCenter { applications {
  course { schedule { weekday } } } } } } } }"""
BANK_ITEMS = "query BankItems { bankWindows { items { code } } }"


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``ready()`` until it holds, the process ends (fail with its log), or 60 s pass."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args} ended early: {log.read_text()}")
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # another process starting: poll it until the deadline
    raise AssertionError(f"{process.args} never became ready: {log.read_text()}")


@dataclass
class Stack:
    hub: LiveHub
    database_url: str
    gateway_url: str
    ratings_url: str
    composed: dict[str, Any]
    featured: list[str]

    def ask(self, query: str, *, bearer: str | None = None) -> dict[str, Any]:
        """The gateway's answer; ``sent()`` then lists what this request sent the subgraphs."""
        self.sent()
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        response = httpx.post(
            f"{self.gateway_url}/graphql", json={"query": query}, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def sent(self) -> list[dict[str, Any]]:
        """What the gateway sent the subgraphs since the last call."""
        return list(httpx.get(f"{self.gateway_url}/__sent", timeout=10).json())

    def records(self) -> list[AuditRecord]:
        with Session(engine := make_engine(self.database_url)) as session:
            found = list(session.exec(select(AuditRecord).order_by(AuditRecord.seq)).all())
        engine.dispose()
        return found

    def persisted(self) -> dict[str, str]:
        with Session(engine := make_engine(self.database_url)) as session:
            found = {d.sha256: d.body for d in session.exec(select(PersistedDocument)).all()}
        engine.dispose()
        return found


def start_node(script: str, *args: str, logs: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = logs / f"{script}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["node", script, *args], cwd=NODE_DIR, stdout=out, stderr=subprocess.STDOUT
        )
    return process, log


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module", params=URLS)
def stack(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    assert shutil.which("node"), "Node.js is needed for the gateway tests"
    assert (NODE_DIR / "node_modules" / "@graphql-hive" / "gateway-runtime").exists(), (
        "run `npm ci --prefix tests/node` (scripts/test does)"
    )
    logs = tmp_path_factory.mktemp("gateway")
    if request.param == "sqlite":
        database_url = f"sqlite:///{logs / 'hub.db'}"
    else:
        database_url = os.environ["HUB_TEST_DATABASE_URL"]
        engine = make_engine(database_url)
        drop_tables(engine)
        engine.dispose()
    limits = {kind: BucketPolicy(kind.value, 100_000, 10_000.0) for kind in CallerKind}
    limits[CallerKind.RESIDENT] = BucketPolicy("resident", RESIDENT_BURST, 0.01)
    settings = make_settings(database_url=database_url, max_depth=MAX_DEPTH, rate_limits=limits)
    hub = LiveHub(create_app(settings))
    started: list[subprocess.Popen[bytes]] = []
    try:
        courses = hub.graphql("{ youthCenter { courses(first: 5) { edges { node { id } } } } }")
        featured = [
            e["node"]["id"] for e in courses.json()["data"]["youthCenter"]["courses"]["edges"]
        ]
        ratings_port = free_ports(1)
        ratings_url = f"http://127.0.0.1:{ratings_port}"
        ratings, log = start_node(
            "ratings-subgraph.mjs", str(ratings_port), ",".join(featured), logs=logs
        )
        started.append(ratings)
        wait_until(lambda: httpx.get(f"{ratings_url}/stats").is_success, ratings, log)
        supergraph = logs / "supergraph.graphql"
        composed = subprocess.run(
            ["node", "compose.mjs", str(supergraph),
             f"hub={hub.url}/graphql", f"ratings={ratings_url}/graphql"],
            cwd=NODE_DIR, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert composed.returncode == 0, composed.stderr
        gateway_port = free_ports(1)
        gateway, log = start_node("gateway.mjs", str(gateway_port), str(supergraph), logs=logs)
        started.append(gateway)
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        wait_until(lambda: httpx.get(f"{gateway_url}/readiness").is_success, gateway, log)
        yield Stack(
            hub, database_url, gateway_url, ratings_url, json.loads(composed.stdout), featured
        )
    finally:
        for process in reversed(started):
            stop(process)
        hub.close()


@pytest.fixture
def youth(mocks: Any) -> Iterator[MockAdmin]:
    admin = MockAdmin(mocks.urls["youth"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


def test_both_composers_accept_the_hub_with_another_subgraph(stack: Stack) -> None:
    assert stack.composed == {
        "apollo": {"errors": [], "supergraph": True},
        "guild": {"errors": [], "supergraph": True},
    }


def test_the_gateway_joins_the_hubs_courses_with_their_ratings(stack: Stack) -> None:
    body = stack.ask(COURSES_WITH_RATINGS)
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["youthCenter"]["courses"]["edges"]]
    assert [n["id"] for n in nodes] == stack.featured[:3]
    assert all(n["name"] and 3 <= n["rating"]["stars"] <= 5 for n in nodes)
    # one request to each subgraph: the three ratings in one `_entities` call
    sent = stack.sent()
    to_ratings = [s for s in sent if s["url"].startswith(stack.ratings_url)]
    assert len(to_ratings) == 1 and "_entities" in (to_ratings[0]["query"] or "")


def test_references_from_the_other_subgraph_resolve_in_one_hub_call(
    stack: Stack, youth: MockAdmin
) -> None:
    # when the ratings team's featured courses are completed from the hub
    body = stack.ask(FEATURED)
    assert "errors" not in body, body
    featured = body["data"]["featuredCourses"]
    assert [c["id"] for c in featured] == stack.featured
    assert all(c["name"] and c["fee"]["yuan"] for c in featured)
    # then the hub got one `_entities` operation for all five (one upstream call per course
    # the cache did not have: the center has no batch endpoint)
    to_hub = [s for s in stack.sent() if s["url"].startswith(stack.hub.url)]
    documents = {s["sha256Hash"] for s in to_hub}
    assert len(documents) == 1
    assert youth.calls(COURSE) == len(stack.featured)


def test_a_residents_token_passes_through_and_the_read_is_audited(
    stack: Stack, token_for: Callable[..., str]
) -> None:
    before = len(stack.records())
    # when a resident asks the gateway for their name with their own token
    body = stack.ask(MY_NAME, bearer=token_for("R000002"))
    # then the hub answers it for that resident and writes one audit record
    assert "errors" not in body, body
    assert body["data"]["me"]["name"]
    new = stack.records()[before:]
    assert [(r.principal_kind, r.principal) for r in new] == [("resident", "R000002")]
    assert json.loads(new[0].subjects) == ["R000002"]
    assert json.loads(new[0].fields) == ["me", "me.name"]
    # and the token went to the hub only, never to the other team's subgraph
    sent = stack.sent()
    assert [s["authorization"] for s in sent if s["url"].startswith(stack.hub.url)]
    assert all(s["url"].startswith(stack.hub.url) for s in sent if s["authorization"])


def test_without_a_token_me_is_unauthenticated_as_it_is_directly(stack: Stack) -> None:
    body = stack.ask(MY_NAME)
    direct = stack.hub.graphql(MY_NAME).json()
    assert body["data"] == direct["data"] == {"me": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == direct["errors"][0]["message"]


def test_a_too_deep_query_is_refused_the_same_way_through_the_gateway(
    stack: Stack, token_for: Callable[..., str], youth: MockAdmin
) -> None:
    bearer = token_for("R000005")
    body = stack.ask(TOO_DEEP, bearer=bearer)
    direct = stack.hub.graphql(TOO_DEEP, token=bearer).json()
    [error], [direct_error] = body["errors"], direct["errors"]
    assert direct_error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX", "depth": 8, "maxDepth": MAX_DEPTH,
    }  # fmt: skip
    assert {k: error["extensions"][k] for k in direct_error["extensions"]} == (
        direct_error["extensions"]
    )
    assert error["message"] == direct_error["message"]
    assert youth.total() == 0, "refused before any department was called"


def test_the_gateways_documents_go_through_the_hubs_persisted_queries(
    stack: Stack, token_for: Callable[..., str]
) -> None:
    bearer = token_for("R000004")
    # the first time, the hub does not know the gateway's document: hash, then hash + query
    stack.ask("query MyCommunity { me { community { name } } }", bearer=bearer)
    first = [s for s in stack.sent() if s["url"].startswith(stack.hub.url)]
    assert [bool(s["query"]) for s in first] == [False, True]
    digest = first[0]["sha256Hash"]
    assert first[1]["sha256Hash"] == digest
    assert stack.persisted()[digest] == first[1]["query"]
    # the next time, the hash alone is enough
    body = stack.ask("query MyCommunity { me { community { name } } }", bearer=bearer)
    assert body["data"]["me"]["community"]["name"]
    again = [s for s in stack.sent() if s["url"].startswith(stack.hub.url)]
    assert [(bool(s["query"]), s["sha256Hash"]) for s in again] == [(False, digest)]
    # and the audit record names the document the hub ran
    assert stack.records()[-1].document_hash == digest


def test_a_partner_stays_bound_to_its_manifest_through_the_gateway(stack: Stack) -> None:
    bearer = token(stack.hub, ICBC)
    body = stack.ask(BANK_ITEMS, bearer=bearer)
    direct = stack.hub.graphql(BANK_ITEMS, token=bearer).json()
    assert [e["extensions"]["code"] for e in direct["errors"]] == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert body["data"] in (None, {"bankWindows": None})


def test_a_residents_rate_limit_counts_gateway_and_direct_requests_alike(
    stack: Stack, token_for: Callable[..., str]
) -> None:
    bearer = token_for("R000010")
    # when the resident spends their burst through the gateway
    codes: list[str] = []
    for _ in range(RESIDENT_BURST + 1):
        body = stack.ask(MY_NAME, bearer=bearer)
        codes += [e["extensions"]["code"] for e in body.get("errors", [])]
        if codes:
            break
    # then the gateway relays the hub's refusal
    assert codes and set(codes) == {"RATE_LIMITED"}, codes
    # and the same resident asking the hub directly finds the same bucket empty
    direct = stack.hub.graphql(MY_NAME, token=bearer)
    assert direct.status_code == 429
    assert [e["extensions"]["code"] for e in direct.json()["errors"]] == ["RATE_LIMITED"]
