"""The hub's copy of the service-item catalogue (一网通办): ``schema.context.ServiceCatalogue``.

``copy`` (reads, in memory), ``sync`` (the database copy filled and refreshed from the
catalogue), ``index`` (search), ``codec`` (records as the tables keep them).
"""

from hub.catalogue.copy import CatalogueCopy
from hub.catalogue.sync import SyncSettings, sync_settings

__all__ = ["CatalogueCopy", "SyncSettings", "sync_settings"]
