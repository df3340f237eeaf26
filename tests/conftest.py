"""Shared fixtures: the third-party reference folder and retry waits switched off."""

from __future__ import annotations

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
