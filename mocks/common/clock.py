"""A mock's business clock: wall-clock time plus an offset that tests set through the admin API,
so that per-minute and per-day limits and token lifetimes can be crossed without sleeping.

``GET /__admin/clock``   ``{"now": ISO 8601 in Shanghai, "offset_s"}``
``POST /__admin/clock``  one of ``{"advance_s": n}`` (add to the offset), ``{"offset_s": n}``
                         (set it) or ``{"now": "2026-11-27T10:00:00+08:00"}`` (set it so that
                         now is that moment); answers like ``GET``

Signature timestamps are checked against the real time, not this clock: a hub cannot know
how far a test moved a mock's clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime

from aiohttp import web

from mocks.common.gov import SHANGHAI, answer, json_body


class MockClock:
    """``wall()`` shifted by ``offset_s`` (absolute: setting it twice does not add up)."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self.offset_s = 0.0

    def time(self) -> float:
        """Seconds since the epoch, by this clock."""
        return self._wall() + self.offset_s

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), SHANGHAI)

    def today(self) -> date:
        """The day in Shanghai."""
        return self.now().date()

    def view(self) -> dict[str, object]:
        return {"now": self.now().isoformat(timespec="seconds"), "offset_s": self.offset_s}

    def change(self, body: object) -> None:
        """Apply one ``POST /__admin/clock`` body; ``ValueError`` names what is wrong."""
        if not isinstance(body, dict) or len(body) != 1:
            raise ValueError("one of advance_s, offset_s or now")
        key, value = next(iter(body.items()))
        if key in ("advance_s", "offset_s"):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"{key} must be a number of seconds")
            self.offset_s = (self.offset_s if key == "advance_s" else 0.0) + float(value)
        elif key == "now":
            if not isinstance(value, str):
                raise ValueError("now must be an ISO 8601 date-time with an offset")
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValueError("now must carry an offset (+08:00)")
            self.offset_s = moment.timestamp() - self._wall()
        else:
            raise ValueError("one of advance_s, offset_s or now")


CLOCK_KEY = web.AppKey("mock_clock", MockClock)


async def _get_clock(request: web.Request) -> web.Response:
    return answer(request.app[CLOCK_KEY].view())


async def _set_clock(request: web.Request) -> web.Response:
    clock = request.app[CLOCK_KEY]
    try:
        clock.change(await json_body(request))
    except ValueError as exc:
        return answer({"error": str(exc)}, 400)
    return answer(clock.view())


def install_clock(app: web.Application) -> MockClock:
    """The mock's clock and ``GET|POST /__admin/clock``."""
    clock = MockClock()
    app[CLOCK_KEY] = clock
    app.router.add_get("/__admin/clock", _get_clock)
    app.router.add_post("/__admin/clock", _set_clock)
    return clock
