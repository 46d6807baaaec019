"""The privacy policy: what of a record leaves the network (docs/privacy.md). Pure but for the secret.

``PrivacyPolicy.apply(record)`` is called in one place, ``BatchWriter`` (records -> policy -> sealed
lines), and returns the record as it is sealed, or None for a record out of scope. In order:

1. scope: a record of an excluded repository, TFVC path or work item type is None (deletes pass);
2. presets, on the paths of the field catalog (``catalog.FIELDS``): ``strip_text`` leaves only the
   work item references of free text, ``pseudonymize_people`` replaces people by pseudonyms,
   ``redact_names_and_urls`` names and URLs by tokens (an environment's name also sets
   ``isProduction`` beside it first); ``keep`` rules exempt their paths;
3. beyond the catalog (``beyond.Beyond``): identity-shaped objects and person strings anywhere else
   (``pseudonymize_people``), URLs anywhere else (``redact_names_and_urls``), strings at paths the
   spec does not declare (``unknown_fields: drop``, the default with a preset);
4. ``drop`` and ``hash`` rules;
5. a key holding a name (``git.ref``, ``tfvc.branch``, ``tfvc.change``) gets the token its name
   field gets, so a later delete of the same key matches. Ids and id-based keys never change.

``fingerprint`` is a hash of the effective policy (presets, patterns, rules, scope filters, the
catalog the presets read, the handling beyond it and the known fields it drops by), never of the secret; it goes into every batch header (``policy``).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satellite import json_codec
from satellite.privacy import beyond
from satellite.privacy.known import KnownFields
from satellite.privacy.paths import (
    Automaton,
    Pattern,
    complete,
    parse_path,
    start,
    step,
)
from satellite.privacy.pseudonyms import (
    SECRET_FILE,
    TOKEN_FORMAT,
    Pseudonymizer,
    load_or_create_secret,
)
from satellite.secret import Secret
from satellite.streams.records import Record

__all__ = [
    "KEY_NAME_FIELDS",
    "WORK_ITEM_REFERENCE",
    "PolicyScope",
    "PrivacyPolicy",
    "SecretMissing",
    "is_production_name",
    "strip_text",
]

FORMAT = 1  # of the fingerprinted description
WORK_ITEM_REFERENCE = r"(?<![\w#&])(?:[Aa][Bb])?#\d+\b"  # not an HTML entity (&#39;)
# record type -> (":"-separated key parts before the name, the data path of the name)
KEY_NAME_FIELDS: Mapping[str, tuple[int, tuple[str, ...]]] = {
    "git.ref": (1, ("name",)),
    "tfvc.branch": (1, ("path",)),
    "tfvc.change": (2, ("item", "path")),
}
_PRESET_CATEGORIES = {"strip_text": ("text",), "pseudonymize_people": ("people",), "redact_names_and_urls": ("names", "urls")}
_CATEGORY_ORDER = ("text", "people", "names", "urls")
_DROP = object()


class SecretMissing(Exception):
    """The policy needs ``<data_dir>/privacy.key`` and may not make it (a preview of a fresh data dir)."""


def is_production_name(name: object) -> bool:
    """docs/metrics.md: lower-cased, the name starts with ``prod``."""
    return isinstance(name, str) and name.strip().lower().startswith("prod")


def strip_text(text: str, reference: re.Pattern[str]) -> str:
    """Only the work item references (and configured keys) ``text`` holds, each once, in order."""
    return " ".join(dict.fromkeys(m.group(0) for m in reference.finditer(text)))


def _structural(key: str | None) -> bool:
    """Members a preset leaves alone inside an object it was pointed at: ids and times."""
    return key is not None and (key in ("id", "descriptor", "date") or key.endswith(("Id", "Date")))


@dataclass(frozen=True, slots=True)
class PolicyScope:
    """The scope filters of one integration (``Integration.repositories``, ``tfvc_paths``,
    ``work_item_types``): callables name -> in scope."""

    repository: Callable[[str], bool] = lambda name: True
    tfvc_path: Callable[[str], bool] = lambda path: True
    work_item_type: Callable[[str], bool] = lambda name: True
    description: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of_integration(cls, integration) -> PolicyScope:
        described = {name: {"include": list(f.include), "exclude": list(f.exclude)}
                     for name in ("repositories", "tfvc_paths", "work_item_types")
                     if not (f := getattr(integration, name)).is_default}
        return cls(integration.repositories.matches, integration.tfvc_paths.matches, integration.work_item_types.matches,
                   described)


_Rule = tuple[Pattern, str]  # (pattern, action)
_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _Plan:
    """A record type's patterns: (preset and keep), (drop and hash), and their compiled walks."""

    presets: list[_Rule]
    rules: list[_Rule]
    preset_walk: Automaton | None
    rule_walk: Automaton | None
    catalogued: Automaton | None  # every catalog path of the type (labelled by kind) and the keep rules, for ``Beyond``


class PrivacyPolicy:
    """Built once per integration (``from_config``); ``apply`` is thread-safe."""

    def __init__(self, *, presets: tuple[str, ...] = (), key_patterns: tuple[str, ...] = (),
                 fields: Mapping[str, Any] | None = None, scope: PolicyScope = PolicyScope(),
                 pseudonyms: Pseudonymizer | None = None, catalog: Mapping[str, Any] | None = None,
                 environment_names: Mapping[str, tuple[str, ...]] | None = None, unknown_fields: str | None = None,
                 known: KnownFields | None = None) -> None:
        """``fields``: record type ("*" every type) -> object with ``keep``, ``drop``, ``hash`` path tuples
        (``FieldRules``); ``catalog``: ``catalog.FIELDS`` (required with presets); ``unknown_fields``:
        ``keep`` or ``drop`` (None: ``drop`` with a preset, else ``keep``); ``known``: the declared fields
        (default: the committed ``known_fields.json``)."""
        fields = dict(fields or {})
        if presets and catalog is None:
            raise ValueError("presets need the field catalog")
        needs_key = any(p in presets for p in ("pseudonymize_people", "redact_names_and_urls")) or any(
            getattr(r, "hash", ()) for r in fields.values())
        if needs_key and pseudonyms is None:
            raise ValueError("this policy needs the pseudonym secret")
        self.presets = tuple(p for p in _PRESET_CATEGORIES if p in presets)
        self._scope = scope
        self._pseudonyms = pseudonyms
        self._reference = re.compile("|".join([WORK_ITEM_REFERENCE, *(f"(?:{p})" for p in key_patterns)]))
        self._catalog = catalog or {}
        self._environments = environment_names or {}
        self._fields = fields
        self._plans: dict[str, _Plan] = {}
        self._plans_lock = threading.Lock()
        self._excluded_items: set[str] = set()  # work items of excluded types met (their comments and links follow)
        self._excluded_lock = threading.Lock()
        self.unknown_fields = unknown_fields or ("drop" if self.presets else "keep")
        if self.unknown_fields not in ("keep", "drop"):
            raise ValueError("unknown_fields is keep or drop")
        people, urls = "pseudonymize_people" in self.presets, "redact_names_and_urls" in self.presets
        drop = self.unknown_fields == "drop"
        self._beyond = beyond.Beyond(
            pseudonyms.person if people and pseudonyms else None, pseudonyms.url if urls and pseudonyms else None,
            (known or KnownFields.load()) if drop else None,
            frozenset(c for p in self.presets for c in _PRESET_CATEGORIES[p])) if people or urls or drop else None
        self.fingerprint = "sha256:" + hashlib.sha256(json_codec.canonical(self._describe(key_patterns))).hexdigest()

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def none(cls) -> PrivacyPolicy:
        """The identity policy: every record as collected (its fingerprint is the empty policy's)."""
        return cls()

    @classmethod
    def from_config(cls, config, integration=None, *, create_secret: bool = True) -> PrivacyPolicy:
        """The policy of ``config.privacy`` and ``integration``'s scope filters; the secret is
        ``privacy.secret`` or ``<data_dir>/privacy.key`` (made now unless ``create_secret`` is False:
        then ``SecretMissing``), read only when the policy needs it."""
        from satellite.privacy import catalog

        settings = config.privacy
        needs_key = any(p in settings.presets for p in ("pseudonymize_people", "redact_names_and_urls")) or any(
            r.hash for r in settings.fields.values())
        pseudonyms = None
        if needs_key:
            pseudonyms = Pseudonymizer(secret_of(settings.secret, Path(config.satellite.data_dir), create_secret))
        return cls(presets=settings.presets, key_patterns=settings.work_item_key_patterns, fields=settings.fields,
                   scope=PolicyScope.of_integration(integration) if integration is not None else PolicyScope(),
                   pseudonyms=pseudonyms, catalog=catalog.FIELDS, environment_names=catalog.ENVIRONMENT_NAMES,
                   unknown_fields=settings.unknown_fields)

    def _describe(self, key_patterns: tuple[str, ...]) -> dict:
        """What the fingerprint hashes: everything that shapes a record, never the secret."""
        catalog = {t: {c: list(getattr(f, c)) for c in _CATEGORY_ORDER} for t, f in sorted(self._catalog.items())}
        described = {
            "format": FORMAT,
            "presets": list(self.presets),
            "work_item_key_patterns": list(key_patterns) if "strip_text" in self.presets else [],
            "work_item_reference": WORK_ITEM_REFERENCE if "strip_text" in self.presets else None,
            "tokens": TOKEN_FORMAT if self._pseudonyms is not None else None,
            "fields": {t: {a: list(getattr(r, a, ())) for a in ("keep", "drop", "hash")} for t, r in sorted(self._fields.items())},
            "scope": dict(self._scope.description),
            "catalog": hashlib.sha256(json_codec.canonical(catalog)).hexdigest() if self.presets else None,
            "environments": {t: list(p) for t, p in sorted(self._environments.items())}
            if "redact_names_and_urls" in self.presets else None,
        }
        if self._beyond is not None:  # absent when inactive: the policies it does not shape keep their fingerprints
            described["beyond_catalog"] = {
                "format": beyond.FORMAT,
                "people": self._beyond.person is not None,
                "urls": self._beyond.url is not None,
                "unknown_fields": self.unknown_fields,
                "known_fields": self._beyond.known.digest if self._beyond.known is not None else None,
                "catalog": hashlib.sha256(json_codec.canonical(catalog)).hexdigest(),
            }
        return described

    @property
    def is_identity(self) -> bool:
        return not self.presets and not self._fields and not self._scope.description and self._beyond is None

    # --- scope --------------------------------------------------------------------------------

    @property
    def filters_work_item_types(self) -> bool:
        return "work_item_types" in self._scope.description

    def repository_in_scope(self, name: str) -> bool:
        return self._scope.repository(name)

    def tfvc_path_in_scope(self, path: str) -> bool:
        return self._scope.tfvc_path(path)

    def work_item_type_in_scope(self, name: str) -> bool:
        return self._scope.work_item_type(name)

    def _in_scope(self, record: Record) -> bool:
        """Upserts only: a delete passes (it names a key sent before, when it was in scope, and tells
        SEI to drop it: a snapshot listing without an excluded item deletes what was sent of it)."""
        if record.op == "delete":
            return True
        data, kind = record.data if isinstance(record.data, dict) else {}, record.type
        if kind == "git.repository" and isinstance(data.get("name"), str):
            return self._scope.repository(data["name"])
        if kind == "git.pull_request":
            name = (data.get("repository") or {}).get("name") if isinstance(data.get("repository"), dict) else None
            return not isinstance(name, str) or self._scope.repository(name)
        if kind in ("tfvc.branch", "tfvc.change"):
            path = _key_name(record.key, KEY_NAME_FIELDS[kind][0])
            return path is None or self._scope.tfvc_path(path)
        if kind == "wit.work_item_type":
            name = data.get("name") if isinstance(data.get("name"), str) else _key_name(record.key, 1)
            return name is None or self._scope.work_item_type(name)
        if kind in ("wit.work_item_revision", "wit.work_item") and isinstance(data.get("fields"), dict):
            wit = data["fields"].get("System.WorkItemType")
            if isinstance(wit, str):
                if self._scope.work_item_type(wit):
                    return True
                with self._excluded_lock:  # its comments and links (which carry no type) follow it out
                    self._excluded_items.add(":".join(record.key.split(":")[:2]))
                return False
        if kind in ("wit.comment", "wit.work_item_link", "wit.work_item", "wit.work_item_revision") and self._excluded_items:
            parts = record.key.split(":")
            with self._excluded_lock:
                return ":".join(parts[:2]) not in self._excluded_items
        return True

    # --- applying -----------------------------------------------------------------------------

    def apply(self, record: Record) -> Record | None:
        """The record as it is sealed, or None when it is out of scope."""
        if self._scope.description and not self._in_scope(record):
            return None
        if not self.presets and not self._fields and self._beyond is None:
            return record
        plan = self._plan(record.type)
        key = self._rewrite_key(record, plan.presets, plan.rules)
        data = record.data
        if isinstance(data, dict) and (plan.preset_walk or plan.rule_walk or self._beyond is not None):
            if "redact_names_and_urls" in self.presets and record.type in self._environments:
                data = self._flag_production(record.type, data)
            if plan.preset_walk:
                walk = plan.preset_walk
                data = self._presets(walk, data, None, walk.start, walk.start_labels, None)
            if self._beyond is not None:
                data = self._beyond.apply(data, record.type, plan.catalogued)
            if plan.rule_walk:
                walk = plan.rule_walk
                result = self._rules(walk, data, walk.start, walk.start_labels)
                data = {} if result is _DROP else result
        if key == record.key and data is record.data:
            return record
        return Record(record.type, key, record.op, record.observed_at, data)

    def _plan(self, record_type: str) -> _Plan:
        """The patterns of a record type, parsed and compiled once."""
        plan = self._plans.get(record_type)
        if plan is None:
            presets: list[_Rule] = []
            rules: list[_Rule] = []
            for rule_set in (self._fields.get(record_type), self._fields.get("*")):
                if rule_set is not None:
                    presets += [(parse_path(p), "keep") for p in getattr(rule_set, "keep", ())]
                    rules += [(parse_path(p), a) for a in ("drop", "hash") for p in getattr(rule_set, a, ())]
            entry = self._catalog.get(record_type)
            catalogued = [(p, "keep") for p, a in presets if a == "keep"]
            if entry is not None:
                catalogued += [(parse_path(p), c) for c in _CATEGORY_ORDER for p in getattr(entry, c)]
                for preset in self.presets:
                    for category in _PRESET_CATEGORIES[preset]:
                        presets += [(parse_path(p), category) for p in getattr(entry, category)]
            if not any(a != "keep" for _, a in presets):
                presets = []
            plan = _Plan(presets, rules, Automaton(presets) if presets else None, Automaton(rules) if rules else None,
                         Automaton(catalogued) if catalogued else None)
            with self._plans_lock:
                self._plans[record_type] = plan
        return plan

    def _transform(self, category: str, value: str) -> str:
        assert self._pseudonyms is not None or category == "text"
        if category == "text":
            return strip_text(value, self._reference)
        if category == "people":
            return self._pseudonyms.person(value)  # type: ignore[union-attr]
        if category == "urls":
            return self._pseudonyms.url(value)  # type: ignore[union-attr]
        return self._pseudonyms.name(value)  # type: ignore[union-attr]

    def _presets(self, walk: Automaton, node: Any, member: str | None, state: frozenset, labels: frozenset[str],
                 active: tuple[str, bool] | None, inherited_here: bool = False) -> Any:
        """Walk ``node`` with the preset and keep patterns; ``labels``: those ending at this node;
        ``active``: (category, matched at this very node) of the preset an ancestor or the node matched."""
        if "keep" in labels:
            return node  # kept, with everything below it
        if labels:
            active = (min(labels, key=_CATEGORY_ORDER.index), True)
        elif active is not None:
            active = (active[0], inherited_here)
        if isinstance(node, str):
            if active is None or (not active[1] and _structural(member)):
                return node
            return self._transform(active[0], node)
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                moved, ending = walk.step(state, k) if state else (state, _NONE)
                out[k] = v if not moved and active is None else self._presets(walk, v, k, moved, ending, active)
            return out
        if isinstance(node, list):
            out_list = []
            each_here = active is not None and active[1]  # a list of strings the path named: each is "here"
            for i, v in enumerate(node):
                moved, ending = walk.step(state, i) if state else (state, _NONE)
                out_list.append(v if not moved and active is None
                                else self._presets(walk, v, member, moved, ending, active, each_here))
            return out_list
        return node

    def _rules(self, walk: Automaton, node: Any, state: frozenset, labels: frozenset[str]) -> Any:
        if "drop" in labels:
            return _DROP
        if "hash" in labels:
            return self._pseudonyms.hashed(node)  # type: ignore[union-attr]
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                moved, ending = walk.step(state, k)
                result = self._rules(walk, v, moved, ending) if moved else v
                if result is not _DROP:
                    out[k] = result
            return out
        if isinstance(node, list):
            out_list = []
            for i, v in enumerate(node):
                moved, ending = walk.step(state, i)
                result = self._rules(walk, v, moved, ending) if moved else v
                if result is not _DROP:
                    out_list.append(result)
            return out_list
        return node

    def _flag_production(self, record_type: str, data: dict) -> dict:
        """``isProduction`` beside every environment name (before the name becomes a token)."""
        from satellite.privacy.catalog import PRODUCTION_FLAG

        patterns = [parse_path(p) for p in self._environments.get(record_type, ())]
        holders = [(p[:-1], p[-1]) for p in patterns if p]

        def walk(node: Any, states: list) -> Any:
            if isinstance(node, dict):
                out = {k: (walk(v, moved) if (moved := [(p, n, pos) for p, n, s in states if (pos := step(p, s, k))]) else v)
                       for k, v in node.items()}
                for p, name, s in states:
                    if complete(p, s) and isinstance(node.get(name), str):
                        out[PRODUCTION_FLAG] = is_production_name(node[name])
                return out
            if isinstance(node, list):
                return [walk(v, moved) if (moved := [(p, n, pos) for p, n, s in states if (pos := step(p, s, i))]) else v
                        for i, v in enumerate(node)]
            return node

        return walk(data, [(p, n, start(p)) for p, n in holders])

    def _rewrite_key(self, record: Record, presets: list[_Rule], rules: list[_Rule]) -> str:
        """A key holding a name: the name replaced as its data field is (deletes then match)."""
        spec = KEY_NAME_FIELDS.get(record.type)
        if spec is None or not (presets or rules):
            return record.key
        parts, path = spec
        pieces = record.key.split(":", parts)
        if len(pieces) <= parts:
            return record.key
        name = pieces[parts]
        if _reaches(rules, path, "drop") or _reaches(rules, path, "hash"):
            pieces[parts] = self._pseudonyms.hashed(name)  # type: ignore[union-attr]
            return ":".join(pieces)
        states = [(p, a, start(p)) for p, a in presets]
        category = None
        for key in path:
            states = [(p, a, pos) for p, a, s in states if (pos := step(p, s, key))]
            done = [a for p, a, s in states if complete(p, s)]
            if "keep" in done:
                return record.key
            if done:
                category = min(done, key=_CATEGORY_ORDER.index)
        if category is None:
            return record.key
        pieces[parts] = self._transform(category, name)
        return ":".join(pieces)


def _reaches(rules: list[_Rule], path: tuple[str, ...], action: str) -> bool:
    for pattern, act in rules:
        if act != action:
            continue
        positions = start(pattern)
        for key in path:
            positions = step(pattern, positions, key)
            if complete(pattern, positions):
                return True
        # a rule on an ancestor covers the field too (checked at each depth above)
    return False


def _key_name(key: str, parts: int) -> str | None:
    pieces = key.split(":", parts)
    return pieces[parts] if len(pieces) > parts else None


def secret_of(configured: Secret | None, data_dir: Path, create: bool) -> Secret:
    """The configured secret, else the data dir's (made now if ``create``)."""
    if configured is not None:
        return Secret(configured.reveal().strip())
    path = data_dir / SECRET_FILE
    if not create and not path.exists():
        raise SecretMissing(f"{path} is not made yet: run the agent once, or set privacy.secret")
    return load_or_create_secret(data_dir)
