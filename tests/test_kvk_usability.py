"""A new user's first hour with the KvK client: pages, reprs, fresh update checks, odd input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crmconnect import ValidationError
from crmconnect.kvk import DiskCache, KvKClient, MemoryCache, SearchResult, UpdateService
from crmconnect.sandbox import KvKSandbox

DAGOBERT = "69599084"


@pytest.fixture
def sandbox() -> KvKSandbox:
    return KvKSandbox()


@pytest.fixture
def kvk(sandbox: KvKSandbox) -> Iterator[KvKClient]:
    with KvKClient(environment="test", transport=sandbox.transport(), rate_limit=None) as client:
        yield client


# --- pages ---------------------------------------------------------------------------------


def test_a_page_iterates_over_its_results_and_has_a_length(kvk: KvKClient) -> None:
    page = kvk.search(kvk_number=DAGOBERT)
    hits = list(page)
    assert hits and all(isinstance(hit, SearchResult) for hit in hits)
    assert hits == page.results
    assert len(page) == len(page.results) > 0
    assert page[0] is page.results[0]
    assert [hit.kvk_number for hit in page] == [DAGOBERT] * len(page)


def test_an_empty_page_is_empty(kvk: KvKClient) -> None:
    page = kvk.search(name="Bestaat Helemaal Niet Xyzzy")
    assert len(page) == 0 and list(page) == [] and page.total == 0


def test_a_page_repr_is_short_and_shows_no_private_types(kvk: KvKClient) -> None:
    page = kvk.search(name="Test", per_page=100)
    text = repr(page)
    assert len(page) > 3
    assert text.startswith(f"SearchPage(page=1, per_page=100, total={page.total}, results=[")
    assert f"... {len(page) - 3} more]" in text
    assert len(text) < 1200
    for private in ("_ResultAddress", "_Embedded", "links=", "address_block"):
        assert private not in text
    assert "address=SearchAddress(" in repr(page[0])


def test_a_profile_repr_shows_what_the_register_filled(kvk: KvKClient) -> None:
    text = repr(kvk.basic_profile(DAGOBERT))
    assert text.startswith(f"BasicProfile(kvk_number='{DAGOBERT}'")
    assert "None" not in text and "links=" not in text and "_Embedded" not in text
    assert "main_branch=BranchProfile(" in text


# --- update checks fetch fresh -----------------------------------------------------------


@pytest.mark.parametrize("cache_kind", ["memory", "disk"])
def test_an_update_check_sees_a_change_the_cache_still_holds_old(
    sandbox: KvKSandbox, tmp_path: Path, cache_kind: str
) -> None:
    cache = MemoryCache() if cache_kind == "memory" else DiskCache(tmp_path / "kvk")
    with KvKClient(
        environment="test", transport=sandbox.transport(), rate_limit=None, cache=cache
    ) as kvk:
        crm = kvk.organisation(DAGOBERT)  # the cache now holds today's answers
        sandbox.update(DAGOBERT, non_mailing=not crm.non_mailing)
        assert kvk.organisation(DAGOBERT) == crm, "matching and enrichment: served from cache"
        paid = kvk.usage.profile_calls

        report = UpdateService(kvk).check_updates(crm)

        assert report.fields == ["non_mailing"]
        assert report.register is not None
        assert report.register.non_mailing is not crm.non_mailing
        assert kvk.usage.profile_calls == paid + 1, "the Basisprofiel asked (PerfectView's fields)"
        refreshed = kvk.organisation(DAGOBERT)
        assert refreshed.non_mailing is report.register.non_mailing, "the cache was refreshed"
        assert kvk.usage.profile_calls == paid + 1


def test_a_stale_disk_cache_from_an_earlier_run_is_not_read_by_an_update_check(
    sandbox: KvKSandbox, tmp_path: Path
) -> None:
    def client() -> KvKClient:
        return KvKClient(
            environment="test",
            transport=sandbox.transport(),
            rate_limit=None,
            cache=DiskCache(tmp_path / "kvk"),
        )

    with client() as yesterday:
        crm = yesterday.organisation(DAGOBERT)
    sandbox.update(DAGOBERT, non_mailing=not crm.non_mailing)
    with client() as today:
        report = UpdateService(today).check_updates(crm)
    assert report.fields == ["non_mailing"]


# --- odd input ---------------------------------------------------------------------------


def test_ids_given_as_ints_are_read_as_numbers(kvk: KvKClient) -> None:
    assert kvk.basic_profile(69599084).kvk_number == DAGOBERT
    assert kvk.naming(69599084).kvk_number == DAGOBERT
    branch = kvk.basic_profile(DAGOBERT).main_branch
    assert branch is not None
    number = int(branch.branch_number)
    assert kvk.branch_profile(number).branch_number == branch.branch_number
    assert kvk.organisation(69599084, number).branch_number == branch.branch_number
    assert len(kvk.search(kvk_number=69599084)) > 0


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({"name": 5}, "name"),
        ({"city": ["Utrecht"]}, "city"),
        ({"name": "x" * 100_000}, "name"),
        ({"name": "\x00\u200b"}, "name"),
        ({"postcode": "1034WL", "house_number": 17, "house_letter": 1}, "house_letter"),
        ({"postcode": "1034WL", "house_number": 17, "house_letter": "MM"}, "house_letter"),
        ({"postcode": "1034WL", "house_number": "17²"}, "house_number"),
        ({"postcode": "1034WL", "house_number": 1e3}, "house_number"),
        ({"name": "x", "page": "zwei"}, "page"),
        ({"name": "x", "page": 1001}, "page"),
        ({"name": "x", "page": True}, "page"),
        ({"name": "x", "per_page": "many"}, "per_page"),
        ({"name": "x", "per_page": 0}, "per_page"),
    ],
)
def test_odd_search_input_is_a_validation_error_before_any_request(
    criteria: dict[str, object], field: str
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    transport = httpx.MockTransport(handler)
    with KvKClient("key-for-tests-000", transport=transport, rate_limit=None) as kvk:
        with pytest.raises(ValidationError) as caught:
            kvk.search(**criteria)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert sent == []


def test_iter_search_with_a_page_is_a_validation_error(kvk: KvKClient) -> None:
    with pytest.raises(ValidationError) as caught:
        list(kvk.iter_search(name="Test", page=2))
    assert caught.value.field == "page"


def test_numbers_given_as_text_still_work(kvk: KvKClient) -> None:
    page = kvk.search(name="Test", page="1", per_page="5")  # type: ignore[arg-type]
    assert page.per_page == 5 and len(page) <= 5


def test_a_single_type_may_be_given_as_text(kvk: KvKClient) -> None:
    page = kvk.search(name="Test", types="hoofdvestiging")  # type: ignore[arg-type]
    assert {hit.type for hit in page} == {"hoofdvestiging"}


def test_an_environment_that_is_not_text_is_a_configuration_error() -> None:
    from crmconnect import ConfigurationError

    with pytest.raises(ConfigurationError):
        KvKClient(environment=["test"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"api_key": 12345}, "must be text"),
        ({"api_key": "l7xx\nkey"}, "line break"),
        ({"api_key": "l7xx\x00key"}, "control character"),
        ({"api_key": "k", "base_url": 5}, "base_url"),
        ({"api_key": "k", "max_retries": "3"}, "max_retries"),
        ({"api_key": "k", "rate_limit": "fast"}, "rate_limit"),
        ({"api_key": "k", "max_answer_bytes": 0}, "max_answer_bytes"),
    ],
)
def test_settings_of_the_wrong_kind_are_a_configuration_error(
    settings: dict[str, object], named: str
) -> None:
    from crmconnect import ConfigurationError

    with pytest.raises(ConfigurationError, match=named) as caught:
        KvKClient(**settings)  # type: ignore[arg-type]
    assert "12345" not in str(caught.value), "a key given as a number is not shown"


def test_vies_settings_of_the_wrong_kind_are_a_configuration_error() -> None:
    from crmconnect import ConfigurationError
    from crmconnect.vies import ViesClient

    with pytest.raises(ConfigurationError, match="base_url"):
        ViesClient(base_url=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [123, None, "NL" + "1" * 10_000, "XX123456789", ["NL"]])
def test_odd_vat_numbers_are_a_validation_error(value: object) -> None:
    from crmconnect.vies import split_vat_number

    with pytest.raises(ValidationError) as caught:
        split_vat_number(value)  # type: ignore[arg-type]
    assert caught.value.field == "vat_number"


def test_one_update_run_asks_each_profile_once_however_many_records_share_it(
    sandbox: KvKSandbox, tmp_path: Path
) -> None:
    with KvKClient(
        environment="test",
        transport=sandbox.transport(),
        rate_limit=None,
        cache=DiskCache(tmp_path / "kvk"),
    ) as kvk:
        crm = kvk.organisation(DAGOBERT)  # cached: stale once the register changes
        sandbox.update(DAGOBERT, non_mailing=not crm.non_mailing)
        before = kvk.usage.profile_calls
        summary = UpdateService(kvk).check_updates_many([crm, crm, crm], workers=3)
        assert [report.fields for report in summary.reports] == [["non_mailing"]] * 3
        assert kvk.usage.profile_calls == before + 1, "the Basisprofiel once"
        UpdateService(kvk).check_updates_many([crm])
        assert kvk.usage.profile_calls == before + 2, "a new run asks again"
