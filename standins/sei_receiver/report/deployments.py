"""Production deployments from classic releases and YAML environments (docs/metrics.md, "Deployments"),
and the builds they shipped."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from standins.sei_receiver.report.fields import dig, integer, items, text, time_of
from standins.sei_receiver.report.records import Snapshot

__all__ = ["Deployment", "Deployments", "is_production", "is_production_environment", "production_deployments", "yaml_reason"]

Source = Literal["classic", "yaml"]
FINISHED = ("succeeded", "partiallySucceeded", "failed", "canceled")
# YAML records carry a TaskResult: the worst of a stage attempt's records is the deployment's
_TASK_RESULTS = {"succeeded": "succeeded", "succeededWithIssues": "partiallySucceeded", "partiallySucceeded": "partiallySucceeded",
                 "failed": "failed", "canceled": "canceled", "abandoned": "canceled", "skipped": "skipped"}
_WORST = ("failed", "canceled", "partiallySucceeded", "succeeded", "skipped")


def is_production(name: str | None) -> bool:
    """``prod``, ``production`` or any name starting with ``prod`` (lower-cased)."""
    return isinstance(name, str) and name.strip().lower().startswith("prod")


def is_production_environment(environment) -> bool:
    """An environment object's ``isProduction`` where the satellite's privacy policy set it (its name is then
    a token, docs/privacy.md), else ``is_production`` of its ``name``."""
    flag = dig(environment, "isProduction")
    return flag if isinstance(flag, bool) else is_production(text(environment, "name"))


@dataclass(frozen=True)
class Deployment:
    """One finished production deployment (a re-run attempt is a deployment of its own)."""

    source: Source
    pipeline: tuple  # (release definition id, environment name) | (pipeline definition id, environment id)
    pipeline_name: str
    result: str  # succeeded | partiallySucceeded | failed | canceled
    finish: datetime
    build_key: str | None  # the build.build record it deployed, where known
    order_key: str  # ties of finish time keep a stable order

    @property
    def succeeded(self) -> bool:
        return self.result in ("succeeded", "partiallySucceeded")


@dataclass(frozen=True)
class Deployments:
    items: tuple[Deployment, ...]
    skipped: int


def production_deployments(snapshot: Snapshot) -> Deployments:
    classic, skipped_classic = _classic(snapshot)
    yaml, skipped_yaml = _yaml(snapshot)
    items = sorted(classic + yaml, key=lambda d: (d.finish, d.order_key))
    return Deployments(tuple(items), skipped_classic + skipped_yaml)


def _classic(snapshot: Snapshot) -> tuple[list[Deployment], int]:
    releases = {r.key: r.data for r in snapshot.of("release.release")}
    found, skipped = [], 0
    for record in snapshot.of("release.deployment"):
        data = record.data
        environment = text(data, "releaseEnvironment", "name")
        if not is_production_environment(dig(data, "releaseEnvironment")):
            continue
        status = text(data, "deploymentStatus")
        if status not in ("succeeded", "partiallySucceeded", "failed"):
            continue  # not finished
        finish, definition = time_of(data, "completedOn"), integer(data, "releaseDefinition", "id")
        if finish is None or definition is None:
            skipped += 1
            continue
        collection = record.key.split(":", 1)[0]
        release = releases.get(f"{collection}:{dig(data, 'release', 'id')}")
        build = _primary_build(release)
        name = f"{text(data, 'releaseDefinition', 'name') or definition} / {environment}"
        found.append(Deployment("classic", ("classic", definition, environment), name, status, finish,
                                f"{collection}:{build}" if build is not None else None, f"c:{record.key}"))
    return found, skipped


def _primary_build(release) -> int | None:
    """The build id of a release's primary Build artifact (``definitionReference.version.id``)."""
    for artifact in items(release, "artifacts"):
        if dig(artifact, "isPrimary") is True and text(artifact, "type") == "Build":
            return integer(artifact, "definitionReference", "version", "id")
    return None


def _yaml(snapshot: Snapshot) -> tuple[list[Deployment], int]:
    environments = {}
    for record in snapshot.of("distributedtask.environment"):
        if is_production_environment(record.data):
            environments[record.key] = text(record.data, "name")  # {projectId}:{environmentId}
    builds = {(text(r.data, "project", "id"), integer(r.data, "id")): r.key for r in snapshot.of("build.build")}
    attempts: dict[tuple, list] = defaultdict(list)
    skipped = 0
    for record in snapshot.of("distributedtask.environment_deployment"):
        project, environment = record.key.split(":")[0], integer(record.data, "environmentId")
        if environment is None:
            skipped += 1
            continue
        if f"{project}:{environment}" not in environments:
            continue
        run, attempt = integer(record.data, "owner", "id"), integer(record.data, "stageAttempt") or 1
        if run is None:
            skipped += 1
            continue
        attempts[(project, environment, run, attempt)].append(record)
    found = []
    for (project, environment, run, attempt), records in sorted(attempts.items(), key=lambda kv: str(kv[0])):
        finishes = [time_of(r.data, "finishTime") for r in records]
        if any(f is None for f in finishes):
            continue  # not finished
        result = min((_TASK_RESULTS.get(text(r.data, "result") or "", "skipped") for r in records), key=_WORST.index)
        if result == "skipped":
            continue
        definition = integer(records[0].data, "definition", "id")
        name = f"{text(records[0].data, 'definition', 'name') or definition} / {environments[f'{project}:{environment}']}"
        found.append(Deployment("yaml", ("yaml", project, definition, environment), name, result, max(finishes),
                                builds.get((project, run)), f"y:{project}:{environment}:{run}:{attempt:09d}"))
    return found, skipped


def yaml_reason(snapshot: Snapshot) -> str | None:
    """Why YAML environment deployments are missing from the deployment metrics, or None if they are not."""
    versions = snapshot.api_versions
    if versions:
        old = [v for v in versions if _major_minor(v) < (6, 0)]
        if old:
            return f"YAML environments: not available on this server version (api-version {', '.join(old)}); classic releases only"
        return None
    if snapshot.of("distributedtask.environment") or snapshot.of("distributedtask.environment_deployment"):
        return None
    return "YAML environments: server version unknown (no heartbeat names it) and no environment records; classic releases only"


def _major_minor(version: str) -> tuple[int, int]:
    parts = (version.split("-")[0].split(".") + ["0"])[:2]
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return (0, 0)
