"""Masking of secrets (API keys, security codes, access codes) in text."""

from __future__ import annotations

import html
import logging
import urllib.parse
from collections.abc import Iterable
from typing import Any, TypeVar

__all__ = ["MASK", "Redactor", "mask_secret", "protect_library_logs"]

MASK = "***"

_E = TypeVar("_E", bound=BaseException)


def mask_secret(secret: str | None) -> str:
    """Show a secret in a repr: a hint of its start, never the whole value.

    Args:
        secret: The secret, or ``None``.

    Returns:
        ``'***'`` for short or missing secrets, else the first four characters and ``'***'``.
    """
    if not secret or len(secret) < 12:
        return MASK
    return secret[:4] + MASK


class Redactor:
    """Replaces every known secret in a text by ``***``.

    One redactor belongs to one client; every log line, exception text and repr
    the client produces goes through it.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Register another secret (ignored when empty), in the forms a server echoes it.

        Besides the secret as given: XML/HTML-escaped (``&amp;``) and
        URL-encoded (``%26``, ``+`` for a space), as an answer or a logged URL
        may carry it.
        """
        if not secret:
            return
        forms = {
            secret,
            html.escape(secret, quote=False),
            html.escape(secret),
            urllib.parse.quote(secret, safe=""),
            urllib.parse.quote_plus(secret),
        }
        for form in forms - set(self._secrets):
            self._secrets.append(form)
        # Longest first, so a secret that contains another is masked whole.
        self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every registered secret masked."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def value(self, value: Any) -> Any:
        """Mask secrets in a value: strings, and strings inside lists, tuples and dicts."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(item) for item in value)
        return value

    def scrub(self, error: _E) -> _E:
        """Mask secrets in every attribute of an exception, and cut its chain.

        Its ``args`` and every attribute (``remote_message``, ``context``,
        ``value``, ...) are masked, and ``__cause__`` and ``__context__`` are
        cleared: error reporters (Sentry and the like) walk that chain, and
        the original exception (a zeep fault, an httpx error) may hold the
        credentials this client sent. Call it on every error a client raises.

        Args:
            error: The exception, changed in place.

        Returns:
            The same exception, for ``raise redactor.scrub(error)``.
        """
        error.args = tuple(self.value(arg) for arg in error.args)
        for name, attribute in vars(error).items():
            setattr(error, name, self.value(attribute))
        error.__cause__ = None
        error.__context__ = None
        error.__suppress_context__ = True
        return error

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"


class _LibraryLogRedactor(logging.Filter):
    """Masks every registered secret in the records of libraries we do not control."""

    def __init__(self) -> None:
        super().__init__()
        self.redactor = Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = ()
        return True


_LIBRARY_LOGS = _LibraryLogRedactor()


def protect_library_logs(secrets: Iterable[str | None], loggers: Iterable[str]) -> None:
    """Mask these secrets in what the named loggers of other libraries write.

    httpx logs every request's URL at INFO (``HTTP Request: GET https://...``)
    and zeep whole SOAP bodies at DEBUG: where a secret sits in a URL or a
    body, those records must be masked before any handler sees them. A filter
    on a logger applies only to records logged on that very logger, so each
    one is named.

    Args:
        secrets: The secrets to mask (empty ones are ignored).
        loggers: Logger names, e.g. ``("httpx",)``.
    """
    for secret in secrets:
        _LIBRARY_LOGS.redactor.add(secret)
    for name in loggers:
        logger = logging.getLogger(name)
        if _LIBRARY_LOGS not in logger.filters:
            logger.addFilter(_LIBRARY_LOGS)
