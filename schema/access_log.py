"""``me.dataAccessLog``: who read or changed the resident's data through the hub, and why."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from schema.context import HubInfo, LoggedAccess
from schema.pagination import PageInfo, check_first, decode_cursor, encode_cursor

CURSOR_KIND = "access"


@strawberry.enum(description="Whether the operation got everything it asked for.")
class AccessOutcome(Enum):
    OK = "ok"
    PARTIAL = "partial"
    ERROR = "error"


@strawberry.type(description="One operation that read or changed your personal data.")
class DataAccess:
    at: dt.datetime = strawberry.field(description="When (UTC).")
    principal_kind: str = strawberry.field(
        description="Who asked: resident (an i罗湖 app), partner (a bank's system), developer."
    )
    principal: str = strawberry.field(description="The resident's or partner's id.")
    operation_name: str | None = strawberry.field(description="The operation's name, if named.")
    departments: list[str] = strawberry.field(description="The departments the hub called.")
    fields: list[str] = strawberry.field(
        description="The personal fields returned, as paths (me.library.loans), never values."
    )
    outcome: AccessOutcome = strawberry.field(
        description="OK; PARTIAL when some parts failed; ERROR when nothing was returned."
    )
    consent_ids: list[strawberry.ID] = strawberry.field(
        description="The consents (me.consents) a bank's window acted under; empty otherwise."
    )


@strawberry.type(description="A data access in your log.")
class DataAccessEdge:
    node: DataAccess
    cursor: str


@strawberry.type(description="A page of your data access log, newest first.")
class DataAccessConnection:
    edges: list[DataAccessEdge]
    page_info: PageInfo


def _access_of(logged: LoggedAccess) -> DataAccess:
    entry = logged.entry
    return DataAccess(
        at=logged.at,
        principal_kind=entry.principal_kind,
        principal=entry.principal,
        operation_name=entry.operation_name,
        departments=list(entry.departments),
        fields=list(entry.fields),
        outcome=AccessOutcome(entry.outcome),
        consent_ids=[strawberry.ID(c) for c in entry.consents],
    )


async def data_access_log(
    info: HubInfo, resident_id: str, *, first: int, after: str | None
) -> DataAccessConnection:
    """A page of the log, by record (keyset): new records never shift the pages already read."""
    check_first(first)
    # the cursor holds a record's seq; decode_cursor answers "the position after it"
    before = decode_cursor(CURSOR_KIND, after) - 1 if after is not None else None
    found = await info.context.audit_log.accesses_to(
        resident_id, first=first + 1, before_seq=before
    )
    page = found[:first]
    edges = [
        DataAccessEdge(node=_access_of(a), cursor=encode_cursor(CURSOR_KIND, a.seq)) for a in page
    ]
    return DataAccessConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(found) > first,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
