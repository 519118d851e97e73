"""A stand-in identity service for tests: key pairs, tokens, and a JWKS endpoint.

- ``SigningKey``: an RSA or EC key pair made with ``cryptography``, its public JWK, its tokens.
- ``JwksServer``: a tiny aiohttp app on a loopback port serving the JWKS a test publishes and
  counting the hits; ``BackgroundJwks`` runs one in its own loop, for tests driving a live hub.
- ``ManualSleep`` / ``FakeClock``: injected into ``JwksKeySet`` so refresh intervals need no
  waiting.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hub.settings import Settings
from tests.support import BackgroundLoop

SETTINGS = Settings()


@dataclass(frozen=True)
class SigningKey:
    """One of the identity service's key pairs."""

    kid: str
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    algorithm: str

    @classmethod
    def rsa(cls, kid: str, bits: int = 2048) -> SigningKey:
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=bits), "RS256")

    @classmethod
    def ec(cls, kid: str) -> SigningKey:
        return cls(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self, **changes: object) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            entry = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            entry = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
        entry.update({"kid": self.kid, "alg": self.algorithm, "use": "sig"}, **changes)
        return {k: v for k, v in entry.items() if v is not None}

    def token(self, kid: str | None = None, **changes: object) -> str:
        return jwt.encode(
            claims(**changes),
            self.private,
            algorithm=self.algorithm,
            headers={"kid": kid or self.kid},
        )


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "R000001",
        "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, object], secret: bytes | None) -> str:
    """A token signed with HMAC-SHA256 over ``secret``, or unsigned when ``secret`` is None."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims()).encode())}"
    if secret is None:
        return f"{signing_input}."
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


def oct_jwk(kid: str, secret: bytes, **extra: object) -> dict[str, object]:
    return {"kty": "oct", "kid": kid, "k": _b64(secret), **extra}


class JwksServer:
    """A stand-in identity service: serves the published JWKS and counts the hits."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.raw: bytes | None = None  # when set, sent instead of the document
        self.status = 200
        self.hits = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    def publish(self, *entries: dict[str, Any]) -> None:
        self.document = {"keys": list(entries)}

    async def _jwks(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.raw is not None:
            return web.Response(body=self.raw, status=self.status, content_type="application/json")
        return web.json_response(self.document, status=self.status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/.well-known/jwks.json", self._jwks)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/.well-known/jwks.json"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class BackgroundJwks(JwksServer):
    """The JWKS server in its own loop and thread, for tests that drive a live hub."""

    def __init__(self) -> None:
        super().__init__()
        self._loop = BackgroundLoop()
        self._loop.run(self.start())

    def go_down(self) -> None:
        self._loop.run(self.stop())

    def close(self) -> None:
        self.go_down()
        self._loop.close()


class ManualSleep:
    """An injected ``sleep``: records each delay and returns only when the test says so."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._wake: asyncio.Queue[None] = asyncio.Queue()
        self._called: asyncio.Queue[None] = asyncio.Queue()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self._called.put_nowait(None)
        await self._wake.get()

    async def asleep(self) -> None:
        """Wait until the refresh loop is asleep (again)."""
        await self._called.get()

    def wake(self) -> None:
        self._wake.put_nowait(None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
