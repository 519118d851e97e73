"""``schema.hooks.HookRunner`` against strawberry's own runner: the same hooks, entered and left
in the same order, seeing the same exceptions, suppressing and replacing them alike.

Each case runs one set of recording extensions through both runners and compares what the
extensions saw and what came out of the phases; the hub's schema uses ``HookRunner``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema import build_schema
from schema.hooks import HookRunner

Log = list[str]


class Boom(Exception):
    pass


class Other(Exception):
    pass


def recording(name: str, log: Log, **behaviour: Any) -> type[SchemaExtension]:
    """An extension logging its hooks; ``behaviour`` makes some of them misbehave."""

    class Recording(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            log.append(f"{name} operation enter")
            if behaviour.get("fail_on_enter"):
                raise Boom(f"{name} on enter")
            try:
                yield
            except Exception as exc:
                log.append(f"{name} operation saw {type(exc).__name__}: {exc}")
                if behaviour.get("suppress"):
                    return
                if behaviour.get("replace"):
                    raise Other(f"{name} replaced") from exc
                raise
            log.append(f"{name} operation exit")
            if behaviour.get("yield_twice"):
                yield

        def on_parse(self) -> Iterator[None]:
            log.append(f"{name} parse enter")
            yield
            log.append(f"{name} parse exit")

    return Recording


def async_recording(name: str, log: Log) -> type[SchemaExtension]:
    class AsyncRecording(SchemaExtension):
        async def on_operation(self) -> AsyncIterator[None]:
            log.append(f"{name} async operation enter")
            await asyncio.sleep(0)
            try:
                yield
            except Exception as exc:
                log.append(f"{name} async operation saw {type(exc).__name__}")
                raise
            log.append(f"{name} async operation exit")

        def on_validate(self) -> None:  # a plain function: called on entering
            log.append(f"{name} validate called")

        async def on_execute(self) -> None:  # a coroutine function: awaited on entering
            log.append(f"{name} execute awaited")

    return AsyncRecording


async def run_phases(
    runner_class: type[SchemaExtensionsRunner],
    shapes: Callable[[Log], list[type[SchemaExtension]]],
    body: Callable[[Log], None],
) -> Log:
    log: Log = []
    runner = runner_class(
        execution_context=None,  # type: ignore[arg-type]
        extensions=[shape() for shape in shapes(log)],
    )
    try:
        async with runner.operation():
            async with runner.parsing():
                log.append("parsing")
            async with runner.validation():
                log.append("validating")
            async with runner.executing():
                log.append("executing")
                body(log)
    except Exception as exc:
        log.append(f"out: {type(exc).__name__}: {exc}")
    else:
        log.append("out: nothing")
    return log


def nothing(log: Log) -> None:
    log.append("body")


def boom(log: Log) -> None:
    raise Boom("in the body")


CASES: dict[str, tuple[Callable[[Log], list[type[SchemaExtension]]], Callable[[Log], None]]] = {
    "in order, left in reverse": (
        lambda log: [recording("a", log), async_recording("b", log), recording("c", log)],
        nothing,
    ),
    "an exception thrown into each": (
        lambda log: [recording("a", log), async_recording("b", log), recording("c", log)],
        boom,
    ),
    "suppressed by the inner one": (
        lambda log: [recording("a", log), recording("b", log, suppress=True)],
        boom,
    ),
    "replaced by the inner one": (
        lambda log: [recording("a", log), recording("b", log, replace=True)],
        boom,
    ),
    "a hook failing on entering": (
        lambda log: [
            recording("a", log),
            recording("b", log, fail_on_enter=True),
            recording("c", log),
        ],
        nothing,
    ),
    "a generator that yields twice": (
        lambda log: [recording("a", log), recording("b", log, yield_twice=True)],
        nothing,
    ),
    "no extension": (lambda log: [], nothing),
}


@pytest.mark.parametrize("case", CASES)
def test_the_hooks_run_as_strawberrys_own_runner_runs_them(case: str) -> None:
    shapes, body = CASES[case]
    ours = asyncio.run(run_phases(HookRunner, shapes, body))
    theirs = asyncio.run(run_phases(SchemaExtensionsRunner, shapes, body))
    assert ours == theirs
    assert ours[-1].startswith("out:")
    assert len(ours) > 2


def test_a_sync_phase_refuses_an_async_hook_as_strawberry_does() -> None:
    log: Log = []
    outcomes = []
    for runner_class in (HookRunner, SchemaExtensionsRunner):
        runner = runner_class(
            execution_context=None,  # type: ignore[arg-type]
            extensions=[recording("a", log)(), async_recording("b", log)()],
        )
        with pytest.raises(RuntimeError) as raised, runner.operation():
            pass
        outcomes.append(str(raised.value).rsplit(">", 1)[-1])
    assert outcomes[0] == outcomes[1] == ".on_operation failed to complete synchronously."


def test_the_hubs_schema_runs_its_extensions_with_the_hook_runner() -> None:
    schema = build_schema()
    runner = schema.create_extensions_runner(None, schema.get_extensions())  # type: ignore[arg-type]
    assert isinstance(runner, HookRunner)
    found = [type(extension).__name__ for extension in runner.extensions]
    assert "AuditTrailExtension" in found and "QueryLimiter" in found
