"""Chinese text the way the catalogue's search cuts it: jieba's search-mode words, and queries.

``Analyzer`` cuts text with a jieba ``Tokenizer`` and turns a query into the terms to look for.
The hub's workers give it a tokenizer whose dictionary is the catalogue's vocabulary
(``vocabulary_tokenizer``), not jieba's full one (68 MB loaded): only words that can match
indexed terms matter to a query. The vocabulary is every word of jieba's dictionary that occurs
in an indexed text or a synonym (``hub.catalogue.terms.vocabulary``: the words of each text's
DAG, single characters included), each with its frequency from the full dictionary, and the full
dictionary's total. For any text made of those texts' substrings, that tokenizer builds the same
DAG, takes the same route, asks the HMM about the same runs of characters and keeps the same
search-mode 2- and 3-grams as the full dictionary: the same words. A query with a word of the
full dictionary found in no indexed text may be cut differently, but every word such a cut
loses or gains is one no indexed term has (see README, "The catalogue copy").

``hub.catalogue.terms`` (the child process that computes index terms) uses the same class with
jieba's full dictionary.
"""

from __future__ import annotations

import functools
import logging
import threading
import unicodedata
from collections.abc import Mapping

import jieba

from hub.catalogue.synonyms import by_word

CHARS = "name_chars"
PREFIX = "name_py_prefix"
"""Not a field: the pinyin typed so far, matched against the start of ``name_py`` terms."""
MIN_PREFIX = 2

logging.getLogger("jieba").setLevel(logging.WARNING)


def han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().strip()


def vocabulary_tokenizer(vocabulary: Mapping[str, int], total: int) -> jieba.Tokenizer:
    """A jieba tokenizer whose dictionary is ``vocabulary`` (word → frequency), built the way
    jieba builds its own (``Tokenizer.gen_pfdict``: every prefix of a word is a key, with
    frequency 0 unless it is a word itself), ``total`` being the full dictionary's."""
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ = {}
    tokenizer.total = total
    tokenizer.initialized = True  # never load jieba's own dictionary
    add_words(tokenizer.FREQ, vocabulary)
    return tokenizer


def add_words(freq: dict[str, int], vocabulary: Mapping[str, int]) -> None:
    for word, count in vocabulary.items():
        freq[word] = count
        for end in range(1, len(word)):
            freq.setdefault(word[:end], 0)


class Analyzer:
    """Text → jieba's search-mode words with their ranges; a query → the terms to look for."""

    def __init__(
        self,
        tokenizer: jieba.Tokenizer,
        synonyms: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._jieba = tokenizer
        self._synonyms = by_word() if synonyms is None else synonyms
        self._learning = threading.Lock()
        # names share their words, and a restart or a change batch meets the same texts again
        self.words = functools.lru_cache(maxsize=20_000)(self._words)  # type: ignore[method-assign]

    @property
    def tokenizer(self) -> jieba.Tokenizer:
        return self._jieba

    def learn(self, vocabulary: Mapping[str, int], total: int | None = None) -> None:
        """Add words (and their frequencies) to the tokenizer's dictionary: words it did not
        know may cut a text differently, so what was cut before is forgotten."""
        with self._learning:
            freq = self._jieba.FREQ
            fresh = {w: n for w, n in vocabulary.items() if freq.get(w) != n}
            if not fresh and (total is None or total == self._jieba.total):
                return
            updated = dict(freq)  # swapped whole: a search on another thread sees one or other
            add_words(updated, fresh)
            self._jieba.FREQ = updated
            if total is not None:
                self._jieba.total = total
            self.words.cache_clear()  # type: ignore[attr-defined]

    def vocabulary_size(self) -> int:
        """Words in the tokenizer's dictionary (prefixes of words not counted)."""
        return sum(1 for count in self._jieba.FREQ.values() if count)

    def words(self, text: str) -> tuple[tuple[str, int, int], ...]:
        """jieba's search-mode words of ``text`` (lower case) with their character ranges."""
        return self._words(text)

    def _words(self, text: str) -> tuple[tuple[str, int, int], ...]:
        return tuple(
            (word.lower(), start, end)
            for word, start, end in self._jieba.tokenize(text, mode="search")
            if word.strip() and any(ch.isalnum() for ch in word)
        )

    def query_parts(self, text: str) -> list[dict[str, set[str]]]:
        """Per space-separated part: the terms to look for, by field."""
        parts = []
        for part in normalise(text).split():
            terms: dict[str, set[str]] = {"codes": {part}}
            if part.isascii():
                if part.isalpha():
                    terms["name_py"] = {part}
                if part.isalpha() and len(part) >= MIN_PREFIX:
                    terms[PREFIX] = {part}  # typed so far: gongj finds gongjijin
            else:
                words = {word for word, _, _ in self.words(part)} | {part}
                for word in list(words):
                    for other in self._synonyms.get(word, ()):
                        words |= {w for w, _, _ in self.words(other)} | {other}
                terms["name"] = terms["conditions"] = words
            parts.append(terms)
        return parts

    def query_chars(self, text: str) -> set[str]:
        return {ch for ch in normalise(text) if han(ch)}
