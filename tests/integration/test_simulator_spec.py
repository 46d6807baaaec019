"""Spec fidelity: every simulator route, on every profile, answers what the official on-prem spec of
that api-version describes (committed JSON Schemas from ``scripts/extract_spec_schemas.py``).

For each profile and each sample request (``tests/simulator_samples``) the 2xx JSON body must
validate against the operation's 200 schema, with two rules the specs leave out: an object may
carry no property its definition does not list (``_links`` aside), and ``null`` stands for an
absent value. A route a profile lacks must answer the HTML 404 page, and only where that
version's spec lacks the operation too. Across profiles, a property that an older spec knows and a
newer profile sends must be sent by the older profile as well. Every route (method, pattern, level)
answers some sample with 2xx at each profile whose spec has it: the samples are a crawl of every
route family, and the only documented exception (a not-started build's timeline) is tested apart.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
import jsonschema
import pytest

from standins.ado_simulator.app import create_app
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.wire.routing import COLLECTION, SERVER
from standins.ado_simulator.world.pipelines.builds import NOT_STARTED, builds_of
from standins.ado_simulator.world.world import World, generate_world
from standins.loopback import serve_in_thread
from tests.simulator_samples import (
    api_version,
    load_samples,
    request_url,
    sample_route,
    spec_index,
    split_sample,
)

pytestmark = pytest.mark.integration

PAT = "sim-pat"
HEADERS = {"X-TFS-FedAuthRedirect": "Suppress"}
# Routes no spec describes (Microsoft documents them only through the python client's models).
NOT_IN_SPECS = {
    ("OPTIONS", "_apis"): "ApiResourceLocation discovery: not an operation of any spec",
    ("OPTIONS", "_apis/{area}"): "ApiResourceLocation discovery of one area (the Node.js client's): as OPTIONS _apis",
    ("GET", "_apis/connectionData"): "only mentioned in spec text; shape from the client's ConnectionData model",
    ("GET", "_apis/ResourceAreas"): "location service, not in the on-prem specs; on-prem it answers an empty list",
    ("GET", "_apis/projectCollections"): "only the TeamProjectCollectionReference model exists in the core spec",
    ("GET", "_apis/projectCollections/{collectionId}"): "as projectCollections",
}
# Scopes the server asks beyond what a spec's security block names: the 7.1 hooks spec lists only the read
# scopes of the events' areas (vso.work, vso.build, vso.code); the service hooks scopes guard the area.
SCOPES_BEYOND_SPEC = {"vso.hooks": "service hooks (read)", "vso.hooks_write": "service hooks (read and write)"}
# .NET dictionaries the specs describe by their CLR members (count, item, keys...): any keys on the wire.
OPEN_DEFINITIONS = {"PropertiesCollection", "ReferenceLinks"}


# -- the validator -------------------------------------------------------------------------------


def _nullable(schema: dict) -> dict:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    out = dict(schema)
    if "type" in out:
        out["type"] = [out["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


@cache
def strict_defs(version: str) -> dict:
    """The version's definitions, closed: unknown properties fail, null passes, ``_links`` is free."""
    defs = copy.deepcopy(spec_index(version).defs)
    for name, definition in defs.items():
        properties = definition.get("properties")
        if not properties:
            continue
        definition["properties"] = {k: _nullable(v) for k, v in properties.items()} | {"_links": {}}
        if "additionalProperties" not in definition and name not in OPEN_DEFINITIONS:
            definition["additionalProperties"] = False
    return defs


def _variants(schema: dict) -> list[dict]:
    return schema["anyOf"] if set(schema) == {"anyOf"} else [schema]


def _is_list(schema: dict, defs: dict) -> bool:
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema.get("type") == "array"


def schema_errors(version: str, schema: dict, body: Any, null_items: bool = False) -> list[str]:
    """Why ``body`` does not fit the operation's 200 schema (empty when one variant fits).

    Array-typed operations arrive in the ``{"count": n, "value": [...]}`` envelope: each item of
    ``value`` is validated against the array's item schema; ``null_items`` lets ``null`` stand for
    an item (what ``errorPolicy=omit`` answers for ids that do not exist)."""
    defs = strict_defs(version)
    problems: list[str] = []
    for variant in _variants(schema):
        if _is_list(variant, defs):
            if not (isinstance(body, dict) and set(body) == {"count", "value"} and isinstance(body["value"], list)):
                problems.append("not a {count, value} envelope")
                continue
            if body["count"] != len(body["value"]):
                problems.append(f"count {body['count']} != {len(body['value'])} items")
                continue
            item_schema = variant.get("items") or defs[variant["$ref"].rsplit("/", 1)[-1]].get("items", {})
            instances = [(f"value[{i}]", item) for i, item in enumerate(body["value"]) if item is not None or not null_items]
            target = item_schema
        else:
            instances, target = [("body", body)], variant
        validator = _validator(version, json.dumps(target, sort_keys=True))
        found = [f"{where}: {_describe(error)}" for where, item in instances for error in validator.iter_errors(item)]
        if not found:
            return []
        problems.extend(found[:5])
    return problems


@cache
def _validator(version: str, target: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$defs": strict_defs(version), **json.loads(target)})


def _describe(error: jsonschema.ValidationError) -> str:
    best = jsonschema.exceptions.best_match([error])
    return f"{'/'.join(map(str, best.absolute_path)) or '.'}: {best.message[:300]}"


# -- running every sample on every profile -------------------------------------------------------


@dataclass
class Outcome:
    profile: str
    method: str
    pattern: str
    path: str
    level: str  # "server" or "collection"
    query: str
    omits: bool  # errorPolicy=omit in the query or body
    status: int
    content_type: str
    body: Any


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(7, "tiny")


@pytest.fixture(scope="module")
def outcomes(world: World) -> dict[str, list[Outcome]]:
    """Profile -> the outcome of every sample request on that profile."""
    samples = load_samples()
    result: dict[str, list[Outcome]] = {}
    for profile_name, profile in PROFILES.items():
        app = create_app(world, profile_name, {PAT: frozenset({"full"})})
        spec = spec_index(profile.max_version)
        outcomes_of_profile = result.setdefault(profile_name, [])
        with serve_in_thread(app) as server, httpx.Client(auth=("", PAT), headers=HEADERS, timeout=30) as client:
            for pattern, factories in sorted(samples.items()):
                for sample in (s for factory in factories for s in factory(world)):
                    method, path, server_level, query, body = split_sample(sample)
                    route = sample_route(app, method, path, server_level)
                    assert route is not None and route.pattern == pattern, f"sample {sample} does not reach route {pattern}"
                    params = dict(query)
                    if route.versioned:
                        found = spec.operation(method, pattern)
                        params["api-version"] = api_version(profile.max_version, found[1]["preview"] if found else route.preview)
                    url = request_url(server.url, world.collection.name, path, server_level)
                    response = client.request(method, url, params=params, json=body)
                    content_type = response.headers.get("content-type", "")
                    parsed = response.json() if content_type.startswith("application/json") else response.text
                    outcomes_of_profile.append(Outcome(
                        profile_name, method, pattern, path, SERVER if server_level else COLLECTION,
                        str(sorted(query.items())), _omits(query, body),
                        response.status_code, content_type, parsed,
                    ))
    return result


def _omits(query: dict, body: Any) -> bool:
    policy = query.get("errorPolicy") or (body.get("errorPolicy") if isinstance(body, dict) else None)
    return str(policy).lower() == "omit"


def _outcome_id(outcome: Outcome) -> str:
    return f"{outcome.profile} {outcome.method} {outcome.path}"


def _routes(world: World) -> Iterator[tuple[str, Any]]:
    for profile_name in PROFILES:
        for route in create_app(world, profile_name).routes:
            yield profile_name, route


# -- tests ---------------------------------------------------------------------------------------


def test_every_registered_route_has_a_sample(world):
    samples = load_samples()
    missing = set()
    for profile_name in PROFILES:
        app = create_app(world, profile_name)
        covered: set[tuple[str, str, str]] = set()
        for factories in samples.values():
            for sample in (s for factory in factories for s in factory(world)):
                method, path, server_level, _, _ = split_sample(sample)
                route = sample_route(app, method, path, server_level)
                if route is not None:
                    covered.add((method, route.pattern, SERVER if server_level else COLLECTION))
        missing |= {
            f"{route.method} {route.pattern} ({level})"
            for route in app.routes for level in route.levels
            if (route.method, route.pattern, level) not in covered
        }
    assert not missing, "routes without a sample in tests/simulator_samples:\n" + "\n".join(sorted(missing))


def test_every_route_answers_a_sample_at_each_profile_that_has_it(world, outcomes):
    """The crawl reaches every route family: each route (method, pattern, level) of each profile's app
    whose operation that profile's spec has, or that no spec has (discovery), answered some sample
    with 2xx on that profile (and so was validated above). The one documented exception, a build that
    has not started having no timeline yet (404 TimelineNotFoundException), is a request of its own
    (``test_a_not_started_build_has_no_timeline``), not a route without a sample."""
    missing = []
    for profile_name, results in outcomes.items():
        answered = {(o.method, o.pattern, o.level) for o in results if 200 <= o.status < 300}
        spec = spec_index(PROFILES[profile_name].max_version)
        for route in create_app(world, profile_name).routes:
            if (route.method, route.pattern) not in NOT_IN_SPECS and spec.operation(route.method, route.pattern) is None:
                continue  # the profile lacks it: test_a_route_is_missing_exactly_where_its_spec_version_lacks_it
            missing += [f"{profile_name} {route.method} {route.pattern} ({level})" for level in route.levels
                        if (route.method, route.pattern, level) not in answered]
    assert not missing, "routes no sample reached with a 2xx answer:\n" + "\n".join(missing)


def test_a_not_started_build_has_no_timeline(world):
    """The crawl's one documented exception: a queued build's timeline is a 404 TimelineNotFoundException
    (JSON, not the HTML page) at every profile, as on a real server, not a body to validate."""
    domain = builds_of(world)
    with world.lock:
        build = next((b for b in domain.builds if b.status == NOT_STARTED and not b.deleted), None)
    if build is None:
        pytest.skip("no queued build in this world")
    project = world.projects[domain.definitions[build.definition - 1].project]
    for profile_name, profile in PROFILES.items():
        with serve_in_thread(create_app(world, profile_name, {PAT: frozenset({"full"})})) as server, \
                httpx.Client(auth=("", PAT), headers=HEADERS, timeout=30) as client:
            url = request_url(server.url, world.collection.name, f"{project.id}/_apis/build/builds/{build.id}/timeline", False)
            response = client.get(url, params={"api-version": profile.max_version})
        assert response.status_code == 404, profile_name
        assert response.json()["typeKey"] == "TimelineNotFoundException", profile_name


def test_every_route_is_in_the_specs_or_explained(world):
    unexplained = set()
    for _, route in _routes(world):
        if (route.method, route.pattern) in NOT_IN_SPECS:
            continue
        if not any(spec_index(p.max_version).operation(route.method, route.pattern) for p in PROFILES.values()):
            unexplained.add(f"{route.method} {route.pattern}")
    assert not unexplained, "routes no spec version has (add to NOT_IN_SPECS with a reason):\n" + "\n".join(sorted(unexplained))


def test_bodies_validate_against_the_spec_of_each_version(outcomes):
    failures = []
    checked = 0
    for profile_name, results in outcomes.items():
        version = PROFILES[profile_name].max_version
        spec = spec_index(version)
        for outcome in results:
            found = spec.operation(outcome.method, outcome.pattern)
            if outcome.status == 404 and outcome.content_type.startswith("text/html"):
                continue  # a route the profile lacks: see the next test
            if outcome.status == 204 and found is not None and not found[1]["schema"] and not outcome.body:
                continue  # no content where the spec describes none (DELETE subscription)
            if not 200 <= outcome.status < 300 or not outcome.content_type.startswith("application/json"):
                failures.append(f"{_outcome_id(outcome)}: {outcome.status} {outcome.content_type} {str(outcome.body)[:300]}")
                continue
            if (outcome.method, outcome.pattern) in NOT_IN_SPECS:
                continue
            if found is None:
                failures.append(f"{_outcome_id(outcome)}: served, but the {version} spec has no such operation")
                continue
            errors = schema_errors(version, found[1]["schema"], outcome.body, null_items=outcome.omits)
            checked += 1
            if errors:
                failures.append(f"{_outcome_id(outcome)} ({found[0]}):\n    " + "\n    ".join(errors))
    assert not failures, f"{len(failures)} responses do not match the spec:\n" + "\n".join(failures)
    assert checked > 0


def test_a_route_is_missing_exactly_where_its_spec_version_lacks_it(outcomes):
    wrong = []
    for profile_name, results in outcomes.items():
        version = PROFILES[profile_name].max_version
        for outcome in results:
            missing = outcome.status == 404 and outcome.content_type.startswith("text/html")
            in_spec = spec_index(version).operation(outcome.method, outcome.pattern) is not None
            if (outcome.method, outcome.pattern) in NOT_IN_SPECS:
                if missing:
                    wrong.append(f"{_outcome_id(outcome)}: 404 for a discovery route")
            elif missing and in_spec:
                wrong.append(f"{_outcome_id(outcome)}: HTML 404, but the {version} spec has this operation")
            elif not missing and not in_spec:
                wrong.append(f"{_outcome_id(outcome)}: answered {outcome.status}, but the {version} spec lacks it")
    assert not wrong, "\n".join(wrong)


def test_route_scopes_agree_with_the_spec(world):
    wrong = set()
    for profile_name, route in _routes(world):
        found = spec_index(PROFILES[profile_name].max_version).operation(route.method, route.pattern)
        if found is None:
            continue
        op = found[1]
        if route.scope is not None and op["scopes"] and route.scope not in op["scopes"] and route.scope not in SCOPES_BEYOND_SPEC:
            wrong.add(f"{profile_name} {route.method} {route.pattern}: scope {route.scope}, spec says {op['scopes']}")
    assert not wrong, "\n".join(sorted(wrong))


def test_preview_operations_refuse_a_plain_api_version(world):
    """Where a version's spec marks an operation preview, the plain version answers 400."""
    wrong = []
    samples = load_samples()
    for profile_name, profile in PROFILES.items():
        spec = spec_index(profile.max_version)
        app = create_app(world, profile_name)
        previews = []
        for pattern, factories in samples.items():
            sample = next(iter(s for factory in factories for s in factory(world)), None)
            if sample is None:
                continue
            method, path, server_level, query, body = split_sample(sample)
            found = spec.operation(method, pattern)
            if found and found[1]["preview"]:
                previews.append((pattern, method, path, server_level, query, body))
        if not previews:
            continue
        with serve_in_thread(app) as server, httpx.Client(auth=("", PAT), headers=HEADERS, timeout=30) as client:
            for pattern, method, path, server_level, query, body in previews:
                url = request_url(server.url, world.collection.name, path, server_level)
                response = client.request(method, url, params={**query, "api-version": profile.max_version}, json=body)
                if response.status_code == 404 and response.headers["content-type"].startswith("text/html"):
                    continue
                if response.status_code != 400 or response.json().get("typeKey") != "VssInvalidPreviewVersionException":
                    wrong.append(f"{profile_name} {method} {pattern}: plain {profile.max_version} gave {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_older_profiles_keep_the_fields_their_spec_knows(outcomes):
    """A property the newest profile sends and an older spec defines is sent by the older profile too."""
    newest = max(PROFILES, key=lambda name: PROFILES[name].max)
    by_request = {(o.method, o.path, o.query): o for o in outcomes[newest]}
    dropped = set()
    for profile_name, results in outcomes.items():
        if profile_name == newest:
            continue
        version = PROFILES[profile_name].max_version
        defs = spec_index(version).defs
        for outcome in results:
            other = by_request.get((outcome.method, outcome.path, outcome.query))
            found = spec_index(version).operation(outcome.method, outcome.pattern)
            if other is None or found is None or outcome.status != 200 or other.status != 200:
                continue
            for variant in _variants(found[1]["schema"]):
                listed = _is_list(variant, defs) and isinstance(outcome.body, dict) and "value" in outcome.body
                if listed:
                    _compare(outcome.body["value"], other.body.get("value"), variant, defs, outcome, "value", dropped)
                elif not _is_list(variant, defs):
                    _compare(outcome.body, other.body, variant, defs, outcome, "", dropped)
    assert not dropped, "fields missing on an older profile although its spec has them:\n" + "\n".join(sorted(dropped))


def _compare(old: Any, new: Any, schema: dict, defs: dict, outcome: Outcome, where: str, dropped: set[str]) -> None:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    if isinstance(old, list) and isinstance(new, list) and schema.get("type") == "array":
        for i, (a, b) in enumerate(zip(old, new)):
            _compare(a, b, schema.get("items", {}), defs, outcome, f"{where}[{i}]", dropped)
    elif isinstance(old, dict) and isinstance(new, dict) and schema.get("properties"):
        known = schema["properties"]
        for name in (set(new) & set(known)) - set(old) - {"_links"}:
            dropped.add(f"{outcome.profile} {outcome.method} {outcome.pattern}: {where}.{name}")
        for name in set(old) & set(new) & set(known):
            _compare(old[name], new[name], known[name], defs, outcome, f"{where}.{name}", dropped)


# -- the validator bites ---------------------------------------------------------------------------


def test_the_validator_rejects_wrong_types_unknown_properties_and_bad_envelopes():
    schema = spec_index("7.0").operation("GET", "{project?}/_apis/git/repositories")[1]["schema"]
    project = {"id": "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c", "name": "Fabrikam", "state": "wellFormed", "revision": 5}
    good = {"id": "5febef5a-833d-4e14-b9c0-14cb638f91e6", "name": "web", "project": project, "size": 12, "webUrl": None}
    assert schema_errors("7.0", schema, {"count": 1, "value": [good]}) == []
    assert schema_errors("7.0", schema, {"count": 1, "value": [good | {"size": "12"}]})  # wrong type
    assert schema_errors("7.0", schema, {"count": 1, "value": [good | {"sizeInBytes": 12}]})  # unknown property
    assert schema_errors("7.0", schema, {"count": 1, "value": [good | {"project": project | {"state": "sunny"}}]})  # enum
    assert schema_errors("7.0", schema, {"count": 2, "value": [good]})  # count disagrees
    assert schema_errors("7.0", schema, [good])  # bare array: not the wire envelope
    # isInMaintenance joined GitRepository in 7.1: field presence per version bites both ways
    assert schema_errors("7.0", schema, {"count": 1, "value": [good | {"isInMaintenance": False}]})
    assert schema_errors("7.1", schema, {"count": 1, "value": [good | {"isInMaintenance": False}]}) == []
    # the specs mark nothing required: a schema that does must reject a body without it
    defs = strict_defs("7.0")
    validator = jsonschema.Draft202012Validator({"$defs": defs, "$ref": "#/$defs/GitRepository", "required": ["id"]})
    assert not validator.is_valid({k: v for k, v in good.items() if k != "id"})
    assert validator.is_valid(good)


def test_committed_schemas_are_what_the_script_extracts():
    """Only where the specs happen to sit beside the repository: the committed JSON is up to date."""
    script = importlib.import_module("scripts.extract_spec_schemas")
    specs = script.REPO_ROOT.parent / "shared" / "ado-rest-specs"
    if not (specs / "git").is_dir():
        pytest.skip("the specs are not beside the repository")
    for version in script.VERSIONS:
        assert script.extract_version(specs, version) == spec_index(version).document, f"rerun the script for {version}"
