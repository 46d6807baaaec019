"""Streams: one declared class per kind of data collected from Azure DevOps Server."""

from satellite.streams.base import Checkpoint, Record, Stream, StreamContext, StreamItem
from satellite.streams.core import ProjectsStream
from satellite.streams.git import CommitsStream, RepositoriesStream

STREAMS = (ProjectsStream, RepositoriesStream, CommitsStream)
RECORD_TYPES = frozenset(stream.record_type for stream in STREAMS)  # what this version collects

__all__ = [
    "STREAMS",
    "RECORD_TYPES",
    "Checkpoint",
    "Record",
    "Stream",
    "StreamContext",
    "StreamItem",
    "ProjectsStream",
    "RepositoriesStream",
    "CommitsStream",
]
