"""The writers of one collector share a budget of records held unsealed (PendingBudget)."""

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from satellite.sealing.batch_format import ndjson_line
from satellite.sealing.sealer import Sealer
from satellite.store import CursorKey
from satellite.streams.base import Checkpoint, Record
from satellite.sync.batching import BatchWriter, PendingBudget

COMMITS = CursorKey("tfs", "git.commits", "DefaultCollection/repo-1")
BUILDS = CursorKey("tfs", "build.builds", "DefaultCollection/project-1")


@pytest.fixture
def sealer():
    return Sealer("sat-1", "acme", "rk-1", X25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate())


def record(kind: str, n: int) -> Record:
    return Record(kind, f"{kind}:{n:08d}", "upsert", "2026-01-01T00:00:00Z", {"n": n, "text": "x" * 200})


LINE = len(ndjson_line(record("build.build", 0).to_json()))  # every record's line is this long


def writer(store, sealer, key: CursorKey, budget: PendingBudget | None) -> BatchWriter:
    return BatchWriter(store, sealer, cursor_key=key, service=key.stream.split(".")[0], max_records=1000,
                       max_bytes=10**9, budget=budget)


def batch_sizes(store, stream: str) -> list[int]:
    return [b.record_count for b in store.pending_batches() if b.stream == stream]


def commits_then(other: BatchWriter | None, held: int, results: dict) -> Iterator:
    """``held`` commits, then (while they are held) the other writer writes 40 builds, then one commit more."""
    for n in range(held):
        yield record("git.commit", n)
    if other is not None:
        results["builds"] = other.write([record("build.build", n) for n in range(40)] + [Checkpoint('{"b":1}')])
    yield record("git.commit", held)
    yield Checkpoint('{"c":1}')


def test_a_writer_seals_early_while_another_holds_the_budget(store, sealer):
    budget = PendingBudget(20 * LINE, min_batch=8 * LINE, step=LINE)
    builds = writer(store, sealer, BUILDS, budget)
    commits = writer(store, sealer, COMMITS, budget)
    results: dict = {}
    result = commits.write(commits_then(builds, 15, results))
    # the commits hold 15 lines: the builds may hold 5 more, then seal in batches of 8 (min_batch)
    assert batch_sizes(store, "build.builds") == [8, 8, 8, 8, 8]
    assert results["builds"].records == 40
    assert batch_sizes(store, "git.commits") == [16] and result.records == 16
    assert budget.held == 0


def test_without_a_budget_each_writer_fills_its_batch(store, sealer):
    builds = writer(store, sealer, BUILDS, None)
    results: dict = {}
    writer(store, sealer, COMMITS, None).write(commits_then(builds, 15, results))
    assert batch_sizes(store, "build.builds") == [40] and batch_sizes(store, "git.commits") == [16]


def test_a_budget_not_spent_changes_no_batch(store, sealer):
    budget = PendingBudget(100 * LINE, min_batch=8 * LINE, step=LINE)
    results: dict = {}
    writer(store, sealer, COMMITS, budget).write(commits_then(writer(store, sealer, BUILDS, budget), 15, results))
    assert batch_sizes(store, "build.builds") == [40] and batch_sizes(store, "git.commits") == [16]
    assert budget.held == 0


def test_a_read_that_fails_gives_back_what_it_held(store, sealer):
    budget = PendingBudget(100 * LINE, step=LINE)

    def failing() -> Iterator:
        for n in range(10):
            yield record("git.commit", n)
        assert budget.held >= 9 * LINE  # reported while held
        raise RuntimeError("the server went away")

    with pytest.raises(RuntimeError):
        writer(store, sealer, COMMITS, budget).write(failing())
    assert budget.held == 0 and batch_sizes(store, "git.commits") == []
