"""Canonical parties → e-Boekhouden relations (`relation_from`, over the mapping table)."""

from __future__ import annotations

import attrs
import pytest

from crmconnect import Address, AddressKind, BankAccount, ContactDetails, Organisation, Person
from crmconnect.eboekhouden import NameStyle, RelationType, format_person_name, relation_from
from crmconnect.errors import ValidationError
from crmconnect.mapping import EBOEKHOUDEN_RELATIONS
from crmconnect.mapping import NameStyle as MappingNameStyle

PERSON = Person(
    initials="J.P.",
    first_name="Jan Pieter",
    infix="van der",
    last_name="Berg",
    contact=ContactDetails(email="jp@example.nl", mobile="06-12345678"),
    addresses=[Address(kind=AddressKind.PRIVATE, street="Laan", house_number=3, city="Ede")],
)

VISITING = Address(street="Dorpsstraat", house_number=12, postcode="1234AB", city="Utrecht")
PO_BOX = Address(kind=AddressKind.POSTAL, po_box=100, postcode="3500AA", city="Utrecht")
INVOICE = Address(
    kind=AddressKind.INVOICE,
    street="Kerkplein",
    house_number=1,
    house_letter="a",
    house_number_addition="2",
    postcode="3511 aa",
    city="Utrecht",
)


def test_the_name_style_and_format_are_the_mapping_ones() -> None:
    assert NameStyle is MappingNameStyle
    assert NameStyle.__module__ == "crmconnect.mapping"
    assert format_person_name(PERSON, NameStyle.INITIALS) == "J.P. van der Berg"


def test_private_person_is_a_p_relation_named_in_company_with_its_private_address() -> None:
    relation = relation_from(PERSON, code="1002", name_style=NameStyle.INITIALS)
    assert (relation.code, relation.type, relation.company, relation.email) == (
        "1002",
        RelationType.PRIVATE,
        "J.P. van der Berg",
        "jp@example.nl",
    )
    assert (relation.address, relation.city, relation.mobile) == ("Laan 3", "Ede", "06-12345678")
    assert relation.contact_person is None  # not used for private persons
    assert relation.to_wire()["BP"] == "P"


def test_a_name_style_given_as_text_is_read_and_a_wrong_one_refused() -> None:
    assert relation_from(PERSON, code="1", name_style="last_name").company == "Van der Berg"
    assert relation_from(PERSON, code="1").company == "Jan Pieter van der Berg"  # the mapping's
    with pytest.raises(ValidationError) as refused:
        relation_from(PERSON, code="1", name_style="nickname")
    assert refused.value.field == "name_style"


def test_organisation_fields_go_out_as_the_table_writes_them() -> None:
    org = Organisation(
        name="Bakkerij Jansen B.V.",
        kvk_number="12345678",
        vat_number="NL004495445B01",
        contacts=[PERSON],
        contact=ContactDetails(phone="030-1234567", website="https://jansen.example"),
        bank_accounts=[BankAccount(iban="NL91ABNA0417164300", bic="ABNANL2A")],
        addresses=[VISITING, INVOICE],
    )
    wire = relation_from(org, code="1001", name_style=NameStyle.LAST_NAME).to_wire()
    assert (wire["Code"], wire["Bedrijf"], wire["BP"]) == ("1001", "Bakkerij Jansen B.V.", "B")
    assert wire["Contactpersoon"] == "Van der Berg"
    # Only the invoice address goes out: the visiting address stays in the CRM.
    assert (wire["Adres"], wire["Postcode"], wire["Plaats"], wire["Land"]) == (
        "Kerkplein 1a-2",
        "3511AA",
        "Utrecht",
        "NL",
    )
    assert wire.get("Adres2") is None  # no postal address: nothing invented
    assert (wire["Telefoon"], wire["Site"]) == ("030-1234567", "https://jansen.example")
    assert (wire["IBAN"], wire["BIC"], wire["KvkNummer"], wire["BTWNummer"]) == (
        "NL91ABNA0417164300",
        "ABNANL2A",
        "12345678",
        "NL004495445B01",
    )


def test_the_po_box_is_kept_beside_the_invoice_address() -> None:
    # Issue 9: the invoice address went into Adres2 before the postal address, so a
    # PO box was lost when both existed.
    org = Organisation(name="Bakkerij", addresses=[VISITING, PO_BOX, INVOICE])
    relation = relation_from(org, code="1001")
    assert (relation.address, relation.postcode) == ("Kerkplein 1a-2", "3511AA")
    assert (relation.postal_address, relation.postal_postcode, relation.postal_city) == (
        "Postbus 100",
        "3500AA",
        "Utrecht",
    )
    only_po_box = relation_from(Organisation(name="B", addresses=[PO_BOX]), code="2")
    assert (only_po_box.address, only_po_box.postal_address) == (None, "Postbus 100")


def test_the_po_box_comes_back_into_the_postal_address_and_the_first_into_invoice() -> None:
    org = Organisation(name="Bakkerij", addresses=[VISITING, PO_BOX, INVOICE])
    sent = EBOEKHOUDEN_RELATIONS.organisation.outbound(org)
    back = EBOEKHOUDEN_RELATIONS.organisation.inbound(sent, org)
    assert isinstance(back, Organisation)
    assert back.postal_address == PO_BOX
    assert back.invoice_address == INVOICE
    assert back.visiting_address == VISITING
    # A change of the first address in e-Boekhouden reaches the invoice address only.
    moved = EBOEKHOUDEN_RELATIONS.organisation.inbound({**sent, "address": "Kerkplein 9"}, org)
    assert isinstance(moved, Organisation) and moved.invoice_address is not None
    assert (moved.invoice_address.house_number, moved.postal_address) == (9, PO_BOX)


def test_relation_from_is_what_the_connector_table_writes() -> None:
    org = Organisation(name="Bakkerij", addresses=[PO_BOX, INVOICE], contacts=[PERSON])
    written = EBOEKHOUDEN_RELATIONS.organisation.outbound(org)
    relation = relation_from(org, code="1001")
    for field, text in written.items():
        assert getattr(relation, field) == text, field


def test_a_mapping_of_ones_own_is_used() -> None:
    initials = attrs.evolve(EBOEKHOUDEN_RELATIONS, name_style="initials")
    assert relation_from(PERSON, code="1", mapping=initials).company == "J.P. van der Berg"
