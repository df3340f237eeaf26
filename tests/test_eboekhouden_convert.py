"""Canonical parties → e-Boekhouden relations, and the person-name setting."""

from __future__ import annotations

import pytest

from crmconnect import Address, AddressKind, BankAccount, ContactDetails, Organisation, Person
from crmconnect.eboekhouden import NameStyle, RelationType, format_person_name, relation_from

PERSON = Person(
    initials="J.P.",
    first_name="Jan Pieter",
    infix="van der",
    last_name="Berg",
    contact=ContactDetails(email="jp@example.nl"),
)


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (NameStyle.LAST_NAME, "van der Berg"),
        (NameStyle.INITIALS, "J.P. van der Berg"),
        (NameStyle.FULL_NAME, "Jan Pieter van der Berg"),
    ],
)
def test_person_name_styles(style: NameStyle, expected: str) -> None:
    assert format_person_name(PERSON, style) == expected


def test_initials_are_derived_when_missing() -> None:
    assert (
        format_person_name(
            Person(first_name="anna maria", last_name="Jong", infix="de"), NameStyle.INITIALS
        )
        == "A.M. de Jong"
    )


def test_private_person_is_a_p_relation_named_in_company() -> None:
    relation = relation_from(PERSON, code="1002", name_style=NameStyle.INITIALS)
    assert (relation.type, relation.company, relation.email) == (
        RelationType.PRIVATE,
        "J.P. van der Berg",
        "jp@example.nl",
    )
    assert relation.to_wire()["BP"] == "P"


def test_organisation_fields_and_invoice_address_as_postal() -> None:
    org = Organisation(
        name="Bakkerij Jansen B.V.",
        kvk_number="12345678",
        vat_number="NL004495445B01",
        contacts=[PERSON],
        bank_accounts=[BankAccount(iban="NL91ABNA0417164300", bic="ABNANL2A")],
        addresses=[
            Address(
                street="Dorpsstraat",
                house_number=12,
                house_letter="a",
                house_number_addition="2",
                postcode="1234 ab",
                city="Utrecht",
            ),
            Address(kind=AddressKind.INVOICE, po_box=100, postcode="3500AA", city="Utrecht"),
        ],
    )
    wire = relation_from(org, code="1001", name_style=NameStyle.LAST_NAME).to_wire()
    assert wire["Bedrijf"] == "Bakkerij Jansen B.V." and wire["BP"] == "B"
    assert wire["Contactpersoon"] == "van der Berg"
    assert (wire["Adres"], wire["Postcode"], wire["Plaats"]) == (
        "Dorpsstraat 12a-2",
        "1234AB",
        "Utrecht",
    )
    assert (wire["Adres2"], wire["Postcode2"]) == ("Postbus 100", "3500AA")
    assert (wire["IBAN"], wire["BIC"], wire["KvkNummer"], wire["BTWNummer"]) == (
        "NL91ABNA0417164300",
        "ABNANL2A",
        "12345678",
        "NL004495445B01",
    )
