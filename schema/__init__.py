"""The GraphQL schema: one module per department, merged into one ``Query``.

Adding a department adds its modules and one line each to ``QUERY_MODULES`` and, if it has
mutations, ``MUTATION_MODULES``. The schema is also a Federation 2 subgraph
(``schema.federation``): a public type becomes an entity with ``@strawberry.federation.type(
keys=[...])`` and an async ``resolve_reference`` classmethod reading through the loaders.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from typing import Any

import strawberry
import strawberry.federation
from cachetools import LRUCache
from graphql import DocumentNode, GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.federation.schema import FederationAny
from strawberry.types import ExecutionContext, Info

from schema.approvals import ApprovalsMutation
from schema.audit import AuditTrailExtension
from schema.bank import BankQuery
from schema.bank_appointments import BankMutation
from schema.consents import ConsentMutation
from schema.consents_partner import PartnerConsentMutation
from schema.context import CallerKind
from schema.cost import OperationMeasures
from schema.errors import is_unexpected
from schema.execution import HubExecutionContext, lean_resolvers
from schema.extensions import Degradation, ErrorVocabulary, OperationOutcome, ValidationMemo
from schema.federation import (
    FEDERATION_VERSION,
    FederationQuery,
    checked_representations,
    describe,
    entity_keys,
)
from schema.garbage import GarbageQuery
from schema.hooks import HookRunner
from schema.introspection import DEFAULT_INTROSPECTION, IntrospectionPolicy
from schema.library import LibraryQuery
from schema.library_mutations import LibraryMutation
from schema.limits import QueryLimiter, QueryLimits
from schema.locks import LocksMutation
from schema.me import MeQuery
from schema.offers import OffersMutation, OffersSubscription
from schema.partner import PartnerQuery
from schema.qr import QrQuery
from schema.services import ServicesQuery
from schema.tracing import OperationSpan
from schema.youth import YouthQuery
from schema.youth_mutations import YouthMutation

logger = logging.getLogger("ihub.errors")

QUERY_MODULES: tuple[type[Any], ...] = (
    MeQuery,
    YouthQuery,
    LibraryQuery,
    BankQuery,
    GarbageQuery,
    ServicesQuery,
    PartnerQuery,
    QrQuery,
    FederationQuery,
)
MUTATION_MODULES: tuple[type[Any], ...] = (
    YouthMutation,
    LibraryMutation,
    BankMutation,
    LocksMutation,
    ConsentMutation,
    PartnerConsentMutation,
    ApprovalsMutation,
    OffersMutation,
)

DOCUMENT_CACHE_SIZE = 1024


class HubSchema(strawberry.federation.Schema):
    """Logs what was unexpected, once, with the request id; expected refusals are not noise.

    A Federation 2 subgraph whose ``_entities`` resolves only well-formed representations of
    its entities (``schema.federation.checked_representations``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(federation_version=FEDERATION_VERSION, **kwargs)
        executor: type = self.execution_context_class
        if issubclass(executor, HubExecutionContext):  # with this schema's leaf fields
            self.execution_context_class = executor.for_schema(self._schema)
        # strawberry's resolver and the direct one, by field (the differential test runs both)
        self.lean_resolvers = lean_resolvers(self)
        for resolvers in self.lean_resolvers.values():
            resolvers.field.resolve = resolvers.lean
        types = self.schema_converter.type_map.values()
        self._entity_keys = entity_keys(t.definition for t in types)
        describe(self._schema)
        self._sdl: str | None = None

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> HookRunner:
        """The extensions' hooks, found once per class (``schema.hooks``)."""
        return HookRunner(execution_context=execution_context, extensions=extensions)

    def as_str(self) -> str:
        """The SDL, printed once (``_service`` answers it to every gateway that asks)."""
        if self._sdl is None:
            self._sdl = super().as_str()
        return self._sdl

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        checked = checked_representations(representations, self._entity_keys)
        return super().entities_resolver(info, checked)  # type: ignore[arg-type]

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = getattr(getattr(execution_context, "context", None), "request_id", "-")
        for error in errors:
            if is_unexpected(error):
                logger.error(
                    "unexpected error in %s (request %s)",
                    ".".join(map(str, error.path or [])) or "operation",
                    request_id,
                    exc_info=error.original_error,
                )


def build_schema(
    limits: QueryLimits | None = None,
    introspection: Mapping[CallerKind, bool] | None = None,
) -> HubSchema:
    """The hub's schema. ``limits`` default to ``QueryLimits()``; ``introspection`` says which
    caller kinds may introspect (default: anonymous callers and residents, not partners)."""
    limits = limits or QueryLimits()
    measured: LRUCache[Hashable, OperationMeasures | None] = LRUCache(DOCUMENT_CACHE_SIZE)
    validated: LRUCache[Hashable, tuple[DocumentNode, list[GraphQLError]]] = LRUCache(
        DOCUMENT_CACHE_SIZE
    )
    allowed = DEFAULT_INTROSPECTION if introspection is None else introspection
    query = strawberry.type(
        type("Query", QUERY_MODULES, {}),
        description="i罗湖 民生服务 · i罗湖 Hub: the district's department services in one schema.",
    )
    mutation = strawberry.type(
        type("Mutation", MUTATION_MODULES, {}),
        description="代办变更 · "
        "Changes on the resident's behalf. Every input carries an idempotency key.",
    )
    return HubSchema(
        query=query,
        mutation=mutation,
        subscription=OffersSubscription,
        execution_context_class=HubExecutionContext,  # freed by reference counting
        extensions=[
            ErrorVocabulary,
            # early: a refusal at the start of execution enters no later extension's hook
            lambda: QueryLimiter(limits, measured),
            lambda: IntrospectionPolicy(allowed),
            lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
            lambda: ValidationMemo(validated),
            Degradation,
            OperationOutcome,
            OperationSpan,
            # last, so it ends first: the others (errors, metrics) see an answer it withheld
            AuditTrailExtension,
        ],
    )


__all__ = ["HubSchema", "build_schema"]
