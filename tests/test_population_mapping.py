"""Population registry mapping on payload samples: yyyyMMdd dates, sex codes, strictness."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connectors.errors import UpstreamPayloadError
from connectors.population import mapping
from connectors.population.models import Sex
from connectors.population.signing import signature, string_to_sign


def sample(**changes: Any) -> dict[str, Any]:
    person: dict[str, Any] = {
        "id_number": "440303195612039011",
        "name": "郑国华",
        "birth_date": "19561203",
        "sex": "1",
        "hukou_district": "440303",
        "hukou_since": "19861203",
        "hukou_type": "家庭户",
        "alive": True,
        "household_id": "H0011",
        "something_new": 1,
    }
    person.update(changes)
    return person


def test_a_person_with_compact_dates_and_a_sex_code() -> None:
    person = mapping.person(sample())
    assert person.birth_date == date(1956, 12, 3)
    assert person.hukou_since == date(1986, 12, 3)
    assert person.sex is Sex.MALE
    assert mapping.person(sample(sex="2")).sex is Sex.FEMALE
    assert mapping.person(sample(alive=False)).alive is False


@pytest.mark.parametrize(
    "changes",
    [
        {"birth_date": "1956-12-03"},
        {"birth_date": "19561303"},
        {"hukou_since": None},
        {"sex": "M"},
        {"alive": "Y"},
        {"name": None},
    ],
)
def test_a_broken_person_is_a_payload_error(changes: dict[str, Any]) -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.person(sample(**changes))


def test_persons_and_households() -> None:
    assert [p.id_number for p in mapping.persons({"persons": [sample()]})] == ["440303195612039011"]
    assert mapping.persons({"persons": []}) == ()
    [household] = mapping.households(
        {
            "households": [
                {
                    "household_id": "H0011",
                    "members": [
                        {
                            "id_number": "440303195612039011",
                            "name": "郑国华",
                            "relation": "父亲",
                            "birth_date": "19561203",
                            "alive": True,
                        }
                    ],
                }
            ]
        }
    )
    assert household.members[0].relation == "父亲"
    with pytest.raises(UpstreamPayloadError):
        mapping.households({"households": [{"household_id": "H1"}]})


def test_a_person_may_carry_a_mobile() -> None:
    assert mapping.person(sample()).mobile is None
    assert mapping.person(sample(mobile="13812345678")).mobile == "13812345678"


def row(**changes: Any) -> dict[str, Any]:
    found = {k: v for k, v in sample(mobile="13812345678").items() if k != "hukou_type"}
    found.update(changes)
    return found


def test_an_export_page_becomes_columns() -> None:
    rows = [row(), row(id_number="440303200002290012", birth_date="20000229", sex="2",
                   alive=False, mobile=None)]  # fmt: skip
    page = mapping.export_page({"rows": rows, "next_cursor": "c1", "extra": 1})
    assert len(page) == 2 and page.next_cursor == "c1"
    assert page.birth_date.tolist() == [date(1956, 12, 3), date(2000, 2, 29)]
    assert page.hukou_since.tolist() == [date(1986, 12, 3)] * 2
    assert page.sex.tolist() == [Sex.MALE.value, Sex.FEMALE.value]
    assert page.alive.tolist() == [True, False]
    assert page.mobile.tolist() == ["13812345678", ""]
    assert page.id_number.tolist() == ["440303195612039011", "440303200002290012"]
    empty = mapping.export_page({"rows": [], "next_cursor": None})
    assert len(empty) == 0 and empty.next_cursor is None
    assert empty.birth_date.dtype == page.birth_date.dtype


@pytest.mark.parametrize(
    "changes",
    [
        {"birth_date": "19561303"},
        {"birth_date": "19570229"},
        {"birth_date": "19561200"},
        {"birth_date": "1956-12-3"},
        {"birth_date": 19561203},
        {"hukou_since": None},
        {"sex": "M"},
        {"alive": 1},
        {"name": 7},
        {"id_number": None},
    ],
)
def test_a_broken_export_row_fails_the_page(changes: dict[str, Any]) -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.export_page({"rows": [row(), row(**changes)], "next_cursor": None})


@pytest.mark.parametrize(
    "payload",
    [
        {"next_cursor": None},
        {"rows": {}, "next_cursor": None},
        {"rows": [[1]], "next_cursor": None},
        {"rows": ["x"], "next_cursor": None},
        {"rows": [{"id_number": "1"}], "next_cursor": None},
        {"rows": [], "next_cursor": 5},
        [],
    ],
)
def test_a_broken_export_page_is_a_payload_error(payload: Any) -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.export_page(payload)


def test_refusal_codes() -> None:
    assert mapping.refusal_code(b'{"code":"E_PURPOSE","message":"x"}') == "E_PURPOSE"
    assert mapping.refusal_code(b"<html>") is None
    assert mapping.refusal_code(b"[1]") is None


def test_the_signed_text_and_signature_are_the_documented_ones() -> None:
    text = string_to_sign("app", 1700000000000, "n1", "post", "/p", b"{}")
    assert text == (
        "app\n1700000000000\nn1\nPOST\n/p\n"
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )
    assert len(signature("secret", text)) == 64
    assert signature("secret", text) != signature("other", text)
