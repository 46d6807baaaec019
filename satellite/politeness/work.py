"""What kind of work a request serves: incremental (first in line) or backfill (a first run or a
reconciliation: a read from no cursor), which outside its window gets only a share of the limit;
and whether it continues a paged walk (``chained``: the next page needs this one's answer, so a
long walk is a critical path), which goes before fan-out reads of the same kind.

    with doing(Work(backfill=True, window=window, share=0.25)):
        ...                                   # every request of this thread is backfill work
    pool.submit(carrying(fetch), path)        # ...and of a worker thread it hands work to
    fetch = chaining(fetch)                   # the calls after its first continue a chain
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from typing import ParamSpec, TypeVar

from satellite.politeness.window import BackfillWindow

__all__ = ["INCREMENTAL", "Work", "carrying", "chaining", "current_work", "doing"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Work:
    """``share``: the part of the server's limit backfill work may hold outside ``window`` (no
    window: backfills always get the full limit; incremental work always does). ``should_stop``:
    true once the process is stopping; a request of this work waiting at the gate then gives up
    (``Stopping``) rather than wait out a server's pause."""

    backfill: bool = False
    window: BackfillWindow | None = None
    share: float = 1.0
    chained: bool = False
    should_stop: Callable[[], bool] | None = None

    def share_at(self, now: datetime) -> float:
        if not self.backfill or self.window is None or self.window.contains(now):
            return 1.0
        return self.share


INCREMENTAL = Work()
_CURRENT: ContextVar[Work] = ContextVar("satellite_work", default=INCREMENTAL)


def current_work() -> Work:
    return _CURRENT.get()


@contextmanager
def doing(work: Work) -> Iterator[Work]:
    """Requests made inside (in this thread) serve ``work``."""
    token = _CURRENT.set(work)
    try:
        yield work
    finally:
        _CURRENT.reset(token)


def carrying(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run (in any thread) as the work current here and now."""
    work = current_work()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with doing(work):
            return fn(*args, **kwargs)

    return run


def chaining(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` whose calls after the first run as the work current at each call, ``chained``: the
    pages of a walk after its first, each asked with what the previous answer said."""
    calls = 0

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        nonlocal calls
        calls += 1
        if calls == 1:
            return fn(*args, **kwargs)
        with doing(replace(current_work(), chained=True)):
            return fn(*args, **kwargs)

    return run
