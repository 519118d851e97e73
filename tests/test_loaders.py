"""The per-request loaders: aiodataloader's batching window, with fewer tasks a batch.

A first ``load`` opens a batch that loads made within the next loop iteration join, as
aiodataloader's own dispatch task would; the batch runs in one task, and a fan-out of a single
key makes its call in that task (a home screen makes a dozen batches, most of one key). The
tasks are counted by a task factory on the running loop (``tests.support.counted_tasks``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from aiodataloader import DataLoader

from connectors.errors import UpstreamUnavailable
from connectors.loaders import BatchLoader, FanOutLoader
from tests.support import counted_tasks


class _Plain(DataLoader[str, str]):
    """aiodataloader's own scheduling, to compare the window with."""

    def __init__(self, asked: list[list[str]]) -> None:
        super().__init__()
        self.asked = asked

    async def batch_load_fn(self, keys: list[str]) -> list[str]:
        self.asked.append(list(keys))
        return [key.upper() for key in keys]


async def batches_for(make: str, iterations_between: int) -> list[list[str]]:
    asked: list[list[str]] = []

    async def load_many(keys: Sequence[str]) -> Mapping[str, str]:
        asked.append(list(keys))
        return {key: key.upper() for key in keys}

    loader: Any = BatchLoader(load_many) if make == "ours" else _Plain(asked)
    first = loader.load("a")
    for _ in range(iterations_between):
        await asyncio.sleep(0)
    second = loader.load("b")
    assert await asyncio.gather(first, second) == ["A", "B"]
    return asked


@pytest.mark.parametrize(
    ("iterations_between", "batches"),
    [(0, [["a", "b"]]), (1, [["a", "b"]]), (2, [["a"], ["b"]]), (3, [["a"], ["b"]])],
)
async def test_a_batch_is_open_as_long_as_aiodataloaders(
    iterations_between: int, batches: list[list[str]]
) -> None:
    assert await batches_for("plain", iterations_between) == batches
    assert await batches_for("ours", iterations_between) == batches


async def test_a_batch_runs_in_one_task() -> None:
    async def load_many(keys: Sequence[str]) -> Mapping[str, str]:
        await asyncio.sleep(0)
        return {key: key.upper() for key in keys}

    loader: BatchLoader[str, str] = BatchLoader(load_many)
    with counted_tasks() as created:
        assert await loader.load_many(["a", "b", "c"]) == ["A", "B", "C"]
    assert created == Counter({"dispatch_queue_batch": 1})


async def test_a_fan_out_of_one_key_calls_in_the_batchs_task() -> None:
    async def load_one(key: str) -> str:
        await asyncio.sleep(0)
        return key.upper()

    loader: FanOutLoader[str, str] = FanOutLoader(load_one)
    with counted_tasks() as created:
        assert await loader.load("a") == "A"
    assert created == Counter({"dispatch_queue_batch": 1})
    with counted_tasks() as created:  # several keys: concurrently, a task each
        assert await loader.load_many(["b", "c", "d"]) == ["B", "C", "D"]
    assert created == Counter({"dispatch_queue_batch": 1, "load_one": 3})


async def test_a_single_keys_failure_is_its_own_and_not_remembered() -> None:
    calls = 0

    async def load_one(key: str) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise UpstreamUnavailable("library", "down")
        return key.upper()

    loader: FanOutLoader[str, str] = FanOutLoader(load_one)
    with pytest.raises(UpstreamUnavailable):
        await loader.load("a")
    assert await loader.load("a") == "A"  # tried again, not the remembered failure
    assert await loader.load("a") == "A" and calls == 2  # a success is remembered
