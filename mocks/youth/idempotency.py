"""``Idempotency-Key`` on writes: the same key and body replay the first answer byte for byte.

Keys are scoped by API key. The body is compared as canonical JSON (key order and spacing do
not matter) together with the method and path, so reusing a key for another call is a
conflict too. Every answer is remembered, refusals included, as the center does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from mocks.youth.answers import error

HEADER = "Idempotency-Key"
JSON_UTF8 = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Reply:
    """The first answer given under one idempotency key."""

    fingerprint: str
    status: int
    body: bytes


class IdempotencyStore:
    """Replies by (API key, idempotency key)."""

    def __init__(self) -> None:
        self._replies: dict[tuple[str, str], Reply] = {}

    def get(self, scope: str, key: str) -> Reply | None:
        return self._replies.get((scope, key))

    def put(self, scope: str, key: str, reply: Reply) -> None:
        self._replies[(scope, key)] = reply


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two writes "the same request"."""
    try:
        parsed = json.loads(body)
    except ValueError:
        canonical = body
    else:
        canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


async def once(
    request: web.Request,
    store: IdempotencyStore,
    scope: str,
    run: Callable[[], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Run a write at most once per idempotency key; replay or refuse repeats."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return error(400, "idempotency_key_required", f"写操作须携带 {HEADER} 请求头")
    digest = fingerprint(request.method, request.path, await request.read())
    seen = store.get(scope, key)
    if seen is not None:
        if seen.fingerprint != digest:
            return error(409, "idempotency_conflict", f"{HEADER} 已用于另一请求")
        headers = {"Content-Type": JSON_UTF8, "Idempotent-Replayed": "true"}
        return web.Response(body=seen.body, status=seen.status, headers=headers)
    # handlers do not suspend once the body is read, so a concurrent repeat cannot slip in
    # between the lookup above and the store below
    response = await run()
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        store.put(scope, key, Reply(digest, response.status, response.body))
    return response
