"""The registry's bulk export through the exchange: everyone born in a window, page by page.

``POST /exchange/v1/person/export`` ``{"born_from": "yyyyMMdd", "born_to": "yyyyMMdd",
"hukou_district"?: "440303", "cursor"?: str, "size"?: 1 … 10,000 (5,000)}`` →
``{"rows": [{id_number, name, birth_date, sex, hukou_district, hukou_since, alive,
household_id, mobile}], "next_cursor": str | null}``. Signed, purposed and rate-limited like
every exchange call (one call per page); ``400 E_BAD_REQUEST`` for a bad body.

Rows come by birth date, and within a day in ``Population.born_on``'s order: the generator
makes each day's persons from their indices, so a page costs its own rows and nothing is held
between pages. The cursor is the position of the next row (day, place in the day) with an
HMAC over it and the query, so a cursor that was forged, altered or belongs to another query
(other dates or district) is ``400 E_BAD_CURSOR``; it stays good across restarts of the mock
(the key comes from the seed).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import orjson
from aiohttp import web

from mocks.common.admin import record_batch
from mocks.common.gov import POPULATION_KEY
from mocks.common.population import Person, Population
from mocks.population.exchange import Refusal

MAX_ROWS = 10_000
DEFAULT_ROWS = 5_000
CURSOR_KEY = web.AppKey("export_cursor_key", bytes)


@dataclass(frozen=True)
class Query:
    born_from: date
    born_to: date
    district: str | None

    def text(self) -> str:
        return f"{self.born_from:%Y%m%d}|{self.born_to:%Y%m%d}|{self.district or ''}"


@dataclass(frozen=True)
class Position:
    """The next row: the ``slot``-th person born on day ``ordinal``."""

    ordinal: int
    slot: int


def cursor_key(seed: int) -> bytes:
    return hashlib.sha256(f"population-export-cursor:{seed}".encode()).digest()


def encode_cursor(key: bytes, query: Query, at: Position) -> str:
    body = f"{at.ordinal}.{at.slot}"
    mac = hmac.new(key, f"{query.text()}|{body}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{body}.{mac}"


def decode_cursor(key: bytes, query: Query, cursor: str) -> Position:
    parts = cursor.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise Refusal(400, "E_BAD_CURSOR", "not a cursor of this export")
    at = Position(int(parts[0]), int(parts[1]))
    if not hmac.compare_digest(encode_cursor(key, query, at), cursor):
        raise Refusal(400, "E_BAD_CURSOR", "not a cursor of this export")
    if not query.born_from.toordinal() <= at.ordinal <= query.born_to.toordinal():
        raise Refusal(400, "E_BAD_CURSOR", "not a cursor of this export")
    return at


def _day(payload: dict[str, Any], key: str) -> date:
    text = payload.get(key)
    if not isinstance(text, str) or len(text) != 8 or not text.isdigit():
        raise Refusal(400, "E_BAD_REQUEST", f"{key} must be a yyyyMMdd date")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise Refusal(400, "E_BAD_REQUEST", f"{key} must be a yyyyMMdd date") from None


def _size(payload: dict[str, Any]) -> int:
    size = payload.get("size", DEFAULT_ROWS)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_ROWS:
        raise Refusal(400, "E_BAD_REQUEST", f"size must be an integer from 1 to {MAX_ROWS}")
    return size


def parse(payload: Any, key: bytes) -> tuple[Query, Position, int]:
    """The query, where to start and the page size, or ``Refusal`` (400)."""
    if not isinstance(payload, dict):
        raise Refusal(400, "E_BAD_REQUEST", "body must be a JSON object")
    born_from, born_to = _day(payload, "born_from"), _day(payload, "born_to")
    if born_from > born_to:
        raise Refusal(400, "E_BAD_REQUEST", "born_from is after born_to")
    district = payload.get("hukou_district")
    if district is not None and (not isinstance(district, str) or not district.isdigit()):
        raise Refusal(400, "E_BAD_REQUEST", "hukou_district must be a division code")
    query = Query(born_from, born_to, district)
    cursor = payload.get("cursor")
    if cursor is None:
        start = Position(born_from.toordinal(), 0)
    elif isinstance(cursor, str):
        start = decode_cursor(key, query, cursor)
    else:
        raise Refusal(400, "E_BAD_CURSOR", "not a cursor of this export")
    return query, start, _size(payload)


def persons_from(
    population: Population, query: Query, start: Position
) -> Iterator[tuple[Position, Person]]:
    """Everyone born in the query's window from ``start`` on, with their positions."""
    day = date.fromordinal(start.ordinal)
    slot = start.slot
    while day <= query.born_to:
        born = population.born_on(day)
        for place in range(slot, len(born)):
            person = born[place]
            if query.district is None or person.hukou_district == query.district:
                yield Position(day.toordinal(), place), person
        day += timedelta(days=1)
        slot = 0


def row(person: Person) -> dict[str, Any]:
    return {
        "id_number": person.id_number,
        "name": person.name,
        "birth_date": f"{person.birth_date:%Y%m%d}",
        "sex": person.sex,
        "hukou_district": person.hukou_district,
        "hukou_since": f"{person.hukou_since:%Y%m%d}",
        "alive": person.alive,
        "household_id": person.household_id,
        "mobile": person.mobile,
    }


async def person_export(request: web.Request) -> web.Response:
    population: Population = request.app[POPULATION_KEY]
    key = request.app[CURSOR_KEY]
    try:
        payload = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise Refusal(400, "E_BAD_REQUEST", "body must be JSON") from None
    query, start, size = parse(payload, key)
    rows: list[dict[str, Any]] = []
    next_cursor = None
    for at, person in persons_from(population, query, start):
        if len(rows) == size:
            next_cursor = encode_cursor(key, query, at)
            break
        rows.append(row(person))
    record_batch(request, len(rows))
    # orjson: a page is up to 10,000 rows, and the export is the mock's hot path
    body = orjson.dumps({"rows": rows, "next_cursor": next_cursor})
    return web.Response(body=body, content_type="application/json", charset="utf-8")


def add_export(app: web.Application, seed: int) -> None:
    app[CURSOR_KEY] = cursor_key(seed)
    app.router.add_post("/exchange/v1/person/export", person_export)
