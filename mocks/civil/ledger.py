"""The civil-affairs allowance ledger: standing entitlements (derived) plus what callers wrote.

``request_id`` makes a write idempotent: the first answer (status and body) is kept and given
again for the same ``request_id``, whatever the body. An active entitlement for the same
person and allowance code refuses the write with ``409 ALREADY_ENTITLED``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mocks.common.facts import standing_entitlements
from mocks.common.population import Population

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
CODE = re.compile(r"[A-Z][A-Z0-9_]{1,19}")


class LedgerError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"code": code, "message": message, **extra}}


@dataclass
class Ledger:
    population: Population
    written: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    serial: int = 0

    def entitlements(self, id_number: str) -> list[dict[str, Any]]:
        person = self.population.person(id_number)
        standing = standing_entitlements(self.population, person) if person else []
        return standing + [dict(e) for e in self.written.get(id_number, [])]

    def write(self, body: object) -> tuple[int, dict[str, Any]]:
        """Record an entitlement; the answer for a known ``request_id`` is the first one."""
        request_id = body.get("request_id") if isinstance(body, dict) else None
        if isinstance(request_id, str) and request_id in self.answers:
            return self.answers[request_id]
        try:
            result = (201, self._write(body))
        except LedgerError as exc:
            if exc.status == 400:
                raise
            result = (exc.status, exc.body)
        assert isinstance(request_id, str)
        self.answers[request_id] = result
        return result

    def _write(self, body: object) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise LedgerError(400, "BAD_REQUEST", "body must be a JSON object")
        for key in ("allowance_code", "id_number", "start_month", "amount_fen", "decision_ref"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise LedgerError(400, "BAD_REQUEST", f"{key} is required (a string)")
        request_id = body.get("request_id")
        if not isinstance(request_id, str) or not 8 <= len(request_id) <= 64:
            raise LedgerError(400, "BAD_REQUEST", "request_id is required (8–64 characters)")
        if not CODE.fullmatch(body["allowance_code"]):
            raise LedgerError(400, "BAD_REQUEST", "allowance_code is not a ledger code")
        if not MONTH.fullmatch(body["start_month"]):
            raise LedgerError(400, "BAD_REQUEST", "start_month must be yyyy-MM")
        if not body["amount_fen"].isdigit() or int(body["amount_fen"]) <= 0:
            raise LedgerError(400, "BAD_REQUEST", "amount_fen must be a positive integer string")
        id_number = body["id_number"]
        person = self.population.person(id_number)
        if person is None:
            raise LedgerError(422, "UNKNOWN_PERSON", "no such person in the registry")
        if not person.alive:
            raise LedgerError(422, "PERSON_DECEASED", "the person is recorded as deceased")
        for entry in self.entitlements(id_number):
            if entry["allowance_code"] == body["allowance_code"] and entry["status"] == "ACTIVE":
                raise LedgerError(
                    409,
                    "ALREADY_ENTITLED",
                    "an active entitlement exists for this allowance",
                    entitlement_id=entry["entitlement_id"],
                )
        self.serial += 1
        entitlement_id = f"EN{self.serial:010d}"
        self.written.setdefault(id_number, []).append(
            {
                "entitlement_id": entitlement_id,
                "allowance_code": body["allowance_code"],
                "since": body["start_month"],
                "amount_fen": str(int(body["amount_fen"])),
                "status": "ACTIVE",
                "decision_ref": body["decision_ref"],
            }
        )
        return {"entitlement_id": entitlement_id, "status": "ACTIVE"}
