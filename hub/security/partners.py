"""Partners (the banks' window systems): hub-issued credentials and short-lived tokens.

A partner proves itself with a client id and secret at ``POST /oauth/token`` (OAuth 2.0
client credentials, RFC 6749 §4.4) and calls ``/graphql`` with the bearer token it gets.
Secrets are stored as scrypt hashes; tokens are JWTs signed by the hub for audience
``ihub-partner`` and carry the partner id and its bank.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jwt
from cachetools import TTLCache
from graphql import GraphQLSchema
from sqlmodel import Session, select

from hub.security.auth import DevKeys
from hub.security.manifests import register
from hub.store.db import Database
from hub.store.models import Partner

PARTNER_AUDIENCE = "ihub-partner"
MODES = ("ids_only", "allowlist", "log_unknown")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), dklen=32, **_SCRYPT)
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class PartnerRecord:
    id: str
    name: str
    mode: str
    bank: str | None


def add_partner(
    session: Session,
    partner_id: str,
    *,
    name: str,
    mode: str = "ids_only",
    bank: str | None = None,
    client_id: str | None = None,
    secret: str | None = None,
) -> tuple[str, str]:
    """Register a partner; returns (client id, secret) — the secret is shown only now."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    client_id = client_id or f"{partner_id}-{secrets.token_hex(4)}"
    secret = secret or secrets.token_urlsafe(32)
    session.add(
        Partner(
            id=partner_id,
            name=name,
            client_id=client_id,
            secret_hash=hash_secret(secret),
            mode=mode,
            bank=bank,
            created_at=datetime.now(UTC),
        )
    )
    session.commit()
    return client_id, secret


class PartnerRegistry:
    """Partner look-ups for token issuance and per-request policy, cached briefly."""

    def __init__(
        self, database: Database, keys: DevKeys, *, issuer: str, token_ttl_s: int = 600
    ) -> None:
        self._database = database
        self._keys = keys
        self._issuer = issuer
        self._ttl = token_ttl_s
        self._records: TTLCache[str, PartnerRecord | None] = TTLCache(1_000, 30)

    async def issue_token(self, client_id: str, secret: str) -> tuple[str, int] | None:
        """A bearer token for valid client credentials, else ``None``."""
        found = await self._database.run(
            lambda s: s.exec(select(Partner).where(Partner.client_id == client_id)).first()
        )
        # hash anyway when the client is unknown, so timing does not tell which part was wrong
        stored = found.secret_hash if found else hash_secret("unknown client")
        if not verify_secret(secret, stored) or found is None:
            return None
        now = int(time.time())
        claims = {
            "sub": f"partner:{found.id}",
            "iss": self._issuer,
            "aud": PARTNER_AUDIENCE,
            "iat": now,
            "exp": now + self._ttl,
            "bank": found.bank,
        }
        token = jwt.encode(
            claims, self._keys.private_pem, algorithm="RS256", headers={"kid": self._keys.kid}
        )
        return token, self._ttl

    async def record(self, partner_id: str) -> PartnerRecord | None:
        if partner_id in self._records:
            return self._records[partner_id]
        found = await self._database.run(lambda s: s.get(Partner, partner_id))
        record = PartnerRecord(found.id, found.name, found.mode, found.bank) if found else None
        self._records[partner_id] = record
        return record


DEV_PARTNERS = {
    # partner id: (name, bank, client id, secret) — dev only, documented in the README
    "icbc": ("工商银行深圳分行窗口系统", "icbc", "icbc-window-dev", "dev-icbc-partner-secret"),
    "ccb": ("建设银行深圳分行窗口系统", "ccb", "ccb-window-dev", "dev-ccb-partner-secret"),
}
EXAMPLE_MANIFESTS = Path(__file__).resolve().parents[2] / "partners"


def seed_dev_partners(session: Session, schema: GraphQLSchema) -> list[str]:
    """The two banks with dev credentials and their example manifests, unless present."""
    added = []
    for partner_id, (name, bank, client_id, secret) in DEV_PARTNERS.items():
        if session.get(Partner, partner_id) is not None:
            continue
        add_partner(session, partner_id, name=name, bank=bank, client_id=client_id, secret=secret)
        example = EXAMPLE_MANIFESTS / f"{partner_id}.manifest.json"
        if example.exists():
            register(session, partner_id, example.read_bytes(), schema)
        added.append(partner_id)
    return added
