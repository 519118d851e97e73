"""``AuditTrail``: every operation that reads or changes a resident's personal data is logged.

Personal data is what hangs under the personal root fields: ``me`` and ``partner`` among the
queries, and every mutation (each acts for the signed-in resident). While the operation runs,
the extension notes the field paths that returned something under those roots (``me.library
.loans.dueDate`` — names, never values) and whose data it was (``AuditTrail.subjects``: the
resident for ``me`` and mutations, plus what resolvers add). At the end it appends one record
through ``context.audit_log``; when that fails, the personal data is withheld (fail closed).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from inspect import isawaitable
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, OperationType, is_non_null_type
from graphql.pyutils import Path
from strawberry.extensions import SchemaExtension

from schema.context import AuditEntry, AuditTrail, CallerKind, HubContextProtocol, Principal

logger = logging.getLogger("ihub.audit")
ResolveInfo = GraphQLResolveInfo[HubContextProtocol]

PERSONAL_QUERY_ROOTS = frozenset({"me", "partner"})
"""Query root fields whose every sub-field is a resident's personal data."""


def principal_label(principal: Principal) -> str:
    """Who, for the log: the resident or partner id, else the kind (``developer``)."""
    return principal.resident_id or principal.partner_id or principal.kind.value


class AuditTrailExtension(SchemaExtension):
    """Notes personal fields and subjects per operation; appends the audit record at the end."""

    def __init__(self, *, execution_context: Any = None) -> None:
        super().__init__(execution_context=execution_context)
        self._paths: dict[tuple[str, ...], str] = {}  # response path -> field path
        self._returned: set[str] = set()

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: ResolveInfo,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        field_path = self._personal_path(info)
        if field_path is None:
            return _next(root, info, *args, **kwargs)
        is_root = info.path.prev is None
        principal: Principal = info.context.principal
        if is_root and info.operation.operation is OperationType.MUTATION:
            self._subject(info, principal)  # a change attempted on the resident's behalf
        value = _next(root, info, *args, **kwargs)
        if isawaitable(value):
            return self._noted(value, field_path, info, is_root)
        self._note(value, field_path, info, is_root)
        return value

    async def _noted(self, value: Any, field_path: str, info: ResolveInfo, is_root: bool) -> Any:
        resolved = await value
        self._note(resolved, field_path, info, is_root)
        return resolved

    def _note(self, value: Any, field_path: str, info: ResolveInfo, is_root: bool) -> None:
        if value is None:
            return
        self._returned.add(field_path)
        if is_root and info.field_name == "me":
            self._subject(info, info.context.principal)

    @staticmethod
    def _subject(info: ResolveInfo, principal: Principal) -> None:
        if principal.kind is CallerKind.RESIDENT and principal.resident_id:
            info.context.audit.subjects.add(principal.resident_id)

    def _personal_path(self, info: ResolveInfo) -> str | None:
        """``me.library.loans`` for a field under a personal root (aliases undone), else None."""
        if info.field_name.startswith("__"):
            return None
        keys = _response_keys(info.path)
        if len(keys) == 1:
            personal = (
                info.operation.operation is OperationType.MUTATION
                or info.field_name in PERSONAL_QUERY_ROOTS
            )
            field_path: str | None = info.field_name if personal else None
        else:
            parent = self._paths.get(keys[:-1])
            field_path = f"{parent}.{info.field_name}" if parent else None
        if field_path is not None:
            self._paths[keys] = field_path
        return field_path

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        execution = self.execution_context
        context = execution.context
        trail: AuditTrail | None = getattr(context, "audit", None)
        if trail is None or not trail.subjects:
            return  # nobody's personal data was read or changed
        result = execution.result
        errors = [*(getattr(result, "errors", None) or []), *getattr(context, "partial_errors", [])]
        outcome = "ok" if not errors else "partial" if self._returned else "error"
        loaders = getattr(context, "loaders", None)
        entry = AuditEntry(
            request_id=context.request_id,
            principal_kind=context.principal.kind.value,
            principal=principal_label(context.principal),
            subjects=tuple(sorted(trail.subjects)),
            operation_name=execution.operation_name,
            document_hash=hashlib.sha256((execution.query or "").encode()).hexdigest(),
            departments=tuple(sorted(getattr(loaders, "departments", ()))),
            fields=tuple(sorted(self._returned)),
            outcome=outcome,
        )
        try:
            await context.audit_log.append(entry)
        except Exception as exc:
            # no traceback: a database error's message carries the statement's parameters
            logger.error(
                "audit record not written (%s); personal data withheld (request %s)",
                type(exc).__name__,
                context.request_id,
            )
            self._withhold(result, context)

    def _withhold(self, result: Any, context: Any) -> None:
        """Fail closed: null every personal root field (all of ``data`` if one is non-null),
        with an ``INTERNAL_SERVER_ERROR`` at each, as if each had failed."""
        if result is None:
            return
        roots = {keys[0] for keys in self._paths if len(keys) == 1}  # their response keys
        root_type = self.execution_context.schema._schema.get_root_type(
            OperationType(self.execution_context.operation_type.value)
        )
        fields = root_type.fields if root_type else {}
        # the result object is the one returned to the client: change it in place
        data = result.data
        if data is not None and all(
            not is_non_null_type(fields[self._paths[(k,)]].type) for k in roots
        ):
            result.data = {**data, **dict.fromkeys(roots)}
        else:
            result.data = None

        def elsewhere(error: GraphQLError) -> bool:
            return not error.path or error.path[0] not in roots

        request_id = context.request_id
        result.errors = [e for e in result.errors or [] if elsewhere(e)] + [
            GraphQLError(
                f"Internal server error (request {request_id}).",
                path=[key],
                extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            )
            for key in sorted(roots)
        ]
        context.partial_errors[:] = [e for e in context.partial_errors if elsewhere(e)]


def _response_keys(path: Path | None) -> tuple[str, ...]:
    keys: list[str] = []
    while path is not None:
        if isinstance(path.key, str):
            keys.append(path.key)
        path = path.prev
    return tuple(reversed(keys))
