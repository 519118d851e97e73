"""Persisted documents: Apollo's automatic persisted queries, and partners' trusted documents.

Front-ends (residents, anonymous): ``extensions.persistedQuery {version: 1, sha256Hash}``
without ``query`` runs the stored document, or answers ``PERSISTED_QUERY_NOT_FOUND`` so the
client resends it; with ``query`` the hash is checked, the document validated, stored, run.

Partners: only documents of their own registered manifest, by ``documentId`` (or the APQ
hash), and in full too in ``allowlist`` mode; anything in ``log_unknown`` mode. Bound to the
authenticated partner, never to a header a client chooses.

APQ registrations are kept in this process (LRU), in the database, and with a shared store
(``HUB_REDIS_URL``) there too for ``APQ_SHARED_TTL_S``, so a hash registered on one replica
runs on every other one even when each has its own database.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache, TTLCache
from graphql import GraphQLError, GraphQLSchema, parse, validate
from sqlmodel import select
from strawberry.http import GraphQLRequestData

from connectors.shared import SharedStore, SharedUnavailable
from hub.security.manifests import sha256
from hub.security.partners import PartnerRegistry
from hub.store.db import Database
from hub.store.models import PartnerManifest, PartnerOperation, PersistedDocument
from schema.context import CallerKind, Principal

logger = logging.getLogger("ihub.persisted")
HASH = re.compile(r"[0-9a-f]{64}")
APQ_SHARED_TTL_S = 7 * 24 * 3600.0


class PersistedQueryError(Exception):
    """A refusal answered as a GraphQL error response with ``code``."""

    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class _Manifest:
    operations: dict[str, str]
    not_before: datetime | None
    not_after: datetime | None

    def current(self, now: datetime) -> bool:
        def aware(moment: datetime) -> datetime:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

        if self.not_before is not None and now < aware(self.not_before):
            return False
        return self.not_after is None or now < aware(self.not_after)


class PersistedDocuments:
    """Resolves a request's document from its hash or id, per the caller's rules."""

    def __init__(
        self,
        database: Database,
        partners: PartnerRegistry,
        schema: GraphQLSchema,
        *,
        apq: bool = True,
        cache_size: int = 10_000,
        shared: SharedStore | None = None,
    ) -> None:
        self._shared = shared
        self._database = database
        self._partners = partners
        self._schema = schema
        self._apq = apq
        self._documents: LRUCache[str, str] = LRUCache(cache_size)
        self._manifests: TTLCache[str, _Manifest] = TTLCache(1_000, 30)

    async def resolve(
        self, data: GraphQLRequestData, document_id: str | None, principal: Principal
    ) -> GraphQLRequestData:
        persisted = (data.extensions or {}).get("persistedQuery")
        if principal.kind is CallerKind.PARTNER:
            return await self._for_partner(data, document_id, persisted, principal)
        if document_id is not None:
            problem = principal.auth_problem or "trusted documents need a partner token"
            raise PersistedQueryError("UNAUTHENTICATED", f"Not authenticated: {problem}.")
        if persisted is None:
            return data
        if not self._apq:
            raise PersistedQueryError("PERSISTED_QUERY_NOT_ALLOWED", "PersistedQueryNotSupported")
        digest = _hash(persisted)
        if data.query is None:
            body = await self._document(digest)
            if body is None:
                raise PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
            return replace(data, query=body)
        if sha256(data.query) != digest:
            raise PersistedQueryError(
                "BAD_USER_INPUT", "provided sha does not match query", status=400
            )
        if self._valid(data.query):
            await self._store(digest, data.query)
        return data

    async def _for_partner(
        self,
        data: GraphQLRequestData,
        document_id: str | None,
        persisted: Any,
        principal: Principal,
    ) -> GraphQLRequestData:
        assert principal.partner_id is not None
        partner = await self._partners.record(principal.partner_id)
        if partner is None:
            raise PersistedQueryError("UNAUTHENTICATED", "Unknown partner.")
        manifest = await self._manifest(partner.id)
        if not manifest.current(datetime.now(UTC)):
            raise PersistedQueryError(
                "PERSISTED_QUERY_NOT_ALLOWED", "The partner's manifest is not in force."
            )
        wanted = _document_id(document_id) if document_id else None
        if wanted is None and persisted is not None:
            wanted = _hash(persisted)
        if data.query is not None:
            if partner.mode == "ids_only":
                raise PersistedQueryError(
                    "PERSISTED_QUERY_NOT_ALLOWED", "Only registered operations, by id."
                )
            known = sha256(data.query) in manifest.operations
            if not known and partner.mode == "allowlist":
                raise PersistedQueryError(
                    "PERSISTED_QUERY_NOT_ALLOWED", "This operation is not in your manifest."
                )
            if not known:
                logger.warning(
                    "partner %s ran an unregistered operation %s", partner.id, sha256(data.query)
                )
            return data
        if wanted is None:
            raise PersistedQueryError("BAD_USER_INPUT", "No documentId or query.", status=400)
        body = manifest.operations.get(wanted)
        if body is None:
            raise PersistedQueryError(
                "PERSISTED_QUERY_NOT_ALLOWED", "This operation is not in your manifest."
            )
        return replace(data, query=body)

    def _valid(self, body: str) -> bool:
        try:
            return not validate(self._schema, parse(body))
        except GraphQLError:
            return False

    async def _document(self, digest: str) -> str | None:
        if digest in self._documents:
            return self._documents[digest]
        if self._shared is not None:
            try:
                (kept,) = await self._shared.get_many([f"apq:{digest}"])
            except SharedUnavailable:
                kept = None  # reported by the store: the database still has what was stored here
            if kept is not None and sha256(body := kept.decode()) == digest:
                self._documents[digest] = body
                return body
        found = await self._database.run(lambda s: s.get(PersistedDocument, digest))
        if found is not None:
            self._documents[digest] = found.body
            return found.body
        return None

    async def _store(self, digest: str, body: str) -> None:
        if digest in self._documents:
            return

        def write(session: Any) -> None:
            if session.get(PersistedDocument, digest) is None:
                session.add(
                    PersistedDocument(sha256=digest, body=body, created_at=datetime.now(UTC))
                )
                session.commit()

        try:
            await self._database.run(write)
        except Exception:  # a concurrent registration of the same document won the race
            logger.info("persisted document %s was stored concurrently", digest)
        self._documents[digest] = body
        if self._shared is not None:
            # unreachable (reported by the store): other replicas ask their client to resend it
            with contextlib.suppress(SharedUnavailable):
                await self._shared.put(f"apq:{digest}", body.encode(), APQ_SHARED_TTL_S)

    async def _manifest(self, partner_id: str) -> _Manifest:
        if partner_id in self._manifests:
            return self._manifests[partner_id]

        def read(session: Any) -> _Manifest:
            head = session.get(PartnerManifest, partner_id)
            rows = session.exec(
                select(PartnerOperation).where(PartnerOperation.partner_id == partner_id)
            ).all()
            if head is None:
                return _Manifest({}, None, None)
            return _Manifest({r.id: r.body for r in rows}, head.not_before, head.not_after)

        manifest = await self._database.run(read)
        self._manifests[partner_id] = manifest
        return manifest


def _hash(persisted: Any) -> str:
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(
            "BAD_USER_INPUT", "Unsupported persistedQuery version.", status=400
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not HASH.fullmatch(digest):
        raise PersistedQueryError("BAD_USER_INPUT", "sha256Hash must be 64 hex digits.", status=400)
    return digest


def _document_id(raw: str) -> str:
    digest = raw.removeprefix("sha256:")
    if not HASH.fullmatch(digest):
        raise PersistedQueryError(
            "BAD_USER_INPUT", "documentId must be sha256:<64 hex>.", status=400
        )
    return digest
