"""``schema.extensions.ValidationMemo``: a document is validated once, its errors kept, and an
entry answers only the very document it was made for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import strawberry
from cachetools import LRUCache
from strawberry.extensions import ParserCache

import schema.extensions as extensions
from schema.extensions import ValidationMemo


@strawberry.type
class Query:
    greeting: str = "你好"


def validated(monkeypatch: pytest.MonkeyPatch, *, parser_cache: bool) -> list[str]:
    """The texts validated while ``{ greeting }`` and ``{ farewell }`` run three times each."""
    calls: list[str] = []
    validate = extensions.validate_document

    def counted(schema: Any, document: Any, rules: Any) -> Any:
        calls.append(document.loc.source.body)
        return validate(schema, document, rules)

    monkeypatch.setattr(extensions, "validate_document", counted)
    memo: LRUCache[Any, Any] = LRUCache(8)
    parsing = [lambda: ParserCache(maxsize=8)] if parser_cache else []
    schema = strawberry.Schema(query=Query, extensions=[*parsing, lambda: ValidationMemo(memo)])
    for _ in range(3):
        assert asyncio.run(schema.execute("{ greeting }", root_value=Query())).data == {
            "greeting": "你好"
        }
        wrong = asyncio.run(schema.execute("{ farewell }", root_value=Query()))
        assert wrong.errors and "farewell" in wrong.errors[0].message
    assert len(memo) == 2
    return calls


def test_a_document_is_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    assert validated(monkeypatch, parser_cache=True) == ["{ greeting }", "{ farewell }"]


def test_the_same_text_parsed_again_is_validated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # without the parser cache each request's document is new: the memo, keyed by the text,
    # does not answer for a document it did not see
    calls = validated(monkeypatch, parser_cache=False)
    assert calls.count("{ greeting }") == 3 and calls.count("{ farewell }") == 3
