"""The registry's bulk export (mock): everyone born on a day made from the indices the birth date
encodes, each person once, mobiles; the export endpoint over HTTP, signed and purposed, its
cursor bound to the query, its page size and the exchange's rate limit."""

from __future__ import annotations

import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import orjson
import pytest

from mocks.common import people
from mocks.common.population import LUOHU, Person, Population, mobile_of
from mocks.population.exchange import sign, string_to_sign
from mocks.population.export import Position, Query, persons_from
from tests.gov import fresh_admin, set_rate_limit, start_mock
from tests.support import BackgroundMocks, MockAdmin

AS_OF = date(2026, 12, 3)
SEED = 20261127
SIZE = 20_000
PATH = "/exchange/v1/person/export"
PURPOSE = "11440303MB2C93316W4000118004"
EXPORT = f"POST {PATH}"


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(SIZE, seed=SEED, as_of=AS_OF)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = start_mock("population", tmp_path_factory, population=SIZE, as_of=AS_OF)
    yield mocks
    mocks.close()


@pytest.fixture
def exchange(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = fresh_admin(running.urls["population"])
    set_rate_limit(admin.url, 30)
    yield admin
    set_rate_limit(admin.url, 30)


def everyone(population: Population) -> list[Person]:
    """Every registry person, found without ``born_on``: the adults and the households."""
    found = {population.adult(n).id_number: population.adult(n) for n in range(1, SIZE + 1)}
    for k in range(1, people.RESIDENTS // 2 + 1):
        members = population.household(f"H{k:04d}")
        assert members is not None
        found.update((m.id_number, m) for m in members)
    return list(found.values())


def post(
    exchange: MockAdmin, body: dict[str, Any], *, purpose: str | None = PURPOSE
) -> httpx.Response:
    raw = orjson.dumps(body)
    timestamp, nonce = str(int(time.time() * 1000)), uuid.uuid4().hex
    text = string_to_sign("ihub-luohu", timestamp, nonce, "POST", PATH, raw)
    headers = {
        "Content-Type": "application/json",
        "X-Exchange-App": "ihub-luohu",
        "X-Exchange-Timestamp": timestamp,
        "X-Exchange-Nonce": nonce,
        "X-Exchange-Signature": sign("dev-exchange-secret", text),
    }
    if purpose is not None:
        headers["X-Exchange-Purpose"] = purpose
    return httpx.post(exchange.url + PATH, content=raw, headers=headers)


def window(first: date, last: date, **more: Any) -> dict[str, Any]:
    return {"born_from": f"{first:%Y%m%d}", "born_to": f"{last:%Y%m%d}", **more}


def test_everyone_is_born_on_exactly_one_day(population: Population) -> None:
    expected = {p.id_number: p for p in everyone(population)}
    seen: dict[str, Person] = {}
    day, last = date(1900, 1, 1), date(2030, 12, 31)
    while day <= last:
        for person in population.born_on(day):
            assert person.birth_date == day
            assert person.id_number not in seen
            seen[person.id_number] = person
        day += timedelta(days=1)
    assert seen == expected


def test_a_day_at_a_million_is_its_indices_in_order() -> None:
    big = Population(1_000_000, seed=SEED, as_of=AS_OF)
    born = big.born_on(date(1961, 5, 17))
    extended = [p for p in born if p.index is not None and p.index > people.RESIDENTS]
    assert 27 <= len(extended) <= 28
    indices = [p.index for p in extended]
    assert indices == sorted(indices)
    assert all(big.person(p.id_number) == p for p in born)
    assert [p.id_number[14:17] for p in extended] == [f"{s:03d}" for s in range(len(extended))]


def test_paging_through_a_million_holds_nothing_per_person() -> None:
    big = Population(1_000_000, seed=SEED, as_of=AS_OF)
    query = Query(date(1940, 1, 1), date(1960, 12, 31), LUOHU)
    tracemalloc.start()
    try:
        for count, _ in enumerate(
            persons_from(big, query, Position(query.born_from.toordinal(), 0))
        ):
            if count == 10_000:
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_500_000, f"{peak} bytes at the peak for 10,000 persons read"


def test_mobiles_are_mainland_numbers_derived_from_the_id(population: Population) -> None:
    persons = everyone(population)[:5000]
    for person in persons:
        assert len(person.mobile) == 11 and person.mobile.startswith("13")
        assert person.mobile.isdigit() and person.mobile == mobile_of(person.id_number)
    assert len({p.mobile for p in persons}) >= 4990


def test_pages_cover_the_window_once_in_the_district(
    population: Population, exchange: MockAdmin
) -> None:
    first, last = date(1950, 1, 1), date(1959, 12, 31)
    expected = {
        p.id_number
        for p in everyone(population)
        if first <= p.birth_date <= last and p.hukou_district == LUOHU
    }
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        body = window(first, last, hukou_district=LUOHU, size=700)
        answer = post(exchange, body | ({"cursor": cursor} if cursor else {}))
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages += 1
        assert len(page["rows"]) <= 700
        seen += [row["id_number"] for row in page["rows"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert pages == -(-len(expected) // 700) and exchange.calls(EXPORT) == pages
    row = page["rows"][-1]
    person = population.person(row["id_number"])
    assert person is not None
    assert row == {
        "id_number": person.id_number,
        "name": person.name,
        "birth_date": f"{person.birth_date:%Y%m%d}",
        "sex": person.sex,
        "hukou_district": LUOHU,
        "hukou_since": f"{person.hukou_since:%Y%m%d}",
        "alive": person.alive,
        "household_id": person.household_id,
        "mobile": person.mobile,
    }


def test_without_a_district_every_district_comes(
    population: Population, exchange: MockAdmin
) -> None:
    day = date(1975, 3, 1)
    rows = post(exchange, window(day, day + timedelta(days=40), size=10_000)).json()["rows"]
    expected = [p for d in range(41) for p in population.born_on(day + timedelta(days=d))]
    assert [r["id_number"] for r in rows] == [p.id_number for p in expected]
    assert {r["hukou_district"] for r in rows} != {LUOHU}


def test_the_person_query_carries_the_mobile_too(
    population: Population, exchange: MockAdmin
) -> None:
    person = population.adult(5)
    raw = orjson.dumps({"id_numbers": [person.id_number]})
    timestamp, nonce = str(int(time.time() * 1000)), uuid.uuid4().hex
    path = "/exchange/v1/person/query"
    text = string_to_sign("ihub-luohu", timestamp, nonce, "POST", path, raw)
    headers = {
        "X-Exchange-App": "ihub-luohu",
        "X-Exchange-Timestamp": timestamp,
        "X-Exchange-Nonce": nonce,
        "X-Exchange-Signature": sign("dev-exchange-secret", text),
        "X-Exchange-Purpose": PURPOSE,
    }
    [found] = httpx.post(exchange.url + path, content=raw, headers=headers).json()["persons"]
    assert found["mobile"] == person.mobile


def test_a_call_without_a_purpose_is_refused(exchange: MockAdmin) -> None:
    answer = post(exchange, window(date(1950, 1, 1), date(1950, 1, 31)), purpose=None)
    assert (answer.status_code, answer.json()["code"]) == (403, "E_PURPOSE")


def test_a_forged_altered_or_foreign_cursor_is_refused(exchange: MockAdmin) -> None:
    first, last = date(1950, 1, 1), date(1952, 12, 31)
    page = post(exchange, window(first, last, size=50)).json()
    cursor = page["next_cursor"]
    day, slot, mac = cursor.split(".")
    tries = [
        "garbage",
        f"{day}.{int(slot) + 1}.{mac}",  # another position under the same MAC
        f"{day}.{slot}.{'0' * len(mac)}",
        12345,
    ]
    for forged in tries:
        answer = post(exchange, window(first, last, cursor=forged))
        assert (answer.status_code, answer.json()["code"]) == (400, "E_BAD_CURSOR"), forged
    for other in (window(first, date(1953, 1, 1)), window(first, last, hukou_district=LUOHU)):
        answer = post(exchange, other | {"cursor": cursor})
        assert (answer.status_code, answer.json()["code"]) == (400, "E_BAD_CURSOR")
    resumed = post(exchange, window(first, last, size=50, cursor=cursor))
    assert resumed.status_code == 200
    assert resumed.json()["rows"][0]["id_number"] not in {r["id_number"] for r in page["rows"]}


@pytest.mark.parametrize(
    "body",
    [
        {"born_from": "19500101"},
        {"born_from": "1950-01-01", "born_to": "19500131"},
        {"born_from": "19500231", "born_to": "19500301"},
        {"born_from": "19500201", "born_to": "19500101"},
        {"born_from": "19500101", "born_to": "19500131", "size": 10_001},
        {"born_from": "19500101", "born_to": "19500131", "size": 0},
        {"born_from": "19500101", "born_to": "19500131", "size": True},
        {"born_from": "19500101", "born_to": "19500131", "hukou_district": 440303},
    ],
)
def test_a_bad_query_is_refused(exchange: MockAdmin, body: dict[str, Any]) -> None:
    answer = post(exchange, body)
    assert (answer.status_code, answer.json()["code"]) == (400, "E_BAD_REQUEST")


def test_each_page_is_a_call_under_the_rate_limit(exchange: MockAdmin) -> None:
    set_rate_limit(exchange.url, 2)
    body = window(date(1950, 1, 1), date(1950, 1, 31), size=10)
    statuses = [post(exchange, body).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
