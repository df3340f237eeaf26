"""The update service compares like with like: no false differences after enrichment.

Against the KvK sandbox: a company with several branches (Test BV Donald: a main
branch with 1 worker and a second branch with 2) enriched by every path the
library offers must come back from an update check with no changes, and a
name written with another legal-form suffix is no change either. Real changes
(a new name, more workers) must still be reported.
"""

from __future__ import annotations

import attrs
import pytest

from crmconnect import Organisation
from crmconnect.kvk import KvKClient, Matcher, UpdateService
from crmconnect.sandbox import KvKSandbox

DONALD = "68750110"
DONALD_MAIN = "000037178598"
DONALD_OTHER = "000037178601"
JOYFLEX = "90001354"


@pytest.fixture
def sandbox() -> KvKSandbox:
    return KvKSandbox()


def changed_fields(sandbox: KvKSandbox, record: Organisation) -> list[str]:
    with KvKClient(environment="test", transport=sandbox.transport()) as kvk:
        return UpdateService(kvk).check_updates(record).fields


def enrich(sandbox: KvKSandbox, kvk_number: str, branch_number: str | None = None) -> Organisation:
    with KvKClient(environment="test", transport=sandbox.transport()) as kvk:
        return kvk.organisation(kvk_number, branch_number)


def matched(sandbox: KvKSandbox, record: Organisation) -> Organisation:
    with KvKClient(environment="test", transport=sandbox.transport()) as kvk:
        result = Matcher(kvk, enrich=True).match(record)
    assert result.enriched is not None, result
    return result.enriched


def test_the_company_enriched_by_kvk_number_alone_has_no_changes(sandbox: KvKSandbox) -> None:
    record = enrich(sandbox, DONALD)
    assert record.branch_number == DONALD_MAIN
    assert record.employees_total == 3, "the company's workers: both branches"
    assert changed_fields(sandbox, record) == []


def test_the_company_enriched_through_its_main_branch_has_no_changes(
    sandbox: KvKSandbox,
) -> None:
    by_main = enrich(sandbox, DONALD, DONALD_MAIN)
    found = matched(sandbox, Organisation(name="Donald", kvk_number=DONALD))
    assert found.branch_number == DONALD_MAIN
    # One record of the company, however it was found: the same scope of workers.
    assert (
        by_main.employees_total == found.employees_total == enrich(sandbox, DONALD).employees_total
    )
    assert changed_fields(sandbox, by_main) == []
    assert changed_fields(sandbox, found) == []


def test_a_second_branch_is_described_as_itself_and_has_no_changes(sandbox: KvKSandbox) -> None:
    record = enrich(sandbox, DONALD, DONALD_OTHER)
    assert (record.name, record.employees_total) == ("Test BV Donald Fruithandel", 2)
    assert record.is_main_branch is False
    assert changed_fields(sandbox, record) == []


def test_more_workers_in_a_second_branch_are_a_change_of_the_company(
    sandbox: KvKSandbox,
) -> None:
    record = enrich(sandbox, DONALD)
    company = sandbox.get(DONALD)
    assert company is not None
    grown = [
        attrs.evolve(b, part_time_employees=5) if b.number == DONALD_OTHER else b
        for b in company.branches
    ]
    sandbox.update(DONALD, branches=grown)
    with KvKClient(environment="test", transport=sandbox.transport()) as kvk:
        report = UpdateService(kvk).check_updates(record)
    changes = {c.field: (c.crm_value, c.kvk_value) for c in report.changes}
    assert changes == {"employees_total": (3, 6), "employee_class": ("03", "04")}


@pytest.mark.parametrize(
    "written", ["Grand Joyflex BV", "Grand Joyflex B.V", "GRAND JOYFLEX b.v.", "Grand Joyflex"]
)
def test_a_name_with_another_legal_form_suffix_is_no_change(
    sandbox: KvKSandbox, written: str
) -> None:
    record = enrich(sandbox, JOYFLEX)
    assert record.name == "Grand Joyflex B.V."
    variant = record.model_copy(
        update={"name": written, "statutory_name": written, "trade_names": [written]}
    )
    assert changed_fields(sandbox, variant) == []


def test_a_real_name_change_is_still_reported(sandbox: KvKSandbox) -> None:
    record = enrich(sandbox, JOYFLEX).model_copy(update={"name": "Grand Joyflex BV"})
    sandbox.update(JOYFLEX, name="Joyflex Software B.V.")
    with KvKClient(environment="test", transport=sandbox.transport()) as kvk:
        report = UpdateService(kvk).check_updates(record)
    changes = {c.field: (c.crm_value, c.kvk_value) for c in report.changes}
    assert changes["name"] == ("Grand Joyflex BV", "Joyflex Software B.V.")


def test_a_holding_is_not_its_operating_company(sandbox: KvKSandbox) -> None:
    record = enrich(sandbox, JOYFLEX).model_copy(update={"name": "Grand Joyflex Holding B.V."})
    assert changed_fields(sandbox, record) == ["name"]
