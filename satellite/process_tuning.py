"""Process settings for a collector of many threads: memory (glibc malloc), the GIL's switch interval and
the cyclic garbage collector.

``tune_process()`` applies them, first thing in the process (``satellite.cli.main``).

Memory. The satellite parses pages of JSON on several threads. With glibc defaults each thread gets its
own malloc arena (up to 8 per core) and the threshold above which a block is mmap'ed (and given
back to the system when freed) rises as big blocks are freed, so freed response bodies and batch
buffers stay resident in arenas. Two arenas and a fixed 128 KiB mmap threshold cut the peak RSS of
a medium backfill by about a sixth (measured with benchmarks/satellite_bench.py). The same can be
set with ``MALLOC_ARENA_MAX`` / ``MALLOC_MMAP_THRESHOLD_``; an explicit environment setting wins.
Not glibc (musl, macOS): nothing to do. Measured and not taken: a 32 KiB threshold keeps the arenas
from fragmenting (the peak of a large sync 173 -> 169 MiB) but maps every block of 32-128 KiB on its
own (socket reads, response bodies): +12% CPU at concurrency 16; at 72 KiB neither shows; one arena
is worse (benchmarks/memory_probe.py).

Freed memory back to the system. Even with two arenas, blocks freed between blocks still in use (a
sealed batch's body, a parsed page's big strings and tables) stay resident as free chunks, and over a
long run there are more of them: in a sync of the large world (17 min) the arenas grew from 52 to
63 MiB while the blocks in use stayed at 40-44 MiB (``mallinfo2``), the growth of the peak RSS
from the medium world to the large one. ``release_freed_memory()`` (after each sealed batch, at most
every ``TRIM_INTERVAL_S``) asks glibc (``malloc_trim``) to give back the whole pages of its free chunks.

The GIL. The collector's threads mostly wait for answers; the few that run parse pages of JSON and
build records. A thread whose answer has arrived waits for the GIL until the running one gives it
up, at the latest after the switch interval (5 ms by default): at 16 requests in flight that wait
lands on most requests. 1 ms took a concurrency-16 backfill of the medium world from 159 s to 152 s
(benchmarks/satellite_bench.py --backfill 16, one run each).

The garbage collector. Parsed pages are trees of dicts and lists with no cycles: reference counting
frees them, but every 700 new containers a collection walks the young ones, and the survivors (a
page being read) again in the older generations. In a c16 backfill of the medium world that was
10,198 + 927 + 83 collections holding the GIL for 7.2 + 4.4 + 4.2 s of 127 CPU s, each full one for
~50 ms. Collections every 50,000 containers (20 and 10 for the older generations) and the objects of
start-up (modules, classes) frozen out of them: 5.3 + 0.3 + 0.03 s (212 + 15 + 2 collections),
parsing 12.8 -> 8.7 CPU s. Cycles are still collected, less often: what the satellite makes per
request must not be one: with httpx's response cycle left in (``http_lanes`` cuts it), the medium
sync peaked at 297 MiB; with it cut, 150 MiB, as with the default thresholds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import threading
import time
from collections.abc import Callable

__all__ = ["tune_process", "tune_malloc", "release_freed_memory", "MemoryReleaser", "SWITCH_INTERVAL_S", "GC_THRESHOLDS",
           "TRIM_INTERVAL_S"]

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 128 * 1024
SWITCH_INTERVAL_S = 0.001
GC_THRESHOLDS = (50_000, 20, 10)
TRIM_INTERVAL_S = 2.0


def tune_process() -> None:
    """The malloc settings, the switch interval and the collector's thresholds (before the worker
    threads start); what exists by then is frozen out of the collections."""
    tune_malloc()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _libc_function(name: str) -> Callable | None:
    """A function of the C library, or None (not glibc: musl, macOS)."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def tune_malloc() -> bool:
    """Apply the settings (before the worker threads start); True when glibc took them."""
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = True
    if "MALLOC_ARENA_MAX" not in os.environ:
        applied &= mallopt(_M_ARENA_MAX, ARENAS) == 1
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        applied &= mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return applied


class MemoryReleaser:
    """Calls ``trim`` (glibc's ``malloc_trim(0)``) when asked, at most once every ``interval`` seconds of
    ``clock``; a thread that finds another one trimming goes on without waiting."""

    def __init__(self, trim: Callable[[], object] | None, interval: float = TRIM_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._trim = trim
        self._interval = interval
        self._clock = clock
        self._next = clock()
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        """True when it trimmed."""
        if self._trim is None or self._clock() < self._next or not self._lock.acquire(blocking=False):
            return False
        try:
            if self._clock() < self._next:
                return False
            self._trim()
            self._next = self._clock() + self._interval
            return True
        finally:
            self._lock.release()


def _malloc_trim() -> Callable[[], object] | None:
    trim = _libc_function("malloc_trim")
    if trim is None:
        return None
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return lambda: trim(0)


release_freed_memory = MemoryReleaser(_malloc_trim())
"""Give the whole pages of malloc's free chunks back to the system (after memory is freed in bulk)."""
