"""Mock of the district's TTLock-style lock cloud (departments.md §4).

Platform account (``tokens``): clientId ``ihub-dev-client``, clientSecret ``dev-lock-secret``,
username ``luohu-property-platform``, password ``dev-lock-password`` sent as its md5 hex digest.
``POST /oauth2/token`` (form) answers ``{access_token, uid, refresh_token, expires_in: 7200}``;
``grant_type=refresh_token`` with ``clientId, clientSecret, refresh_token`` spends the refresh
token for a new pair. Every ``/v3`` call carries ``clientId, accessToken, date`` (query of a
GET, query or form of a POST). HTTP 200 always; refusals are ``{errcode, errmsg, description}``.

Error codes and what produces them:

- ``10003`` wrong clientId / clientSecret / username / password (token call, or any call's
  clientId); ``10004`` access token unknown, past ``expires_in``, or expired through the admin
  surface, and a refresh token unknown or already used; ``80000`` ``date`` missing or more than
  5 minutes from the mock's now; ``-3`` a missing or malformed parameter, ``pageSize`` over 100,
  more than 20 ``lockIds``, an unknown ``commandId``.
- ``-1003`` unknown lockId (detail, gateways, unlock); ``-2018`` unlock by a uid with no key on
  the lock, or only a deleted one (frozen, pending, expired, not-yet-valid keys and keys without
  remote right are *not* refused: checking them is the hub's job); ``30006`` an 11th accepted
  unlock of one lock within 60 s on the mock's clock.
- A command ends FAILED with ``-2012`` (lock without gateway) or ``-3002`` (every gateway
  offline) at once; with ``-3003`` gateway busy, ``-3036`` lock offline, ``-3037`` lock busy,
  or a ``fail_with`` code forced by a test (e.g. ``-3046``) once its 300–1500 ms delay has
  passed. Note the quirk: a FAILED ``/v3/command/query`` answer is a *successful* call whose
  body has ``status`` and a non-zero ``errcode``, but no ``errmsg``.

Admin, besides the common ``/__admin/stats`` and ``/__admin/faults``: ``GET|POST
/__admin/clock`` ``{"offset_seconds": N}`` (now = wall time + N: token expiry, the date check,
the unlock window and command completion); ``POST /__admin/tokens/expire``; ``GET|POST
/__admin/locks/{lockId}/state`` ``{"online", "gateway_online", "busy", "gateway_busy",
"fail_with"}``; ``GET|DELETE /__admin/unlocks``. The seeded facts tests rely on (R000001's 13
keys, C001's locks 10001–10008) are listed in ``seed.py``; commands are in ``commands.py``.
"""

from __future__ import annotations

from aiohttp import web

from mocks.common.admin import install_admin
from mocks.common.launcher import MockConfig
from mocks.locks import handlers
from mocks.locks.admin_api import install_locks_admin
from mocks.locks.auth import TOKEN_PATH, guard_middleware, issue_token
from mocks.locks.clock import Clock
from mocks.locks.commands import Commands
from mocks.locks.keys import CLOCK_KEY, CLOUD_KEY, COMMANDS_KEY, TOKENS_KEY
from mocks.locks.seed import build_cloud
from mocks.locks.tokens import CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME, TokenStore

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "PASSWORD", "USERNAME", "create_app"]


def create_app(config: MockConfig) -> web.Application:
    """The lock cloud, its data generated from ``config.seed`` relative to today."""
    app = web.Application()
    install_admin(app, seed=config.seed)
    app.middlewares.append(guard_middleware)
    clock = Clock()
    cloud = build_cloud(config.seed, clock.midnight_ms())
    app[CLOCK_KEY] = clock
    app[TOKENS_KEY] = TokenStore(clock)
    app[CLOUD_KEY] = cloud
    app[COMMANDS_KEY] = Commands(config.seed, cloud, clock)
    install_locks_admin(app)

    router = app.router
    router.add_post(TOKEN_PATH, issue_token)
    router.add_get("/v3/key/list", handlers.key_list)
    router.add_get("/v3/lock/detail", handlers.lock_detail)
    router.add_get("/v3/lock/listByIds", handlers.locks_by_ids)
    router.add_get("/v3/gateway/listByLock", handlers.gateways_of_lock)
    router.add_post("/v3/lock/unlock", handlers.unlock)
    router.add_get("/v3/command/query", handlers.command_query)
    return app
