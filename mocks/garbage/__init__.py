"""Imitation of the district's garbage-sorting content service (垃圾分类 content service).

Public reads without auth: categories, the "which bin for X?" dictionary, CMS articles (whose
HTML is served as authors pasted it, hostile markup included), collection points and events.
Every answer carries a strong ETag and honours ``If-None-Match``.
"""

from __future__ import annotations

from aiohttp import web

from mocks.common.admin import install_admin
from mocks.common.launcher import MockConfig
from mocks.garbage.app import GarbageService, add_routes


def create_app(config: MockConfig) -> web.Application:
    """The service's application, with the admin surface installed first."""
    app = web.Application()
    install_admin(app, seed=config.seed)
    add_routes(app, GarbageService(config.seed))
    return app
