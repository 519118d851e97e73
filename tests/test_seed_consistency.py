"""The hub's seed and the mocks' seed agree on account ids (they share rules, not code)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from hub.store import seed as hub_seed
from mocks.common import people
from tests.support import BackgroundMocks, LiveHub


def test_the_id_rules_agree_for_every_resident() -> None:
    for n in range(1, hub_seed.RESIDENTS + 1):
        assert hub_seed.community_of_resident(n) == people.community_of_resident(n)
        assert hub_seed.household_of_resident(n) == people.household_of_resident(n)
        assert hub_seed.library_card(n) == people.library_card(n)
        assert hub_seed.lock_uid(n) == people.lock_uid(n)
    for row in hub_seed.rows()[hub_seed.Resident]:
        n = int(row["id"][1:])
        assert people.id_number(n) == row["id_number"] == hub_seed.id_number(n)
        assert people.birth_date(n) == row["birth_date"]
        assert people.resident_name(n) == row["name"], "the registry's names are the hub's"
    for k in range(1, 501):
        assert hub_seed.children_member_nos(k) == people.children_member_nos(k)
        for i in range(1, k % 4 + 1):
            assert hub_seed.child_name(k, i) == people.child_name(k, i)
            assert hub_seed.child_birth_date(k, i) == people.child_birth_date(k, i)


@pytest.mark.parametrize("resident", ["R000001", "R000080", "R000555", "R001000"])
def test_every_residents_community_has_collection_points_in_the_garbage_service(
    hub: LiveHub, token_for: Callable[..., str], resident: str
) -> None:
    body = hub.graphql(
        "{ me { community { id collectionPoints { communityId } } } }", token=token_for(resident)
    ).json()
    community = body["data"]["me"]["community"]
    assert community["collectionPoints"], f"{community['id']} has no collection points"
    assert {p["communityId"] for p in community["collectionPoints"]} == {community["id"]}


@pytest.mark.parametrize("n", [1, 2, 4, 999])
def test_library_cards_of_the_hub_exist_in_the_library(mocks: BackgroundMocks, n: int) -> None:
    url = mocks.urls["library"]
    token = httpx.get(
        f"{url}/openlib/service/barcode/token",
        params={"appid": "ihub-dev", "secret": "dev-library-secret"},
    ).json()["token"]
    card = hub_seed.library_card(n)
    assert card is not None
    reader = httpx.get(
        f"{url}/openlib/service/reader/info", params={"token": token, "rdid": card}
    ).json()
    assert reader["success"] is True
    assert reader["reader"]["rdid"] == card


@pytest.mark.parametrize(("household", "i"), [(3, 1), (3, 3), (101, 1), (499, 3)])
def test_children_of_the_hub_are_the_youth_centers_members(
    mocks: BackgroundMocks, household: int, i: int
) -> None:
    member_no = hub_seed.children_member_nos(household)[i - 1]
    member = httpx.get(
        f"{mocks.urls['youth']}/api/v1/members/{member_no}", headers={"X-Api-Key": "dev-youth-key"}
    ).json()
    assert member["name"] == hub_seed.child_name(household, i)
    assert member["birth_date"] == hub_seed.child_birth_date(household, i).isoformat()
    assert member["guardian_resident_id"] == f"R{2 * household - 1:06d}"


@pytest.mark.parametrize("n", [1, 2, 333, 999])
def test_the_hubs_id_numbers_are_the_librarys(mocks: BackgroundMocks, n: int) -> None:
    url = mocks.urls["library"]
    token = httpx.get(
        f"{url}/openlib/service/barcode/token",
        params={"appid": "ihub-dev", "secret": "dev-library-secret"},
    ).json()["token"]
    found = httpx.get(
        f"{url}/openlib/service/reader/search",
        params={"token": token, "selecttype": "rdcertify", "queryvalue": hub_seed.id_number(n)},
    ).json()
    assert [r["rdid"] for r in found["readers"]] == [hub_seed.library_card(n)]


@pytest.mark.parametrize("n", [1, 2, 500, 1000])
def test_the_hubs_residents_are_the_registrys_persons(mocks: BackgroundMocks, n: int) -> None:
    """Over HTTP, through the cases listing every government mock serves."""
    for name in ("population", "civil", "hrss", "credentials"):
        listed = httpx.get(f"{mocks.urls[name]}/__admin/cases").json()
        assert listed["size"] == hub_seed.RESIDENTS
        graduate = listed["cases"]["graduate_bachelor"]
        k = int(graduate["resident_id"][1:])
        assert graduate["id_number"] == hub_seed.id_number(k)
    insured = httpx.get(
        f"{mocks.urls['hrss']}/hrss/api/insured",
        params={"idNo": hub_seed.id_number(n)},
        headers={"X-Api-Key": "dev-hrss-key"},
    ).json()
    assert insured["code"] in ("0000", "1004")
    if insured["code"] == "0000":
        assert insured["data"]["idNo"] == hub_seed.id_number(n)
