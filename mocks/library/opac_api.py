"""Catalogue calls: copies and records by batch, OPAC search, holdings of one record."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from aiohttp import web

from mocks.common.admin import record_batch
from mocks.library import envelope
from mocks.library.keys import LIBRARY_KEY, SEARCH_KEY
from mocks.library.search import SEARCH_WAYS

MAX_BATCH = 50
MAX_ROWS = 50
DEFAULT_ROWS = 10

Record = TypeVar("Record")


def _batch(
    request: web.Request,
    param: str,
    records: Mapping[str, Record],
    render: Callable[[Record], dict[str, object]],
    field: str,
) -> web.Response:
    ids = [value.strip() for value in request.query.get(param, "").split(",") if value.strip()]
    record_batch(request, len(ids))
    if not ids:
        return envelope.fail(envelope.BAD_PARAMETER, f"{param} required")
    if len(ids) > MAX_BATCH:
        return envelope.fail(envelope.BAD_PARAMETER, f"at most {MAX_BATCH} {param}")
    unique = list(dict.fromkeys(ids))
    known = sorted(key for key in unique if key in records)
    missing = [key for key in unique if key not in records]
    notes = [envelope.message(envelope.NOT_FOUND, f"{key} not found") for key in missing]
    # Rows come back in key order, not request order, like the SQL behind the real service.
    return envelope.ok({field: [render(records[key]) for key in known]}, notes=notes)


async def item_batch(request: web.Request) -> web.Response:
    """``GET /openlib/service/item/batch?barcodes=b1,b2,…`` (at most 50)."""
    library = request.app[LIBRARY_KEY]
    today = library.today()
    return _batch(request, "barcodes", library.items, lambda item: item.as_json(today), "items")


async def book_batch(request: web.Request) -> web.Response:
    """``GET /opac/api/book/batch?bookrecnos=r1,r2,…`` (at most 50)."""
    books = request.app[LIBRARY_KEY].books
    return _batch(request, "bookrecnos", books, lambda book: book.as_json(), "books")


def _positive(value: str, default: int) -> int | None:
    if not value:
        return default
    return int(value) if value.isdigit() and int(value) > 0 else None


async def advance_search(request: web.Request) -> web.Response:
    """``GET /opac/advance/search?q=&searchWay=title|author|isbn|keyword&page=&rows=``."""
    query = request.query
    way = query.get("searchWay", "keyword")
    page = _positive(query.get("page", ""), 1)
    rows = _positive(query.get("rows", ""), DEFAULT_ROWS)
    if way not in SEARCH_WAYS:
        return envelope.fail(envelope.BAD_PARAMETER, f"searchWay must be one of {SEARCH_WAYS}")
    if page is None or rows is None or rows > MAX_ROWS:
        return envelope.fail(envelope.BAD_PARAMETER, f"page ≥ 1 and 1 ≤ rows ≤ {MAX_ROWS}")
    found = request.app[SEARCH_KEY].find(way, query.get("q", ""))
    start = (page - 1) * rows
    records = [book.as_json() for book in found[start : start + rows]]
    return envelope.ok({"total": len(found), "page": page, "rows": rows, "records": records})


async def holding(request: web.Request) -> web.Response:
    """``GET /opac/api/holding/{bookrecno}``: every copy of one record."""
    library = request.app[LIBRARY_KEY]
    bookrecno = request.match_info["bookrecno"]
    if bookrecno not in library.books:
        return envelope.fail(envelope.NOT_FOUND, f"{bookrecno} not found")
    today = library.today()
    copies = library.copies.get(bookrecno, [])
    return envelope.ok({"holdings": [item.holding_json(today) for item in copies]})
