"""OPAC search over the catalogue, by title, author, ISBN or keyword."""

from __future__ import annotations

from collections.abc import Iterable

from mocks.library.records import Book

SEARCH_WAYS = ("title", "author", "isbn", "keyword")
_CACHE_LIMIT = 2048


class Search:
    """Substring search in bookrecno order; results are cached per (way, query) for benchmarks."""

    def __init__(self, books: Iterable[Book]) -> None:
        self.books = sorted(books, key=lambda book: int(book.bookrecno))
        self.by_isbn = {book.isbn: book for book in self.books}
        self.text = {
            "title": [book.title.lower() for book in self.books],
            "author": [book.author.lower() for book in self.books],
            "keyword": [
                " ".join((book.title, book.author, book.publisher, *book.subjects)).lower()
                for book in self.books
            ],
        }
        self.cache: dict[tuple[str, str], list[Book]] = {}

    def find(self, way: str, query: str) -> list[Book]:
        """Every match; an empty query matches the whole catalogue."""
        key = (way, query.strip().lower())
        found = self.cache.get(key)
        if found is None:
            found = self._scan(*key)
            if len(self.cache) >= _CACHE_LIMIT:
                self.cache.clear()
            self.cache[key] = found
        return found

    def _scan(self, way: str, query: str) -> list[Book]:
        if not query:
            return self.books
        if way == "isbn":
            digits = query.replace("-", "")
            exact = self.by_isbn.get(digits)
            if exact is not None:
                return [exact]
            return [book for book in self.books if book.isbn.startswith(digits)]
        terms = query.split() if way == "keyword" else [query]
        texts = self.text[way]
        return [
            book
            for book, text in zip(self.books, texts, strict=True)
            if all(term in text for term in terms)
        ]
