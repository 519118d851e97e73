"""The service account's access tokens, on the mock's clock.

A token lives two hours. Fetching a new one does not end the old one at once: the old one
keeps working five minutes more, then is refused as not the latest (``40001``); a token past
its two hours is refused as expired (``42001``). Only the last ``KEEP`` tokens are known.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

from mocks.common.clock import MockClock

LIFETIME_S = 7200
OVERLAP_S = 300.0
KEEP = 64
INVALID = 40001
EXPIRED = 42001


@dataclass
class Tokens:
    clock: MockClock
    issued: int = 0
    # token -> (valid until, lifetime ends)
    _known: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)

    def issue(self) -> str:
        now = self.clock.time()
        for token, (until, ends) in self._known.items():
            self._known[token] = (min(until, now + OVERLAP_S), ends)
        token = secrets.token_urlsafe(48)
        self._known[token] = (now + LIFETIME_S, now + LIFETIME_S)
        while len(self._known) > KEEP:
            self._known.popitem(last=False)
        self.issued += 1
        return token

    def refusal(self, token: str) -> int | None:
        """``None`` for a working token, else the errcode that refuses it."""
        known = self._known.get(token)
        if known is None:
            return INVALID
        until, ends = known
        now = self.clock.time()
        if now >= ends:
            return EXPIRED
        return INVALID if now >= until else None

    def live(self) -> int:
        return sum(1 for token in self._known if self.refusal(token) is None)

    def clear(self) -> None:
        self._known.clear()
