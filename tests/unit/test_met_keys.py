"""MetKeys: the keys a complete read met, as hashes in sorted arrays (satellite/sync/met_keys.py)."""

from __future__ import annotations

import tracemalloc

from satellite.sync.met_keys import MetKeys

PREFIX = "0f9e8d7c-6b5a-4c3d-2e1f-0a9b8c7d6e5f:"


def test_answers_in_for_every_key_added_and_no_other() -> None:
    met = MetKeys()
    for rounds in range(3):  # a key met again and again, as a work item once per batch of its revisions
        for i in range(0, 20_000, 2):
            met.add(f"{PREFIX}{i}")
    assert all(f"{PREFIX}{i}" in met for i in range(0, 20_000, 2))
    assert not any(f"{PREFIX}{i}" in met for i in range(1, 20_000, 2))
    assert len(met) == 10_000
    assert 42 not in met and "" not in met


def test_adding_after_a_lookup_still_counts() -> None:
    met = MetKeys(["a", "b"])
    assert "a" in met and "c" not in met
    met.add("c")
    assert "c" in met and len(met) == 3


def test_holds_far_less_than_a_set_of_the_keys() -> None:
    """The keys are made as records are (a set of them keeps every string alive; MetKeys none)."""
    tracemalloc.start()
    try:
        met = MetKeys()
        for i in list(range(50_000)) * 2:
            met.add(f"{PREFIX}{i}")
        held, _ = tracemalloc.get_traced_memory()
        plain = {f"{PREFIX}{i}" for i in range(50_000)}
        as_set = tracemalloc.get_traced_memory()[0] - held
    finally:
        tracemalloc.stop()
    assert len(met) == len(plain)
    assert held * 8 < as_set  # about 8 bytes a key, against a string and a hash slot
