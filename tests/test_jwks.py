"""Resident keys from the identity service's JWKS: rotation by kid, rate-limited look-ups,
the last good set kept, and an allow-list no symmetric or unsigned trick gets through.

The identity service is ``tests.identity.JwksServer`` on a loopback port; the key pairs are
made in the test with ``cryptography``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from hub.app import create_app
from hub.security.jwks import JwksKeySet, parse_jwks
from hub.settings import Settings
from tests.identity import (
    BackgroundJwks,
    FakeClock,
    JwksServer,
    ManualSleep,
    SigningKey,
    claims,
    hand_signed,
    oct_jwk,
)
from tests.support import LiveHub

ME = "{ me { residentId } garbageSorting { categories { code } } }"
ALGORITHMS = ("RS256", "ES256")


@pytest.fixture(scope="module")
def key_a() -> SigningKey:
    return SigningKey.rsa("idp-2026-a")


@pytest.fixture(scope="module")
def key_b() -> SigningKey:
    return SigningKey.rsa("idp-2026-b")


@pytest.fixture(scope="module")
def key_e() -> SigningKey:
    return SigningKey.ec("idp-2026-ec")


@pytest.fixture
def identity() -> Iterator[BackgroundJwks]:
    server = BackgroundJwks()
    yield server
    server.close()


def me(hub: LiveHub, token: str) -> dict[str, Any]:
    return dict(hub.graphql(ME, token=token).json())


def assert_accepted(body: dict[str, Any]) -> None:
    assert "errors" not in body, body
    assert body["data"]["me"]["residentId"] == "R000001"


def assert_refused(body: dict[str, Any]) -> None:
    assert body["data"]["me"] is None
    assert body["data"]["garbageSorting"]["categories"], "public data still answers"
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


# -- through the hub's HTTP endpoint ---------------------------------------------------------


def test_tokens_signed_by_jwks_keys_are_accepted(
    start_hub: Callable[..., LiveHub],
    identity: BackgroundJwks,
    key_a: SigningKey,
    key_e: SigningKey,
) -> None:
    identity.publish(key_a.jwk(), key_e.jwk())
    hub = start_hub(jwks_url=identity.url)

    assert_accepted(me(hub, key_a.token()))
    assert_accepted(me(hub, key_e.token()))
    assert identity.hits == 1, "loaded once at start, no look-up for known kids"


def test_rotation_accepts_the_new_kid_after_one_refresh_and_refuses_the_retired_one(
    start_hub: Callable[..., LiveHub],
    identity: BackgroundJwks,
    key_a: SigningKey,
    key_b: SigningKey,
) -> None:
    identity.publish(key_a.jwk())
    hub = start_hub(jwks_url=identity.url)
    assert_accepted(me(hub, key_a.token()))

    identity.publish(key_b.jwk())  # the identity service rotates: B in, A retired

    assert_accepted(me(hub, key_b.token()))
    assert identity.hits == 2, "B's unknown kid fetched the set once"
    assert_refused(me(hub, key_a.token()))
    assert identity.hits == 2, "A's kid is unknown now, but the cooldown holds"


def test_a_flood_of_unknown_kids_reaches_the_identity_service_once(
    start_hub: Callable[..., LiveHub], identity: BackgroundJwks, key_a: SigningKey
) -> None:
    identity.publish(key_a.jwk())
    hub = start_hub(jwks_url=identity.url)

    for _ in range(20):
        assert_refused(me(hub, key_a.token(kid=uuid.uuid4().hex)))

    assert identity.hits == 2  # the start-up load, then one look-up per cooldown
    assert_accepted(me(hub, key_a.token()))


def test_the_last_good_keys_survive_the_identity_service_going_down(
    start_hub: Callable[..., LiveHub],
    identity: BackgroundJwks,
    key_a: SigningKey,
    key_b: SigningKey,
) -> None:
    identity.publish(key_a.jwk())
    hub = start_hub(jwks_url=identity.url)
    identity.go_down()

    assert_refused(me(hub, key_b.token()))  # an unknown kid: the look-up fails

    assert_accepted(me(hub, key_a.token()))


def test_outside_dev_only_the_identity_services_keys_count(
    make_settings: Callable[..., Settings],
    identity: BackgroundJwks,
    key_a: SigningKey,
    token_for: Callable[..., str],
) -> None:
    identity.publish(key_a.jwk())
    settings = make_settings(jwks_url=identity.url).with_changes(env="production")
    hub = LiveHub(create_app(settings))
    try:
        assert_refused(me(hub, token_for("R000001")))
        assert_accepted(me(hub, key_a.token()))
    finally:
        hub.close()


@pytest.fixture(scope="module")
def guarded_hub(
    make_settings: Callable[..., Settings], key_a: SigningKey, key_e: SigningKey
) -> Iterator[LiveHub]:
    """A hub whose JWKS also lists entries that must never be used."""
    server = BackgroundJwks()
    server.publish(
        key_a.jwk(),
        key_e.jwk(),
        oct_jwk("sym-hs256", b"shared-secret", alg="HS256"),
        oct_jwk("sym-bare", b"shared-secret"),
        SigningKey.rsa("rsa-labelled-hs256").jwk(alg="HS256"),
    )
    hub = LiveHub(create_app(make_settings(jwks_url=server.url)))
    yield hub
    hub.close()
    server.close()


def forgeries(key_a: SigningKey, key_e: SigningKey) -> dict[str, str]:
    now = int(time.time())
    return {
        "HS256 with A's public PEM as the secret": hand_signed(
            {"alg": "HS256", "typ": "JWT", "kid": key_a.kid}, key_a.public_pem
        ),
        "HS256 with A's JWK as the secret": hand_signed(
            {"alg": "HS256", "kid": key_a.kid}, json.dumps(key_a.jwk()).encode()
        ),
        "alg none": hand_signed({"alg": "none", "kid": key_a.kid}, None),
        "HS256 with a JWKS oct key (alg HS256)": hand_signed(
            {"alg": "HS256", "kid": "sym-hs256"}, b"shared-secret"
        ),
        "HS256 with a JWKS oct key (no alg)": hand_signed(
            {"alg": "HS256", "kid": "sym-bare"}, b"shared-secret"
        ),
        "RS256 with a JWKS RSA key labelled HS256": jwt.encode(
            claims(), key_a.private, algorithm="RS256", headers={"kid": "rsa-labelled-hs256"}
        ),
        "RS256 naming the EC key's kid": key_a.token(kid=key_e.kid),
        "no kid": jwt.encode(claims(), key_a.private, algorithm="RS256"),
        "nbf beyond the leeway": key_a.token(nbf=now + 120),
        "expired beyond the leeway": key_a.token(iat=now - 3600, exp=now - 120),
        "no iss": key_a.token(iss=None),
        "no aud": key_a.token(aud=None),
    }


@pytest.mark.parametrize(
    "case",
    [
        "HS256 with A's public PEM as the secret",
        "HS256 with A's JWK as the secret",
        "alg none",
        "HS256 with a JWKS oct key (alg HS256)",
        "HS256 with a JWKS oct key (no alg)",
        "RS256 with a JWKS RSA key labelled HS256",
        "RS256 naming the EC key's kid",
        "no kid",
        "nbf beyond the leeway",
        "expired beyond the leeway",
        "no iss",
        "no aud",
    ],
)
def test_every_forgery_is_unauthenticated_and_public_fields_answer(
    guarded_hub: LiveHub, key_a: SigningKey, key_e: SigningKey, case: str
) -> None:
    assert_refused(me(guarded_hub, forgeries(key_a, key_e)[case]))


def test_clock_skew_within_the_leeway_is_accepted(guarded_hub: LiveHub, key_a: SigningKey) -> None:
    now = int(time.time())
    assert_accepted(me(guarded_hub, key_a.token(nbf=now + 10, iat=now + 10)))
    assert_accepted(me(guarded_hub, key_a.token(iat=now - 600, exp=now - 10)))


# -- the key set on its own, with an injected clock and sleep --------------------------------


async def test_unknown_kids_fetch_at_most_once_per_cooldown(key_a: SigningKey) -> None:
    server, clock = JwksServer(), FakeClock()
    await server.start()
    server.publish(key_a.jwk())
    keys = JwksKeySet(
        server.url, algorithms=ALGORITHMS, cooldown_s=30, clock=clock, sleep=ManualSleep()
    )
    await keys.start()
    try:
        await asyncio.gather(*(keys.refresh_for(f"made-up-{n}") for n in range(50)))
        assert server.hits == 2
        clock.now += 29
        await keys.refresh_for("another")
        assert server.hits == 2
        clock.now += 2
        await keys.refresh_for("another")
        assert server.hits == 3
    finally:
        await keys.stop()
        await server.stop()


async def test_periodic_refresh_rotates_keys_and_retries_sooner_after_a_failure(
    key_a: SigningKey, key_b: SigningKey
) -> None:
    server, sleep = JwksServer(), ManualSleep()
    await server.start()
    server.publish(key_a.jwk())
    keys = JwksKeySet(server.url, algorithms=ALGORITHMS, refresh_s=300, cooldown_s=30, sleep=sleep)
    await keys.start()
    try:
        await sleep.asleep()
        assert sleep.delays == [300] and keys.kids == {key_a.kid}

        server.publish(key_b.jwk())
        sleep.wake()
        await sleep.asleep()
        assert keys.kids == {key_b.kid} and sleep.delays[-1] == 300

        server.status = 503
        sleep.wake()
        await sleep.asleep()
        assert keys.kids == {key_b.kid}, "the last good set stays"
        assert sleep.delays[-1] == 30, "after a failure the next try comes sooner"
    finally:
        await keys.stop()
        await server.stop()


@pytest.mark.parametrize(
    "fault", ["status 500", "not JSON", "too large", "no usable key", "not a JWKS"]
)
async def test_a_failed_refresh_keeps_the_last_good_set(key_a: SigningKey, fault: str) -> None:
    server = JwksServer()
    await server.start()
    server.publish(key_a.jwk())
    keys = JwksKeySet(server.url, algorithms=ALGORITHMS, sleep=ManualSleep())
    await keys.start()
    try:
        if fault == "status 500":
            server.status = 500
        elif fault == "not JSON":
            server.raw = b"<html>maintenance</html>"
        elif fault == "too large":
            server.raw = json.dumps({"keys": [key_a.jwk()] * 1000}).encode()
        elif fault == "no usable key":
            server.publish(oct_jwk("sym", b"secret", alg="HS256"))
        else:
            server.document = {"items": []}

        assert await keys.refresh() is False

        assert keys.kids == {key_a.kid}
    finally:
        await keys.stop()
        await server.stop()


def test_only_allowed_public_signing_keys_are_loaded(key_a: SigningKey, key_e: SigningKey) -> None:
    weak = SigningKey.rsa("weak-1024", bits=1024)
    entries: list[object] = [
        key_a.jwk(),
        key_e.jwk(alg=None),  # alg implied by kty/crv: ES256
        oct_jwk("oct-hs256", b"secret", alg="HS256"),
        oct_jwk("oct-bare", b"secret"),
        SigningKey.rsa("rsa-hs256").jwk(alg="HS256"),
        SigningKey.rsa("rsa-none").jwk(alg="none"),
        SigningKey.rsa("rsa-labelled-es256").jwk(alg="ES256"),
        SigningKey("p384-labelled-es256", ec.generate_private_key(ec.SECP384R1()), "ES256").jwk(),
        SigningKey.rsa("rsa-enc").jwk(use="enc"),
        {**SigningKey.rsa("rsa-private").jwk(), "d": "AQAB"},
        SigningKey.rsa("rsa-ps512").jwk(alg="PS512"),
        weak.jwk(),
        key_a.jwk(kid=None),
        {**key_a.jwk(), "alg": ["RS256"]},
        "not an object",
    ]

    keys = parse_jwks({"keys": entries}, ALGORITHMS)

    assert set(keys) == {key_a.kid, key_e.kid}
    assert keys[key_e.kid].algorithm_name == "ES256"


def test_settings_from_the_environment() -> None:
    env = {
        "HUB_ENV": "production",
        "HUB_JWKS_URL": "https://id.example/jwks.json",
        "HUB_JWKS_REFRESH_S": "120",
        "HUB_JWKS_COOLDOWN_S": "10",
        "HUB_JWT_LEEWAY_S": "5",
        "HUB_JWT_ALGORITHMS": "ES256",
    }
    settings = Settings.from_env(env)
    assert settings.jwks_url == "https://id.example/jwks.json"
    assert (settings.jwks_refresh_s, settings.jwks_cooldown_s) == (120, 10)
    assert (settings.jwt_leeway_s, settings.jwt_algorithms) == (5, ("ES256",))
    assert not settings.accepts_dev_tokens
    assert Settings.from_env({**env, "HUB_JWT_DEV_KEY": "true"}).accepts_dev_tokens
    assert Settings.from_env({}).accepts_dev_tokens
    assert Settings.from_env({}).jwt_algorithms == ("RS256", "ES256")
