"""Imitation of the population registry reached through the city's data-sharing exchange
(departments-gov.md §2): signed calls, a purpose on every call, ≤ 100 ids, 30 calls a second
per app, a nightly maintenance window. Persons: ``mocks.common.population``."""

from __future__ import annotations

from aiohttp import web

from mocks.common.admin import install_admin
from mocks.common.launcher import MockConfig
from mocks.population.app import add_routes
from mocks.population.exchange import APPS

__all__ = ["APPS", "create_app"]


def create_app(config: MockConfig) -> web.Application:
    app = web.Application()
    install_admin(app, seed=config.seed)
    add_routes(app, config)
    return app
