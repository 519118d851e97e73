"""``msg_id`` once per app: a repeat gets the first answer byte for byte, or ``400011``.

A call is "the same" when its method and ``biz_content`` (compared as canonical JSON) match,
so a retry re-signed with a fresh timestamp still replays. Only answers produced past the
gateway are kept: a call refused for its signature, its timestamp or a limit may be retried
under the same ``msg_id``. A repeat arriving while the first is still being processed waits
for that first answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass


@dataclass
class Entry:
    fingerprint: str
    answer: asyncio.Future[bytes]


def fingerprint(method: str, biz_content: str) -> str:
    """What makes two calls under one ``msg_id`` the same call."""
    try:
        canonical = json.dumps(json.loads(biz_content), sort_keys=True, ensure_ascii=False)
    except ValueError:
        canonical = biz_content
    return hashlib.sha256(f"{method}\n{canonical}".encode()).hexdigest()


class ReplayStore:
    """First answers by (app_id, msg_id)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}

    def lookup(self, app_id: str, msg_id: str) -> Entry | None:
        return self._entries.get((app_id, msg_id))

    def open(self, app_id: str, msg_id: str, digest: str) -> Entry:
        """Claim ``msg_id`` for a call about to run; ``settle`` or ``drop`` it afterwards."""
        entry = Entry(digest, asyncio.get_running_loop().create_future())
        self._entries[(app_id, msg_id)] = entry
        return entry

    def settle(self, entry: Entry, body: bytes) -> None:
        entry.answer.set_result(body)

    def drop(self, app_id: str, msg_id: str, entry: Entry, error: BaseException) -> None:
        """Forget a call that failed without an answer; waiting repeats fail the same way."""
        if self._entries.get((app_id, msg_id)) is entry:
            del self._entries[(app_id, msg_id)]
        if entry.answer.done():
            return
        if isinstance(error, asyncio.CancelledError):
            entry.answer.cancel()
        else:
            entry.answer.set_exception(error)
            # mark retrieved so an unawaited failure does not warn at garbage collection
            entry.answer.exception()
