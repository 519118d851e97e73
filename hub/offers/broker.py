"""New offers published to the app's subscribers, in this process (``offers`` subscription)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.store.models import Offer


class OfferBroker:
    """Each signed-in subscriber gets a queue of the offers made for them from now on."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Offer]]] = {}

    def publish(self, offer: Offer) -> int:
        """Hand ``offer`` to its resident's subscribers; how many there were."""
        queues = self._queues.get(offer.resident_id or "", set())
        for queue in queues:
            queue.put_nowait(offer)
        return len(queues)

    @asynccontextmanager
    async def subscribe(self, resident_id: str) -> AsyncIterator[asyncio.Queue[Offer]]:
        queue: asyncio.Queue[Offer] = asyncio.Queue()
        self._queues.setdefault(resident_id, set()).add(queue)
        try:
            yield queue
        finally:
            self._queues[resident_id].discard(queue)
