"""The client against the KvK sandbox: both flavours, faults, async, loopback, the demo."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from crmconnect import NotFoundError, Organisation, RateLimitError, ServerError
from crmconnect.kvk import (
    AsyncKvKClient,
    KvKClient,
    Matcher,
    MatchStatus,
    RegistrationStatus,
    UpdateService,
)
from crmconnect.sandbox import KvKSandbox, generate_companies


@pytest.fixture
def sandbox() -> KvKSandbox:
    return KvKSandbox()


@pytest.mark.parametrize("accept", ["application/json", "application/hal+json"])
def test_both_flavours_give_the_same_organisation(sandbox: KvKSandbox, accept: str) -> None:
    with KvKClient(environment="test", transport=sandbox.transport(), accept=accept) as kvk:  # type: ignore[arg-type]
        org = kvk.organisation("69599084")
        hits = kvk.search(kvk_number="69599084").results
    assert org.name == "Test EMZ Dagobert"
    assert org.visiting_address is not None and org.visiting_address.house_letter == "M"
    assert {h.branch_number for h in hits} == {"000038509504", "000038509520"}
    assert all("basisprofiel" in h.links for h in hits)


def test_deregistered_company_is_ended_and_removed_one_is_removed(sandbox: KvKSandbox) -> None:
    sandbox.deregister("69599068", dt.date(2026, 1, 31))
    sandbox.remove("68727720")
    with KvKClient(environment="test", transport=sandbox.transport()) as kvk:
        service = UpdateService(kvk)
        ended = service.check_updates(Organisation(name="Bolderbast", kvk_number="69599068"))
        removed = service.check_updates(Organisation(name="Katrien", kvk_number="68727720"))
        summary = service.check_updates_many(
            [
                Organisation(name="Bolderbast", kvk_number="69599068"),
                Organisation(name="Katrien", kvk_number="68727720"),
            ]
        )
        assert kvk.search(kvk_number="69599068").results == []
        inactive = kvk.search(kvk_number="69599068", include_inactive=True).results
    assert ended.status is RegistrationStatus.ENDED and ended.register is not None
    assert ended.register.end_date == dt.date(2026, 1, 31)
    assert removed.status is RegistrationStatus.REMOVED
    assert summary.removals == 2
    assert inactive and all(hit.active is False for hit in inactive)


def test_matching_cascade_against_the_register(sandbox: KvKSandbox) -> None:
    with KvKClient(environment="test", transport=sandbox.transport()) as kvk:
        matcher = Matcher(kvk)
        by_name_city = matcher.match(
            Organisation.model_validate(
                {"name": "Test BV Donald", "addresses": [{"city": "LOLLUM"}]}
            )
        )
        by_kvk = matcher.match(
            Organisation(name="Dagobert", kvk_number="69599084", branch_number="38509520")
        )
        nothing = matcher.match(Organisation(name="Bestaat Niet Bakkerij"))
    assert by_name_city.status is MatchStatus.MATCHED and by_name_city.best is not None
    assert by_name_city.best.kvk_number == "68750110"
    assert (
        by_kvk.best is not None
        and by_kvk.best.branch_number == "000038509520"
        and by_kvk.best.score == 100
    )
    assert nothing.status is MatchStatus.NO_MATCH


def test_injected_faults_are_retried(sandbox: KvKSandbox) -> None:
    sandbox.faults.fail_next(2, "503")
    with KvKClient(environment="test", transport=sandbox.transport(), max_retries=3) as kvk:
        assert kvk.basic_profile("69599084").kvk_number == "69599084"
    sandbox.faults.fail_next(5, "500")
    with KvKClient(environment="test", transport=sandbox.transport(), max_retries=1) as kvk:
        with pytest.raises(ServerError):
            kvk.basic_profile("68750110")


def test_sandbox_rate_limit_answers_429_and_the_client_waits(sandbox: KvKSandbox) -> None:
    limited = KvKSandbox(rate_limit=2)
    with KvKClient(
        environment="test", transport=limited.transport(), rate_limit=None, max_retries=0
    ) as kvk:
        with pytest.raises(RateLimitError) as caught:
            for _ in range(10):
                kvk.search(name="Test")
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1


@pytest.mark.anyio
async def test_async_client_against_sandbox(sandbox: KvKSandbox) -> None:
    async with AsyncKvKClient(environment="test", transport=sandbox.transport()) as kvk:
        org = await kvk.organisation("68750110")
        hits = [hit async for hit in kvk.iter_search(name="Test", city="Amsterdam", per_page=1)]
        with pytest.raises(NotFoundError):
            await kvk.basic_profile("12345678")
    assert org.legal_form and org.rsin == "857587973"
    assert len(hits) == len({(h.kvk_number, h.branch_number) for h in hits}) >= 2


def test_loopback_server_serves_the_client() -> None:
    sandbox = KvKSandbox()
    with sandbox.serve() as url, KvKClient(environment="test", base_url=f"{url}/test/api") as kvk:
        assert kvk.organisation("90000749").legal_form == "Vereniging van Eigenaars"


def test_iter_search_over_many_synthetic_companies() -> None:
    sandbox = KvKSandbox()
    for company in generate_companies(300, seed=3):
        sandbox.add(company)
    city = generate_companies(300, seed=3)[0].branches[0].addresses[0].city
    with KvKClient(environment="test", transport=sandbox.transport(), rate_limit=None) as kvk:
        first = kvk.search(name=city.split()[0], per_page=100) if False else None
        assert first is None
        hits = list(kvk.iter_search(city=city, per_page=25))
    assert hits and all(h.address is not None and h.address.city == city for h in hits)
    assert len(hits) == len({(h.kvk_number, h.branch_number) for h in hits})


def test_demo_runs_offline(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console

    from crmconnect._demo import run_demo

    console = Console(width=200, force_terminal=False)
    run_demo(console)
    out = capsys.readouterr().out
    assert "Spuiboulevard 210" in out and "removed" in out and "up to date" in out
    assert "68750110" in out, "Test BV Donald is matched by name and city"


def test_transport_requires_a_known_key(sandbox: KvKSandbox) -> None:
    with httpx.Client(transport=sandbox.transport()) as raw:
        answer = raw.get(
            "https://api.kvk.nl/test/api/v2/zoeken",
            params={"naam": "Test"},
            headers={"apikey": "wrong"},
        )
    assert answer.status_code == 401


def test_branch_of_another_company_is_refused(sandbox: KvKSandbox) -> None:
    from crmconnect import ValidationError

    with KvKClient(environment="test", transport=sandbox.transport()) as kvk:
        with pytest.raises(ValidationError) as caught:
            kvk.organisation("68750110", "000038509504")
        requested = kvk.organisation("69599084", "000038509520")
    assert caught.value.field == "branch_number" and "69599084" in str(caught.value)
    assert requested.name == "Test EMZ Nevenvestiging Govert"
    assert requested.is_main_branch is False


def test_geo_data_and_branch_list(sandbox: KvKSandbox) -> None:
    with KvKClient(environment="test", transport=sandbox.transport()) as kvk:
        branch = kvk.branch_profile("990064773193", geo_data=True)
        plain = kvk.branch_profile("990064773193")
        listing = kvk.branches("69599084")
        assert kvk.usage.profile_calls == 3, "with and without geoData are different answers"
    geo = branch.addresses[0].geo_data
    assert geo is not None and geo.latitude is not None
    assert plain.addresses[0].geo_data is None
    assert listing.total_count == 2 and {b.branch_number for b in listing.branches} == {
        "000038509504",
        "000038509520",
    }


@pytest.mark.anyio
async def test_async_matcher_matches_many_in_order(sandbox: KvKSandbox) -> None:
    from crmconnect.kvk import AsyncMatcher

    records = [
        Organisation.model_validate({"name": "Test BV Donald", "addresses": [{"city": "Lollum"}]}),
        Organisation(name="Bestaat Niet Bakkerij"),
        Organisation(name="Test EMZ Dagobert", kvk_number="69599084"),
    ]
    seen: list[int] = []
    async with AsyncKvKClient(environment="test", transport=sandbox.transport()) as kvk:
        results = await AsyncMatcher(kvk, enrich=True).match_many(
            records, concurrency=2, on_progress=lambda done, total, _: seen.append(done)
        )
    assert [r.status for r in results] == [
        MatchStatus.MATCHED,
        MatchStatus.NO_MATCH,
        MatchStatus.MATCHED,
    ]
    assert results[0].enriched is not None and results[0].enriched.kvk_number == "68750110"
    assert sorted(seen) == [1, 2, 3]
