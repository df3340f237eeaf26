"""Shared fixtures: the third-party reference folder and retry waits switched off."""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The `shared/reference` folder beside the checkout; skips the test when it is absent."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(
            f"third-party reference files not found at {REFERENCE_DIR}; "
            "place the shared/ folder beside the checkout to run this test"
        )
    return REFERENCE_DIR


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    """Retries still happen in tests, but without sleeping between attempts."""
    try:
        from crmconnect.testing import set_testing
    except ImportError:  # pragma: no cover - before the testing module exists
        yield
        return
    set_testing(True)
    yield
    set_testing(False)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio."""
    return "asyncio"


POSTGRES_DSN = os.environ.get(
    "CRMCONNECT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


def require_postgres() -> str:
    """The test PostgreSQL's DSN (``CRMCONNECT_TEST_POSTGRES_DSN``), for a module's top.

    Without it the module is skipped in one line naming what is missing;
    under ``CI=true`` that is a failure instead.
    """
    missing = _postgres_missing(POSTGRES_DSN)
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} (CI=true: the PostgreSQL tests must run)", pytrace=False)
        pytest.skip(missing, allow_module_level=True)
    return POSTGRES_DSN


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """`require_postgres` as a fixture: skips (or fails under CI=true) each test using it."""
    return require_postgres()


@functools.cache
def _postgres_missing(dsn: str) -> str | None:
    """Why the PostgreSQL tests cannot run, in one line (no password), or ``None``."""
    try:
        import psycopg
    except ImportError:
        return "no psycopg for the PostgreSQL tests: pip install 'crmconnect[postgres]'"
    try:
        where = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "CRMCONNECT_TEST_POSTGRES_DSN is not a PostgreSQL connection string"
    place = f"{where.get('host', 'localhost')}:{where.get('port', 5432)}/{where.get('dbname')}"
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"no PostgreSQL at {place} ({reason}); set CRMCONNECT_TEST_POSTGRES_DSN"
    return None


class Clock:
    """A clock a test moves by hand (the KvK sandbox's signal feed reads it)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        """Move on by ``datetime.timedelta(**delta)``."""
        self.now += dt.timedelta(**delta)
