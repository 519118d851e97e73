"""Where the library mock keeps its state on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from mocks.library.circulation import Library
from mocks.library.clock import Clock
from mocks.library.search import Search
from mocks.library.tokens import TokenStore

CLOCK_KEY = web.AppKey("library_clock", Clock)
TOKENS_KEY = web.AppKey("library_tokens", TokenStore)
LIBRARY_KEY = web.AppKey("library_state", Library)
# request_id -> the exact bytes of the first answer
REPLAYS_KEY = web.AppKey("library_replays", dict[str, bytes])
SEARCH_KEY = web.AppKey("library_search", Search)
