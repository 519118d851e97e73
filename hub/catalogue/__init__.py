"""The hub's copy of the service-item catalogue (一网通办): ``schema.context.ServiceCatalogue``.

``copy`` (reads, in memory), ``sync`` (the database copy filled and refreshed from the
catalogue), ``index`` (search), ``text`` (cutting Chinese), ``analysis`` and ``terms`` (index
terms, computed in a child process), ``codec`` (records as the tables keep them).

The names below are imported on first use: the terms child (``python -m hub.catalogue.terms``)
imports this package and should not pay for the copy, the database and the connectors.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.catalogue.copy import CatalogueCopy
    from hub.catalogue.sync import SyncSettings, sync_settings

__all__ = ["CatalogueCopy", "SyncSettings", "sync_settings"]
_HOMES = {"CatalogueCopy": "copy", "SyncSettings": "sync", "sync_settings": "sync"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"hub.catalogue.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
