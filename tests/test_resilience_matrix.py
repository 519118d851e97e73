"""The fault matrix: each department × each way of failing, seen through a resident's home screen.

For every department and fault, a fresh hub (small budget for that department) answers the
home screen with the other departments' data intact, within the budget plus a margin, and
with the failing department's errors only, each with its ``code`` and ``department``.

Faults come from the mocks' ``/__admin/faults`` (down, latency, garbage body, error rate).
The government departments (population exchange, civil ledger, 人社, credentials) have no
schema yet: for them the same faults are seen through their connectors, each failure typed
and mapped to the code the schema would answer (``GOV_DEPARTMENTS``).
The 429 storm uses the youth center's own limiter (``/__admin/rate-limit``); the other mocks
have no 429 to give, so for them the department's URL points at a stand-in that answers
every call ``429`` with ``Retry-After: 1``. Then the breaker: it opens, fails fast, recovers.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from threading import Event
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web

from connectors.errors import ConnectorError
from hub.app import create_app
from hub.departments import DEPARTMENTS as REGISTERED
from hub.settings import Settings
from schema.errors import upstream_code
from tests.support import BackgroundLoop, BackgroundMocks, LiveHub, MockAdmin

HOME = """{ me { library { loans { dueDate } }
  household { members { youthCenter { applications { state } } } }
  keys { id } windowAppointments { number } community { collectionPoints { id } } }
  bankWindows { branches(first: 3) { edges { node { name } } } }
  garbageSorting { categories { code } } youthCenter { courses(first: 3) { totalCount } }
  services { item(code: "GJJ-0003") { name bankBranches(first: 50) { bank name } } } }"""
RESIDENT = "R000001"
DEPARTMENTS = ("garbage", "library", "youth", "icbc", "ccb", "locks")
GOV_DEPARTMENTS = ("population", "civil", "hrss", "credentials")
BANK_NAMES = {"icbc": "工商银行", "ccb": "建设银行"}
BUDGET_S = 0.5
OPEN_S = 3.0
"""How long an opened breaker stays open in the breaker's own test."""
MARGIN_S = 1.5
"""Generous: a cold hub's first query on 2 busy CI cores; the budget is what is tested."""
EXPECTED = {
    "down": {"UPSTREAM_UNAVAILABLE"},
    "slow": {"UPSTREAM_TIMEOUT"},
    "garbage_body": {"UPSTREAM_ERROR"},
    "429_storm": {"UPSTREAM_ERROR"},  # refused after Retry-After did not fit in the budget
    "half_errors": {"UPSTREAM_UNAVAILABLE"},
}
YOUTH_DEFAULT_LIMIT = 20


def policy_env(department: str, **values: object) -> dict[str, str]:
    prefix = f"HUB_{department.upper()}_"
    return {prefix + name.upper(): str(value) for name, value in values.items()}


def small_budget(department: str) -> dict[str, str]:
    """The failing department's policy: a short budget, quick retries, no breaker."""
    return policy_env(
        department,
        timeout_s=BUDGET_S,
        read_timeout_s=BUDGET_S,
        connect_timeout_s=BUDGET_S,
        retry_base_s=0.02,
        retry_cap_s=0.1,
        breaker_min_calls=10_000,
    )


def parts(data: dict[str, Any]) -> dict[str, Any]:
    """What each department contributed to the home screen."""
    me = data["me"]
    branches = [edge["node"]["name"] for edge in data["bankWindows"]["branches"]["edges"]]
    youth_members = [m["youthCenter"] for m in me["household"]["members"] if m["youthCenter"]]
    return {
        "library": me["library"]["loans"],
        "youth": ([m["applications"] for m in youth_members], data["youthCenter"]["courses"]),
        "locks": me["keys"],
        "garbage": (me["community"]["collectionPoints"], data["garbageSorting"]["categories"]),
        "icbc": [name for name in branches if name.startswith(BANK_NAMES["icbc"])],
        "ccb": [name for name in branches if name.startswith(BANK_NAMES["ccb"])],
        # the catalogue answers from the hub's copy; an item's branches come from the banks
        "services": [
            (b["bank"].lower(), b["name"]) for b in data["services"]["item"]["bankBranches"]
        ],
    }


def home(hub: LiveHub, token: str) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    response = hub.graphql(HOME, token=token)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    return response.json(), elapsed


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One seeded database for every hub here: the cases only read, and start faster."""
    return f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'hub.db'}"


@pytest.fixture
def start_matrix_hub(
    start_hub: Callable[..., LiveHub], make_settings: Callable[..., Settings], database_url: str
) -> Callable[[dict[str, str]], LiveHub]:
    """A fresh hub (empty caches, closed breakers) with ``env`` for its departments."""

    def start(env: dict[str, str]) -> LiveHub:
        departments = make_settings(env=env).departments
        return start_hub(departments=departments, database_url=database_url)

    return start


@pytest.fixture(scope="module")
def baseline(
    make_settings: Callable[..., Settings], token_for: Callable[..., str], database_url: str
) -> dict[str, Any]:
    """The home screen with every department answering."""
    live = LiveHub(create_app(make_settings(database_url=database_url)))
    try:
        body, _ = home(live, token_for(RESIDENT))
    finally:
        live.close()
    assert "errors" not in body
    found = parts(body["data"])
    assert all(found[name] for name in ("library", "locks", "icbc", "garbage", "services"))
    assert {bank for bank, _ in found["services"]} == set(BANK_NAMES)
    return found


@pytest.fixture(scope="module")
def throttler() -> Iterator[str]:
    """A stand-in department answering every call ``429 Too Many Requests``."""

    async def refuse(request: web.Request) -> web.Response:
        body = {"error": {"code": "rate_limited", "message": "slow down"}}
        return web.json_response(body, status=429, headers={"Retry-After": "1"})

    async def start() -> tuple[web.AppRunner, str]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", refuse)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"

    loop = BackgroundLoop()
    runner, url = loop.run(start())
    yield url
    loop.run(runner.cleanup())
    loop.close()


@pytest.fixture
def admins(mocks: BackgroundMocks) -> Iterator[dict[str, MockAdmin]]:
    """Every mock's admin surface, with faults (and the youth limit) put back afterwards."""
    found = {name: MockAdmin(url) for name, url in mocks.urls.items()}
    for admin in found.values():
        admin.clear_faults()
    yield found
    for admin in found.values():
        admin.clear_faults()
    youth_limit(found["youth"], YOUTH_DEFAULT_LIMIT)


def youth_limit(admin: MockAdmin, per_second: int) -> None:
    httpx.post(f"{admin.url}/__admin/rate-limit", json={"per_second": per_second})


def inject(fault: str, department: str, admin: MockAdmin) -> None:
    if fault == "down":
        admin.faults(down=True)
    elif fault == "slow":
        admin.faults(latency_ms=BUDGET_S * 3000)
    elif fault == "garbage_body":
        admin.faults(garbage_body=True)
    elif fault == "half_errors":
        admin.faults(error_rate=0.5)
    elif fault == "429_storm" and department == "youth":
        youth_limit(admin, 1)


@pytest.mark.parametrize("fault", list(EXPECTED))
@pytest.mark.parametrize("department", DEPARTMENTS)
def test_one_failing_department_leaves_the_home_screen_standing(
    department: str,
    fault: str,
    start_matrix_hub: Callable[[dict[str, str]], LiveHub],
    token_for: Callable[..., str],
    admins: dict[str, MockAdmin],
    baseline: dict[str, Any],
    throttler: str,
) -> None:
    # given a hub with a small budget for the department, which is failing in this way
    env = small_budget(department)
    if fault == "429_storm" and department != "youth":
        env.update(policy_env(department, url=throttler))
    hub = start_matrix_hub(env)
    inject(fault, department, admins[department])
    # when the resident opens the home screen
    body, elapsed = home(hub, token_for(RESIDENT))
    # then it came within the department's budget plus a margin (an upper bound only)
    assert elapsed < BUDGET_S + MARGIN_S, f"{elapsed:.2f} s"
    # and every other department's part is intact
    found = parts(body["data"])
    for other in DEPARTMENTS:
        if other == department or (other in BANK_NAMES and department in BANK_NAMES):
            continue
        assert found[other] == baseline[other], other
    if department in BANK_NAMES:
        assert len(found["icbc"] + found["ccb"]) == 3, "the other bank's branches fill the page"
        # an item's branches: the other bank's all there, the failing bank's at most
        assert set(found["services"]) <= set(baseline["services"])
        assert {b for b in baseline["services"] if b[0] != department} <= set(found["services"])
    else:
        assert found["services"] == baseline["services"]
    # and the failing department's errors are its own, with the code of the fault
    errors = body.get("errors", [])
    assert {e["extensions"]["department"] for e in errors} <= {department}
    assert {e["extensions"]["code"] for e in errors} <= EXPECTED[fault], errors
    assert all(e["path"] for e in errors)
    if fault == "half_errors":
        # retried reads mostly get through: whatever did arrive is right
        assert found[department] == baseline[department] or errors
    else:
        assert errors, "a department failing every call is reported"
        assert department in BANK_NAMES or found[department] != baseline[department]


@pytest.mark.parametrize("department", DEPARTMENTS)
def test_the_breaker_opens_fails_fast_and_recovers(
    department: str,
    start_matrix_hub: Callable[[dict[str, str]], LiveHub],
    token_for: Callable[..., str],
    admins: dict[str, MockAdmin],
    baseline: dict[str, Any],
) -> None:
    # given a department whose breaker opens after two failures in three calls
    env = small_budget(department)
    # open long enough to be seen open: at 0.5 s, a slow run (the whole suite on 2 cores) let
    # it half-open between the request that opened it and the next, which then sent the probe
    env.update(policy_env(department, max_retries=0, breaker_min_calls=2, breaker_open_s=OPEN_S))
    hub = start_matrix_hub(env)
    token = token_for(RESIDENT)
    admin = admins[department]

    def breaker() -> str:
        return str(hub.client.get("/status").json()["departments"][department]["breaker"])

    # when it is down until the breaker opens
    admin.faults(down=True)
    for _ in range(5):
        home(hub, token)
        if breaker() == "open":
            break
    assert breaker() == "open"
    # then calls fail at once, without reaching the department
    admin.reset()
    body, _ = home(hub, token)
    assert admin.total() == 0
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}
    assert {e["extensions"]["department"] for e in body["errors"]} == {department}
    metrics = hub.client.get("/metrics").text
    assert f'ihub_breaker_state{{department="{department}"}} 2.0' in metrics
    # when the department is back and the open interval has passed
    admin.clear_faults()
    deadline = time.monotonic() + OPEN_S + 5
    while time.monotonic() < deadline and breaker() != "half_open":
        Event().wait(0.02)
    assert breaker() == "half_open"
    # then a probe goes out and succeeds, the breaker closes, and the answers are whole again
    home(hub, token)
    assert breaker() == "closed"
    body, _ = home(hub, token)
    assert "errors" not in body
    assert parts(body["data"])[department] == baseline[department]


def gov_call(department: str, connector: Any, case: dict[str, Any]) -> Awaitable[object]:
    """One representative read of a government department, for a listed case."""
    if department == "population":
        return connector.persons([case["id_number"]], purpose="MATRIX-0001")
    if department == "civil":
        return connector.entitlements(case["id_number"])
    if department == "hrss":
        return connector.insurance(case["id_number"])
    return connector.verify(case["cert_no"], case["name"])


@pytest.mark.parametrize("fault", list(EXPECTED))
@pytest.mark.parametrize("department", GOV_DEPARTMENTS)
async def test_a_failing_government_department_is_a_typed_error_within_its_budget(
    department: str,
    fault: str,
    make_settings: Callable[..., Settings],
    admins: dict[str, MockAdmin],
    throttler: str,
) -> None:
    # given the department's connector with a small budget, the department failing this way
    env = small_budget(department)
    if fault == "429_storm":
        env.update(policy_env(department, url=throttler))
    policy = make_settings(env=env).departments[department]
    admin = admins[department]
    case = cases_of(admin)["graduate_bachelor"]
    inject(fault, department, admin)
    connector_class = next(d.connector for d in REGISTERED if d.name == department)
    async with aiohttp.ClientSession() as session:
        connector = connector_class(session, policy)
        started = time.perf_counter()
        # when it is asked once
        try:
            await gov_call(department, connector, case)
            failure: ConnectorError | None = None
        except ConnectorError as exc:
            failure = exc
        elapsed = time.perf_counter() - started
    # then the answer came within the budget plus a margin, as a typed failure of that
    # department (half the calls failing may still get through on a retry)
    assert elapsed < BUDGET_S + MARGIN_S, f"{elapsed:.2f} s"
    if fault == "half_errors" and failure is None:
        return
    assert failure is not None, "a department failing every call is reported"
    assert failure.department == department
    assert upstream_code(failure) in EXPECTED[fault], repr(failure)


def cases_of(admin: MockAdmin) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{admin.url}/__admin/cases").json()["cases"]
    return found
