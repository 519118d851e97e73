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
