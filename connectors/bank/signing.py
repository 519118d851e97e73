"""SHA256withRSA (PKCS#1 v1.5, base64) both ways, as both banks' open APIs use it.

Requests are signed over ``"/api/{method}?" + "&".join(sorted non-empty k=v)`` with the hub's
app key, ``sign`` itself left out, values exactly as sent (not URL-encoded again).

Answers are ``{"response_biz_content": {…}, "sign": "…"}`` and the bank signs the *exact* text
of ``response_biz_content`` as it appears in the body: re-serialising the parsed object would
change spacing, key order or escapes and break the signature. ``split_answer`` therefore walks
the top-level object of the raw body with ``json.JSONDecoder.raw_decode``, key by key and value
by value, and keeps the start and end offsets of each value; the content is the slice of the
body between those offsets. Nested objects are consumed whole by ``raw_decode``, so a
``"response_biz_content"`` key inside the content can never be mistaken for the top-level one,
and a body naming the key twice is refused rather than guessed at.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CONTENT_KEY = "response_biz_content"
SIGN_KEY = "sign"
_WHITESPACE = " \t\n\r"


class KeyFileError(Exception):
    """A key file is missing, unreadable or not an RSA key of the expected kind."""


class AnswerShapeError(Exception):
    """An answer body is not a single JSON object with one content and one sign."""


@dataclass(frozen=True)
class SignedAnswer:
    """The content exactly as signed, the same content parsed, and the signature (if any)."""

    content: bytes
    parsed: Any
    signature: object


def signing_string(path: str, params: Mapping[str, str]) -> str:
    """The text a request's ``sign`` covers; ``path`` is ``/api/{method}``."""
    pairs = sorted((k, v) for k, v in params.items() if k != SIGN_KEY and v != "")
    return f"{path}?" + "&".join(f"{k}={v}" for k, v in pairs)


def sign(key: rsa.RSAPrivateKey, content: bytes) -> str:
    """Base64 SHA256withRSA signature of ``content``."""
    signature = key.sign(content, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify(key: rsa.RSAPublicKey, content: bytes, signature: object) -> bool:
    """Whether ``signature`` (base64 text) is ``key``'s SHA256withRSA over ``content``."""
    if not isinstance(signature, str) or not signature:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, content, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    return at


def _expect(text: str, at: int, char: str) -> int:
    if at >= len(text) or text[at] != char:
        raise AnswerShapeError(f"expected {char!r} at offset {at}")
    return at + 1


def split_answer(body: bytes) -> SignedAnswer:
    """The exact ``response_biz_content`` bytes of ``body``, parsed too, and its ``sign``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AnswerShapeError("answer is not UTF-8") from exc
    decoder = json.JSONDecoder()
    spans: dict[str, tuple[int, int, Any]] = {}
    at = _expect(text, _skip(text, 0), "{")
    at = _skip(text, at)
    if at < len(text) and text[at] == "}":
        at += 1
    else:
        while True:
            try:
                key, at = decoder.raw_decode(text, at)
                at = _expect(text, _skip(text, at), ":")
                start = _skip(text, at)
                value, at = decoder.raw_decode(text, start)
            except json.JSONDecodeError as exc:
                raise AnswerShapeError(f"answer is not JSON: {exc.msg}") from exc
            if not isinstance(key, str) or key in spans:
                raise AnswerShapeError(f"answer repeats or mangles the key {key!r}")
            spans[key] = (start, at, value)
            at = _skip(text, at)
            if at < len(text) and text[at] == ",":
                at = _skip(text, at + 1)
                continue
            at = _expect(text, at, "}")
            break
    if _skip(text, at) != len(text):
        raise AnswerShapeError("trailing data after the answer")
    if CONTENT_KEY not in spans:
        raise AnswerShapeError(f"answer has no {CONTENT_KEY}")
    start, end, parsed = spans[CONTENT_KEY]
    signature = spans[SIGN_KEY][2] if SIGN_KEY in spans else None
    return SignedAnswer(text[start:end].encode("utf-8"), parsed, signature)


@dataclass(frozen=True)
class AppKeys:
    """What the hub needs to talk to one bank: its app id, its signing key, the bank's key."""

    app_id: str
    app_private: rsa.RSAPrivateKey
    bank_public: rsa.RSAPublicKey


def load_keys(credentials: Mapping[str, str]) -> AppKeys:
    """``app_id``, and the PEM files named by ``app_private_key`` and ``bank_public_key``."""

    def credential(name: str) -> str:
        value = credentials.get(name)
        if not value:
            raise KeyFileError(f"credential {name} is not configured")
        return value

    return AppKeys(
        credential("app_id"),
        load_private_key(credential("app_private_key")),
        load_public_key(credential("bank_public_key")),
    )


def load_private_key(path: str) -> rsa.RSAPrivateKey:
    """The app's RSA signing key from a PEM file (PKCS#8 or PKCS#1, unencrypted)."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{path}: {type(exc).__name__}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError(f"{path}: not an RSA private key")
    return key


def load_public_key(path: str) -> rsa.RSAPublicKey:
    """The bank's RSA verification key from a PEM file (SubjectPublicKeyInfo)."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{path}: {type(exc).__name__}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFileError(f"{path}: not an RSA public key")
    return key
