"""Privacy beyond the field catalog (docs/privacy.md): a server that sends people in fields the catalog does
not know (a newer version, an extension) does not leak them past ``pseudonymize_people``.

The simulator runs with ``--example-fields`` and ``--extra-fields``, and its random unknown fields include,
now and then, a person (``RandomFields.people``) in each shape a server may use: an IdentityRef, a commit
author (name and e-mail), a bare e-mail address, a ``DOMAIN\\user`` login, ``Name <address>``, a list holding
an IdentityRef. The persons are two canaries and one person of the world (so that the pseudonyms of the
injected identities can be compared with the catalog's). What the receiver stored is searched as in
``test_privacy_canaries`` (records, database cells, file bytes; plain, escaped, URL-encoded, base64, any case).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from satellite.config import load_config
from satellite.privacy.beyond import structural
from satellite.privacy.catalog import FIELDS
from satellite.privacy.known import KnownFields
from satellite.privacy.paths import matches, parse_path
from satellite.privacy.pseudonyms import Pseudonymizer
from satellite.retrying import RetryPolicy
from satellite.streams import RECORD_TYPES
from satellite.sync.once import sync_once
from standins.ado_simulator.app import create_app
from standins.ado_simulator.wire.extras import BodyExtras, ExampleFields, RandomFields
from standins.ado_simulator.world.world import generate_world
from standins.loopback import serve_in_thread
from tests.integration.test_privacy_canaries import encodings, stored_texts
from tests.support import (
    API_KEY,
    API_KEY_ENV,
    PAT,
    MiB,
    Simulator,
    start_receiver,
    start_simulator,
    write_config,
)

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
SECRET = "beyond-the-catalog-secret-0123456789abcdef"
CANARY_PEOPLE = (
    ("Qzbeyond Ëlla-Personname", "QZCORP\\qzbeyondlogin41", "qzbeyond.mail-4471@canary-corp.example"),
    ("Qzbeyond Second-Person", "QZCORP\\qzbeyondlogin42", "qzbeyond.other-4472@canary-corp.example"),
)
CANARIES = {text for person in CANARY_PEOPLE for text in (person[0], person[1].split("\\")[1], person[2])}


@dataclass(frozen=True)
class Stored:
    texts: dict[str, str]  # where -> lower-cased text (``stored_texts``)
    records: dict[str, dict[str, Any]]  # record type -> key -> data of the upserts
    counts: dict[str, int]


def simulator(world, people: tuple[tuple[str, str, str], ...]) -> Simulator:
    app = create_app(world, "2022", {PAT: frozenset({"full"})}, example_fields=True, extra_fields=7)
    app.body_extras = BodyExtras(ExampleFields.load(app.profile.max_version), RandomFields(7, people=people))
    return Simulator(world, app, app, serve_in_thread(app))


def synced(directory: Path, key_files, world, people, privacy: str) -> Stored:
    receiver = start_receiver(directory / "receiver", key_files, max_batch_bytes=2 * MiB)
    try:
        with simulator(world, people) as running:
            path = write_config(directory / "satellite", ado_url=running.collection_url, endpoint=receiver.url,
                                key_files=key_files)
            path.write_text(path.read_text() + privacy)
            result = sync_once(load_config(path, env={API_KEY_ENV: API_KEY}), ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
            assert result.ok, result.errors
        records = {t: {k: data for k, (op, data) in receiver.records(t).items() if op == "upsert"} for t in sorted(RECORD_TYPES)}
        counts = {t: len(receiver.records(t)) for t in sorted(RECORD_TYPES)}
        return Stored(stored_texts(receiver), records, counts)
    finally:
        receiver.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Stored]:
    """off: no policy; drop: pseudonymize_people (unknown_fields drop by default); keep: and unknown_fields keep."""
    from satellite.sealing.keys import generate_key_files

    tmp = tmp_path_factory.mktemp("beyond")
    key_files = generate_key_files(tmp / "keys")
    world = generate_world(seed=11, scale="tiny")
    person = world.people[1]
    people = (*CANARY_PEOPLE, (person.display_name, person.unique_name, person.email))
    policies = {
        "off": "",
        "drop": f"privacy:\n  presets: [pseudonymize_people]\n  secret: {SECRET}\n",
        "keep": f"privacy:\n  presets: [pseudonymize_people]\n  unknown_fields: keep\n  secret: {SECRET}\n",
    }
    return {name: synced(tmp / name, key_files, world, people, text) for name, text in policies.items()}


def found(texts: dict[str, str], canary: str) -> list[str]:
    needles = encodings(canary)
    return [where for where, text in texts.items() if any(n in text for n in needles)][:5]


def leaves(data: Any, at: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, at + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from leaves(value, at + (index,))
    else:
        yield at, data


def test_without_a_policy_the_injected_people_arrive(runs):
    """The positive control: the persons were injected and the search sees them."""
    missing = [c for c in sorted(CANARIES) if not found(runs["off"].texts, c)]
    assert not missing, missing


@pytest.mark.parametrize("run", ["drop", "keep"])
def test_with_pseudonymize_people_no_injected_person_reaches_sei(runs, run):
    assert runs[run].counts == runs["off"].counts  # the same records: none left out
    leaked = {c: where for c in sorted(CANARIES) if (where := found(runs[run].texts, c))}
    assert not leaked, leaked


@pytest.mark.parametrize("run", ["drop", "keep"])
def test_an_injected_identity_gets_the_catalogs_pseudonym(runs, run):
    """The world's person injected beyond the catalog carries the pseudonym the catalog gives them: joins hold."""
    world = generate_world(seed=11, scale="tiny")
    login = Pseudonymizer(SECRET).person(world.people[1].unique_name)
    catalogued = beyond = 0
    for record_type, records in runs[run].records.items():
        patterns = [parse_path(p) for p in FIELDS[record_type].paths()]
        for data in records.values():
            for at, value in leaves(data):
                if value == login:
                    if any(matches(p, at) for p in patterns):
                        catalogued += 1
                    else:
                        beyond += 1
    assert catalogued and beyond, (catalogued, beyond)
    assert not found(runs[run].texts, world.people[1].unique_name.split("\\")[1])


def random_member(key: Any) -> bool:
    """A name ``RandomFields`` makes (``shadowQuota37``: two words and a number), never a real field."""
    return isinstance(key, str) and key[-1:].isdigit() and key[:1].islower() and any(c.isupper() for c in key)


def declared(record_type: str, at: tuple) -> bool:
    """Whether the spec declares the path (an open map's members are declared: a work item's ``fields``...)."""
    known = KnownFields.load()
    shape = known.root(record_type)
    for key in at:
        shape = known.step(shape, key)
    return shape is not None


def unknown_strings(stored: Stored) -> list[tuple[str, tuple, str]]:
    """(type, path, value) of the strings under a random member at a path the spec does not declare that are
    neither a pseudonym nor an id or a time."""
    return [(record_type, at, value) for record_type, records in stored.records.items() for data in records.values()
            for at, value in leaves(data) if isinstance(value, str) and any(map(random_member, at))
            and not value.startswith("p_") and not structural(next((k for k in reversed(at) if isinstance(k, str)), None))
            and not declared(record_type, at)]


def test_drop_removes_the_unknown_strings_keep_leaves_them(runs):
    assert unknown_strings(runs["keep"])
    assert unknown_strings(runs["drop"]) == []
    for record_type in ("git.pull_request", "build.build", "wit.work_item_revision"):  # declared fields stay
        for key, data in runs["off"].records[record_type].items():
            assert {k for k in data if not random_member(k)} <= set(runs["drop"].records[record_type][key]), key


@pytest.mark.parametrize("presets", ["", "[pseudonymize_people]"])
def test_preview_shows_the_effect(tmp_path, key_files, presets):
    """``satellite preview`` applies the same policy: with pseudonymize_people no injected person is shown;
    without a policy they are (the control)."""
    import io

    from satellite.sync.preview_command import run_preview

    world = generate_world(seed=11, scale="tiny")
    privacy = f"privacy:\n  presets: {presets}\n  secret: {SECRET}\n" if presets else ""
    with simulator(world, CANARY_PEOPLE) as running:
        path = write_config(tmp_path, ado_url=running.collection_url, endpoint="http://127.0.0.1:9/", key_files=key_files)
        path.write_text(path.read_text() + privacy)
        shown, errors = io.StringIO(), io.StringIO()
        code = run_preview(load_config(path, env={API_KEY_ENV: API_KEY}), integration=None, streams=None, limit=30,
                           out=None, stdout=shown, stderr=errors)
    assert code == 0, errors.getvalue()[-2000:]
    text = {"preview": shown.getvalue().lower()}
    leaked = {c for c in CANARIES if found(text, c)}
    assert leaked == (set() if presets else CANARIES)


@pytest.mark.parametrize("profile", ["2022", "2019"])
def test_drop_removes_nothing_the_satellite_collects_from_a_server_within_the_spec(tmp_path, key_files, profile):
    """Without fields beyond the spec, unknown_fields drop and keep deliver the same records: every field the
    satellite collects (and adds) is declared."""
    world = generate_world(seed=11, scale="tiny")
    stored = {}
    with start_simulator(world, profile) as running:  # one server for both: its URLs (and their tokens) the same
        for choice in ("keep", "drop"):
            receiver = start_receiver(tmp_path / choice / "receiver", key_files, max_batch_bytes=2 * MiB)
            try:
                path = write_config(tmp_path / choice, ado_url=running.collection_url, endpoint=receiver.url,
                                    key_files=key_files)
                path.write_text(path.read_text() + "privacy:\n  presets: [strip_text, pseudonymize_people,"
                                f" redact_names_and_urls]\n  unknown_fields: {choice}\n  secret: {SECRET}\n")
                assert sync_once(load_config(path, env={API_KEY_ENV: API_KEY}), ado_retry=FAST_RETRY,
                                 upload_retry=FAST_RETRY).ok
                stored[choice] = {t: receiver.records(t) for t in sorted(RECORD_TYPES)}
            finally:
                receiver.close()
    assert sum(map(len, stored["keep"].values())) > 500
    different = [(t, k) for t in stored["keep"] for k in stored["keep"][t] if stored["keep"][t][k] != stored["drop"][t].get(k)]
    assert not different, different[:10]
