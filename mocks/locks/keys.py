"""Where the lock mock keeps its state on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from mocks.locks.clock import Clock
from mocks.locks.cloud import Cloud
from mocks.locks.commands import Commands
from mocks.locks.tokens import TokenStore

CLOCK_KEY = web.AppKey("locks_clock", Clock)
TOKENS_KEY = web.AppKey("locks_tokens", TokenStore)
CLOUD_KEY = web.AppKey("locks_cloud", Cloud)
COMMANDS_KEY = web.AppKey("locks_commands", Commands)
