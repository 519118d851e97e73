"""Reading upstream payloads strictly: a missing or mistyped required field is an error.

Mapping functions wrap each upstream record in ``Fields`` and ask for what they need;
unknown fields are ignored, so a department adding fields never breaks the hub.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import orjson

from connectors.errors import UpstreamPayloadError

T = TypeVar("T")


class Fields:
    """Typed, checked access to one upstream JSON object."""

    def __init__(self, payload: object, department: str, record: str) -> None:
        if not isinstance(payload, Mapping):
            raise UpstreamPayloadError(department, f"{record}: expected an object")
        self._payload: Mapping[str, Any] = payload
        self._department = department
        self._record = record

    def _error(self, key: str, problem: str) -> UpstreamPayloadError:
        return UpstreamPayloadError(self._department, f"{self._record}.{key}: {problem}")

    def _get(self, key: str, kind: type[T] | tuple[type, ...], *, required: bool) -> T | None:
        value = self._payload.get(key)
        if value is None:
            if required:
                raise self._error(key, "missing")
            return None
        if isinstance(value, bool) and kind is not bool:
            raise self._error(key, f"unexpected {type(value).__name__}")
        if not isinstance(value, kind):
            raise self._error(key, f"unexpected {type(value).__name__}")
        return value  # type: ignore[return-value]

    def text(self, key: str) -> str:
        value: str | None = self._get(key, str, required=True)
        assert value is not None
        return value

    def opt_text(self, key: str) -> str | None:
        return self._get(key, str, required=False)

    def integer(self, key: str) -> int:
        value: int | None = self._get(key, int, required=True)
        assert value is not None
        return value

    def opt_integer(self, key: str) -> int | None:
        return self._get(key, int, required=False)

    def number(self, key: str) -> float:
        value = self._get(key, (int, float), required=True)
        return float(value)  # type: ignore[arg-type]

    def flag(self, key: str) -> bool:
        value: bool | None = self._get(key, bool, required=True)
        assert value is not None
        return value

    def array(self, key: str) -> Sequence[Any]:
        value: list[Any] | None = self._get(key, list, required=True)
        assert value is not None
        return value

    def opt_array(self, key: str) -> Sequence[Any]:
        value: list[Any] | None = self._get(key, list, required=False)
        return value or []

    def timestamp(self, key: str) -> datetime:
        raw = self.text(key)
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise self._error(key, "not an ISO 8601 date-time") from exc
        if parsed.tzinfo is None:
            raise self._error(key, "date-time without an offset")
        return parsed

    def day(self, key: str) -> date:
        raw = self.text(key)
        try:
            return date.fromisoformat(raw)
        except ValueError as exc:
            raise self._error(key, "not a YYYY-MM-DD date") from exc

    def nested(self, key: str) -> Fields:
        return Fields(self._payload.get(key), self._department, f"{self._record}.{key}")


def elements(payload: object, department: str, record: str) -> Sequence[object]:
    """The elements of an upstream JSON array (each to be read with ``Fields``)."""
    if not isinstance(payload, list):
        raise UpstreamPayloadError(department, f"{record}: expected an array")
    return payload


def error_code(body: bytes) -> str | None:
    """The code of an ``{"error": {"code": …}}`` envelope (the youth center's and the
    catalogue's refusals), or ``None`` when the body is not that."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None
