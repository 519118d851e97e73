"""The id of the request being served, passed on to departments as ``X-Request-Id``.

The hub sets ``REQUEST_ID`` per request (``hub.middleware.RequestIdMiddleware``); tasks
started while serving it inherit the value, so ``Connector._request`` can send it upstream
and a department's logs can be joined with the hub's. Unset outside a request.
"""

from __future__ import annotations

from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("ihub_request_id", default=None)
HEADER = "X-Request-Id"
