"""The youth activity center's REST API: API key, call limit, idempotent writes, refusals.

- Every call carries ``X-Api-Key``; a refused key is ``UpstreamRejected(code="unauthorized")``.
- ``429`` is waited out as its ``Retry-After`` says, within the policy's retries and time
  budget (``Connector._request``); writes too, since their ``Idempotency-Key`` makes a repeat
  safe, except payments, which are never sent twice by the hub. Then
  ``UpstreamRejected(code="rate_limited")``.
- Business refusals (``409``, and ``404`` on a write) become ``Refused`` with the hub's domain
  code from ``mapping.REFUSALS``; a missing course or member on a read is ``None``.
- Courses are cached across requests (TTL, single-flight): the center has no batch call, so
  loaders fan out one call per course and the cache keeps that cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import quote

import aiohttp

from connectors.base import Clock, Connector, DepartmentPolicy, UpstreamResponse
from connectors.cache import Fetched, RevalidatingCache
from connectors.errors import Refused, UpstreamNotFound, UpstreamRejected
from connectors.observer import Observer
from connectors.paging import page_slice
from connectors.payload import error_code
from connectors.youth import mapping
from connectors.youth.models import (
    Application,
    Course,
    CourseFilter,
    CoursePage,
    Member,
    PaymentChannel,
)

T = TypeVar("T")

API = "/api/v1"


class YouthConnector(Connector):
    """Typed calls to the youth activity center (courses, members, applications)."""

    department = "youth"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: DepartmentPolicy,
        *,
        clock: Clock = time.monotonic,
        observer: Observer | None = None,
    ) -> None:
        super().__init__(session, policy, clock=clock, observer=observer)
        self._api_key = policy.credentials.get("api_key", "")
        self.course_cache: RevalidatingCache[Course] = RevalidatingCache(
            maxsize=policy.cache_size,
            ttl_s=policy.cache_ttl_s,
            clock=self.clock,
            stale_if_error_s=policy.stale_if_error_s,
            observe=self.observe_cache,
            naive=policy.naive,
        )

    async def courses(self, filter: CourseFilter, *, page: int, page_size: int) -> CoursePage:
        """One page (1-based) of the catalogue; ``page_size`` is at most 50."""
        if page < 1 or not 1 <= page_size <= mapping.MAX_PAGE_SIZE:
            raise ValueError(f"page ≥ 1 and 1 ≤ page_size ≤ {mapping.MAX_PAGE_SIZE}")
        params = mapping.course_params(filter, page, page_size)
        return self._decode(await self._get(f"{API}/courses", params), mapping.course_page)

    async def courses_slice(self, filter: CourseFilter, *, offset: int, limit: int) -> CoursePage:
        """Courses ``offset`` … ``offset + limit - 1`` (at most 50) from the paged catalogue."""

        async def fetch_page(page: int, size: int) -> tuple[int, tuple[Course, ...]]:
            found = await self.courses(filter, page=page, page_size=size)
            return found.total, found.courses

        if offset < 0 or limit < 1:
            raise ValueError("offset ≥ 0 and limit ≥ 1")
        limit = min(limit, mapping.MAX_PAGE_SIZE)
        total, items = await page_slice(fetch_page, offset=offset, limit=limit)
        return CoursePage(total=total, courses=tuple(items))

    async def course(self, course_id: str) -> Course | None:
        """One course, from the cache while fresh; ``None`` (never cached) when unknown."""
        path = f"{API}/courses/{quote(course_id, safe='')}"

        async def fetch(_etag: str | None) -> Fetched[Course]:
            response = await self._get(path)
            if response.status == 404:
                raise UpstreamNotFound(self.department, f"GET {path}: not found")
            return Fetched(self._decode(response, mapping.course), None, None)

        try:
            return await self.course_cache.get(course_id, fetch)
        except UpstreamNotFound:
            return None

    async def member(self, member_no: str) -> Member | None:
        """A member (a child registered with the center), ``None`` when unknown."""
        response = await self._get(f"{API}/members/{quote(member_no, safe='')}")
        return None if response.status == 404 else self._decode(response, mapping.member)

    async def applications(self, member_no: str) -> tuple[Application, ...]:
        """Every application of a member, in any state; none for an unknown member."""
        path = f"{API}/members/{quote(member_no, safe='')}/applications"
        response = await self._get(path)
        return () if response.status == 404 else self._decode(response, mapping.applications)

    async def apply(
        self, course_id: str, member_no: str, preference_rank: int, *, idempotency_key: str
    ) -> Application:
        """Apply for a course: OFFERED, WAITLISTED (first come) or APPLIED (lottery)."""
        body = {"course_id": course_id, "member_no": member_no, "preference_rank": preference_rank}
        return await self._write(f"{API}/applications", body, idempotency_key)

    async def pay(
        self,
        application_id: str,
        amount_fen: int,
        channel: PaymentChannel,
        payment_ref: str,
        *,
        idempotency_key: str,
    ) -> Application:
        """Record the payment of an OFFERED or WON place: the application becomes ENROLLED."""
        path = f"{API}/applications/{quote(application_id, safe='')}/pay"
        body = {"amount_fen": amount_fen, "channel": channel.value, "payment_ref": payment_ref}
        return await self._write(path, body, idempotency_key, retry=False)

    async def cancel(self, application_id: str, *, idempotency_key: str) -> Application:
        """Withdraw a live application (a paid place is refunded before the course starts)."""
        path = f"{API}/applications/{quote(application_id, safe='')}/cancel"
        return await self._write(path, None, idempotency_key)

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> UpstreamResponse:
        response = await self._call("GET", path, params=params)
        if response.status not in (200, 404):
            raise self._rejected(response, f"GET {path}")
        return response

    async def _write(
        self,
        path: str,
        body: Mapping[str, object] | None,
        idempotency_key: str,
        *,
        retry: bool = True,
    ) -> Application:
        response = await self._call(
            "POST", path, json=body, idempotency_key=idempotency_key, retry=retry
        )
        if response.status != 200:
            found = mapping.refusal("not_found" if response.status == 404 else None)
            if response.status == 409:
                found = mapping.refusal(error_code(response.body))
            if found is not None:
                raise Refused(self.department, *found)
            raise self._rejected(response, f"POST {path}")
        # seats and statuses just changed: cached courses would show the old counts
        self.course_cache.clear()
        return self._decode(response, mapping.application)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
        idempotency_key: str | None = None,
        retry: bool | None = None,
    ) -> UpstreamResponse:
        """One call; ``429`` answers are waited out by ``_request`` within the policy."""
        headers = {"X-Api-Key": self._api_key, "Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return await self._request(
            method, path, params=params, headers=headers, json=json, retry=retry
        )

    def _rejected(self, response: UpstreamResponse, what: str) -> UpstreamRejected:
        status, code = response.status, error_code(response.body)
        if status == 401:
            # a refused key makes the whole department unusable: count it against its health
            refused = UpstreamRejected(self.department, f"{what}: key refused", code="unauthorized")
            self._failed(refused)
            return refused
        if status == 429:
            return UpstreamRejected(
                self.department, f"{what}: still rate limited after retries", code="rate_limited"
            )
        if status == 409 and code == "idempotency_conflict":
            message = f"{what}: Idempotency-Key reused for another request"
            return UpstreamRejected(self.department, message, code="idempotency_conflict")
        if status == 400:
            return UpstreamRejected(self.department, f"{what}: bad request", code="bad_request")
        return UpstreamRejected(self.department, f"{what}: HTTP {status}", code=code)

    def _decode(self, response: UpstreamResponse, to_record: Callable[[object], T]) -> T:
        try:
            return to_record(response.json(self.department))
        except Exception:
            self.payload_error("answer does not match the center's contract")
            raise
