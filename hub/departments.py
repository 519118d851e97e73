"""The department registry: one line per department, everything else is derived from it."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.bank import CcbConnector, IcbcConnector
from connectors.base import Connector
from connectors.catalogue import CatalogueConnector
from connectors.civil import CivilConnector
from connectors.credentials import CredentialsConnector
from connectors.garbage import GarbageConnector
from connectors.hrss import HrssConnector
from connectors.library import LibraryConnector
from connectors.locks import LocksConnector
from connectors.population import PopulationConnector
from connectors.sms import SmsConnector
from connectors.wechat import WeChatConnector
from connectors.youth import YouthConnector


@dataclass(frozen=True)
class Department:
    """A department's name (its key in settings) and its connector class.

    Its per-request loaders name the department too (``GarbageLoaders.department``), so the
    request context builds them on the right connector when a resolver first asks.
    """

    name: str
    connector: type[Connector]


DEPARTMENTS: tuple[Department, ...] = (
    Department("youth", YouthConnector),
    Department("library", LibraryConnector),
    Department("icbc", IcbcConnector),
    Department("ccb", CcbConnector),
    Department("locks", LocksConnector),
    Department("garbage", GarbageConnector),
    Department("catalogue", CatalogueConnector),
    Department("population", PopulationConnector),
    Department("civil", CivilConnector),
    Department("hrss", HrssConnector),
    Department("credentials", CredentialsConnector),
    Department("sms", SmsConnector),
    Department("wechat", WeChatConnector),
)
