"""``AuditTrail``: every operation that reads or changes a resident's personal data is logged.

Personal data is what hangs under the personal root fields: ``me`` and ``partner`` among the
queries, and every mutation (each acts for the signed-in resident). When the operation has run,
the extension walks its result once, guided by the operation's selections, and notes the field
paths that returned something under those roots (``me.library.loans.dueDate`` — names, never
values) and whose data it was (``AuditTrail.subjects``: the resident for ``me`` and mutations,
plus what resolvers add). It then appends one record through ``context.audit_log``; when that
fails, the personal data is withheld (fail closed).

There is deliberately no per-resolver hook (``resolve``): strawberry would wrap every resolver
of every operation in it. Everything is read from the result instead:

- a field returned something when its value in ``data`` is not null; an error at a path also
  shows that every field above it returned something (it ran below them), even where null
  propagation has since nulled them in ``data``;
- a root field was attempted when its key is in ``data`` or an error is at or below it; a
  mutation whose ``data`` is null (a non-null root failed) attempted every root field up to
  the last one with an error (mutations run one after another, and stop at such a failure).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from cachetools import LRUCache
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
    is_non_null_type,
)
from strawberry.extensions import SchemaExtension

from schema.context import AuditEntry, AuditTrail, CallerKind, Principal

logger = logging.getLogger("ihub.audit")

PERSONAL_QUERY_ROOTS = frozenset({"me", "partner"})
"""Query root fields whose every sub-field is a resident's personal data."""


def reads_personal_data(document: DocumentNode | None, operation_name: str | None) -> bool:
    """Whether the operation may read or change a resident's personal data (``me``,
    ``partner``, any mutation): the same decision that makes it audited."""
    return _PersonalAccess.of(document, operation_name) is not None


def principal_label(principal: Principal) -> str:
    """Who, for the log: the resident or partner id, else the kind (``developer``)."""
    return principal.resident_id or principal.partner_id or principal.kind.value


class AuditTrailExtension(SchemaExtension):
    """Notes personal fields and subjects per operation; appends the audit record at the end."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        execution = self.execution_context
        context = execution.context
        trail: AuditTrail | None = getattr(context, "audit", None)
        if trail is None:
            return
        result = execution.result
        errors = [*(getattr(result, "errors", None) or []), *getattr(context, "partial_errors", [])]
        personal = _PersonalAccess.cached(
            execution.query, execution.graphql_document, execution.operation_name
        )
        if personal is not None:
            personal.read(getattr(result, "data", None), errors)
            if (personal.is_mutation and personal.attempted) or "me" in personal.returned:
                # the resident's own data was read, or changed on their behalf
                _subject(trail, context.principal)
        if not trail.subjects:
            return  # nobody's personal data was read or changed
        returned = personal.returned if personal is not None else set()
        outcome = "ok" if not errors else "partial" if returned else "error"
        loaders = getattr(context, "loaders", None)
        entry = AuditEntry(
            request_id=context.request_id,
            principal_kind=context.principal.kind.value,
            principal=principal_label(context.principal),
            subjects=tuple(sorted(trail.subjects)),
            operation_name=execution.operation_name,
            document_hash=hashlib.sha256((execution.query or "").encode()).hexdigest(),
            departments=tuple(sorted(getattr(loaders, "departments", ()))),
            fields=tuple(sorted(returned)),
            outcome=outcome,
            consents=tuple(sorted(trail.consents)),
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
            if personal is not None:
                self._withhold(result, context, personal)

    def _withhold(self, result: Any, context: Any, personal: _PersonalAccess) -> None:
        """Fail closed: null every personal root field (all of ``data`` if one is non-null),
        with an ``INTERNAL_SERVER_ERROR`` at each, as if each had failed."""
        if result is None:
            return
        roots = personal.attempted  # their response keys
        root_type = self.execution_context.schema._schema.get_root_type(personal.operation_type)
        fields = root_type.fields if root_type else {}
        # the result object is the one returned to the client: change it in place
        data = result.data
        if data is not None and all(
            not is_non_null_type(fields[name].type)
            for key in roots
            for name in personal.root_names(key)
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


def _subject(trail: AuditTrail, principal: Principal) -> None:
    if principal.kind is CallerKind.RESIDENT and principal.resident_id:
        trail.subjects.add(principal.resident_id)


class _Field:
    """One field of the operation at one place: its path (``me.library.loans``, aliases
    undone) and its sub-selections, whose fields are collected on first use."""

    __slots__ = ("_children", "_fragments", "path", "selection_sets")

    def __init__(self, path: str, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.path = path
        self.selection_sets: list[SelectionSetNode] = []
        self._fragments = fragments
        self._children: dict[str, list[_Field]] | None = None

    @property
    def children(self) -> dict[str, list[_Field]]:
        if self._children is None:
            self._children = _collect(self.selection_sets, self._fragments, f"{self.path}.")
        return self._children


def _collect(
    selection_sets: Iterable[SelectionSetNode],
    fragments: dict[str, FragmentDefinitionNode],
    prefix: str,
) -> dict[str, list[_Field]]:
    """Response key -> the fields selected under it, through inline fragments and fragment
    spreads; ``@skip``/``@include`` are not evaluated (a skipped field is absent from the
    result), nor are type conditions (one key names one field unless fragments on different
    object types alias different fields to it: then the key stands for each of them)."""
    by_key: dict[str, dict[str, _Field]] = {}
    visited: set[str] = set()

    def visit(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__"):
                    continue  # __typename and introspection: nobody's data
                key = selection.alias.value if selection.alias else name
                named = by_key.setdefault(key, {})
                field = named.get(name)
                if field is None:
                    field = named[name] = _Field(prefix + name, fragments)
                if selection.selection_set is not None:
                    field.selection_sets.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                visit(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                spread = selection.name.value
                fragment = fragments.get(spread)
                if fragment is not None and spread not in visited:
                    visited.add(spread)
                    visit(fragment.selection_set)

    for selection_set in selection_sets:
        visit(selection_set)
    return {key: list(named.values()) for key, named in by_key.items()}


_CACHED_QUERY_CHARS = 20_000
"""Longer documents are not remembered (the memory of ``_STRUCTURES`` stays bounded)."""


class _PersonalAccess:
    """The personal root fields of one operation, and what they returned once it has run."""

    def __init__(
        self,
        operation: OperationDefinitionNode,
        roots: dict[str, list[_Field]],
    ) -> None:
        self.operation = operation
        self.operation_type = operation.operation
        self.is_mutation = operation.operation is OperationType.MUTATION
        self.roots = roots  # response key -> root field, in the operation's order
        self.returned: set[str] = set()  # field paths that returned something
        self.attempted: set[str] = set()  # response keys of the root fields that ran

    @classmethod
    def of(cls, document: DocumentNode | None, name: str | None) -> _PersonalAccess | None:
        """The operation's personal roots; ``None`` when it selects none (public data only)."""
        if document is None:
            return None
        operation = get_operation_ast(document, name)
        if operation is None:
            return None
        mutation = operation.operation is OperationType.MUTATION
        if not mutation and not _mentions_personal_root(operation):
            return None  # the common public query: no fragments, no personal root
        fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        roots = {
            key: fields
            for key, fields in _collect([operation.selection_set], fragments, "").items()
            if mutation or any(field.path in PERSONAL_QUERY_ROOTS for field in fields)
        }
        return cls(operation, roots) if roots else None

    @classmethod
    def cached(
        cls, query: str | None, document: DocumentNode | None, name: str | None
    ) -> _PersonalAccess | None:
        """``of``, with the document's personal roots (the field tree, whose sub-selections
        fill on first use) kept per query text: only what a request returned is its own."""
        if query is None or len(query) > _CACHED_QUERY_CHARS:
            return cls.of(document, name)
        key = (query, name)
        with _STRUCTURES_LOCK:  # several hubs (threads) may share this process
            known = _STRUCTURES.get(key, _UNKNOWN)
        if known is not _UNKNOWN:
            return None if known is None else cls(*known)
        found = cls.of(document, name)
        if document is not None:  # a document that did not parse is not remembered
            with _STRUCTURES_LOCK:
                _STRUCTURES[key] = None if found is None else (found.operation, found.roots)
        return found

    def root_names(self, key: str) -> list[str]:
        return [field.path for field in self.roots.get(key, ())]

    def read(self, data: Any, errors: Sequence[GraphQLError]) -> None:
        """Note the root fields that ran and the field paths that returned something."""
        roots = self.roots
        failed: list[str] = []  # root keys with an error at or below them
        for error in errors:
            path = error.path
            if path and path[0] in roots:
                failed.append(str(path[0]))
                self._note_above(path)
        if isinstance(data, dict):
            self.attempted = {key for key in roots if key in data}
            self.attempted.update(failed)
            _walk(data, roots, self.returned)
        elif failed:
            if self.is_mutation:  # serial: everything up to the last failure ran
                order = list(roots)
                last = max(order.index(key) for key in failed)
                self.attempted = set(order[: last + 1])
            else:
                self.attempted = set(roots)

    def _note_above(self, path: Sequence[str | int]) -> None:
        """An error at ``path``: every field above it returned something."""
        above = path[:-1] if isinstance(path[-1], str) else path  # an index: its list returned
        level: list[dict[str, list[_Field]]] = [self.roots]
        for key in above:
            if not isinstance(key, str):
                continue  # a list index
            fields = [field for children in level for field in children.get(key, ())]
            if not fields:
                return
            self.returned.update(field.path for field in fields)
            level = [field.children for field in fields]


_STRUCTURES: LRUCache[
    tuple[str, str | None], tuple[OperationDefinitionNode, dict[str, list[_Field]]] | None
] = LRUCache(512)
"""Personal roots by query text and operation name, shared by every request of that document."""
_STRUCTURES_LOCK = threading.Lock()
_UNKNOWN: Any = object()


def _mentions_personal_root(operation: OperationDefinitionNode) -> bool:
    """Whether a query may select a personal root: one is selected directly, or fragments
    make it worth collecting properly."""
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.name.value in PERSONAL_QUERY_ROOTS:
            return True
    return False


def _walk(value: Any, fields: dict[str, list[_Field]], returned: set[str]) -> None:
    """Note the path of every selected field with a non-null value in ``value``."""
    if isinstance(value, dict):
        for key, child in value.items():
            if child is None:
                continue
            selected = fields.get(key)
            if selected is None:
                continue  # __typename, or not personal
            for field in selected:
                returned.add(field.path)
                if field.selection_sets:
                    _walk(child, field.children, returned)
    elif isinstance(value, list):
        for item in value:
            _walk(item, fields, returned)
