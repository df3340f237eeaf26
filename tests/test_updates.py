"""The update service's comparison and field-by-field acceptance (pure parts)."""

from __future__ import annotations

import datetime as dt

import pytest

from crmconnect import Address, AddressKind, Organisation, SbiActivity, ValidationError
from crmconnect.kvk import FieldChange, RegistrationStatus, UpdateReport, compare, employee_class

REGISTER = Organisation(
    name="Global Conron",
    kvk_number="90000749",
    legal_form="Vereniging van Eigenaars",
    employees_total=3,
    employee_class="03",
    websites=["https://www.globalconron.nl"],
    sbi_activities=[SbiActivity(code="94997", main=True)],
    addresses=[
        Address(
            kind=AddressKind.VISITING,
            street="Blaauwweg",
            house_number=163,
            postcode="3328XD",
            city="Dordrecht",
        ),
        Address(kind=AddressKind.POSTAL, city="Sterksel", shielded=True),
    ],
)


def crm(**changes: object) -> Organisation:
    return REGISTER.model_copy(update=changes, deep=True)


def test_identical_records_have_no_changes() -> None:
    assert compare(crm(), REGISTER) == ()


def test_differences_are_listed_per_field_with_both_values() -> None:
    stale = crm(
        employees_total=12,
        addresses=[
            Address(street="Kerkstraat", house_number=1, postcode="3311AA", city="Dordrecht")
        ],
    )
    changes = {c.field: c for c in compare(stale, REGISTER)}
    assert set(changes) == {"employees_total", "visiting_address"}
    assert (changes["employees_total"].crm_value, changes["employees_total"].kvk_value) == (12, 3)
    assert changes["visiting_address"].kvk_value.street == "Blaauwweg"


def test_spelling_variants_are_not_changes() -> None:
    variant = crm(
        legal_form="vereniging van eigenaars",
        websites=["http://www.globalconron.nl/"],
        addresses=[
            Address(street="Blaauwweg", house_number=163, postcode="3328 xd", city="DORDRECHT")
        ],
    )
    assert compare(variant, REGISTER) == ()


def test_register_silence_and_shielded_addresses_erase_nothing() -> None:
    register = REGISTER.model_copy(
        update={"websites": [], "employees_total": None, "employee_class": None}
    )
    record = crm(websites=["https://old.example"], employees_total=8, employee_class="04")
    record.addresses.append(
        Address(kind=AddressKind.POSTAL, po_box=12, postcode="3300AA", city="Dordrecht")
    )
    assert compare(record, register) == ()


def test_apply_changes_only_accepted_fields_and_returns_a_copy() -> None:
    stale = crm(
        employees_total=12,
        name="Global Conron (oud)",
        addresses=[
            Address(street="Kerkstraat", house_number=1, postcode="3311AA", city="Dordrecht"),
            Address(
                kind=AddressKind.INVOICE, street="Factuurweg", house_number=2, city="Dordrecht"
            ),
        ],
    )
    report = UpdateReport(stale, REGISTER, changes=compare(stale, REGISTER))
    assert set(report.fields) == {"name", "employees_total", "visiting_address"}
    updated = report.apply(stale, accept=["visiting_address", "employees_total"])
    assert updated.employees_total == 3
    assert updated.name == "Global Conron (oud)", "not accepted, not changed"
    assert updated.visiting_address is not None and updated.visiting_address.street == "Blaauwweg"
    assert updated.invoice_address is not None, "invoice addresses are CRM-only and stay"
    assert stale.employees_total == 12, "the original is untouched"
    with pytest.raises(ValidationError) as caught:
        report.apply(stale, accept=["visiting_adress"])
    assert caught.value.field == "accept" and caught.value.value == "visiting_adress"


def test_a_fixed_accept_list_may_name_fields_that_did_not_change() -> None:
    stale = crm(employees_total=12)
    report = UpdateReport(stale, REGISTER, changes=compare(stale, REGISTER))
    assert report.fields == ["employees_total"]
    accept = [
        "visiting_address",
        "employees_total",
        "rsin",
        "websites",
    ]  # the same for every record
    updated = report.apply(stale, accept=accept)
    assert updated.employees_total == 3
    assert updated.visiting_address == stale.visiting_address, "unchanged, left alone"
    assert updated.model_dump(exclude={"employees_total"}) == stale.model_dump(
        exclude={"employees_total"}
    )
    removed = UpdateReport(stale, None, RegistrationStatus.REMOVED, reason="IPD0005")
    assert removed.apply(stale, accept=accept) == stale


def test_report_html_highlights_changed_fields() -> None:
    change = FieldChange("employees_total", "Employees (total)", 12, 3)
    report = UpdateReport(crm(employees_total=12), REGISTER, changes=(change,))
    page = report._repr_html_()
    assert "background:#fff3cd" in page and "Employees (total)" in page
    assert page.count("background:#fff3cd") == 1


def test_removed_report_is_a_removal() -> None:
    report = UpdateReport(crm(), None, RegistrationStatus.REMOVED, reason="IPD0005")
    assert report.is_removed and not report.has_updates


@pytest.mark.parametrize(
    ("total", "code"),
    [
        (0, "01"),
        (1, "02"),
        (4, "03"),
        (5, "04"),
        (19, "05"),
        (49, "06"),
        (99, "07"),
        (100, "08"),
        (499, "09"),
        (749, "10"),
        (999, "11"),
        (1000, "12"),
        (None, None),
    ],
)
def test_employee_class(total: int | None, code: str | None) -> None:
    assert employee_class(total) == code


def test_end_date_is_a_date() -> None:
    assert crm(end_date=dt.date(2023, 6, 30)).end_date == dt.date(2023, 6, 30)
