"""Process settings: the CLI applies the switch interval, the collector's thresholds (and malloc's) before anything runs."""

from __future__ import annotations

import platform
import subprocess
import sys
import threading

import pytest

from satellite.process_tuning import GC_THRESHOLDS, SWITCH_INTERVAL_S, MemoryReleaser
from tests.support import FakeClock


def test_tune_process_sets_the_switch_interval_and_the_collector_and_freezes_start_up():
    code = ("import gc, sys; from satellite.process_tuning import tune_process; before = sys.getswitchinterval(); "
            "tune_process(); print(before, sys.getswitchinterval(), *gc.get_threshold(), gc.get_freeze_count() > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) == 0.005 and float(out[1]) == SWITCH_INTERVAL_S
    assert tuple(int(n) for n in out[2:5]) == GC_THRESHOLDS and out[5] == "True"  # start-up objects frozen


def test_main_tunes_the_process_first(monkeypatch):
    import satellite.cli as cli

    calls: list[str] = []
    monkeypatch.setattr(cli, "tune_process", lambda: calls.append("tuned"))
    monkeypatch.setattr(cli, "build_parser", lambda: (_ for _ in ()).throw(SystemExit(0)))  # stop right after
    try:
        cli.main(["version"])
    except SystemExit:
        pass
    assert calls == ["tuned"]


def test_the_releaser_trims_at_most_once_per_interval():
    clock, trims = FakeClock(100.0), []
    release = MemoryReleaser(lambda: trims.append(clock.now), interval=2.0, clock=clock)
    assert release() is True  # the first call trims
    clock.advance(1.9)
    assert release() is False
    clock.advance(0.1)
    assert release() is True
    assert release() is False
    clock.advance(5.0)
    assert release() is True
    assert trims == [100.0, 102.0, 107.0]


def test_the_releaser_without_glibc_does_nothing():
    assert MemoryReleaser(None)() is False


def test_a_thread_that_finds_another_trimming_goes_on_without_waiting():
    started, finish = threading.Event(), threading.Event()
    release = MemoryReleaser(lambda: (started.set(), finish.wait(10)), interval=0.0)
    first = threading.Thread(target=release)
    first.start()
    try:
        assert started.wait(10)
        assert release() is False  # the lock is held by the first: no wait, no second trim
    finally:
        finish.set()
        first.join(10)
    assert release() is True


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_releasing_gives_the_pages_of_freed_blocks_back():
    # blocks of 2 KiB (glibc, not Python's small-object allocator), one in 8 kept: the 7 freed between
    # two kept ones stay resident as free chunks until malloc_trim gives their whole pages back
    code = """
import sys
from satellite.process_tuning import release_freed_memory, tune_malloc
def anon():
    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('RssAnon:')) // 1024
tune_malloc()
blocks = [bytes(2048) for _ in range(40_000)]
kept = blocks[::8]
del blocks
freed = anon()
assert release_freed_memory()
print(freed, anon())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    before, after = int(out[0]), int(out[1])
    assert before - after >= 30, (before, after)  # of the ~68 MiB freed, more than 30 given back
