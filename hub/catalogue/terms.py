"""``python -m hub.catalogue.terms``: index terms and vocabularies, in a process of their own.

Reads one JSON request on stdin (``hub.catalogue.analysis.request``: items' names,
conditions, departments' names and codes, and whether to add the base vocabulary), writes one
JSON answer on stdout and exits: the only place pypinyin is imported and jieba's full
dictionary loaded (``hub.catalogue.analysis`` says why). ``FullAnalyzer`` is the search's
analysis as it was before it moved here: the differential test compares the workers' answers
with it.

An item's terms, by field: ``name`` and ``conditions`` are jieba's search-mode words (lower case)
with their character ranges; ``name_py`` each name word's full pinyin and initials (pypinyin
picks each character's reading in context: 银行 → yin hang) over the word's range; ``name_chars``
the name's Han characters; ``codes`` the item's three codes, normalised.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import jieba
import orjson
from pypinyin import Style, lazy_pinyin

from hub.catalogue.analysis import MAX_ITEMS, VERSION, Terms
from hub.catalogue.synonyms import GROUPS
from hub.catalogue.text import CHARS, Analyzer, han, normalise

MAX_INPUT = 64 * 1024 * 1024
"""Bytes of request read from stdin, at most."""


class FullAnalyzer(Analyzer):
    """jieba's full dictionary (search mode) and pypinyin."""

    def __init__(self, synonyms: Mapping[str, tuple[str, ...]] | None = None) -> None:
        # jieba's own process-wide tokenizer: its dictionary (tens of MB) is loaded once
        super().__init__(jieba.dt, synonyms)
        self.pinyin = functools.lru_cache(maxsize=20_000)(self._pinyin)  # type: ignore[method-assign]

    def warm(self) -> None:
        """Load jieba's dictionary now (about a second) rather than at the first cut."""
        self.tokenizer.initialize()

    def pinyin(self, word: str) -> tuple[str, str] | None:
        """Full pinyin and initials of a word with a Han character (``None`` otherwise)."""
        return self._pinyin(word)

    def _pinyin(self, word: str) -> tuple[str, str] | None:
        if not han(word):
            return None
        # the initials are the syllables' first letters (Style.FIRST_LETTER, without a
        # second pass)
        syllables = [s.lower() for s in lazy_pinyin(word, style=Style.NORMAL, errors="default")]
        return "".join(syllables), "".join(s[:1] for s in syllables)

    def item_terms(self, name: str, conditions: str, codes: Iterable[str]) -> Terms:
        words = list(self.words(name))
        pinyin = []
        for word, start, end in words:
            spelled = self.pinyin(word)
            if spelled is not None:
                pinyin += [(spelled[0], start, end), (spelled[1], start, end)]
        return {
            "name": words,
            "name_py": pinyin,
            "conditions": list(self.words(conditions)),
            CHARS: [(ch, i, i + 1) for i, ch in enumerate(name) if han(ch)],
            "codes": [(normalise(code), 0, 0) for code in codes],
        }

    def vocabulary(self, texts: Iterable[str]) -> dict[str, int]:
        """Every word of jieba's dictionary found in ``texts`` (as given and normalised, the
        way a query is), with its frequency: the words of each text's DAG."""
        self.tokenizer.check_initialized()
        freq = self.tokenizer.FREQ
        found: dict[str, int] = {}
        for form in {form for text in texts for form in (text, normalise(text))}:
            for start in range(len(form)):
                end = start + 1
                while end <= len(form) and (fragment := form[start:end]) in freq:
                    if freq[fragment]:
                        found[fragment] = freq[fragment]
                    end += 1
        return found

    def base(self) -> dict[str, Any]:
        """jieba's total and the words of the synonyms."""
        self.tokenizer.check_initialized()
        vocabulary = self.vocabulary(word for group in GROUPS for word in group)
        return {"total": self.tokenizer.total, "vocabulary": vocabulary}

    def analyse(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to one request (see the module's docstring)."""
        items = request.get("items") or []
        if len(items) > MAX_ITEMS:
            raise ValueError(f"{len(items)} items in one request: at most {MAX_ITEMS}")
        self.warm()
        answer: dict[str, Any] = {"version": VERSION, "items": {}, "base": None}
        for item in items:
            name, conditions = str(item["name"]), str(item["conditions"])
            answer["items"][str(item["code"])] = {
                "terms": self.item_terms(name, conditions, [str(c) for c in item["codes"]]),
                # the department's name is no field, but residents type it too
                "vocabulary": self.vocabulary((name, conditions, str(item["department"]))),
            }
        if request.get("base"):
            answer["base"] = self.base()
        return answer


def main() -> int:
    raw = sys.stdin.buffer.read(MAX_INPUT + 1)
    if len(raw) > MAX_INPUT:
        print(f"hub.catalogue.terms: a request is at most {MAX_INPUT} bytes", file=sys.stderr)
        return 2
    try:
        answer = FullAnalyzer().analyse(orjson.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        print(f"hub.catalogue.terms: bad request: {exc!r}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(orjson.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
