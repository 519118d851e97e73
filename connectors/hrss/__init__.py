"""人社 (human resources and social security): insurance and retirement records."""

from connectors.hrss.client import HrssConnector

__all__ = ["HrssConnector"]
