"""A token bucket shared by the sync and async clients."""

from __future__ import annotations

import threading
import time

import anyio

__all__ = ["TokenBucket"]


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
