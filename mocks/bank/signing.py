"""SHA256withRSA (PKCS#1 v1.5), base64, as both banks' open APIs use it in both directions.

Requests are signed over ``"/api/{method}?" + "&".join(sorted non-empty k=v)`` without the
``sign`` parameter, values exactly as sent (form-decoded, not URL-encoded again). Answers are
signed over the exact UTF-8 bytes of the ``response_biz_content`` JSON text in the body.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def signing_string(path: str, params: Mapping[str, str]) -> str:
    """The text a request's ``sign`` covers; ``path`` is ``/api/{method}``."""
    pairs = sorted((k, v) for k, v in params.items() if k != "sign" and v != "")
    return f"{path}?" + "&".join(f"{k}={v}" for k, v in pairs)


def sign(key: rsa.RSAPrivateKey, content: bytes) -> str:
    """Base64 SHA256withRSA signature of ``content``."""
    signature = key.sign(content, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify(key: rsa.RSAPublicKey, content: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is ``key``'s SHA256withRSA over ``content``."""
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, content, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
