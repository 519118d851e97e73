"""Reading ``biz_content`` fields; anything missing or malformed is a ``400011`` refusal.

Numbers are accepted as JSON numbers or digit strings, as the banks' gateways do. Batch lists
hold 1–``MAX_BATCH`` (20) strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mocks.bank.codes import bad_parameter

MAX_BATCH = 20
MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 20

Biz = Mapping[str, Any]


def text(biz: Biz, name: str, *, max_length: int = 64) -> str:
    """A required non-empty string field."""
    value = biz.get(name)
    if not isinstance(value, str) or not value.strip():
        raise bad_parameter(f"缺少参数或格式错误: {name}")
    if len(value) > max_length:
        raise bad_parameter(f"参数过长: {name}")
    return value


def optional_text(biz: Biz, name: str) -> str:
    """A string field that may be absent or empty (meaning "any")."""
    value = biz.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_parameter(f"参数格式错误: {name}")
    return value


def number(biz: Biz, name: str, default: int, lowest: int, highest: int) -> int:
    """An integer field within ``lowest``..``highest``; ``default`` when absent."""
    value = biz.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not lowest <= value <= highest:
        raise bad_parameter(f"参数须为{lowest}至{highest}的整数: {name}")
    return value


def page(biz: Biz, number_key: str, size_key: str) -> tuple[int, int]:
    """``(page number from 1, page size ≤ MAX_PAGE_SIZE)``."""
    page_no = number(biz, number_key, 1, 1, 1_000_000)
    page_size = number(biz, size_key, DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return page_no, page_size


def batch(biz: Biz, name: str) -> list[str]:
    """A list of 1–20 non-empty strings."""
    value = biz.get(name)
    if not isinstance(value, list) or not value:
        raise bad_parameter(f"缺少参数或格式错误: {name}")
    if len(value) > MAX_BATCH:
        raise bad_parameter(f"{name} 每次最多{MAX_BATCH}个, 收到{len(value)}个")
    if not all(isinstance(entry, str) and entry for entry in value):
        raise bad_parameter(f"{name} 须为非空字符串列表")
    return value


def batch_size(biz: Biz, name: str) -> int | None:
    """How many entries a batch field holds as received, before any check."""
    value = biz.get(name)
    return len(value) if isinstance(value, list) else None


def paged(rows: Sequence[Any], page_no: int, page_size: int) -> Sequence[Any]:
    start = (page_no - 1) * page_size
    return rows[start : start + page_size]
