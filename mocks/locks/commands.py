"""Remote unlocks: the checks the cloud makes, the rate limit, and the asynchronous outcome.

``unlock`` refuses at once (-1003 unknown lock, -2018 no key record, 30006 an 11th accepted
unlock of the lock within 60 s) or issues a command. Its outcome is fixed when it is issued:
``fail_with`` forced by a test, else -2012 (no gateway) and -3002 (every gateway offline),
known at once, or -3003 (gateway busy), -3036 (lock offline), -3037 (lock busy), else SUCCESS,
known only when the command's delay has passed on the mock clock. The delay, 300–1500 ms, is
drawn from the seed and the command number, so moving the clock 2 s ahead completes any
command without a test having to sleep.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from mocks.locks import answers
from mocks.locks.answers import CloudError
from mocks.locks.clock import Clock
from mocks.locks.cloud import Cloud

UNLOCKS_PER_WINDOW = 10
WINDOW_MS = 60_000
MIN_DELAY_MS = 300
MAX_DELAY_MS = 1500


@dataclass
class Command:
    """One unlock command; ``errcode`` 0 means it will succeed once ``due`` has passed."""

    command_id: int
    lock_id: int
    uid: int
    at: int
    due: int
    errcode: int
    finished: bool = False

    def as_json(self, now_ms: int) -> dict[str, object]:
        # once seen finished it stays so, even if a test moves the clock back
        self.finished = self.finished or now_ms >= self.due
        if not self.finished:
            status, errcode = "PENDING", 0
        else:
            status, errcode = ("FAILED", self.errcode) if self.errcode else ("SUCCESS", 0)
        return {
            "commandId": self.command_id,
            "lockId": self.lock_id,
            "status": status,
            "errcode": errcode,
        }


class Commands:
    """Every unlock command issued, and the log of every unlock call received."""

    def __init__(self, seed: int, cloud: Cloud, clock: Clock) -> None:
        self.seed = seed
        self.cloud = cloud
        self.clock = clock
        self.issued: dict[int, Command] = {}
        self.recent: dict[int, deque[int]] = {}
        self.received: list[dict[str, object]] = []

    def delay_ms(self, number: int) -> int:
        """The delay of command ``number``: the same for the same seed, run after run."""
        return random.Random(self.seed * 1_000_003 + number).randint(MIN_DELAY_MS, MAX_DELAY_MS)

    def unlock(self, lock_id: int, uid: int) -> Command:
        """Issue a command, or raise the refusal; either way the call is logged."""
        now = self.clock.now_ms()
        entry: dict[str, object] = {"commandId": None, "lockId": lock_id, "uid": uid, "at": now}
        self.received.append(entry)
        try:
            command = self._issue(lock_id, uid, now)
        except CloudError as refusal:
            entry["errcode"] = refusal.errcode
            raise
        entry.update(commandId=command.command_id, errcode=0)
        return command

    def _issue(self, lock_id: int, uid: int, now: int) -> Command:
        self.cloud.lock(lock_id)
        if not self.cloud.holds_key(uid, lock_id):
            raise CloudError(answers.PERMISSION_DENIED, f"uid {uid} has no key for lock {lock_id}")
        recent = self.recent.setdefault(lock_id, deque())
        while recent and recent[0] <= now - WINDOW_MS:
            recent.popleft()
        if len(recent) >= UNLOCKS_PER_WINDOW:
            raise CloudError(answers.CALL_LIMIT, f"more than {UNLOCKS_PER_WINDOW} unlocks a minute")
        recent.append(now)
        number = len(self.issued) + 1
        errcode, at_once = self._outcome(lock_id)
        due = now if at_once else now + self.delay_ms(number)
        command = Command(number, lock_id, uid, now, due, errcode)
        self.issued[number] = command
        return command

    def _outcome(self, lock_id: int) -> tuple[int, bool]:
        """The errcode the command will end with (0: success), and whether it is known at once."""
        state, gateways = self.cloud.states[lock_id], self.cloud.gateways[lock_id]
        if state.fail_with is not None:
            return state.fail_with, False
        if not self.cloud.locks[lock_id].has_gateway or not gateways:
            return answers.NO_GATEWAY, True
        if not any(gateway.online for gateway in gateways):
            return answers.GATEWAY_OFFLINE, True
        if state.gateway_busy:
            return answers.GATEWAY_BUSY, False
        if not state.online:
            return answers.LOCK_OFFLINE, False
        if state.busy:
            return answers.LOCK_BUSY, False
        return 0, False

    def query(self, command_id: int) -> dict[str, object]:
        """``/v3/command/query``: the command's status as of the mock's now."""
        command = self.issued.get(command_id)
        if command is None:
            raise CloudError(answers.BAD_PARAMETER, f"commandId {command_id} does not exist")
        return command.as_json(self.clock.now_ms())
