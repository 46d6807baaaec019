"""Where each record type may carry personal or confidential data: the field catalog the privacy presets use.

``FIELDS[record_type]`` is a ``RecordFields`` of four tuples of paths into the record's ``data`` (the server's
JSON without ``_links``):

- ``text``: free text (commit and changeset comments, PR titles and descriptions, thread comments, work item
  titles, descriptions, history and comments, release and build free text); the ``strip_text`` preset.
- ``people``: strings that name a person (display names, unique names, e-mail addresses, avatar URLs); the
  ``pseudonymize_people`` preset. Ids (``id``, ``descriptor``) are never listed: they keep joins working.
- ``names``: project, repository, branch/ref, definition, environment names and TFVC paths, and the strings
  that embed them (area and iteration paths, a team's default name); the ``redact_names_and_urls`` preset.
- ``urls``: every URL (``url``, ``href``, ``remoteUrl``, ``webUrl``, ``imageUrl``...); also
  ``redact_names_and_urls``. An avatar URL (``imageUrl``) is in ``people`` and ``urls``: either preset
  replaces it.

Path syntax (``satellite.privacy.paths`` parses and matches it; the policy's field rules use it too):

- A path is segments joined by ``.``; each names an object member. ``*`` stands for any one member of an
  object or any one element of a list (``reviewers.*.displayName`` is the display name of every reviewer); a
  literal segment never matches a list element.
- A member whose name contains dots is written as its parts: ``fields.System.Title`` is
  ``data["fields"]["System.Title"]``, ``fields.Microsoft.VSTS.Common.ClosedBy.displayName`` is
  ``data["fields"]["Microsoft.VSTS.Common.ClosedBy"]["displayName"]``. ``*`` consumes one member whole,
  whatever dots it holds, so ``fields.*.uniqueName`` is the unique name of every identity field of a work
  item, custom ones included.
- Every path ends at a string (or a list of strings); a path that meets no value in a record is no error
  (optional members are absent on some servers and items).

Nothing here is derived at run time: the tuples are written from the simulator's bodies and the OpenAPI
schemas (``tests/spec_schemas``), and ``tests/unit/privacy/test_catalog.py`` checks that every type collected
has an entry, that every path meets a string in a simulator body of its type or is declared by its type's
schema (what a real server may send beyond the simulator: ``triggerInfo``, ``finalYaml``...), and that every
URL, identity name and e-mail address of the simulator's bodies is under a path.

``ENVIRONMENT_NAMES`` are the ``names`` paths that hold an environment's name (classic release environments
and YAML environments). The deployment metrics recognise production by that name (docs/metrics.md): a policy
that replaces one with a token sets ``isProduction`` (a boolean, by the same rule: lower-cased, the name starts
with ``prod``) in the object that holds the name, which the receiver's report reads instead of the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

__all__ = ["RecordFields", "FIELDS", "CATEGORIES", "PRESET_OF", "ENVIRONMENT_NAMES", "PRODUCTION_FLAG", "render_catalog",
           "update_document"]

CATEGORIES = ("text", "people", "names", "urls")
PRESET_OF = MappingProxyType({
    "text": "strip_text",
    "people": "pseudonymize_people",
    "names": "redact_names_and_urls",
    "urls": "redact_names_and_urls",
})
PRODUCTION_FLAG = "isProduction"


@dataclass(frozen=True)
class RecordFields:
    """The paths of one record type's free text, people, names and URLs (syntax: the module docstring)."""

    text: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def of(self, category: str) -> tuple[str, ...]:
        """The paths of one of ``CATEGORIES``."""
        if category not in CATEGORIES:
            raise KeyError(category)
        return getattr(self, category)

    def paths(self) -> tuple[str, ...]:
        """Every path of every category, each once, in category order."""
        return tuple(dict.fromkeys(p for c in CATEGORIES for p in self.of(c)))


# --- identity references --------------------------------------------------------------------------
# An IdentityRef (spec: webapi IdentityRef) names its person by displayName, uniqueName and the avatar
# imageUrl; its ``url`` is an API URL with the id only; ``id`` and ``descriptor`` stay.

_PERSON = ("displayName", "uniqueName", "imageUrl")


def _who(*objects: str) -> tuple[str, ...]:
    """The personal members of each identity object at ``objects``."""
    return tuple(f"{o}.{m}" if o else m for o in objects for m in _PERSON)


def _who_urls(*objects: str) -> tuple[str, ...]:
    """The URLs of each identity object at ``objects``: its API url and its avatar."""
    return tuple(f"{o}.{m}" if o else m for o in objects for m in ("url", "imageUrl"))


def _git_user(*objects: str) -> tuple[str, ...]:
    """A GitUserDate (a commit's author or committer): name and e-mail."""
    return tuple(f"{o}.{m}" for o in objects for m in ("name", "email"))


_RELEASE_DEFINITION_REF = ("name", "path", "projectReference.name")  # ReleaseDefinitionShallowReference

# --- work items ----------------------------------------------------------------------------------
# Identity fields are any member of ``fields`` holding an IdentityRef, custom ones included (``fields.*``).

_WORK_ITEM = RecordFields(
    text=(
        "fields.System.Title",
        "fields.System.Description",
        "fields.System.History",
        "fields.Microsoft.VSTS.Common.AcceptanceCriteria",
        "fields.Microsoft.VSTS.TCM.ReproSteps",
        "fields.System.Tags.*.name",
        "commentVersionRef.text",
    ),
    people=_who("fields.*"),
    names=(
        "fields.System.TeamProject",
        "fields.System.AreaPath",
        "fields.System.IterationPath",
        "fields.System.AreaLevel1",
        "fields.System.AreaLevel2",
        "fields.System.IterationLevel1",
        "fields.System.IterationLevel2",
        "fields.System.NodeName",
    ),
    urls=(*_who_urls("fields.*"), "url", "commentVersionRef.url"),
)

_COMMIT = RecordFields(  # GitCommitRef: git.commit and git.pull_request_commit
    text=("comment", "statuses.*.description"),
    people=(*_git_user("author", "committer"), "author.imageUrl", "committer.imageUrl", *_who("push.pushedBy"),
            *_who("statuses.*.createdBy")),
    urls=("remoteUrl", "url", "author.imageUrl", "committer.imageUrl", "push.url", *_who_urls("push.pushedBy"),
          "statuses.*.targetUrl", *_who_urls("statuses.*.createdBy"), "workItems.*.url"),
)

# --- releases ------------------------------------------------------------------------------------

_RELEASE_ENVIRONMENT_IDENTITIES = (
    "environments.*.owner",
    "environments.*.releaseCreatedBy",
    "environments.*.deploySteps.*.requestedBy",
    "environments.*.deploySteps.*.requestedFor",
    "environments.*.deploySteps.*.lastModifiedBy",
    "environments.*.preDeployApprovals.*.approver",
    "environments.*.preDeployApprovals.*.approvedBy",
    "environments.*.preDeployApprovals.*.history.*.approver",
    "environments.*.preDeployApprovals.*.history.*.changedBy",
    "environments.*.postDeployApprovals.*.approver",
    "environments.*.postDeployApprovals.*.approvedBy",
    "environments.*.postDeployApprovals.*.history.*.approver",
    "environments.*.postDeployApprovals.*.history.*.changedBy",
    "environments.*.preApprovalsSnapshot.approvals.*.approver",
    "environments.*.postApprovalsSnapshot.approvals.*.approver",
)
_RELEASE_JOBS = "environments.*.deploySteps.*.releaseDeployPhases.*.deploymentJobs.*"
_APPROVALS = ("environments.*.preDeployApprovals.*", "environments.*.postDeployApprovals.*")

_RELEASE = RecordFields(
    text=(
        "comment",
        "description",
        "environments.*.releaseDescription",
        *(f"{a}.comments" for a in _APPROVALS),
        f"{_RELEASE_JOBS}.tasks.*.issues.*.message",
        "environments.*.deployPhasesSnapshot.*.workflowTasks.*.inputs.*",
        "environments.*.deploySteps.*.issues.*.message",
        "variables.*.value",
        "environments.*.variables.*.value",
    ),
    people=(
        *_who("createdBy", "createdFor", "modifiedBy", *_RELEASE_ENVIRONMENT_IDENTITIES),
        "artifacts.*.definitionReference.requestedFor.name",
        "environments.*.environmentOptions.emailRecipients",
    ),
    names=(
        "projectReference.name",
        *(f"releaseDefinition.{m}" for m in _RELEASE_DEFINITION_REF),
        "triggeringArtifactAlias",
        "artifacts.*.alias",
        "artifacts.*.definitionReference.definition.name",
        "artifacts.*.definitionReference.project.name",
        "artifacts.*.definitionReference.repository.name",
        "artifacts.*.definitionReference.branch.id",
        "artifacts.*.definitionReference.branch.name",
        "environments.*.name",
        *(f"environments.*.releaseDefinition.{m}" for m in _RELEASE_DEFINITION_REF),
        *(f"{a}.releaseDefinition.{m}" for a in _APPROVALS for m in _RELEASE_DEFINITION_REF),
        *(f"{a}.releaseEnvironment.name" for a in _APPROVALS),
        f"{_RELEASE_JOBS}.job.agentName",
        f"{_RELEASE_JOBS}.tasks.*.agentName",
        f"{_RELEASE_JOBS}.tasks.*.name",  # "Download artifact - <alias>"
    ),
    urls=(
        *_who_urls("createdBy", "createdFor", "modifiedBy", *_RELEASE_ENVIRONMENT_IDENTITIES),
        "releaseDefinition.url",
        "logsContainerUrl",
        "artifacts.*.definitionReference.artifactSourceDefinitionUrl.id",
        "artifacts.*.definitionReference.artifactSourceVersionUrl.id",
        "environments.*.release.url",
        "environments.*.releaseDefinition.url",
        *(f"{a}.{m}" for a in _APPROVALS for m in ("url", "release.url", "releaseDefinition.url", "releaseEnvironment.url")),
        f"{_RELEASE_JOBS}.job.logUrl",
        f"{_RELEASE_JOBS}.tasks.*.logUrl",
    ),
)

_RELEASE_DEFINITION_IDENTITIES = (
    "createdBy", "modifiedBy", "lastRelease.createdBy", "environments.*.owner",
    "environments.*.preDeployApprovals.approvals.*.approver",
)

_RELEASE_DEFINITION = RecordFields(
    text=(
        "description",
        "lastRelease.description",
        "environments.*.deployPhases.*.workflowTasks.*.inputs.*",
        "comment",
        "variables.*.value",
        "environments.*.variables.*.value",
    ),
    people=(
        *_who(*_RELEASE_DEFINITION_IDENTITIES),
        "environments.*.environmentOptions.emailRecipients",
    ),
    names=(
        "name",
        "path",
        "projectReference.name",
        "environments.*.name",
        "artifacts.*.alias",
        "artifacts.*.definitionReference.definition.name",
        "artifacts.*.definitionReference.project.name",
        *(f"lastRelease.releaseDefinition.{m}" for m in _RELEASE_DEFINITION_REF),
    ),
    urls=(
        *_who_urls(*_RELEASE_DEFINITION_IDENTITIES),
        "url",
        "environments.*.badgeUrl",
        "environments.*.currentRelease.url",
        "artifacts.*.definitionReference.artifactSourceDefinitionUrl.id",
        "lastRelease.releaseDefinition.url",
    ),
)

_DEPLOYMENT_IDENTITIES = ("requestedBy", "requestedFor", "lastModifiedBy", "release.createdBy")

_DEPLOYMENT = RecordFields(
    text=("release.description",),
    people=_who(*_DEPLOYMENT_IDENTITIES),
    names=(
        "projectReference.name",
        "releaseEnvironment.name",
        *(f"releaseDefinition.{m}" for m in _RELEASE_DEFINITION_REF),
        *(f"release.releaseDefinition.{m}" for m in _RELEASE_DEFINITION_REF),
    ),
    urls=(
        *_who_urls(*_DEPLOYMENT_IDENTITIES),
        "releaseEnvironment.url",
        "releaseDefinition.url",
        "release.releaseDefinition.url",
    ),
)

# --- the catalog ---------------------------------------------------------------------------------

FIELDS: Mapping[str, RecordFields] = MappingProxyType({
    "build.build": RecordFields(
        text=(
            "project.description", "definition.project.description",
            # triggerInfo holds the commit message (ci.message) and branches; parameters: queue-time variables
            "triggerInfo.*", "parameters", "templateParameters.*", "tags.*", "deletedReason",
            "validationResults.*.message",
        ),
        people=_who("requestedBy", "requestedFor", "lastChangedBy", "deletedBy"),
        names=(
            "definition.name", "definition.path", "project.name", "definition.project.name",
            "repository.name", "sourceBranch", "repository.defaultBranch", "repository.rootFolder",
        ),
        urls=(
            *_who_urls("requestedBy", "requestedFor", "lastChangedBy", "deletedBy"),
            "url", "definition.url", "project.url", "definition.project.url", "logs.url", "queue.url",
            "repository.url",
        ),
    ),
    "build.change": RecordFields(
        text=("message",),
        people=(*_who("author"), "pusher"),
        urls=(*_who_urls("author"), "displayUri", "location"),
    ),
    "build.definition": RecordFields(
        text=("project.description", "variables.*.value", "description", "comment", "tags.*"),
        people=_who("authoredBy"),
        names=("name", "path", "project.name", "repository.name", "repository.defaultBranch", "repository.rootFolder",
               "dropLocation"),
        urls=(*_who_urls("authoredBy"), "url", "project.url", "queue.url", "repository.url"),
    ),
    "build.timeline_record": RecordFields(  # a task's name holds repository and branch ("Checkout repo@main to s")
        text=("issues.*.message", "currentOperation"),
        names=("name", "workerName"),
        urls=("log.url", "url", "details.url"),
    ),
    "core.identity": RecordFields(
        text=("properties.Description.$value",),
        people=(
            "providerDisplayName",
            "customDisplayName",
            "properties.Account.$value",
            "properties.Mail.$value",
            "properties.DN.$value",
        ),
    ),
    "core.project": RecordFields(
        text=("description",),
        names=("name",),
        urls=("url", "defaultTeamImageUrl"),
    ),
    "core.team": RecordFields(
        text=("description",),
        names=("name", "projectName", "identity.providerDisplayName", "identity.customDisplayName"),
        urls=("url", "identityUrl"),
    ),
    "core.team_member": RecordFields(
        people=_who("identity"),
        urls=_who_urls("identity"),
    ),
    "distributedtask.environment": RecordFields(
        text=("description",),
        people=_who("createdBy", "lastModifiedBy"),
        names=("name", "project.name", "resources.*.name"),
        urls=_who_urls("createdBy", "lastModifiedBy"),
    ),
    "distributedtask.environment_deployment": RecordFields(
        names=("definition.name",),
    ),
    "git.commit": _COMMIT,
    "git.pull_request": RecordFields(
        text=(
            "title", "description", "completionOptions.mergeCommitMessage", "lastMergeCommit.comment",
            "labels.*.name", "completionOptions.bypassReason", "mergeFailureMessage",
            "lastMergeSourceCommit.comment", "lastMergeTargetCommit.comment", "commits.*.comment",
        ),
        people=(
            *_who("createdBy", "closedBy", "reviewers.*", "autoCompleteSetBy"),
            *_git_user("lastMergeCommit.author", "lastMergeCommit.committer", "commits.*.author", "commits.*.committer"),
        ),
        names=(
            "sourceRefName", "targetRefName", "repository.name", "repository.project.name", "repository.defaultBranch",
            "forkSource.name",
        ),
        urls=(
            *_who_urls("createdBy", "closedBy", "reviewers.*", "autoCompleteSetBy"),
            "url", "repository.url", "reviewers.*.reviewerUrl", "labels.*.url", "lastMergeCommit.url",
            "lastMergeSourceCommit.url", "lastMergeTargetCommit.url", "remoteUrl", "repository.remoteUrl",
            "repository.sshUrl", "repository.webUrl", "workItemRefs.*.url", "forkSource.url", "commits.*.url",
            "commits.*.remoteUrl",
        ),
    ),
    "git.pull_request_commit": _COMMIT,
    "git.pull_request_iteration": RecordFields(
        text=("description", "sourceRefCommit.comment", "targetRefCommit.comment", "commonRefCommit.comment"),
        people=_who("author", "push.pushedBy"),
        names=("newTargetRefName", "oldTargetRefName"),
        urls=(*_who_urls("author", "push.pushedBy"), "push.url", "sourceRefCommit.url", "targetRefCommit.url",
              "commonRefCommit.url"),
    ),
    "git.pull_request_reviewer": RecordFields(
        people=_who(""),
        urls=(*_who_urls(""), "reviewerUrl"),
    ),
    "git.pull_request_thread": RecordFields(
        text=("comments.*.content",),
        people=(*_who("comments.*.author", "comments.*.usersLiked.*"), "properties.CodeReviewVotedByDisplayName.$value"),
        names=("threadContext.filePath", "pullRequestThreadContext.trackingCriteria.origFilePath"),
        urls=_who_urls("comments.*.author", "comments.*.usersLiked.*"),
    ),
    "git.pull_request_work_item": RecordFields(
        urls=("url",),
    ),
    "git.push": RecordFields(
        text=("repository.project.description", "commits.*.comment"),
        people=(*_who("pushedBy"), *_git_user("commits.*.author", "commits.*.committer")),
        names=("refUpdates.*.name", "repository.name", "repository.defaultBranch", "repository.project.name"),
        urls=(
            *_who_urls("pushedBy"), "url", "repository.url", "repository.remoteUrl", "repository.project.url",
            "repository.sshUrl", "repository.webUrl", "commits.*.url", "commits.*.remoteUrl",
        ),
    ),
    "git.ref": RecordFields(
        text=("statuses.*.description",),
        people=_who("creator", "isLockedBy", "statuses.*.createdBy"),
        names=("name",),
        urls=(*_who_urls("creator", "isLockedBy", "statuses.*.createdBy"), "url", "statuses.*.targetUrl"),
    ),
    "git.repository": RecordFields(
        text=("project.description",),
        names=("name", "defaultBranch", "project.name", "parentRepository.name"),
        urls=("url", "remoteUrl", "sshUrl", "webUrl", "project.url", "project.defaultTeamImageUrl", "parentRepository.url",
              "parentRepository.remoteUrl", "parentRepository.sshUrl"),
    ),
    "pipelines.pipeline": RecordFields(
        names=("name", "folder"),
        urls=("url",),
    ),
    "pipelines.run": RecordFields(
        text=("finalYaml", "templateParameters.*", "variables.*.value"),
        names=("pipeline.name", "pipeline.folder", "resources.repositories.*.refName"),
        urls=("url", "pipeline.url"),
    ),
    "release.definition": _RELEASE_DEFINITION,
    "release.deployment": _DEPLOYMENT,
    "release.release": _RELEASE,
    "tfvc.branch": RecordFields(
        text=("description",),
        people=_who("owner"),
        names=("path", "parent.path", "children.*.path", "relatedBranches.*.path"),
        urls=(*_who_urls("owner"), "url"),
    ),
    "tfvc.change": RecordFields(
        text=("newContent.content",),
        names=("item.path",),
        urls=("item.url", "url"),
    ),
    "tfvc.changeset": RecordFields(
        text=("comment", "checkinNotes.*.value", "policyOverride.comment", "workItems.*.title"),
        people=_who("author", "checkedInBy"),
        urls=(*_who_urls("author", "checkedInBy"), "url", "workItems.*.url", "workItems.*.webUrl"),
    ),
    "tfvc.label": RecordFields(
        text=("description",),
        people=_who("owner"),
        names=("name", "labelScope", "items.*.path"),
        urls=(*_who_urls("owner"), "url", "items.*.url"),
    ),
    "wit.classification_node": RecordFields(
        names=("name", "path"),
        urls=("url",),
    ),
    "wit.comment": RecordFields(
        text=("text", "renderedText"),
        people=_who("createdBy", "modifiedBy", "createdOnBehalfOf"),
        urls=(*_who_urls("createdBy", "modifiedBy", "createdOnBehalfOf"), "url", "mentions.*.url"),
    ),
    "wit.field": RecordFields(
        urls=("url",),
    ),
    "wit.work_item": _WORK_ITEM,
    "wit.work_item_link": RecordFields(
        urls=("source.url", "target.url"),
    ),
    "wit.work_item_revision": _WORK_ITEM,
    "wit.work_item_type": RecordFields(
        text=("description", "xmlForm"),
        urls=("url", "icon.url", "fields.*.url", "fieldInstances.*.url"),
    ),
    "work.team_iteration": RecordFields(
        names=("path",),
        urls=("url",),
    ),
})

ENVIRONMENT_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "distributedtask.environment": ("name",),
    "release.deployment": ("releaseEnvironment.name",),
    "release.release": (
        "environments.*.name",
        "environments.*.preDeployApprovals.*.releaseEnvironment.name",
        "environments.*.postDeployApprovals.*.releaseEnvironment.name",
    ),
    "release.definition": ("environments.*.name",),
})


# --- docs/privacy.md -----------------------------------------------------------------------------

_EFFECT = MappingProxyType({
    "text": "only the work item references it holds (`#123`, `AB#123`, key patterns)",
    "people": "a pseudonym (HMAC of the value)",
    "names": "a token (HMAC of the value)",
    "urls": "a token (HMAC of the value)",
})
BEGIN, END = "<!-- privacy-catalog:begin -->", "<!-- privacy-catalog:end -->"


def render_catalog() -> str:
    """The per record type tables of docs/privacy.md: each path, its kind and the preset that replaces it."""
    lines = ["| kind | replaced by | with |", "|---|---|---|"]
    lines += [f"| {c} | `{PRESET_OF[c]}` | {_EFFECT[c]} |" for c in CATEGORIES]
    for record_type in sorted(FIELDS):
        fields = FIELDS[record_type]
        lines += ["", f"#### `{record_type}`", ""]
        if not fields.paths():
            lines.append("Nothing personal or confidential: ids, numbers, states and times only.")
            continue
        lines += ["| kind | paths |", "|---|---|"]
        for category in CATEGORIES:
            paths = fields.of(category)
            if paths:
                lines.append(f"| {category} | {', '.join(f'`{p}`' for p in paths)} |")
    return "\n".join(lines) + "\n"


def update_document(text: str) -> str:
    """``text`` with what lies between the markers replaced by ``render_catalog()``."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{render_catalog()}{END}{tail}"


if __name__ == "__main__":  # python -m satellite.privacy.catalog docs/privacy.md
    import sys
    from pathlib import Path

    target = Path(sys.argv[1])
    target.write_text(update_document(target.read_text()))
