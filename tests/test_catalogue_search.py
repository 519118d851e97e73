"""Searching the catalogue copy the way residents type, on SQLite and PostgreSQL.

One copy per database is filled from a live catalogue mock for the whole module; every search
is answered from the hub's own index (the mock counts no call while they run).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from connectors.catalogue.models import Channel
from hub.catalogue import CatalogueCopy
from mocks.common.launcher import MockConfig
from schema.context import Highlight, ItemFilter, ItemResults
from tests.catalogue_copies import DATABASES, SPEC, TOTAL, copy_of, engine_for
from tests.support import BackgroundMocks, MockAdmin

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockAdmin]:
    mocks = BackgroundMocks((SPEC,), MockConfig(state_dir=tmp_path_factory.mktemp("catalogue")))
    yield MockAdmin(mocks.urls["catalogue"])
    mocks.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=DATABASES)
async def copy(
    request: pytest.FixtureRequest,
    catalogue: MockAdmin,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[CatalogueCopy]:
    folder: Path = tmp_path_factory.mktemp("search-db")
    engines = engine_for(request.param, folder)
    engine = next(engines)
    async with copy_of(catalogue, engine) as filled:
        assert await filled.refresh() == "full"
        catalogue.reset()
        yield filled
        assert catalogue.total() == 0, "searches never call the catalogue"
    next(engines, None)


async def search(copy: CatalogueCopy, query: str, **where: object) -> ItemResults:
    return await copy.items(ItemFilter(query=query, **where), offset=0, limit=20)  # type: ignore[arg-type]


def name_ranges(highlights: tuple[Highlight, ...]) -> tuple[tuple[int, int], ...]:
    return next((h.ranges for h in highlights if h.field == "name"), ())


def marked(highlight: Highlight) -> list[str]:
    return [highlight.text[start:end] for start, end in highlight.ranges]


async def test_a_word_inside_a_name(copy: CatalogueCopy) -> None:
    # 公积金 is inside 住房公积金提取 (and, by the synonyms, 公积金 = 住房公积金)
    found = await search(copy, "公积金")
    first = found.hits[0]
    assert first.item.name == "住房公积金提取"
    assert name_ranges(first.highlights) == ((0, 5),)  # 住房公积金
    assert all("公积金" in hit.item.name or "公积金" in hit.item.conditions for hit in found.hits)
    scores = [hit.score or 0.0 for hit in found.hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("typed", ["gjj", "gongjijin", "GJJ", "ｇｊｊ"])
async def test_pinyin_initials_and_full_pinyin(copy: CatalogueCopy, typed: str) -> None:
    found = await search(copy, typed)
    first = found.hits[0]
    assert first.item.name == "住房公积金提取"
    assert name_ranges(first.highlights) == ((2, 5),)  # 公积金
    assert all("公积金" in marked(h) for hit in found.hits for h in hit.highlights)


async def test_pinyin_as_typed_so_far(copy: CatalogueCopy) -> None:
    # a resident halfway through typing gongjijin
    found = await search(copy, "gongj")
    assert "公积金" in found.hits[0].item.name
    assert name_ranges(found.hits[0].highlights) == ((2, 5),)
    # a whole word's pinyin ranks above the start of one
    whole = await search(copy, "gongjijin")
    assert whole.hits[0].score is not None and found.hits[0].score is not None
    assert whole.hits[0].score > found.hits[0].score


async def test_a_synonym_finds_the_catalogues_word(copy: CatalogueCopy) -> None:
    found = await search(copy, "社保")
    first = found.hits[0]
    assert first.item.name == "社会保险参保登记"
    assert name_ranges(first.highlights) == ((0, 4),)  # 社会保险
    assert all("社会保险" in hit.item.name for hit in found.hits[:10])
    medical = await search(copy, "医保")
    assert all("医疗保险" in marked(h) for h in medical.hits[0].highlights if h.field == "name")


async def test_more_words_rank_the_closer_name_first(copy: CatalogueCopy) -> None:
    found = await search(copy, "公积金提取")
    assert found.hits[0].item.name == "住房公积金提取"
    assert name_ranges(found.hits[0].highlights) == ((0, 7),)
    # words separated by a space must all match
    both = await search(copy, "公积金 提取")
    assert both.total > 0
    assert all("提取" in hit.item.name for hit in both.hits)


async def test_conditions_are_highlighted_when_they_match(copy: CatalogueCopy) -> None:
    first = (await search(copy, "住房公积金提取")).hits[0]
    conditions = next(h for h in first.highlights if h.field == "conditions")
    assert conditions.text == first.item.conditions
    assert "住房公积金提取" in marked(conditions)


async def test_filters_combine_with_the_query(copy: CatalogueCopy) -> None:
    everything = await search(copy, "公积金")
    at_banks = await search(copy, "公积金", channel=Channel.BANK)
    assert 0 < at_banks.total < everything.total
    assert all(Channel.BANK in hit.item.channels for hit in at_banks.hits)
    housing = await search(copy, "公积金", life_stage="housing")
    assert housing.total > 0
    assert all("housing" in hit.item.life_stages for hit in housing.hits)
    dept = at_banks.hits[0].item.dept_code
    by_dept = await search(copy, "gjj", department=dept, instant=False)
    assert (
        all(hit.item.dept_code == dept and not hit.item.instant for hit in by_dept.hits)
        and by_dept.total > 0
    )


async def test_a_window_of_the_ranking(copy: CatalogueCopy) -> None:
    whole = await copy.items(ItemFilter(query="登记"), offset=0, limit=TOTAL)
    window = await copy.items(ItemFilter(query="登记"), offset=5, limit=5)
    assert window.total == whole.total
    assert [h.item.impl_code for h in window.hits] == [h.item.impl_code for h in whole.hits[5:10]]


async def test_a_single_character_and_nothing_at_all(copy: CatalogueCopy) -> None:
    single = await search(copy, "证")
    assert single.total > 0 and all("证" in hit.item.name for hit in single.hits)
    assert (await search(copy, "xyzzy")).total == 0
    # a blank query is a browse, in catalogue order
    browse = await copy.items(ItemFilter(query="  "), offset=0, limit=3)
    assert browse.total == TOTAL and all(hit.score is None for hit in browse.hits)
