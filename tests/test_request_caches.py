"""What the hub remembers between requests to do less per request (issue 17) stays correct.

A verified token is remembered, but never past its own ``exp``; a document's argument check is
remembered per variables, so a repeat with variables out of bounds is still refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from hub.security.auth import DevKeys, issue_token
from hub.settings import Settings
from tests.support import LiveHub

ME = "query MyName { me { name } }"
PAGE = "query Page($first: Int!) { youthCenter { courses(first: $first) { totalCount } } }"


def test_a_remembered_token_is_refused_once_it_expires(
    start_hub: Callable[..., LiveHub], var_dir: Path
) -> None:
    # given a hub without clock leeway and a token that lives two seconds
    hub = start_hub(jwt_leeway_s=0.0)
    defaults = Settings()
    keys = DevKeys.load_or_create(var_dir / "keys")
    token = issue_token(
        keys, "R000001", issuer=defaults.jwt_issuer, audience=defaults.jwt_audience, ttl_s=2
    )
    # when it is used while valid, twice (the second from what the hub remembers)
    for _ in range(2):
        body = hub.graphql(ME, token=token).json()
        assert body["data"]["me"]["name"], body
    # then, past its exp, the same token is refused
    deadline = time.monotonic() + 20
    while True:
        body = hub.graphql(ME, token=token).json()
        if body.get("errors"):
            break
        assert time.monotonic() < deadline, "the token was still accepted after it expired"
        time.sleep(0.1)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


def test_the_argument_check_is_remembered_per_variables(hub: LiveHub) -> None:
    for _ in range(2):
        fine = hub.graphql(PAGE, {"first": 10}).json()
        assert fine["data"]["youthCenter"]["courses"]["totalCount"] > 0, fine
        refused = hub.graphql(PAGE, {"first": 500}).json()
        assert refused.get("data") is None
        assert [e["extensions"] for e in refused["errors"]] == [
            {"code": "BAD_USER_INPUT", "field": "first"}
        ]
