"""The district library (Interlib-style openlib + OPAC): readers, loans, catalogue, circulation.

Every call carries the token (``token.TokenKeeper``): a query parameter of a GET, a form field
of a POST. A token the library no longer knows (``E00401``) is renewed once and the call sent
once more. Transport failures, 5xx and 429 are retried by ``Connector._request`` within the
policy, writes included: a write resent with the same ``request_id`` is answered with the
library's first answer, so repeating it is safe.
Batch look-ups go out at most 50 ids a call, concurrently, and are keyed by id, never by
position. Catalogue records are cached across requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import quote

import aiohttp

from connectors.base import Clock, Connector, DepartmentPolicy
from connectors.errors import UpstreamNotFound, UpstreamPayloadError, UpstreamRejected
from connectors.keyed import KeyedCache
from connectors.library import envelope, mapping
from connectors.library.envelope import Envelope
from connectors.library.models import (
    Book,
    Hold,
    Holding,
    Item,
    Loan,
    Reader,
    Return,
    SearchField,
    SearchPage,
)
from connectors.library.token import Grant, Token, TokenKeeper, grant
from connectors.observer import Observer
from connectors.paging import page_slice
from connectors.shared import Shared

T = TypeVar("T")
P = TypeVar("P")

SERVICE = "/openlib/service"
TOKEN_PATH = f"{SERVICE}/barcode/token"
ITEM_BATCH = f"{SERVICE}/item/batch"
BOOK_BATCH = "/opac/api/book/batch"
MAX_BATCH = 50
MAX_ROWS = 50


def _distinct(ids: Sequence[str]) -> list[str]:
    """Each id once, in first-seen order; ids the batch syntax cannot carry are left out."""
    return list(dict.fromkeys(i for i in ids if i and "," not in i))


def _items_by_barcode(answer: Envelope) -> dict[str, Item]:
    return {item.barcode: item for item in mapping.items(answer.get("items"))}


def _books_by_id(answer: Envelope) -> dict[str, Book]:
    return {book.id: book for book in mapping.books(answer.get("books"))}


class LibraryConnector(Connector):
    """Typed calls to the library; credentials ``policy.credentials["appid"]`` / ``["secret"]``."""

    department = "library"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: DepartmentPolicy,
        *,
        clock: Clock = time.monotonic,
        observer: Observer | None = None,
        shared: Shared | None = None,
    ) -> None:
        super().__init__(session, policy, clock=clock, observer=observer, shared=shared)
        self.tokens = TokenKeeper(self._grant, clock=clock)
        # catalogue records only (loans, holds and readers are personal, never cached)
        self.books_cache: KeyedCache[Book] = KeyedCache(
            maxsize=policy.cache_size,
            ttl_s=policy.cache_ttl_s,
            clock=clock,
            observe=self.observe_cache,
            naive=policy.naive,
            shared=self.shared_tier("books"),
            wait_s=policy.timeout_s,
        )

    # -- readers ---------------------------------------------------------------------------

    async def reader(self, card_id: str) -> Reader | None:
        """The card, or ``None`` when the library does not know it."""
        try:
            answer = await self._read(f"{SERVICE}/reader/info", {"rdid": card_id})
        except UpstreamNotFound:
            return None
        return self._map(mapping.reader, answer.get("reader"))

    async def loans(self, card_id: str) -> tuple[Loan, ...]:
        """Current loans, oldest first; ``UpstreamNotFound`` for an unknown card."""
        answer = await self._read(f"{SERVICE}/barcode/rdloanlist", {"rdid": card_id})
        return self._map(mapping.loans, answer.get("loans"))

    async def holds(self, card_id: str) -> tuple[Hold, ...]:
        """Holds not yet expired; ``UpstreamNotFound`` for an unknown card."""
        answer = await self._read(f"{SERVICE}/reader/holds", {"rdid": card_id})
        return self._map(mapping.holds, answer.get("holds"))

    # -- catalogue -------------------------------------------------------------------------

    async def items_by_barcodes(self, barcodes: Sequence[str]) -> dict[str, Item]:
        """Copies by barcode; unknown barcodes are absent."""
        return await self._batch(ITEM_BATCH, "barcodes", barcodes, _items_by_barcode)

    def fresh_book(self, book_id: str) -> Book | None:
        """The catalogue record if the hub has it fresh (no call, no waiting), else ``None``."""
        return self.books_cache.fresh(book_id)

    async def books_by_ids(self, book_ids: Sequence[str]) -> dict[str, Book]:
        """Catalogue records by id, from the cache where fresh; unknown ids are absent."""

        async def fetch(misses: list[str]) -> dict[str, Book]:
            return await self._batch(BOOK_BATCH, "bookrecnos", misses, _books_by_id)

        return await self.books_cache.get_many(_distinct(book_ids), fetch)

    async def search(self, query: str, field: SearchField, *, page: int, rows: int) -> SearchPage:
        """One page (1-based) of ``rows`` ≤ 50 records matching ``query`` in ``field``."""
        if page < 1 or not 1 <= rows <= MAX_ROWS:
            raise ValueError(f"page must be ≥ 1 and rows 1…{MAX_ROWS}")
        params = {"q": query, "searchWay": field.value, "page": str(page), "rows": str(rows)}
        answer = await self._read("/opac/advance/search", params)
        return self._map(mapping.search_page, answer.payload)

    async def search_slice(
        self, query: str, field: SearchField, *, offset: int, limit: int
    ) -> SearchPage:
        """Records ``offset`` … ``offset + limit - 1`` (``limit`` ≤ 50) and the total."""
        if offset < 0 or not 1 <= limit <= MAX_ROWS:
            raise ValueError(f"offset must be ≥ 0 and limit 1…{MAX_ROWS}")

        async def fetch_page(page: int, size: int) -> tuple[int, tuple[Book, ...]]:
            found = await self.search(query, field, page=page, rows=size)
            return found.total, found.books

        total, books = await page_slice(fetch_page, offset=offset, limit=limit)
        return SearchPage(total=total, books=tuple(books))

    async def holdings(self, book_id: str) -> tuple[Holding, ...]:
        """Every copy of a record; ``UpstreamNotFound`` for an unknown record."""
        answer = await self._read(f"/opac/api/holding/{quote(book_id, safe='')}", {})
        return self._map(mapping.holdings, answer.get("holdings"))

    # -- circulation (``Refused`` with a domain code when the library says no) ------------

    async def lend(self, card_id: str, barcode: str, *, request_id: str) -> Loan:
        """Check a copy out to a card."""
        form = {"rdid": card_id, "barcode": barcode, "request_id": request_id}
        answer = await self._write(f"{SERVICE}/barcode/lendbook", form)
        return self._map(mapping.loan, answer.get("loan"))

    async def renew(self, card_id: str, barcode: str, *, request_id: str) -> Loan:
        """Extend a loan (once, not when overdue or wanted by another reader)."""
        form = {"rdid": card_id, "barcode": barcode, "request_id": request_id}
        answer = await self._write(f"{SERVICE}/barcode/renewbook", form)
        return self._map(mapping.loan, answer.get("loan"))

    async def give_back(self, barcode: str, *, request_id: str) -> Return:
        """Check a copy in; the answer carries the overdue fine charged."""
        form = {"barcode": barcode, "request_id": request_id}
        answer = await self._write(f"{SERVICE}/barcode/returnbook", form)
        return self._map(lambda payload: mapping.receipt(payload, barcode), answer.payload)

    # -- plumbing --------------------------------------------------------------------------

    async def _read(self, path: str, params: Mapping[str, str]) -> Envelope:
        answer = await self._call("GET", path, params)
        if not answer.success:
            raise envelope.failure(self.department, answer, what=f"GET {path}", write=False)
        return answer

    async def _write(self, path: str, form: Mapping[str, str]) -> Envelope:
        if not form.get("request_id"):
            raise ValueError("a library write needs a request_id")
        answer = await self._call("POST", path, form)
        if not answer.success:
            raise envelope.failure(self.department, answer, what=f"POST {path}", write=True)
        return answer

    async def _batch(
        self,
        path: str,
        param: str,
        ids: Sequence[str],
        to_records: Callable[[Envelope], Mapping[str, T]],
    ) -> dict[str, T]:
        wanted = _distinct(ids)
        chunks = [wanted[start : start + MAX_BATCH] for start in range(0, len(wanted), MAX_BATCH)]
        for chunk in chunks:
            self.record_batch(f"GET {path}", len(chunk))
        answers = await asyncio.gather(
            *(self._call("GET", path, {param: ",".join(chunk)}) for chunk in chunks),
            return_exceptions=True,
        )
        found: dict[str, T] = {}
        asked = set(wanted)
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            if answer.only_misses:
                continue
            if not answer.success:
                raise envelope.failure(self.department, answer, what=f"GET {path}", write=False)
            records = self._map(to_records, answer)
            found.update((key, record) for key, record in records.items() if key in asked)
        return found

    async def _call(self, method: str, path: str, args: Mapping[str, str]) -> Envelope:
        token = await self.tokens.current()
        answer = await self._send(method, path, args, token)
        if answer.token_invalid:
            token = await self.tokens.renew(stale=token)
            answer = await self._send(method, path, args, token)
        return answer

    async def _send(
        self, method: str, path: str, args: Mapping[str, str], token: Token | None
    ) -> Envelope:
        sent = dict(args)
        if token is not None:
            sent["token"] = token.value
        if method == "GET":
            response = await self._request(method, path, params=sent)
        else:
            # every POST is a circulation write keyed by its request_id (``_write``)
            response = await self._request(method, path, data=sent, retry=True)
        if response.status != 200:
            raise UpstreamRejected(self.department, f"{method} {path}: HTTP {response.status}")
        try:
            return envelope.decode(response.json(self.department), self.department)
        except UpstreamPayloadError as exc:
            raise self.payload_error(f"{method} {path}: {exc.detail}") from exc

    async def _grant(self) -> Grant:
        appid = self.policy.credentials.get("appid")
        secret = self.policy.credentials.get("secret")
        if not appid or not secret:
            raise self._failed(UpstreamRejected(self.department, "appid/secret not configured"))
        answer = await self._send("GET", TOKEN_PATH, {"appid": appid, "secret": secret}, None)
        if not answer.success:
            raise self._failed(envelope.failure(self.department, answer, what="token", write=False))
        return self._map(grant, answer.payload)

    def _map(self, to_record: Callable[[P], T], payload: P) -> T:
        try:
            return to_record(payload)
        except UpstreamPayloadError as exc:
            raise self.payload_error(exc.detail) from exc
