"""Return codes, the same in both dialects, and the refusal that carries one to the answer.

Protocol (departments.md §3): ``0`` ok; ``400011`` bad parameters, unknown method or timestamp
skew; ``400017`` bad signature or unknown app_id; ``500031`` rate limit; ``500032`` concurrency
limit; ``5205`` busy.

Business codes, chosen for the mock (real banks keep theirs in private manuals):
``400021`` the slot is full; ``400022`` the appointment can no longer be cancelled (already
cancelled, served, missed, or its slot has begun); ``400023`` the outlet does not handle the
item (or has no government window); ``400024`` no such outlet or appointment.
"""

from __future__ import annotations

OK = 0
BAD_PARAMETER = 400011
BAD_SIGNATURE = 400017
SLOT_FULL = 400021
NOT_CANCELLABLE = 400022
ITEM_NOT_HANDLED = 400023
NOT_FOUND = 400024
RATE_LIMITED = 500031
TOO_MANY_IN_FLIGHT = 500032
BUSY = 5205


class BankRefusal(Exception):
    """A refusal answered as ``{"return_code": code, "return_msg": message}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def bad_parameter(message: str) -> BankRefusal:
    return BankRefusal(BAD_PARAMETER, message)
