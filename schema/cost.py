"""What an operation would cost: depth, aliases, root fields and a static cost estimate.

Measured on a validated document, before execution, without calling anything. The estimate:

- every field costs 1;
- a field with a ``first`` argument multiplies its selection by it (a literal, a variable,
  or the argument's default in the schema);
- federation's ``_entities`` multiplies its selection by the number of representations;
- any other list field multiplies its selection by its size in ``DEFAULT_LIST_SIZES``
  (``Type.field``, then ``*.field``), else by ``DEFAULT_LIST_SIZE``;
- introspection fields (``__typename``, ``__schema``, ``__type``) cost nothing and add no
  depth: they touch no department, and graphql-core's ``MaxIntrospectionDepthRule`` already
  bounds introspection;
- ``@skip``/``@include`` are ignored and every type condition is counted: an upper bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_list_type,
)

DEFAULT_LIST_SIZE = 10
"""The assumed length of a list field with no ``first`` and no entry below."""

DEFAULT_LIST_SIZES: Mapping[str, int] = {
    # a connection's edges are counted by the connection field's `first`
    "*.edges": 1,
    "*.userErrors": 2,
    "BankBranch.items": 20,
    "BankWindows.items": 50,
    "Book.holdings": 5,
    "Classification.suggestions": 5,
    "CollectionPoint.openHours": 7,
    "Community.collectionPoints": 10,
    "GarbageSorting.categories": 4,
    "GarbageSorting.collectionPoints": 10,
    "GarbageSorting.events": 10,
    "Household.members": 6,
    "Me.keys": 5,
    "Me.windowAppointments": 5,
    "MemberYouthCenter.applications": 10,
    "MyLibrary.holds": 5,
    "MyLibrary.loans": 10,
    "PartnerView.appointments": 50,
    # the catalogue (一网通办): its counts are fixed by the catalogue, not by `first`
    "LifeStageSuggestion.items": 5,
    "ScenarioFormField.itemCodes": 6,
    "ScenarioGuide.form": 10,
    "ScenarioGuide.materials": 15,
    "ScenarioGuide.steps": 6,
    "ScenarioMaterialEntry.itemCodes": 6,
    "SearchHighlight.ranges": 3,
    "ServiceItem.materials": 6,
    "ServiceItemEdge.highlights": 3,
    "Services.departments": 25,
    "Services.disclosureCategories": 11,
    "Services.disclosures": 60,
    "Services.groups": 5,
    "Services.lifeStages": 9,
    "Services.publicServices": 43,
    "Services.scenarios": 50,
}
"""Declared sizes of list fields without a ``first`` argument, by ``Type.field``."""

_Composite = GraphQLObjectType | GraphQLInterfaceType


@dataclass(frozen=True)
class OperationMeasures:
    """What the limits compare: the longest field path, aliases, root fields, cost."""

    depth: int
    aliases: int
    root_fields: int
    cost: int


def measure_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    sizes: Mapping[str, int] = DEFAULT_LIST_SIZES,
) -> OperationMeasures | None:
    """Measure the operation that would run, or ``None`` if there is no such operation."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    walk = _Walk(schema, fragments, _variables(operation, variables or {}), sizes)
    depth, aliases, cost = walk.selection(operation.selection_set, root)
    return OperationMeasures(depth, aliases, walk.root_fields(operation.selection_set), cost)


class _Walk:
    """One measurement; each fragment is measured once however often it is spread."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        sizes: Mapping[str, int],
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables
        self._sizes = sizes
        self._measured: dict[str, tuple[int, int, int]] = {}

    def selection(self, selection_set: SelectionSetNode, parent: Any) -> tuple[int, int, int]:
        """``(depth, aliases, cost)`` of a selection set on ``parent``."""
        depth = aliases = cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                measured = self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self._schema.get_type(condition.name.value) if condition else parent
                measured = self.selection(selection.selection_set, on)
            elif isinstance(selection, FragmentSpreadNode):
                measured = self._fragment(selection.name.value)
            else:  # pragma: no cover - no other selection kinds exist
                continue
            depth = max(depth, measured[0])
            aliases += measured[1]
            cost += measured[2]
        return depth, aliases, cost

    def root_fields(self, selection_set: SelectionSetNode) -> int:
        """Fields at the root, through fragments and inline fragments."""
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += 1
            elif isinstance(selection, InlineFragmentNode):
                count += self.root_fields(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments.get(selection.name.value)
                if fragment is not None:
                    count += self.root_fields(fragment.selection_set)
        return count

    def _fragment(self, name: str) -> tuple[int, int, int]:
        if name not in self._measured:
            self._measured[name] = (0, 0, 0)  # a cycle (invalid anyway) adds nothing
            fragment = self._fragments.get(name)
            if fragment is not None:
                on = self._schema.get_type(fragment.type_condition.name.value)
                self._measured[name] = self.selection(fragment.selection_set, on)
        return self._measured[name]

    def _field(self, node: FieldNode, parent: Any) -> tuple[int, int, int]:
        alias = 1 if node.alias else 0
        name = node.name.value
        if name.startswith("__"):
            return 0, alias, 0
        definition = parent.fields.get(name) if isinstance(parent, _Composite) else None
        if node.selection_set is None:
            return 1, alias, 1
        field_type = get_named_type(definition.type) if definition else None
        depth, aliases, cost = self.selection(node.selection_set, field_type)
        size = self._size(node, parent, definition) if definition else 1
        return depth + 1, alias + aliases, 1 + size * cost

    def _size(self, node: FieldNode, parent: _Composite, definition: Any) -> int:
        if "first" in definition.args:
            first = self._first(node, definition.args["first"].default_value)
            if first is not None:
                return first
        if "representations" in definition.args:
            count = self._length(node, "representations")
            if count is not None:
                return count
        if not is_list_type(get_nullable_type(definition.type)):
            return 1
        sizes = self._sizes
        name = node.name.value
        return sizes.get(f"{parent.name}.{name}", sizes.get(f"*.{name}", DEFAULT_LIST_SIZE))

    def _length(self, node: FieldNode, name: str) -> int | None:
        """The number of items of a list argument, given literally or as a variable."""
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            if isinstance(argument.value, VariableNode):
                value = self._variables.get(argument.value.name.value)
                return len(value) if isinstance(value, list) else None
            if isinstance(argument.value, ListValueNode):
                return len(argument.value.values)
        return None

    def _first(self, node: FieldNode, default: Any) -> int | None:
        value: Any = default
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, VariableNode):
                value = self._variables.get(argument.value.name.value, default)
            elif isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            else:
                value = None
        if isinstance(value, int) and not isinstance(value, bool):
            return max(value, 0)
        return None


def _variables(operation: OperationDefinitionNode, given: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request's variables, with the operation's literal integer defaults filled in."""
    values = dict(given)
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in values and isinstance(definition.default_value, IntValueNode):
            values[name] = int(definition.default_value.value)
    return values


__all__ = ["DEFAULT_LIST_SIZE", "DEFAULT_LIST_SIZES", "OperationMeasures", "measure_operation"]
