"""The SMS gateway's refusals, as members of the one tree (``connectors.errors``).

Refused
├── SmsLimited        the phone's limit (1 a minute, 10 a day): try again in retry_after_s
└── InvalidPhone      not a mobile number the gateway accepts
UpstreamRejected
└── UnknownTemplate   the template code is not registered with the gateway
ConnectorError
└── ForgedCallback    a callback without the gateway's valid, recent signature
"""

from __future__ import annotations

from typing import Literal

from connectors.errors import ConnectorError, Refused, UpstreamRejected

Scope = Literal["minute", "hour", "day"]


class SmsLimited(Refused):
    """The gateway's per-phone limit for ``scope`` is reached; the message was not sent.

    ``retry_after_s``: when the same phone may be tried again (a minute, or the time left
    until midnight in Shanghai for the daily limit). Not a failure: retry it then.
    """

    def __init__(self, department: str, message: str, *, scope: Scope, retry_after_s: float):
        super().__init__(department, "SMS_LIMITED", message)
        self.scope: Scope = scope
        self.retry_after_s = retry_after_s


class InvalidPhone(Refused):
    """The gateway does not take this number: sending again will not help."""

    def __init__(self, department: str, message: str) -> None:
        super().__init__(department, "INVALID_PHONE", message)


class UnknownTemplate(UpstreamRejected):
    """The template code is not one the gateway has registered for our app."""

    def __init__(self, department: str, message: str, *, template: str, code: str) -> None:
        super().__init__(department, message, code=code)
        self.template = template


class ForgedCallback(ConnectorError):
    """A request to the callback webhook that the gateway did not sign (or signed too long
    ago, or whose body was changed): nothing in it may be believed."""
