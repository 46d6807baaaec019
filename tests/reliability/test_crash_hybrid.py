"""The crash test (test_crash.py) with a hybrid MLKEM768-X25519 recipient key (issue 21): SIGKILL at
chosen moments, nothing lost, nothing sent twice, every batch sealed with the hybrid KEM.

``SATELLITE_CRASH_HYBRID_ITERATIONS`` (default 6, a few for CI) sets the number of kills;
``SATELLITE_CRASH_SEED`` replays a run, as in test_crash.py.
"""

from __future__ import annotations

import os

import pytest

from satellite.sealing.keys import KEM_HYBRID, generate_key_files

from . import test_crash

pytestmark = pytest.mark.reliability

ITERATIONS = int(os.environ.get("SATELLITE_CRASH_HYBRID_ITERATIONS", "6"))


@pytest.fixture
def key_files(tmp_path):
    return generate_key_files(tmp_path / "keys", kem=KEM_HYBRID)


def test_sigkill_with_a_hybrid_key_loses_nothing_and_sends_nothing_twice(tmp_path, key_files, receivers, simulators, processes,
                                                                         monkeypatch):
    share = min(1.0, 20 / ITERATIONS)
    monkeypatch.setattr(test_crash, "ITERATIONS", ITERATIONS)
    monkeypatch.setattr(test_crash, "MAX_REQUESTS", max(10, int(300 * share)))
    monkeypatch.setattr(test_crash, "MAX_BATCHES", max(2, int(30 * share)))
    test_crash.test_sigkill_at_chosen_moments_loses_nothing_and_sends_nothing_twice(tmp_path, key_files, receivers, simulators,
                                                                                    processes)
    uploads = [a for r in receivers for a in r.door.attempts if a.header is not None]
    assert uploads and {(a.header.recipient_key_id, (a.header.suite or {}).get("kem_id")) for a in uploads} == {
        (key_files.recipient_key_id, "0x647a")}
