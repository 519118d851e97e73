"""A response cache for public, caller-independent queries (issue 17).

The same anonymous query with the same variables gets the same answer from every caller
until a department's data changes, so the hub keeps the finished ``ExecutionResult`` (``data``
and ``extensions``; never one with errors) and serves repeats from it. What is cached, and
for how long, is decided like this:

* **Only public reads.** The caller is anonymous with no rejected credential (a refused token
  changes nothing today, but its answer is not the common one); the operation is a query;
  ``schema.audit.reads_personal_data`` is false (no ``me``, no ``partner``: the audit trail's
  own decision, so a personal or partner operation is never cached); and every root field is
  one of ``PUBLIC_ROOTS`` (no ``__schema``: introspection is decided per caller; no fragment
  at the root, which would hide what it selects).
* **Within the departments' TTLs.** An entry lives for the shortest ``cache_ttl_s`` of the
  departments the operation touched: those its root fields name statically
  (``PUBLIC_ROOTS``: ``services`` reads the hub's catalogue copy and the banks' branches)
  together with those whose loaders the request actually built
  (``RequestLoaders.departments``). That is also the ``max-age`` the hub already gives
  public ``GET`` answers, so no answer is served longer than a CDN could keep it.
* **Never hiding a degradation.** An answer with errors, or whose extensions say
  ``degraded`` (a department answered from stale data), is not stored: the next request runs
  again and reports its own state.
* **Invalidated by the hub's own writes.** Every mutation this process runs (enrolments change
  a course's ``seatsLeft``) empties the cache when it finishes, and bumps a generation: an
  answer whose execution began before a write finished is not stored, so it cannot bring
  back what the write changed. (Other replicas' writes are bounded by the TTL, as the
  departments' own caches are.)

**Bounded memory.** Anonymous callers choose the variables, so the kept answers are bounded
by their size as JSON (``MAX_BYTES`` in all, an eighth of it for one answer), least recently
used first out, as well as by their number.

What still runs on a hit: everything before execution (authentication, rate limits,
persisted-document rules, the envelope and preflight checks) and everything after it (error
masking, ``Cache-Control``/``ETag``/304, JSON encoding), so the bytes on the wire are those of
the uncached path. Query limits are a function of the document and variables, which the key
holds, and a refused document has errors, so it is never stored. The operation is counted in
``ihub_operations_total`` as ``ok``, and the hit in
``ihub_cache_events_total{department="response",event="hit"}``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import FieldNode, OperationType, get_operation_ast
from strawberry.types import ExecutionResult

from hub.web.envelope import document
from schema.audit import reads_personal_data
from schema.context import CallerKind, Principal

PUBLIC_ROOTS: Mapping[str, frozenset[str]] = {
    "youthCenter": frozenset({"youth"}),
    "garbageSorting": frozenset({"garbage"}),
    "library": frozenset({"library"}),
    "bankWindows": frozenset({"icbc", "ccb"}),
    "services": frozenset({"catalogue", "icbc", "ccb"}),
}
"""Query root fields whose answers depend on no caller, and the departments each reads."""

MAX_BYTES = 8_000_000
"""What the kept answers may add up to, as JSON (their objects in memory take a few times more):
anonymous callers choose the variables, so the budget, not the traffic, bounds the memory."""

CacheEvent = Callable[[str, str], None]
"""``(department, event)``: the hub observer's ``cache`` (``response``: hit, miss, store …)."""


@dataclass(frozen=True)
class Plan:
    """What the cache knows of one document and operation name, decided once."""

    cacheable: bool
    mutation: bool
    departments: frozenset[str] = frozenset()
    name: str | None = None  # the operation's own name, as the metrics count it


@functools.lru_cache(maxsize=512)
def plan_of(query: str, operation_name: str | None) -> Plan:
    parsed = document(query)
    operation = get_operation_ast(parsed, operation_name) if parsed is not None else None
    if operation is None:
        return Plan(cacheable=False, mutation=False)
    if operation.operation is not OperationType.QUERY:
        return Plan(cacheable=False, mutation=operation.operation is OperationType.MUTATION)
    if reads_personal_data(parsed, operation_name):
        return Plan(cacheable=False, mutation=False)
    departments: set[str] = set()
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return Plan(cacheable=False, mutation=False)
        if selection.name.value == "__typename":
            continue
        reads = PUBLIC_ROOTS.get(selection.name.value)
        if reads is None:
            return Plan(cacheable=False, mutation=False)
        departments |= reads
    name = operation.name.value if operation.name else None
    return Plan(bool(departments), False, frozenset(departments), name)


@dataclass(frozen=True)
class Entry:
    data: Any
    extensions: Mapping[str, Any] | None
    expires: float
    size: int  # of the answer as JSON: what the memory budget counts


@dataclass(frozen=True)
class Lookup:
    """A cacheable request: its key, and the generation its execution starts in."""

    key: str
    plan: Plan
    generation: int


class ResponseCache:
    """Finished public answers by document, operation name and variables, TTL-bounded."""

    def __init__(
        self,
        ttls: Mapping[str, float],
        *,
        maxsize: int = 1024,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        on_event: CacheEvent | None = None,
    ) -> None:
        self._ttls = dict(ttls)
        self._maxsize = maxsize
        self._max_bytes = max_bytes
        self._bytes = 0
        self._clock = clock
        self._on_event = on_event
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._generation = 0

    def _event(self, event: str) -> None:
        if self._on_event is not None:
            self._on_event("response", event)

    def lookup(
        self,
        principal: Principal,
        query: str | None,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> Lookup | None:
        """The request's cache identity, or ``None`` when it may not be cached."""
        if query is None or principal.kind is not CallerKind.ANONYMOUS or principal.auth_problem:
            return None
        plan = plan_of(query, operation_name)
        if not plan.cacheable:
            return None
        try:
            encoded = json.dumps(variables or {}, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError):
            return None
        digest = hashlib.sha256()
        for part in (query, operation_name or "", encoded):
            digest.update(part.encode())
            digest.update(b"\0")
        return Lookup(digest.hexdigest(), plan, self._generation)

    def is_mutation(self, query: str | None, operation_name: str | None) -> bool:
        return query is not None and plan_of(query, operation_name).mutation

    def get(self, lookup: Lookup) -> ExecutionResult | None:
        entry = self._entries.get(lookup.key)
        if entry is None or entry.expires <= self._clock():
            if entry is not None:
                self._drop(lookup.key)
                self._event("expired")
            self._event("miss")
            return None
        self._entries.move_to_end(lookup.key)
        self._event("hit")
        extensions = dict(entry.extensions) if entry.extensions is not None else None
        return ExecutionResult(data=entry.data, errors=None, extensions=extensions)

    def put(
        self, lookup: Lookup, result: ExecutionResult, touched: frozenset[str], started: float
    ) -> bool:
        """Keep ``result`` if it may be: no errors, not degraded, no write since it began."""
        if result.errors or result.data is None or lookup.generation != self._generation:
            return False
        if result.extensions and "degraded" in result.extensions:
            return False
        ttls = [self._ttls[d] for d in lookup.plan.departments | touched if d in self._ttls]
        ttl = min(ttls, default=0.0)
        if ttl <= 0:
            return False
        try:
            size = len(orjson.dumps(result.data)) + len(orjson.dumps(result.extensions))
        except TypeError:
            return False
        if size > self._max_bytes // 8:
            return False  # one answer may take an eighth of the budget at most
        self._drop(lookup.key)
        self._entries[lookup.key] = Entry(
            result.data,
            dict(result.extensions) if result.extensions else None,
            started + ttl,
            size,
        )
        self._bytes += size
        while len(self._entries) > self._maxsize or self._bytes > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size
        self._event("store")
        return True

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size

    def now(self) -> float:
        return self._clock()

    def invalidate(self) -> None:
        """A write finished: nothing stored so far, nor anything begun before, is served."""
        self._generation += 1
        if self._entries:
            self._entries.clear()
            self._bytes = 0
            self._event("invalidated")

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes
