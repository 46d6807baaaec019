"""Fields beyond the spec in JSON bodies: those Microsoft's examples show, and random unknown ones.

Real servers (and Microsoft's own example responses) send properties the spec schemas do not list;
an agent must read past them. Two independent switches, applied by ``app`` to every 2xx JSON body
by route template:

- ``ExampleFields``: the fields ``scripts/extract_example_fields.py`` derived from the examples of
  each route and api-version (committed in ``example_extras.json``), set at their path in the body;
- ``RandomFields``: unknown properties with random names and values (strings, numbers, booleans,
  nested objects, arrays) in objects at random depths, list items included, drawn from a seed and
  the request so the same request gets the same body; given ``people``, some of them are a person
  in one of the shapes a server may use (an identity reference, a commit author, an e-mail address,
  a ``DOMAIN\\user`` login, ``Name <address>``), for privacy tests (docs/privacy.md).

Neither ever replaces a property the body already has.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from satellite import json_codec
from standins.ado_simulator.wire.wire import Response

__all__ = ["DATA", "BodyExtras", "ExampleFields", "RandomFields", "parse_path", "set_at"]

DATA = Path(__file__).with_name("example_extras.json")
EACH = "[]"  # every item of a list
ALL = "*"  # every value of a dictionary


def parse_path(path: str) -> tuple[tuple[str, ...], str]:
    """``value[].conditions[].result`` -> (("value", "[]", "conditions", "[]"), "result")."""
    steps: list[str] = []
    for part in path.split("."):
        name = part.rstrip("[]")
        if name:
            steps.append(name)
        steps.extend([EACH] * ((len(part) - len(name)) // 2))
    if not steps or steps[-1] in (EACH, ALL):
        raise ValueError(f"path {path!r} does not end in a property name")
    return tuple(steps[:-1]), steps[-1]


def set_at(body: Any, steps: tuple[str, ...], name: str, value: Any) -> int:
    """Set ``name`` to a copy of ``value`` in every object ``steps`` reach in ``body`` that lacks it; how many."""
    nodes = [body]
    for step in steps:
        following: list[Any] = []
        for node in nodes:
            if step == EACH and isinstance(node, list):
                following.extend(node)
            elif step == ALL and isinstance(node, dict):
                following.extend(node.values())
            elif isinstance(node, dict) and step in node:
                following.append(node[step])
        nodes = following
    done = 0
    for node in nodes:
        if isinstance(node, dict) and name not in node:
            node[name] = copy.deepcopy(value)
            done += 1
    return done


@dataclass(frozen=True, slots=True)
class ExampleFields:
    """The example-derived extra fields of one api-version: ``"GET <pattern>"`` -> ((steps, name, value), ...)."""

    version: str
    routes: dict[str, tuple[tuple[tuple[str, ...], str, Any], ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, version: str, data: Path = DATA) -> ExampleFields:
        return _load(version, str(data))

    def paths(self, method: str, pattern: str) -> list[str]:
        """The dotted paths set in the bodies of one route (for tests and docs)."""
        return [".".join((*steps, name)).replace(".[]", "[]") for steps, name, _ in self.routes.get(f"{method} {pattern}", ())]

    def apply(self, method: str, pattern: str, body: Any) -> int:
        """Add the route's example fields to ``body`` in place; how many were set."""
        return sum(set_at(body, steps, name, value) for steps, name, value in self.routes.get(f"{method} {pattern}", ()))


@lru_cache(maxsize=8)
def _load(version: str, data: str) -> ExampleFields:
    document = json.loads(Path(data).read_text(encoding="utf-8"))
    routes = {}
    for route, versions in document.items():
        entry = versions.get(version)
        if entry:
            routes[route] = tuple((*parse_path(f["path"]), f["value"]) for f in entry["fields"])
    return ExampleFields(version, routes)


_WORDS = ("server", "trial", "notice", "legacy", "access", "hint", "shadow", "flags", "quota", "owner",
          "origin", "stamp", "region", "handle", "weight", "marker", "detail", "policy", "token", "tier")


@dataclass(frozen=True, slots=True)
class RandomFields:
    """Unknown properties at random depths. ``rate``: the chance that an object below the top gets some
    (the top-level object always does); names are camelCase words with a number (``shadowQuota37``),
    so they never mean anything to a reader of the API."""

    seed: int = 0
    rate: float = 0.3
    most: int = 2  # properties added to one object, at most
    people: tuple[tuple[str, str, str], ...] = ()  # (display name, unique name, e-mail): injected as persons
    person_rate: float = 0.25  # the chance that an added property is a person (with ``people``)

    def apply(self, body: Any, salt: str) -> int:
        """Add unknown properties to ``body`` in place (``salt``: the request, for determinism); how many."""
        rng = random.Random(f"{self.seed}|{salt}")
        return self._walk(body, rng, top=True)

    def _walk(self, node: Any, rng: random.Random, top: bool) -> int:
        added = 0
        if isinstance(node, list):
            for item in node:
                added += self._walk(item, rng, False)
        elif isinstance(node, dict):
            for value in list(node.values()):
                added += self._walk(value, rng, False)
            if top or rng.random() < self.rate:
                for _ in range(rng.randint(1, self.most)):
                    name = _name(rng)
                    if name not in node:
                        node[name] = (_person(rng, rng.choice(self.people))
                                      if self.people and rng.random() < self.person_rate else _value(rng, depth=0))
                        added += 1
        return added


def _name(rng: random.Random) -> str:
    first, second = rng.sample(_WORDS, 2)
    return f"{first}{second.capitalize()}{rng.randint(0, 99)}"


def _person(rng: random.Random, person: tuple[str, str, str]) -> Any:
    """One person in one of the shapes a server may send: an IdentityRef, a GitUserDate, a bare e-mail
    address or login, ``Name <address>``, or a list holding an IdentityRef."""
    display, unique, email = person
    shape = rng.choice(("ref", "git", "email", "login", "named", "list"))
    if shape in ("ref", "list"):
        ident = f"{rng.getrandbits(32):08x}-0000-4000-8000-{rng.getrandbits(48):012x}"
        ref = {"displayName": display, "uniqueName": unique, "id": ident, "descriptor": f"win.{rng.getrandbits(64):x}",
               "url": f"https://ado.invalid/_apis/Identities/{ident}",
               "imageUrl": f"https://ado.invalid/_api/_common/identityImage?id={ident}"}
        return ref if shape == "ref" else [ref]
    if shape == "git":
        return {"name": display, "email": email, "date": f"2024-01-0{rng.randint(1, 9)}T00:00:00Z"}
    return email if shape == "email" else unique if shape == "login" else f"{display} <{email}>"


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.choice(("str", "int", "float", "bool", "object", "array") if depth < 2 else ("str", "int", "bool"))
    if kind == "str":
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-") for _ in range(rng.randint(0, 16)))
    if kind == "int":
        return rng.randint(-(2**40), 2**40)
    if kind == "float":
        return round(rng.uniform(-1e6, 1e6), 3)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "object":
        return {_name(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


@dataclass(frozen=True, slots=True)
class BodyExtras:
    """What ``app`` adds to the JSON bodies its routes answer (either part may be off)."""

    examples: ExampleFields | None = None
    random: RandomFields | None = None

    def decorate(self, method: str, pattern: str, salt: str, response: Response) -> Response:
        """``response`` with the extra fields in its JSON body (example fields in 2xx bodies only)."""
        if not response.content_type.startswith("application/json") or not response.body:
            return response
        body = json_codec.loads(response.body)
        added = 0
        if self.examples is not None and 200 <= response.status < 300:
            added += self.examples.apply(method, pattern, body)
        if self.random is not None:
            added += self.random.apply(body, salt)
        return replace(response, body=json_codec.dumps(body)) if added else response
