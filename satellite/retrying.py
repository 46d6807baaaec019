"""One retry policy for every outbound call: full-jitter exponential backoff that honours Retry-After.

    policy = RetryPolicy(max_attempts=6, initial_wait=0.5, max_wait=60)
    for attempt in policy.retrying(is_retryable):
        with attempt:
            call()
"""

from __future__ import annotations

import email.utils
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Callable

import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_never, wait_random_exponential

from satellite.errors import Stopping
from satellite.log import redact_text

__all__ = ["RetryPolicy", "parse_retry_after"]

log = structlog.get_logger(__name__)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date. None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How to retry. ``max_attempts=None`` retries forever.

    The wait before attempt n is ``random(0, min(max_wait, initial_wait * 2**n))`` (AWS "full
    jitter"), but never less than the Retry-After the server sent (capped at ``max_retry_after``).
    """

    max_attempts: int | None = 6
    initial_wait: float = 0.5
    max_wait: float = 60.0
    max_retry_after: float = 600.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def until(self, stop: threading.Event) -> RetryPolicy:
        """This policy with back-offs that end when ``stop`` is set (a SIGTERM), raising ``Stopping``:
        a Retry-After of minutes must not hold the process past its shutdown grace."""

        def sleep(seconds: float) -> None:
            if stop.wait(seconds):
                raise Stopping("stopping: a request waiting to be tried again gave up")

        return replace(self, sleep=sleep)

    def wait_seconds(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=self.initial_wait, max=self.max_wait)(state)
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return max(backoff, min(float(retry_after), self.max_retry_after))
        return backoff

    def retrying(self, is_retryable: Callable[[BaseException], bool], what: str = "request") -> Retrying:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "retrying",
                what=what,
                attempt=state.attempt_number,
                wait_s=round(state.upcoming_sleep, 3),
                error=redact_text(str(exc)),
            )

        return Retrying(
            retry=retry_if_exception(is_retryable),
            wait=self.wait_seconds,
            stop=stop_never if self.max_attempts is None else stop_after_attempt(self.max_attempts),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
