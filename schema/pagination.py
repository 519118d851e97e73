"""Relay-style cursors over offset-addressed upstream lists."""

from __future__ import annotations

import base64
import binascii

import strawberry

from schema.errors import BadUserInput

MAX_PAGE = 50


@strawberry.type(description="Where a page sits in its list (Relay cursor connections).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def encode_cursor(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> int:
    """The offset just after ``cursor`` (0 without one); a foreign cursor is bad input."""
    if cursor is None:
        return 0
    try:
        prefix, _, offset = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if prefix != kind or not offset.isdigit():
            raise ValueError(cursor)
        return int(offset) + 1
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadUserInput("`after` is not a cursor from this list.", field="after") from exc


def check_first(first: int, *, maximum: int = MAX_PAGE) -> int:
    if not 1 <= first <= maximum:
        raise BadUserInput(f"`first` must be between 1 and {maximum}.", field="first")
    return first


def page_info(kind: str, offset: int, count: int, total: int) -> PageInfo:
    return PageInfo(
        has_next_page=offset + count < total,
        has_previous_page=offset > 0,
        start_cursor=encode_cursor(kind, offset) if count else None,
        end_cursor=encode_cursor(kind, offset + count - 1) if count else None,
    )
