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
from satellite.streams.boards import (
    ClassificationNodesStream,
    FieldsStream,
    TeamIterationsStream,
    WorkItemCommentsStream,
    WorkItemLinksStream,
    WorkItemRevisionsStream,
    WorkItemTypesStream,
)
from satellite.streams.core import IdentitiesStream, ProjectsStream, TeamMembersStream, TeamsStream
from satellite.streams.environments import EnvironmentsStream
from satellite.streams.git import CommitsStream, PullRequestsStream, PushesStream, RefsStream, RepositoriesStream
from satellite.streams.pipeline_runs import PipelineRunsStream
from satellite.streams.pipelines import BuildDefinitionsStream, BuildsStream, PipelinesStream
from satellite.streams.releases import ReleaseDefinitionsStream, ReleasesStream
from satellite.streams.tfvc import ChangesetsStream, TfvcBranchesStream, TfvcLabelsStream

STREAMS = (
    # collection
    ProjectsStream,
    FieldsStream,
    WorkItemRevisionsStream,
    WorkItemLinksStream,
    WorkItemCommentsStream,
    ChangesetsStream,
    # project
    RepositoriesStream,
    TeamsStream,
    PullRequestsStream,
    WorkItemTypesStream,
    ClassificationNodesStream,
    TfvcBranchesStream,
    TfvcLabelsStream,
    BuildDefinitionsStream,
    BuildsStream,
    PipelinesStream,
    EnvironmentsStream,  # before the runs stream, which reads the deployment records of what it lists
    PipelineRunsStream,
    ReleaseDefinitionsStream,
    ReleasesStream,
    # repository
    RefsStream,
    PushesStream,
    CommitsStream,
    # team
    TeamMembersStream,
    TeamIterationsStream,
    # collection, last
    IdentitiesStream,
)
RECORD_TYPES = frozenset(t for stream in STREAMS for t in (stream.record_type, *stream.also_emits))  # what is collected
# record type -> the types nested in its records (keyed "<its key>:<id>"), which go when it goes
NESTED_TYPES = {stream.record_type: stream.nested_types for stream in STREAMS if stream.nested_types}

__all__ = [
    "STREAMS",
    "RECORD_TYPES",
    "NESTED_TYPES",
    "Checkpoint",
    "IncrementalStream",
    "Record",
    "Scope",
    "SnapshotStream",
    "StreamContext",
    "StreamItem",
    "ProjectsStream",
    "FieldsStream",
    "WorkItemRevisionsStream",
    "WorkItemLinksStream",
    "WorkItemCommentsStream",
    "ChangesetsStream",
    "RepositoriesStream",
    "TeamsStream",
    "PullRequestsStream",
    "WorkItemTypesStream",
    "ClassificationNodesStream",
    "TfvcBranchesStream",
    "TfvcLabelsStream",
    "BuildDefinitionsStream",
    "BuildsStream",
    "PipelinesStream",
    "PipelineRunsStream",
    "EnvironmentsStream",
    "ReleaseDefinitionsStream",
    "ReleasesStream",
    "RefsStream",
    "PushesStream",
    "CommitsStream",
    "TeamMembersStream",
    "TeamIterationsStream",
    "IdentitiesStream",
]
