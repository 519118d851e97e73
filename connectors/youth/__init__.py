"""Youth activity center (罗湖区青少年活动中心): courses, members, applications, payments."""

from connectors.youth.client import YouthConnector
from connectors.youth.loaders import YouthLoaders

__all__ = ["YouthConnector", "YouthLoaders"]
