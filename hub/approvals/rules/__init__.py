"""The 秒批 items: one module per item, each a ``Rule`` (catalogue data, the evidence it
needs, its conditions and amount as OpenFisca variables). ``RULES`` lists them by code."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Condition:
    """One condition of eligibility: an OpenFisca bool variable; false → this reason."""

    variable: str
    code: str
    message: str
    """Fit to show the resident (Chinese)."""


@dataclass(frozen=True)
class Rule:
    code: str
    """The hub's item code; its parameters are ``parameters/<code>.yaml``."""
    impl_code: str
    """The catalogue's implementation code: the exchange's purpose for this item's reads."""
    name: str
    version: str
    evidence: frozenset[str]
    """Department facts the rules read (``population.person`` …): exactly these are fetched."""
    conditions: Sequence[Condition]
    variables: Callable[[Any], list[type[Any]]]
    amount_variable: str | None = None
    allowance_code: str | None = None
    """The civil ledger's code when approval instructs a monthly payment."""
    answers: frozenset[str] = frozenset()
    """Answers the applicant must give (``certNo`` …)."""
    next_step: str = ""


def _load() -> dict[str, Rule]:
    from hub.approvals.rules import elderly_allowance, family_planning, graduate_transfer, home_care

    modules = (elderly_allowance, graduate_transfer, family_planning, home_care)
    return {m.RULE.code: m.RULE for m in modules}


RULES: dict[str, Rule] = _load()
