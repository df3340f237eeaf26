"""e-Boekhouden wire models and in-band error mapping (no I/O)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from crmconnect import (
    Address,
    AddressKind,
    APIError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    Organisation,
)
from crmconnect._redact import Redactor
from crmconnect.eboekhouden import (
    ERROR_PATTERNS,
    Mutation,
    MutationKind,
    MutationLine,
    OpenItem,
    Relation,
    error_from_result,
    money,
    relation_from,
)
from crmconnect.errors import ValidationError


def test_relation_fills_required_elements_and_checks_enums() -> None:
    wire = Relation(code="1001", company="Bakkerij Jansen & Zn").to_wire()
    assert wire["ID"] == 0 and wire["Gb_ID"] == 0 and wire["GeenEmail"] == 0
    assert wire["NieuwsbriefgroepenCount"] == 0 and wire["BP"] == "B"
    assert isinstance(wire["AddDatum"], dt.datetime)
    assert "Email" not in wire, "unset optional elements are left out"
    with pytest.raises(ValidationError, match="BP"):
        Relation.model_validate({"Code": "1", "BP": "X"})
    with pytest.raises(ValidationError, match="Geslacht"):
        Relation.model_validate({"Code": "1", "Geslacht": "q"})


def test_mutation_enum_is_checked_before_sending() -> None:
    with pytest.raises(ValidationError, match="Soort"):
        Mutation.model_validate({"Soort": "Verkoop", "Datum": dt.date(2026, 1, 1)})
    mutation = Mutation(
        kind=MutationKind.SALES_INVOICE,
        date=dt.date(2026, 3, 1),
        lines=[
            MutationLine(
                amount_entered=Decimal("121.00"),
                amount_excl=Decimal("100.00"),
                vat_amount=Decimal("21.00"),
                amount_incl=Decimal("121.00"),
                vat_code="HOOG_VERK_21",
                vat_percentage=Decimal("21"),
                ledger_code="8000",
            )
        ],
    )
    wire = mutation.to_wire()
    assert wire["Soort"] == "FactuurVerstuurd" and wire["MutatieNr"] == 0
    assert wire["MutatieRegels"]["cMutatieRegel"][0]["KostenplaatsID"] == 0
    assert isinstance(wire["MutatieRegels"]["cMutatieRegel"][0]["BedragInclBTW"], Decimal)


def test_doubles_become_decimal_cents() -> None:
    item = OpenItem.model_validate(
        {
            "MutFactuur": "F1",
            "Bedrag": 0.1 + 0.2,
            "Voldaan": 100.005,
            "Openstaand": "-12.5",
            "MutDatum": dt.datetime(2026, 3, 1, 0, 0),
        }
    )
    assert item.amount == Decimal("0.30") and item.paid == Decimal("100.01")
    assert item.outstanding == Decimal("-12.50") and item.date == dt.date(2026, 3, 1)
    assert all(isinstance(v, Decimal) for v in (item.amount, item.paid, item.outstanding))
    for bad in ("abc", None, True, float("nan")):
        with pytest.raises(ValueError):
            money(bad)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Sessie is verlopen", AuthenticationError),
        ("Ongeldige beveiligingscode", AuthenticationError),
        ("Relatiecode bestaat al", ConflictError),
        ("Relatie niet gevonden", NotFoundError),
        ("Iets onverwachts", APIError),
    ],
)
def test_in_band_errors_are_typed(text: str, error: type[APIError]) -> None:
    found = error_from_result(
        {"ErrorMsg": {"LastErrorCode": "E1", "LastErrorDescription": text}},
        operation="AddRelatie",
        redact=Redactor(),
    )
    assert type(found) is error
    assert found is not None and found.code == "E1" and found.remote_message == text
    assert "AddRelatie" in str(found)


def test_empty_error_message_is_success_and_secrets_are_masked() -> None:
    assert (
        error_from_result(
            {"ErrorMsg": {"LastErrorCode": None, "LastErrorDescription": " "}},
            operation="X",
            redact=Redactor(),
        )
        is None
    )
    assert (
        error_from_result(
            {"LastErrorCode": "", "LastErrorDescription": ""}, operation="X", redact=Redactor()
        )
        is None
    )
    found = error_from_result(
        {"LastErrorCode": "X", "LastErrorDescription": "code SECRET-CODE-2 ongeldig"},
        operation="UpdateRelatie",
        redact=Redactor(["SECRET-CODE-2"]),
    )
    assert (
        found is not None
        and "SECRET-CODE-2" not in str(found)
        and "SECRET-CODE-2" not in (found.remote_message or "")
    )


def test_error_patterns_are_data_a_host_can_extend() -> None:
    ERROR_PATTERNS.insert(0, (r"factuur is al geboekt", ConflictError))
    try:
        found = error_from_result(
            {"LastErrorCode": "M006", "LastErrorDescription": "Factuur is al geboekt"},
            operation="AddMutatie",
            redact=Redactor(),
        )
        assert isinstance(found, ConflictError)
    finally:
        ERROR_PATTERNS.pop(0)


# -- relation_from ---------------------------------------------------------------------------


def test_relation_from_puts_the_postal_address_before_the_invoice_address() -> None:
    visiting = Address(street="Dorpsstraat", house_number=12, postcode="1234AB", city="Utrecht")
    po_box = Address(kind=AddressKind.POSTAL, po_box=100, postcode="3500AA", city="Utrecht")
    invoice = Address(
        kind=AddressKind.INVOICE,
        street="Kerkplein",
        house_number=1,
        postcode="3511AA",
        city="Utrecht",
    )
    both = relation_from(
        Organisation(name="Bakkerij", addresses=[visiting, po_box, invoice]), code="1001"
    )
    assert (both.address, both.postal_address, both.postal_postcode) == (
        "Dorpsstraat 12",
        "Postbus 100",
        "3500AA",
    )
    only_invoice = relation_from(Organisation(name="B", addresses=[visiting, invoice]), code="2")
    assert only_invoice.postal_address == "Kerkplein 1"
    no_visiting = relation_from(Organisation(name="B", addresses=[po_box, invoice]), code="3")
    assert (no_visiting.address, no_visiting.postal_address) == ("Kerkplein 1", "Postbus 100")
