"""Masking of secrets (API keys, security codes, access codes) in text."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MASK", "Redactor", "mask_secret"]

MASK = "***"


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
        """Register another secret (ignored when empty)."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            # Longest first, so a secret that contains another is masked whole.
            self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every registered secret masked."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"
