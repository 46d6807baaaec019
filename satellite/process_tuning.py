"""Process settings for a collector of many threads: memory (glibc malloc), the GIL's switch interval and
the cyclic garbage collector.

``tune_process()`` applies them, first thing in the process (``satellite.cli.main``).

Memory. The satellite parses pages of JSON on several threads. With glibc defaults each thread gets its
own malloc arena (up to 8 per core) and the threshold above which a block is mmap'ed (and given
back to the system when freed) rises as big blocks are freed, so freed response bodies and batch
buffers stay resident in arenas. Two arenas and a fixed 128 KiB mmap threshold cut the peak RSS of
a medium backfill by about a sixth (measured with benchmarks/satellite_bench.py). The same can be
set with ``MALLOC_ARENA_MAX`` / ``MALLOC_MMAP_THRESHOLD_``; an explicit environment setting wins.
Not glibc (musl, macOS): nothing to do.

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

__all__ = ["tune_process", "tune_malloc", "SWITCH_INTERVAL_S", "GC_THRESHOLDS"]

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 128 * 1024
SWITCH_INTERVAL_S = 0.001
GC_THRESHOLDS = (50_000, 20, 10)


def tune_process() -> None:
    """The malloc settings, the switch interval and the collector's thresholds (before the worker
    threads start); what exists by then is frozen out of the collections."""
    tune_malloc()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def tune_malloc() -> bool:
    """Apply the settings (before the worker threads start); True when glibc took them."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = True
    if "MALLOC_ARENA_MAX" not in os.environ:
        applied &= mallopt(_M_ARENA_MAX, ARENAS) == 1
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        applied &= mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return applied
