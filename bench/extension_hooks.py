"""What strawberry's extension machinery costs an operation, with the hub's shapes of hooks.

    python -m bench.extension_hooks [--operations 20000] [--rounds 3]

Nine no-op extensions shaped like the hub's (seven ``on_operation`` generators, one of them
async, one ``on_parse``, one ``on_validate``, one ``on_execute``), instantiated per operation
as the schema does, through the four phases and the results, by strawberry's
``SchemaExtensionsRunner`` and by ``schema.hooks.HookRunner``, alternated in rounds. Prints
µs of CPU an operation for each (``time.process_time``; gc frozen after warming).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema.hooks import HookRunner


class _Operation(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield


class _AsyncOperation(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        yield


class _Parse(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        yield


class _Validate(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        yield


class _Execute(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield

    def on_execute(self) -> Iterator[None]:
        yield


SHAPES: tuple[type[SchemaExtension], ...] = (
    _Operation,  # ErrorVocabulary
    _Execute,  # QueryLimiter
    _Operation,  # IntrospectionPolicy
    _Parse,  # ParserCache
    _Validate,  # ValidationMemo
    _Operation,  # Degradation
    _Operation,  # OperationOutcome
    _Operation,  # OperationSpan
    _AsyncOperation,  # AuditTrailExtension
)
_CONTEXT = SimpleNamespace(extensions_results={})


async def _operation(runner: type[SchemaExtensionsRunner]) -> None:
    extensions = [shape() for shape in SHAPES]
    hooks = runner(execution_context=None, extensions=extensions)  # type: ignore[arg-type]
    async with hooks.operation():
        async with hooks.parsing():
            pass
        async with hooks.validation():
            pass
        async with hooks.executing():
            pass
    await hooks.get_extensions_results(_CONTEXT)  # type: ignore[arg-type]


async def _cpu_us(runner: type[SchemaExtensionsRunner], operations: int) -> float:
    started = time.process_time()
    for _ in range(operations):
        await _operation(runner)
    return (time.process_time() - started) / operations * 1e6


async def _run(operations: int, rounds: int) -> dict[str, list[float]]:
    runners: dict[str, type[SchemaExtensionsRunner]] = {
        "strawberry SchemaExtensionsRunner": SchemaExtensionsRunner,
        "schema.hooks.HookRunner": HookRunner,
    }
    for runner in runners.values():
        await _cpu_us(runner, 1_000)
    gc.collect()
    gc.freeze()
    measured: dict[str, list[float]] = {name: [] for name in runners}
    for round_ in range(rounds):
        order = list(runners.items())
        for name, runner in order if round_ % 2 == 0 else reversed(order):
            measured[name].append(await _cpu_us(runner, operations))
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.extension_hooks", description=__doc__)
    parser.add_argument("--operations", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    for name, values in asyncio.run(_run(args.operations, args.rounds)).items():
        rounds = ", ".join(f"{value:.1f}" for value in values)
        print(f"{name}: {min(values):.1f} µs an operation (rounds: {rounds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
