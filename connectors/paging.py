"""Offset/limit slices over upstreams that only know page numbers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

FetchPage = Callable[[int, int], Awaitable[tuple[int, Sequence[T]]]]


async def page_slice(fetch_page: FetchPage[T], *, offset: int, limit: int) -> tuple[int, list[T]]:
    """Items ``offset`` … ``offset + limit - 1`` and the total, from ``fetch_page(page, size)``.

    Pages are ``limit`` long (1-based), so an aligned offset costs one call and any other two.
    """
    first_page = offset // limit + 1
    total, items = await fetch_page(first_page, limit)
    wanted = list(items[offset % limit :])
    if len(wanted) < limit and offset % limit and offset + len(wanted) < total:
        _, following = await fetch_page(first_page + 1, limit)
        wanted.extend(following)
    return total, wanted[:limit]
