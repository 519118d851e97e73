"""Per-request data loaders for the youth center, built fresh for every GraphQL request.

The center has no batch endpoint, so each loader fans one call out per distinct key: the
loader de-duplicates within the request, the connector's semaphore caps the calls in flight,
and courses come from the connector's TTL cache (with single-flight) across requests.
"""

from __future__ import annotations

from connectors.loaders import FanOutLoader
from connectors.youth.client import YouthConnector
from connectors.youth.models import Application, Course, Member


class YouthLoaders:
    """Everything a youth-center resolver reads, for one request."""

    department = "youth"

    def __init__(self, connector: YouthConnector) -> None:
        self.connector = connector
        naive = connector.policy.naive
        self.course_by_id: FanOutLoader[str, Course | None] = FanOutLoader(
            connector.course, naive=naive
        )
        self.member_by_no: FanOutLoader[str, Member | None] = FanOutLoader(
            connector.member, naive=naive
        )
        self.applications_by_member: FanOutLoader[str, tuple[Application, ...]] = FanOutLoader(
            connector.applications, naive=naive
        )
