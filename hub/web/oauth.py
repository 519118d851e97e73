"""``POST /oauth/token``: OAuth 2.0 client credentials for partners (RFC 6749 §4.4).

Client authentication by HTTP Basic or ``client_id``/``client_secret`` form fields; errors
are the RFC's JSON (``invalid_client`` 401, ``unsupported_grant_type`` / ``invalid_request``
400); answers are never cached.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.security.partners import PartnerRegistry

HUB_ISSUER = "ihub"
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _error(code: str, status: int, description: str) -> JSONResponse:
    headers = dict(NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="ihub"'
    return JSONResponse({"error": code, "error_description": description}, status, headers)


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


def _media_type(header: str | None) -> str:
    """The type/subtype of a ``Content-Type``, lower-cased: media types are case-insensitive
    (RFC 9110 §8.3.1) and parameters such as ``; charset=UTF-8`` do not change it."""
    return (header or "").split(";", 1)[0].strip().lower()


def token_endpoint(partners: PartnerRegistry) -> Callable[[Request], Awaitable[Response]]:
    async def token(request: Request) -> Response:
        if _media_type(request.headers.get("content-type")) != FORM:
            return _error("invalid_request", 400, "Send application/x-www-form-urlencoded.")
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return _error("unsupported_grant_type", 400, "Only client_credentials is supported.")
        credentials = _basic(request.headers.get("authorization"))
        if credentials is None:
            client_id, secret = form.get("client_id"), form.get("client_secret")
            if not isinstance(client_id, str) or not isinstance(secret, str):
                return _error("invalid_client", 401, "Client authentication failed.")
            credentials = (client_id, secret)
        issued = await partners.issue_token(*credentials)
        if issued is None:
            return _error("invalid_client", 401, "Client authentication failed.")
        access_token, expires_in = issued
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in}
        return JSONResponse(body, headers=NO_STORE)

    return token
