"""人社 (human resources and social security): insurance and retirement by ID number.

``X-Api-Key``; answers are HTTP 200 in the ``{"code", "msg", "data"}`` envelope whatever the
outcome: ``1004`` (no record) is ``None``, any other code ``UpstreamRejected`` with it.
Nothing is cached: a decision's evidence is fetched when the decision is made.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import aiohttp

from connectors.base import Clock, Connector, DepartmentPolicy
from connectors.errors import UpstreamPayloadError, UpstreamRejected
from connectors.hrss import mapping
from connectors.hrss.models import Insurance, Retirement
from connectors.observer import Observer
from connectors.shared import Shared

T = TypeVar("T")


class HrssConnector(Connector):
    """Typed reads of 人社; credential ``api_key``."""

    department = "hrss"

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
        self._api_key = policy.credentials.get("api_key", "")

    async def insurance(self, id_number: str) -> Insurance | None:
        """The social-insurance record, or ``None`` when 人社 has none."""
        return await self._read("/hrss/api/insured", id_number, mapping.insurance)

    async def retirement(self, id_number: str) -> Retirement | None:
        return await self._read("/hrss/api/retirement", id_number, mapping.retirement)

    async def _read(self, path: str, id_number: str, to_record: Callable[[object], T]) -> T | None:
        headers = {"X-Api-Key": self._api_key, "Accept": "application/json"}
        response = await self._request("GET", path, params={"idNo": id_number}, headers=headers)
        try:
            answer = mapping.envelope(response.json(self.department))
        except UpstreamPayloadError as exc:
            raise self.payload_error(f"GET {path}: {exc.detail}") from exc
        if response.status != 200 or answer.code not in (mapping.OK, mapping.NO_RECORD):
            detail = f"GET {path}: HTTP {response.status} code {answer.code}"
            raise UpstreamRejected(self.department, detail, code=answer.code)
        if answer.code == mapping.NO_RECORD:
            return None
        try:
            return to_record(answer.data)
        except UpstreamPayloadError as exc:
            raise self.payload_error(f"GET {path}: {exc.detail}") from exc
