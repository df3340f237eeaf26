"""The one retry policy of crmconnect (tenacity, after stamina's recipe).

Only idempotent requests are retried, and only for errors that may go away
(`crmconnect.errors.is_retriable`). A `RateLimitError` waits what the service
asked (``Retry-After``), capped; everything else backs off exponentially with
jitter. `crmconnect.testing.set_testing` turns the waits off.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import attrs
import tenacity

from .errors import RateLimitError, is_retriable

__all__ = ["RetryPolicy", "set_testing", "testing_enabled"]

logger = logging.getLogger("crmconnect")

MAX_RETRY_AFTER = 120.0
"""Never wait longer than this for a ``Retry-After``; give up instead."""

_testing: dict[str, Any] = {"on": False, "attempts": None}


def set_testing(on: bool, *, attempts: int | None = None) -> None:
    """Switch test mode: retries keep happening, but without waiting.

    Args:
        on: ``True`` to stop sleeping between attempts.
        attempts: Optionally cap the number of attempts while testing.
    """
    _testing["on"] = on
    _testing["attempts"] = attempts if on else None


def testing_enabled() -> bool:
    """Tell whether test mode is on."""
    return bool(_testing["on"])


@attrs.frozen
class RetryPolicy:
    """How often and how long to retry.

    Attributes:
        max_attempts: Attempts in total, the first one included (1 = no retries).
        initial_wait: First back-off in seconds.
        max_wait: Longest back-off in seconds.
        jitter: Random seconds added to each back-off.
    """

    max_attempts: int = 4
    initial_wait: float = 0.5
    max_wait: float = 8.0
    jitter: float = 0.5

    def wait_for(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if _testing["on"]:
            return 0.0
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return min(error.retry_after, MAX_RETRY_AFTER)
        backoff = min(self.initial_wait * 2 ** (attempt - 1), self.max_wait)
        return float(backoff + random.uniform(0, self.jitter))

    def attempts(self) -> int:
        """Attempts to make, honouring the test cap."""
        cap = _testing["attempts"]
        return min(self.max_attempts, cap) if cap else self.max_attempts

    def tenacity_kwargs(self, *, only: type[BaseException] | None = None) -> dict[str, Any]:
        """Keyword arguments for `tenacity.Retrying` / `tenacity.AsyncRetrying`.

        Args:
            only: Retry only this exception type (e.g. connection set-up errors
                for non-idempotent requests) instead of every retriable error.
        """

        def should_retry(error: BaseException) -> bool:
            return isinstance(error, only) if only else is_retriable(error)

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.wait_for(state.attempt_number, error)

        def log(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            logger.info("retrying after attempt %d: %s", state.attempt_number, error)

        return {
            "retry": tenacity.retry_if_exception(should_retry),
            "wait": wait,
            "stop": tenacity.stop_after_attempt(self.attempts()),
            "before_sleep": log,
            "reraise": True,
        }
