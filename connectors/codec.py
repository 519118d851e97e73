"""Department records as JSON with explicit type tags, safe to read back from a shared store.

A cache that several replicas share must never run code it reads back, so no pickle. A value
is a tree of JSON values where each record carries its type:

- a frozen dataclass: ``{"@": "connectors.bank.models.Branch", "f": {field: value …}}``
- an enum member: ``{"@e": "connectors.bank.models.Bank", "v": "ccb"}``
- ``datetime`` / ``date``: ``{"@t": iso}`` / ``{"@d": iso}``; a tuple ``{"@u": [...]}``; a
  dict ``{"@m": [[key, value] …]}``; lists, strings, numbers, booleans and ``None`` as is.

Decoding builds only dataclasses and enums defined in an already imported
``connectors.<department>.models`` module, through their own constructors; any other tag, an
unknown name or a malformed tree is a ``ValueError``. Nothing is imported by name.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from datetime import date, datetime
from enum import Enum
from typing import Any

import orjson

_MODULE = re.compile(r"connectors(\.[a-z_]+)+\.models")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def encode(value: object) -> bytes:
    """The tagged JSON of ``value`` (``TypeError`` for what it cannot carry)."""
    return orjson.dumps(_tree(value))


def decode(data: bytes) -> Any:
    """The value ``encode`` was given (``ValueError`` for anything it did not write)."""
    try:
        return _value(orjson.loads(data))
    except (TypeError, KeyError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"not an encoded record: {exc}") from exc


def _tree(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return {"@e": _type_name(type(value)), "v": value.value}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _tree(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"@": _type_name(type(value)), "f": fields}
    if isinstance(value, datetime):
        return {"@t": value.isoformat()}
    if isinstance(value, date):
        return {"@d": value.isoformat()}
    if isinstance(value, tuple):
        return {"@u": [_tree(item) for item in value]}
    if isinstance(value, list):
        return [_tree(item) for item in value]
    if isinstance(value, dict):
        return {"@m": [[_tree(k), _tree(v)] for k, v in value.items()]}
    raise TypeError(f"cannot encode a {type(value).__name__}")


def _type_name(kind: type) -> str:
    name = f"{kind.__module__}.{kind.__qualname__}"
    if _known(name) is not kind:
        raise TypeError(f"{name} is not a record of a connectors.<department>.models module")
    return name


def _known(name: str) -> type | None:
    """The dataclass or enum ``name`` names, if an imported models module defines it."""
    module_name, _, attribute = name.rpartition(".")
    if not _MODULE.fullmatch(module_name) or not _NAME.fullmatch(attribute):
        return None
    module = sys.modules.get(module_name)
    kind = getattr(module, attribute, None) if module is not None else None
    if not isinstance(kind, type) or kind.__module__ != module_name:
        return None
    if dataclasses.is_dataclass(kind) or issubclass(kind, Enum):
        return kind
    return None


def _value(tree: object) -> Any:
    if tree is None or isinstance(tree, bool | int | float | str):
        return tree
    if isinstance(tree, list):
        return [_value(item) for item in tree]
    if not isinstance(tree, dict) or len(tree) not in (1, 2):
        raise ValueError("unexpected JSON object")
    if "@" in tree:
        kind = _known(tree["@"])
        if kind is None or not dataclasses.is_dataclass(kind) or not isinstance(tree["f"], dict):
            raise ValueError(f"unknown record type {tree['@']!r}")
        return kind(**{str(k): _value(v) for k, v in tree["f"].items()})
    if "@e" in tree:
        kind = _known(tree["@e"])
        if kind is None or not issubclass(kind, Enum):
            raise ValueError(f"unknown enum {tree['@e']!r}")
        return kind(tree["v"])
    if "@t" in tree:
        return datetime.fromisoformat(tree["@t"])
    if "@d" in tree:
        return date.fromisoformat(tree["@d"])
    if "@u" in tree:
        return tuple(_value(item) for item in tree["@u"])
    if "@m" in tree:
        return {_value(k): _value(v) for k, v in tree["@m"]}
    raise ValueError("unexpected JSON object")
