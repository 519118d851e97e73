"""Pure mapping of lock-cloud payloads to the hub's records: payload in, record out.

Times are epoch milliseconds, mapped to aware UTC datetimes; a key's ``startDate``/``endDate``
of 0 means no bound (both 0: a permanent key). Flags are the cloud's integers: ``remoteEnable``
1 yes / 2 no, ``hasGateway`` and ``isOnline`` 1 / 0. Unknown fields are ignored; a missing
required field or an unknown code raises ``UpstreamPayloadError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import TypeVar

from connectors.errors import UpstreamPayloadError
from connectors.locks.models import Gateway, KeyStatus, Lock, LockKey, LockKind
from connectors.payload import Fields, elements

DEPARTMENT = "locks"

T = TypeVar("T")
E = TypeVar("E", bound=Enum)


class CommandStatus(Enum):
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Command:
    """Where an asynchronous unlock stands; ``errcode`` says why a FAILED one failed."""

    status: CommandStatus
    errcode: int


@dataclass(frozen=True)
class KeyPage:
    """One page of ``/v3/key/list``."""

    pages: int
    keys: tuple[LockKey, ...]


def _error(record: str, key: str, problem: str) -> UpstreamPayloadError:
    return UpstreamPayloadError(DEPARTMENT, f"{record}.{key}: {problem}")


def _enum(kind: type[E], raw: object, record: str, key: str) -> E:
    try:
        return kind(raw)
    except ValueError as exc:
        raise _error(record, key, f"unknown value {raw!r}") from exc


def _coded(f: Fields, key: str, codes: Mapping[int, bool], record: str) -> bool:
    raw = f.integer(key)
    if raw not in codes:
        raise _error(record, key, f"unknown value {raw!r}")
    return codes[raw]


def _moment(f: Fields, key: str, record: str) -> datetime | None:
    """Epoch milliseconds → aware UTC datetime; 0 (or absent) → no bound."""
    raw = f.opt_integer(key) or 0
    if raw < 0:
        raise _error(record, key, "negative time")
    return datetime.fromtimestamp(raw / 1000, UTC) if raw else None


def _each(to_record: Callable[[object], T], payload: object, record: str) -> tuple[T, ...]:
    return tuple(to_record(element) for element in elements(payload, DEPARTMENT, record))


REMOTE = {1: True, 2: False}
PRESENT = {1: True, 0: False}


def key(payload: object) -> LockKey:
    f = Fields(payload, DEPARTMENT, "key")
    return LockKey(
        key_id=f.integer("keyId"),
        lock_id=f.integer("lockId"),
        lock_alias=f.opt_text("lockAlias") or "",
        status=_enum(KeyStatus, f.integer("keyStatus"), "key", "keyStatus"),
        valid_from=_moment(f, "startDate", "key"),
        valid_to=_moment(f, "endDate", "key"),
        remote_enabled=_coded(f, "remoteEnable", REMOTE, "key"),
        key_right=f.opt_integer("keyRight") or 0,
    )


def key_page(payload: object) -> KeyPage:
    """``{list: [key], pageNo, pageSize, pages, total}`` → ``KeyPage``."""
    f = Fields(payload, DEPARTMENT, "keys")
    return KeyPage(pages=f.opt_integer("pages") or 0, keys=_each(key, f.array("list"), "keys"))


def lock(payload: object) -> Lock:
    f = Fields(payload, DEPARTMENT, "lock")
    return Lock(
        id=f.integer("lockId"),
        alias=f.opt_text("lockAlias") or "",
        mac=f.opt_text("lockMac") or "",
        battery=f.integer("electricQuantity"),
        has_gateway=_coded(f, "hasGateway", PRESENT, "lock"),
        community_id=f.opt_text("communityId") or None,
        kind=_enum(LockKind, f.text("kind"), "lock", "kind"),
    )


def locks(payload: object) -> tuple[Lock, ...]:
    """``{list: [lock]}`` → locks, in the cloud's order."""
    return _each(lock, Fields(payload, DEPARTMENT, "locks").array("list"), "locks")


def gateway(payload: object) -> Gateway:
    f = Fields(payload, DEPARTMENT, "gateway")
    return Gateway(
        id=f.integer("gatewayId"),
        online=_coded(f, "isOnline", PRESENT, "gateway"),
        rssi=f.opt_integer("rssi") or 0,
    )


def gateways(payload: object) -> tuple[Gateway, ...]:
    """``{list: [gateway]}`` → gateways; empty for a lock without one."""
    return _each(gateway, Fields(payload, DEPARTMENT, "gateways").opt_array("list"), "gateways")


def command_id(payload: object) -> int:
    """The answer to ``/v3/lock/unlock``: ``{commandId}``."""
    return Fields(payload, DEPARTMENT, "unlock").integer("commandId")


def command(payload: object) -> Command:
    """``{status: PENDING|SUCCESS|FAILED, errcode}``; a FAILED command must carry its code."""
    f = Fields(payload, DEPARTMENT, "command")
    status = _enum(CommandStatus, f.text("status"), "command", "status")
    errcode = f.opt_integer("errcode") or 0
    if status is CommandStatus.FAILED and errcode == 0:
        raise _error("command", "errcode", "FAILED without a code")
    return Command(status, errcode)
