"""The government mocks' shared population: the hub's residents, invertible ids at a million,
bounded memory, and boundary cases where the 秒批 rules will need them."""

from __future__ import annotations

import tracemalloc
from datetime import date, timedelta

import pytest

from hub.store import seed as hub_seed
from mocks.common import facts
from mocks.common.population import Population, age_on

AS_OF = date(2026, 12, 3)
SEED = 20261127


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(seed=SEED, as_of=AS_OF)


def test_persons_one_to_a_thousand_are_the_hubs_residents(population: Population) -> None:
    for row in hub_seed.rows()[hub_seed.Resident]:
        person = population.person(row["id_number"])
        assert person is not None, row["id"]
        assert (person.name, person.birth_date) == (row["name"], row["birth_date"])
        assert (person.household_id, person.resident_id) == (row["household_id"], row["id"])


def test_households_hold_the_hubs_children(population: Population) -> None:
    for child in hub_seed.rows()[hub_seed.HouseholdChild]:
        members = population.household(child["household_id"])
        assert members is not None
        assert (child["name"], child["birth_date"]) in {(m.name, m.birth_date) for m in members}
    assert population.household("H0501") is None
    assert population.household("H1") is None, "ids are H and four digits or more"


def test_a_million_persons_each_found_by_id_in_little_memory() -> None:
    tracemalloc.start()
    try:
        big = Population(1_000_000, seed=SEED, as_of=AS_OF)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 2_000_000, f"{held} bytes for a million persons"
    samples = [1, 2, 999, 1000, 1001, 1002, 37_526, 500_000, 999_999, 1_000_000]
    ids = set()
    for n in samples:
        person = big.adult(n)
        assert big.person(person.id_number) == person
        assert person.household == (n + 1) // 2
        ids.add(person.id_number)
    assert len(ids) == len(samples)
    assert len({big.adult(n).id_number for n in range(1001, 41_001)}) == 40_000
    small = Population(seed=SEED, as_of=AS_OF)
    assert small.person(big.adult(5000).id_number) is None, "outside this population's size"


def test_an_id_number_changed_by_one_digit_is_unknown(population: Population) -> None:
    for n in (1, 500, 1000):
        id_number = hub_seed.id_number(n)
        other = id_number[:14] + f"{(int(id_number[14:17]) + 1) % 1000:03d}" + id_number[17]
        assert population.person(other) is None


@pytest.mark.parametrize(
    ("case", "age", "birthday_in_days"),
    [
        ("turns_70_today", 70, 0),
        ("turns_70_tomorrow", 69, 1),
        ("turns_80_today", 80, 0),
        ("turns_80_tomorrow", 79, 1),
        ("turns_90_today", 90, 0),
        ("turns_90_tomorrow", 89, 1),
        ("turns_100_today", 100, 0),
        ("turns_100_tomorrow", 99, 1),
        ("turns_70_in_two_months", 69, 61),
    ],
)
def test_the_age_boundaries(
    population: Population, case: str, age: int, birthday_in_days: int
) -> None:
    person = population.cases()[case]
    assert age_on(person.birth_date, AS_OF) == age
    birthday = AS_OF + timedelta(days=birthday_in_days)
    assert (person.birth_date.month, person.birth_date.day) == (birthday.month, birthday.day)
    assert person.alive and person.hukou_district == "440303"
    assert population.person(person.id_number) == person
    assert person.id_number[6:14] == f"{person.birth_date:%Y%m%d}"


def test_the_other_cases(population: Population) -> None:
    cases = population.cases()
    assert cases["dead_aged_85"].alive is False
    assert cases["elderly_hukou_elsewhere"].hukou_district != "440303"
    assert cases["resident_hukou_elsewhere"].hukou_district != "440303"
    for name in ("elderly_hukou_moved_last_month", "resident_hukou_moved_last_month"):
        assert 0 < (AS_OF - cases[name].hukou_since).days <= 31
    assert cases["resident_collective_hukou"].hukou_type == "集体户"
    for level in range(5):
        found = facts.care_assessment(population, cases[f"care_level_{level}"])
        assert found is not None and found[0] == level
    assert facts.care_assessment(population, cases["care_not_assessed"]) is None
    [entitled] = facts.standing_entitlements(population, cases["elderly_already_entitled"])
    assert (entitled["allowance_code"], entitled["amount_fen"]) == ("GLJT", "30000")
    assert facts.standing_entitlements(population, cases["turns_70_today"]) == []
    # the graduates are signed-in residents with this year's degrees
    for name in ("graduate_bachelor", "graduate_master", "graduate_other_name"):
        person = cases[name]
        assert person.resident_id is not None
        degree = facts.degree(population, person)
        assert degree is not None and degree.graduation_date == date(2026, 6, 30)
        assert facts.certificate(population, degree.cert_no) == degree
    other = facts.degree(population, cases["graduate_other_name"])
    assert other is not None and other.holder_name != cases["graduate_other_name"].name


def test_the_same_seed_and_day_give_the_same_population() -> None:
    a, b = Population(seed=SEED, as_of=AS_OF), Population(seed=SEED, as_of=AS_OF)
    assert a.cases() == b.cases()
    assert [a.adult(n) for n in range(1, 50)] == [b.adult(n) for n in range(1, 50)]
    view = facts.cases_view(a)
    assert view["as_of"] == "2026-12-03" and len(view["cases"]) == len(a.cases())
