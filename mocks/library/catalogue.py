"""Deterministic catalogue: 8,000 titles and 15,000 copies across Luohu's library branches."""

from __future__ import annotations

import random
from dataclasses import dataclass

from mocks.library import words as w
from mocks.library.records import AVAILABLE, LOST, MISSING, Book, Item

BOOKS = 8000
COPIES = 15000
FIRST_BOOKRECNO = 500001
FIRST_BARCODE = 100001

LIBRARIES = (
    "罗湖区图书馆总馆",
    "罗湖区图书馆东门分馆",
    "罗湖区图书馆翠竹分馆",
    "罗湖区图书馆莲塘分馆",
    "罗湖区图书馆清水河分馆",
    "罗湖区图书馆黄贝分馆",
)
LIBRARY_WEIGHTS = (5, 2, 2, 1, 1, 1)
STACKS = "密集书库"


@dataclass(frozen=True)
class Category:
    """A shelf of the collection: classification, subjects, how titles are made, where it stands."""

    clc: str
    subjects: tuple[str, ...]
    kind: str
    publishers: tuple[int, ...]
    location: str
    weight: int


CATEGORIES = (
    Category("I247.5", ("文学", "小说"), "novel", (0, 1, 13, 4), "中文图书借阅区", 14),
    Category("I712.45", ("文学", "外国小说"), "foreign", (2, 3, 0), "中文图书借阅区", 8),
    Category("I266", ("文学", "散文"), "essay", (0, 1, 7, 13), "中文图书借阅区", 6),
    Category("I227", ("文学", "诗歌"), "poetry", (0, 1, 13), "中文图书借阅区", 2),
    Category("K20", ("历史",), "history", (6, 7, 5, 14), "中文图书借阅区", 8),
    Category("TP3", ("计算机", "编程"), "computing", (8, 9, 10, 11), "中文图书借阅区", 8),
    Category("F27", ("经济", "管理"), "economics", (4, 8, 18), "中文图书借阅区", 7),
    Category("B84", ("心理学",), "psychology", (4, 5, 18), "中文图书借阅区", 5),
    Category("J2", ("艺术",), "arts", (7, 14, 13), "中文图书借阅区", 5),
    Category("N49", ("科普", "自然科学"), "science", (17, 4, 2), "中文图书借阅区", 7),
    Category("TS97", ("生活",), "living", (12, 14, 4), "中文图书借阅区", 6),
    Category("R161", ("健康", "医学"), "health", (19, 12), "中文图书借阅区", 4),
    Category("I287", ("少儿", "绘本"), "children", (15, 16), "少儿借阅区", 14),
    Category("K296.53", ("地方文献", "深圳"), "local", (12, 14), "地方文献室", 2),
)


def isbn13(body12: str) -> str:
    """Append the ISBN-13 check digit to twelve digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(w.GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(w.SURNAMES) + given


def _author(rng: random.Random, kind: str) -> str:
    if kind == "foreign":
        if rng.random() < 0.2:
            return rng.choice(w.JAPANESE)
        given, family = rng.choice(w.FOREIGN_GIVEN), rng.choice(w.FOREIGN_FAMILY)
        return f"{rng.choice(w.NATIONS)} {given}·{family}"
    return person_name(rng)


def _title(rng: random.Random, kind: str) -> str:
    if kind in ("novel", "foreign"):
        return rng.choice(
            (
                f"{rng.choice(w.ADJECTIVES)}{rng.choice(w.NOUNS)}",
                f"{rng.choice(w.NOUNS)}与{rng.choice(w.NOUNS)}",
                f"{rng.choice(w.NOUNS)}的{rng.choice(w.NOUNS)}",
                f"{rng.choice(w.PLACES)}{rng.choice(w.NOUNS)}",
            )
        )
    if kind in ("essay", "poetry"):
        noun = rng.choice(w.NOUNS)
        return f"{rng.choice(w.PLACES)}{noun}{'集' if kind == 'poetry' else '记'}"
    if kind == "children":
        return f"{rng.choice(w.ANIMALS)}{rng.choice(w.ACTIONS)}{rng.choice(w.SERIES)}"
    topic, suffix = rng.choice(w.TOPICS[kind]), rng.choice(w.SUFFIXES)
    title = f"图解{topic}" if suffix == "图解" else f"{topic}{suffix}"
    return f"{rng.choice(w.AUDIENCES)}{title}{rng.choice(w.EDITIONS)}"


def _isbn(rng: random.Random, publisher_code: str, taken: set[str]) -> str:
    digits = 12 - 4 - len(publisher_code)
    while True:
        isbn = isbn13(f"9787{publisher_code}{rng.randrange(10**digits):0{digits}d}")
        if isbn not in taken:
            taken.add(isbn)
            return isbn


def build_books(rng: random.Random) -> list[Book]:
    """``BOOKS`` records, bookrecnos ``"500001"`` upwards."""
    taken: set[str] = set()
    categories = rng.choices(CATEGORIES, [c.weight for c in CATEGORIES], k=BOOKS)
    books = []
    for n, category in enumerate(categories):
        name, code = w.PUBLISHERS[rng.choice(category.publishers)]
        isbn = _isbn(rng, code, taken)
        books.append(
            Book(
                bookrecno=str(FIRST_BOOKRECNO + n),
                isbn=isbn,
                title=_title(rng, category.kind),
                author=_author(rng, category.kind),
                publisher=name,
                pubyear=str(rng.randint(1985, 2025)),
                subjects=category.subjects,
                # Some records were catalogued without a cover image; the field is then "".
                cover="" if rng.random() < 0.15 else f"https://opac.lhlib.example/cover/{isbn}.jpg",
                callno=f"{category.clc}/{rng.randint(1, 999)}",
            )
        )
    return books


def _location(book: Book, rng: random.Random) -> str:
    category = next(c for c in CATEGORIES if c.subjects == book.subjects)
    if int(book.pubyear) < 2000 and rng.random() < 0.5:
        return STACKS
    return category.location


def build_items(rng: random.Random, books: list[Book]) -> list[Item]:
    """``COPIES`` copies, at least one per book, barcodes ``"04400"`` + 7 digits, a few lost."""
    owners = list(books) + rng.choices(books, k=COPIES - len(books))
    owners.sort(key=lambda book: book.bookrecno)
    libs = rng.choices(LIBRARIES, LIBRARY_WEIGHTS, k=COPIES)
    items = []
    for n, (book, lib) in enumerate(zip(owners, libs, strict=True)):
        roll = rng.random()
        status = LOST if roll < 0.01 else MISSING if roll < 0.015 else AVAILABLE
        items.append(
            Item(
                barcode=f"04400{FIRST_BARCODE + n:07d}",
                bookrecno=book.bookrecno,
                callno=book.callno,
                lib=lib,
                location=_location(book, rng),
                circstatus=status,
            )
        )
    return items
