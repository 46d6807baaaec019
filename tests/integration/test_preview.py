"""Issue 16, Done when: "Preview output equals the receiver's decrypted records for the same selection".

``satellite preview --out DIR`` on the simulator, then a real ``satellite sync --once`` into the
reference receiver: every line of the preview's NDJSON is, byte for byte, a record the receiver
decrypted, re-encoded with ``ndjson_line``, but for ``observed_at`` (when each run read it: the
preview's time stands in for the receiver's in that comparison, which is of the type, key, op and
data). The receiver's table keeps the last record per key, which is the preview's too unless the
same run sent the key again later (a work item link removed, then added again: the sample shows
the removal, which the sync sent before the addition); those are counted apart and must be few.
The preview writes nothing to the data dir, before the first sync or beside one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from satellite.sealing.batch_format import ndjson_line
from standins.ado_simulator.world.world import generate_world
from tests.support import run_cli, start_simulator, write_config

pytestmark = pytest.mark.integration

LIMIT = 12


def _files(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _preview_lines(out: Path) -> dict[str, list[bytes]]:
    return {p.stem: p.read_bytes().splitlines(keepends=True) for p in sorted((out / "tfs-main").glob("*.ndjson"))}


def _differences(lines: dict[str, list[bytes]], decrypted: list[dict]) -> list[str]:
    """Each preview line that is no record the receiver decrypted (observed_at aside)."""
    received = {ndjson_line({**record, "observed_at": ""}) for record in decrypted}
    wrong = []
    for stream, stream_lines in lines.items():
        for line in stream_lines:
            shown = json.loads(line)
            if ndjson_line({**shown, "observed_at": ""}) not in received:
                wrong.append(f"{stream}: {shown['type']} {shown['key']} was not received as shown: {line[:300]!r}")
            elif ndjson_line({**shown, "observed_at": shown["observed_at"]}) != line:
                wrong.append(f"{stream}: {shown['key']} is not in the sealed encoding")
    return wrong


def _superseded(lines: dict[str, list[bytes]], receiver) -> int:
    """How many preview lines differ from the receiver's last record of their key."""
    count = 0
    for stream_lines in lines.values():
        for shown in map(json.loads, stream_lines):
            held = {r["key"]: r for r in receiver.storage.records(shown["type"], include_data=True)}.get(shown["key"])
            count += held is None or (held["op"], held["data"]) != (shown["op"], shown["data"])
    return count


def _recording(receiver) -> list[dict]:
    """Every record of every batch the receiver stores from now on, as it decrypted it."""
    decrypted: list[dict] = []
    store = receiver.storage.store_batch

    def store_batch(batch):
        decrypted.extend(batch.records)
        return store(batch)

    receiver.storage.store_batch = store_batch
    return decrypted


EXCLUDED = "proseware-mobile"  # a repository of the world (seed 5), out of the scope with the presets on
PRESETS = "privacy:\n  presets: [strip_text, pseudonymize_people, redact_names_and_urls]\n"


@pytest.mark.parametrize("policy", ["presets off", "presets on"])
def test_preview_equals_the_receivers_decrypted_records(tmp_path, receiver, key_files, policy):
    """Presets off: a preview before the first sync (no data dir yet) and one after. Presets on (and
    a repository out of the scope): the pseudonyms' secret is made by the agent's first run, so the
    preview runs after the sync."""
    world = generate_world(seed=5, scale="tiny")
    decrypted = _recording(receiver)
    with start_simulator(world) as simulator:
        scope = f"    repositories:\n      exclude: [{EXCLUDED}]\n" if policy == "presets on" else ""
        config = write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files,
                              extra_integration=scope)
        if policy == "presets on":
            config.write_text(config.read_text() + PRESETS)
        preview = ["preview", "-c", str(config), "--limit", str(LIMIT), "--out"]
        if policy == "presets off":
            shown = run_cli(*preview, str(tmp_path / "preview"), timeout=300)
            assert shown.returncode == 0, shown.stderr[-3000:]
            assert not (tmp_path / "data").exists()  # the preview made no data dir
        synced = run_cli("sync", "--once", "-c", str(config), timeout=600)
        assert synced.returncode == 0, synced.stderr[-3000:]
        before = _files(tmp_path / "data")
        again = run_cli(*preview, str(tmp_path / "again"), timeout=300)
        assert again.returncode == 0, again.stderr[-3000:]
        assert _files(tmp_path / "data") == before  # beside an agent's data dir: not a byte changed
    samples = [tmp_path / "again"] + ([tmp_path / "preview"] if policy == "presets off" else [])
    for sample in samples:
        lines = _preview_lines(sample)
        assert len(lines) >= 20 and sum(map(len, lines.values())) >= 200, {k: len(v) for k, v in lines.items()}
        assert all(len(v) <= LIMIT for v in lines.values())
        assert _differences(lines, decrypted) == []
        assert _superseded(lines, receiver) <= 3
    if policy == "presets on":  # the policy did shape them: no e-mail address but pseudonyms
        text = b"".join(line for lines in _preview_lines(tmp_path / "again").values() for line in lines)
        assert b"@pseudonym.invalid" in text and b"refs/heads/n_" in text
        assert world.people and not any(person.email.encode() in text for person in world.people)
        excluded = next(r.id for r in world.repositories if r.name == EXCLUDED)
        shown_keys = [json.loads(line)["key"] for lines in _preview_lines(tmp_path / "again").values() for line in lines]
        assert not any(k.startswith(excluded) for k in shown_keys)  # its repository, refs, pushes, commits, PRs
        assert receiver.keys_of("git.ref") and not any(
            k.startswith(excluded) for t in ("git.repository", "git.ref", "git.commit", "git.push", "git.pull_request")
            for k in receiver.keys_of(t))
    else:  # the same sample both times: the records' content does not depend on the data dir
        strip = lambda ls: [(r["type"], r["key"], r["op"], r["data"]) for r in map(json.loads, ls)]
        assert ({k: strip(v) for k, v in _preview_lines(tmp_path / "again").items()}
                == {k: strip(v) for k, v in _preview_lines(tmp_path / "preview").items()})
