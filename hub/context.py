"""The per-request context every resolver sees (``schema.context.HubContextProtocol``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response

from connectors.base import Connector
from hub.security.auth import Authenticator
from hub.security.persisted import PersistedDocuments
from hub.security.ratelimit import BucketPolicy, RateLimiter
from schema.context import (
    ApplicationFiling,
    Approvals,
    AuditLog,
    AuditTrail,
    CallerKind,
    ConsentStore,
    HubRecords,
    IdempotencyStore,
    Principal,
    RedemptionAttempts,
    ResidentDirectory,
    ResidentOffers,
    ServiceCatalogue,
)
from schema.links import PublicLinks

L = TypeVar("L")


class RequestLoaders:
    """Loaders for one request, built on first use; never shared between requests."""

    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self._connectors = connectors
        self._built: dict[type[Any], Any] = {}

    def get(self, kind: type[L]) -> L:
        loaders = self._built.get(kind)
        if loaders is None:
            build: Any = kind  # a loaders class: ``department`` and ``__init__(connector)``
            loaders = self._built[kind] = build(self._connectors[build.department])
        return cast(L, loaders)

    @property
    def departments(self) -> frozenset[str]:
        """The departments this request has used, for the audit log."""
        return frozenset(kind.department for kind in self._built)


@dataclass(frozen=True)
class Services:
    """What lives as long as the process and every request uses."""

    authenticator: Authenticator
    directory: ResidentDirectory
    idempotency: IdempotencyStore
    records: HubRecords
    audit_log: AuditLog
    catalogue: ServiceCatalogue
    approvals: Approvals
    offers: ResidentOffers
    public_links: PublicLinks
    consents: ConsentStore
    filings: ApplicationFiling
    redemption_attempts: RedemptionAttempts
    persisted: PersistedDocuments
    connectors: Mapping[str, Connector]
    rate_limiter: RateLimiter
    rate_policies: Mapping[CallerKind, BucketPolicy]
    on_rate_limited: Callable[[str], None] = lambda caller: None


@dataclass
class HubContext:
    request: Request
    response: Response
    request_id: str
    principal: Principal
    directory: ResidentDirectory
    idempotency: IdempotencyStore
    records: HubRecords
    audit_log: AuditLog
    catalogue: ServiceCatalogue
    approvals: Approvals
    offers: ResidentOffers
    public_links: PublicLinks
    consents: ConsentStore
    filings: ApplicationFiling
    redemption_attempts: RedemptionAttempts
    loaders: RequestLoaders = field(repr=False)
    partial_errors: list[GraphQLError] = field(default_factory=list)
    audit: AuditTrail = field(default_factory=AuditTrail)
    connection_params: dict[str, object] | None = None
    """A WebSocket's ``connection_init`` payload (subscriptions)."""
