"""The catalogue's search index: Chinese the way residents type it, ranked, with highlights.

Each item's name (and conditions) is cut by jieba in search mode, which gives the words inside
words too (住房公积金 → 住房, 公积, 公积金, 住房公积金); each word with a Han character also
gets its full pinyin (``gongjijin``) and initials (``gjj``) from pypinyin. Those terms, with
the character range of the word they came from, go into tantivy as pre-tokenized text, so
tantivy ranks (BM25) and jieba and pypinyin alone decide what a word is. The terms are computed
outside the hub's workers (``hub.catalogue.analysis``) and handed to ``replace`` with each item.
A query is cut the same way (``hub.catalogue.text.Analyzer``, with the catalogue's vocabulary),
each word widened by the checked-in synonyms (``synonyms.GROUPS``); ASCII letters are pinyin, so
``gjj`` and ``gongjijin`` find 公积金, and so does ``gongj`` (the start of a word's pinyin, as
typed so far, at a small constant score). Words of one query part are alternatives; parts
separated by spaces must all match. A query no word matches falls back to single characters (a
resident typing 证).

Highlights are the ranges of the item's own words whose terms the query asked for, merged.
The index lives in memory, built from the database copy at start and updated per change batch
(``replace``, blocking: run it in a thread). Searches may run while an update does.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import tantivy

from connectors.catalogue.models import Item
from hub.catalogue.analysis import Terms
from hub.catalogue.text import CHARS, PREFIX, Analyzer, vocabulary_tokenizer
from schema.context import Highlight

Span = tuple[int, int]
# field → boost; the pinyin of the name counts a little less than its characters
BOOSTS: Mapping[str, float] = {"name": 3.0, "name_py": 2.0, "conditions": 0.5, "codes": 5.0}
TEXT_FIELDS: Mapping[str, str] = {"name": "name", "name_py": "name", "conditions": "conditions"}
PREFIX_SCORE = 0.5
WRITER_HEAP = 15_000_000
"""tantivy's smallest indexing heap for one thread (``MEMORY_BUDGET_NUM_BYTES_MIN``)."""


@functools.cache
def shared_analyzer() -> Analyzer:
    """One query analyzer per process (made at first use), its dictionary the vocabulary of
    every copy in it (``Analyzer.learn``): its caches serve them all."""
    return Analyzer(vocabulary_tokenizer({}, 1))


@dataclass(frozen=True)
class Match:
    """One item a search found: its code, tantivy's score and where it matched."""

    code: str
    score: float
    highlights: tuple[Highlight, ...] = field(default=())


class SearchIndex:
    """An in-memory tantivy index of the catalogue's active items."""

    def __init__(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("code", stored=True, tokenizer_name="raw")
        for name in (*BOOSTS, CHARS):
            builder.add_text_field(name, tokenizer_name="raw", index_option="freq")
        self._schema = builder.build()
        self._index = tantivy.Index(self._schema)
        # kept open: a writer per batch measured 2-6 MB more resident (a heap each time)
        self._writer = self._index.writer(WRITER_HEAP, 1)
        self._terms: dict[str, dict[str, list[tuple[str, int, int]]]] = {}
        self._texts: dict[str, Mapping[str, str]] = {}
        self._lock = threading.Lock()

    @property
    def analyzer(self) -> Analyzer:
        return self._analyzer

    def __len__(self) -> int:
        return len(self._terms)

    def replace(self, upserts: Iterable[tuple[Item, Terms]], removals: Iterable[str] = ()) -> None:
        """Index ``upserts`` (each item with its terms, replacing what the index had of
        them), drop ``removals``."""
        with self._lock:
            writer = self._writer
            for code in removals:
                writer.delete_documents_by_term("code", code)
                self._terms.pop(code, None)
                self._texts.pop(code, None)
            for item, terms in upserts:
                writer.delete_documents_by_term("code", item.impl_code)
                document = tantivy.Document()
                document.add_text("code", item.impl_code)
                for name, tokens in terms.items():
                    text = " ".join(term for term, _, _ in tokens)
                    document.add_pre_tokenized_text(
                        name,
                        tantivy.PreTokenizedString(
                            text,
                            [tantivy.Token(term, n, s, e) for n, (term, s, e) in enumerate(tokens)],
                        ),
                    )
                writer.add_document(document)
                self._terms[item.impl_code] = terms
                self._texts[item.impl_code] = {"name": item.name, "conditions": item.conditions}
            writer.commit()
            self._index.reload()

    def search(self, text: str) -> list[Match]:
        """Every active item ``text`` matches, best first."""
        parts = self._analyzer.query_parts(text)
        if not parts:
            return []
        matches = self._run(self._words_query(parts), parts)
        if not matches:
            chars = self._analyzer.query_chars(text)
            if chars:
                matches = self._run(self._chars_query(chars), [{CHARS: chars}])
        return matches

    def _term(self, name: str, value: str) -> tantivy.Query:
        if name == PREFIX:  # a constant, small score: a whole syllable match ranks first
            pattern = tantivy.Query.regex_query(self._schema, "name_py", re.escape(value) + ".*")
            return tantivy.Query.const_score_query(pattern, PREFIX_SCORE)
        query = tantivy.Query.term_query(self._schema, name, value)
        return tantivy.Query.boost_query(query, BOOSTS.get(name, 1.0))

    def _words_query(self, parts: Sequence[Mapping[str, set[str]]]) -> tantivy.Query:
        musts = []
        for terms in parts:
            should = [
                (tantivy.Occur.Should, self._term(name, value))
                for name, values in terms.items()
                for value in sorted(values)
            ]
            musts.append((tantivy.Occur.Must, tantivy.Query.boolean_query(should)))
        return tantivy.Query.boolean_query(musts)

    def _chars_query(self, chars: set[str]) -> tantivy.Query:
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, self._term(CHARS, ch)) for ch in sorted(chars)]
        )

    def _run(self, query: tantivy.Query, parts: Sequence[Mapping[str, set[str]]]) -> list[Match]:
        searcher = self._index.searcher()
        limit = max(1, searcher.num_docs)
        found = searcher.search(query, limit, count=False).hits
        wanted: dict[str, set[str]] = {}
        for terms in parts:
            for name, values in terms.items():
                wanted.setdefault(name, set()).update(values)
        matches = []
        for score, address in found:
            code = searcher.doc(address).get_first("code")
            if code is None or code not in self._terms:
                continue
            matches.append(Match(str(code), float(score), self._highlights(str(code), wanted)))
        return matches

    def _highlights(self, code: str, wanted: Mapping[str, set[str]]) -> tuple[Highlight, ...]:
        terms, texts = self._terms.get(code, {}), self._texts.get(code, {})
        spans: dict[str, list[Span]] = {}
        prefixes = tuple(wanted.get(PREFIX, ()))
        for name, tokens in terms.items():
            target = TEXT_FIELDS.get(name, "name" if name == CHARS else None)
            values = wanted.get(name, set())
            starts = prefixes if name == "name_py" else ()
            if target is None or not (values or starts):
                continue
            spans.setdefault(target, []).extend(
                (s, e) for t, s, e in tokens if t in values or (starts and t.startswith(starts))
            )
        return tuple(
            Highlight(target, texts[target], merge(found))
            for target in ("name", "conditions")
            if (found := spans.get(target))
        )


def merge(spans: Iterable[Span]) -> tuple[Span, ...]:
    """Sorted, with overlapping and touching ranges joined."""
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return tuple((start, end) for start, end in out)
