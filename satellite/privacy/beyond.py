"""Beyond the field catalog: people, URLs and unknown fields wherever a server puts them (docs/privacy.md).

The presets act on the catalog's paths; a server may send more (a newer version, an extension). After
the presets, ``Beyond.apply`` walks every string of a record that no ``keep`` rule, no catalog path of a
preset that is on, and no catalog path of names, URLs or people reaches (the catalog has said what they
are); inside free text whose ``strip_text`` is off (a build's ``triggerInfo``, a task's ``inputs``, a
commit message) only the first rule below applies:

- with ``pseudonymize_people``: the personal members of an object shaped like an identity
  (``identity_members``: an IdentityRef, a Graph subject, a commit's author) become pseudonyms, and so
  does a string that is a person (``person_string``: an e-mail address, ``DOMAIN\\user``,
  ``Name <address>``); an e-mail address inside a longer string is replaced in place. The pseudonyms
  are the catalog's (``Pseudonymizer.person``): the same person, the same pseudonym, so joins hold;
- with ``redact_names_and_urls``: a string that is a URL becomes a URL token;
- with ``unknown_fields: drop``: a string at a path the spec does not declare (``KnownFields``) is
  removed (a member, or a list item), unless one of the above replaced it or its member is an id or a
  time (``structural``); numbers, booleans and the objects and lists around them stay.

Pure: the transforms are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from satellite.privacy.known import KnownFields, Shape
from satellite.privacy.paths import Automaton

__all__ = ["FORMAT", "PERSON_MEMBERS", "Beyond", "identity_members", "person_string", "structural"]

FORMAT = 1  # of the detection rules below: part of the policy fingerprint, bumped when they change
PERSON_MEMBERS = frozenset({
    "displayName", "uniqueName", "imageUrl", "profileUrl", "directoryAlias",  # IdentityRef
    "providerDisplayName", "customDisplayName",  # Identity
    "principalName", "mailAddress", "mail",  # Graph subjects
    "email",  # GitUserDate
})
_IDENTIFYING = ("id", "descriptor", "subjectDescriptor", "imageUrl")
_EMAIL_TEXT = r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+"
EMAIL = re.compile(_EMAIL_TEXT)
_WHOLE_EMAIL = re.compile(rf"{_EMAIL_TEXT}\Z")
_DOMAIN_USER = re.compile(r"[\w][\w.-]{0,62}\\[\w.$'-]{1,104}\Z")
_NAMED = re.compile(r"(?P<name>[^<>\n]{0,127}[^<>\s])[ \t]*<(?P<address>[^<>\s]+)>\Z")  # one line, a name's length
# a line of text that is ``Name <address>``, maybe after a trailer's token (``Signed-off-by: ``)
_NAMED_LINE = re.compile(r"^(?P<lead>[\w-]+:[ \t]*)?(?P<name>[^<>\n]{0,127}[^<>\s])[ \t]*<(?P<address>[^<>\s]+)>[ \t]*$",
                         re.MULTILINE)
_URL = re.compile(r"(?:https?|ssh)://\S+\Z", re.IGNORECASE)


def structural(member: str | int | None) -> bool:
    """Ids and times: never dropped as unknown (the policy's presets leave them alone too)."""
    return isinstance(member, str) and (
        member in ("id", "descriptor", "date") or member.endswith(("Id", "Date", "Descriptor")))


def identity_members(node: Mapping[str, Any]) -> frozenset[str]:
    """The members of ``node`` that name a person, if it has the shape of an identity; else none.

    An IdentityRef (``uniqueName``, or ``displayName`` beside ``id``, ``descriptor``, ``imageUrl`` or an
    ``_links.avatar``), an Identity or Graph subject (``providerDisplayName``, ``principalName``,
    ``mailAddress``), a GitUserDate (``email`` with ``name`` or ``date``: then ``name`` is the person's too)."""
    if not ("uniqueName" in node or "displayName" in node or "email" in node or "providerDisplayName" in node
            or "principalName" in node or "mailAddress" in node):
        return frozenset()
    text = {k for k, v in node.items() if isinstance(v, str)}
    links = node.get("_links")
    avatar = isinstance(links, Mapping) and "avatar" in links
    shaped = ("uniqueName" in text or ("displayName" in text and (avatar or any(k in node for k in _IDENTIFYING)))
              or bool(text & {"providerDisplayName", "principalName", "mailAddress"}))
    git_user = "email" in text and ("name" in node or "date" in node)
    if not (shaped or git_user):
        return frozenset()
    members = text & PERSON_MEMBERS
    return frozenset(members | {"name"} & text) if git_user else frozenset(members)


def person_string(value: str, named: bool = True) -> bool:
    """Whether ``value`` as a whole names a person: an e-mail address, ``DOMAIN\\user``, or (``named``)
    ``Name <address>`` on one line."""
    return _address(value.strip()) or (named and _named(value.strip()) is not None)


def _address(value: str) -> bool:
    return bool(_WHOLE_EMAIL.match(value) or _DOMAIN_USER.match(value))


def _named(value: str) -> re.Match[str] | None:
    named = _NAMED.match(value)
    return named if named is not None and _address(named["address"]) else None


_DROP = object()
_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Beyond:
    """One policy's handling of what the catalog does not name. ``person``: the pseudonym of a person
    (None: ``pseudonymize_people`` is off); ``url``: the token of a URL (None: ``redact_names_and_urls``
    is off); ``known``: the declared fields (None: ``unknown_fields: keep``)."""

    person: Callable[[str], str] | None
    url: Callable[[str], str] | None
    known: KnownFields | None
    active: frozenset[str] = frozenset()  # the catalog kinds whose preset is on (their paths are done)

    def apply(self, data: Any, record_type: str, catalogued: Automaton | None) -> Any:
        """``data`` (already through the presets) with the strings beyond ``catalogued`` handled; the same
        object when nothing changed. ``catalogued``: the record type's catalog paths, labelled by kind, and
        keep rules (``keep``)."""
        shape = self.known.root(record_type) if self.known is not None else None
        state = catalogued.start if catalogued else frozenset()
        if catalogued and catalogued.start_labels:
            return data  # a rule on the whole record
        result = self._walk(data, None, catalogued, state, shape, False)
        return data if result is _DROP else result

    def _whole(self, value: str, identity: bool) -> str | None:
        """The pseudonym or token of ``value`` as a whole (a person, a URL), or None."""
        if self.person is not None:
            stripped = value.strip()
            if identity:
                return self.person(value)  # as the catalog's paths do: the same pseudonym
            if _address(stripped):
                return self.person(stripped)
            named = _named(stripped)
            if named is not None:
                return f"{self.person(named['name'])} <{self.person(named['address'])}>"
        if self.url is not None and _URL.match(value):
            return self.url(value)
        return None

    def _leaf(self, value: str, member: str | int | None, identity: bool, shape: Shape | None, text: bool) -> Any:
        whole = self._whole(value, identity)
        if whole is not None:
            return whole  # a pseudonym or a token: kept, known or not
        if self.known is not None and shape is None and not text and not structural(member):
            return _DROP
        if self.person is not None and ("<" in value or "@" in value):
            return self._inside(value)
        return value

    def _inside(self, value: str) -> str:
        """The persons inside a text replaced: each line that is ``Name <address>`` (after a trailer's
        token: ``Signed-off-by: Jane Doe <jane@corp.example>``), then every e-mail address."""
        person = self.person
        assert person is not None

        def line(m: re.Match[str]) -> str:
            if not _address(m["address"]):
                return m.group(0)
            return f"{m['lead'] or ''}{person(m['name'])} <{person(m['address'])}>"

        if "<" in value:
            value = _NAMED_LINE.sub(line, value)
        return EMAIL.sub(lambda m: m.group(0) if m.group(0).endswith("@pseudonym.invalid") else person(m.group(0)),
                         value) if "@" in value else value

    def _below(self, labels: frozenset[str], text: bool) -> bool | None:
        """Whether to walk a member the catalog or a keep rule names (and in text mode), or None: leave it."""
        if not labels:
            return text
        if "keep" in labels or labels & self.active or "text" not in labels:
            return None  # kept, done by its preset, or a name, URL or person the catalog knows
        return True  # free text whose strip_text is off: persons only

    def _walk(self, node: Any, member: str | int | None, catalogued: Automaton | None, state: frozenset,
              shape: Shape | None, text: bool) -> Any:
        if isinstance(node, dict):
            identity = identity_members(node) if self.person is not None else _NONE
            entries: list[tuple[str | int, Any]] = list(node.items())
        elif isinstance(node, list):
            identity, entries = _NONE, list(enumerate(node))
        else:
            return node
        kept: list[tuple[str | int, Any]] = []
        changed = False
        for key, value in entries:
            if not isinstance(value, (str, dict, list)):
                kept.append((key, value))  # numbers, booleans, null: never touched
                continue
            moved, labels = catalogued.step(state, key) if state else (state, _NONE)  # type: ignore[union-attr]
            mode = self._below(labels, text) if labels else text
            if mode is None:
                kept.append((key, value))
                continue
            below = self.known.step(shape, key) if self.known is not None and not mode else None
            name = key if isinstance(key, str) else member
            if isinstance(value, str):
                result = self._leaf(value, name, key in identity, below, mode)
            else:
                result = self._walk(value, name, catalogued, moved, below, mode)
            if result is _DROP:
                changed = True
                continue
            changed |= result is not value
            kept.append((key, result))
        if not changed:
            return node
        return dict(kept) if isinstance(node, dict) else [v for _, v in kept]
