"""A scope's services run side by side (``_ScopeRunner.by_service``), each its streams in order.

A project's builds used to wait for all its pull requests: the heavy requests (pull request parts,
commits) came first and the light ones (build timelines and changes) last, which left the first
minute of a backfill CPU-bound and the rest waiting on the server.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from satellite.streams import Scope
from satellite.sync.collector import CollectionReport, _ScopeRunner


@dataclass(frozen=True)
class FakeStream:
    name: str
    service: str
    scope: Scope = Scope.PROJECT


class FakeCollector:
    """Runs a unit by calling the test's function for its stream; lists what the stream name says."""

    def __init__(self, units) -> None:
        self.units = units
        self.ran: list[tuple[str, dict]] = []
        self.lock = threading.Lock()

    def should_stop(self) -> bool:
        return False

    def _run_unit(self, report, client, stream, parent, parent_id, listed, collection_id) -> None:
        with self.lock:
            self.ran.append((stream.name, dict(listed)))
        self.units.get(stream.name, lambda: None)()
        listed[stream.name] = [{"id": f"{stream.name}-of-{parent_id}"}]


def runner(collector: FakeCollector, streams: list[FakeStream]) -> _ScopeRunner:
    return _ScopeRunner(collector, client=None, report=CollectionReport(), streams=streams, collection_id="c")


STREAMS = [FakeStream("git.repositories", "repos"), FakeStream("git.pull_requests", "repos"),
           FakeStream("build.definitions", "pipelines"), FakeStream("build.builds", "pipelines"),
           FakeStream("core.projects", "core", Scope.COLLECTION)]


def test_one_service_runs_while_another_is_held():
    """The pull requests wait until the builds have started: run in turn, they would wait forever."""
    builds_started = threading.Event()
    waited: list[bool] = []
    collector = FakeCollector({"git.pull_requests": lambda: waited.append(builds_started.wait(timeout=30)),
                               "build.builds": builds_started.set})
    listed = runner(collector, STREAMS).by_service(Scope.PROJECT, {"id": "p"}, "p")
    assert waited == [True]
    assert sorted(listed) == ["build.builds", "build.definitions", "git.pull_requests", "git.repositories"]


def test_a_services_streams_run_in_order_and_see_the_lists_before_them():
    collector = FakeCollector({})
    runner(collector, STREAMS).by_service(Scope.PROJECT, {"id": "p"}, "p")
    ran = dict(collector.ran)
    assert [n for n, _ in collector.ran if n.startswith("git.")] == ["git.repositories", "git.pull_requests"]
    assert [n for n, _ in collector.ran if n.startswith("build.")] == ["build.definitions", "build.builds"]
    assert ran["git.pull_requests"] == {"git.repositories": [{"id": "git.repositories-of-p"}]}
    assert ran["build.builds"] == {"build.definitions": [{"id": "build.definitions-of-p"}]}
    assert "core.projects" not in ran  # another scope


def test_each_list_is_told_as_soon_as_it_is_read():
    told: list[str] = []
    collector = FakeCollector({})
    runner(collector, STREAMS).by_service(Scope.PROJECT, {"id": "p"}, "p", on_listed=lambda name, _: told.append(name))
    assert sorted(told) == ["build.builds", "build.definitions", "git.pull_requests", "git.repositories"]


def test_a_failing_service_fails_the_scope_after_the_others_end():
    """A store failure must stop the run: it comes out of the call (the other services finish first)."""
    def broken() -> None:
        raise OSError("disk full")

    collector = FakeCollector({"build.definitions": broken})
    with pytest.raises(OSError, match="disk full"):
        runner(collector, STREAMS).by_service(Scope.PROJECT, {"id": "p"}, "p")
    assert "git.pull_requests" in dict(collector.ran)


def test_a_scope_of_one_service_runs_in_the_callers_thread():
    threads: list[str] = []
    collector = FakeCollector({"git.pull_requests": lambda: threads.append(threading.current_thread().name)})
    listed = runner(collector, STREAMS[:2]).by_service(Scope.PROJECT, {"id": "p"}, "p")
    assert threads == [threading.current_thread().name]
    assert sorted(listed) == ["git.pull_requests", "git.repositories"]
    assert runner(collector, STREAMS[4:]).by_service(Scope.PROJECT, {"id": "p"}, "p") == {}  # no stream of the scope
