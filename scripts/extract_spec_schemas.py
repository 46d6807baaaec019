"""Extract the 200-response JSON Schemas of the on-prem REST specs the simulator imitates.

    python scripts/extract_spec_schemas.py [SPECS_DIR]

``SPECS_DIR`` defaults to ``../shared/ado-rest-specs`` relative to the repository root (the
official ``MicrosoftDocs/vsts-rest-api-specs`` on-prem folders). For each server version
5.0/6.0/7.0/7.1 it writes ``tests/spec_schemas/<version>.json``:

    {"version": "7.0",
     "operations": {"GET /{}/_apis/git/repositories/{}/commits":
                        {"apiVersion": "7.0", "preview": false, "optional": [0], "query": ["$skip", ...],
                         "scopes": ["vso.code"],
                         "schema": {"type": "array", "items": {"$ref": "#/$defs/GitCommitRef"}}}, ...},
     "$defs": {"GitCommitRef": {...}, ...}}

Keys are ``METHOD /path``: the spec path without ``/{collection}`` and its query part (``x-ms-paths``
are merged with ``paths``), parameter names replaced by ``{}``, lower-cased. ``optional`` lists the
indexes of path segments marked ``x-ms-required: false``, ``query`` the query parameters (but
api-version), ``scopes`` the PAT scopes the spec names. Only GET and POST of the areas below are
kept (of hooks PUT and DELETE too; of distributedtask only the environments), with the definitions they reach; ``allOf`` inheritance is flattened into ``properties``,
descriptions dropped. A definition name that means different things in two areas is qualified as
``area.Name``. Two operations with the same key (e.g. Get Commits and Get Push Commits) give an
``anyOf`` of their schemas. The output is committed: the project never reads the specs at run or
test time. Rerun this script after updating the specs and commit the result.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

AREAS = ("core", "git", "tfvc", "build", "release", "pipelines", "wit", "work", "ims", "distributedtask", "hooks")
# Areas the simulator serves only a part of: the paths kept (a substring of the spec path).
_ONLY = {"distributedtask": "/_apis/distributedtask/environments"}
VERSIONS = ("5.0", "6.0", "7.0", "7.1")
METHODS = ("get", "post")
_METHODS_OF = {"hooks": ("get", "post", "put", "delete")}  # areas whose writes the simulator serves too
REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "tests" / "spec_schemas"
_REF = "#/definitions/"
_PARAM = re.compile(r"\{[^}]*\}")
_DROPPED = {"description", "x-ms-enum", "readOnly", "example"}
# The specs write an unresolved generic parameter (``Change<T>.item``, ``StreamedBatch<T>.values``)
# as ``{"type": "string", "format": "T"}``; the wire carries objects: the type the server substitutes
# where the specs define it, else any value. ``format: JObject`` is any JSON value too, and so is a
# bare ``{"type": "object"}``: the specs' rendering of .NET ``object`` (e.g. work item field values).
# Definitions the server serializes with a converter of its own: an IdentityDescriptor goes on the
# wire as the string "IdentityType;Identifier" (e.g. "System.Security.Principal.WindowsIdentity;S-1-5-...").
_WIRE_SHAPES = {"IdentityDescriptor": {"type": "string"}}
_GENERIC_ITEMS = {"GitChange": "GitItem", "GitPullRequestChange": "GitItem", "TfvcChange": "TfvcItem",
                  "ReportingWorkItemRevisionsBatch": "WorkItem"}


def normalize_path(path: str) -> str:
    """``/{collection}/{project}/_apis/git/pullRequests?x`` -> ``/{}/_apis/git/pullrequests``."""
    path = path.split("?", 1)[0]
    if path.startswith("/{collection}"):
        path = path[len("/{collection}"):]
    return _PARAM.sub("{}", path).lower() or "/"


def _clean(node: object) -> object:
    """A schema node without documentation keys; ``$ref`` kept as the bare definition name."""
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "$ref":
            out[key] = value[len(_REF):]
        elif key in ("enum", "format", "type"):
            out[key] = value
        elif key == "properties":
            out[key] = {name: _clean(prop) for name, prop in value.items()}
        else:
            out[key] = _clean(value)
    return {} if out == {"type": "object"} else out  # System.Object: any JSON value


class AreaSpec:
    """One area's spec file of one version: its operations and flattened definitions."""

    def __init__(self, area: str, document: dict) -> None:
        self.area = area
        self._definitions = document.get("definitions", {})
        self._parameters = document.get("parameters", {})
        self.paths = {**document.get("paths", {}), **document.get("x-ms-paths", {})}
        self._flat: dict[str, dict] = {}

    def definition(self, name: str) -> dict:
        """The definition with its ``allOf`` bases merged in (bases first, own properties win)."""
        if name in _WIRE_SHAPES:
            return _WIRE_SHAPES[name]
        if name not in self._flat:
            raw = self._definitions[name]
            properties: dict = {}
            shape: dict = {}  # an inline allOf member (dictionaries, arrays) gives the definition its shape
            for base in raw.get("allOf", ()):
                if "$ref" in base:
                    properties.update(self.definition(base["$ref"][len(_REF):]).get("properties", {}))
                else:
                    shape.update(_clean(base))  # type: ignore[arg-type]
            flat = _clean({k: v for k, v in raw.items() if k != "allOf"})
            assert isinstance(flat, dict)
            properties.update(shape.pop("properties", {}))
            flat.update(shape)
            if properties or "properties" in flat:
                flat["properties"] = {**properties, **flat.get("properties", {})}
            flat.setdefault("type", "object")
            self._flat[name] = _substitute(flat, {"$ref": _GENERIC_ITEMS[name]} if name in _GENERIC_ITEMS else {})
        return self._flat[name]

    def parameter(self, param: dict) -> dict:
        if "$ref" in param:
            return self._parameters[param["$ref"].rsplit("/", 1)[-1]]
        return param


def _substitute(node: object, item: dict) -> object:
    """``node`` with generic-parameter (``format: T``) schemas replaced by ``item``, JObject by ``{}``."""
    if isinstance(node, list):
        return [_substitute(x, item) for x in node]
    if not isinstance(node, dict):
        return node
    if node.get("format") == "T":
        return item
    if node.get("format") == "JObject":
        return {}
    return {k: (v if k == "enum" else _substitute(v, item)) for k, v in node.items()}


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def _rewrite(node: object, names: dict[str, str]) -> object:
    """Bare ``$ref`` names -> ``#/$defs/<qualified name>``."""
    if isinstance(node, list):
        return [_rewrite(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    return {k: (f"#/$defs/{names[v]}" if k == "$ref" else _rewrite(v, names)) for k, v in node.items()}


def _operation(spec: AreaSpec, path: str, op: dict) -> dict:
    segments = path.split("?", 1)[0].split("/")[2:]  # after "", "{collection}"
    optional_names = {
        p["name"] for p in map(spec.parameter, op.get("parameters", ())) if p.get("in") == "path" and p.get("x-ms-required") is False
    }
    optional = [i for i, seg in enumerate(segments) if seg.startswith("{") and seg[1:-1] in optional_names]
    query = sorted({p["name"] for p in map(spec.parameter, op.get("parameters", ())) if p.get("in") == "query"} - {"api-version"})
    version = op.get("x-ms-docs-override-version", "")
    scopes = sorted({s for sec in op.get("security", ()) for s in sec.get("oauth2", ())})
    response = op.get("responses", {}).get("200", {})
    return {
        "apiVersion": version,
        "preview": bool(op.get("x-ms-preview")) or "preview" in version,
        "optional": optional,
        "query": query,
        "scopes": scopes,
        "schema": _clean(response.get("schema", {})),
    }


def extract_version(specs_dir: Path, version: str) -> dict:
    """The schema document of one server version (``operations`` + ``$defs``)."""
    operations: dict[str, list[tuple[str, dict]]] = {}
    specs: dict[str, AreaSpec] = {}
    for area in AREAS:
        files = sorted((specs_dir / area / f"azure-devops-server-{version}").glob("*-onprem.json"))
        for file in files:
            spec = AreaSpec(area, json.loads(file.read_text(encoding="utf-8-sig")))
            kept = {path: methods for path, methods in spec.paths.items() if _ONLY.get(area, "/") in path}
            if not kept:
                continue
            specs[area] = spec
            for path, methods in sorted(kept.items()):
                for method in _METHODS_OF.get(area, METHODS):
                    if method in methods:
                        key = f"{method.upper()} {normalize_path(path)}"
                        operations.setdefault(key, []).append((area, _operation(spec, path, methods[method])))

    reachable: dict[tuple[str, str], dict] = {}  # (area, name) -> cleaned definition, refs bare
    pending = [(area, name) for entries in operations.values() for area, op in entries for name in _refs(op["schema"])]
    while pending:
        area, name = pending.pop()
        if (area, name) in reachable:
            continue
        definition = specs[area].definition(name)
        reachable[(area, name)] = definition
        pending.extend((area, ref) for ref in _refs(definition))

    by_name: dict[str, set[str]] = {}
    for (area, name), definition in reachable.items():
        by_name.setdefault(name, set()).add(json.dumps(definition, sort_keys=True))
    qualified = {(area, name): name if len(by_name[name]) == 1 else f"{area}.{name}" for area, name in reachable}

    def names_for(area: str) -> dict[str, str]:
        return {name: qualified[(a, name)] for a, name in reachable if a == area}

    defs = {qualified[key]: _rewrite(definition, names_for(key[0])) for key, definition in reachable.items()}
    merged: dict[str, dict] = {}
    for key, entries in operations.items():
        schemas: list = []
        for area, op in entries:
            schema = _rewrite(op["schema"], names_for(area))
            if schema not in schemas:
                schemas.append(schema)
        first = entries[0][1]
        merged[key] = {
            "apiVersion": first["apiVersion"],
            "preview": first["preview"],
            "optional": sorted({i for _, op in entries for i in op["optional"]}),
            "query": sorted({name for _, op in entries for name in op["query"]}),
            "scopes": sorted({s for _, op in entries for s in op["scopes"]}),
            "schema": schemas[0] if len(schemas) == 1 else {"anyOf": schemas},
        }
    return {"version": version, "operations": merged, "$defs": defs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="?", type=Path, default=REPO_ROOT / ".." / "shared" / "ado-rest-specs",
                        help="the ado-rest-specs folder (default ../shared/ado-rest-specs from the repository root)")
    args = parser.parse_args(argv)
    if not (args.specs / "git").is_dir():
        print(f"extract_spec_schemas: no specs at {args.specs}", file=sys.stderr)
        return 1
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for version in VERSIONS:
        document = extract_version(args.specs, version)
        target = OUTPUT / f"{version}.json"
        target.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"{target.relative_to(REPO_ROOT)}: {len(document['operations'])} operations, {len(document['$defs'])} definitions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
