"""Enrichment pays for the branch profile only where the wanted fields need it.

Against the KvK sandbox (its Basisprofiel embeds the main branch as KvK's recorded
answer does: no full-time/part-time split, no trade names), and KvK's recorded
Basisprofiel for an answer that does carry the split. Also the invoice address
(KvK holds none) and the establishment date.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import pytest
import yaml

from crmconnect import AddressKind, ConfigurationError, Organisation, ValidationError
from crmconnect.kvk import (
    EMPLOYEE_SPLIT,
    ENRICHMENT_FIELDS,
    PERFECTVIEW_FIELDS,
    AsyncKvKClient,
    EnrichmentSettings,
    KvKClient,
    Matcher,
    UpdateService,
)
from crmconnect.sandbox import KvKSandbox, generate_companies
from tests.replay import ReplayTransport

DONALD, DONALD_MAIN, DONALD_OTHER = "68750110", "000037178598", "000037178601"
DAGOBERT, JOYFLEX, GEODATA = "69599084", "90001354", "90006623"
WITH_SPLIT = EnrichmentSettings(fields=PERFECTVIEW_FIELDS | EMPLOYEE_SPLIT)
EVERYTHING = EnrichmentSettings(fields=ENRICHMENT_FIELDS)
BRANCH_ONLY = {"employees_full_time", "employees_part_time", "trade_names"}


@pytest.fixture
def sandbox() -> KvKSandbox:
    return KvKSandbox()


def client(sandbox: KvKSandbox, settings: EnrichmentSettings | None = None) -> KvKClient:
    return KvKClient(environment="test", transport=sandbox.transport(), enrichment=settings)


def enriched(
    sandbox: KvKSandbox, kvk_number: str, branch: str | None = None, **settings: object
) -> tuple[Organisation, int]:
    """The organisation and the paid calls it cost."""
    with client(sandbox, EnrichmentSettings(**settings)) as kvk:  # type: ignore[arg-type]
        org = kvk.organisation(kvk_number, branch)
        return org, kvk.usage.profile_calls


def test_the_default_is_perfectviews_fields_without_the_employee_split() -> None:
    assert EnrichmentSettings().fields == PERFECTVIEW_FIELDS
    assert set(ENRICHMENT_FIELDS) >= PERFECTVIEW_FIELDS | EMPLOYEE_SPLIT
    assert {"employees_total", "employee_class", "websites", "invoice_address"} <= (
        PERFECTVIEW_FIELDS
    )
    assert {"employees_full_time", "employees_part_time"} == EMPLOYEE_SPLIT
    assert not EMPLOYEE_SPLIT & PERFECTVIEW_FIELDS


def test_the_split_asked_for_needs_the_branch_profile(sandbox: KvKSandbox) -> None:
    org, paid = enriched(sandbox, GEODATA, fields=WITH_SPLIT.fields)
    assert paid == 2, "the Basisprofiel's main branch gives no full-time count"
    assert (org.employees_total, org.employees_full_time, org.employees_part_time) == (12, 4, 6)


def test_a_main_branch_with_perfectviews_fields_costs_one_paid_call(sandbox: KvKSandbox) -> None:
    with client(sandbox) as kvk:
        org = kvk.organisation(GEODATA)
        again = kvk.organisation(GEODATA, "990064773193")  # the main branch, by number
        assert kvk.usage.profile_calls == 1
    assert org == again
    assert (org.name, org.branch_number, org.is_main_branch) == (
        "Test Stichting Geodata Gijs",
        "990064773193",
        True,
    )
    assert (org.employees_total, org.employee_class, org.employees_full_time) == (12, "05", None)
    assert org.websites == ["www.example.nl"] and org.legal_form == "Stichting"
    assert org.visiting_address is not None and org.visiting_address.city == "Utrecht"


def test_another_branch_is_always_its_own_profile(sandbox: KvKSandbox) -> None:
    org, paid = enriched(sandbox, DONALD, DONALD_OTHER)
    assert paid == 2
    assert (org.name, org.employees_total, org.is_main_branch) == (
        "Test BV Donald Fruithandel",
        2,
        False,
    )


def test_one_call_enriches_as_two_did_on_the_synthetic_register() -> None:
    companies = [c for c in generate_companies(300, seed=11) if c.main_branch]
    sandbox = KvKSandbox(companies)
    with client(sandbox, EVERYTHING) as full, client(sandbox) as one:
        for company in companies:
            two_calls = full.organisation(company.kvk_number).model_dump(exclude=BRANCH_ONLY)
            one_call = one.organisation(company.kvk_number).model_dump(exclude=BRANCH_ONLY)
            assert one_call == two_calls, company.kvk_number
        assert full.usage.profile_calls == 2 * len(companies)
        assert one.usage.profile_calls == len(companies)


def test_on_kvks_real_answers_one_call_enriches_as_two_did(reference_dir: Path) -> None:
    recordings = reference_dir / "kvk" / "recordings"
    transport = ReplayTransport(
        recordings / "test_client__KVKProfilesClientTests__test_client.yaml",
        recordings / "test_client__KVKBranchProfilesClientTests__test_client.yaml",
    )
    with (
        KvKClient(environment="test", transport=transport, enrichment=WITH_SPLIT) as two,
        KvKClient(environment="test", transport=transport) as one,
    ):
        by_two, by_one = two.organisation(DAGOBERT), one.organisation(DAGOBERT)
        assert (two.usage.profile_calls, one.usage.profile_calls) == (2, 1)
    assert by_one.model_dump(exclude=BRANCH_ONLY) == by_two.model_dump(exclude=BRANCH_ONLY)
    assert by_two.employees_full_time == 1 and by_one.employees_full_time is None
    assert by_one.establishment_date == dt.date(2015, 8, 28)
    assert by_one.registration_date == dt.date(2017, 1, 8)


def test_a_basic_profile_that_carries_the_split_is_enough(reference_dir: Path) -> None:
    # KvK's recorded Basisprofiel, with the split its spec allows in the embedded main branch.
    cassette = reference_dir / "kvk" / "recordings"
    cassette /= "test_client__KVKProfilesClientTests__test_client.yaml"
    recorded = yaml.safe_load(cassette.read_text(encoding="utf-8"))["interactions"][0]
    body = json.loads(recorded["response"]["body"]["string"])
    body["_embedded"]["hoofdvestiging"].update(
        voltijdWerkzamePersonen=1, deeltijdWerkzamePersonen=0
    )
    asked: list[str] = []

    def kvk_api(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json=body)

    mock = httpx.MockTransport(kvk_api)
    with KvKClient(environment="test", transport=mock, enrichment=WITH_SPLIT) as kvk:
        org = kvk.organisation(DAGOBERT)  # the split asked for, and given by the Basisprofiel
    assert asked == ["/test/api/v1/basisprofielen/69599084"]
    assert (org.employees_full_time, org.employees_part_time, org.employees_total) == (1, 0, 1)


@pytest.mark.anyio
async def test_the_async_client_saves_the_same_call(sandbox: KvKSandbox) -> None:
    async with AsyncKvKClient(environment="test", transport=sandbox.transport()) as kvk:
        org = await kvk.organisation(GEODATA)
        assert kvk.usage.profile_calls == 1
    with client(sandbox) as blocking:
        assert org == blocking.organisation(GEODATA)


def test_matching_and_update_checks_pay_one_call_per_main_branch(sandbox: KvKSandbox) -> None:
    with client(sandbox) as kvk:
        result = Matcher(kvk, enrich=True).match(Organisation(name="Donald", kvk_number=DONALD))
        assert result.enriched is not None and kvk.usage.profile_calls == 1
        report = UpdateService(kvk).check_updates(result.enriched)
        assert kvk.usage.profile_calls == 2, "one fresh Basisprofiel"
    assert report.changes == ()


# -- the invoice address and the establishment date ---------------------------------------------


def test_the_invoice_address_is_the_postal_address_else_the_visiting(sandbox: KvKSandbox) -> None:
    donald, _ = enriched(sandbox, DONALD)  # a PO box and a visiting address
    dagobert, _ = enriched(sandbox, DAGOBERT)  # a visiting address only
    assert donald.invoice_address is not None and donald.postal_address is not None
    assert donald.invoice_address.po_box == 200
    assert donald.invoice_address == donald.postal_address.model_copy(
        update={"kind": AddressKind.INVOICE}
    )
    assert dagobert.postal_address is None and dagobert.invoice_address is not None
    assert dagobert.invoice_address.street == "Abebe Bikilalaan"


def test_a_shielded_address_is_no_invoice_address(sandbox: KvKSandbox) -> None:
    joyflex, _ = enriched(sandbox, JOYFLEX)  # only a shielded postal address
    assert joyflex.postal_address is not None and joyflex.postal_address.shielded
    assert joyflex.invoice_address is None


def test_the_invoice_address_rule_can_be_changed_or_switched_off(sandbox: KvKSandbox) -> None:
    visiting_first, _ = enriched(sandbox, DONALD, invoice_address_from=["visiting", "postal"])
    off, _ = enriched(sandbox, DONALD, invoice_address_from=())
    assert visiting_first.invoice_address is not None
    assert visiting_first.invoice_address.street == "Hizzaarderlaan"
    assert off.invoice_address is None and off.postal_address is not None


def test_the_establishment_date_is_the_branchs_beside_the_companys(sandbox: KvKSandbox) -> None:
    main, _ = enriched(sandbox, DONALD)
    other, _ = enriched(sandbox, DONALD, DONALD_OTHER)
    assert main.registration_date == other.registration_date == dt.date(2014, 2, 10)
    assert main.establishment_date == dt.date(2014, 2, 10)
    assert other.establishment_date == dt.date(2016, 4, 1)


def test_a_moved_establishment_date_is_an_update(sandbox: KvKSandbox) -> None:
    with client(sandbox) as kvk:
        record = kvk.organisation(DONALD, DONALD_OTHER)
    record = record.model_copy(update={"establishment_date": dt.date(2015, 1, 1)})
    with client(sandbox) as kvk:
        report = UpdateService(kvk).check_updates(record)
    changes = {c.field: (c.crm_value, c.kvk_value) for c in report.changes}
    assert changes == {"establishment_date": (dt.date(2015, 1, 1), dt.date(2016, 4, 1))}


# -- settings -----------------------------------------------------------------------------------


def test_settings_refuse_unknown_fields_and_address_kinds() -> None:
    with pytest.raises(ValidationError) as caught:
        EnrichmentSettings(fields={"name", "colour"})
    assert (caught.value.field, caught.value.value) == ("fields", "colour")
    with pytest.raises(ValidationError) as kind:
        EnrichmentSettings(invoice_address_from=["invoice"])
    assert kind.value.field == "invoice_address_from"


def test_the_client_refuses_enrichment_settings_of_another_kind() -> None:
    with pytest.raises(ConfigurationError, match="EnrichmentSettings"):
        KvKClient(environment="test", enrichment={"fields": ["name"]})  # type: ignore[arg-type]
