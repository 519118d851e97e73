"""Connector records to and from JSON, for the outcomes the idempotency store keeps.

Generic over frozen dataclasses of str/int/bool/float, enums, dates, datetimes, tuples and
nested records: enough for every department's records, with no per-record code.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")


def to_json(record: object) -> Any:
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: to_json(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, Enum):
        return record.value
    if isinstance(record, (date, datetime)):
        return record.isoformat()
    if isinstance(record, (tuple, list)):
        return [to_json(element) for element in record]
    return record


def from_json(kind: type[T], data: Any) -> T:
    return typing.cast(T, _decode(kind, data))


def _decode(kind: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _decode(options[0], data)
    if origin is tuple:
        element = typing.get_args(kind)[0]
        return tuple(_decode(element, item) for item in data)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        fields = {f.name: _decode(hints[f.name], data[f.name]) for f in dataclasses.fields(kind)}
        return kind(**fields)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(data)
    if kind is datetime:
        return datetime.fromisoformat(data)
    if kind is date:
        return date.fromisoformat(data)
    return data
