"""Azure DevOps Server REST access: client, paginators, api-version negotiation."""

from satellite.ado.client import AdoClient, CollectionTarget, TlsOptions, segment
from satellite.ado.paging import IdKeyset, NewestFirst, Page, TokenBody, TokenHeader, TopSkip, items
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
    "IdKeyset",
    "NewestFirst",
    "items",
]
