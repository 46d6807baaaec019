"""Azure DevOps Server REST access: client, paging, api-version negotiation."""

from satellite.ado.client import AdoClient, CollectionTarget, TlsOptions, segment
from satellite.ado.versions import ApiVersion

__all__ = ["AdoClient", "CollectionTarget", "TlsOptions", "ApiVersion", "segment"]
