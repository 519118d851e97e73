"""The district's WeChat service account: template messages to followers, token kept."""

from connectors.wechat.client import WeChatConnector
from connectors.wechat.errors import (
    InvalidCode,
    NotFollowing,
    QuotaReached,
    UnknownOpenid,
    UnknownTemplate,
)

__all__ = [
    "InvalidCode",
    "NotFollowing",
    "QuotaReached",
    "UnknownOpenid",
    "UnknownTemplate",
    "WeChatConnector",
]
