"""Imitation of the WeChat official-account API behind the district's service account
(departments-gov.md §5): access tokens (2 hours; a new one ends the old one five minutes
later, on a clock tests can move), template messages to followers by openid, errcodes in the
body of an HTTP 200 (40001, 42001, 43004, 45009, 40037 …) and a daily quota."""

from __future__ import annotations

from aiohttp import web

from mocks.common.admin import install_admin
from mocks.common.launcher import MockConfig
from mocks.wechat.app import APPS, TEMPLATES, add_routes

__all__ = ["APPS", "TEMPLATES", "create_app"]


def create_app(config: MockConfig) -> web.Application:
    app = web.Application()
    install_admin(app, seed=config.seed)
    add_routes(app, config)
    return app
