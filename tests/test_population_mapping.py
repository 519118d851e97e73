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
