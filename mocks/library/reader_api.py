"""Reader calls: card details, find a card by ID number, loans, holds."""

from __future__ import annotations

from aiohttp import web

from mocks.library import envelope
from mocks.library.keys import LIBRARY_KEY
from mocks.library.records import Reader


def _reader(request: web.Request) -> Reader | web.Response:
    rdid = request.query.get("rdid", "")
    if not rdid:
        return envelope.fail(envelope.BAD_PARAMETER, "rdid required")
    reader = request.app[LIBRARY_KEY].readers.get(rdid)
    if reader is None:
        return envelope.fail(envelope.NOT_FOUND, f"reader {rdid} not found")
    return reader


async def reader_info(request: web.Request) -> web.Response:
    """``GET /openlib/service/reader/info?rdid=``."""
    reader = _reader(request)
    if isinstance(reader, web.Response):
        return reader
    return envelope.ok({"reader": reader.as_json()})


async def reader_search(request: web.Request) -> web.Response:
    """``GET /openlib/service/reader/search?selecttype=rdcertify&queryvalue=<ID number>``."""
    if request.query.get("selecttype") != "rdcertify":
        return envelope.fail(envelope.BAD_PARAMETER, "selecttype must be rdcertify")
    value = request.query.get("queryvalue", "").strip().upper()
    if len(value) != 18:
        return envelope.fail(envelope.BAD_PARAMETER, "queryvalue must be an 18-character ID")
    reader = request.app[LIBRARY_KEY].by_certify.get(value)
    return envelope.ok({"readers": [] if reader is None else [reader.as_json()]})


async def loan_list(request: web.Request) -> web.Response:
    """``GET /openlib/service/barcode/rdloanlist?rdid=``, oldest loan first."""
    reader = _reader(request)
    if isinstance(reader, web.Response):
        return reader
    today = request.app[LIBRARY_KEY].today()
    loans = sorted(reader.loans.values(), key=lambda loan: (loan.loandate, loan.barcode))
    return envelope.ok({"loans": [loan.as_json(today) for loan in loans]})


async def reader_holds(request: web.Request) -> web.Response:
    """``GET /openlib/service/reader/holds?rdid=``: holds not yet expired."""
    reader = _reader(request)
    if isinstance(reader, web.Response):
        return reader
    holds = request.app[LIBRARY_KEY].active_holds(reader)
    return envelope.ok({"holds": [hold.as_json() for hold in holds]})
