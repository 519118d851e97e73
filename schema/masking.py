"""Masking of personal identifiers: masked by default, in full only where policy allows.

``shown(principal, identifier, value)`` is how any resolver exposes an ID number, a mobile
or a name to someone else; ``may_see_in_full`` is the one policy. The one exception is a
resident's own grant: ``shown_under_consent`` shows in full what their consent unmasks.
Masking happens in the resolver, so nothing after it (response caches, logs) ever holds the
full value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum

from schema.context import Principal


class Identifier(Enum):
    """The personal identifiers the hub masks."""

    ID_NUMBER = "id_number"
    MOBILE = "mobile"
    NAME = "name"


def may_see_in_full(principal: Principal, identifier: Identifier) -> bool:
    """Whether ``principal`` may see ``identifier`` unmasked. Default deny: nobody may yet.

    A future grant (say, a government window that must check an ID card) is decided here,
    from the authenticated principal, never from anything in the request.
    """
    return False


def shown(principal: Principal, identifier: Identifier, value: str) -> str:
    """``value`` as ``principal`` may see it: masked unless the policy allows it in full."""
    if may_see_in_full(principal, identifier):
        return value
    return MASKS[identifier](value)


def shown_under_consent(unmasked: frozenset[str], identifier: Identifier, value: str) -> str:
    """``value`` as a partner acting under a resident's consent sees it: in full only where the
    consent (the hub's record of what the resident granted, never the request) says so."""
    return value if identifier.value in unmasked else MASKS[identifier](value)


def mask_name(name: str) -> str:
    """张伟 → 张*, 欧阳娜娜 → 欧***: the surname character stays."""
    return name[:1] + "*" * (len(name) - 1) if name else name


def mask_id_number(number: str) -> str:
    """440303199001011234 → 4403**********1234."""
    if len(number) < 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_mobile(number: str) -> str:
    """13812345678 → 138****5678."""
    return (
        number[:3] + "*" * (len(number) - 7) + number[-4:]
        if len(number) >= 7
        else "*" * len(number)
    )


MASKS: Mapping[Identifier, Callable[[str], str]] = {
    Identifier.ID_NUMBER: mask_id_number,
    Identifier.MOBILE: mask_mobile,
    Identifier.NAME: mask_name,
}
