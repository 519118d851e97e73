"""Helpers for the offers tests: a clock tests move, waiting on a running hub, the rows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from hub.store.models import Offer, OfferDelivery

T = TypeVar("T")
WAIT_S = 30.0
"""Only a bound against hanging: the hub's rounds run every 50 ms in these tests."""


class MovingClock:
    """The offers' clock: ``advance`` moves it (the hub reads it from its own thread)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


def wait_for(what: str, probe: Callable[[], T | None]) -> T:
    """``probe()`` once it is truthy (polled; bounded by ``WAIT_S``)."""
    event = threading.Event()
    for _ in range(int(WAIT_S / 0.05)):
        found = probe()
        if found:
            return found
        event.wait(0.05)
    raise AssertionError(f"never happened: {what}")


def outbox(sms_url: str, phone: str | None = None) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = httpx.get(f"{sms_url}/__admin/outbox").json()["messages"]
    return [m for m in messages if phone is None or m["phone"] == phone]


def offers_of(engine: Engine, subject: str) -> list[Offer]:
    with Session(engine) as session:
        return list(session.exec(select(Offer).where(Offer.subject == subject)).all())


def deliveries_of(engine: Engine, offer_id: str) -> dict[tuple[str, str], OfferDelivery]:
    with Session(engine) as session:
        rows = session.exec(select(OfferDelivery).where(OfferDelivery.offer_id == offer_id))
        return {(d.channel, d.kind): d for d in rows.all()}


def all_offers(engine: Engine) -> list[Offer]:
    with Session(engine) as session:
        return list(session.exec(select(Offer)).all())
