"""Pseudonyms are stable: equal across two runs and across two shard replicas sharing the secret,
different under another secret (issue 16). Real sockets: simulator -> satellite -> receiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.streams import RECORD_TYPES
from satellite.sync.once import sync_once
from standins.ado_simulator.world.world import generate_world
from tests.support import Receiver, start_receiver, start_simulator, write_config

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
PRESETS = "[strip_text, pseudonymize_people, redact_names_and_urls]"


def privacy(secret_file: Path | None) -> str:
    secret = f"  secret: ${{file:{secret_file}}}\n" if secret_file is not None else ""
    return f"privacy:\n  presets: {PRESETS}\n{secret}"


def run(directory: Path, simulator, receiver: Receiver, key_files, env, secret_file: Path | None,
        shard: tuple[int, int] | None = None) -> None:
    path = write_config(directory, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files)
    text = path.read_text()
    if shard is not None:
        text = text.replace("  data_dir: ./data\n", f"  data_dir: ./data\n  shard: {{count: {shard[1]}, index: {shard[0]}}}\n")
    path.write_text(text + privacy(secret_file))
    result = sync_once(load_config(path, env=env), ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
    assert result.ok, result.errors


def stored(receiver: Receiver) -> dict[str, dict[str, tuple[str, object]]]:
    """Record type -> key -> (op, data): what SEI holds, without the observation times."""
    return {t: receiver.records(t) for t in sorted(RECORD_TYPES)}


@pytest.fixture
def receivers(tmp_path, key_files):
    started: list[Receiver] = []

    def start(name: str) -> Receiver:
        started.append(start_receiver(tmp_path / name, key_files))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


def test_pseudonyms_are_equal_across_runs_and_shard_replicas_sharing_the_secret(tmp_path, key_files, env, receivers):
    world = generate_world(seed=11, scale="tiny")
    shared = tmp_path / "privacy.key"
    shared.write_text("0123456789abcdef" * 4 + "\n")
    single, sharded, other, again = (receivers(n) for n in ("single", "sharded", "other", "again"))
    with start_simulator(world) as simulator:
        run(tmp_path / "a", simulator, single, key_files, env, shared)
        for index in (0, 1):  # two replicas, each its own data dir, the secret shared
            run(tmp_path / f"shard-{index}", simulator, sharded, key_files, env, shared, shard=(index, 2))
        run(tmp_path / "c", simulator, other, key_files, env, None)  # its own secret, made in its data dir
        generated = tmp_path / "c" / "data" / "privacy.key"
        assert generated.exists()
        run(tmp_path / "d", simulator, again, key_files, env, generated)  # another run, that file shared

    reference = stored(single)
    assert sum(len(records) for records in reference.values()) > 100
    people = [r for _, r in reference["git.commit"].values()]
    assert people and all(r["author"]["email"].endswith("@pseudonym.invalid") for r in people)
    refs = list(reference["git.ref"])
    assert refs and all(key.split(":", 1)[1].startswith(("refs/heads/n_", "refs/tags/n_", "refs/pull/n_")) for key in refs)

    assert stored(sharded) == reference  # the two replicas together: the same tokens, keys and joins
    assert stored(again) == stored(other)  # the generated secret, shared by file: the same tokens again
    different = stored(other)
    assert {t: len(r) for t, r in different.items()} == {t: len(r) for t, r in reference.items()}
    assert set(different["git.ref"]).isdisjoint(reference["git.ref"])  # another secret, other tokens
    mine = {r["author"]["email"] for _, r in reference["git.commit"].values()}
    theirs = {r["author"]["email"] for _, r in different["git.commit"].values()}
    assert mine.isdisjoint(theirs)
    # ids are never pseudonymized: the id-keyed records are the same under either secret
    assert set(different["git.commit"]) == set(reference["git.commit"])
    assert set(different["git.pull_request"]) == set(reference["git.pull_request"])
