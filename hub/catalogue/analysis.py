"""Index terms and the query vocabulary, computed by a short-lived child process.

pypinyin (about 55 MB once imported) and jieba's full dictionary (about 68 MB once loaded)
are needed only to turn an item's name and conditions into index terms (jieba's search-mode
words with their ranges, each word's pinyin and initials, the name's Han characters, the
codes) and to know the catalogue's vocabulary (``hub.catalogue.text``). So neither lives in
the hub's workers: ``compute`` runs ``python -m hub.catalogue.terms`` (JSON over stdin and
stdout, at most ``MAX_ITEMS`` items a run, ``TIMEOUT_S`` each), and the result is stored with
the catalogue: each row's terms and vocabulary in ``catalogue_item.terms`` (with ``VERSION`` in
``terms_version``), the synonyms' vocabulary and jieba's total in ``catalogue_sync.analysis``.
The lease holder computes them for the rows it writes; a loader meeting rows without terms of
this ``VERSION`` (an older database, another version of jieba, pypinyin or the synonyms)
computes them itself. A child that fails raises ``AnalysisError`` (its stderr's last lines in
the message); the caller logs it and tries again at its next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

import orjson

from hub.catalogue.synonyms import GROUPS

if TYPE_CHECKING:  # the child imports this module: it stays light
    from connectors.catalogue.models import Item

logger = logging.getLogger("ihub.catalogue")

FORMAT = 1
"""Bump when ``hub.catalogue.terms`` computes terms or vocabularies differently."""
MAX_ITEMS = 2000
"""Items a child analyses in one run (a larger batch takes several runs)."""
MAX_TEXT = 4000
"""Characters of a name or conditions sent to the child (longer texts are cut)."""
TIMEOUT_S = 120.0
CHILD = (sys.executable, "-m", "hub.catalogue.terms")

Token = tuple[str, int, int]
Terms = dict[str, list[Token]]


def _version() -> str:
    parts = [str(FORMAT), repr(GROUPS)]
    for package in ("jieba", "pypinyin"):
        try:
            parts.append(metadata.version(package))
        except metadata.PackageNotFoundError:
            parts.append("?")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


VERSION = _version()
"""What the stored terms were computed with: this module's ``FORMAT``, jieba's and
pypinyin's versions and the synonym groups. Terms of another version are computed again."""


@dataclass(frozen=True)
class ItemAnalysis:
    """One item's index terms by field, and the words of jieba's dictionary in its texts."""

    terms: Terms
    vocabulary: Mapping[str, int]


@dataclass(frozen=True)
class Base:
    """What every query needs besides the items' words: jieba's total and the words of the
    synonyms."""

    total: int
    vocabulary: Mapping[str, int]


@dataclass(frozen=True)
class Analysis:
    items: Mapping[str, ItemAnalysis]
    base: Base | None = None


class AnalysisError(Exception):
    """The child process failed, timed out or answered something unreadable."""


def request(items: Sequence[Item], *, base: bool) -> dict[str, Any]:
    """The child's input for ``items``."""
    return {
        "base": base,
        "items": [
            {
                "code": item.impl_code,
                "name": item.name[:MAX_TEXT],
                "conditions": item.conditions[:MAX_TEXT],
                "department": item.dept_name[:MAX_TEXT],
                "codes": [item.impl_code, item.local_code, item.basic_code],
            }
            for item in items
        ],
    }


def _tokens(raw: Any) -> list[Token]:
    # interned: the same words recur across items (登记 in hundreds), and the index keeps them
    return [(sys.intern(str(term)), int(start), int(end)) for term, start, end in raw]


def item_analysis(raw: Mapping[str, Any]) -> ItemAnalysis:
    return ItemAnalysis(
        terms={name: _tokens(tokens) for name, tokens in raw["terms"].items()},
        vocabulary={str(word): int(n) for word, n in raw["vocabulary"].items()},
    )


def base_analysis(raw: Mapping[str, Any]) -> Base:
    return Base(int(raw["total"]), {str(w): int(n) for w, n in raw["vocabulary"].items()})


def encode_item(analysis: ItemAnalysis) -> str:
    return orjson.dumps({"terms": analysis.terms, "vocabulary": analysis.vocabulary}).decode()


def decode_item(text: str | None, version: str | None) -> ItemAnalysis | None:
    """A row's stored terms, if they are of this ``VERSION`` (``None`` otherwise)."""
    if text is None or version != VERSION:
        return None
    try:
        return item_analysis(orjson.loads(text))
    except (ValueError, KeyError, TypeError):
        return None


def encode_base(base: Base) -> str:
    return orjson.dumps(
        {"version": VERSION, "total": base.total, "vocabulary": base.vocabulary}
    ).decode()


def decode_base(text: str | None) -> Base | None:
    if text is None:
        return None
    try:
        raw = orjson.loads(text)
        return base_analysis(raw) if raw.get("version") == VERSION else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


async def compute(items: Sequence[Item], *, base: bool = False) -> Analysis:
    """Terms of ``items`` (and the base, if asked), from child processes run one after
    another, ``MAX_ITEMS`` items each."""
    found: dict[str, ItemAnalysis] = {}
    computed: Base | None = None
    batches = [items[i : i + MAX_ITEMS] for i in range(0, len(items), MAX_ITEMS)] or [[]]
    for n, batch in enumerate(batches):
        answer = await run_child(request(batch, base=base and n == 0))
        try:
            found.update({code: item_analysis(raw) for code, raw in answer["items"].items()})
            if answer.get("base") is not None:
                computed = base_analysis(answer["base"])
        except (KeyError, TypeError, ValueError) as exc:
            raise AnalysisError(f"the terms child answered something unreadable: {exc!r}") from exc
    missing = {item.impl_code for item in items} - set(found)
    if missing:
        raise AnalysisError(f"the terms child left out {len(missing)} items")
    if base and computed is None:
        raise AnalysisError("the terms child left out the base vocabulary")
    return Analysis(found, computed)


async def run_child(payload: Mapping[str, Any], command: Sequence[str] | None = None) -> Any:
    """Run the child (``CHILD`` unless told) on ``payload``; its JSON answer, checked for
    ``VERSION``."""
    try:
        child = await asyncio.create_subprocess_exec(
            *(command or CHILD),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise AnalysisError(f"the terms child could not start: {exc}") from exc
    try:
        out, err = await asyncio.wait_for(child.communicate(orjson.dumps(payload)), TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
        raise AnalysisError(f"the terms child took longer than {TIMEOUT_S:.0f} s") from None
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
        raise
    if child.returncode != 0:
        tail = " | ".join(err.decode(errors="replace").strip().splitlines()[-3:])
        raise AnalysisError(f"the terms child exited with {child.returncode}: {tail}")
    try:
        answer = orjson.loads(out)
    except orjson.JSONDecodeError as exc:
        raise AnalysisError(f"the terms child answered something unreadable: {exc}") from exc
    if not isinstance(answer, dict) or answer.get("version") != VERSION:
        theirs = answer.get("version") if isinstance(answer, dict) else None
        raise AnalysisError(f"the terms child is of version {theirs}, not {VERSION}")
    return answer
