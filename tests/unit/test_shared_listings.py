"""The projects and teams lists the agent's jobs of one sweep share (satellite/sync/listings.py)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from satellite.metrics import REGISTRY
from satellite.sync.listings import MAX_AGE_S, ListingKey, SharedListings, max_age_for
from tests.support import FakeClock

TEAMS = ListingKey("ado", "core.teams", "DefaultCollection/p1")
PROJECTS = ListingKey("ado", "core.projects", "DefaultCollection/")


class Reader:
    """A list read from the server: counts its reads."""

    def __init__(self, items: list[dict]) -> None:
        self.items = items
        self.reads = 0

    def __call__(self) -> list[dict]:
        self.reads += 1
        return [dict(item) for item in self.items]


def shared(stream: str) -> float:
    return REGISTRY.get_sample_value("satellite_listings_shared_total", {"stream": stream}) or 0.0


def test_a_list_read_by_one_job_is_given_to_the_next_while_fresh_then_read_anew():
    clock = FakeClock()
    listings = SharedListings(max_age=60, clock=clock)
    read = Reader([{"id": "t1", "name": "Team 1"}])
    before = shared("core.teams")
    assert listings.list(TEAMS, read) == [{"id": "t1", "name": "Team 1"}]
    clock.advance(59)
    assert listings.list(TEAMS, read) == [{"id": "t1", "name": "Team 1"}]
    assert read.reads == 1
    assert shared("core.teams") == before + 1
    clock.advance(1)  # max_age old: the next sweep's
    listings.list(TEAMS, read)
    assert read.reads == 2


def test_lists_are_kept_apart_by_integration_stream_and_partition():
    listings = SharedListings(max_age=60, clock=FakeClock())
    reads = {key: Reader([{"id": str(key)}]) for key in (
        TEAMS, PROJECTS, ListingKey("other", "core.teams", TEAMS.partition), ListingKey("ado", "core.teams", "DefaultCollection/p2"))}
    for _ in range(2):
        for key, read in reads.items():
            assert listings.list(key, read) == [{"id": str(key)}]
    assert [r.reads for r in reads.values()] == [1, 1, 1, 1]


def test_each_caller_gets_objects_of_its_own():
    """A delivered list's records are trimmed in place (``_links`` popped): that must not reach another job."""
    listings = SharedListings(max_age=60, clock=FakeClock())
    first = listings.list(PROJECTS, Reader([{"id": "p1", "_links": {"self": {"href": "x"}}, "tags": ["a"]}]))
    first[0].pop("_links")
    first[0]["tags"].append("b")
    first.append({"id": "p2"})
    assert listings.list(PROJECTS, Reader([])) == [{"id": "p1", "_links": {"self": {"href": "x"}}, "tags": ["a"]}]


def test_a_failed_read_is_not_kept():
    listings = SharedListings(max_age=60, clock=FakeClock())

    def broken() -> list[dict]:
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        listings.list(TEAMS, broken)
    read = Reader([{"id": "t1"}])
    assert listings.list(TEAMS, read) == [{"id": "t1"}]
    assert read.reads == 1


def test_while_one_job_reads_a_list_another_waits_for_it_instead_of_asking_the_server():
    listings = SharedListings(max_age=60, clock=FakeClock())
    reading, release = threading.Event(), threading.Event()
    reads: list[str] = []

    def slow() -> list[dict]:
        reads.append("first")
        reading.set()
        assert release.wait(30)
        return [{"id": "t1"}]

    def second() -> list[dict]:
        reads.append("second")
        return [{"id": "other"}]

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(listings.list, TEAMS, slow)
        assert reading.wait(30)
        waiting = pool.submit(listings.list, TEAMS, second)
        assert not waiting.done()
        release.set()
        assert first.result(30) == [{"id": "t1"}]
        assert waiting.result(30) == [{"id": "t1"}]
    assert reads == ["first"]


def test_when_the_read_it_waited_for_fails_a_job_reads_the_list_itself():
    listings = SharedListings(max_age=60, clock=FakeClock())
    reading, release = threading.Event(), threading.Event()

    def failing() -> list[dict]:
        reading.set()
        assert release.wait(30)
        raise ConnectionError("refused")

    read = Reader([{"id": "t1"}])
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(listings.list, TEAMS, failing)
        assert reading.wait(30)
        waiting = pool.submit(listings.list, TEAMS, read)
        release.set()
        with pytest.raises(ConnectionError):
            first.result(30)
        assert waiting.result(30) == [{"id": "t1"}]
    assert read.reads == 1


def test_stale_lists_are_dropped_as_new_ones_are_kept():
    clock = FakeClock()
    listings = SharedListings(max_age=60, clock=clock)
    for n in range(3):
        listings.list(ListingKey("ado", "core.teams", f"DefaultCollection/p{n}"), Reader([{"id": n}]))
    clock.advance(61)
    listings.list(TEAMS, Reader([]))
    assert list(listings._kept) == [TEAMS]


@pytest.mark.parametrize(("sweep_s", "max_age_s"), [(300, 150), (60, 30), (3600, MAX_AGE_S)])
def test_a_list_is_shared_for_half_the_sweep_interval_at_most_five_minutes(sweep_s, max_age_s):
    assert max_age_for(sweep_s) == max_age_s
