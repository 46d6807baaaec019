"""Derive, per record type, the fields the API's spec declares: the privacy policy's notion of a known field.

    python scripts/extract_known_fields.py            # print a summary
    python scripts/extract_known_fields.py --write    # refresh the committed data file
    python scripts/extract_known_fields.py --check    # exit 1 when it is stale

Reads the committed spec extract (``tests/spec_schemas/<version>.json``, every version) and writes
``satellite/privacy/known_fields.json``: each record type's schema (``RECORDS``) and every definition it
reaches, reduced to their shape (which members an object declares, what a list holds); the same
definition in several versions is the union of its versions' members. The satellite reads the file
(``satellite.privacy.known``): a member of a record's data that no version declares is unknown, and
``privacy.unknown_fields: drop`` removes its strings (docs/privacy.md).

Shape terms: ``true`` (anything: a string, a number, an open object such as a work item's ``fields``),
``"Name"`` (a definition), ``{"items": [terms]}`` (a list), ``{"members": {name: [terms]}, "any": [terms]}``
(an object; ``any``: its ``additionalProperties``, a dictionary's values). The .NET dictionaries the specs
describe by their CLR members (``PropertiesCollection``: a thread's or an identity's ``properties``) are
open, as for the strict spec test and ``scripts/extract_example_fields.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SPECS = REPO_ROOT / "tests" / "spec_schemas"
OUTPUT = REPO_ROOT / "satellite" / "privacy" / "known_fields.json"

__all__ = ["OUTPUT", "RECORDS", "extract", "render"]

# record type -> the spec definition of its data (the items of the route that collects it)
RECORDS = {
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
OPEN_DEFINITIONS = frozenset({"PropertiesCollection", "ReferenceLinks"})


def _terms(schema: Any, found: set[str]) -> list:
    """The shape terms of one schema node; ``found`` collects the definitions it names."""
    if not isinstance(schema, dict):
        return [True]
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        found.add(name)
        return [name]
    alternatives = [s for key in ("anyOf", "oneOf", "allOf") for s in schema.get(key, ())]
    if alternatives:
        return _union([t for s in alternatives for t in _terms(s, found)])
    if schema.get("type") == "array":
        return [{"items": _terms(schema.get("items"), found)}]
    if "properties" in schema:
        term: dict[str, Any] = {"members": {k: _terms(v, found) for k, v in sorted(schema["properties"].items())}}
        if isinstance(schema.get("additionalProperties"), dict):
            term["any"] = _terms(schema["additionalProperties"], found)
        return [term]
    if isinstance(schema.get("additionalProperties"), dict) and schema["additionalProperties"]:
        return [{"members": {}, "any": _terms(schema["additionalProperties"], found)}]
    return [True]  # a primitive, an open object, anything


def _union(terms: list) -> list:
    """Terms merged: ``true`` absorbs all; objects merge member-wise, lists item-wise; names once."""
    if any(t is True for t in terms):
        return [True]
    names = sorted({t for t in terms if isinstance(t, str)})
    objects = [t for t in terms if isinstance(t, dict) and "members" in t]
    lists = [t for t in terms if isinstance(t, dict) and "items" in t]
    out: list = list(names)
    if lists:
        out.append({"items": _union([i for t in lists for i in t["items"]])})
    if objects:
        members: dict[str, list] = {}
        for t in objects:
            for k, v in t["members"].items():
                members[k] = _union(members.get(k, []) + v)
        merged: dict[str, Any] = {"members": dict(sorted(members.items()))}
        extra = [i for t in objects for i in t.get("any", ())]
        if extra:
            merged["any"] = _union(extra)
        out.append(merged)
    return out


def extract(specs: Path = SPECS) -> dict:
    """The committed document: ``records`` (type -> definition) and the ``definitions`` they reach."""
    versions = sorted(specs.glob("*.json"))
    documents = {p.stem: json.loads(p.read_text(encoding="utf-8"))["$defs"] for p in versions}
    definitions: dict[str, list] = {}
    pending, seen = set(RECORDS.values()), set()
    while pending:
        name = pending.pop()
        seen.add(name)
        found: set[str] = set()
        if name in OPEN_DEFINITIONS:
            terms = [True]
        else:
            terms = _union([t for defs in documents.values() if name in defs for t in _terms(defs[name], found)])
        if not terms:
            raise SystemExit(f"no spec version defines {name}")
        definitions[name] = terms
        pending |= found - seen
    return {
        "format": 1,
        "source": [f"tests/spec_schemas/{p.name}" for p in versions],
        "records": dict(sorted(RECORDS.items())),
        "definitions": dict(sorted(definitions.items())),
    }


def render(document: dict) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"write {OUTPUT.relative_to(REPO_ROOT)}")
    action.add_argument("--check", action="store_true", help="exit 1 when the committed file is stale")
    args = parser.parse_args(argv)
    text = render(extract())
    if args.write:
        OUTPUT.write_text(text, encoding="utf-8")
        return 0
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(REPO_ROOT)} is stale: run python scripts/extract_known_fields.py --write")
            return 1
        return 0
    document = json.loads(text)
    print(f"{len(document['records'])} record types, {len(document['definitions'])} definitions, {len(text)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
