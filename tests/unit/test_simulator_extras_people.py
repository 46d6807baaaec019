"""``RandomFields(people=...)``: persons among the simulator's random unknown fields (privacy tests)."""

from __future__ import annotations

import copy
import json

from standins.ado_simulator.wire.extras import RandomFields

PEOPLE = (("Qz Person", "QZCORP\\qzlogin", "qz.person@canary.example"),)


def body() -> dict:
    return {"count": 3, "value": [{"id": i, "name": f"item {i}", "nested": {"a": {"b": {"c": i}}}} for i in range(30)]}


def test_without_people_the_bodies_are_as_before():
    plain, again = body(), body()
    RandomFields(5).apply(plain, "salt")
    RandomFields(5, people=()).apply(again, "salt")
    assert plain == again


def test_people_come_in_every_shape_deterministically():
    first, second = body(), body()
    RandomFields(5, people=PEOPLE, person_rate=0.5).apply(first, "salt")
    RandomFields(5, people=PEOPLE, person_rate=0.5).apply(second, "salt")
    assert first == second
    text = json.dumps(first)
    shapes = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("uniqueName") == "QZCORP\\qzlogin" and node.get("id") and node.get("displayName") == "Qz Person":
                shapes.add("ref")
            if node.get("email") == "qz.person@canary.example" and node.get("name") == "Qz Person":
                shapes.add("git")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            if any(isinstance(v, dict) and v.get("uniqueName") for v in node):
                shapes.add("list")
            for value in node:
                walk(value)
        elif node == "qz.person@canary.example":
            shapes.add("email")
        elif node == "QZCORP\\qzlogin":
            shapes.add("login")
        elif node == "Qz Person <qz.person@canary.example>":
            shapes.add("named")

    for salt in ("salt", "other", "third"):
        more = body()
        RandomFields(5, people=PEOPLE, person_rate=0.5).apply(more, salt)
        walk(more)
    assert shapes == {"ref", "git", "email", "login", "named", "list"}, shapes
    assert "Qz Person" in text


def test_people_never_replace_a_real_field():
    original = body()
    decorated = copy.deepcopy(original)
    RandomFields(9, people=PEOPLE, person_rate=1.0).apply(decorated, "salt")
    for before, after in zip(original["value"], decorated["value"]):
        assert all(after[k] == v for k, v in before.items() if not isinstance(v, dict))
