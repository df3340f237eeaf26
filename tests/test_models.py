"""The canonical models refuse bad input with crmconnect's own ValidationError.

Every model derives from `crmconnect._model.Model`; identifiers go through
`crmconnect.validation`, strings through `Text`, keys through `key(n)`, and
amounts are bounded so that nothing computed from a built model can raise.
"""

from __future__ import annotations

import datetime as dt
import decimal
import doctest
import random
from decimal import Decimal
from typing import Any

import pydantic
import pytest

import crmconnect.models as models
from crmconnect._model import Model
from crmconnect.errors import CrmConnectError, ValidationError
from crmconnect.mapping import VatRow, VatTable, vat_breakdown
from crmconnect.models import (
    Address,
    AddressKind,
    BankAccount,
    ContactDetails,
    Invoice,
    InvoiceLine,
    Organisation,
    Person,
    RelationType,
    SbiActivity,
)
from crmconnect.models._base import MAX_INVOICE_NUMBER, MAX_RELATION_CODE

MODELS: list[type[pydantic.BaseModel]] = [
    getattr(models, name)
    for name in models.__all__
    if isinstance(getattr(models, name), type)
    and issubclass(getattr(models, name), pydantic.BaseModel)
]

MINIMAL: dict[type[pydantic.BaseModel], dict[str, Any]] = {
    Address: {},
    BankAccount: {"iban": "NL91ABNA0417164300"},
    ContactDetails: {},
    Invoice: {
        "number": "2024-001",
        "relation_code": "1001",
        "date": dt.date(2024, 3, 1),
        "lines": [{"unit_price": "1.00", "vat_category": "nl_high"}],
    },
    InvoiceLine: {"unit_price": "1.00", "vat_category": "nl_high"},
    Organisation: {"name": "Bakkerij De Zon"},
    Person: {},
    SbiActivity: {"code": "01110"},
}


def refused(model: type[pydantic.BaseModel], **values: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model(**values)
    return unchained(caught.value)


def unchained(error: ValidationError) -> ValidationError:
    assert error.__cause__ is None and error.__context__ is None, "no pydantic error chained"
    return error


def line(**values: Any) -> InvoiceLine:
    return InvoiceLine(**{"vat_category": "nl_high", "unit_price": "1.00", **values})


def invoice(**values: Any) -> Invoice:
    return Invoice(**{**MINIMAL[Invoice], **values})


# --------------------------------------------------------------------------
# one base, one error type


def test_every_canonical_model_is_covered_here() -> None:
    assert set(MODELS) == set(MINIMAL)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_model_derives_from_model(model: type[pydantic.BaseModel]) -> None:
    assert issubclass(model, Model)
    assert model.model_config.get("validate_assignment") is True
    assert model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_unknown_field_is_our_error_naming_field_and_value(
    model: type[pydantic.BaseModel],
) -> None:
    error = refused(model, **MINIMAL[model], city_of_birth="Lollum")
    assert isinstance(error, CrmConnectError)
    assert (error.field, error.value) == ("city_of_birth", "Lollum")
    assert "city_of_birth" in str(error) and "Lollum" in str(error)


def test_the_issue_example_organisation_with_a_city() -> None:
    error = refused(Organisation, name="x", city="Lollum")
    assert (error.field, error.value) == ("city", "Lollum")


def test_model_validate_raises_our_error_too() -> None:
    with pytest.raises(ValidationError) as caught:
        Organisation.model_validate({"name": "x", "kvk_number": "123"})
    assert caught.value.field == "kvk_number"


def test_nested_errors_name_the_path() -> None:
    error = refused(Organisation, name="x", bank_accounts=[{"iban": "NL91ABNA0417164301"}])
    assert error.field == "bank_accounts.0.iban"
    error = refused(Organisation, name="x", addresses=[{}, {"postcode": "1234 SA"}])
    assert error.field == "addresses.1.postcode"


def test_every_failure_is_listed() -> None:
    error = refused(Organisation, name="x", kvk_number="123", rsin="823807072")
    assert {field for field, _, _ in error.errors} == {"kvk_number", "rsin"}


# --------------------------------------------------------------------------
# identifiers: checked and normalised, the rest kept as written


@pytest.mark.parametrize(
    ("field", "raw", "stored"),
    [
        ("kvk_number", "6959 9084", "69599084"),
        ("kvk_number", "6959.9084", "69599084"),
        ("kvk_number", 69599084, "69599084"),
        ("kvk_number", "01234567", "01234567"),
        ("branch_number", "37178598", "000037178598"),
        ("branch_number", "0000 3717 8598", "000037178598"),
        ("rsin", "8238.07.071", "823807071"),
        ("rsin", "04495445", "004495445"),
        ("vat_number", "nl 0044.954.45 b01", "NL004495445B01"),
        ("vat_number", "NL000099998B57", "NL000099998B57"),
        ("vat_number", "be 0123.456.749", "BE0123456749"),
        ("vat_number", "DE136695976", "DE136695976"),
        ("vat_number", "GR094259216", "EL094259216"),
        ("vat_number", "CHE-123.456.789 MWST", "CHE-123.456.789 MWST"),  # outside the EU
    ],
)
def test_organisation_identifiers_are_normalised(field: str, raw: object, stored: str) -> None:
    org = Organisation(name="x", **{field: raw})
    assert getattr(org, field) == stored


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("kvk_number", "123"),  # refused, never padded
        ("kvk_number", 1234567),
        ("kvk_number", "6959908A"),
        ("kvk_number", "00000000"),
        ("kvk_number", ""),
        ("kvk_number", "6959\x009084"),
        ("kvk_number", 69599084.0),
        ("branch_number", "1234567890123"),
        ("rsin", "823807072"),
        ("vat_number", "NL123456789B01"),
        ("vat_number", "NL123"),
        ("vat_number", "123"),
        ("vat_number", "DE136695977"),
        ("vat_number", "BE12"),
        ("vat_number", 4495445),
    ],
)
def test_organisation_refuses_bad_identifiers(field: str, raw: object) -> None:
    error = refused(Organisation, name="x", **{field: raw})
    assert (error.field, error.value) == (field, raw)
    assert error.reason


def test_kvk_number_123_is_refused_not_padded() -> None:
    error = refused(Organisation, name="x", kvk_number="123")
    assert "8" in error.reason and "00000123" not in str(error)


def test_assignment_is_checked_and_normalised() -> None:
    org = Organisation(name="x", kvk_number="69599084")
    org.kvk_number = "6959 9085"
    assert org.kvk_number == "69599085"
    with pytest.raises(ValidationError) as caught:
        org.kvk_number = "123"
    assert unchained(caught.value).field == "kvk_number"
    assert org.kvk_number == "69599085", "a refused assignment changes nothing"


def test_bank_account_iban_and_bic() -> None:
    account = BankAccount(iban="nl91 abna 0417 1643 00", bic="abna nl 2a")
    assert (account.iban, account.bic) == ("NL91ABNA0417164300", "ABNANL2A")
    assert refused(BankAccount, iban="NL91ABNA0417164301").field == "iban"
    assert refused(BankAccount, iban="NL91ABNA0417164300", bic="ABNAXX2A").field == "bic"
    assert refused(BankAccount, iban="NL91ABNA0417164300", bic="ABNA").field == "bic"


def test_a_person_holds_bank_accounts_checked_as_an_organisations() -> None:
    person = Person(last_name="Berg", bank_accounts=[{"iban": "nl91 abna 0417 1643 00"}])
    assert person.bank_accounts == [BankAccount(iban="NL91ABNA0417164300")]
    assert Person(last_name="Berg").bank_accounts == []
    error = refused(Person, last_name="Berg", bank_accounts=[{"iban": "NL91ABNA0417164301"}])
    assert (error.field, error.value) == ("bank_accounts.0.iban", "NL91ABNA0417164301")
    bad_bic = [{"iban": "NL91ABNA0417164300", "bic": "ABNAXX2A"}]
    assert refused(Person, last_name="Berg", bank_accounts=bad_bic).field == "bank_accounts.0.bic"


def test_sbi_code_keeps_its_zero_and_refuses_a_group() -> None:
    assert SbiActivity(code="01110").code == "01110"
    assert SbiActivity(code=6201).code == "6201"
    assert refused(SbiActivity, code="620").field == "code"


def test_bsn_is_checked_and_not_in_the_repr() -> None:
    person = Person(last_name="Berg", bsn="1112.22.333")
    assert person.bsn == "111222333"
    assert "111222333" not in repr(person)
    assert refused(Person, bsn="111222334").field == "bsn"


def test_dutch_postcode_is_checked_foreign_kept() -> None:
    assert Address(postcode="1034 wl").postcode == "1034WL"
    assert Address(postcode="B-1000", country="be").postcode == "B-1000"
    assert refused(Address, postcode="1234 SA").field == "postcode"
    assert refused(Address, postcode="B-1000").field == "postcode"  # country NL by default


def test_postcode_follows_the_country_on_assignment() -> None:
    address = Address(postcode="B-1000", country="BE")
    with pytest.raises(ValidationError) as caught:
        address.country = "NL"
    assert unchained(caught.value).field == "postcode"
    assert (address.country, address.postcode) == ("BE", "B-1000"), "left as it was"
    address.postcode = "1034 wl"
    assert address.postcode == "1034 wl", "not Dutch yet: kept as written"
    address.country = "nl"
    assert (address.country, address.postcode) == ("NL", "1034WL")


@pytest.mark.parametrize(
    ("field", "raw"),
    [("country", "N1"), ("country", "NLD"), ("house_letter", "AB"), ("po_box", 10**6)],
)
def test_address_parts_are_bounded(field: str, raw: object) -> None:
    assert refused(Address, **{field: raw}).field == field


def test_huge_integer_is_our_error() -> None:
    error = refused(Address, house_number=10**5000)
    assert error.field == "house_number"
    assert len(str(error)) < 300


@pytest.mark.parametrize("field", ["employees_total", "employees_full_time", "employees_part_time"])
def test_employee_counts_are_bounded(field: str) -> None:
    assert getattr(Organisation(name="x", **{field: 2_000_000}), field) == 2_000_000
    assert refused(Organisation, name="x", **{field: 10**5000}).field == field
    assert refused(Organisation, name="x", **{field: -1}).field == field


def test_an_unknown_address_kind_is_our_error() -> None:
    org = Organisation(name="x", addresses=[{"kind": "postal", "po_box": 12}])
    assert org.address("postal") is org.postal_address
    with pytest.raises(ValidationError) as caught:
        org.address("postbus")
    assert (unchained(caught.value).field, caught.value.value) == ("kind", "postbus")


def test_contact_details_are_kept_as_written() -> None:
    # No rule checks e-mail addresses or phone numbers: they are only cleaned.
    contact = ContactDetails(email=" info@example.nl\u200b ", phone="+31 (0)20-123\x00 4567")
    assert (contact.email, contact.phone) == ("info@example.nl", "+31 (0)20-123 4567")


# --------------------------------------------------------------------------
# relations: debtor and creditor numbers, relation type, a person's own fields

PARTIES: list[type[Organisation | Person]] = [Organisation, Person]
NUMBER_FIELDS = ["debtor_number", "creditor_number"]


def party(model: type[Organisation | Person], **values: Any) -> Organisation | Person:
    return model(**{**MINIMAL[model], **values})


@pytest.mark.parametrize("field", NUMBER_FIELDS)
@pytest.mark.parametrize("model", PARTIES, ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("1001", "1001"),
        ("2001", "2001"),
        ("5001", "5001"),  # outside DigitaleFactuur's 1xxx/2xxx: no range is enforced
        ("123456789", "123456789"),  # DigitaleFactuur's documented example
        ("00042", "00042"),  # a leading zero is kept
        ("D-0042", "D-0042"),  # a host's own style is kept
        ("9" * MAX_RELATION_CODE, "9" * MAX_RELATION_CODE),
        (" 1001 ", "1001"),
        ("\u200b10\x0001", "1001"),
        (1001, "1001"),  # an integer column
        (0, "0"),
        ("", None),  # an empty column: no number
        ("   ", None),
        (None, None),
    ],
)
def test_relation_numbers_are_kept_or_normalised(
    model: type[Organisation | Person], field: str, raw: object, stored: str | None
) -> None:
    assert getattr(party(model, **{field: raw}), field) == stored


@pytest.mark.parametrize("field", NUMBER_FIELDS)
@pytest.mark.parametrize("model", PARTIES, ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("9" * (MAX_RELATION_CODE + 1), str(MAX_RELATION_CODE)),
        ("\u200b", "visible"),
        ("\x00\ufeff", "visible"),
        (True, "boolean"),
        (-1001, "negative"),
        (1001.0, "string"),
        (Decimal(1001), "string"),
    ],
    ids=str,
)
def test_bad_relation_numbers_are_refused_naming_the_field(
    model: type[Organisation | Person], field: str, raw: object, why: str
) -> None:
    error = refused(model, **MINIMAL[model], **{field: raw})
    assert (error.field, error.value) == (field, raw)
    assert why in error.reason
    assert [f for f, _, _ in error.errors] == [field]


@pytest.mark.parametrize("field", NUMBER_FIELDS)
def test_a_relation_number_is_a_valid_relation_code(field: str) -> None:
    # The sync engine uses the number as the remote relation code: every number a
    # party accepts is one an invoice accepts, and the other way round.
    for raw in ("1001", " 2002 ", 3003, "X" * MAX_RELATION_CODE):
        number = getattr(Organisation(name="x", **{field: raw}), field)
        assert invoice(relation_code=number).relation_code == number
    too_long = "X" * (MAX_RELATION_CODE + 1)
    assert refused(Invoice, **{**MINIMAL[Invoice], "relation_code": too_long}).field
    assert refused(Organisation, name="x", **{field: too_long}).field == field


@pytest.mark.parametrize("model", PARTIES, ids=lambda m: m.__name__)
def test_relation_number_assignment_is_checked(model: type[Organisation | Person]) -> None:
    built = party(model, debtor_number="1001")
    built.debtor_number = 1002  # type: ignore[assignment]  # an int is taken at run time
    assert built.debtor_number == "1002"
    with pytest.raises(ValidationError) as caught:
        built.debtor_number = "1" * 16
    assert unchained(caught.value).field == "debtor_number"
    assert built.debtor_number == "1002", "a refused assignment changes nothing"
    built.debtor_number = ""
    assert built.debtor_number is None


@pytest.mark.parametrize("model", PARTIES, ids=lambda m: m.__name__)
def test_relation_type_takes_each_kind(model: type[Organisation | Person]) -> None:
    assert [m.value for m in RelationType] == ["customer", "supplier", "prospect", "to_assess"]
    for kind in RelationType:
        assert party(model, relation_type=kind.value).relation_type is kind
        assert party(model, relation_type=kind).relation_type is kind


@pytest.mark.parametrize("raw", ["klant", "Customer", "", "to assess", 1])
@pytest.mark.parametrize("model", PARTIES, ids=lambda m: m.__name__)
def test_unknown_relation_type_is_refused(model: type[Organisation | Person], raw: object) -> None:
    error = refused(model, **MINIMAL[model], relation_type=raw)
    assert (error.field, error.value) == ("relation_type", raw)
    assert "to_assess" in error.reason


def test_relation_fields_default_to_unknown() -> None:
    # The sync engine sets a relation type per kind; the model does not guess one.
    for built in (Organisation(name="x"), Person()):
        assert (built.debtor_number, built.creditor_number, built.relation_type) == (
            None,
            None,
            None,
        )
    person = Person()
    assert (person.id, person.addresses, person.active) == (None, [], True)
    assert ContactDetails().fax is None


def test_a_person_is_deactivated_not_only_deleted() -> None:
    person = Person(last_name="Berg", active=False)
    assert person.active is False
    person.active = True
    assert person.active is True
    for raw in (None, "maybe", 2):
        error = refused(Person, active=raw)
        assert (error.field, error.value) == ("active", raw)


def test_a_person_has_a_host_id_kept_as_written() -> None:
    assert Person(id=" crm-0042 ").id == "crm-0042"
    assert refused(Person, id=["x"]).field == "id"


def test_a_person_has_addresses_with_a_private_kind() -> None:
    home = Address(kind=AddressKind.PRIVATE, street="Dorpsstraat", house_number=1, city="Lollum")
    invoice_to = Address(kind="invoice", po_box=12, postcode="8752 AA", city="Lollum")
    person = Person(last_name="Berg", addresses=[invoice_to, home])
    assert person.address("private") is person.private_address is person.addresses[1]
    assert person.address(AddressKind.INVOICE) is person.addresses[0]
    assert person.addresses[0].postcode == "8752AA"
    assert person.address("postal") is None
    assert Person().private_address is None
    with pytest.raises(ValidationError) as caught:
        person.address("home")
    assert (unchained(caught.value).field, caught.value.value) == ("kind", "home")
    assert "private" in caught.value.reason


def test_a_persons_address_is_checked_like_any_address() -> None:
    error = refused(Person, addresses=[{"kind": "private"}, {"postcode": "1234 SA"}])
    assert error.field == "addresses.1.postcode"
    assert refused(Person, addresses=[{"kind": "woonadres"}]).field == "addresses.0.kind"


def test_an_organisation_keeps_a_private_address_too() -> None:
    # A sole proprietor's CRM record may hold the owner's home address: kept as written.
    org = Organisation(name="x", addresses=[{"kind": "private", "city": "Lollum"}])
    assert org.address("private") is org.addresses[0]
    assert org.visiting_address is None


def test_fax_is_kept_as_written() -> None:
    contact = ContactDetails(fax=" +31 (0)20-123\x00 4568 ")
    assert contact.fax == "+31 (0)20-123 4568"
    assert refused(ContactDetails, fax=204568).field == "fax"


def _full_person(**values: Any) -> Person:
    return Person(
        id="p-7",
        initials="J.P.",
        first_name="Jan Pieter",
        infix="van der",
        last_name="Berg",
        contact=ContactDetails(email="jp@example.nl", fax="020-1234568"),
        addresses=[
            Address(kind="private", street="Dorpsstraat", house_number=1, postcode="8752AA")
        ],
        share_percentage=Decimal("12.5"),
        bsn="111222333",
        debtor_number=1001,
        creditor_number="2001",
        relation_type="supplier",
        active=False,
        **values,
    )


@pytest.mark.parametrize("mode", ["python", "json"])
def test_new_fields_survive_a_round_trip(mode: str) -> None:
    person = _full_person()
    org = Organisation(
        name="Bakkerij De Zon",
        contact=ContactDetails(fax="+31 20 1234568"),
        contacts=[person],
        debtor_number="1002",
        creditor_number=2002,
        relation_type=RelationType.TO_ASSESS,
    )
    for built in (person, org):
        dumped = built.model_dump(mode=mode)
        assert type(built).model_validate(dumped) == built
        assert type(built).model_validate_json(built.model_dump_json()) == built
    dumped = person.model_dump(mode="json")
    assert dumped["relation_type"] == "supplier" and dumped["addresses"][0]["kind"] == "private"
    assert (dumped["debtor_number"], dumped["active"], dumped["contact"]["fax"]) == (
        "1001",
        False,
        "020-1234568",
    )


def test_relation_type_is_public() -> None:
    import crmconnect

    assert crmconnect.RelationType is RelationType is models.RelationType
    assert RelationType.__module__ == "crmconnect.models"
    assert RelationType("to_assess") == "to_assess"


# --------------------------------------------------------------------------
# text: control and invisible characters never reach a connector

TEXT_FIELDS: list[tuple[type[pydantic.BaseModel], str]] = [
    (Address, "street"),
    (Address, "extra"),
    (Address, "city"),
    (ContactDetails, "email"),
    (ContactDetails, "phone"),
    (ContactDetails, "mobile"),
    (ContactDetails, "fax"),
    (ContactDetails, "website"),
    (Person, "id"),
    (Person, "initials"),
    (Person, "first_name"),
    (Person, "infix"),
    (Person, "last_name"),
    (Person, "role"),
    (SbiActivity, "description"),
    (Organisation, "id"),
    (Organisation, "name"),
    (Organisation, "statutory_name"),
    (Organisation, "legal_form"),
    (Organisation, "employee_class"),
    (InvoiceLine, "description"),
    (InvoiceLine, "product_group"),
    (Invoice, "description"),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_no_field_stores_a_control_or_invisible_character(
    model: type[pydantic.BaseModel],
) -> None:
    # Whatever the field: text with them is either cleaned or refused, never stored.
    dirty = "A\x00B\u200bC\x1b"
    for name in model.model_fields:
        for value in (dirty, [dirty]):
            try:
                built = model(**{**MINIMAL[model], name: value})
            except ValidationError:
                continue
            stored = getattr(built, name)
            for text in stored if isinstance(stored, list) else [stored]:
                assert not set(str(text)) & set("\x00\u200b\x1b"), (name, stored)


@pytest.mark.parametrize(("model", "field"), TEXT_FIELDS, ids=lambda x: getattr(x, "__name__", x))
def test_control_and_invisible_characters_are_removed(
    model: type[pydantic.BaseModel], field: str
) -> None:
    built = model(**{**MINIMAL[model], field: "\ufeff A\x00b\x1b\u200bc\x7f\u2060 "})
    assert getattr(built, field) == "Abc"


@pytest.mark.parametrize("field", ["trade_names", "websites"])
def test_list_items_are_cleaned(field: str) -> None:
    org = Organisation(name="x", **{field: ["a\x00b", "\u200bc "]})
    assert getattr(org, field) == ["ab", "c"]


def test_house_letter_is_cleaned_before_its_length_counts() -> None:
    assert Address(house_letter="M\u200b").house_letter == "M"


# --------------------------------------------------------------------------
# invoice and relation numbers: visible, and short enough for every connector


@pytest.mark.parametrize("raw", ["\u200b", "", "   ", "\x00", "\ufeff\u2060"])
@pytest.mark.parametrize("field", ["number", "relation_code"])
def test_keys_must_hold_a_visible_character(field: str, raw: str) -> None:
    error = refused(Invoice, **{**MINIMAL[Invoice], field: raw})
    assert (error.field, error.value) == (field, raw)


@pytest.mark.parametrize(
    ("field", "limit"), [("number", MAX_INVOICE_NUMBER), ("relation_code", MAX_RELATION_CODE)]
)
def test_keys_fit_the_tightest_connector(field: str, limit: int) -> None:
    assert getattr(invoice(**{field: "9" * limit}), field) == "9" * limit
    error = refused(Invoice, **{**MINIMAL[Invoice], field: "9" * (limit + 1)})
    assert error.field == field and str(limit) in error.reason


def test_a_10000_character_invoice_number_is_refused_with_a_short_message() -> None:
    error = refused(Invoice, **{**MINIMAL[Invoice], "number": "F" * 10_000})
    assert error.field == "number" and error.value == "F" * 10_000
    assert len(str(error)) < 400


def test_keys_lose_control_characters() -> None:
    built = invoice(number=" F\x00-1 ", relation_code="\u200b1001")
    assert (built.number, built.relation_code) == ("F-1", "1001")


def test_invoice_assignment_is_checked() -> None:
    built = invoice()
    with pytest.raises(ValidationError):
        built.number = "\u200b"
    assert built.number == "2024-001"


def test_due_date_error_names_the_field() -> None:
    error = refused(Invoice, **MINIMAL[Invoice], due_date=dt.date(2024, 2, 1))
    assert (error.field, error.value) == ("due_date", dt.date(2024, 2, 1))


# --------------------------------------------------------------------------
# amounts and quantities: bounded, so nothing computed from them raises


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("unit_price", Decimal("1E+30")),
        ("unit_price", "1e999999"),
        ("unit_price", "-1e999999"),
        ("unit_price", "1e-999999"),
        ("quantity", "1e400"),
        ("unit_price", "NaN"),
        ("unit_price", Decimal("NaN")),
        ("unit_price", "sNaN"),
        ("unit_price", "Infinity"),
        ("quantity", Decimal("-Infinity")),
        ("unit_price", "1000000000000"),
        ("unit_price", Decimal("-1000000000000")),
        ("unit_price", 10**12),
        ("quantity", 10**5000),
        ("unit_price", "0.0000001"),
        ("quantity", "1.1234567"),
        ("unit_price", "9" * 100_000),
        ("unit_price", 0.1),
        ("unit_price", "twelve"),
    ],
    ids=lambda value: "huge-int" if isinstance(value, int) and value > 10**100 else str(value)[:20],
)
def test_amounts_and_quantities_are_bounded(field: str, raw: object) -> None:
    values = {**MINIMAL[InvoiceLine], field: raw}
    error = refused(InvoiceLine, **values)
    assert error.field == field
    assert len(str(error)) < 400


@pytest.mark.parametrize(
    ("quantity", "unit_price", "amount"),
    [
        ("999999999999.999999", "0.999999", "999999000000.00"),
        ("0.000001", "999999999999.999999", "1000000.00"),
        ("-3", "33.335", "-100.01"),
        ("1.50000000000", "2.0000000000000", "3.00"),  # trailing zeros are no decimals
        ("1E+3", "1E-6", "0.00"),
    ],
)
def test_values_within_the_bounds_are_accepted(quantity: str, unit_price: str, amount: str) -> None:
    assert line(quantity=quantity, unit_price=unit_price).amount == Decimal(amount)


def test_the_line_amount_is_bounded_too() -> None:
    values = {**MINIMAL[InvoiceLine], "quantity": "1000000", "unit_price": "1000000"}
    error = refused(InvoiceLine, **values)
    assert error.field == "amount"
    assert error.value == Decimal("1000000000000")


def test_a_refused_quantity_assignment_leaves_the_line_unchanged() -> None:
    built = line(unit_price="999999")
    with pytest.raises(ValidationError) as caught:
        built.quantity = Decimal(10**7)
    assert unchained(caught.value).field == "amount"
    assert built.quantity == 1


def test_amount_is_exact_whatever_the_callers_context() -> None:
    built = line(quantity="999999.999999", unit_price="999999.999999")
    expected = built.amount
    with decimal.localcontext() as context:
        context.prec = 3
        context.traps[decimal.Inexact] = True
        context.traps[decimal.Rounded] = True
        assert built.amount == expected == Decimal("999999999998.00")
        rebuilt = line(quantity="123456.123456", unit_price="999999.999999")
        assert rebuilt.amount == Decimal("123456123455.88")
        assert refused(InvoiceLine, **{**MINIMAL[InvoiceLine], "unit_price": "0.1234567"}).reason


def _extreme_values(rng: random.Random) -> list[Decimal]:
    edges = [Decimal("999999999999.999999"), Decimal("0.000001"), Decimal(0), Decimal("-0")]
    # Every size up to 12 digits, 0 to 6 of them decimals, either sign.
    randoms = [
        Decimal(rng.choice((-1, 1)) * rng.randrange(10 ** rng.randrange(1, 13))).scaleb(
            -rng.randrange(0, 7)
        )
        for _ in range(200)
    ]
    return edges + [-edge for edge in edges] + randoms


def test_no_built_line_makes_the_amount_or_the_vat_raise() -> None:
    rng = random.Random(9)
    table = VatTable(
        [VatRow("sales", "nl_high", "HOOG_VERK_21", "8000")], required_categories=["nl_high"]
    )
    built_lines: list[InvoiceLine] = []
    values = _extreme_values(rng)
    for quantity in values[:40]:
        for unit_price in values:
            try:
                built_lines.append(line(quantity=quantity, unit_price=unit_price))
            except ValidationError:
                continue  # the product is out of bounds: refused at construction
    assert len(built_lines) > 1000
    for amounts_include_vat in (False, True):
        for start in range(0, len(built_lines), 500):
            chunk = built_lines[start : start + 500]
            booked = invoice(lines=chunk, amounts_include_vat=amounts_include_vat)
            [booking] = vat_breakdown(booked, table)
            assert booking.amount_incl == booking.amount_excl + booking.vat_amount


# --------------------------------------------------------------------------
# docs


def test_docstring_examples() -> None:
    from crmconnect.models import _invoice, _party

    for module in (_invoice, _party):
        result = doctest.testmod(module)
        assert result.failed == 0
