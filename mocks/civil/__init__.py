"""Imitation of the civil-affairs (民政) allowance ledger and care assessments
(departments-gov.md §3): client-credentials tokens (2 hours), idempotent writes by
``request_id``, ``409 ALREADY_ENTITLED``, amounts in fen as strings."""

from __future__ import annotations

from aiohttp import web

from mocks.civil.app import CLIENTS, add_routes
from mocks.common.admin import install_admin
from mocks.common.launcher import MockConfig

__all__ = ["CLIENTS", "create_app"]


def create_app(config: MockConfig) -> web.Application:
    app = web.Application()
    install_admin(app, seed=config.seed)
    add_routes(app, config)
    return app
