"""``connectors.tokens.SharedToken``: one renewal at a time, shared by every caller waiting.

The renewal here is a coroutine the test releases, so the tests can say exactly when the
waiters resume; the departments' own token endpoints are exercised over HTTP in
test_library_connector.py and test_locks_connector.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import pytest

from connectors.tokens import SharedToken, Token

T = TypeVar("T")


class Grants:
    """A token endpoint the test answers by hand: ``release()`` ends the fetch in flight."""

    def __init__(self) -> None:
        self.fetches = 0
        self.gate = asyncio.Event()
        self.failure: Exception | None = None

    async def __call__(self) -> tuple[str, float]:
        self.fetches += 1
        await self.gate.wait()
        self.gate.clear()
        if self.failure is not None:
            raise self.failure
        return f"token-{self.fetches}", 3600.0


def within(awaitable: Awaitable[T]) -> Awaitable[T]:
    """Bounded: a waiter that is never woken fails the test instead of hanging it."""
    return asyncio.wait_for(awaitable, 5)


async def _turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_every_caller_waiting_for_a_renewal_resumes_in_the_same_turn() -> None:
    grants = Grants()
    token = SharedToken(grants, clock=lambda: 0.0)
    got: list[Token] = []

    async def caller() -> None:
        got.append(await token.current())

    callers = [asyncio.create_task(caller()) for _ in range(20)]
    await _turns(2)
    assert (grants.fetches, got) == (1, [])
    grants.gate.set()
    # one turn for the fetching caller to take the answer, one for the others to wake: an
    # asyncio.Lock here would have handed the token on one turn per caller (20 turns)
    await _turns(3)
    assert len(got) == 20
    assert {(t.value, t.generation) for t in got} == {("token-1", 1)}
    await within(asyncio.gather(*callers))


async def test_a_failed_renewal_reaches_every_waiter_once() -> None:
    grants = Grants()
    grants.failure = RuntimeError("token endpoint down")
    token = SharedToken(grants, clock=lambda: 0.0)
    callers = [asyncio.create_task(token.current()) for _ in range(10)]
    await _turns(2)
    grants.gate.set()
    outcomes = await within(asyncio.gather(*callers, return_exceptions=True))
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    assert grants.fetches == 1  # not one fetch per waiter, one after the other
    # the next caller tries again
    grants.failure = None
    later = asyncio.create_task(token.current())
    await _turns(2)
    grants.gate.set()
    assert (await within(later)).generation == 1
    assert grants.fetches == 2


async def test_a_refused_token_is_renewed_once_and_its_successor_kept() -> None:
    grants = Grants()
    grants.gate.set()
    token = SharedToken(grants, clock=lambda: 0.0)
    first = await token.current()
    # ten callers find ``first`` refused at the same moment
    renewals = [asyncio.create_task(token.renew(stale=first)) for _ in range(10)]
    await _turns(2)
    grants.gate.set()
    renewed = await within(asyncio.gather(*renewals))
    assert {t.generation for t in renewed} == {2}
    assert grants.fetches == 2
    # a caller still holding ``first`` takes the successor, without another fetch
    assert (await token.renew(stale=first)).generation == 2
    assert (await token.current()).generation == 2
    assert grants.fetches == 2


async def test_a_cancelled_renewer_hands_the_fetch_to_a_waiter() -> None:
    grants = Grants()
    token = SharedToken(grants, clock=lambda: 0.0)
    renewer = asyncio.create_task(token.current())
    await _turns(2)
    waiter = asyncio.create_task(token.current())
    await _turns(2)
    renewer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await renewer
    await _turns(2)
    assert grants.fetches == 2  # the waiter made the call again
    grants.gate.set()
    assert (await within(waiter)).value == "token-2"


async def test_an_expiring_token_is_renewed_before_it_is_refused() -> None:
    grants = Grants()
    grants.gate.set()
    now = [0.0]
    token = SharedToken(grants, clock=lambda: now[0], margin_s=300.0)
    assert (await token.current()).generation == 1
    now[0] = 3600.0 - 300.0 - 1
    assert (await token.current()).generation == 1
    now[0] += 2
    grants.gate.set()
    assert (await token.current()).generation == 2
