"""Per-request data loaders for the bank windows, built fresh for every GraphQL request.

Both loaders batch within a tick and make one connector call per batch; the connector splits
it the way its bank wants (ICBC: up to 20 keys a call; CCB: one call per key, concurrently),
keeps queues for 30 s across requests and never caches appointments. Results are aligned to
the keys by key, ``None`` for a branch or appointment the bank does not know.
"""

from __future__ import annotations

from typing import ClassVar

from connectors.bank.client import BankConnector
from connectors.bank.models import Appointment, Queue
from connectors.loaders import BatchLoader


class BankLoaders:
    """Everything a bank-window resolver reads, for one request, at one bank."""

    department: ClassVar[str]

    def __init__(self, connector: BankConnector) -> None:
        if connector.department != self.department:
            raise ValueError(f"{type(self).__name__} needs the {self.department} connector")
        self.connector = connector
        naive = connector.policy.naive
        self.queue_by_branch: BatchLoader[str, Queue] = BatchLoader(connector.queues, naive=naive)
        self.appointment_by_number: BatchLoader[str, Appointment] = BatchLoader(
            connector.appointments, naive=naive
        )


class IcbcLoaders(BankLoaders):
    """The loaders of 工商银行."""

    department = "icbc"


class CcbLoaders(BankLoaders):
    """The loaders of 建设银行."""

    department = "ccb"
