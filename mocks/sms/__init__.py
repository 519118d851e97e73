"""Imitation of the operator's SMS gateway (departments-gov.md §5): signed sends, registered
signs and templates, per-phone limits (1 a minute, 10 a day) on a clock tests can move,
errors in the body of an HTTP 200, and delivery reports and uplink replies POSTed back to the
hub's callback URL, signed, at least once, duplicated or out of order on demand."""

from __future__ import annotations

from aiohttp import web

from mocks.common.admin import install_admin
from mocks.common.launcher import MockConfig
from mocks.sms.app import add_routes
from mocks.sms.callbacks import SmsFaults
from mocks.sms.gateway import APPS, CALLBACK_SIGNING_KEY, TEMPLATES

__all__ = ["APPS", "CALLBACK_SIGNING_KEY", "TEMPLATES", "create_app"]


def create_app(config: MockConfig) -> web.Application:
    app = web.Application()
    faults = SmsFaults()
    install_admin(app, seed=config.seed, faults=faults)
    add_routes(app, faults)
    return app
