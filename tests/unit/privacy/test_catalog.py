"""The privacy field catalog against what the satellite really collects and what the API declares.

The bodies are the records syncs of a tiny simulated world delivered to the reference receiver (with no
policy): every path of the catalog must meet a string in a body of its type, or, for what a real server may
send and the simulator does not (``triggerInfo``, ``finalYaml``, a status's description...), be declared by
the committed OpenAPI schema of its type (``tests/spec_schemas``, any server version). And the other way:
every URL, identity name and e-mail address of those bodies must be under a path of the catalog. The sync
runs on loopback, hence the integration mark.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import pytest

from satellite.privacy.catalog import CATEGORIES, ENVIRONMENT_NAMES, FIELDS, RecordFields, update_document
from satellite.privacy.paths import matches, parse_path
from satellite.streams import RECORD_TYPES

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "privacy.md"
# record type -> the spec schema ($defs) of its data
SCHEMAS = {
    "build.build": "Build", "build.change": "Change", "build.definition": "BuildDefinition",
    "build.timeline_record": "TimelineRecord", "core.identity": "Identity", "core.project": "TeamProjectReference",
    "core.team": "WebApiTeam", "core.team_member": "TeamMember", "distributedtask.environment": "EnvironmentInstance",
    "distributedtask.environment_deployment": "EnvironmentDeploymentExecutionRecord", "git.commit": "GitCommitRef",
    "git.pull_request": "GitPullRequest", "git.pull_request_commit": "GitCommitRef",
    "git.pull_request_iteration": "GitPullRequestIteration", "git.pull_request_reviewer": "IdentityRefWithVote",
    "git.pull_request_thread": "GitPullRequestCommentThread", "git.pull_request_work_item": "ResourceRef",
    "git.push": "GitPush", "git.ref": "GitRef", "git.repository": "GitRepository", "pipelines.pipeline": "Pipeline",
    "pipelines.run": "Run", "release.definition": "ReleaseDefinition", "release.deployment": "Deployment",
    "release.release": "Release", "tfvc.branch": "TfvcBranch", "tfvc.change": "TfvcChange",
    "tfvc.changeset": "TfvcChangeset", "tfvc.label": "TfvcLabel", "wit.classification_node": "WorkItemClassificationNode",
    "wit.comment": "wit.Comment", "wit.field": "WorkItemField2", "wit.work_item": "WorkItem",
    "wit.work_item_link": "WorkItemLink", "wit.work_item_revision": "WorkItem", "wit.work_item_type": "WorkItemType",
    "work.team_iteration": "TeamSettingsIteration",
}
URL = re.compile(r"^(https?|ssh)://")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def leaves(data: Any, at: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(concrete path, value) of every scalar in ``data``."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, at + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from leaves(value, at + (index,))
    else:
        yield at, data


def covered(data: Any, paths: tuple[str, ...]) -> set[tuple]:
    """The concrete paths of the strings of ``data`` that one of ``paths`` reaches (the policy's matcher)."""
    patterns = [parse_path(p) for p in paths]
    return {at for at, value in leaves(data) if isinstance(value, str) and any(matches(p, at) for p in patterns)}


@lru_cache(maxsize=1)
def spec_definitions() -> dict[str, Any]:
    """The ``$defs`` of every committed spec version, later versions over earlier ones."""
    found: dict[str, Any] = {}
    for path in sorted((REPO / "tests" / "spec_schemas").glob("*.json")):
        found.update(json.loads(path.read_text())["$defs"])
    return found


def spec_declares(record_type: str, path: str) -> bool:
    """Whether the spec schema of ``record_type`` has ``path`` (``*``: a list's items or any member)."""
    return _declares(spec_definitions()[SCHEMAS[record_type]], path.split("."))


def _declares(schema: Any, segments: list[str]) -> bool:
    definitions = spec_definitions()
    while isinstance(schema, dict) and "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[-1]]
    if not segments:
        return True
    if not isinstance(schema, dict):
        return False
    if schema.get("type") == "array":
        return segments[0] == "*" and _declares(schema.get("items", {}), segments[1:])
    properties, extra = schema.get("properties") or {}, schema.get("additionalProperties")
    head = segments[0]
    candidates = list(properties.values()) if head == "*" else [properties[head]] if head in properties else []
    if isinstance(extra, dict) and (head == "*" or not candidates):
        if not extra:  # any value: a free-form map (a work item's fields)
            return True
        candidates.append(extra)
    return any(_declares(c, segments[1:]) for c in candidates)


@pytest.fixture(scope="module")
def bodies(tmp_path_factory) -> dict[str, list[Any]]:
    """Record type -> the data of every record a backfill and an incremental sync delivered, at server profiles
    2022 and 2019 (whose bodies differ: 2019's release environments carry their options and description)."""
    from satellite.config import load_config
    from satellite.retrying import RetryPolicy
    from satellite.sealing.keys import generate_key_files
    from satellite.sync.once import sync_once
    from standins.ado_simulator.world.world import generate_world
    from tests.support import API_KEY, API_KEY_ENV, MiB, start_receiver, start_simulator, write_config

    tmp = tmp_path_factory.mktemp("catalog")
    retry = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
    key_files = generate_key_files(tmp / "keys")
    found: dict[str, list[Any]] = {t: [] for t in sorted(RECORD_TYPES)}
    for profile in ("2022", "2019"):
        world = generate_world(seed=11, scale="tiny")
        receiver = start_receiver(tmp / f"receiver-{profile}", key_files, max_batch_bytes=2 * MiB)
        try:
            with start_simulator(world, profile) as simulator:
                config = load_config(write_config(tmp / f"satellite-{profile}", ado_url=simulator.collection_url,
                                                  endpoint=receiver.url, key_files=key_files), env={API_KEY_ENV: API_KEY})
                assert sync_once(config, ado_retry=retry, upload_retry=retry).ok
                world.advance(6)
                assert sync_once(config, ado_retry=retry, upload_retry=retry).ok
            for record_type in found:
                found[record_type] += [data for op, data in receiver.records(record_type).values() if op == "upsert"]
        finally:
            receiver.close()
    return found


def test_every_record_type_collected_has_an_entry_and_no_other():
    assert set(FIELDS) == set(RECORD_TYPES)
    assert all(isinstance(f, RecordFields) for f in FIELDS.values())


def test_paths_are_well_formed_and_listed_once_per_kind():
    for record_type, fields in FIELDS.items():
        for category in CATEGORIES:
            paths = fields.of(category)
            assert isinstance(paths, tuple) and len(set(paths)) == len(paths), (record_type, category)
            for path in paths:
                pattern = parse_path(path)  # the policy's syntax (ValueError otherwise)
                assert "**" not in pattern, (record_type, path)  # the catalog names where, never "anywhere below"
                assert pattern[-1] != "*" or category == "text", (record_type, path)  # any member: only as text
        # a value is one kind, except an avatar URL, which both people and URL presets replace
        overlap = {p for a in CATEGORIES for b in CATEGORIES if a < b for p in set(fields.of(a)) & set(fields.of(b))}
        assert all(p.endswith("imageUrl") for p in overlap), (record_type, overlap)


def test_environment_name_paths_are_names_of_their_type():
    for record_type, paths in ENVIRONMENT_NAMES.items():
        assert set(paths) <= set(FIELDS[record_type].names), record_type


def test_every_path_meets_a_string_in_a_body_of_its_type_or_is_in_its_spec_schema(bodies):
    assert all(bodies[t] for t in RECORD_TYPES), [t for t in RECORD_TYPES if not bodies[t]]
    assert set(SCHEMAS) == set(RECORD_TYPES) and all(s in spec_definitions() for s in SCHEMAS.values())
    met = {(t, p) for t, fields in FIELDS.items() for p in fields.paths() if any(covered(data, (p,)) for data in bodies[t])}
    missing = [(t, p) for t, fields in FIELDS.items() for p in fields.paths() if (t, p) not in met and not spec_declares(t, p)]
    assert not missing, missing


def test_every_url_identity_name_and_email_of_the_bodies_is_catalogued(bodies):
    """The other way round: what the presets must replace is under a path of the catalog."""
    uncatalogued: set[tuple[str, str]] = set()
    for record_type, records in bodies.items():
        fields = FIELDS[record_type]
        for data in records:
            urls, people = covered(data, fields.urls + fields.people), covered(data, fields.people)
            for at, value in leaves(data):
                shown = ".".join("*" if isinstance(k, int) else k for k in at)
                if not isinstance(value, str):
                    continue
                if URL.match(value) and at not in urls:
                    uncatalogued.add((record_type, f"url {shown}"))
                if EMAIL.search(value) and at not in people:
                    uncatalogued.add((record_type, f"e-mail {shown}"))
                if at and at[-1] in ("displayName", "uniqueName", "providerDisplayName") and at not in people:
                    uncatalogued.add((record_type, f"person {shown}"))
    assert not uncatalogued, sorted(uncatalogued)


def test_docs_privacy_md_shows_the_catalog():
    text = DOC.read_text()
    assert update_document(text) == text, "run: python -m satellite.privacy.catalog docs/privacy.md"
