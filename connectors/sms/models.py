"""What the SMS gateway tells the hub, as the hub knows it (frozen, upstream-neutral)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SmsReceipt:
    """The gateway accepted a message; ``biz_id`` names it in the delivery report."""

    biz_id: str


@dataclass(frozen=True)
class SmsReport:
    """A delivery report: the message ``biz_id`` (sent with our ``out_id``) reached the phone,
    or did not (``error_code`` is the operator's, ``DELIVERED`` when it did).

    Reports come at least once and in any order: the same report may come again.
    """

    out_id: str
    biz_id: str
    phone: str
    delivered: bool
    error_code: str
    reported_at: datetime


@dataclass(frozen=True)
class SmsUplink:
    """A resident's reply (``同意``, ``TD`` …) from ``phone``; ``uplink_id`` is the gateway's,
    the same when the gateway delivers the reply again."""

    phone: str
    text: str
    uplink_id: str
    received_at: datetime
