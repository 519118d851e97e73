"""Words residents type for the catalogue's words: each group is one meaning.

A query word found in a group also searches for every other word of it (社保 → 社会保险). Keep
it short and checked: a wrong group makes every search for its words worse.
"""

from __future__ import annotations

from collections.abc import Mapping

GROUPS: tuple[tuple[str, ...], ...] = (
    ("社保", "社会保险"),
    ("医保", "医疗保险"),
    ("公积金", "住房公积金"),
    ("社保卡", "社会保障卡"),
    ("身份证", "居民身份证"),
    ("户口", "户籍"),
    ("营业执照", "工商登记"),
    ("低保", "最低生活保障"),
    ("残疾证", "残疾人证"),
    ("驾照", "驾驶证"),
    ("退休金", "养老金"),
    ("生小孩", "生育"),
    ("结婚证", "婚姻登记"),
)


def by_word(groups: tuple[tuple[str, ...], ...] = GROUPS) -> Mapping[str, tuple[str, ...]]:
    """Each word → the other words of its groups."""
    out: dict[str, list[str]] = {}
    for group in groups:
        for word in group:
            out.setdefault(word, []).extend(other for other in group if other != word)
    return {word: tuple(dict.fromkeys(others)) for word, others in out.items()}
