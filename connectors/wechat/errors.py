"""The WeChat service account's refusals, as members of the one tree (``connectors.errors``).

Refused
├── NotFollowing      43004: the person does not follow the account (send by SMS instead)
├── UnknownOpenid     40003: no such user of the account
├── QuotaReached      45009: the day's template-message quota is spent (retry_after_s)
└── InvalidCode       40029 / 40163: a web-page authorisation code unknown, expired or used
UpstreamRejected
└── UnknownTemplate   40037: the template id is not one of the account's
"""

from __future__ import annotations

from connectors.errors import Refused, UpstreamRejected


class NotFollowing(Refused):
    """The recipient does not follow the service account: WeChat will not deliver to them."""

    def __init__(self, department: str, message: str) -> None:
        super().__init__(department, "NOT_FOLLOWING", message)


class UnknownOpenid(Refused):
    """The openid is not a user of this account."""

    def __init__(self, department: str, message: str) -> None:
        super().__init__(department, "UNKNOWN_OPENID", message)


class QuotaReached(Refused):
    """The account's daily quota is spent; sending works again in ``retry_after_s``
    (at midnight in Shanghai)."""

    def __init__(self, department: str, message: str, *, retry_after_s: float) -> None:
        super().__init__(department, "QUOTA_REACHED", message)
        self.retry_after_s = retry_after_s


class UnknownTemplate(UpstreamRejected):
    """The template id is not one the account has added."""

    def __init__(self, department: str, message: str, *, template: str) -> None:
        super().__init__(department, message, code="40037")
        self.template = template


class InvalidCode(Refused):
    """A web-page authorisation code WeChat does not know, that expired (5 minutes) or was
    used already (a code is good once)."""

    def __init__(self, department: str, message: str) -> None:
        super().__init__(department, "INVALID_CODE", message)
