"""The youth activity center end to end: courses, household applications, safe payments."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support import LiveHub, MockAdmin

MEMBER_APPS = "GET /api/v1/members/{member_no}/applications"
COURSE = "GET /api/v1/courses/{course_id}"
APPLY_CALL = "POST /api/v1/applications"
PAY_CALL = "POST /api/v1/applications/{application_id}/pay"

HOUSEHOLD = """{ me { household { members { id name age kind youthCenter {
  applications { id state waitlistNumber payDeadline course { id name schedule { weekday start } fee { yuan } } } } } } } }"""
APPLY = """mutation Apply($input: ApplyForCourseInput!) {
  applyForCourse(input: $input) { application { id state payDeadline amount { fen } course { id } } userErrors { code message field } } }"""
PAY = """mutation Pay($input: PayApplicationInput!) {
  payApplication(input: $input) { application { id state } userErrors { code message field } } }"""
CANCEL = """mutation Cancel($input: CancelApplicationInput!) {
  cancelApplication(input: $input) { application { id state } userErrors { code field } } }"""
OPEN_COURSES = """query($age: Int!) { youthCenter { courses(first: 50, filter: {status: ENROLLING, age: $age}) {
  edges { node { id mode seatsLeft fee { fen } materialFee { fen } } } } } }"""


@pytest.fixture
def youth(mocks: Any) -> Iterator[MockAdmin]:
    admin = MockAdmin(mocks.urls["youth"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


def child(hub: LiveHub, token: str, member_id: str) -> dict[str, Any]:
    members = hub.graphql(HOUSEHOLD, token=token).json()["data"]["me"]["household"]["members"]
    return next(m for m in members if m["id"] == member_id)


def offered_place(hub: LiveHub, token: str, member_id: str, key_prefix: str) -> dict[str, Any]:
    """Apply for first-come courses until one offers a place; returns the application."""
    age = child(hub, token, member_id)["age"]
    courses = hub.graphql(OPEN_COURSES, {"age": age}).json()["data"]["youthCenter"]["courses"][
        "edges"
    ]
    for number, edge in enumerate(e["node"] for e in courses):
        if edge["mode"] != "FIRST_COME" or edge["seatsLeft"] < 1:
            continue
        variables = {
            "input": {
                "memberId": member_id,
                "courseId": edge["id"],
                "idempotencyKey": f"{key_prefix}-{number}",
            }
        }
        payload = hub.graphql(APPLY, variables, token=token).json()["data"]["applyForCourse"]
        if payload["application"] and payload["application"]["state"] == "OFFERED":
            return payload["application"]
    raise AssertionError(f"no first-come course offered {member_id} a place")


def test_a_household_page_takes_one_call_per_child_and_per_distinct_course(
    start_hub: Callable[..., LiveHub], youth: MockAdmin, token_for: Callable[..., str]
) -> None:
    # given a fresh hub and household H0003 (three children, eight applications)
    hub = start_hub()
    # when the guardian opens the household page
    body = hub.graphql(HOUSEHOLD, token=token_for("R000005")).json()
    # then there is one call per child and at most one per distinct course
    members = body["data"]["me"]["household"]["members"]
    children = [m for m in members if m["kind"] == "CHILD"]
    assert [c["id"] for c in children] == ["Y00031", "Y00032", "Y00033"]
    applications = [a for c in children for a in c["youthCenter"]["applications"]]
    states = {a["state"] for a in applications}
    assert {"ENROLLED", "OFFERED", "WAITLISTED", "LOST", "WON"} <= states
    distinct_courses = {a["course"]["id"] for a in applications}
    assert youth.calls(MEMBER_APPS) == 3
    assert youth.calls(COURSE) == len(distinct_courses) < len(applications)
    assert youth.total() == 3 + len(distinct_courses), (
        "no member look-ups: names come from the roster"
    )
    # and a repeat within the TTL asks for no course again
    hub.graphql(HOUSEHOLD, token=token_for("R000005"))
    assert youth.calls(COURSE) == len(distinct_courses)
    assert youth.calls(MEMBER_APPS) == 6


def test_both_adults_see_the_children_and_others_do_not(
    hub: LiveHub, token_for: Callable[..., str]
) -> None:
    second_adult = hub.graphql(
        "{ me { household { members { id isMe } } } }", token=token_for("R000006")
    ).json()
    ids = [m["id"] for m in second_adult["data"]["me"]["household"]["members"]]
    assert ids == ["R000005", "R000006", "Y00031", "Y00032", "Y00033"]
    stranger = hub.graphql(
        '{ me { household { member(id: "Y00031") { name } } } }', token=token_for("R000007")
    ).json()
    assert stranger["errors"][0]["extensions"] == {"code": "FORBIDDEN", "field": "id"}


def test_acting_for_someone_elses_child_is_forbidden_and_reaches_no_upstream(
    hub: LiveHub, youth: MockAdmin, token_for: Callable[..., str]
) -> None:
    token = token_for("R000007")  # household H0004 has no children
    for mutation, variables in (
        (APPLY, {"memberId": "Y00031", "courseId": "YC2026A-0001", "idempotencyKey": "forbidden-apply-1"}),
        (PAY, {"memberId": "Y00031", "applicationId": "A1", "amountFen": 100, "channel": "WECHAT",
               "paymentReference": "wx-1", "idempotencyKey": "forbidden-pay-1"}),
        (CANCEL, {"memberId": "Y00032", "applicationId": "A1", "idempotencyKey": "forbidden-cancel-1"}),
    ):  # fmt: skip
        body = hub.graphql(mutation, {"input": variables}, token=token).json()
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN", "field": "memberId"}
    assert youth.total() == 0


def test_fifty_concurrent_and_fifty_sequential_payments_pay_once(
    hub: LiveHub, youth: MockAdmin, token_for: Callable[..., str]
) -> None:
    # given an offered place for a child of household H0301
    token = token_for("R000601")
    application = offered_place(hub, token, "Y03011", "pay-test-apply")
    variables = {"input": {
        "memberId": "Y03011", "applicationId": application["id"], "amountFen": application["amount"]["fen"],
        "channel": "WECHAT", "paymentReference": "wx-4200001234", "idempotencyKey": "pay-Y03011-0001",
    }}  # fmt: skip
    youth.reset()
    # when the app reports the payment 50 times at once and 50 times more
    with ThreadPoolExecutor(max_workers=25) as pool:
        concurrent = list(
            pool.map(lambda _: hub.graphql(PAY, variables, token=token).json(), range(50))
        )
    sequential = [hub.graphql(PAY, variables, token=token).json() for _ in range(50)]
    # then the youth center was paid once and every answer says ENROLLED
    assert len({json.dumps(a, sort_keys=True) for a in concurrent + sequential}) == 1
    assert concurrent[0]["data"]["payApplication"] == {
        "application": {"id": application["id"], "state": "ENROLLED"},
        "userErrors": [],
    }
    assert youth.calls(PAY_CALL) == 1


def test_fifty_concurrent_applications_apply_once(
    hub: LiveHub, youth: MockAdmin, token_for: Callable[..., str]
) -> None:
    token = token_for("R000603")
    age = child(hub, token, "Y03021")["age"]
    course = next(
        e["node"]["id"]
        for e in hub.graphql(OPEN_COURSES, {"age": age}).json()["data"]["youthCenter"]["courses"][
            "edges"
        ]
        if e["node"]["mode"] == "FIRST_COME"
    )
    variables = {
        "input": {"memberId": "Y03021", "courseId": course, "idempotencyKey": "apply-Y03021-once"}
    }
    youth.reset()
    with ThreadPoolExecutor(max_workers=25) as pool:
        answers = list(
            pool.map(lambda _: hub.graphql(APPLY, variables, token=token).json(), range(50))
        )
    assert len({json.dumps(a, sort_keys=True) for a in answers}) == 1
    assert youth.calls(APPLY_CALL) == 1


def test_refusals_wrong_amount_and_cancel(hub: LiveHub, token_for: Callable[..., str]) -> None:
    token = token_for("R000605")  # household H0303: three children
    application = offered_place(hub, token, "Y03031", "refusal-apply")
    wrong = {"input": {
        "memberId": "Y03031", "applicationId": application["id"], "amountFen": 1, "channel": "ALIPAY",
        "paymentReference": "ali-1", "idempotencyKey": "pay-wrong-amount-1",
    }}  # fmt: skip
    payload = hub.graphql(PAY, wrong, token=token).json()["data"]["payApplication"]
    assert [e["code"] for e in payload["userErrors"]] == ["AMOUNT_MISMATCH"]
    again = {
        "input": {
            "memberId": "Y03031",
            "courseId": application["course"]["id"],
            "idempotencyKey": "refusal-again-1",
        }
    }
    payload = hub.graphql(APPLY, again, token=token).json()["data"]["applyForCourse"]
    assert [e["code"] for e in payload["userErrors"]] == ["ALREADY_APPLIED"]
    cancel = {
        "input": {
            "memberId": "Y03031",
            "applicationId": application["id"],
            "idempotencyKey": "cancel-Y03031-1",
        }
    }
    payload = hub.graphql(CANCEL, cancel, token=token).json()["data"]["cancelApplication"]
    assert payload == {
        "application": {"id": application["id"], "state": "CANCELLED"},
        "userErrors": [],
    }


def test_an_application_of_another_member_is_not_found(
    hub: LiveHub, youth: MockAdmin, token_for: Callable[..., str]
) -> None:
    # Y03032's guardian names Y03032 but an application id that is not Y03032's
    foreign = child(hub, token_for("R000005"), "Y00031")["youthCenter"]["applications"][0]["id"]
    cancel = {
        "input": {
            "memberId": "Y03032",
            "applicationId": foreign,
            "idempotencyKey": "cancel-foreign-1",
        }
    }
    payload = hub.graphql(CANCEL, cancel, token=token_for("R000605")).json()["data"][
        "cancelApplication"
    ]
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
    assert youth.calls("POST /api/v1/applications/{application_id}/cancel") == 0


def test_courses_filter_and_page(hub: LiveHub) -> None:
    query = """query($after: String) { youthCenter { courses(first: 10, after: $after, filter: {category: "体育"}) {
      totalCount edges { node { id category ageMin ageMax } } pageInfo { endCursor hasNextPage } } } }"""
    first = hub.graphql(query, {"after": None}).json()["data"]["youthCenter"]["courses"]
    second = hub.graphql(query, {"after": first["pageInfo"]["endCursor"]}).json()["data"][
        "youthCenter"
    ]["courses"]
    nodes = [e["node"] for e in first["edges"] + second["edges"]]
    assert {n["category"] for n in nodes} == {"体育"}
    assert len({n["id"] for n in nodes}) == len(nodes) == 20
    assert (
        hub.graphql('{ youthCenter { course(id: "YC1999X-0000") { name } } }').json()["data"][
            "youthCenter"
        ]["course"]
        is None
    )
    bad = hub.graphql("{ youthCenter { courses(first: 0) { totalCount } } }").json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_an_unknown_course_is_a_not_found_user_error(
    hub: LiveHub, token_for: Callable[..., str]
) -> None:
    variables = {
        "input": {
            "memberId": "Y03051",
            "courseId": "YC1999X-0000",
            "idempotencyKey": "unknown-course-1",
        }
    }
    body = hub.graphql(APPLY, variables, token=token_for("R000609")).json()
    assert [e["code"] for e in body["data"]["applyForCourse"]["userErrors"]] == ["NOT_FOUND"]
