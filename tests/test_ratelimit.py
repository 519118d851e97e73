"""The token bucket itself, on an injected clock."""

from __future__ import annotations

import pytest

from hub.security.ratelimit import BucketPolicy, InProcessRateLimiter, bucket_key
from hub.settings import Settings
from schema.context import CallerKind, Principal


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_burst_then_the_refill_rate() -> None:
    clock = Clock()
    limiter, policy = InProcessRateLimiter(clock=clock), BucketPolicy("p", 3, 1.0)
    decisions = [await limiter.take("k", policy) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[3].retry_after_s == 1
    clock.now = 1.0
    assert (await limiter.take("k", policy)).allowed
    assert not (await limiter.take("k", policy)).allowed
    clock.now = 100.0
    refilled = await limiter.take("k", policy)
    assert refilled.allowed and refilled.remaining == 2, "never more than the capacity"


async def test_buckets_are_per_key() -> None:
    limiter, policy = InProcessRateLimiter(clock=Clock()), BucketPolicy("p", 1, 0.1)
    assert (await limiter.take("a", policy)).allowed
    assert (await limiter.take("b", policy)).allowed
    assert not (await limiter.take("a", policy)).allowed


def test_keys_by_principal() -> None:
    assert bucket_key(Principal.resident("R000001"), "10.0.0.1") == "resident:R000001"
    assert bucket_key(Principal.partner("icbc", "icbc"), "10.0.0.1") == "partner:icbc"
    assert bucket_key(Principal.anonymous(), "10.0.0.1") == "ip:10.0.0.1"


def test_policies_from_the_environment() -> None:
    settings = Settings.from_env({"HUB_RATE_LIMIT_PARTNER": "50/5"})
    assert settings.rate_limits[CallerKind.PARTNER] == BucketPolicy("partner", 50, 5.0)
    assert settings.rate_limits[CallerKind.RESIDENT].capacity == 120
    with pytest.raises(ValueError):
        Settings.from_env({"HUB_RATE_LIMIT_RESIDENT": "0/1"})


def test_consent_redemption_attempts_are_a_setting() -> None:
    parsed = Settings.from_env({"HUB_CONSENT_REDEEM_ATTEMPTS": "3/0.5"}).consent_redeem_attempts
    assert (parsed.name, parsed.capacity, parsed.per_second) == ("consent-redeem", 3, 0.5)
    default = Settings.from_env({}).consent_redeem_attempts
    assert (default.capacity, round(1 / default.per_second)) == (10, 120)
