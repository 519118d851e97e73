"""The one exception tree for everything that can go wrong talking to a department.

    ConnectorError                 (every failure carries .department)
    ├── UpstreamUnavailable        connection refused, DNS, 5xx, outage
    │   └── UpstreamMaintenance    a planned window (503 with Retry-After): back at a known time
    ├── UpstreamTimeout            no complete answer within the time budget
    ├── UpstreamRejected           the department refused our call (auth, bad parameters, 4xx)
    ├── UpstreamPayloadError       the answer could not be decoded or lacks a required field
    ├── UpstreamNotFound           the department says the thing does not exist
    └── Refused                    a business refusal (loan limit, course full) with a domain code

A department's own refinements live in its package and name their parent there
(``connectors/sms/errors.py``: ``SmsLimited`` is a ``Refused`` with ``retry_after_s``;
``connectors/wechat/errors.py``: ``NotFollowing``, ``QuotaReached``).

Low-level errors (aiohttp, asyncio, json) are translated in one place, ``connectors.base``,
always ``raise … from exc``. The messages are for logs: ``schema`` decides what a client sees
and never shows an upstream body.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class: a call to ``department`` failed."""

    def __init__(self, department: str, message: str) -> None:
        super().__init__(f"{department}: {message}")
        self.department = department
        self.detail = message


class UpstreamUnavailable(ConnectorError):
    """The department could not be reached or answered with a server error.

    ``status`` is the last HTTP status when there was one, ``retry_after_s`` what its
    ``Retry-After`` asked for (the connector decides what that means for its department).
    """

    def __init__(
        self,
        department: str,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(department, message)
        self.status = status
        self.retry_after_s = retry_after_s


class UpstreamMaintenance(UpstreamUnavailable):
    """The department is in a planned maintenance window, over in ``retry_after_s``."""


class UpstreamTimeout(ConnectorError):
    """The department did not answer completely within the time budget."""


class UpstreamRejected(ConnectorError):
    """The department refused the call (authentication, parameters, quota)."""

    def __init__(self, department: str, message: str, *, code: str | None = None) -> None:
        super().__init__(department, message)
        self.code = code


class UpstreamPayloadError(ConnectorError):
    """The answer was not what the department's contract promises."""


class UpstreamNotFound(ConnectorError):
    """The department answered that the requested resource does not exist."""


class Refused(ConnectorError):
    """The department declined a request for a business reason (loan limit, course full).

    Not a failure of the department: ``code`` is the hub's domain code for the reason (the
    connector maps the department's own code onto it), which mutations report as a
    ``userErrors`` entry rather than as a GraphQL error.
    """

    def __init__(self, department: str, code: str, message: str) -> None:
        super().__init__(department, message)
        self.code = code
        self.message = message
