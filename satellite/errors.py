"""Every error the satellite raises on purpose.

    * SatelliteError                 base; str() is a safe, actionable message (never a secret)
      + ConfigError                  bad configuration file; carries every problem found
      + AdoError                     talking to Azure DevOps Server failed
        - AdoAuthError               401 TF400813, or 203 / an HTML sign-in page (bad or expired PAT)
        - AdoPermissionError         403: the PAT lacks a scope or the user a permission
        - AdoNotFoundError           404: project, repository or route not there (or not visible)
        - AdoVersionError            400 api-version out of range or missing -preview flag
        - AdoResponseError           the server answered something that is not the expected JSON
        - AdoTransportError          network, TLS or timeout, after the retries ran out
      + SealingError                 a sealed batch could not be opened (tampered, wrong key)
      + StoreError                   the local database failed (disk full, corrupt, read-only)
        - DataDirInUse               another satellite process holds the data directory
      + DeliveryError                the SEI endpoint refused a batch for good
        - ApiKeyError                the SEI API key cannot be sent (a character no HTTP header holds)
"""

from __future__ import annotations

__all__ = [
    "SatelliteError",
    "Stopping",
    "ConfigError",
    "AdoError",
    "AdoAuthError",
    "AdoPermissionError",
    "AdoNotFoundError",
    "AdoVersionError",
    "AdoResponseError",
    "AdoTransportError",
    "SealingError",
    "StoreError",
    "DataDirInUse",
    "DeliveryError",
    "ApiKeyError",
]


class SatelliteError(Exception):
    """Base of the satellite's own errors."""


class Stopping(SatelliteError):
    """The process is stopping (SIGTERM): a wait that could last minutes (a retry's back-off, the
    server's pause at its gate) ended early. The unit ends as at a stop between records: what it
    stored stays stored, the rest is read again from its cursor at the next start."""


class ConfigError(SatelliteError):
    """A configuration file has problems; ``problems`` lists every one of them.

    Each problem is a ``satellite.config.ConfigProblem`` whose str() is
    ``file:line key.path: message``.
    """

    def __init__(self, problems: list) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class AdoError(SatelliteError):
    """A request to Azure DevOps Server failed.

    Attributes:
        collection: the collection URL the request went to.
        status: the HTTP status, or None when no response came back.
        retry_after: seconds the server asked us to wait, when it said so.
    """

    def __init__(
        self,
        message: str,
        *,
        collection: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.collection = collection
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class AdoAuthError(AdoError):
    """The PAT was refused (401 TF400813) or the server sent a sign-in page."""


class AdoPermissionError(AdoError):
    """403: the PAT is valid but lacks the scope or permission for this resource."""


class AdoNotFoundError(AdoError):
    """404: the resource is gone, not visible to this PAT, or not on this server version."""


class AdoVersionError(AdoError):
    """400: the api-version is out of range or lacks the -preview flag."""


class AdoResponseError(AdoError):
    """The server answered with something other than the JSON we expected."""


class AdoTransportError(AdoError):
    """Network, TLS or timeout failure after the retries ran out."""


class SealingError(SatelliteError):
    """A sealed batch failed to open: bad magic, tampered bytes, unknown or wrong key."""


class StoreError(SatelliteError):
    """The local SQLite store could not be written or read."""


class DataDirInUse(StoreError):
    """Another satellite process (``sync`` or ``run``) holds the data directory's lock."""


class DeliveryError(SatelliteError):
    """The SEI endpoint rejected a batch permanently or the credentials were refused."""


class ApiKeyError(DeliveryError):
    """The SEI API key holds a character no HTTP header can carry (non-ASCII or a control character)."""
