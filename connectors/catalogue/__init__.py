"""Service-item catalogue (事项库, 一网通办): items, changes, scenarios, public services, 公开."""

from connectors.catalogue.client import CatalogueConnector

__all__ = ["CatalogueConnector"]
