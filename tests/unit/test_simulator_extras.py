"""The simulator's fields beyond the spec (wire/extras.py): example-derived ones and random unknown ones."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from standins.ado_simulator.app import AREAS
from standins.ado_simulator.wire.extras import (
    DATA,
    BodyExtras,
    ExampleFields,
    RandomFields,
    parse_path,
    set_at,
)
from standins.ado_simulator.wire.wire import Response, html_response

DEPLOYMENTS = "{project}/_apis/release/deployments"


def _body() -> dict:
    """A list body with nesting: objects in lists in objects, four levels down."""
    return {"count": 3, "value": [
        {"id": i, "name": f"item {i}", "release": {"id": 10 + i, "artifacts": [{"alias": "a", "definitionReference": {
            "version": {"id": "1", "name": "one"}}}]},
         "conditions": [{"name": "c", "value": ""}, {"name": "d", "value": "x"}], "tags": ["t1", "t2"]}
        for i in range(3)
    ]}


def _contains(outer: Any, inner: Any) -> bool:
    """Whether ``outer`` is ``inner`` with properties added only (none changed or removed, lists as long)."""
    if isinstance(inner, dict):
        return isinstance(outer, dict) and all(k in outer and _contains(outer[k], v) for k, v in inner.items())
    if isinstance(inner, list):
        return isinstance(outer, list) and len(outer) == len(inner) and all(map(_contains, outer, inner))
    return outer == inner and type(outer) is type(inner)


def _added(outer: Any, inner: Any, depth: int = 0) -> Iterator[tuple[int, str]]:
    """(depth, name) of every property of ``outer`` that ``inner`` lacks."""
    if isinstance(inner, dict):
        for key, value in outer.items():
            if key in inner:
                yield from _added(value, inner[key], depth + 1)
            else:
                yield depth, key
    elif isinstance(inner, list):
        for a, b in zip(outer, inner):
            yield from _added(a, b, depth + 1)


# -- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, expected", [
    ("url", ((), "url")),
    ("release.url", (("release",), "url")),
    ("value[].conditions[].result", (("value", "[]", "conditions", "[]"), "result")),
    ("matrix[][].cell", (("matrix", "[]", "[]"), "cell")),
    ("properties.*.kind", (("properties", "*"), "kind")),
])
def test_paths_parse_into_steps_and_a_name(path, expected):
    assert parse_path(path) == expected


@pytest.mark.parametrize("path", ["value[]", "a.*", ""])
def test_a_path_must_end_in_a_property_name(path):
    with pytest.raises(ValueError):
        parse_path(path)


def test_set_at_reaches_every_list_item_and_never_overwrites():
    body = _body()
    body["value"][1]["conditions"][0]["result"] = False  # the server's own value
    done = set_at(body, ("value", "[]", "conditions", "[]"), "result", True)
    assert done == 5
    assert [c["result"] for item in body["value"] for c in item["conditions"]] == [True, True, False, True, True, True]
    assert set_at(body, ("value", "[]", "missing", "[]"), "x", 1) == 0  # absent parents: nothing set


def test_set_at_copies_structured_values():
    body = _body()
    set_at(body, ("value", "[]"), "retentionPolicy", {"daysToKeep": 30})
    body["value"][0]["retentionPolicy"]["daysToKeep"] = 1
    assert body["value"][1]["retentionPolicy"] == {"daysToKeep": 30}


# -- example fields ------------------------------------------------------------------------------


def test_the_committed_example_fields_name_get_routes_of_the_simulator_and_parse():
    document = json.loads(DATA.read_text(encoding="utf-8"))
    routes = {f"{r.method} {r.pattern}" for module in AREAS for r in module.ROUTES}
    assert document and set(document) <= routes
    for versions in document.values():
        assert set(versions) <= {"5.0", "6.0", "7.0", "7.1"}
        for entry in versions.values():
            assert entry["examples"] and entry["fields"]
            for field in entry["fields"]:
                parse_path(field["path"])


def test_release_deployments_carry_what_microsofts_examples_show():
    fields = ExampleFields.load("7.0")
    paths = fields.paths("GET", DEPLOYMENTS)
    assert {"value[].conditions[].result", "value[].preDeployApprovals[].trialNumber"} <= set(paths)
    assert "value[].conditions[].result" in ExampleFields.load("5.0").paths("GET", DEPLOYMENTS)
    body = _body()
    original = copy.deepcopy(body)
    assert fields.apply("GET", DEPLOYMENTS, body) > 0
    assert _contains(body, original)
    assert all(c["result"] is True for item in body["value"] for c in item["conditions"])
    assert fields.apply("GET", "{project}/_apis/no/such/route", body) == 0


# -- random fields -------------------------------------------------------------------------------


def test_random_fields_are_deterministic_per_seed_and_request():
    one, two, other = _body(), _body(), _body()
    RandomFields(seed=5).apply(one, "/tfs/c/p/_apis/x?a=1")
    RandomFields(seed=5).apply(two, "/tfs/c/p/_apis/x?a=1")
    RandomFields(seed=6).apply(other, "/tfs/c/p/_apis/x?a=1")
    assert one == two and json.dumps(one) == json.dumps(two)
    assert one != other


@pytest.mark.parametrize("seed", range(20))
def test_random_fields_never_replace_or_drop_a_real_field(seed):
    body = _body()
    original = copy.deepcopy(body)
    added = RandomFields(seed=seed).apply(body, "salt")
    assert _contains(body, original)
    assert added == len(list(_added(body, original))) >= 1


def test_random_fields_reach_the_top_list_items_and_depth_with_values_of_every_kind():
    depths: set[int] = set()
    kinds: set[type] = set()
    for seed in range(30):
        body = _body()
        RandomFields(seed=seed).apply(body, "salt")
        found = list(_added(body, _body()))
        assert any(d == 0 for d, _ in found)  # the top-level object always gets some
        depths.update(d for d, _ in found)
        kinds.update(type(v) for v in _added_values(body, _body()))
    assert {0, 2, 3, 5} <= depths  # the envelope, list items, nested objects, objects in lists in objects
    assert {str, int, float, bool, dict, list} <= kinds


def _added_values(outer: Any, inner: Any) -> Iterator[Any]:
    if isinstance(inner, dict):
        for key, value in outer.items():
            yield from (_added_values(value, inner[key]) if key in inner else [value])
    elif isinstance(inner, list):
        for a, b in zip(outer, inner):
            yield from _added_values(a, b)


def test_random_names_are_unknown_words():
    body = _body()
    RandomFields(seed=1).apply(body, "salt")
    names = [k for _, k in _added(body, _body())]
    assert all(name[-1].isdigit() and name[0].islower() for name in names)


# -- bodies --------------------------------------------------------------------------------------


def test_decorate_adds_to_json_bodies_only():
    extras = BodyExtras(ExampleFields.load("7.0"), RandomFields(seed=2))
    page = html_response(404, "<html></html>")
    assert extras.decorate("GET", DEPLOYMENTS, "s", page) is page
    response = Response(200, json.dumps(_body()).encode(), "application/json; charset=utf-8; api-version=7.0")
    decorated = extras.decorate("GET", DEPLOYMENTS, "s", response)
    body = json.loads(decorated.body)
    assert _contains(body, _body()) and body != _body()
    assert body["value"][0]["conditions"][0]["result"] is True
    assert decorated.content_type == response.content_type and decorated.status == 200


def test_decorate_leaves_error_bodies_without_example_fields():
    error = Response(400, json.dumps({"message": "no", "value": [{"conditions": [{}]}]}).encode(), "application/json")
    body = json.loads(BodyExtras(ExampleFields.load("7.0")).decorate("GET", DEPLOYMENTS, "s", error).body)
    assert body == {"message": "no", "value": [{"conditions": [{}]}]}


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize("argv, examples, seed", [
    ([], False, None),
    (["--example-fields"], True, None),
    (["--extra-fields"], False, 0),
    (["--extra-fields", "3", "--example-fields"], True, 3),
])
def test_the_simulator_command_takes_both_switches(argv, examples, seed):
    import argparse

    from standins.ado_simulator.command import configure_parser

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(["serve", *argv])
    assert (args.example_fields, args.extra_fields) == (examples, seed)
