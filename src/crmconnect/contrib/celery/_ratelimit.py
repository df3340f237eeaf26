"""`SharedRateLimit`: one remote account's rate limit, shared by every worker through Redis.

A service limits requests per account (KvK: 100 a second per API key), not per
process; a vendor's workers therefore count together. This is the well-kept
`limits` library's moving window on Redis, behind crmconnect's `RateLimiter`
protocol, so any client takes it as its ``rate_limit``.
"""

from __future__ import annotations

import hashlib
import time

import anyio

from ...errors import ConfigurationError

__all__ = ["SharedRateLimit"]

_POLL = 0.005
"""Seconds between tries when the window is full and says no reset time."""


class SharedRateLimit:
    """At most ``rate`` requests per ``per`` seconds for one account, across processes.

    Args:
        redis_url: Where the counts live (``redis://host:6379/0``).
        service: The service's name, e.g. ``"kvk"``.
        account: What identifies the account, e.g. the API key: only a
            hash of it is stored or shown, never the value.
        rate: Requests per window.
        per: The window's length in seconds (1: per second).

    Raises:
        ConfigurationError: ``rate`` or ``per`` not positive, or the
            ``limits`` package with Redis support is not installed
            (``pip install crmconnect[celery]``).

    Example:
        ```python
        shared = SharedRateLimit("redis://127.0.0.1:6379/0", "kvk", api_key, rate=100)
        kvk = KvKClient(api_key, rate_limit=shared)   # every worker together: 100/s
        ```
    """

    def __init__(
        self, redis_url: str, service: str, account: str, *, rate: int, per: float = 1.0
    ) -> None:
        if not isinstance(rate, int) or rate < 1 or per <= 0:
            raise ConfigurationError(
                f"a shared rate limit needs rate >= 1 and per > 0, got {rate!r}/{per!r}"
            )
        try:
            from limits import RateLimitItemPerSecond, storage, strategies
        except ImportError as missing:  # pragma: no cover - the extra is installed in tests
            raise ConfigurationError(
                "SharedRateLimit needs the limits package: pip install crmconnect[celery]"
            ) from missing
        digest = hashlib.sha256(account.encode()).hexdigest()[:16]
        self.key = f"crmconnect:{service}:{digest}"
        self.rate, self.per = rate, per
        self._item = RateLimitItemPerSecond(rate, max(1, round(per)))
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(redis_url))

    def __repr__(self) -> str:
        return f"SharedRateLimit({self.key!r}, rate={self.rate}, per={self.per})"

    def _wait(self) -> float:
        """Take a slot (0.0) or say how long to wait before trying again."""
        if self._limiter.hit(self._item, self.key):
            return 0.0
        stats = self._limiter.get_window_stats(self._item, self.key)
        return max(_POLL, stats.reset_time - time.time())

    def acquire(self) -> None:
        """Block until a request may be sent."""
        while (delay := self._wait()) > 0:
            time.sleep(delay)

    async def acquire_async(self) -> None:
        """Wait (without blocking the event loop) until a request may be sent."""
        while (delay := self._wait()) > 0:
            await anyio.sleep(delay)
