"""Mock of the district library's Interlib-style "openlib" API (departments.md §2).

Credentials: appid ``ihub-dev``, secret ``dev-library-secret`` (``tokens.APPID`` / ``SECRET``);
``GET /openlib/service/barcode/token?appid=&secret=`` issues a token for 86,400 s, wrong
credentials answer ``E00403``. Every other call carries ``token=`` (query, or form field of a
POST); a missing, unknown or expired one answers ``E00401`` with HTTP 200.

Codes besides those of departments.md: ``E00400`` bad parameter (batch or rows over 50, missing
field), ``E00404`` unknown reader / barcode / bookrecno, ``E00330`` return of a copy not on loan.
``E00310`` also refuses lending to an EXPIRED card. A reader collecting their own READY hold
may borrow that copy although it stands on the hold shelf (``08``).

Admin, besides the common ``/__admin/stats`` and ``/__admin/faults``:
``GET|POST /__admin/clock`` ``{"offset_seconds": N}`` sets the mock's now to wall time + N
(token expiry, due dates, fines, hold expiry); ``POST /__admin/tokens/expire`` forgets every
token. The seeded residents other tests rely on are listed in ``seed.py``.
"""

from __future__ import annotations

from aiohttp import web

from mocks.common.admin import install_admin
from mocks.common.launcher import MockConfig
from mocks.library import circulation_api, opac_api, reader_api
from mocks.library.admin_api import install_library_admin
from mocks.library.auth import TOKEN_PATH, issue_token, token_middleware
from mocks.library.clock import Clock
from mocks.library.keys import CLOCK_KEY, LIBRARY_KEY, REPLAYS_KEY, SEARCH_KEY, TOKENS_KEY
from mocks.library.search import Search
from mocks.library.seed import build_library
from mocks.library.tokens import APPID, SECRET, TokenStore

__all__ = ["APPID", "SECRET", "create_app"]

SERVICE = "/openlib/service"


def create_app(config: MockConfig) -> web.Application:
    """The library mock, its data generated from ``config.seed`` relative to today."""
    app = web.Application()
    install_admin(app, seed=config.seed)
    app.middlewares.append(token_middleware)
    clock = Clock()
    library = build_library(config.seed, clock)
    app[CLOCK_KEY] = clock
    app[TOKENS_KEY] = TokenStore(clock)
    app[LIBRARY_KEY] = library
    app[SEARCH_KEY] = Search(library.books.values())
    app[REPLAYS_KEY] = {}
    install_library_admin(app)

    router = app.router
    router.add_get(TOKEN_PATH, issue_token)
    router.add_get(f"{SERVICE}/reader/info", reader_api.reader_info)
    router.add_get(f"{SERVICE}/reader/search", reader_api.reader_search)
    router.add_get(f"{SERVICE}/reader/holds", reader_api.reader_holds)
    router.add_get(f"{SERVICE}/barcode/rdloanlist", reader_api.loan_list)
    router.add_get(f"{SERVICE}/item/batch", opac_api.item_batch)
    router.add_post(f"{SERVICE}/barcode/lendbook", circulation_api.lend_book)
    router.add_post(f"{SERVICE}/barcode/renewbook", circulation_api.renew_book)
    router.add_post(f"{SERVICE}/barcode/returnbook", circulation_api.return_book)
    router.add_get("/opac/api/book/batch", opac_api.book_batch)
    router.add_get("/opac/advance/search", opac_api.advance_search)
    router.add_get("/opac/api/holding/{bookrecno}", opac_api.holding)
    return app
