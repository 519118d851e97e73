"""The approval service (秒批): gather exactly the evidence an item's rules need, in parallel
and within a time budget, evaluate the rules, record the decision, and when approved instruct
the paying department once.

A plain class, not a resolver: ``applyForService`` calls it for a signed-in resident, and a
teller filing on a resident's behalf (帮办) can call it the same way.

- Evidence: each fact the rule declares (``population.person`` …) is one connector call,
  all started at once (the exchange's purpose is the catalogue item's ``impl_code``, found
  in the hub's catalogue copy by the rule's ``name``; the rule's own code only when the
  catalogue has no such item or cannot be read); the credential
  check needs the subject's name, which the hub knows for the resident themself (one level)
  and only the registry knows for a household member (a second level).
- A department that fails or does not answer within ``budget_s`` → NEEDS_REVIEW, never a guess.
- Exactly one grant per subject and item: the ``approval_grant`` row is claimed before the
  ledger is instructed; the ledger's ``request_id`` is derived from subject and item, so a
  retry after a lost answer is the same instruction, never a second payment.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, cast

from connectors.base import Connector
from connectors.catalogue.models import Item
from connectors.civil import CivilConnector
from connectors.civil.models import AllowanceGrant
from connectors.credentials import CredentialsConnector
from connectors.errors import ConnectorError, Refused
from connectors.population import PopulationConnector
from hub.approvals import engine, facts
from hub.approvals.rules import RULES, Rule
from hub.store.decisions import PENDING, SqlDecisions, SqlReviews
from hub.store.models import ApprovalGrant, ReviewCase
from schema.context import (
    ApplicationResult,
    Decision,
    Fact,
    Reason,
    ResidentDirectory,
    ResidentProfile,
)

DEPARTMENTS = {"population": "公安户籍", "civil": "民政", "credentials": "学历认证", "hrss": "人社"}
ALREADY = ("ALREADY_ENTITLED", "您已在享受该项补贴，无需重复申请。", "itemCode")
PENDING_REFUSAL = (
    "APPLICATION_PENDING", "您的申请已审核通过，补贴发放正在办理中，无需重复申请。", "itemCode",
)  # fmt: skip
DECIDED = ("ALREADY_DECIDED", "该申请已由审核人员处理。", None)
RECHECKER = "auto-recheck"
ORPHAN_S = 300.0
"""A pending claim with no decision recorded this long after it was made is an orphan."""
PAYMENT_PENDING = "您的申请已符合条件，民政发放系统暂时未能确认，系统将自动重试发放，结果将通知您。"


@dataclass
class _Gathered:
    records: dict[str, Any]
    facts: list[Fact]
    failed: list[str]
    purpose: str


class ItemsByName(Protocol):
    """The hub's catalogue copy as the approval service reads it (``CatalogueCopy``)."""

    async def item_named(self, name: str) -> Item | None: ...

    async def item(self, code: str) -> Item | None: ...


def first_month_after(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def request_id(subject: str, item: str) -> str:
    """The ledger instruction's id: one per subject and item, whatever the retries."""
    return "ihub-mp-" + hashlib.sha256(f"{item}\x00{subject}".encode()).hexdigest()[:32]


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _restored(name: str, value: Any) -> Any:
    if name in ("birth_date", "hukou_since", "graduation_date") and isinstance(value, str):
        return date.fromisoformat(value)
    return value


class ApprovalService:
    """Decides applications for 秒批 items (``hub.approvals.rules.RULES``)."""

    def __init__(
        self,
        connectors: Mapping[str, Connector],
        decisions: SqlDecisions,
        *,
        today: Callable[[], date],
        budget_s: float = 0.8,
        reviews: SqlReviews | None = None,
        directory: ResidentDirectory | None = None,
        catalogue: ItemsByName | None = None,
    ) -> None:
        self._connectors = connectors
        self._catalogue = catalogue
        self.decisions = decisions
        self.reviews = reviews
        self._directory = directory
        self._today = today
        self._budget_s = budget_s

    def rule(self, item_code: str, name: str | None = None) -> Rule | None:
        """The rule for the hub's item code or the implementation code, or (``name``) the
        catalogue item of that name."""
        return RULES.get(item_code) or next(
            (r for r in RULES.values() if r.impl_code == item_code or r.name == name), None
        )

    def rule_code(self, item_code: str, name: str | None = None) -> str | None:
        rule = self.rule(item_code, name)
        return rule.code if rule is not None else None

    def required_answers(self, rule_code: str) -> tuple[str, ...]:
        rule = RULES.get(rule_code)
        return tuple(sorted(rule.answers)) if rule is not None else ()

    async def apply(
        self,
        resident: ResidentProfile,
        item_code: str,
        answers: Mapping[str, str],
        for_member: str | None = None,
    ) -> ApplicationResult:
        rule = await self.rule_for(item_code)
        if rule is None:
            return ApplicationResult(None, ("NOT_FOUND", "没有这项秒批事项。", "itemCode"))
        missing = sorted(a for a in rule.answers if not answers.get(a, "").strip())
        if missing:
            return ApplicationResult(None, ("BAD_USER_INPUT", f"请填写：{missing[0]}", "answers"))
        subject = (for_member or resident.id_number).strip()
        if rule.allowance_code is not None:
            refusal = await self._granted(subject, rule.code)
            if refusal is not None:
                return ApplicationResult(None, refusal)
        day = self._today()
        gathered = await self._gather(rule, resident, subject, answers)
        person = gathered.records.get("population.person")
        if (
            subject != resident.id_number
            and (person is None or person.household_id != resident.household_id)
            and not gathered.failed
        ):
            message = "只能为本户户籍成员申请。"
            return ApplicationResult(None, ("FORBIDDEN", message, "forMember"))
        decision = self._decide(rule, resident.id, subject, day, gathered)
        return await self._conclude(rule, decision, day, answers)

    async def recheck_open(self, limit: int = 20) -> tuple[int, int]:
        """Re-decide up to ``limit`` queued cases with fresh evidence; a case whose
        departments answer now is closed by ``auto-recheck`` (its new decision recorded, paid
        if approved). ``(checked, closed)``."""
        if self.reviews is None or self._directory is None:
            return 0, 0
        closed = 0
        cases = await self.reviews.open_cases(limit)
        for case in cases:
            resident = await self._directory.profile(case.resident_id)
            rule = RULES.get(case.item)
            if resident is None or rule is None:
                continue
            grant = await self.decisions.grant_of(case.subject, rule.code)
            if grant is not None and grant.state == PENDING:
                if grant.decision_id == case.decision_id and await self._complete(case, grant):
                    closed += 1
                continue  # approved already: only the payment was waiting
            answers = {str(k): str(v) for k, v in json.loads(case.answers).items()}
            gathered = await self._gather(rule, resident, case.subject, answers)
            if gathered.failed:
                continue  # still down: the case waits, no new record
            decision = self._decide(rule, resident.id, case.subject, self._today(), gathered)
            result = await self._conclude(
                rule, decision, self._today(), answers,
                closing=(case.decision_id, RECHECKER),
            )  # fmt: skip
            refused = result.refusal[0] if result.refusal else None
            if refused in (ALREADY[0], PENDING_REFUSAL[0]):
                # entitled (or being paid) by another application: this case is superseded
                closed += await self.reviews.close(case.decision_id, RECHECKER, None)
            elif refused != "ALREADY_DECIDED" and result.decision is not None:
                closed += 1  # the new decision closed the case in its own transaction
        return len(cases), closed

    async def reject_case(self, decision_id: str, by: str, reason: str) -> Decision | str:
        """An operator's rejection of the queued case ``decision_id``: a new decision in the
        chain (``OPERATOR_REJECTED`` with ``reason``) that closes the case, both in one
        transaction. The new decision, or why not: ``NOT_FOUND`` (no such case),
        ``ALREADY_DECIDED`` (closed already, or by someone deciding at the same moment)."""
        if self.reviews is None:
            return "NOT_FOUND"
        case = await self.reviews.case(decision_id)
        original = await self.decisions.by_id(decision_id) if case is not None else None
        if case is None or original is None:
            return "NOT_FOUND"
        if case.state != "OPEN":
            return "ALREADY_DECIDED"
        grant = await self.decisions.grant_of(case.subject, case.item)
        if grant is not None and grant.state == PENDING and grant.decision_id == decision_id:
            return "PAYMENT_PENDING"  # approved; the ledger may have written: not to be undone
        rejected = Decision(
            **{**original.__dict__, "decision_id": uuid.uuid4().hex, "outcome": "REJECTED",
               "amount_fen": None, "at": None, "seq": None,
               "reasons": (Reason("OPERATOR_REJECTED", f"经人工审核不予通过：{reason}"),)},
        )  # fmt: skip
        if not await self.reviews.decide(decision_id, by, rejected):
            return "ALREADY_DECIDED"
        return await self.decisions.by_id(rejected.decision_id) or rejected

    async def recheck(self, decision: Decision) -> Decision:
        """Re-run the recorded inputs on the recorded day: the same rules give the same outcome."""
        rule = RULES[decision.item]
        inputs = {k: _restored(k, v) for f in decision.evidence for k, v in (f.value or {}).items()}
        failed = [f.department for f in decision.evidence if f.value is None]
        return self._outcome(
            rule, decision.resident_id, decision.subject, decision.day, inputs,
            list(decision.evidence), failed, impl_code=decision.impl_code,
        )  # fmt: skip

    async def decisions_of(self, resident_id: str) -> list[Decision]:
        return await self.decisions.of_resident(resident_id)

    async def decision(self, decision_id: str) -> Decision | None:
        return await self.decisions.by_id(decision_id)

    # -- evidence ---------------------------------------------------------------------------

    async def _gather(
        self, rule: Rule, resident: ResidentProfile, subject: str, answers: Mapping[str, str]
    ) -> _Gathered:
        population = cast(PopulationConnector, self._connectors["population"])
        civil = cast(CivilConnector, self._connectors["civil"])
        credentials = cast(CredentialsConnector, self._connectors["credentials"])
        purpose = await self.purpose(rule)
        gathered = _Gathered({}, [], [], purpose)

        async def person() -> Any:
            return await population.person(subject, purpose=purpose)

        async def household() -> Any:
            found = await population.households([resident.household_id], purpose=purpose)
            return found.get(resident.household_id)

        async def care() -> Any:
            return await civil.care_assessment(subject)

        async def degree() -> Any:
            name = resident.name
            if subject != resident.id_number:
                found = await person()
                if found is None:
                    return None
                name = found.name
            return await credentials.verify(answers["certNo"], name)

        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "population.person": person,
            "population.household": household,
            "civil.care_assessment": care,
            "credentials.degree": degree,
        }
        wanted = sorted(rule.evidence)
        answered = await asyncio.gather(
            *(self._fetch(calls[name]) for name in wanted), return_exceptions=False
        )
        for name, (ok, value) in zip(wanted, answered, strict=True):
            department = name.split(".")[0]
            fetched_at = datetime.now(UTC)
            if not ok:
                gathered.failed.append(department)
                gathered.facts.append(Fact(department, name, fetched_at, None))
                continue
            gathered.records[name] = value
            derived = facts.inputs({name: value})
            gathered.facts.append(
                Fact(department, name, fetched_at, {k: _jsonable(v) for k, v in derived.items()})
            )
        return gathered

    async def purpose(self, rule: Rule) -> str:
        """The exchange's purpose for ``rule``'s reads: the implementation code of the
        catalogue's active item of the rule's name; the rule's own code if the catalogue has
        no such item (or its copy cannot be read: the purpose must not stop a decision)."""
        if self._catalogue is None:
            return rule.impl_code
        try:
            item = await self._catalogue.item_named(rule.name)
        except ConnectorError:
            return rule.impl_code
        return item.impl_code if item is not None else rule.impl_code

    async def rule_for(self, item_code: str) -> Rule | None:
        """``rule(item_code)``, or the rule of the catalogue item with that code's name."""
        rule = self.rule(item_code)
        if rule is not None or self._catalogue is None:
            return rule
        try:
            item = await self._catalogue.item(item_code)
        except ConnectorError:
            return None
        return self.rule("", item.name) if item is not None else None

    async def _fetch(self, call: Callable[[], Awaitable[Any]]) -> tuple[bool, Any]:
        try:
            return True, await asyncio.wait_for(call(), self._budget_s)
        except (ConnectorError, TimeoutError):
            return False, None

    # -- decision ---------------------------------------------------------------------------

    def _decide(
        self, rule: Rule, resident_id: str, subject: str, day: date, gathered: _Gathered
    ) -> Decision:
        inputs = facts.inputs(gathered.records)
        return self._outcome(
            rule, resident_id, subject, day, inputs, gathered.facts, gathered.failed,
            impl_code=gathered.purpose,
        )  # fmt: skip

    def _outcome(
        self,
        rule: Rule,
        resident_id: str,
        subject: str,
        day: date,
        inputs: Mapping[str, Any],
        evidence: list[Fact],
        failed: list[str],
        *,
        impl_code: str | None = None,
    ) -> Decision:
        reasons: list[Reason] = []
        amount: int | None = None
        if failed:
            outcome = "NEEDS_REVIEW"
            for department in sorted(set(failed)):
                name = DEPARTMENTS.get(department, department)
                message = f"{name}系统暂时未能答复，已转人工审核，结果将通知您。"
                reasons.append(Reason("DEPARTMENT_UNAVAILABLE", message))
        else:
            evaluation = engine.evaluate(rule, inputs, day)
            reasons = [
                Reason(c.code, c.message)
                for c in rule.conditions
                if not evaluation.conditions[c.variable]
            ]
            if reasons and inputs.get("registered") is not True:
                reasons = reasons[:1]  # nothing else is known of a person the registry lacks
            outcome = "REJECTED" if reasons else "APPROVED"
            amount = evaluation.amount_fen if not reasons else None
        return Decision(
            decision_id=uuid.uuid4().hex,
            resident_id=resident_id,
            subject=subject,
            item=rule.code,
            impl_code=impl_code or rule.impl_code,
            rule_version=rule.version,
            parameter_version=engine.parameter_version(rule.code),
            day=day,
            evidence=tuple(evidence),
            outcome=outcome,
            reasons=tuple(reasons),
            amount_fen=amount,
        )

    async def _conclude(
        self,
        rule: Rule,
        decision: Decision,
        day: date,
        answers: Mapping[str, str],
        *,
        closing: tuple[str, str] | None = None,
    ) -> ApplicationResult:
        """Record the decision (a NEEDS_REVIEW one with its review case, when ``queue``) and,
        when it approves a payment, instruct the ledger once.

        The claim (``PENDING``, with the amount and month) is written before the ledger is
        called. Confirmed: the grant ``PAID`` and the approval appended in one transaction.
        The ledger unreachable or silent (it may or may not have written): the claim stays
        pending, and the decision is NEEDS_REVIEW ``PAYMENT_PENDING`` with its review case, in
        one transaction; the re-check completes the payment with the same ``request_id``, so
        the ledger makes it at most once.

        ``closing`` (case, by): a re-check's decision, which closes that queued case in the
        transaction that records it (or, when paying, that claims the grant); if the case was
        closed meanwhile (an operator decided), nothing is written: ``ALREADY_DECIDED``."""
        if decision.outcome != "APPROVED" or rule.allowance_code is None:
            if closing is not None:
                if not await self.decisions.append_closing(decision, *closing):
                    return ApplicationResult(None, DECIDED)
            elif decision.outcome == "NEEDS_REVIEW" and self.reviews is not None:
                await self.decisions.append_queued(decision, answers)
            else:
                await self.decisions.append(decision)
            step = rule.next_step if decision.outcome == "APPROVED" else None
            return ApplicationResult(decision, next_step=step)
        subject, instruction_id = decision.subject, request_id(decision.subject, rule.code)
        month = first_month_after(day)
        claim = await self.decisions.claim_grant(
            subject, rule.code, decision.decision_id, instruction_id,
            amount_fen=decision.amount_fen or 0, first_month=month, closing=closing,
        )  # fmt: skip
        if claim == "case-closed":
            return ApplicationResult(None, DECIDED)
        if claim == "taken":
            return ApplicationResult(None, await self._granted(subject, rule.code) or ALREADY)
        civil = cast(CivilConnector, self._connectors["civil"])
        instruction = AllowanceGrant(
            allowance_code=rule.allowance_code, id_number=subject, start_month=month,
            amount_fen=decision.amount_fen or 0, decision_ref=decision.decision_id,
            request_id=instruction_id,
        )  # fmt: skip
        try:
            granted = await civil.grant(instruction)  # its own budget and retries: same request_id
        except Refused as refused:
            if refused.code == "ALREADY_ENTITLED":
                await self.decisions.settle_grant(subject, rule.code, None)  # the ledger has one
                return ApplicationResult(None, ALREADY)
            await self.decisions.release_grant(subject, rule.code, decision.decision_id)
            return ApplicationResult(None, (refused.code, refused.message, None))
        except (ConnectorError, TimeoutError):
            pending = Decision(
                **{**decision.__dict__, "outcome": "NEEDS_REVIEW", "amount_fen": None,
                   "reasons": (Reason("PAYMENT_PENDING", PAYMENT_PENDING),)},
            )  # fmt: skip
            if self.reviews is not None:
                await self.decisions.append_queued(pending, answers)
            else:
                await self.decisions.append(pending)
            return ApplicationResult(pending)
        await self.decisions.append_paid(decision, granted.entitlement_id)
        step = rule.next_step.format(month=f"{month.year}年{month.month}月")
        return ApplicationResult(decision, next_step=step, first_month=month)

    async def _complete(self, case: ReviewCase, grant: ApprovalGrant) -> bool:
        """Instruct a pending payment again (the same ``request_id``, amount and month); once
        the ledger confirms, the approval is appended and the case closed. Whether closed."""
        rule = RULES[case.item]
        queued = await self.decisions.by_id(case.decision_id)
        if queued is None or rule.allowance_code is None or grant.first_month is None:
            return False
        civil = cast(CivilConnector, self._connectors["civil"])
        instruction = AllowanceGrant(
            allowance_code=rule.allowance_code, id_number=grant.subject,
            start_month=grant.first_month, amount_fen=grant.amount_fen or 0,
            decision_ref=grant.decision_id, request_id=grant.request_id,
        )  # fmt: skip
        try:
            granted = await civil.grant(instruction)
            entitlement: str | None = granted.entitlement_id
        except Refused as refused:
            if refused.code != "ALREADY_ENTITLED":
                return False  # the case waits for an operator; the claim stays
            entitlement = None
        except (ConnectorError, TimeoutError):
            return False  # still down: the case waits
        approved = Decision(
            **{**queued.__dict__, "decision_id": uuid.uuid4().hex, "outcome": "APPROVED",
               "amount_fen": grant.amount_fen, "reasons": (), "at": None, "seq": None},
        )  # fmt: skip
        return await self.decisions.complete_payment(
            case.decision_id, approved, entitlement, RECHECKER
        )

    async def _granted(self, subject: str, item: str) -> tuple[str, str, str | None] | None:
        """Why a new application of ``subject`` for ``item`` is refused, if it is: paid (or
        on the ledger already), or approved with its payment pending."""
        grant = await self.decisions.grant_of(subject, item)
        if grant is None:
            return None
        if grant.state != PENDING:
            return ALREADY
        claimed = grant.claimed_at.replace(tzinfo=UTC) if grant.claimed_at else None
        stale = claimed is None or (datetime.now(UTC) - claimed).total_seconds() > ORPHAN_S
        if stale and await self.decisions.by_id(grant.decision_id) is None:
            # claimed by a process that stopped before recording anything: give it back; a
            # new instruction carries the same request_id, so the ledger still pays once
            await self.decisions.release_grant(subject, item, grant.decision_id)
            return None
        return PENDING_REFUSAL
