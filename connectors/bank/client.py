"""What both banks' connectors share: keys, the signed call, paging, caches and the verbs.

- Keys (``policy.credentials``: ``app_id``, ``app_private_key`` and ``bank_public_key``, the
  last two paths to PEM files) are read on first use, so the hub starts before the bank has
  written them; a missing or unreadable one is ``UpstreamRejected(code="keys")``.
- Every answer's signature is verified before it is read; one that fails is an
  ``UpstreamPayloadError`` and counts against the bank's health.
- Reads go out under a fresh ``msg_id``; writes under the caller's, so a repeated write is
  answered with the bank's stored first answer. Both may therefore be repeated by
  ``Connector._request`` (transport failures, 5xx, 429) within the policy.
- Branches and items are cached for ``policy.cache_ttl_s``, queues for 30 s per branch; both
  with single-flight and stale-if-error. Appointments are never cached.

The dialects (``icbc``, ``ccb``) implement the ``_fetch_*`` hooks: field names, batch sizes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, TypeVar

import aiohttp

from connectors.bank import protocol, signing
from connectors.bank.models import Appointment, Bank, Branch, GovItem, Queue
from connectors.base import Clock, Connector, DepartmentPolicy
from connectors.cache import Fetched, RevalidatingCache
from connectors.errors import UpstreamPayloadError, UpstreamRejected
from connectors.keyed import KeyedCache
from connectors.observer import Observer
from connectors.payload import Fields
from connectors.shared import Shared

T = TypeVar("T")
P = TypeVar("P")

QUEUE_TTL_S = 30.0
PAGE_SIZE = 50
MAX_PAGES = 40


@dataclass(frozen=True)
class Booking:
    """What a resident asks to book, in the banks' shared vocabulary."""

    branch_id: str
    item_code: str
    day: date
    slot: str
    applicant_ref: str
    mobile: str


class BankConnector(Connector):
    """A partner bank's government-window API, mapped onto ``connectors.bank.models``."""

    bank: ClassVar[Bank]

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: DepartmentPolicy,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        observer: Observer | None = None,
        shared: Shared | None = None,
    ) -> None:
        super().__init__(session, policy, clock=clock, observer=observer, shared=shared)
        self.wall_clock = wall_clock
        self._keys: signing.AppKeys | None = None
        size, ttl, stale = policy.cache_size, policy.cache_ttl_s, policy.stale_if_error_s
        observe, naive = self.observe_cache, policy.naive
        wait = policy.timeout_s
        self.branch_cache: RevalidatingCache[tuple[Branch, ...]] = RevalidatingCache(
            maxsize=1, ttl_s=ttl, clock=clock, stale_if_error_s=stale, observe=observe, naive=naive,
            shared=self.shared_tier("branches"), wait_s=wait,
        )  # fmt: skip
        self.item_cache: RevalidatingCache[tuple[GovItem, ...]] = RevalidatingCache(
            maxsize=1, ttl_s=ttl, clock=clock, stale_if_error_s=stale, observe=observe, naive=naive,
            shared=self.shared_tier("items"), wait_s=wait,
        )  # fmt: skip
        self.queue_cache: KeyedCache[Queue] = KeyedCache(
            maxsize=size,
            ttl_s=QUEUE_TTL_S,
            clock=clock,
            stale_if_error_s=stale,
            observe=observe,
            naive=naive,
            shared=self.shared_tier("queues"),
            wait_s=policy.timeout_s,
        )

    # -- the verbs -------------------------------------------------------------------------

    async def branches(self) -> tuple[Branch, ...]:
        """Every branch with a government window in 罗湖区."""
        return await self.branch_cache.get("branches", self._fresh(self._fetch_branches))

    async def items(self) -> tuple[GovItem, ...]:
        """Every government item the bank's windows handle."""
        return await self.item_cache.get("items", self._fresh(self._fetch_items))

    async def queues(self, branch_ids: Sequence[str]) -> dict[str, Queue]:
        """Live queues by branch id (30 s old at most); unknown branches are absent."""
        return await self.queue_cache.get_many(protocol.distinct(branch_ids), self._fetch_queues)

    def fresh_queue(self, branch_id: str) -> Queue | None:
        """The branch's queue if the hub has a fresh one (no call, no waiting), else ``None``."""
        return self.queue_cache.fresh(branch_id)

    async def book(
        self,
        *,
        branch_id: str,
        item_code: str,
        day: date,
        slot: str,
        applicant_ref: str,
        mobile: str,
        msg_id: str,
    ) -> Appointment:
        """Book a slot; ``Refused`` with ``INVALID_BOOKING``, ``SLOT_FULL``,
        ``ITEM_NOT_HANDLED`` or ``NOT_FOUND``. The same ``msg_id`` again replays the answer."""
        wanted = Booking(branch_id, item_code, day, slot, applicant_ref, mobile)
        return await self._create(wanted, protocol.checked_msg_id(msg_id))

    async def appointments(self, numbers: Sequence[str]) -> dict[str, Appointment]:
        """Appointments by number, as the bank has them now; unknown numbers are absent."""
        wanted = protocol.distinct(numbers)
        if not wanted:
            return {}
        key = ("appointments", tuple(sorted(wanted)))
        return await self.share_read(key, lambda: self._fetch_appointments(wanted))

    async def cancel(self, number: str, *, msg_id: str) -> Appointment:
        """Cancel a BOOKED appointment before its slot; ``Refused`` with ``CANNOT_CANCEL`` or
        ``NOT_FOUND``. Answers the appointment as the bank has it afterwards."""
        await self._cancel(number, protocol.checked_msg_id(msg_id))
        found = await self._fetch_appointments([number])
        if number not in found:
            raise self.payload_error(f"appointment {number} vanished after its cancellation")
        return found[number]

    # -- the dialect's hooks ---------------------------------------------------------------

    async def _fetch_branches(self) -> tuple[Branch, ...]:
        raise NotImplementedError

    async def _fetch_items(self) -> tuple[GovItem, ...]:
        raise NotImplementedError

    async def _fetch_queues(self, branch_ids: list[str]) -> dict[str, Queue]:
        raise NotImplementedError

    async def _create(self, wanted: Booking, msg_id: str) -> Appointment:
        raise NotImplementedError

    async def _fetch_appointments(self, numbers: list[str]) -> dict[str, Appointment]:
        raise NotImplementedError

    async def _cancel(self, number: str, msg_id: str) -> None:
        raise NotImplementedError

    # -- plumbing for the dialects ---------------------------------------------------------

    async def _call(
        self,
        method: str,
        biz: Mapping[str, object],
        *,
        msg_id: str | None = None,
        booking: bool = False,
    ) -> Mapping[str, Any]:
        """One signed call; the verified ``response_biz_content`` of a ``return_code`` 0."""
        keys = self._load_keys()
        form = protocol.request_form(
            method,
            biz,
            app_id=keys.app_id,
            msg_id=msg_id or uuid.uuid4().hex,
            timestamp=protocol.stamp(self.wall_clock()),
            key=keys.app_private,
        )
        # a read under a fresh msg_id, a write under the caller's: repeating either is safe
        path = protocol.path_of(method)
        # every call is a signed POST: reads (under a fresh msg_id) say so, writes forget reads
        response = await self._request("POST", path, data=form, retry=True, read=msg_id is None)
        if response.status != 200:
            message = f"{method}: HTTP {response.status}"
            raise UpstreamRejected(self.department, message, code=f"http_{response.status}")
        try:
            answer = protocol.open_answer(response.body, keys.bank_public, self.department)
        except UpstreamPayloadError as exc:
            raise self.payload_error(f"{method}: {exc.detail}") from exc
        if answer.code != protocol.OK:
            error = protocol.failure(self.department, answer.code, method, booking=booking)
            if protocol.counts_against_health(answer.code):
                self._failed(error)
            raise error
        return answer.fields

    async def _pages(
        self, method: str, biz: Mapping[str, object], keys: tuple[str, str, str, str]
    ) -> list[object]:
        """Every row of a paged list; ``keys`` = (page no., page size, rows, total)."""
        number, size, rows, total = keys

        def page(answer: Mapping[str, Any]) -> tuple[list[object], int]:
            fields = Fields(answer, self.department, method)
            return list(fields.array(rows)), fields.integer(total)

        found, count = self._map(
            page, await self._call(method, {**biz, number: 1, size: PAGE_SIZE})
        )
        pages = -(-count // PAGE_SIZE)
        if pages > MAX_PAGES:
            raise self.payload_error(f"{method}: {count} rows is more than the hub pages through")
        rest = await asyncio.gather(
            *(self._call(method, {**biz, number: n, size: PAGE_SIZE}) for n in range(2, pages + 1))
        )
        for answer in rest:
            found.extend(self._map(page, answer)[0])
        return found

    def _map(self, to_record: Callable[[P], T], payload: P) -> T:
        try:
            return to_record(payload)
        except UpstreamPayloadError as exc:
            raise self.payload_error(exc.detail) from exc

    def _fresh(
        self, fetch: Callable[[], Awaitable[T]]
    ) -> Callable[[str | None], Awaitable[Fetched[T]]]:
        async def fetched(_etag: str | None) -> Fetched[T]:
            return Fetched(await fetch(), None, None)

        return fetched

    def _load_keys(self) -> signing.AppKeys:
        if self._keys is None:
            try:
                self._keys = signing.load_keys(self.policy.credentials)
            except signing.KeyFileError as exc:
                error = UpstreamRejected(self.department, str(exc), code="keys")
                raise self._failed(error) from exc
        return self._keys
