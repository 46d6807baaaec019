"""Streams: one declared class per kind of data collected from Azure DevOps Server."""

from satellite.streams.base import Checkpoint, Record, Stream, StreamContext, StreamItem
from satellite.streams.core import ProjectsStream
from satellite.streams.git import CommitsStream, RepositoriesStream

__all__ = [
    "Checkpoint",
    "Record",
    "Stream",
    "StreamContext",
    "StreamItem",
    "ProjectsStream",
    "RepositoriesStream",
    "CommitsStream",
]
