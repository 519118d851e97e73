"""Masking of personal data for callers who may not see it in full (partners)."""

from __future__ import annotations


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
    return number[:3] + "*" * (len(number) - 7) + number[-4:] if len(number) >= 7 else number
