"""New offers published to the app's subscribers (the ``offers`` subscription).

In one process the broker hands an offer to its resident's queues — or, for a household
member without an account (no ``resident_id``), to the queues of the household's residents.
With ``HUB_REDIS_URL`` it publishes on the replicas' Redis channel (``<prefix>offers``)
instead, and every replica's listener hands what arrives to its own subscribers: an app
connected to any replica hears the offer whichever replica's dispatcher sent it. While Redis
is unreachable the broker delivers in this process only (the listener tries again every
second).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from connectors.shared import SharedUnavailable
from hub.store.models import Offer

if TYPE_CHECKING:
    from hub.shared.backend import RedisState

CHANNEL = "offers"
logger = logging.getLogger("ihub.offers")


class OfferBroker:
    """Each signed-in subscriber gets a queue of the offers made for them from now on."""

    def __init__(self, redis: RedisState | None = None) -> None:
        self._redis = redis
        self._queues: dict[str, set[asyncio.Queue[Offer]]] = {}
        self._households: dict[str, set[asyncio.Queue[Offer]]] = {}
        self._listener: asyncio.Task[None] | None = None

    def deliver(self, offer: Offer) -> int:
        """Hand ``offer`` to this process's subscribers of its resident (a member's without
        an account: of its household); how many."""
        if offer.resident_id is not None:
            queues = self._queues.get(offer.resident_id, set())
        else:
            queues = self._households.get(offer.household_id or "", set())
        for queue in queues:
            queue.put_nowait(offer)
        return len(queues)

    async def publish(self, offer: Offer) -> None:
        """To every replica's subscribers (through Redis), or this process's."""
        if self._redis is not None:
            try:
                await self._redis.publish(CHANNEL, offer.model_dump_json().encode())
                return
            except SharedUnavailable:
                pass  # degrade: at least this replica's subscribers hear it
        self.deliver(offer)

    @asynccontextmanager
    async def subscribe(
        self, resident_id: str, household_id: str | None = None
    ) -> AsyncIterator[asyncio.Queue[Offer]]:
        """A queue of the resident's offers and (``household_id``) of their household's
        members without an account of their own."""
        queue: asyncio.Queue[Offer] = asyncio.Queue()
        self._queues.setdefault(resident_id, set()).add(queue)
        if household_id is not None:
            self._households.setdefault(household_id, set()).add(queue)
        try:
            yield queue
        finally:
            self._queues[resident_id].discard(queue)
            if not self._queues[resident_id]:
                del self._queues[resident_id]
            if household_id is not None:
                self._households[household_id].discard(queue)
                if not self._households[household_id]:
                    del self._households[household_id]

    def start(self) -> None:
        if self._redis is not None and self._listener is None:
            self._listener = asyncio.create_task(self._listen(self._redis))

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    async def _listen(self, redis: RedisState) -> None:
        while True:
            try:
                async for message in redis.messages(CHANNEL):
                    self.deliver(Offer.model_validate(json.loads(message)))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("offers: the Redis channel failed (%s)", type(exc).__name__)
            await asyncio.sleep(1.0)
