"""Streams: one declared class per kind of data collected from Azure DevOps Server.

``STREAMS`` lists them in the order they run within a scope (a snapshot stream that lists
parents, e.g. repositories, runs before the streams of those parents).
"""

from satellite.streams.base import (
    Checkpoint,
    IncrementalStream,
    Record,
    Scope,
    SnapshotStream,
    StreamContext,
    StreamItem,
)
from satellite.streams.core import ProjectsStream
from satellite.streams.git import CommitsStream, PushesStream, RefsStream, RepositoriesStream

STREAMS = (ProjectsStream, RepositoriesStream, CommitsStream)  # refs and pushes join once the simulator models them
RECORD_TYPES = frozenset(stream.record_type for stream in STREAMS)  # what this version collects

__all__ = [
    "STREAMS",
    "RECORD_TYPES",
    "Checkpoint",
    "IncrementalStream",
    "Record",
    "Scope",
    "SnapshotStream",
    "StreamContext",
    "StreamItem",
    "ProjectsStream",
    "RepositoriesStream",
    "RefsStream",
    "PushesStream",
    "CommitsStream",
]
