"""Credential verification (学信网-style): ``POST /verify {cert_no, name}`` with ``X-Api-Key``.

A wrong name answers ``valid: false`` and nothing else, exactly like an unknown number: the
hub can only say "not verified under this name". The service allows 5 calls a second: paced
here (``CallPacer``; ``app_calls_per_second`` when the policy sets one), with a ``429``'s
``Retry-After`` honoured within the budget as the backstop. Verifying is a read (``POST`` only
to keep the name out of URLs), so it is retried.
"""

from __future__ import annotations

import time

import aiohttp

from connectors.base import Clock, Connector, DepartmentPolicy
from connectors.credentials import mapping
from connectors.credentials.models import Verification
from connectors.errors import UpstreamPayloadError, UpstreamRejected
from connectors.observer import Observer
from connectors.pacing import CallPacer
from connectors.shared import Shared

PER_SECOND = 5


class CredentialsConnector(Connector):
    """Typed certificate verification; credential ``api_key``."""

    department = "credentials"

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
        # the department's quota (``PER_SECOND``), or the one agreed with it when configured
        self.pacer = CallPacer(
            policy.app_calls_per_second or PER_SECOND,
            clock=lambda: self.monotonic(),
            sleep=lambda s: self.sleep(s),
        )

    async def verify(self, cert_no: str, name: str) -> Verification:
        """Whether certificate ``cert_no`` is held under ``name``, and its details if so."""
        cert_no, name = cert_no.strip(), name.strip()
        if not cert_no or not name:
            raise ValueError("a certificate number and a name")
        headers = {"X-Api-Key": self._api_key, "Accept": "application/json"}
        async with self.pacer.slot():
            response = await self._request(
                "POST",
                "/verify",
                headers=headers,
                json={"cert_no": cert_no, "name": name},
                retry=True,
                read=True,
            )
        if response.status != 200:
            raise UpstreamRejected(
                self.department, f"POST /verify: HTTP {response.status}", code=str(response.status)
            )
        try:
            return mapping.verification(response.json(self.department), cert_no)
        except UpstreamPayloadError as exc:
            raise self.payload_error(f"POST /verify: {exc.detail}") from exc
