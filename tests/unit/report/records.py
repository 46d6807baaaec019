"""Hand-written records for the report's unit tests: the shapes the server sends, only the fields used."""

from __future__ import annotations

from standins.sei_receiver.report.records import Snapshot, StoredRecord

__all__ = [
    "COLL",
    "PROJ",
    "build",
    "change",
    "classic_deployment",
    "env_record",
    "environment",
    "pr",
    "pr_commit",
    "release",
    "revision",
    "snapshot",
    "timeline",
    "vote",
    "work_item_type",
]

COLL = "coll"
PROJ = "proj"


def snapshot(*records: StoredRecord, first_batch_at: float | None = None, api_versions=()) -> Snapshot:
    return Snapshot.of_records(records, first_batch_at=first_batch_at, api_versions=api_versions)


def build(build_id: int, definition: str = "web CI", *, queued=None, start=None, finish=None, status="completed",
          result="succeeded", definition_id: int = 1, branch: str = "refs/heads/main", changed=None,
          received_at: float | None = None) -> StoredRecord:
    data = {"id": build_id, "status": status, "result": result, "definition": {"id": definition_id, "name": definition},
            "sourceBranch": branch, "project": {"id": PROJ, "name": "Fabrikam"}}
    for field, value in (("queueTime", queued), ("startTime", start), ("finishTime", finish), ("lastChangedDate", changed)):
        if value is not None:
            data[field] = value
    return StoredRecord("build.build", f"{COLL}:{build_id}", data, received_at)


def timeline(build_id: int, record_id: str, kind: str, name: str, *, start=None, finish=None, state="completed",
             result="succeeded", attempt: int = 1) -> StoredRecord:
    data = {"id": record_id, "type": kind, "name": name, "state": state, "attempt": attempt,
            "previousAttempts": [{"attempt": a} for a in range(1, attempt)]}
    if result:
        data["result"] = result
    if start:
        data["startTime"] = start
    if finish:
        data["finishTime"] = finish
    return StoredRecord("build.timeline_record", f"{COLL}:{build_id}:{record_id}", data)


def release(release_id: int, build_id: int | None, environments=(), definition: str = "web CD") -> StoredRecord:
    artifacts = [] if build_id is None else [
        {"type": "Build", "isPrimary": True, "definitionReference": {"version": {"id": str(build_id), "name": "x"}}}]
    envs = [{"name": name, "status": status, "deploySteps": [{"attempt": a + 1} for a in range(steps)]}
            for name, status, steps in environments]
    return StoredRecord("release.release", f"{COLL}:{release_id}",
                        {"id": release_id, "releaseDefinition": {"id": 1, "name": definition}, "artifacts": artifacts,
                         "environments": envs})


def classic_deployment(deployment_id: int, release_id: int, status: str, completed: str | None,
                       environment: str = "Production", attempt: int = 1) -> StoredRecord:
    data = {"id": deployment_id, "release": {"id": release_id}, "releaseDefinition": {"id": 1, "name": "web CD"},
            "releaseEnvironment": {"id": 9, "name": environment}, "deploymentStatus": status, "attempt": attempt}
    if completed:
        data["completedOn"] = completed
    return StoredRecord("release.deployment", f"{COLL}:{deployment_id}", data)


def environment(env_id: int, name: str) -> StoredRecord:
    return StoredRecord("distributedtask.environment", f"{PROJ}:{env_id}", {"id": env_id, "name": name})


def env_record(record_id: int, env_id: int, run: int, result: str | None, finish: str | None, *, stage_attempt: int = 1,
               job: str = "deploy") -> StoredRecord:
    data = {"id": record_id, "environmentId": env_id, "owner": {"id": run, "name": f"run {run}"},
            "definition": {"id": 1, "name": "web"}, "stageName": "prod", "jobName": job, "stageAttempt": stage_attempt}
    if result:
        data["result"] = result
    if finish:
        data["finishTime"] = finish
    return StoredRecord("distributedtask.environment_deployment", f"{PROJ}:{env_id}:{record_id}", data)


def change(build_id: int, sha: str, timestamp: str | None) -> StoredRecord:
    data = {"id": sha, "type": "TfsGit"}
    if timestamp:
        data["timestamp"] = timestamp
    return StoredRecord("build.change", f"{COLL}:{build_id}:{sha}", data)


def pr(pr_id: int, created: str, closed: str | None, status: str = "completed") -> StoredRecord:
    data = {"pullRequestId": pr_id, "status": status, "creationDate": created, "repository": {"id": "repo", "name": "web"}}
    if closed:
        data["closedDate"] = closed
    return StoredRecord("git.pull_request", f"repo:{pr_id}", data)


def pr_commit(pr_id: int, sha: str, authored: str) -> StoredRecord:
    return StoredRecord("git.pull_request_commit", f"repo:{pr_id}:{sha}", {"commitId": sha, "author": {"date": authored}})


def vote(pr_id: int, thread_id: int, published: str, result: int) -> StoredRecord:
    props = {"CodeReviewThreadType": {"$type": "System.String", "$value": "VoteUpdate"},
             "CodeReviewVoteResult": {"$type": "System.String", "$value": str(result)}}
    return StoredRecord("git.pull_request_thread", f"repo:{pr_id}:{thread_id}",
                        {"id": thread_id, "publishedDate": published, "properties": props})


def revision(item: int, rev: int, state: str, changed: str, kind: str = "Bug", received_at: float | None = None) -> StoredRecord:
    fields = {"System.Id": item, "System.Rev": rev, "System.State": state, "System.WorkItemType": kind,
              "System.ChangedDate": changed, "System.TeamProject": "Fabrikam"}
    return StoredRecord("wit.work_item_revision", f"{COLL}:{item}:{rev}", {"id": item, "rev": rev, "fields": fields},
                        received_at)


def work_item_type(name: str = "Bug") -> tuple[StoredRecord, StoredRecord]:
    states = [{"name": "New", "category": "Proposed"}, {"name": "Active", "category": "InProgress"},
              {"name": "Resolved", "category": "Resolved"}, {"name": "Closed", "category": "Completed"}]
    return (StoredRecord("wit.work_item_type", f"{PROJ}:Microsoft.VSTS.WorkItemTypes.{name}", {"name": name, "states": states}),
            StoredRecord("core.project", PROJ, {"id": PROJ, "name": "Fabrikam"}))
