"""graphql-core's executor, let go of by reference counting once its answer is built.

graphql-core 3.3's executor holds ``async_helpers``, whose ``gather`` and ``track`` are its own
bound methods: a reference cycle. Everything an operation touched — its context (request,
response, loaders, the audit trail), the collected fields, the results of every resolver —
is reachable from the executor, so none of it was freed when the request ended: it all waited
for the cycle collector, ~117 objects in cycles a loans answer and everything they held. The
collector's passes over them were ~12 % of a loans worker's CPU under load, its full passes
15–18 ms each (``python -m bench.gc_pauses``).

``HubExecutionContext`` builds the answer as strawberry's does, then points ``async_helpers``
at helpers that know nothing of the executor (``track`` settles what it is given in the
background, as the executor's would; ``gather`` is the same ``gather_with_cancel``). Nothing
asks for them then: every resolver has finished once the answer is built. An incremental
answer (``@defer`` / ``@stream``) keeps its executor for the payloads still to come.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

from graphql import ExecutionResult
from graphql.pyutils import gather_with_cancel, is_awaitable
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_SETTLING: set[asyncio.Future[Any]] = set()


def _track(values: Sequence[Any]) -> None:
    """Settle awaitables in the background (their errors observed), holding nothing else."""
    awaitables = [value for value in values if is_awaitable(value)]
    if not awaitables:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop: they can never run; close the coroutines instead
        for awaitable in awaitables:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
        return
    future = asyncio.gather(*awaitables, return_exceptions=True)
    _SETTLING.add(future)
    future.add_done_callback(_SETTLING.discard)


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return gather_with_cancel(*values)


DETACHED = GraphQLResolveInfoHelpers(gather=_gather, track=_track)
"""Helpers that refer to no executor."""


class HubExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, whose cycle is broken once the answer is built."""

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):
            self.async_helpers = DETACHED
        return response
