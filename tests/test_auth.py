"""Resident tokens: only a well-formed, correctly signed, current token for us is accepted."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hub.security.auth import DevKeys, TokenVerifier, issue_token
from hub.settings import Settings
from tests.support import LiveHub

ME = "{ me { residentId name } garbageSorting { categories { code } } }"
SETTINGS = Settings()


@pytest.fixture(scope="module")
def keys(var_dir: Path) -> DevKeys:
    return DevKeys.load_or_create(var_dir / "keys")


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "R000001",
        "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_tokens(keys: DevKeys) -> dict[str, str]:
    good = jwt.encode(claims(), keys.private_pem, algorithm="RS256", headers={"kid": keys.kid})
    head, payload, signature = good.split(".")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["sub"] = "R000002"
    return {
        "alg none": f"{_b64(json.dumps({'alg': 'none', 'kid': keys.kid}).encode())}.{payload}.",
        "HS256 with the public key as secret": f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': keys.kid}).encode())}.{payload}."
        + _hs256(
            f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': keys.kid}).encode())}.{payload}",
            keys.public_pem,
        ),
        "expired": jwt.encode(
            claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
            keys.private_pem,
            algorithm="RS256",
            headers={"kid": keys.kid},
        ),
        "wrong audience": jwt.encode(
            claims(aud="someone-else"),
            keys.private_pem,
            algorithm="RS256",
            headers={"kid": keys.kid},
        ),
        "wrong issuer": jwt.encode(
            claims(iss="evil-idp"), keys.private_pem, algorithm="RS256", headers={"kid": keys.kid}
        ),
        "no exp": jwt.encode(
            claims(exp=None), keys.private_pem, algorithm="RS256", headers={"kid": keys.kid}
        ),
        "not yet valid": jwt.encode(
            claims(nbf=int(time.time()) + 3600),
            keys.private_pem,
            algorithm="RS256",
            headers={"kid": keys.kid},
        ),
        "unknown kid": jwt.encode(
            claims(), keys.private_pem, algorithm="RS256", headers={"kid": "other"}
        ),
        "signed by another key": jwt.encode(
            claims(), other_key, algorithm="RS256", headers={"kid": keys.kid}
        ),
        "tampered payload": f"{head}.{_b64(json.dumps(tampered).encode())}.{signature}",
        "subject not a resident": jwt.encode(
            claims(sub="admin"), keys.private_pem, algorithm="RS256", headers={"kid": keys.kid}
        ),
        "garbage": "not-a-jwt",
    }


def _hs256(signing_input: str, secret: bytes) -> str:
    import hashlib
    import hmac

    return _b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def test_a_valid_token_reaches_me(hub: LiveHub, token_for: Callable[..., str]) -> None:
    body = hub.graphql(ME, token=token_for("R000001")).json()
    assert body["data"]["me"]["residentId"] == "R000001"
    assert "errors" not in body


def test_without_a_token_me_is_null_and_public_fields_answer(hub: LiveHub) -> None:
    body = hub.graphql(ME).json()
    assert body["data"]["me"] is None
    assert len(body["data"]["garbageSorting"]["categories"]) == 6
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["me"], "UNAUTHENTICATED")
    ]


@pytest.mark.parametrize(
    "case",
    [
        "alg none",
        "HS256 with the public key as secret",
        "expired",
        "wrong audience",
        "wrong issuer",
        "no exp",
        "not yet valid",
        "unknown kid",
        "signed by another key",
        "tampered payload",
        "subject not a resident",
        "garbage",
    ],
)
def test_every_forged_or_stale_token_is_unauthenticated(
    hub: LiveHub, keys: DevKeys, case: str
) -> None:
    body = hub.graphql(ME, token=forged_tokens(keys)[case]).json()
    assert body["data"]["me"] is None, case
    assert body["data"]["garbageSorting"]["categories"], "public data still answers"
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


def test_a_non_bearer_authorization_header_is_unauthenticated(hub: LiveHub) -> None:
    body = hub.graphql(ME, headers={"Authorization": "Basic dXNlcjpwYXNz"}).json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Bearer" in body["errors"][0]["message"]


def test_token_for_a_resident_the_hub_does_not_know(
    hub: LiveHub, token_for: Callable[..., str]
) -> None:
    body = hub.graphql(ME, token=token_for("R999999")).json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_verifier_refuses_symmetric_algorithms(keys: DevKeys) -> None:
    with pytest.raises(ValueError):
        TokenVerifier({keys.kid: keys.public_pem}, issuer="i", audience="a", algorithms=("HS256",))


def test_issue_token_refuses_a_malformed_resident_id(keys: DevKeys) -> None:
    with pytest.raises(ValueError):
        issue_token(keys, "root", issuer="i", audience="a")


def test_dev_keys_survive_a_restart(tmp_path: Path) -> None:
    first = DevKeys.load_or_create(tmp_path)
    assert DevKeys.load_or_create(tmp_path) == first
    assert (tmp_path / "jwt-dev-private.pem").stat().st_mode & 0o077 == 0
