"""What the hub remembers between requests to do less per request (issue 17) stays correct.

A verified token is remembered, but never past its own ``exp``; a document's argument check is
remembered per variables, so a repeat with variables out of bounds is still refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jwt

from hub.security.auth import (
    PARTNER_SUBJECT,
    Authenticator,
    DevKeys,
    TokenVerifier,
    issue_token,
)
from hub.security.partners import PARTNER_AUDIENCE
from hub.settings import Settings
from hub.web.oauth import HUB_ISSUER
from schema.context import CallerKind
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


async def test_a_remembered_token_keeps_its_audience(tmp_path: Path) -> None:
    # given one authenticator for residents and partners, over the same signing key
    keys = DevKeys.load_or_create(tmp_path / "keys")
    defaults = Settings()
    residents = TokenVerifier(
        {keys.kid: keys.public_pem}, issuer=defaults.jwt_issuer, audience=defaults.jwt_audience
    )
    partners = TokenVerifier(
        {keys.kid: keys.public_pem},
        issuer=HUB_ISSUER,
        audience=PARTNER_AUDIENCE,
        subject=PARTNER_SUBJECT,
    )
    authenticator = Authenticator(residents, partners)
    resident = issue_token(
        keys, "R000001", issuer=defaults.jwt_issuer, audience=defaults.jwt_audience
    )
    now = int(time.time())
    claims = {"sub": "partner:ccb-window", "iss": HUB_ISSUER, "aud": PARTNER_AUDIENCE}
    partner = jwt.encode(
        {**claims, "iat": now, "exp": now + 600, "bank": "CCB"},
        keys.private_pem,
        algorithm="RS256",
        headers={"kid": keys.kid},
    )
    # when each is used twice (the second time from what its verifier remembers)
    for _ in range(2):
        as_resident = await authenticator.authenticate_header(f"Bearer {resident}")
        as_partner = await authenticator.authenticate_header(f"Bearer {partner}")
        # then each stays the caller it was, the partner with its bank
        assert (as_resident.kind, as_resident.resident_id) == (CallerKind.RESIDENT, "R000001")
        assert (as_partner.kind, as_partner.partner_id, as_partner.partner_bank) == (
            CallerKind.PARTNER,
            "ccb-window",
            "CCB",
        )
    # and only the verifier that took a token remembers it
    assert residents.remembered(partner) is None and partners.remembered(resident) is None
    assert residents.remembered(resident) is not None and partners.remembered(partner) is not None
