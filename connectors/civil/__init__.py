"""Civil affairs (民政): the allowance ledger (entitlements, payments) and care assessments."""

from connectors.civil.client import CivilConnector

__all__ = ["CivilConnector"]
