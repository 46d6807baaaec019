"""Issue 16, "Done when" 1: canary text planted in the simulated world leaves the network under no encoding
with the three privacy presets on, and all of it arrives with them off (the positive control).

The canaries are planted by an ASGI wrapper in front of the simulator (``BodyEditor``) that edits every JSON
answer the same way, so the world the satellite reads is consistent: one person's display name, e-mail
address and login, one project's, one repository's and the default branch's names are replaced wherever they
appear (URLs, TFVC, area and iteration paths, definition and team names, timeline task names, free text);
commit messages, pull request titles, descriptions and thread comments and work item descriptions get a
canary sentence appended. Requests carry ids but in two routes that name the project, which a second wrapper
(``AsTheWorldNamesIt``) maps back to the real name.

What the receiver stored is searched three ways: the records as the receiver serves them (keys and data),
every cell of every table of its database, and the raw bytes of every file in its data dir (database, WAL).
Each canary is looked for plain, JSON-escaped, URL-encoded, base64 (three alignments, standard and URL-safe)
and case-insensitively.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlencode

import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.streams import RECORD_TYPES
from satellite.sync.once import sync_once
from standins.ado_simulator.world.world import generate_world
from tests.reliability.torture_wrappers import BodyEditor
from tests.support import API_KEY, API_KEY_ENV, MiB, start_receiver, start_simulator, write_config

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
PRESETS = "privacy:\n  presets: [strip_text, pseudonymize_people, redact_names_and_urls]\n"

# what -> the canary text (distinct, mixed case, one non-ASCII letter where JSON and URLs escape it)
CANARIES = {
    "commit message": "Qzcanary Commitmsg-4417",
    "pull request title": "Qzcanary PRtitle-5512",
    "pull request description": "Qzcanary PRdescription-5513",
    "pull request comment": "Qzcanary Threadcomment-6620",
    "work item description": "Qzcanary Workitemdescription-7731",
    "person name": "Qzcanary Ëlla-Personname",
    "e-mail address": "qzcanary.mail-8843@canary-corp.example",
    "login": "qzcanarylogin8844",
    "repository name": "qzcanary-repo-9951",
    "branch name": "qzcanary-branch-3307",
    "project name": "Qzcanary Projectname-1122",  # also in TFVC paths, area and iteration paths, team names
}


def _plant(world) -> Callable[[str, Any], None]:
    """``edit(path, data)`` for ``BodyEditor``: the canaries of ``CANARIES`` put into one answer in place."""
    person, repository, project = world.people[1], world.repositories[0], world.projects[0].name
    login = person.unique_name.split("\\")[-1]
    replace = (  # longest first: a display name holds no login, an e-mail no display name
        (project, CANARIES["project name"]),
        (quote(project), quote(CANARIES["project name"])),  # in URLs
        (person.email, CANARIES["e-mail address"]),
        (person.display_name, CANARIES["person name"]),
        (person.unique_name, person.unique_name.replace(login, CANARIES["login"])),
        (repository.name, CANARIES["repository name"]),
        ("refs/heads/main", f"refs/heads/{CANARIES['branch name']}"),
        ("@main to s", f"@{CANARIES['branch name']} to s"),  # a checkout task's name
    )

    def text(value: str) -> str:
        for old, new in replace:
            if old in value:
                value = value.replace(old, new)
        return CANARIES["login"] if value == login else value  # core.identity's properties.Account

    def append(node: dict, key: str, canary: str) -> None:
        value = node.get(key)
        node[key] = f"{value} {canary}" if isinstance(value, str) and value else canary

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return text(node)
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        for key in list(node):
            node[key] = walk(node[key])
        if "commitId" in node and isinstance(node.get("comment"), str):
            append(node, "comment", CANARIES["commit message"])
        if "pullRequestId" in node and "title" in node:
            append(node, "title", CANARIES["pull request title"])
            append(node, "description", CANARIES["pull request description"])
        if "commentType" in node and "content" in node:
            append(node, "content", CANARIES["pull request comment"])
        if isinstance(node.get("System.Description"), str):
            append(node, "System.Description", CANARIES["work item description"])
        return node

    def edit(path: str, data: Any) -> None:
        walk(data)

    return edit


class AsTheWorldNamesIt:
    """ASGI wrapper: a request that names the canary project (a path, a query value) reaches the simulator with
    the project's real name. The satellite asks by name in two places: a work item's comments
    (``{project}/_apis/wit/workItems/{id}/comments``) and TFVC labels (``labelScope=$/{project}``)."""

    def __init__(self, app, world) -> None:
        self.app = app
        self.canary, self.name = CANARIES["project name"], world.projects[0].name

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode()
            query = scope.get("query_string", b"").decode()
            if self.canary in unquote(scope["path"]) or self.canary in unquote_plus(query):
                pairs = [(k, v.replace(self.canary, self.name)) for k, v in parse_qsl(query, keep_blank_values=True)]
                scope = dict(scope, path=scope["path"].replace(self.canary, self.name),
                             raw_path=raw_path.replace(quote(self.canary).encode(), quote(self.name).encode()),
                             query_string=urlencode(pairs, quote_via=quote).encode())
        await self.app(scope, receive, send)


def encodings(canary: str) -> set[str]:
    """The canary as it may appear in stored bytes, lower-cased."""
    raw = canary.encode()
    found = {canary, json.dumps(canary)[1:-1], json.dumps(canary, ensure_ascii=False)[1:-1],
             quote(canary, safe=""), quote(canary), quote_plus(canary)}
    for shift in range(3):  # base64 of the canary at each alignment in a longer text: the blocks it fills alone
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + raw).decode()
            found.add(text[4 if shift else 0: 4 * ((shift + len(raw)) // 3)])
    return {f.lower() for f in found if len(f) >= 8}


def stored_texts(receiver) -> dict[str, str]:
    """Where -> lower-cased text: the records as served, every cell of the database, every file's bytes."""
    texts: dict[str, str] = {}
    for record_type in sorted(RECORD_TYPES):
        for key, (op, data) in receiver.records(record_type).items():
            texts[f"record {record_type} {key}"] = "\n".join(
                (key, json.dumps(data), json.dumps(data, ensure_ascii=False))).lower()
    directory = Path(receiver.storage.db_path).parent
    receiver.close()
    with sqlite3.connect(f"file:{receiver.storage.db_path}?mode=ro", uri=True) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for number, row in enumerate(db.execute(f'SELECT * FROM "{table}"')):
                texts[f"table {table} row {number}"] = "\n".join(
                    v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row).lower()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            raw = path.read_bytes()  # as UTF-8 (text cells) and byte for byte (anything else)
            texts[f"file {path.name}"] = f'{raw.decode("utf-8", "replace")}\n{raw.decode("latin-1")}'.lower()
    return texts


def places(texts: dict[str, str], what: str) -> list[str]:
    """Where one canary is found, in any encoding."""
    needles = encodings(CANARIES[what])
    return [where for where, text in texts.items() if any(n in text for n in needles)]


def found_canaries(texts: dict[str, str]) -> dict[str, list[str]]:
    """Canary name -> the first few places it was found."""
    return {what: found[:5] for what in CANARIES if (found := places(texts, what))}


@dataclass(frozen=True)
class Stored:
    texts: dict[str, str]  # see ``stored_texts``
    counts: dict[str, int]  # record type -> records stored


def synced(directory: Path, key_files, *, presets: bool, plant: bool = True) -> Stored:
    """A sync of the canary world (``plant``: else the world as generated), then what the receiver stored."""
    world = generate_world(seed=11, scale="tiny")
    wrap = (lambda app: AsTheWorldNamesIt(BodyEditor(app, _plant(world)), world)) if plant else None
    receiver = start_receiver(directory / "receiver", key_files, max_batch_bytes=2 * MiB)
    try:
        with start_simulator(world, "2022", wrap=wrap) as simulator:
            path = write_config(directory / "satellite", ado_url=simulator.collection_url, endpoint=receiver.url,
                                key_files=key_files)
            if presets:
                path.write_text(path.read_text() + PRESETS)
            result = sync_once(load_config(path, env={API_KEY_ENV: API_KEY}), ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
            assert result.ok, result.errors
        counts = {t: len(receiver.records(t)) for t in sorted(RECORD_TYPES)}
        return Stored(stored_texts(receiver), counts)
    finally:
        receiver.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[bool | None, Stored]:
    """presets on -> what the receiver stored of the canary world with the three presets and without them;
    None -> of the world as generated (no canaries, no presets)."""
    from satellite.sealing.keys import generate_key_files

    tmp = tmp_path_factory.mktemp("canaries")
    key_files = generate_key_files(tmp / "keys")
    found: dict[bool | None, Stored] = {None: synced(tmp / "plain", key_files, presets=False, plant=False)}
    found.update({presets: synced(tmp / ("on" if presets else "off"), key_files, presets=presets) for presets in (False, True)})
    return found


def test_the_encodings_find_a_canary_however_it_is_written():
    canary = CANARIES["person name"]
    samples = [canary, canary.upper(), json.dumps({"a": f"x {canary} y"}), quote(f"/x/{canary}/y"),
               base64.b64encode(f"ab{canary}cd".encode()).decode(), base64.b64encode(f"a{canary}".encode()).decode(),
               base64.urlsafe_b64encode(f"{canary}!".encode()).decode()]
    for sample in samples:
        assert any(n in sample.lower() for n in encodings(canary)), sample


def test_planting_changes_no_record(runs):
    """The canary world is as consistent as the generated one: every route still answers, every record arrives."""
    assert runs[False].counts == runs[None].counts
    assert found_canaries(runs[None].texts) == {}


def test_with_the_presets_off_every_canary_arrives(runs):
    found = found_canaries(runs[False].texts)
    assert set(found) == set(CANARIES), f"not planted or not found: {sorted(set(CANARIES) - set(found))}"
    for what in CANARIES:  # in the records as served and in the database file's bytes: both searches see them
        kinds = {where.split(" ")[0] for where in places(runs[False].texts, what)}
        assert {"record", "table", "file"} <= kinds, (what, kinds)


def test_with_the_three_presets_on_no_canary_arrives_in_any_encoding(runs):
    assert runs[True].counts == runs[False].counts  # the same records, shaped: none was left out
    assert found_canaries(runs[True].texts) == {}
