"""The operator's SMS gateway: signed templated sends, per-phone limits, signed callbacks."""

from connectors.sms.client import SmsConnector
from connectors.sms.errors import ForgedCallback, InvalidPhone, SmsLimited, UnknownTemplate
from connectors.sms.models import SmsReceipt, SmsReport, SmsUplink

__all__ = [
    "ForgedCallback",
    "InvalidPhone",
    "SmsConnector",
    "SmsLimited",
    "SmsReceipt",
    "SmsReport",
    "SmsUplink",
    "UnknownTemplate",
]
