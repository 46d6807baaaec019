"""Process settings for a collector of many threads: memory (glibc malloc) and the GIL's switch interval.

``tune_process()`` applies both, first thing in the process (``satellite.cli.main``).

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
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["tune_process", "tune_malloc", "SWITCH_INTERVAL_S"]

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 128 * 1024
SWITCH_INTERVAL_S = 0.001


def tune_process() -> None:
    """The malloc settings and the switch interval (before the worker threads start)."""
    tune_malloc()
    sys.setswitchinterval(SWITCH_INTERVAL_S)


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
