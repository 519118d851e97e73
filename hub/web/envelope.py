"""The request envelope of ``/graphql``, decoded and validated once, before anything reads it.

A GraphQL-over-HTTP request is a JSON object (POST body) or a set of query parameters (GET)
with at most ``query``, ``operationName``, ``variables``, ``extensions`` and ``documentId``.
Everything a client can get wrong about that envelope — bytes that are not UTF-8, JSON that is
not an object, nesting deep enough to exhaust a recursive walker, lone UTF-16 surrogates, a
member of the wrong type — is refused here as one ``EnvelopeError`` (400, ``BAD_USER_INPUT``),
so no later layer has to defend against it.

orjson does the decoding: it refuses invalid UTF-8 and lone surrogates, and it stops at a fixed
depth instead of recursing until Python's stack runs out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, OperationType, parse

# variables are input objects; nothing in the schema nests anywhere near this deep
MAX_DEPTH = 32
BOM = b"\xef\xbb\xbf"
_MEMBERS = ("query", "operationName", "variables", "extensions", "documentId")


class EnvelopeError(Exception):
    """The request is not a well-formed GraphQL-over-HTTP request (a request error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Envelope:
    """One request's members, each of the type the spec gives it."""

    query: str | None
    operation_name: str | None
    variables: dict[str, Any] | None
    extensions: dict[str, Any] | None
    document_id: str | None


def from_body(body: bytes) -> Envelope:
    """A POST body: one JSON object (a leading BOM allowed), UTF-8, bounded depth."""
    data = _json(body.removeprefix(BOM), "The request body")
    if isinstance(data, list):
        raise EnvelopeError("Batched operations are not accepted; send one at a time.")
    if not isinstance(data, dict):
        raise EnvelopeError("The request body must be a JSON object.")
    return _envelope(data)


def from_params(params: Mapping[str, str]) -> Envelope:
    """GET query parameters: ``variables`` and ``extensions`` are JSON text."""
    data: dict[str, Any] = {name: params[name] for name in _MEMBERS if name in params}
    for name in ("variables", "extensions"):
        text = data.get(name)
        if text:  # an empty parameter means "none"
            data[name] = _json(text.encode("utf-8", "surrogatepass"), f"`{name}`")
        else:
            data.pop(name, None)
    return _envelope(data)


def _json(raw: bytes, what: str) -> Any:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"{what} is not valid JSON in UTF-8: {exc.msg}.") from exc
    if _depth_exceeds(value, MAX_DEPTH):
        raise EnvelopeError(f"{what} nests deeper than {MAX_DEPTH} levels.")
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    # iterative: a recursive walk is exactly what deep input is meant to break
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _envelope(data: dict[str, Any]) -> Envelope:
    for name in ("query", "operationName", "documentId"):
        if not isinstance(data.get(name), str | None):
            raise EnvelopeError(f"The request's `{name}` must be a string or null, if provided.")
    for name in ("variables", "extensions"):
        if not isinstance(data.get(name), dict | None):
            raise EnvelopeError(f"The request's `{name}` must be an object or null, if provided.")
    return Envelope(
        query=data.get("query"),
        operation_name=data.get("operationName"),
        variables=data.get("variables"),
        extensions=data.get("extensions"),
        document_id=data.get("documentId"),
    )


def require_operation_name(query: str | None, operation_name: str | None) -> None:
    """The spec: a document with several operations must say which one to run."""
    if query is None or operation_name is not None:
        return
    if len(operations(query)) > 1:
        raise EnvelopeError(
            "The document has several operations: say which one to run in `operationName`."
        )


def is_mutation(query: str | None, operation_name: str | None) -> bool:
    """Whether the operation the request selects is a mutation (refused over GET)."""
    found = operations(query) if query is not None else ()
    if operation_name is None:
        chosen = found[:1]
    else:
        chosen = tuple(o for o in found if o.name and o.name.value == operation_name)
    return any(o.operation == OperationType.MUTATION for o in chosen)


def operations(query: str) -> tuple[OperationDefinitionNode, ...]:
    """The document's operations (none if it does not parse)."""
    found = document(query)
    definitions = found.definitions if found is not None else ()
    return tuple(d for d in definitions if isinstance(d, OperationDefinitionNode))


@lru_cache(maxsize=1024)
def document(query: str) -> DocumentNode | None:
    """The parsed document, ``None`` if it does not parse (the schema reports that)."""
    try:
        return parse(query)
    except (GraphQLError, RecursionError):
        return None
