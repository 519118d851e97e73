"""The population registry (公安 户籍人口库) through the city's data-sharing exchange.

- Every attempt is signed afresh (``attempt_headers``): HMAC-SHA256 over app, timestamp (ms),
  a new nonce, method, path and the body's SHA-256 (``signing``). A retry that resent the
  first attempt's headers would be refused as a replayed nonce.
- Every call names its purpose, the service item the data is for (``X-Exchange-Purpose:
  <impl_code>``); the exchange logs it, and refuses a call without one (``403 E_PURPOSE``).
  A purpose is a required argument here: there is no call without one.
- ``persons`` and ``households`` de-duplicate and send batches of at most 100 ids, at once;
  answers are keyed by id (unknown ids are simply missing).
- At most 30 calls a second per app: paced here (``CallPacer``), and a ``429`` is retried
  after its ``Retry-After`` within the budget. The nightly maintenance window (``503`` with
  ``Retry-After``) is ``UpstreamMaintenance``, saying when it ends.
- ``export`` pages through the registry's bulk export (everyone born in a window, optionally
  of one hukou district): one call per page of at most 10,000 rows, paced like every call,
  answered as columns (``ExportPage``). Its cursor is the exchange's, bound to the query: a
  forged one, or one of another window, is ``UpstreamRejected`` ``E_BAD_CURSOR``.
- Refusals (signature, timestamp, nonce, purpose, too many ids) are ``UpstreamRejected`` with
  the exchange's code (``E_SIGNATURE`` …). Nothing is cached: each decision fetches afresh.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

import aiohttp
import orjson

from connectors.base import Clock, Connector, DepartmentPolicy
from connectors.errors import (
    UpstreamMaintenance,
    UpstreamPayloadError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from connectors.observer import Observer
from connectors.pacing import CallPacer
from connectors.population import mapping
from connectors.population.models import ExportPage, Household, Person
from connectors.population.signing import signed_headers
from connectors.shared import Shared

T = TypeVar("T")
R = TypeVar("R")

PERSONS = "/exchange/v1/person/query"
HOUSEHOLDS = "/exchange/v1/household/query"
EXPORT = "/exchange/v1/person/export"
MAX_IDS = 100
MAX_EXPORT_ROWS = 10_000
PER_SECOND = 30
PURPOSE_HEADER = "X-Exchange-Purpose"


class PopulationConnector(Connector):
    """Typed, signed, purposed reads of the registry; credentials ``app`` and ``secret``."""

    department = "population"

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
        self._app = policy.credentials.get("app", "")
        self._secret = policy.credentials.get("secret", "")
        self.pacer = CallPacer(
            PER_SECOND, clock=lambda: self.monotonic(), sleep=lambda s: self.sleep(s)
        )
        self.wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)

    async def persons(self, id_numbers: Iterable[str], *, purpose: str) -> dict[str, Person]:
        """The registry's persons by ID number; unknown numbers are absent."""
        found = await self._batched(PERSONS, "id_numbers", id_numbers, purpose, mapping.persons)
        return {p.id_number: p for p in found}

    async def person(self, id_number: str, *, purpose: str) -> Person | None:
        return (await self.persons([id_number], purpose=purpose)).get(id_number)

    async def households(
        self, household_ids: Iterable[str], *, purpose: str
    ) -> dict[str, Household]:
        """Households by id with their members and relations; unknown ids are absent."""
        found = await self._batched(
            HOUSEHOLDS, "household_ids", household_ids, purpose, mapping.households
        )
        return {h.household_id: h for h in found}

    async def export(
        self,
        *,
        purpose: str,
        born_from: date,
        born_to: date,
        hukou_district: str | None,
        cursor: str | None,
        size: int,
    ) -> ExportPage:
        """One page of everyone born from ``born_from`` to ``born_to`` (both included), of
        ``hukou_district`` if given, starting at ``cursor`` (``None``: the first page)."""
        if not 1 <= size <= MAX_EXPORT_ROWS:
            raise ValueError(f"an export page is 1 to {MAX_EXPORT_ROWS} rows")
        if born_from > born_to:
            raise ValueError("born_from is after born_to")
        payload: dict[str, Any] = {
            "born_from": f"{born_from:%Y%m%d}",
            "born_to": f"{born_to:%Y%m%d}",
            "size": size,
        }
        if hukou_district is not None:
            payload["hukou_district"] = hukou_district
        if cursor is not None:
            payload["cursor"] = cursor
        return await self._post(EXPORT, payload, _purpose(purpose), mapping.export_page)

    async def _batched(
        self,
        path: str,
        key: str,
        ids: Iterable[str],
        purpose: str,
        to_records: Callable[[object], tuple[T, ...]],
    ) -> list[T]:
        purpose = _purpose(purpose)
        wanted = list(dict.fromkeys(i for i in ids if i))
        chunks = [wanted[start : start + MAX_IDS] for start in range(0, len(wanted), MAX_IDS)]
        answers = await asyncio.gather(
            *(self._query(path, {key: chunk}, purpose, to_records) for chunk in chunks)
        )
        return [record for answer in answers for record in answer]

    async def _query(
        self,
        path: str,
        payload: Mapping[str, list[str]],
        purpose: str,
        to_records: Callable[[object], tuple[T, ...]],
    ) -> tuple[T, ...]:
        size = len(next(iter(payload.values())))
        self.record_batch(f"POST {path}", size)
        return await self._post(path, payload, purpose, to_records)

    async def _post(
        self,
        path: str,
        payload: Mapping[str, object],
        purpose: str,
        to_records: Callable[[object], R],
    ) -> R:
        body = orjson.dumps(payload)
        headers = {PURPOSE_HEADER: purpose, "Content-Type": "application/json"}
        try:
            async with self.pacer.slot():
                response = await self._request(
                    "POST", path, headers=headers, data=body, retry=True, read=True
                )
        except UpstreamUnavailable as exc:
            if exc.status == 503 and exc.retry_after_s is not None:
                message = f"POST {path}: maintenance for {exc.retry_after_s:.0f} s more"
                raise UpstreamMaintenance(
                    self.department, message, status=503, retry_after_s=exc.retry_after_s
                ) from exc
            raise
        if response.status != 200:
            code = mapping.refusal_code(response.body)
            detail = f"POST {path}: HTTP {response.status} {code or ''}".strip()
            raise UpstreamRejected(self.department, detail, code=code)
        try:
            return to_records(response.json(self.department))
        except UpstreamPayloadError as exc:
            raise self.payload_error(f"POST {path}: {exc.detail}") from exc

    def attempt_headers(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | bytes | None,
    ) -> Mapping[str, str] | None:
        body = data if isinstance(data, bytes) else b""
        signed = signed_headers(
            self._app, self._secret, method, path, body, timestamp_ms=self.wall_clock_ms()
        )
        return {**(headers or {}), **signed}


def _purpose(purpose: str) -> str:
    if not purpose or not purpose.strip():
        raise ValueError("every exchange call names its purpose (the item's impl_code)")
    return purpose.strip()
