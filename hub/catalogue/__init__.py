"""The hub's copy of the service-item catalogue (一网通办): ``schema.context.ServiceCatalogue``."""

from hub.catalogue.copy import CatalogueCopy

__all__ = ["CatalogueCopy"]
