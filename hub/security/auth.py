"""Resident authentication: ``Authorization: Bearer <JWT>`` verified with PyJWT.

Tokens are issued by the i罗湖 identity service, whose public keys come from its JWKS
(``hub.security.jwks``, rotated by ``kid``); in dev, by ``ihub token`` with a key pair the hub
generates on first start. A verifier reads keys from a ``KeySource``. Verification pins the
algorithm list (never ``none``, never an HMAC algorithm that would accept the public key as a
secret) and the key's own algorithm, requires ``exp``, ``iat``, ``iss``, ``aud`` and ``sub``,
and allows a small clock leeway for ``exp``/``nbf``/``iat``. A bad token never fails the
request: the caller is anonymous, and the reason is kept for ``UNAUTHENTICATED`` errors.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import jwt
from cachetools import LRUCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import HTTPConnection

from schema.context import Principal

RESIDENT_ID = re.compile(r"R\d{6}")
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"})
DEV_KID = "ihub-dev-1"


@dataclass(frozen=True)
class DevKeys:
    """The dev signing key pair, kept under ``var/keys`` so tokens survive restarts."""

    private_pem: bytes
    public_pem: bytes
    kid: str = DEV_KID

    @classmethod
    def load_or_create(cls, directory: Path) -> DevKeys:
        private_path = directory / "jwt-dev-private.pem"
        public_path = directory / "jwt-dev-public.pem"
        if not private_path.exists():
            directory.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            private = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            public = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            temporary = private_path.with_suffix(".tmp")
            temporary.write_bytes(private)
            temporary.chmod(0o600)
            public_path.write_bytes(public)
            temporary.replace(private_path)
        if not public_path.exists():
            stored = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
            public_path.write_bytes(
                stored.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        return cls(private_path.read_bytes(), public_path.read_bytes())


def issue_token(
    keys: DevKeys,
    resident_id: str,
    *,
    issuer: str,
    audience: str,
    ttl_s: int = 3600,
    now: float | None = None,
) -> str:
    """A dev resident token, signed like the identity service signs its own."""
    if not RESIDENT_ID.fullmatch(resident_id):
        raise ValueError("a resident id is R followed by 6 digits, e.g. R000001")
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": resident_id,
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl_s,
    }
    return jwt.encode(claims, keys.private_pem, algorithm="RS256", headers={"kid": keys.kid})


PARTNER_SUBJECT = re.compile(r"partner:[a-z0-9_-]{1,32}")


class KeySource(Protocol):
    """Where a verifier finds public keys, by ``kid``."""

    def get(self, kid: str) -> jwt.PyJWK | None:
        """The key with this id, from memory; never does I/O."""
        ...

    async def refresh_for(self, kid: str) -> None:
        """A token names an unknown ``kid``: look again, if the source's rate limit allows."""
        ...


class StaticKeys:
    """Fixed public keys (PEM, by ``kid``): the dev key pair, the hub's own partner key."""

    def __init__(self, public_keys: Mapping[str, bytes]) -> None:
        self._keys = {kid: jwt.PyJWK.from_json(_jwk(pem, kid)) for kid, pem in public_keys.items()}

    def get(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)

    async def refresh_for(self, kid: str) -> None:
        return None


class KeyChain:
    """Several key sources, asked in order (the dev key pair, then the identity service's)."""

    def __init__(self, *sources: KeySource) -> None:
        self._sources = sources

    def get(self, kid: str) -> jwt.PyJWK | None:
        return next((k for s in self._sources if (k := s.get(kid)) is not None), None)

    async def refresh_for(self, kid: str) -> None:
        for source in self._sources:
            await source.refresh_for(kid)


VERIFIED_TOKENS = 10_000
"""Verified tokens a verifier remembers (LRU)."""
VERIFIED_FOR_S = 60.0
"""How long a verified token is taken without checking its signature again (if it lives so long)."""


class TokenVerifier:
    """Checks tokens for one audience against a key source, by ``kid``."""

    def __init__(
        self,
        keys: KeySource | Mapping[str, bytes],
        *,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...] = ("RS256",),
        leeway_s: float = 30.0,
        subject: re.Pattern[str] = RESIDENT_ID,
    ) -> None:
        unsafe = set(algorithms) - ASYMMETRIC
        if unsafe or not algorithms:
            raise ValueError(f"refusing non-asymmetric JWT algorithms: {sorted(unsafe)}")
        self._keys: KeySource = StaticKeys(keys) if isinstance(keys, Mapping) else keys
        self._issuer = issuer
        self._audience = audience
        self._algorithms = list(algorithms)
        self._leeway = leeway_s
        self._subject = subject
        self.audience = audience
        # tokens already verified: token -> (claims, kid, until); a repeat within the token's
        # own validity (and at most VERIFIED_FOR_S) skips the RSA check and the decoding
        self._verified: LRUCache[str, tuple[dict[str, object], str, float]] = LRUCache(
            VERIFIED_TOKENS
        )

    def remembered(self, token: str) -> Mapping[str, object] | None:
        """The claims of ``token`` if this verifier took it a moment ago and nothing since has
        made it invalid (its ``exp``, at most ``VERIFIED_FOR_S``, its signing key still known);
        ``None`` otherwise. Never decodes; the mapping is shared, not to be changed."""
        known = self._verified.get(token)
        if known is None:
            return None
        claims, signer, until = known
        if time.time() < until and self._keys.get(signer) is not None:
            return claims
        self._verified.pop(token, None)
        return None

    async def verify(self, token: str) -> dict[str, object]:
        """The claims of a valid token; ``jwt.InvalidTokenError`` otherwise.

        An unknown ``kid`` asks the key source to look again once (keys rotate); the source
        decides how often that may reach the network.
        """
        remembered = self.remembered(token)
        if remembered is not None:
            return dict(remembered)
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise jwt.InvalidAlgorithmError("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise jwt.InvalidTokenError("the token names no signing key")
        key = self._keys.get(kid)
        if key is None:
            await self._keys.refresh_for(kid)
            key = self._keys.get(kid)
        if key is None:
            raise jwt.InvalidTokenError("unknown signing key")
        if key.algorithm_name != algorithm:
            raise jwt.InvalidAlgorithmError("the key is not for this algorithm")
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=self._audience,
            issuer=self._issuer,
            leeway=self._leeway,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
        subject = claims["sub"]
        if not isinstance(subject, str) or not self._subject.fullmatch(subject):
            raise jwt.InvalidTokenError("unexpected subject")
        expires = claims["exp"]
        if isinstance(expires, int | float):
            # no later than ``exp`` itself (not exp + leeway): a cached token never outlives it
            until = min(float(expires), time.time() + VERIFIED_FOR_S)
            self._verified[token] = (dict(claims), kid, until)
        return claims


def _jwk(public_pem: bytes, kid: str) -> str:
    key = serialization.load_pem_public_key(public_pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("resident tokens are verified with RSA keys")
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return json.dumps(jwk)


class Authenticator:
    """Turns a request's credentials into one ``Principal``: a resident or a partner."""

    def __init__(self, residents: TokenVerifier, partners: TokenVerifier) -> None:
        self._residents = residents
        self._partners = partners

    async def authenticate(self, connection: HTTPConnection) -> Principal:
        """The caller; anonymous (with the reason kept) when the credentials do not hold."""
        return await self.authenticate_header(connection.headers.get("authorization"))

    async def authenticate_header(self, header: str | None) -> Principal:
        """``authenticate`` for an ``Authorization`` value that came another way (a
        WebSocket's ``connection_init`` payload)."""
        if not header:
            return Principal.anonymous()
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Principal.anonymous("the Authorization header is not a Bearer token")
        try:
            return await self._principal(token.strip())
        except jwt.ExpiredSignatureError:
            return Principal.anonymous("the token has expired")
        except (jwt.PyJWTError, ValueError):
            return Principal.anonymous("the token is not valid")

    async def _principal(self, token: str) -> Principal:
        # a token one of the verifiers took a moment ago needs no decoding at all (most
        # requests: a resident's app sends the same token for its lifetime)
        if (claims := self._residents.remembered(token)) is not None:
            return Principal.resident(str(claims["sub"]))
        if (claims := self._partners.remembered(token)) is not None:
            return _partner(claims)
        # the audience picks the verifier; the chosen one then checks everything, aud included
        audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
        if audience == self._partners.audience:
            return _partner(await self._partners.verify(token))
        return Principal.resident(str((await self._residents.verify(token))["sub"]))


def _partner(claims: Mapping[str, object]) -> Principal:
    bank = claims.get("bank")
    return Principal.partner(
        str(claims["sub"]).removeprefix("partner:"), bank if isinstance(bank, str) else None
    )
