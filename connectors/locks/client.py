"""The district lock cloud (TTLock-style): residents' keys, locks, gateways, remote unlocks.

- Every ``/v3`` call carries ``clientId``, ``accessToken`` (``token.TokenKeeper``) and ``date``,
  epoch milliseconds of the hub's wall clock; ``80000`` (clock skew) and ``10003`` (credentials)
  are ``UpstreamRejected`` that count against the department's health: operator problems.
- Reads refused with ``10004`` renew the token once and go out once more. An unlock never goes
  out twice, whatever happens: a resend could open the door twice. On ``10004`` it renews the
  token for later calls and raises ``UpstreamRejected(code="10004")``.
- An unlock is a command: sent, then polled every 0.2 s until SUCCESS, FAILED (``Refused`` with
  the hub's domain code from ``envelope.REFUSALS``) or the caller's deadline (``TIMED_OUT``).
- Lock details are cached across requests; keys and gateways (live state) never are.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import aiohttp

from connectors.base import Clock, Connector, DepartmentPolicy
from connectors.errors import (
    ConnectorError,
    UpstreamNotFound,
    UpstreamPayloadError,
    UpstreamRejected,
)
from connectors.keyed import KeyedCache
from connectors.locks import envelope, mapping
from connectors.locks.envelope import Envelope
from connectors.locks.mapping import CommandStatus
from connectors.locks.models import Gateway, KeyStatus, Lock, LockKey
from connectors.locks.token import Grant, Token, TokenKeeper, grant
from connectors.observer import Observer
from connectors.shared import Shared

T = TypeVar("T")
P = TypeVar("P")

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a route, not a secret
KEY_LIST = "/v3/key/list"
LIST_BY_IDS = "/v3/lock/listByIds"
GATEWAYS = "/v3/gateway/listByLock"
UNLOCK = "/v3/lock/unlock"
COMMAND = "/v3/command/query"
MAX_BATCH = 20
KEY_PAGE_SIZE = 100
POLL_S = 0.2


class LocksConnector(Connector):
    """Typed calls to the lock cloud for the district's platform account.

    Credentials: ``policy.credentials["client_id"]``, ``["client_secret"]``, ``["username"]``
    and ``["password"]`` (plain; the cloud is sent its md5 hex digest). ``wall_clock`` gives
    the ``date`` every call carries (``clock`` stays monotonic: token expiry, caches).
    """

    department = "locks"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: DepartmentPolicy,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        observer: Observer | None = None,
        shared: Shared | None = None,
    ) -> None:
        super().__init__(session, policy, clock=clock, observer=observer, shared=shared)
        self.wall_clock = wall_clock
        self.key_page_size = KEY_PAGE_SIZE
        self.tokens = TokenKeeper(self._password_grant, self._refresh_grant, clock=clock)
        # by the lock id as text: the shared entries are keyed by text
        self.locks_cache: KeyedCache[Lock] = KeyedCache(
            maxsize=policy.cache_size,
            ttl_s=policy.cache_ttl_s,
            clock=clock,
            observe=self.observe_cache,
            naive=policy.naive,
            shared=self.shared_tier("locks"),
            wait_s=policy.timeout_s,
        )

    # -- reads -----------------------------------------------------------------------------

    async def keys(self, uid: str) -> tuple[LockKey, ...]:
        """Every key of lock-cloud user ``uid``, all pages, deleted keys left out."""

        async def page(number: int) -> mapping.KeyPage:
            params = {"uid": uid, "pageNo": str(number), "pageSize": str(self.key_page_size)}
            return self._map(mapping.key_page, (await self._read(KEY_LIST, params)).payload)

        first = await page(1)
        rest = await asyncio.gather(*(page(number) for number in range(2, first.pages + 1)))
        found: dict[int, LockKey] = {}
        for each in (first, *rest):
            found.update((key.key_id, key) for key in each.keys)
        return tuple(key for key in found.values() if key.status is not KeyStatus.DELETED)

    def fresh_lock(self, lock_id: int) -> Lock | None:
        """The lock's details if the hub has them fresh (no call, no waiting), else ``None``."""
        return self.locks_cache.fresh(str(lock_id))

    async def locks_by_ids(self, lock_ids: Sequence[int]) -> dict[int, Lock]:
        """Locks by id, from the cache where fresh; at most 20 ids a call; unknown ids absent."""
        keys = [str(lock_id) for lock_id in dict.fromkeys(lock_ids)]
        found = await self.locks_cache.get_many(keys, self._fetch_locks)
        return {int(key): lock for key, lock in found.items()}

    async def _fetch_locks(self, keys: list[str]) -> dict[str, Lock]:
        misses = [int(key) for key in keys]
        found: dict[str, Lock] = {}
        chunks = [misses[start : start + MAX_BATCH] for start in range(0, len(misses), MAX_BATCH)]
        for chunk in chunks:
            self.record_batch(f"GET {LIST_BY_IDS}", len(chunk))
        answers = await asyncio.gather(
            *(self._read(LIST_BY_IDS, {"lockIds": ",".join(map(str, chunk))}) for chunk in chunks)
        )
        asked = set(misses)
        for answer in answers:
            for lock in self._map(mapping.locks, answer.payload):
                if lock.id in asked:
                    found[str(lock.id)] = lock
        return found

    async def gateways(self, lock_id: int) -> tuple[Gateway, ...]:
        """The gateways in range of a lock, live; empty for a lock without one or unknown."""
        try:
            answer = await self._read(GATEWAYS, {"lockId": str(lock_id)})
        except UpstreamNotFound:
            return ()
        return self._map(mapping.gateways, answer.payload)

    # -- unlock (never resent) -------------------------------------------------------------

    async def unlock(self, lock_id: int, uid: str, *, deadline_s: float = 5.0) -> None:
        """Open a lock for ``uid`` remotely; returns once the cloud reports SUCCESS.

        ``Refused`` with the hub's domain code when the cloud refuses or the command fails,
        ``Refused("TIMED_OUT")`` when it is still pending after ``deadline_s``. The hub must
        have checked the resident's key (status, validity, remote right) before calling.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + deadline_s
        what = f"POST {UNLOCK}"
        token = await self.tokens.current()
        answer = await self._send("POST", UNLOCK, {"lockId": str(lock_id), "uid": uid}, token)
        if answer.token_invalid:
            with contextlib.suppress(ConnectorError):
                await self.tokens.renew(stale=token)
            raise envelope.rejected(self.department, answer.errcode, f"{what}, not resent")
        if not answer.ok:
            failure = envelope.unlock_failure(self.department, answer.errcode, what)
            raise self._counted(answer.errcode, failure)
        command_id = str(self._map(mapping.command_id, answer.payload))
        while True:
            polled = await self._read(COMMAND, {"commandId": command_id})
            command = self._map(mapping.command, polled.payload)
            if command.status is CommandStatus.SUCCESS:
                return
            if command.status is CommandStatus.FAILED:
                what = f"command {command_id}"
                raise envelope.unlock_failure(self.department, command.errcode, what)
            remaining = give_up - loop.time()
            if remaining <= 0:
                raise envelope.timed_out(self.department)
            await asyncio.sleep(min(POLL_S, remaining))

    # -- plumbing --------------------------------------------------------------------------

    async def _read(self, path: str, params: Mapping[str, str]) -> Envelope:
        # every call is time-stamped, so identical reads are matched here, not by their URL
        key = (path, tuple(sorted(params.items())))
        return await self.share_read(key, lambda: self._read_now(path, params))

    async def _read_now(self, path: str, params: Mapping[str, str]) -> Envelope:
        token = await self.tokens.current()
        answer = await self._send("GET", path, params, token)
        if answer.token_invalid:
            token = await self.tokens.renew(stale=token)
            answer = await self._send("GET", path, params, token)
        if not answer.ok:
            failure = envelope.read_failure(self.department, answer.errcode, f"GET {path}")
            if answer.token_invalid:
                raise self._failed(failure)  # refused even when fresh: an operator problem too
            raise self._counted(answer.errcode, failure)
        return answer

    async def _send(
        self, method: str, path: str, args: Mapping[str, str], token: Token | None
    ) -> Envelope:
        sent = dict(args)
        sent["clientId"] = self._credential("client_id")
        if token is not None:
            sent["accessToken"] = token.value
            sent["date"] = str(int(self.wall_clock() * 1000))
        if method == "GET":
            # shared by ``_read`` already: time-stamped, it never matches another by its URL
            response = await self._request(method, path, params=sent, share=False)
        else:
            # POSTs (unlock, token grants) are never repeated: a resend could open a door twice.
            # A grant changes nothing a read sees: reads in flight stay shared across it
            # (else the first read of a cold hub, waiting for the grant, is shared by no one)
            grant = path == TOKEN_PATH
            response = await self._request(method, path, data=sent, retry=False, read=grant)
        if response.status != 200:
            raise self._failed(
                UpstreamRejected(self.department, f"{method} {path}: HTTP {response.status}")
            )
        try:
            return envelope.decode(response.json(self.department), self.department)
        except UpstreamPayloadError as exc:
            raise self.payload_error(f"{method} {path}: {exc.detail}") from exc

    async def _password_grant(self) -> Grant:
        password = self._credential("password")
        form = {
            "clientSecret": self._credential("client_secret"),
            "username": self._credential("username"),
            "password": hashlib.md5(password.encode()).hexdigest(),  # noqa: S324 - the protocol
        }
        return await self._grant(form)

    async def _refresh_grant(self, refresh_token: str) -> Grant:
        form = {
            "clientSecret": self._credential("client_secret"),
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        return await self._grant(form)

    async def _grant(self, form: Mapping[str, str]) -> Grant:
        answer = await self._send("POST", TOKEN_PATH, form, None)
        if not answer.ok:
            what = "token refresh" if "refresh_token" in form else "token"
            failure = envelope.rejected(self.department, answer.errcode, what)
            raise self._counted(answer.errcode, failure)
        return self._map(grant, answer.payload)

    def _credential(self, name: str) -> str:
        value = self.policy.credentials.get(name)
        if not value:
            missing = UpstreamRejected(self.department, f"credential {name} not configured")
            raise self._failed(missing)
        return value

    def _counted(self, errcode: int, error: ConnectorError) -> ConnectorError:
        """Refusals saying the hub is misconfigured count against health; a resident's do not."""
        return self._failed(error) if envelope.operator_problem(errcode) else error

    def _map(self, to_record: Callable[[P], T], payload: P) -> T:
        try:
            return to_record(payload)
        except UpstreamPayloadError as exc:
            raise self.payload_error(exc.detail) from exc
