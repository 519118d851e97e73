"""JSON answers in the center's shape: UTF-8 Chinese as-is, errors as ``{"error": {...}}``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial

from aiohttp import web

dumps = partial(json.dumps, ensure_ascii=False)


def answer(data: Mapping[str, object], status: int = 200) -> web.Response:
    """A JSON body with Chinese text left unescaped."""
    return web.json_response(data, status=status, dumps=dumps)


def error(status: int, code: str, message: str, **headers: str) -> web.Response:
    """``{"error": {"code": …, "message": …}}`` with ``status``."""
    response = answer({"error": {"code": code, "message": message}}, status)
    response.headers.update(headers)
    return response
