"""Derive the fields Microsoft's example responses carry beyond the spec schemas, per simulator GET route.

    python scripts/extract_example_fields.py [--specs DIR]           # print a summary
    python scripts/extract_example_fields.py [--specs DIR] --write   # refresh the committed data file
    python scripts/extract_example_fields.py [--specs DIR] --check   # exit 1 when it is stale

``DIR`` defaults to ``../shared/ado-rest-specs`` from the repository root. For every api-version
5.0/6.0/7.0/7.1 and every GET route of the simulator's route table (``standins.ado_simulator.app.AREAS``)
that implements an operation of that version's spec, the script reads the operation's example
responses (``x-ms-examples``; for builds, whose examples were removed upstream, the
``build/legacy-5.0-examples`` listed in ``_LEGACY``), walks each 200 body against the operation's
schema in the committed extract (``tests/spec_schemas/<version>.json``, the one the strict spec test
closes) and records every property an object carries that its definition does not list
(``_links`` and the open .NET dictionaries aside), with its path in the body and the example's value:

    {"GET {project}/_apis/release/releases/{releaseId}":
        {"7.0": {"examples": ["release/.../GET__GetARelease-onprem.json"],
                 "fields": [{"path": "environments[].preApprovalsSnapshot.approvals[].isNotificationOn",
                             "value": false}, ...]}}}

Paths: ``a.b`` a property, ``a[]`` every item of a list, ``a.*`` every value of a dictionary; a
list operation's items sit under ``value[]`` (the wire's ``{"count", "value"}`` envelope). The first
example (by file name) that shows a path gives its value; an object operation's example written as
a list envelope is another operation's answer and is skipped. The output is committed
(``standins/ado_simulator/wire/example_extras.json``) and read by ``wire/extras.py``: only this
script reads ``../shared``. Rerun it with ``--write`` after adding routes or updating the specs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
for _entry in (REPO_ROOT, REPO_ROOT / "scripts"):
    if str(_entry) not in sys.path:
        sys.path.insert(0, str(_entry))

from extract_spec_schemas import AREAS, VERSIONS, normalize_path

from standins.ado_simulator.app import AREAS as ROUTE_MODULES
from tests.simulator_samples import spec_index

__all__ = ["OUTPUT", "example_bodies", "extra_fields", "extract", "render"]

OUTPUT = REPO_ROOT / "standins" / "ado_simulator" / "wire" / "example_extras.json"
DEFAULT_SPECS = REPO_ROOT / ".." / "shared" / "ado-rest-specs"
# .NET dictionaries the specs describe by their CLR members: any keys (as the strict spec test).
OPEN_DEFINITIONS = frozenset({"PropertiesCollection", "ReferenceLinks"})
FREE_KEYS = frozenset({"_links"})
# Build examples no spec references any more (build/legacy-5.0-examples): file -> the GET operation.
_LEGACY = {
    "builds/GET__build_builds__knownBuildId_.json": "/{}/_apis/build/builds/{}",
    "builds/GET__build_builds_definitions-_definitionId__statusFilter-completed__top-1.json": "/{}/_apis/build/builds",
    "builds/GET__build_builds_definitions-_definitionId__statusFilter-completed_continuationToken-_continuationToken_.json":
        "/{}/_apis/build/builds",
    "builds/GET__build_builds_tagFilters-myTag.json": "/{}/_apis/build/builds",
    "changes/GET__build_builds__knownBuildId__changes.json": "/{}/_apis/build/builds/{}/changes",
    "definitions/GET__build_definitions.json": "/{}/_apis/build/definitions",
    "definitions/GET__build_definitions__definitionId_.json": "/{}/_apis/build/definitions/{}",
    "timeline/GET__build_builds__knownBuildId__timeline.json": "/{}/_apis/build/builds/{}/timeline/{}",
    "artifacts/GET__build_builds__knownBuildId__artifacts.json": "/{}/_apis/build/builds/{}/artifacts",
    "logs/GET__build_builds__knownBuildId__logs.json": "/{}/_apis/build/builds/{}/logs",
    "tags/GET__build_builds__knownBuildId__tags.json": "/{}/_apis/build/builds/{}/tags",
    "tags/GET__build_tags.json": "/{}/_apis/build/tags",
    "revisions/GET__build_definitions__definitionId__revisions.json": "/{}/_apis/build/definitions/{}/revisions",
}
_LEGACY_DIR = Path("build") / "legacy-5.0-examples"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8-sig"))


def _response_body(example: Any) -> Any:
    if not isinstance(example, dict):
        return None
    ok = example.get("responses", {}).get("200")
    return ok.get("body") if isinstance(ok, dict) else None


def example_bodies(specs: Path, version: str) -> dict[str, list[tuple[str, Any]]]:
    """Spec key (``GET /{}/_apis/...``) -> [(example file relative to ``specs``, 200 body)], files sorted."""
    found: dict[str, dict[str, Any]] = {}
    for area in AREAS:
        for spec_file in sorted((specs / area / f"azure-devops-server-{version}").glob("*-onprem.json")):
            document = _load(spec_file)
            paths = {**document.get("paths", {}), **document.get("x-ms-paths", {})}
            for path, methods in paths.items():
                examples = (methods.get("get") or {}).get("x-ms-examples") or {}
                for ref in examples.values():
                    target = (spec_file.parent / ref["$ref"]).resolve()
                    body = _response_body(_load(target)) if target.is_file() else None
                    if body is not None:
                        name = target.relative_to(specs.resolve()).as_posix()
                        found.setdefault(f"GET {normalize_path(path)}", {})[name] = body
    for name, path in _LEGACY.items():
        target = specs / _LEGACY_DIR / name
        body = _response_body(_load(target)) if target.is_file() else None
        if body is not None:
            found.setdefault(f"GET {path}", {})[(_LEGACY_DIR / name).as_posix()] = body
    return {key: sorted(files.items()) for key, files in found.items()}


def _resolve(schema: dict, defs: dict) -> tuple[dict, str | None]:
    name = None
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = defs[name]
    return schema, name


def _variants(schema: dict, defs: dict) -> list[tuple[dict, str | None]]:
    schema, name = _resolve(schema, defs)
    if "anyOf" in schema:
        return [v for member in schema["anyOf"] for v in _variants(member, defs)]
    return [(schema, name)]


def extra_fields(body: Any, schema: dict, defs: dict, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every property of ``body`` that ``schema`` (and its nested definitions) does not list."""
    variants = _variants(schema, defs)
    if isinstance(body, list):
        items = [v.get("items") for v, _ in variants if v.get("type") == "array" and isinstance(v.get("items"), dict)]
        for item in body:
            for member in items[:1]:
                yield from extra_fields(item, member, defs, f"{path}[]")
        return
    if not isinstance(body, dict):
        return
    objects = [(v, n) for v, n in variants if v.get("type", "object") == "object"]
    if not objects or any("properties" not in v or n in OPEN_DEFINITIONS for v, n in objects):
        dictionary = [v["additionalProperties"] for v, _ in objects if isinstance(v.get("additionalProperties"), dict)]
        for key, value in body.items():
            for member in dictionary[:1]:
                yield from extra_fields(value, member, defs, _join(path, "*"))
        return
    properties: dict[str, dict] = {}
    for v, _ in objects:
        for key, member in v["properties"].items():
            properties.setdefault(key, member)
    for key, value in body.items():
        if key in properties:
            yield from extra_fields(value, properties[key], defs, _join(path, key))
        elif key not in FREE_KEYS and value is not None:
            yield _join(path, key), value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _envelope_items(body: Any) -> list | None:
    """The items of a list operation's example: ``value`` (or the ``values`` some examples misspell), or a bare list."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("value", "values"):
            if isinstance(body.get(key), list):
                return body[key]
    return None


def _misfiled(body: Any, schema: dict, defs: dict) -> bool:
    """A single-object operation's example written as a list envelope (e.g. 5.0's changeset and comments
    examples show another operation's answer): its ``count``/``value`` are not fields of the object."""
    listed = {key for v, _ in _variants(schema, defs) for key in v.get("properties", {})}
    return isinstance(body, dict) and isinstance(body.get("value"), list) and "value" not in listed


def _route_fields(schema: dict, defs: dict, bodies: list[tuple[str, Any]]) -> dict[str, Any]:
    is_list = any(v.get("type") == "array" for v, _ in _variants(schema, defs))
    fields: dict[str, Any] = {}
    used: list[str] = []
    for name, body in bodies:
        if is_list:
            items = _envelope_items(body)
            found = list(extra_fields(items, schema, defs, "value")) if items is not None else []
        elif _misfiled(body, schema, defs):
            continue
        else:
            found = list(extra_fields(body, schema, defs))
        if found:
            used.append(name)
        for path, value in found:
            fields.setdefault(path, value)
    return {"examples": used, "fields": [{"path": p, "value": fields[p]} for p in sorted(fields)]} if fields else {}


def extract(specs: Path) -> dict[str, dict[str, Any]]:
    """``"GET <route pattern>"`` -> api-version -> the examples' extra fields (routes with none left out)."""
    patterns = sorted({r.pattern for module in ROUTE_MODULES for r in module.ROUTES if r.method == "GET"})
    out: dict[str, dict[str, Any]] = {}
    for version in VERSIONS:
        index = spec_index(version)
        bodies = example_bodies(specs, version)
        for pattern in patterns:
            found = index.operation("GET", pattern)
            if found is None or found[0] not in bodies:
                continue
            entry = _route_fields(found[1]["schema"], index.defs, bodies[found[0]])
            if entry:
                out.setdefault(f"GET {pattern}", {})[version] = entry
    return out


def render(data: dict[str, dict[str, Any]]) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", type=Path, default=DEFAULT_SPECS, help="the ado-rest-specs folder (default ../shared/ado-rest-specs)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"write {OUTPUT.relative_to(REPO_ROOT)}")
    group.add_argument("--check", action="store_true", help="exit 1 when the committed file is stale")
    args = parser.parse_args(argv)
    if not (args.specs / "git").is_dir():
        print(f"extract_example_fields: no specs at {args.specs}", file=sys.stderr)
        return 2
    data = extract(args.specs)
    text = render(data)
    if args.check:
        if not OUTPUT.is_file() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT.relative_to(REPO_ROOT)} is stale: run python scripts/extract_example_fields.py --write")
            return 1
        return 0
    if args.write:
        OUTPUT.write_text(text, encoding="utf-8")
    for route, versions in sorted(data.items()):
        counts = ", ".join(f"{v}: {len(e['fields'])}" for v, e in sorted(versions.items()))
        print(f"{route}  ({counts})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
