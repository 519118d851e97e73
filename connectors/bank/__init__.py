"""Partner bank windows (工商银行、建设银行): branches, government items, queues, appointments.

One domain model (``models``) for both banks; each bank's dialect (``icbc``, ``ccb``) maps
its own field names onto it, over one shared signed protocol (``protocol``, ``signing``).
"""

from connectors.bank.ccb import CcbConnector
from connectors.bank.client import BankConnector
from connectors.bank.icbc import IcbcConnector
from connectors.bank.loaders import BankLoaders, CcbLoaders, IcbcLoaders

__all__ = [
    "BankConnector",
    "BankLoaders",
    "CcbConnector",
    "CcbLoaders",
    "IcbcConnector",
    "IcbcLoaders",
]
