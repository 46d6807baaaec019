"""Azure DevOps Server REST access: client, paginators, api-version negotiation."""

from satellite.ado.client import AdoClient, CollectionTarget, TlsOptions, segment
from satellite.ado.paging import SERVER_CAPS, IdWindows, NewestFirst, Page, PageCap, ServerCap, TokenBody, TokenHeader, TopSkip, items
from satellite.ado.versions import ApiVersion

__all__ = [
    "AdoClient",
    "CollectionTarget",
    "TlsOptions",
    "ApiVersion",
    "segment",
    "Page",
    "TokenHeader",
    "TokenBody",
    "TopSkip",
    "IdWindows",
    "SERVER_CAPS",
    "ServerCap",
    "PageCap",
    "NewestFirst",
    "items",
]
