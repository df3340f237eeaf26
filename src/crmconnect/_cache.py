"""Response caches: in memory, and on disk with a time-to-live.

Both store text (JSON bodies) under string keys. The disk cache is a single
SQLite file (standard library; safe across threads and processes), so a
second run of a bulk job makes no paid calls for what the first one fetched.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import ConfigurationError

__all__ = ["Cache", "DiskCache", "MemoryCache"]


@runtime_checkable
class Cache(Protocol):
    """What a client needs from a cache. Implement it to use your own store."""

    def get(self, key: str) -> str | None:
        """Return the cached text, or ``None`` when absent or expired."""
        ...

    def set(self, key: str, value: str) -> None:
        """Store a text."""
        ...


class MemoryCache:
    """A cache in this process's memory, optionally with a time-to-live.

    Args:
        ttl: How long an entry stays valid; ``None`` keeps it for the process's life.
    """

    def __init__(self, ttl: dt.timedelta | None = None) -> None:
        self._ttl = ttl.total_seconds() if ttl else None
        self._data: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        """Return the cached text, or ``None`` when absent or expired."""
        with self._lock:
            entry = self._data.get(key)
        if entry is None:
            return None
        stored, value = entry
        if self._ttl is not None and time.time() - stored > self._ttl:
            return None
        return value

    def set(self, key: str, value: str) -> None:
        """Store a text."""
        with self._lock:
            self._data[key] = (time.time(), value)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"MemoryCache(entries={len(self._data)}, ttl={self._ttl})"


class DiskCache:
    """A cache in one SQLite file, with a time-to-live.

    Args:
        path: The file; its folder is created when missing.
        ttl: How long an entry stays valid (default: 7 days).

    Example:
        ```python
        cache = DiskCache(".crmconnect-cache/kvk.sqlite", ttl=dt.timedelta(days=30))
        client = KvKClient(environment="test", cache=cache)
        ```
    """

    def __init__(self, path: str | Path, ttl: dt.timedelta = dt.timedelta(days=7)) -> None:
        self.path = Path(path)
        self._ttl = ttl.total_seconds()
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, stored REAL, value TEXT)"
            )
        except (OSError, sqlite3.Error) as exc:  # a directory, not SQLite, read-only, ...
            problem = f"{type(exc).__name__}: {exc}"
        else:
            return
        raise ConfigurationError(
            f"DiskCache: {str(self.path)!r} cannot be used as a cache: {problem}"
        )

    def get(self, key: str) -> str | None:
        """Return the cached text, or ``None`` when absent or expired."""
        with self._lock:
            row = self._db.execute(
                "SELECT stored, value FROM cache WHERE key = ?", (key,)
            ).fetchone()
        if row is None or time.time() - row[0] > self._ttl:
            return None
        return str(row[1])

    def set(self, key: str, value: str) -> None:
        """Store a text."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO cache (key, stored, value) VALUES (?, ?, ?)",
                (key, time.time(), value),
            )

    def purge_expired(self) -> int:
        """Delete expired entries and return how many went."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM cache WHERE stored < ?", (time.time() - self._ttl,)
            )
        return cursor.rowcount

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"DiskCache(path={str(self.path)!r}, ttl={self._ttl})"
