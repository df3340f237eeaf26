"""How clients space their requests: a token bucket per process, or a limiter of your own.

Every client's ``rate_limit`` takes a number (requests per second, spaced by
a `TokenBucket` in this process) or any object with ``acquire()`` and
``acquire_async()`` (a `RateLimiter`): one shared by many processes, say, so
that every worker of a vendor stays under a service's limit per account
together (`crmconnect.contrib.celery.SharedRateLimit`).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["RateLimiter", "TokenBucket", "limiter_for"]


@runtime_checkable
class RateLimiter(Protocol):
    """Waits until the next request may be sent."""

    def acquire(self) -> None:
        """Block the calling thread until a request may be sent."""
        ...

    async def acquire_async(self) -> None:
        """Wait (without blocking the event loop) until a request may be sent."""
        ...


class TokenBucket:
    """Limits requests to ``rate`` per second, with bursts of up to ``burst``.

    Each caller reserves a token under a lock and then sleeps until its slot,
    outside the lock. Tokens may go negative: that is a queue of reservations,
    so concurrent callers are spaced evenly instead of all waking at once.
    The lock is never held across an ``await``, so one bucket can serve threads
    and tasks alike.

    Args:
        rate: Requests per second; ``None`` or ``0`` disables limiting.
        burst: How many requests may go at once after a quiet spell.
    """

    def __init__(self, rate: float | None, burst: int = 1) -> None:
        if rate is not None and rate < 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.rate = rate or None
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token and return how long the caller must wait before using it."""
        if self.rate is None:
            return 0.0
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> None:
        """Block the calling thread until a request may be sent."""
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)

    async def acquire_async(self) -> None:
        """Wait (without blocking the event loop) until a request may be sent."""
        delay = self.reserve()
        if delay > 0:
            await anyio.sleep(delay)

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate!r}, burst={self.burst!r})"


def limiter_for(rate_limit: float | RateLimiter | None, burst: int = 1) -> RateLimiter:
    """The limiter a client's ``rate_limit`` setting asks for (a number: a `TokenBucket`)."""
    if isinstance(rate_limit, RateLimiter):
        return rate_limit
    return TokenBucket(rate_limit, burst=burst)
