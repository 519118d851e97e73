"""Partner manifests in the Apollo persisted-query manifest format, optionally signed.

``{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{id, name, type,
body}]}`` — the format Apollo, Cosmo and Hive accept. Each ``id`` must be the SHA-256 of its
``body`` and every body must validate against the current schema, or the whole manifest is
refused. A manifest may carry ``not_before``/``not_after`` (ISO 8601) and a detached Ed25519
signature (``FILE.sig``, base64) by the hub operator's key over the manifest file's bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from graphql import GraphQLError, GraphQLSchema, parse, validate
from sqlalchemy import delete
from sqlmodel import Session, select

from hub.store.models import Partner, PartnerManifest, PartnerOperation

FORMAT = "apollo-persisted-query-manifest"


class ManifestError(ValueError):
    """The manifest is refused; ``problems`` names every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Operation:
    id: str
    name: str
    type: str
    body: str


@dataclass(frozen=True)
class Manifest:
    operations: tuple[Operation, ...]
    not_before: datetime | None
    not_after: datetime | None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _time(raw: object, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError as exc:
        raise ManifestError([f"{name} is not an ISO 8601 date-time"]) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_manifest(raw: bytes) -> Manifest:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(["not JSON"]) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != 1:
        raise ManifestError([f'not a {FORMAT} version 1 (need "format" and "version": 1)'])
    operations: list[Operation] = []
    problems: list[str] = []
    for index, entry in enumerate(data.get("operations") or []):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("id", "name", "type", "body")
        ):
            problems.append(f"operation #{index}: needs string id, name, type and body")
            continue
        operation = Operation(entry["id"], entry["name"], entry["type"], entry["body"])
        if operation.id != sha256(operation.body):
            problems.append(f"{operation.name}: id is not the SHA-256 of its body")
        operations.append(operation)
    if not operations and not problems:
        problems.append("no operations")
    if problems:
        raise ManifestError(problems)
    return Manifest(
        tuple(operations),
        _time(data.get("not_before"), "not_before"),
        _time(data.get("not_after"), "not_after"),
    )


def validation_problems(schema: GraphQLSchema, operations: Sequence[Operation]) -> list[str]:
    """Every operation that would not run against ``schema``, with why."""
    problems: list[str] = []
    for operation in operations:
        try:
            errors: Sequence[GraphQLError] = validate(schema, parse(operation.body))
        except GraphQLError as exc:
            errors = [exc]
        problems.extend(f"{operation.name}: {error.message}" for error in errors)
    return problems


def verify_signature(raw: bytes, signature_b64: bytes, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), raw)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign(raw: bytes, private_key: Ed25519PrivateKey) -> bytes:
    return base64.b64encode(private_key.sign(raw))


def register(
    session: Session,
    partner_id: str,
    raw: bytes,
    schema: GraphQLSchema,
    *,
    signature: bytes | None = None,
    public_key: Ed25519PublicKey | None = None,
    require_signed: bool = False,
    now: datetime | None = None,
) -> Manifest:
    """Validate and store a partner's manifest, replacing the previous one; all or nothing."""
    if session.get(Partner, partner_id) is None:
        raise ManifestError([f"no partner {partner_id!r}"])
    signed = (
        signature is not None
        and public_key is not None
        and verify_signature(raw, signature, public_key)
    )
    if signature is not None and not signed:
        raise ManifestError(["the signature does not verify (tampered, or another key)"])
    if require_signed and not signed:
        raise ManifestError(["unsigned: HUB_REQUIRE_SIGNED_MANIFESTS is on"])
    manifest = parse_manifest(raw)
    moment = now or datetime.now(UTC)
    if manifest.not_after is not None and manifest.not_after <= moment:
        raise ManifestError(["expired (not_after is in the past)"])
    problems = validation_problems(schema, manifest.operations)
    if problems:
        raise ManifestError(problems)
    session.execute(delete(PartnerOperation).where(PartnerOperation.partner_id == partner_id))  # type: ignore[arg-type]
    existing = session.get(PartnerManifest, partner_id)
    if existing is not None:
        session.delete(existing)
    session.add(
        PartnerManifest(
            partner_id=partner_id,
            manifest=raw.decode(),
            signed=signed,
            not_before=manifest.not_before,
            not_after=manifest.not_after,
            registered_at=moment,
        )
    )
    for op in manifest.operations:
        session.add(
            PartnerOperation(
                partner_id=partner_id, id=op.id, name=op.name, type=op.type, body=op.body
            )
        )
    session.commit()
    return manifest


def check_stored(session: Session, schema: GraphQLSchema) -> list[str]:
    """Stored operations the current schema would break, as "partner: operation: reason"."""
    operations = session.exec(select(PartnerOperation)).all()
    broken = []
    for op in operations:
        for problem in validation_problems(schema, [Operation(op.id, op.name, op.type, op.body)]):
            broken.append(f"{op.partner_id}: {problem}")
    return broken
