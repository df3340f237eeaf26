"""Relation field tables: checked when built, parties out to remote texts and back, the seeds' rules."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import pytest

from crmconnect.digitalefactuur import Relation as DigitaleFactuurRelation
from crmconnect.eboekhouden import Relation as EBoekhoudenRelation
from crmconnect.errors import ValidationError
from crmconnect.mapping import (
    DIGITALEFACTUUR_RELATIONS,
    EBOEKHOUDEN_RELATIONS,
    Direction,
    FieldRow,
    FieldTable,
    NameStyle,
    PartyKind,
    RelationMapping,
    _relations,
)
from crmconnect.models import Address, AddressKind, Organisation, Person, RelationType
from crmconnect.sync import Role

REMOTE = {"name", "address", "postcode", "city", "country", "email", "iban", "contact", "kvk"}
MAPPINGS = {"digitalefactuur": DIGITALEFACTUUR_RELATIONS, "eboekhouden": EBOEKHOUDEN_RELATIONS}


def org_table(*rows: FieldRow, remote: set[str] = REMOTE) -> FieldTable:
    return FieldTable(rows, party_kind=PartyKind.ORGANISATION, remote_fields=remote)


def bakery(**changes: Any) -> Organisation:
    data: dict[str, Any] = {
        "name": "Bakkerij De Korenschoof",
        "kvk_number": "69599084",
        "vat_number": "NL004495445B01",
        "addresses": [
            {
                "kind": "visiting",
                "street": "Markt",
                "house_number": 1,
                "postcode": "3511AA",
                "city": "Utrecht",
            },
            {"kind": "postal", "po_box": 216, "postcode": "1000AE", "city": "Amsterdam"},
            {
                "kind": "invoice",
                "street": "Haagweg",
                "house_number": 4,
                "house_letter": "G",
                "house_number_addition": "5",
                "postcode": "2311AA",
                "city": "Leiden",
            },
        ],
        "contact": {"email": "Info@Korenschoof.nl", "phone": "071 123 4567", "fax": "071 765 4321"},
        "contacts": [{"first_name": "Ravi", "last_name": "Chotkan"}],
        "bank_accounts": [{"iban": "NL91ABNA0417164300", "bic": "ABNANL2A"}],
        "debtor_number": "1001",
    }
    return Organisation.model_validate({**data, **changes})


def private_person(**changes: Any) -> Person:
    data: dict[str, Any] = {
        "initials": "J.P.",
        "first_name": "Jan Pieter",
        "infix": "van der",
        "last_name": "Berg",
        "contact": {"email": "jan@example.nl", "phone": "06 1234 5678"},
        "addresses": [
            {
                "kind": "private",
                "street": "Kerkstraat",
                "house_number": 12,
                "house_number_addition": "hs",
                "postcode": "3511AB",
                "city": "Utrecht",
            },
            {"kind": "invoice", "street": "Elders", "house_number": 1, "city": "Ede"},
        ],
        "debtor_number": "1002",
    }
    return Person.model_validate({**data, **changes})


# --------------------------------------------------------------------------
# Rows and directions


def test_a_direction_says_which_way_a_row_carries_its_value() -> None:
    assert Direction.BOTH.outbound and Direction.BOTH.inbound
    assert Direction.TO_REMOTE.outbound and not Direction.TO_REMOTE.inbound
    assert Direction.FROM_REMOTE.inbound and not Direction.FROM_REMOTE.outbound


def test_a_row_takes_its_direction_as_text_and_refuses_an_unknown_one() -> None:
    assert FieldRow("name", "name", "to_remote").direction is Direction.TO_REMOTE
    with pytest.raises(ValidationError) as caught:
        FieldRow("name", "name", "sideways")
    assert (caught.value.field, caught.value.value) == ("direction", "sideways")


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        (("", "name"), "canonical"),
        ((" name", "name"), "canonical"),
        (("name", 3), "remote"),
        (("name", "name", "both", None), "transform"),
    ],
)
def test_a_row_refuses_a_name_that_is_not_one(cells: tuple[Any, ...], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FieldRow(*cells)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: FieldRow("name", "name", "sideways"), "direction"),
        (lambda: FieldTable([], party_kind="firm", remote_fields=REMOTE), "party_kind"),
        (lambda: FieldTable([], party_kind=1, remote_fields=REMOTE), "party_kind"),  # type: ignore[arg-type]
        (
            lambda: FieldTable([], party_kind="person", remote_fields=REMOTE, name_style="x"),
            "name_style",
        ),
    ],
)
def test_a_refused_setting_chains_nothing(build: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.field == field
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_party_kind_of_a_party() -> None:
    assert PartyKind.of(bakery()) is PartyKind.ORGANISATION
    assert PartyKind.of(private_person()) is PartyKind.PERSON
    assert PartyKind.PERSON.model is Person


# --------------------------------------------------------------------------
# Refusals when a table is built: each names the row


def refusal(*rows: FieldRow, kind: PartyKind = PartyKind.ORGANISATION) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        FieldTable(rows, party_kind=kind, remote_fields=REMOTE)
    return caught.value


@pytest.mark.parametrize(
    ("row", "kind", "field"),
    [
        (FieldRow("nmae", "name"), PartyKind.ORGANISATION, "canonical"),
        (
            FieldRow("full_name", "name", transform="person_name"),
            PartyKind.ORGANISATION,
            "canonical",
        ),
        (FieldRow("kvk_number", "kvk"), PartyKind.PERSON, "canonical"),
        (FieldRow("contacts.0.last_name", "name"), PartyKind.PERSON, "canonical"),
        (FieldRow("bank_accounts.0.holder", "iban"), PartyKind.PERSON, "canonical"),
        (FieldRow("office_address.city", "city"), PartyKind.ORGANISATION, "canonical"),
        (FieldRow("invoice_address.town", "city"), PartyKind.ORGANISATION, "canonical"),
        (FieldRow("bank_accounts.01.iban", "iban"), PartyKind.ORGANISATION, "canonical"),
        (FieldRow("bank_accounts.x.iban", "iban"), PartyKind.ORGANISATION, "canonical"),
        (FieldRow("bank_accounts.١.iban", "iban"), PartyKind.ORGANISATION, "canonical"),
        (FieldRow("name", "naam"), PartyKind.ORGANISATION, "remote"),
        (FieldRow("name", "name", transform="shout"), PartyKind.ORGANISATION, "transform"),
    ],
)
def test_an_unknown_path_field_or_transform_is_refused_naming_the_row(
    row: FieldRow, kind: PartyKind, field: str
) -> None:
    error = refusal(FieldRow("contact.email", "email"), row, kind=kind)
    assert error.field == field
    assert error.value == getattr(row, field)
    assert f"row {row.canonical} → {row.remote}" in error.reason


@pytest.mark.parametrize(
    ("row", "fits"),
    [
        (FieldRow("invoice_address.street_line", "address"), "street_line"),
        (FieldRow("contacts.0.full_name", "contact"), "person_name"),
        (FieldRow("name", "name", transform="street_line"), "text"),
        (FieldRow("invoice_address.city", "city", transform="person_name"), "postcode"),
    ],
)
def test_a_transform_that_does_not_fit_the_path_is_refused_naming_what_fits(
    row: FieldRow, fits: str
) -> None:
    error = refusal(row)
    assert (error.field, error.value) == ("transform", row.transform)
    assert f"row {row.canonical} → {row.remote}" in error.reason
    assert fits in error.reason


def test_two_rows_writing_one_remote_field_are_refused() -> None:
    error = refusal(FieldRow("name", "name"), FieldRow("statutory_name", "name", "to_remote"))
    assert (error.field, error.value) == ("remote", "name")
    assert "row statutory_name → name" in error.reason and "row name → name" in error.reason


def test_two_rows_reading_one_remote_field_into_two_canonical_fields_are_fine() -> None:
    table = org_table(
        FieldRow("invoice_address.city", "city"),
        FieldRow("postal_address.city", "city", Direction.FROM_REMOTE),
    )
    assert table.inbound_fields == {"city"} and table.outbound_fields == {"city"}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (FieldRow("name", "name"), FieldRow("name", "kvk", "from_remote")),
        (
            FieldRow("contacts.0.full_name", "contact", transform="person_name"),
            FieldRow("contacts.0.last_name", "name"),
        ),
        (
            FieldRow("invoice_address.street_line", "address", transform="street_line"),
            FieldRow("invoice_address.house_number", "kvk"),
        ),
    ],
)
def test_two_rows_writing_one_canonical_field_are_refused(
    first: FieldRow, second: FieldRow
) -> None:
    error = refusal(first, second)
    assert (error.field, error.value) == ("canonical", second.canonical)
    assert f"row {first.canonical} → {first.remote}" in error.reason


def test_two_rows_writing_one_canonical_field_only_outbound_are_fine() -> None:
    table = org_table(FieldRow("name", "name"), FieldRow("name", "contact", "to_remote"))
    assert table.outbound(bakery()) == {
        "name": "Bakkerij De Korenschoof",
        "contact": "Bakkerij De Korenschoof",
    }


def test_the_table_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="party_kind"):
        FieldTable([], party_kind="company", remote_fields=REMOTE)
    with pytest.raises(ValidationError, match="remote_fields"):
        FieldTable([], party_kind="person", remote_fields="name")
    with pytest.raises(ValidationError, match="name_style"):
        FieldTable([], party_kind="person", remote_fields=REMOTE, name_style="nickname")
    with pytest.raises(ValidationError, match="rows"):
        FieldTable(["name"], party_kind="person", remote_fields=REMOTE)  # type: ignore[list-item]


def test_a_party_of_the_other_kind_is_refused() -> None:
    table = org_table(FieldRow("name", "name"))
    with pytest.raises(ValidationError) as caught:
        table.outbound(private_person())
    assert (caught.value.field, caught.value.value) == ("party", "Person")
    with pytest.raises(ValidationError):
        table.inbound({"name": "X"}, private_person())


# --------------------------------------------------------------------------
# Outbound


def test_outbound_gives_every_outbound_field_with_none_for_empty() -> None:
    table = org_table(
        FieldRow("name", "name"),
        FieldRow("kvk_number", "kvk", "to_remote"),
        FieldRow("contact.email", "email", transform="email"),
        FieldRow("postal_address.city", "city", "from_remote"),
    )
    assert table.outbound(bakery(kvk_number=None, contact={})) == {
        "name": "Bakkerij De Korenschoof",
        "kvk": None,
        "email": None,
    }
    assert table.outbound_fields == {"name", "kvk", "email"}
    assert table.inbound_fields == {"name", "email", "city"}


def test_outbound_transforms_shape_the_text() -> None:
    table = org_table(
        FieldRow("invoice_address.street_line", "address", transform="street_line"),
        FieldRow("invoice_address.postcode", "postcode", transform="postcode"),
        FieldRow("invoice_address.country", "country", transform="country"),
        FieldRow("bank_accounts.0.iban", "iban", transform="iban"),
        FieldRow("contacts.0.full_name", "contact", transform="person_name"),
    )
    foreign = {
        "kind": "invoice",
        "street": "Rue Haute",
        "house_number": 3,
        "postcode": "b-1000",
        "country": "be",
    }
    values = table.outbound(bakery(addresses=[foreign]))
    assert values == {
        "address": "Rue Haute 3",
        "postcode": "B-1000",
        "country": "BE",
        "iban": "NL91ABNA0417164300",
        "contact": "Ravi Chotkan",
    }


def test_organisation_sends_only_its_invoice_address() -> None:
    for mapping in MAPPINGS.values():
        values = mapping.organisation.outbound(bakery())
        assert (values["address"], values["postcode"], values["city"]) == (
            "Haagweg 4G-5",
            "2311AA",
            "Leiden",
        )
        without_invoice = bakery(addresses=bakery().addresses[:2])
        assert {
            k: v
            for k, v in mapping.organisation.outbound(without_invoice).items()
            if k in {"address", "postcode", "city", "country"}
        } == dict.fromkeys(["address", "postcode", "city", "country"])


def test_person_sends_its_private_address_and_its_name_in_the_style() -> None:
    person = private_person()
    df = DIGITALEFACTUUR_RELATIONS.person.outbound(person)
    assert (df["name"], df["address"], df["postcode"], df["city"]) == (
        "Jan Pieter van der Berg",
        "Kerkstraat 12-hs",
        "3511AB",
        "Utrecht",
    )
    eb = EBOEKHOUDEN_RELATIONS.person.outbound(person)
    assert (eb["company"], eb["address"], eb["city"]) == (
        "Jan Pieter van der Berg",
        "Kerkstraat 12-hs",
        "Utrecht",
    )


@pytest.mark.parametrize(
    ("style", "name", "contact"),
    [
        ("full_name", "Jan Pieter van der Berg", "Ravi Chotkan"),
        ("initials", "J.P. van der Berg", "R. Chotkan"),
        ("last_name", "Van der Berg", "Chotkan"),
    ],
)
def test_the_name_style_of_a_mapping_writes_every_person_name(
    style: str, name: str, contact: str
) -> None:
    data = DIGITALEFACTUUR_RELATIONS.to_dict() | {"name_style": style}
    mapping = RelationMapping.from_dict(data)
    assert mapping.name_style == style
    assert mapping.person.outbound(private_person())["name"] == name
    assert mapping.organisation.outbound(bakery())["contact_name"] == contact


# --------------------------------------------------------------------------
# Inbound

REMOTE_ADDRESS = {
    "address": "Kerkstraat 12-hs",
    "postcode": "1234 ab",
    "city": "Ede",
    "country": "Nederland",
}


def test_the_address_from_df_goes_to_postal_and_invoice_of_an_organisation() -> None:
    # DigitaleFactuur holds one address; e-Boekhouden has a postal one of its own (below).
    original = bakery()
    changed = DIGITALEFACTUUR_RELATIONS.organisation.inbound(REMOTE_ADDRESS, original)
    assert isinstance(changed, Organisation)
    for kind in (AddressKind.POSTAL, AddressKind.INVOICE):
        address = changed.address(kind)
        assert address is not None
        assert (address.street, address.house_number, address.house_number_addition) == (
            "Kerkstraat",
            12,
            "hs",
        )
        assert (address.postcode, address.city, address.country, address.po_box) == (
            "1234AB",
            "Ede",
            "NL",
            None,
        )
    assert changed.visiting_address == original.visiting_address
    assert original == bakery(), "the party given is not changed"


def test_eboekhouden_keeps_the_po_box_in_its_postal_address_both_ways() -> None:
    original = bakery()
    sent = EBOEKHOUDEN_RELATIONS.organisation.outbound(original)
    assert (sent["address"], sent["city"]) == ("Haagweg 4G-5", "Leiden")  # invoice
    assert (sent["postal_address"], sent["postal_postcode"], sent["postal_city"]) == (
        "Postbus 216",
        "1000AE",
        "Amsterdam",
    )
    changed = EBOEKHOUDEN_RELATIONS.organisation.inbound(REMOTE_ADDRESS, original)
    assert isinstance(changed, Organisation) and changed.invoice_address is not None
    assert (changed.invoice_address.street, changed.invoice_address.city) == ("Kerkstraat", "Ede")
    assert changed.postal_address == original.postal_address  # the PO box stays
    assert changed.visiting_address == original.visiting_address
    moved = EBOEKHOUDEN_RELATIONS.organisation.inbound(
        {"postal_address": "Postbus 9", "postal_city": "Ede"}, original
    )
    assert isinstance(moved, Organisation) and moved.postal_address is not None
    assert (moved.postal_address.po_box, moved.postal_address.city) == (9, "Ede")
    assert moved.invoice_address == original.invoice_address


@pytest.mark.parametrize("service", sorted(MAPPINGS))
def test_a_persons_bank_account_goes_out_and_comes_back_in(service: str) -> None:
    table = MAPPINGS[service].person
    person = private_person(bank_accounts=[{"iban": "NL91 ABNA 0417 1643 00", "bic": "ABNANL2A"}])
    sent = table.outbound(person)
    assert (sent["iban"], sent["bic"]) == ("NL91ABNA0417164300", "ABNANL2A")
    assert table.outbound(private_person())["iban"] is None  # none: the remote one is cleared
    # In: a new person from the remote texts, and a known one whose account changed.
    new = table.inbound(sent)
    assert isinstance(new, Person)
    assert new.bank_accounts == person.bank_accounts
    changed = table.inbound({"iban": "de89 3704 0044 0532 0130 00", "bic": None}, person)
    assert isinstance(changed, Person)
    assert [(a.iban, a.bic) for a in changed.bank_accounts] == [("DE89370400440532013000", None)]
    with pytest.raises(ValidationError) as refused:
        table.inbound({"iban": "NL91ABNA0417164301"}, person)
    assert (refused.value.field, refused.value.value) == ("iban", "NL91ABNA0417164301")


def test_the_address_from_remote_goes_to_the_private_address_of_a_person() -> None:
    for mapping in MAPPINGS.values():
        changed = mapping.person.inbound(REMOTE_ADDRESS, private_person())
        assert isinstance(changed, Person)
        assert changed.private_address is not None and changed.private_address.city == "Ede"
        assert changed.address("invoice") == private_person().address("invoice")
        assert changed.address("postal") is None


def test_a_missing_address_is_created_and_only_the_fields_given_are_applied() -> None:
    party = bakery(addresses=[], contact={"phone": "071"})
    changed = DIGITALEFACTUUR_RELATIONS.organisation.inbound(
        {"city": "Ede", "email": "a@b.nl"}, party
    )
    assert isinstance(changed, Organisation)
    assert [(a.kind, a.city) for a in changed.addresses] == [
        (AddressKind.INVOICE, "Ede"),
        (AddressKind.POSTAL, "Ede"),
    ]
    assert (changed.contact.email, changed.contact.phone, changed.name) == (
        "a@b.nl",
        "071",
        party.name,
    )


def test_a_none_value_clears_the_canonical_field() -> None:
    changed = DIGITALEFACTUUR_RELATIONS.organisation.inbound(
        {"email": None, "address": None, "kvk_number": "", "contact_name": None}, bakery()
    )
    assert isinstance(changed, Organisation)
    assert changed.contact.email is None and changed.kvk_number is None
    invoice = changed.invoice_address
    assert invoice is not None and (invoice.street, invoice.house_number, invoice.house_letter) == (
        None,
        None,
        None,
    )
    assert invoice.city == "Leiden"
    assert changed.contacts[0].last_name is None and changed.contacts[0].first_name is None


def test_clearing_what_is_not_there_creates_nothing() -> None:
    party = bakery(addresses=[], contacts=[], bank_accounts=[])
    changed = DIGITALEFACTUUR_RELATIONS.organisation.inbound(
        {"address": None, "contact_name": None, "iban": None}, party
    )
    assert changed == party


def test_a_new_party_of_the_tables_kind_is_made_when_none_is_given() -> None:
    made = DIGITALEFACTUUR_RELATIONS.organisation.inbound(
        {
            "name": "Nieuw BV",
            "iban": "nl91 abna 0417 1643 00",
            "contact_name": "J. de Vries",
            "address": "Postbus 12",
        }
    )
    assert isinstance(made, Organisation)
    assert made.name == "Nieuw BV"
    assert made.bank_accounts[0].iban == "NL91ABNA0417164300"
    assert (made.contacts[0].initials, made.contacts[0].infix, made.contacts[0].last_name) == (
        "J.",
        "de",
        "Vries",
    )
    assert made.invoice_address is not None and made.invoice_address.po_box == 12
    person = DIGITALEFACTUUR_RELATIONS.person.inbound({"name": "Van der Berg"})
    assert isinstance(person, Person) and (person.infix, person.last_name) == ("van der", "Berg")


def test_the_order_of_the_rows_does_not_matter_for_a_foreign_address() -> None:
    # The postcode row comes before the country row: a British postcode is
    # refused for an NL address, and is fine once the country is GB.
    changed = DIGITALEFACTUUR_RELATIONS.organisation.inbound(
        {"postcode": "SW1A 1AA", "country": "United Kingdom", "city": "London"},
        bakery(addresses=[]),
    )
    assert isinstance(changed, Organisation)
    assert changed.invoice_address == Address(
        kind="invoice", postcode="SW1A 1AA", city="London", country="GB"
    )


@pytest.mark.parametrize(
    ("values", "remote", "canonical"),
    [
        (
            {"postcode": "12"},
            "postcode",
            "postal_address.postcode",
        ),  # the first address refusing it
        ({"iban": "NL00BANK0123456789"}, "iban", "bank_accounts.0.iban"),
        ({"country": "Atlantis"}, "country", "invoice_address.country"),
        ({"kvk_number": "123"}, "kvk_number", "kvk_number"),
        ({"contact_name": "x" * 0 + "\x00"}, None, None),
    ],
)
def test_a_remote_value_the_model_refuses_names_the_row(
    values: dict[str, str], remote: str | None, canonical: str | None
) -> None:
    table = DIGITALEFACTUUR_RELATIONS.organisation
    if remote is None:
        assert isinstance(table.inbound(values, bakery()), Organisation)  # cleaned to nothing
        return
    with pytest.raises(ValidationError) as caught:
        table.inbound(values, bakery())
    error = caught.value
    assert (error.field, error.value) == (remote, values[remote])
    assert f"row {canonical} → {remote}" in error.reason
    assert error.__cause__ is None and error.__context__ is None


def test_a_remote_value_that_is_not_text_is_refused_naming_the_row() -> None:
    with pytest.raises(ValidationError) as caught:
        DIGITALEFACTUUR_RELATIONS.organisation.inbound({"city": 12}, bakery())  # type: ignore[dict-item]
    assert (caught.value.field, caught.value.value) == ("city", 12)
    assert "row invoice_address.city → city" in caught.value.reason


def test_a_new_organisation_needs_a_name() -> None:
    with pytest.raises(ValidationError) as caught:
        DIGITALEFACTUUR_RELATIONS.organisation.inbound({"city": "Ede"})
    assert caught.value.field == "name"


def test_a_list_item_is_created_only_as_the_next_one() -> None:
    table = org_table(FieldRow("bank_accounts.1.iban", "iban"))
    with pytest.raises(ValidationError) as caught:
        table.inbound({"iban": "NL91ABNA0417164300"}, bakery(bank_accounts=[]))
    assert (caught.value.field, caught.value.value) == ("bank_accounts", 1)
    changed = table.inbound({"iban": "DE89370400440532013000"}, bakery())
    assert isinstance(changed, Organisation)
    assert [account.iban for account in changed.bank_accounts] == [
        "NL91ABNA0417164300",
        "DE89370400440532013000",
    ]


@pytest.mark.parametrize(
    ("remote", "code"),
    [
        ("NL", "NL"),
        ("nederland", "NL"),
        ("Netherlands", "NL"),
        ("België", "BE"),
        ("Duitsland", "DE"),
        ("DEU", "DE"),
    ],
)
def test_a_country_comes_in_as_a_code_or_a_dutch_or_english_name(remote: str, code: str) -> None:
    changed = DIGITALEFACTUUR_RELATIONS.organisation.inbound(
        {"country": remote, "postcode": None}, bakery()
    )
    assert isinstance(changed, Organisation) and changed.invoice_address is not None
    assert changed.invoice_address.country == code


def test_last_name_style_keeps_the_hosts_first_names() -> None:
    mapping = RelationMapping.from_dict(
        DIGITALEFACTUUR_RELATIONS.to_dict() | {"name_style": "last_name"}
    )
    changed = mapping.person.inbound({"name": "Van den Berg"}, private_person())
    assert isinstance(changed, Person)
    assert (changed.first_name, changed.initials, changed.infix, changed.last_name) == (
        "Jan Pieter",
        "J.P.",
        "van den",
        "Berg",
    )


def test_initials_style_keeps_the_first_names_the_initials_came_from() -> None:
    mapping = RelationMapping.from_dict(
        DIGITALEFACTUUR_RELATIONS.to_dict() | {"name_style": "initials"}
    )
    same = mapping.person.inbound({"name": "J.P. van der Bergh"}, private_person())
    assert isinstance(same, Person) and (same.first_name, same.last_name) == ("Jan Pieter", "Bergh")
    other = mapping.person.inbound({"name": "K. van der Berg"}, private_person())
    assert isinstance(other, Person) and (other.first_name, other.initials) == (None, "K.")


@pytest.mark.parametrize("service", sorted(MAPPINGS))
@pytest.mark.parametrize("style", list(NameStyle))
def test_what_goes_out_comes_back_as_the_same_texts(service: str, style: NameStyle) -> None:
    # No echo: remote texts read into the host party and written out again are the same.
    mapping = RelationMapping.from_dict(MAPPINGS[service].to_dict() | {"name_style": style.value})
    for party in (bakery(), private_person()):
        table = mapping.table_for(party)
        sent = table.outbound(party)
        assert table.outbound(table.inbound(sent, party)) == sent
        fresh = table.inbound(sent)  # a new party from the remote texts alone
        assert {k: v for k, v in table.outbound(fresh).items() if k in sent} == sent


def test_normalise_puts_remote_texts_in_the_form_they_are_compared_in() -> None:
    table = DIGITALEFACTUUR_RELATIONS.organisation
    listed = {
        "postcode": "2311 aa",
        "email": "Info@X.NL ",
        "iban": "nl91 abna 0417 1643 00",
        "name": " A  B ",
        "city": "",
        "unknown": "x",
    }
    assert table.normalise(listed) == {
        "postcode": "2311AA",
        "email": "info@x.nl",
        "iban": "NL91ABNA0417164300",
        "name": "A B",
        "city": None,
    }
    assert table.normalise(table.outbound(bakery())) == table.normalise(
        table.normalise(table.outbound(bakery()))
    )


# --------------------------------------------------------------------------
# Data: dicts and TOML


def test_a_table_reads_from_toml_text_and_writes_back_the_same() -> None:
    table = FieldTable.from_toml(
        """
        party_kind = "organisation"
        remote_fields = ["name", "address", "city"]
        rows = [
          { canonical = "name", remote = "name" },
          { canonical = "invoice_address.street_line", remote = "address", transform = "street_line" },
          { canonical = "postal_address.city", remote = "city", direction = "from_remote" },
        ]
        """
    )
    assert table.rows[1] == FieldRow(
        "invoice_address.street_line", "address", Direction.BOTH, "street_line"
    )
    assert table.rows[2].direction is Direction.FROM_REMOTE
    assert FieldTable.from_toml(table.to_toml()) == table


def test_a_table_reads_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "table.toml"
    path.write_text(DIGITALEFACTUUR_RELATIONS.person.to_toml(), encoding="utf-8")
    assert FieldTable.from_toml(path) == DIGITALEFACTUUR_RELATIONS.person
    assert FieldTable.from_toml(str(path)) == DIGITALEFACTUUR_RELATIONS.person


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"party_kind": "person", "remote_fields": ["name"], "rowz": []}, "rowz"),
        ({"remote_fields": ["name"], "rows": []}, "party_kind"),
        ({"party_kind": "person", "rows": []}, "remote_fields"),
        ({"party_kind": "person", "remote_fields": "name", "rows": []}, "remote_fields"),
        ({"party_kind": "person", "remote_fields": ["name"], "rows": {}}, "rows"),
        (
            {
                "party_kind": "person",
                "remote_fields": ["name"],
                "rows": [{"canonical": "full_name"}],
            },
            "rows.0.remote",
        ),
        (
            {
                "party_kind": "person",
                "remote_fields": ["name"],
                "rows": [{"canonical": "last_name", "remote": "name", "dir": "both"}],
            },
            "rows.0.dir",
        ),
        (
            {
                "party_kind": "person",
                "remote_fields": ["name"],
                "rows": [{"canonical": "last_name", "remote": "name", "transform": 1}],
            },
            "rows.0.transform",
        ),
        ({"party_kind": "person", "remote_fields": ["name"], "rows": ["last_name"]}, "rows.0"),
    ],
)
def test_bad_table_data_is_refused_naming_the_key(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FieldTable.from_dict(data)
    assert caught.value.field == field


def test_unreadable_toml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="TOML syntax error") as caught:
        FieldTable.from_toml("rows = [")
    assert caught.value.__context__ is None
    with pytest.raises(ValidationError, match="cannot be read"):
        FieldTable.from_toml(tmp_path / "missing.toml")


def test_a_mapping_round_trips_through_toml() -> None:
    for mapping in MAPPINGS.values():
        again = RelationMapping.from_toml(mapping.to_toml())
        assert again == mapping
        assert again.to_toml() == mapping.to_toml()


def test_the_shipped_defaults_are_the_toml_files_in_the_package() -> None:
    tables = resources.files("crmconnect.mapping").joinpath("tables")
    for service, mapping in MAPPINGS.items():
        text = tables.joinpath(f"{service}.toml").read_text(encoding="utf-8")
        assert RelationMapping.from_toml(text) == mapping


def test_the_default_remote_fields_are_the_connectors_relation_attributes() -> None:
    # The mapping package imports no connector; the test checks its data against them.
    df = set(DigitaleFactuurRelation.model_fields) - {"id", "unknown"}
    assert DIGITALEFACTUUR_RELATIONS.organisation.remote_fields == df
    eb = set(EBoekhoudenRelation.model_fields) - {
        "id",
        "added",
        "member",
        "ledger_id",
        "no_newsletter",
        "newsletter_groups",
    }
    assert EBOEKHOUDEN_RELATIONS.organisation.remote_fields == eb


def test_a_connector_passes_its_own_field_names() -> None:
    data = DIGITALEFACTUUR_RELATIONS.to_dict()
    del data["remote_fields"]
    with pytest.raises(ValidationError) as caught:
        RelationMapping.from_dict(data, remote_fields={"name", "email"})
    assert (
        caught.value.field == "remote"
        and "row contacts.0.full_name → contact_name" in caught.value.reason
    )


# --------------------------------------------------------------------------
# The mapping's rules: roles, number ranges, relation types, inbound kinds


@pytest.mark.parametrize(
    ("number", "role"),
    [
        ("1000", Role.DEBTOR),
        ("1999", Role.DEBTOR),
        (1042, Role.DEBTOR),
        (" 2001 ", Role.CREDITOR),
        ("2999", Role.CREDITOR),
        ("3000", None),
        ("999", None),
        ("A-12", None),
        ("", None),
        (None, None),
        ("١٠٠١", None),
    ],
)
def test_the_number_range_gives_the_role(number: str | int | None, role: Role | None) -> None:
    for mapping in MAPPINGS.values():
        assert mapping.role_for_number(number) == role


def test_the_defaults_give_customers_and_suppliers_as_organisations() -> None:
    for mapping in MAPPINGS.values():
        assert mapping.relation_type == {
            Role.DEBTOR: RelationType.CUSTOMER,
            Role.CREDITOR: RelationType.SUPPLIER,
        }
        assert mapping.inbound_kind == {
            Role.DEBTOR: PartyKind.ORGANISATION,
            Role.CREDITOR: PartyKind.ORGANISATION,
        }
        assert mapping.number_ranges == {Role.DEBTOR: (1000, 1999), Role.CREDITOR: (2000, 2999)}
        assert mapping.name_style is NameStyle.FULL_NAME


def test_a_new_party_from_the_service_gets_the_configured_kind_and_relation_type() -> None:
    data = DIGITALEFACTUUR_RELATIONS.to_dict() | {
        "inbound_kind": {"debtor": "person", "creditor": "organisation"},
        "relation_type": {"debtor": "to_assess", "creditor": "supplier"},
    }
    mapping = RelationMapping.from_dict(data)
    person = mapping.new_party(Role.DEBTOR, {"name": "J.P. van der Berg", "city": "Ede"})
    assert isinstance(person, Person)
    assert (person.initials, person.infix, person.last_name, person.relation_type) == (
        "J.P.",
        "van der",
        "Berg",
        RelationType.TO_ASSESS,
    )
    assert person.private_address is not None and person.private_address.city == "Ede"
    supplier = mapping.new_party(Role.CREDITOR, {"name": "Groothandel BV"})
    assert isinstance(supplier, Organisation) and supplier.relation_type is RelationType.SUPPLIER


def test_a_changed_copy_of_a_mapping_writes_names_in_its_style() -> None:
    changed = attrs.evolve(EBOEKHOUDEN_RELATIONS, name_style="initials")
    assert changed.name_style is NameStyle.INITIALS
    assert changed.person.outbound(private_person())["company"] == "J.P. van der Berg"
    assert changed.organisation.name_style is NameStyle.INITIALS
    assert changed.number_ranges == EBOEKHOUDEN_RELATIONS.number_ranges
    assert changed != EBOEKHOUDEN_RELATIONS
    assert attrs.evolve(changed, name_style="full_name") == EBOEKHOUDEN_RELATIONS
    assert (
        EBOEKHOUDEN_RELATIONS.person.outbound(private_person())["company"]
        == "Jan Pieter van der Berg"
    )


def test_table_for_picks_the_table_of_the_party() -> None:
    assert DIGITALEFACTUUR_RELATIONS.table_for(bakery()) is DIGITALEFACTUUR_RELATIONS.organisation
    assert DIGITALEFACTUUR_RELATIONS.table_for(private_person()) is DIGITALEFACTUUR_RELATIONS.person
    assert DIGITALEFACTUUR_RELATIONS.table_for(PartyKind.PERSON) is DIGITALEFACTUUR_RELATIONS.person


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"number_ranges": {"debtor": [1000, 2500], "creditor": [2000, 2999]}},
            "number_ranges.creditor",
        ),
        ({"number_ranges": {"debtor": [1999, 1000]}}, "number_ranges.debtor"),
        ({"number_ranges": {"debtor": ["1000", "1999"]}}, "number_ranges.debtor"),
        ({"number_ranges": {"customer": [1000, 1999]}}, "number_ranges"),
        ({"relation_type": {"debtor": "client"}}, "relation_type.debtor"),
        ({"inbound_kind": {"debtor": "company"}}, "inbound_kind.debtor"),
        ({"inbound_kind": "person"}, "inbound_kind"),
        ({"name_style": "nickname"}, "name_style"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_mapping_rules_are_refused_naming_the_key(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RelationMapping.from_dict(DIGITALEFACTUUR_RELATIONS.to_dict() | change)
    assert caught.value.field == field
    assert caught.value.__context__ is None


def test_a_mapping_needs_a_table_of_each_kind() -> None:
    table = DIGITALEFACTUUR_RELATIONS.organisation
    with pytest.raises(ValidationError) as caught:
        RelationMapping(table, table, inbound_kind={}, relation_type={}, number_ranges={})
    assert caught.value.field == "person"


def test_the_role_names_are_those_of_the_sync_protocols() -> None:
    assert set(_relations._ROLES) == {role.value for role in Role}


def test_the_mapping_package_imports_no_connector_and_no_cycle_with_sync() -> None:
    code = (
        "import sys, crmconnect.mapping, crmconnect.sync\n"
        "assert not [m for m in sys.modules if m.startswith(('crmconnect.digitalefactuur', 'crmconnect.eboekhouden'))]\n"
        "print(crmconnect.mapping.DIGITALEFACTUUR_RELATIONS.role_for_number('1001'))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "debtor"


def test_an_empty_remote_country_leaves_the_default_and_a_new_relation_arrives() -> None:
    table = DIGITALEFACTUUR_RELATIONS.organisation
    values = {"name": "Bakkerij Zonder Land", "address": "Dorpsstraat 1", "city": "Delft"}
    arrived = table.inbound({**values, "country": None})
    assert arrived.address(AddressKind.POSTAL) is not None
    assert arrived.address(AddressKind.POSTAL).country == "NL"  # type: ignore[union-attr]
    moved = table.inbound({**values, "country": "Belgium"}, arrived)
    cleared = table.inbound({"country": ""}, moved)
    assert [a.country for a in cleared.addresses] == ["NL"] * len(cleared.addresses)
