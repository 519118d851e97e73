"""The workers' search path against the analysis it replaced, over the seed catalogue.

Old: every term and every query cut by jieba's full dictionary and pypinyin in-process
(``hub.catalogue.terms.FullAnalyzer``, the analyzer as it was). New: the terms and vocabularies
the child process computes (``python -m hub.catalogue.terms``, run for real), queries cut by a
tokenizer whose dictionary is only the catalogue's vocabulary. For a broad set of queries —
every item's name, its words, their pinyin and initials, prefixes of names and of pinyin, the
synonyms, single characters, mixed and space-separated queries, codes — both answer the same
codes in the same order with the same scores and highlights.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest

from connectors.catalogue.mapping import item as parse_item
from connectors.catalogue.models import Item
from hub.catalogue import analysis
from hub.catalogue.index import SearchIndex
from hub.catalogue.synonyms import GROUPS
from hub.catalogue.terms import FullAnalyzer
from hub.catalogue.text import Analyzer, vocabulary_tokenizer
from mocks.catalogue.items import build_items
from mocks.common.launcher import MockConfig


@pytest.fixture(scope="module")
def items() -> list[Item]:
    return [parse_item(record) for record in build_items(MockConfig().seed)]


@pytest.fixture(scope="module")
def full(items: list[Item]) -> FullAnalyzer:
    analyzer = FullAnalyzer()
    analyzer.warm()
    return analyzer


@pytest.fixture(scope="module")
def computed(items: list[Item]) -> analysis.Analysis:
    return asyncio.run(analysis.compute(items, base=True))


@pytest.fixture(scope="module")
def old(items: list[Item], full: FullAnalyzer) -> SearchIndex:
    index = SearchIndex(full)
    index.replace(
        (item, full.item_terms(item.name, item.conditions, codes(item))) for item in items
    )
    return index


@pytest.fixture(scope="module")
def new(items: list[Item], computed: analysis.Analysis) -> SearchIndex:
    assert computed.base is not None
    vocabulary = dict(computed.base.vocabulary)
    for found in computed.items.values():
        vocabulary.update(found.vocabulary)
    index = SearchIndex(Analyzer(vocabulary_tokenizer(vocabulary, computed.base.total)))
    index.replace((item, computed.items[item.impl_code].terms) for item in items)
    return index


def codes(item: Item) -> list[str]:
    return [item.impl_code, item.local_code, item.basic_code]


def queries(items: list[Item], full: FullAnalyzer) -> Iterator[str]:
    synonyms = [word for group in GROUPS for word in group]
    yield from synonyms
    yield from (f"{a} {b}" for a, b in itertools.pairwise(synonyms))
    for n, item in enumerate(items):
        name = item.name
        words = [word for word, _, _ in full.words(name)]
        spelled = [s for word in words if (s := full.pinyin(word)) is not None]
        yield name
        yield from words
        yield from name  # single characters
        yield from (name[:end] for end in range(2, len(name)))  # typed so far
        if n % 3 == 0:
            yield from (name[start:] for start in range(1, len(name) - 1))
        for whole, initials in spelled:
            yield whole
            yield initials
            yield whole[: max(2, len(whole) // 2)]
        yield from codes(item)
        yield item.local_code.lower()
        if len(words) > 1:
            yield " ".join(words)
            yield words[0] + (spelled[-1][1] if spelled else "")
        if n % 5 == 0:  # mixed: a name inside what a resident types, conditions' words
            yield f"我要办{name}"
            yield f"{name}需要什么材料"
            yield f"{name} {spelled[0][0] if spelled else 'gjj'}"
            yield item.conditions[:12]
            yield item.dept_name


def test_the_same_terms_from_the_child(
    items: list[Item], full: FullAnalyzer, computed: analysis.Analysis
) -> None:
    for item in items:
        expected = full.item_terms(item.name, item.conditions, codes(item))
        assert computed.items[item.impl_code].terms == expected, item.name


def test_the_same_answers_for_every_query(
    items: list[Item],
    full: FullAnalyzer,
    computed: analysis.Analysis,
    old: SearchIndex,
    new: SearchIndex,
) -> None:
    asked = list(dict.fromkeys(queries(items, full)))
    assert len(asked) > 15_000
    vocabulary = set(computed.base.vocabulary if computed.base else ())
    for found in computed.items.values():
        vocabulary |= set(found.vocabulary)
    # both indexes hold the same terms (above), so a query both analyzers turn into the same
    # terms gets the same answer; the answers themselves are compared for a quarter of the
    # queries and for every query whose terms differ
    old_analyzer, new_analyzer = old.analyzer, new.analyzer
    differ = [
        q
        for q in asked
        if old_analyzer.query_parts(q) != new_analyzer.query_parts(q)
        or old_analyzer.query_chars(q) != new_analyzer.query_chars(q)
    ]
    compared = [q for n, q in enumerate(asked) if n % 4 == 0 or q in differ]
    answered = {q: (old.search(q), new.search(q)) for q in compared}
    changed = [q for q, (before, after) in answered.items() if before != after]
    assert set(changed) <= set(differ), "the same terms and a different answer"
    assert sum(1 for before, _ in answered.values() if before) > 0.9 * len(answered)
    # the only queries cut differently hold a word of jieba's full dictionary that no indexed
    # text has (我要办法人… : 办法; the workers' cut finds 法人 there, the full one did not)
    assert differ == [q for q in differ if set(full.vocabulary([q])) - vocabulary]
    assert differ == [
        "我要办法人机构注销登记",
        "我要办公章刻制业特种行业许可延续",
        "我要办公证核准",
    ]
