"""A finished operation is freed by reference counting, not left to the cycle collector.

graphql-core's executor refers to itself (its ``async_helpers``' bound methods) and an error's
traceback holds the resolver's frame, whose ``info`` holds the context: either cycle kept an
operation's whole object graph (context, loaders, results) alive until a collection found it
(``schema.execution``, ``schema.errors.forget_tracebacks``). With the collector disabled,
the context must be gone as soon as the caller lets go of the result.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry

from schema import build_schema
from schema.context import Principal
from schema.execution import DETACHED, HubExecutionContext


class Context:
    def __init__(self) -> None:
        self.principal = Principal.anonymous()
        self.request_id = "test"
        self.partial_errors: list[Any] = []


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def freed_after(schema: Any, query: str) -> tuple[bool, Any]:
    """Whether the context was freed once the result was dropped; the result's errors."""
    context = Context()
    freed = weakref.ref(context)
    result = await schema.execute(query, context_value=context)
    errors = [(e.message, (e.extensions or {}).get("code")) for e in result.errors or []]
    del context, result
    return freed() is None, errors


@pytest.mark.usefixtures("no_collector")
def test_the_hubs_operation_is_freed_when_its_answer_is_dropped() -> None:
    schema = build_schema()
    freed, errors = asyncio.run(freed_after(schema, "query Q { __typename }"))
    assert errors == []
    assert freed


@pytest.mark.usefixtures("no_collector")
def test_an_operation_with_an_error_is_freed_too() -> None:
    schema = build_schema()
    freed, errors = asyncio.run(freed_after(schema, "query Q { me { name } }"))
    assert [code for _, code in errors] == ["UNAUTHENTICATED"]  # raised in a resolver
    assert freed


@strawberry.type
class Item:
    n: int

    @strawberry.field
    async def double(self) -> int:
        await asyncio.sleep(0)
        return self.n * 2


@strawberry.type
class Query:
    @strawberry.field
    async def items(self) -> list[Item]:
        await asyncio.sleep(0)
        return [Item(n=n) for n in range(5)]


@pytest.mark.usefixtures("no_collector")
def test_an_operation_of_async_resolvers_is_freed_by_the_hubs_execution_context() -> None:
    ours = strawberry.Schema(query=Query, execution_context_class=HubExecutionContext)
    theirs = strawberry.Schema(query=Query)
    query = "{ items { n double } }"
    assert asyncio.run(freed_after(ours, query)) == (True, [])
    # strawberry's own keeps it for the collector (the cycle this module breaks)
    assert asyncio.run(freed_after(theirs, query)) == (False, [])


def test_the_detached_helpers_still_settle_what_they_are_given() -> None:
    settled: list[int] = []

    async def run() -> list[int]:
        all_four = asyncio.Event()

        async def work(n: int) -> int:
            await asyncio.sleep(0)  # a real suspension: settled later, by the loop
            settled.append(n)
            if len(settled) == 4:
                all_four.set()
            return n

        DETACHED.track([work(1), 2, work(3)])  # settled in the background, not awaited here
        gathered = await DETACHED.gather([work(4), work(5)])
        await asyncio.wait_for(all_four.wait(), timeout=5)
        return list(gathered)

    assert asyncio.run(run()) == [4, 5]
    assert sorted(settled) == [1, 3, 4, 5]
