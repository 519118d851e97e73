"""The error vocabulary of DESIGN.md, and the one place that maps failures onto it.

Resolvers raise ``HubError`` subclasses for client-facing refusals; connectors raise
``connectors.errors``; everything else is unexpected and masked. ``to_extensions`` decides
what a client sees for each.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from connectors.errors import (
    ConnectorError,
    UpstreamNotFound,
    UpstreamTimeout,
    UpstreamUnavailable,
)


class HubError(Exception):
    """A refusal the client should see, with its ``extensions.code``."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class Unauthenticated(HubError):
    code = "UNAUTHENTICATED"


class Forbidden(HubError):
    code = "FORBIDDEN"


class BadUserInput(HubError):
    code = "BAD_USER_INPUT"


class NotFound(HubError):
    code = "NOT_FOUND"


class RateLimited(HubError):
    """The caller has used up its attempts at something (consent codes): wait and retry."""

    code = "RATE_LIMITED"


class IdempotencyKeyReused(BadUserInput):
    """The idempotency key was used before for a different request."""


class MutationInProgress(HubError):
    """The first request with this idempotency key is still running."""

    code = "IN_PROGRESS"


_UPSTREAM_MESSAGES = {
    "UPSTREAM_UNAVAILABLE": "The {department} service is unavailable right now.",
    "UPSTREAM_TIMEOUT": "The {department} service did not answer in time.",
    "UPSTREAM_ERROR": "The {department} service gave an answer the hub could not use.",
    "NOT_FOUND": "The {department} service has no such record.",
}


def upstream_code(error: ConnectorError) -> str:
    if isinstance(error, UpstreamUnavailable):
        return "UPSTREAM_UNAVAILABLE"
    if isinstance(error, UpstreamTimeout):
        return "UPSTREAM_TIMEOUT"
    if isinstance(error, UpstreamNotFound):
        return "NOT_FOUND"
    return "UPSTREAM_ERROR"


def public_error(error: BaseException | None) -> tuple[str, dict[str, object]] | None:
    """``(message, extensions)`` for an expected failure, ``None`` for an unexpected one."""
    if isinstance(error, HubError):
        return error.message, {"code": error.code, **error.extensions}
    if isinstance(error, ConnectorError):
        code = upstream_code(error)
        message = _UPSTREAM_MESSAGES[code].format(department=error.department)
        return message, {"code": code, "department": error.department}
    return None


def is_unexpected(error: GraphQLError) -> bool:
    """An execution failure that is neither a typed refusal nor a department's failure."""
    if public_error(error.original_error) is not None:
        return False
    if error.extensions and "code" in error.extensions:
        return False
    if error.path is not None:
        return True  # raised while executing: a resolver bug, a null where none may be
    # outside execution: the client's document or variables (graphql-core reports those as
    # GraphQLErrors, possibly wrapping the scalar's own GraphQLError); anything else is ours
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


def forget_tracebacks(errors: list[GraphQLError]) -> None:
    """Drop the tracebacks of ``errors``, their original errors and the errors those were
    raised from, once the unexpected ones have been logged (``HubSchema.process_errors``).

    A traceback holds the frames it passed through, a resolver's among them, whose ``info``
    holds the request's context, which holds the errors: a cycle, and the whole operation
    (executor, context, loaders, results) then waited for the cycle collector instead of
    being freed when the answer left (``schema.execution``)."""
    for error in errors:
        seen: set[int] = set()
        pending: list[BaseException | None] = [error, error.original_error]
        while pending:
            exc = pending.pop()
            if exc is None or id(exc) in seen or len(seen) > 32:
                continue
            seen.add(id(exc))
            exc.__traceback__ = None
            pending += [exc.__cause__, exc.__context__]
            if isinstance(exc, GraphQLError):
                pending.append(exc.original_error)


def to_public(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error as a client may see it: a vocabulary code, no stack, no upstream body."""
    if error.extensions and "code" in error.extensions:
        return error
    known = public_error(error.original_error)
    if known is not None:
        message, extensions = known
    elif is_unexpected(error):
        message = f"Internal server error (request {request_id})."
        extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    else:
        # parse, validation and variable-coercion errors: the client's own document
        message, extensions = error.message, {"code": "BAD_USER_INPUT"}
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def report_partial_failure(info: Any, error: Exception) -> None:
    """Keep a field's partial answer and still tell the client what is missing, and why.

    For fields that merge several departments (both banks' branches): the part that failed
    becomes one error at this field's path; the parts that answered are returned.
    """
    path = info.path.as_list() if info.path else None
    info.context.partial_errors.append(GraphQLError(str(error), path=path, original_error=error))
