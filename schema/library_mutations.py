"""Borrow, renew and return, on the resident's own card, each exactly once per key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from connectors.library import LibraryConnector, LibraryLoaders
from connectors.library import models as m
from schema.common import (
    IDEMPOTENCY_KEY_HELP,
    Money,
    UserError,
    current_resident,
    idempotent,
    user_errors,
)
from schema.context import HubInfo
from schema.library import Loan, loan_of
from schema.records import from_json, to_json

NO_CARD = {
    "userErrors": [
        {"code": "NO_LIBRARY_CARD", "message": "您还没有绑定图书馆读者证。", "field": None}
    ]
}


@strawberry.input(description="Which copy, and the idempotency key of this request.")
class BarcodeInput:
    barcode: str = strawberry.field(description="The copy's barcode (on its back cover).")
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.type(description="The loan after borrowing or renewing, or why not.")
class LoanPayload:
    loan: Loan | None
    user_errors: list[UserError]


@strawberry.type(description="The return, with any overdue fine charged, or why not.")
class ReturnBookPayload:
    barcode: str | None
    fine: Money | None
    user_errors: list[UserError]


def _loan_payload(outcome: dict[str, Any]) -> LoanPayload:
    loan = outcome.get("loan")
    return LoanPayload(
        loan=loan_of(from_json(m.Loan, loan)) if loan else None,
        user_errors=user_errors(outcome),
    )


CardPerform = Callable[[LibraryConnector, str, str, str], Awaitable[dict[str, Any]]]


async def _card_mutation(
    info: HubInfo, input: BarcodeInput, operation: str, perform: CardPerform
) -> dict[str, Any]:
    """Run ``perform(library, card, barcode, request_id)`` once per key, on the resident's card."""
    resident = await current_resident(info)
    library = info.context.loaders.get(LibraryLoaders).connector
    card, barcode = resident.accounts.library_card, input.barcode.strip()

    async def run(request_id: str) -> dict[str, Any]:
        if card is None:
            return NO_CARD
        return await perform(library, card, barcode, request_id)

    return await idempotent(
        info, resident, operation=operation, key=input.idempotency_key,
        arguments={"barcode": barcode}, perform=run,
    )  # fmt: skip


async def _lend(
    library: LibraryConnector, card: str, barcode: str, request_id: str
) -> dict[str, Any]:
    return {"loan": to_json(await library.lend(card, barcode, request_id=request_id))}


async def _renew(
    library: LibraryConnector, card: str, barcode: str, request_id: str
) -> dict[str, Any]:
    return {"loan": to_json(await library.renew(card, barcode, request_id=request_id))}


async def _give_back(
    library: LibraryConnector, card: str, barcode: str, request_id: str
) -> dict[str, Any]:
    # the library's return takes no card: check the copy is on loan to this resident
    if barcode not in {loan.barcode for loan in await library.loans(card)}:
        return {
            "userErrors": [
                {"code": "NOT_ON_LOAN", "message": "这本书不在您的借阅记录中。", "field": "barcode"}
            ]
        }
    return {"return": to_json(await library.give_back(barcode, request_id=request_id))}


@strawberry.type
class LibraryMutation:
    @strawberry.mutation(
        description="借书 · Borrow a copy on the resident's card. Refusals: READER_SUSPENDED, "
        "LOAN_LIMIT_REACHED, ITEM_NOT_AVAILABLE, NOT_FOUND, NO_LIBRARY_CARD."
    )
    async def borrow_book(self, info: HubInfo, input: BarcodeInput) -> LoanPayload:
        return _loan_payload(await _card_mutation(info, input, "borrowBook", _lend))

    @strawberry.mutation(
        description="续借 · Renew a loan for another 31 days from today. Refusals: "
        "RENEWAL_LIMIT_REACHED, ON_HOLD_FOR_ANOTHER_READER, OVERDUE, NOT_FOUND, NO_LIBRARY_CARD."
    )
    async def renew_loan(self, info: HubInfo, input: BarcodeInput) -> LoanPayload:
        return _loan_payload(await _card_mutation(info, input, "renewLoan", _renew))

    @strawberry.mutation(
        description="还书 · Return a borrowed copy (smart return box). Only copies on loan to the "
        "resident can be returned. Refusals: NOT_ON_LOAN, NO_LIBRARY_CARD."
    )
    async def return_book(self, info: HubInfo, input: BarcodeInput) -> ReturnBookPayload:
        outcome = await _card_mutation(info, input, "returnBook", _give_back)
        returned = from_json(m.Return, outcome["return"]) if outcome.get("return") else None
        return ReturnBookPayload(
            barcode=returned.barcode if returned else None,
            fine=Money(fen=returned.fine_fen) if returned else None,
            user_errors=user_errors(outcome),
        )
