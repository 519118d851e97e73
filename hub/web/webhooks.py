"""``POST /webhooks/sms``: the SMS gateway's delivery reports and residents' replies.

The signature is the gateway's or nothing is believed: ``ForgedCallback`` → 401 and no
change. A verified callback is handed to ``Acceptance.callback`` (which deduplicates it by
key) and answered 200, so the gateway stops retrying; a replay is a 200 no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import cast

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.base import Connector
from connectors.errors import UpstreamPayloadError
from connectors.sms import ForgedCallback, SmsConnector
from hub.offers.acceptance import Acceptance

logger = logging.getLogger("ihub.offers")
SMS_WEBHOOK = "/webhooks/sms"


def webhook_routes(connectors: Mapping[str, Connector], acceptance: Acceptance) -> list[Route]:
    async def sms(request: Request) -> JSONResponse:
        body = await request.body()
        connector = connectors.get("sms")
        if connector is None:
            return JSONResponse({"code": 503, "msg": "starting"}, status_code=503)
        try:
            callback = cast(SmsConnector, connector).read_callback(dict(request.headers), body)
        except ForgedCallback:
            logger.warning("SMS webhook: a callback without the gateway's signature refused")
            return JSONResponse({"code": 401, "msg": "signature"}, status_code=401)
        except UpstreamPayloadError:
            return JSONResponse({"code": 400, "msg": "unreadable"}, status_code=400)
        await acceptance.callback(callback)
        return JSONResponse({"code": 0, "msg": "成功"})

    return [Route(SMS_WEBHOOK, sms, methods=["POST"])]
