"""A client's ``rate_limit``: a number (a token bucket in this process) or a limiter of one's own."""

from __future__ import annotations

import anyio
import pytest

from crmconnect.digitalefactuur import AsyncDigitaleFactuurClient, DigitaleFactuurClient
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.errors import ConfigurationError
from crmconnect.kvk import KvKClient
from crmconnect.sandbox import (
    DEMO_ACCESS_CODE,
    DEMO_ACCOUNT_ID,
    DEMO_CREDENTIALS,
    DigitaleFactuurSandbox,
    EBoekhoudenSandbox,
    KvKSandbox,
)


class Counting:
    """A limiter that lets everything through and counts (as a shared one would count)."""

    def __init__(self) -> None:
        self.calls = 0

    def acquire(self) -> None:
        self.calls += 1

    async def acquire_async(self) -> None:
        self.calls += 1


def test_a_limiter_object_is_asked_before_every_request() -> None:
    sandbox, limiter = DigitaleFactuurSandbox(), Counting()
    with DigitaleFactuurClient(
        DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE, transport=sandbox.transport(), rate_limit=limiter
    ) as df:
        df.relations()
        df.relations_snapshot()
    assert limiter.calls == sum(sandbox.stats.requests.values()) == 2


def test_the_async_client_asks_it_without_blocking() -> None:
    sandbox, limiter = DigitaleFactuurSandbox(), Counting()

    async def main() -> None:
        async with AsyncDigitaleFactuurClient(
            DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE, transport=sandbox.transport(), rate_limit=limiter
        ) as df:
            await df.relations()

    anyio.run(main)
    assert limiter.calls == 1


def test_eboekhouden_rest_takes_a_limiter() -> None:
    sandbox, limiter = EBoekhoudenSandbox(), Counting()
    assert DEMO_CREDENTIALS.access_token is not None
    with EBoekhoudenRestClient(
        DEMO_CREDENTIALS.access_token, transport=sandbox.transport(), rate_limit=limiter
    ) as books:
        books.relations()
    assert limiter.calls == sum(sandbox.stats.requests.values())


def test_kvk_takes_a_limiter_and_refuses_what_is_neither() -> None:
    limiter = Counting()
    sandbox = KvKSandbox()
    with KvKClient(environment="test", transport=sandbox.transport(), rate_limit=limiter) as kvk:
        kvk.search(name="test")
    assert limiter.calls >= 1
    with pytest.raises(ConfigurationError, match="rate_limit"):
        KvKClient(environment="test", rate_limit="fast")  # type: ignore[arg-type]
