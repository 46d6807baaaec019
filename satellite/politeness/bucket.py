"""A thread-safe token bucket: at most ``rate`` requests per second on average, ``burst`` at once.

    bucket = TokenBucket(rate=5.0, burst=1.0)
    time.sleep(bucket.reserve())     # 0.0 while tokens last, else the wait until this request's token

A reservation takes its token at once (the bucket may go into debt), so callers are served in the
order they asked and none waits longer than the debt ahead of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; starts full."""

    def __init__(self, rate: float, burst: float = 1.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._at = clock()
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        return self._rate

    def reserve(self, tokens: float = 1.0) -> float:
        """Take ``tokens`` now; returns the seconds to wait before using them (0.0: go)."""
        with self._lock:
            self._refill()
            self._tokens -= tokens
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    def set_rate(self, rate: float, burst: float | None = None) -> None:
        """A new rate (a reloaded configuration); tokens and debt carry over."""
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        with self._lock:
            self._refill()
            self._rate = rate
            if burst is not None:
                self._burst = max(1.0, burst)
                self._tokens = min(self._tokens, self._burst)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
