"""Imitation of the province's service-item catalogue (事项库, departments-gov.md §1).

Read-only REST with ``X-Api-Key``: items by page (1-based, ``size`` ≤ 100, the last page
short), by implementation code, in batches of ≤ 50 and as a change feed; scenario guides,
public services and 政务公开 disclosures. Quirks kept from the real system: ``materials`` is a
JSON string inside the JSON on a tenth of the items, times are ``yyyyMMddHHmmss`` (Beijing),
fees in fen. The 340 items with a ``bank`` channel carry the banks' item codes as
``local_code`` (``GJJ-0003``): the same list ``mocks/bank/catalogue.py`` serves.
"""

from __future__ import annotations

from aiohttp import web

from mocks.catalogue.app import API_KEY, CatalogueService, add_routes
from mocks.common.admin import install_admin
from mocks.common.launcher import MockConfig

__all__ = ["API_KEY", "create_app"]


def create_app(config: MockConfig) -> web.Application:
    """The catalogue's application, with the admin surface installed first."""
    app = web.Application()
    install_admin(app, seed=config.seed)
    add_routes(app, CatalogueService(config.seed))
    return app
