"""The stand-ins' event loop waits the exact timeout (standins/loopback.py): epoll alone rounds it up to
whole milliseconds, which made the simulator's injected latency late."""

from __future__ import annotations

import asyncio
import select
import selectors
import socket

import pytest

from standins import loopback
from standins.loopback import PunctualEpollSelector, punctual_event_loop

pytestmark = pytest.mark.skipif(not hasattr(selectors, "EpollSelector"), reason="epoll is Linux's")


@pytest.fixture
def selector_and_pair():
    selector = PunctualEpollSelector()
    ours, peer = socket.socketpair()
    selector.register(ours, selectors.EVENT_READ)
    yield selector, ours, peer
    selector.close()
    ours.close()
    peer.close()


def test_a_wait_is_a_select_of_the_exact_timeout_then_epoll_without_waiting(selector_and_pair, monkeypatch):
    selector, _, _ = selector_and_pair
    waits: list[float] = []
    polls: list[float] = []
    real_select, real_poll = select.select, selector._selector.poll

    def recording_select(readable, writable, errors, timeout):
        waits.append(timeout)
        assert readable == [selector._selector.fileno()]
        return real_select(readable, writable, errors, timeout)

    class RecordingEpoll:
        def __init__(self, inner):
            self._inner = inner

        def poll(self, timeout=-1, maxevents=-1):
            polls.append(timeout)
            return real_poll(timeout, maxevents)

        def __getattr__(self, name):
            return getattr(self._inner, name)

    monkeypatch.setattr(loopback.select, "select", recording_select)
    selector._selector = RecordingEpoll(selector._selector)
    assert selector.select(0.0003) == []  # nothing ready
    assert waits == [0.0003]  # not rounded up to a millisecond
    assert polls == [0]


def test_a_ready_descriptor_is_reported_at_once(selector_and_pair):
    selector, ours, peer = selector_and_pair
    peer.sendall(b"x")
    ready = selector.select(30)  # returns with the event, not after the timeout
    assert [(key.fileobj, events) for key, events in ready] == [(ours, selectors.EVENT_READ)]


def test_no_timeout_and_zero_are_epolls_own(selector_and_pair, monkeypatch):
    selector, _, peer = selector_and_pair
    monkeypatch.setattr(loopback.select, "select", lambda *args: pytest.fail("select() called"))
    assert selector.select(0) == []
    peer.sendall(b"x")
    assert len(selector.select(None)) == 1


def test_the_stand_ins_run_on_the_punctual_loop():
    loop = punctual_event_loop()
    try:
        assert isinstance(loop._selector, PunctualEpollSelector)
        assert loop.run_until_complete(asyncio.sleep(0.001, result="slept")) == "slept"
    finally:
        loop.close()
    assert loopback._uvicorn_config(object(), "warning").get_loop_factory() is punctual_event_loop
