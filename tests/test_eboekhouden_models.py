"""e-Boekhouden wire models and in-band error mapping (no I/O)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from crmconnect import (
    APIError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
)
from crmconnect._redact import Redactor
from crmconnect.eboekhouden import (
    ERROR_PATTERNS,
    BooksClient,
    EBoekhoudenClient,
    Mutation,
    MutationKind,
    MutationLine,
    OpenItem,
    Relation,
    error_from_result,
    money,
)
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.errors import ValidationError
from crmconnect.models import Invoice, InvoiceLine
from crmconnect.sandbox import (
    DEMO_ACCESS_TOKEN,
    DEMO_CREDENTIALS,
    DEMO_VAT_TABLE,
    EBoekhoudenSandbox,
)


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


# -- the shared text rules, lengths and identifiers, the same on both backends ----------------


def soap_or_rest(backend: str, sandbox: EBoekhoudenSandbox) -> BooksClient:
    if backend == "soap":
        login = DEMO_CREDENTIALS
        return EBoekhoudenClient(
            login.username,
            login.security_code_1,
            login.security_code_2,
            session=sandbox.requests_session(),
        )
    return EBoekhoudenRestClient(DEMO_ACCESS_TOKEN, transport=sandbox.transport())


def sales_mutation(invoice_number: str) -> Mutation:
    return Mutation(
        kind=MutationKind.SALES_INVOICE,
        date=dt.date(2026, 3, 1),
        ledger_code="1300",
        relation_code="1001",
        invoice_number=invoice_number,
        in_ex_vat="EX",
        lines=[
            MutationLine(
                amount_entered=Decimal("100"),
                amount_excl=Decimal("100"),
                vat_amount=Decimal("21"),
                amount_incl=Decimal("121"),
                vat_code="HOOG_VERK_21",
                vat_percentage=Decimal("21"),
                ledger_code="8000",
            )
        ],
    )


@pytest.mark.parametrize("backend", ["soap", "rest"])
def test_control_characters_are_removed_alike_on_both_backends(backend: str) -> None:
    sandbox = EBoekhoudenSandbox()
    invoice = Invoice(
        number="G\x00",
        relation_code="1001",
        date=dt.date(2026, 3, 2),
        lines=[InvoiceLine(description="Advies", unit_price="10.00", vat_category="nl_high")],
    )
    with soap_or_rest(backend, sandbox) as books:
        books.upsert_relation(Relation(code="1001", company="a\x00b\u200b", city="Ede\x1b"))
        books._add_mutation(sales_mutation("F\x00"))
        booked = books.book_invoice(invoice, DEMO_VAT_TABLE)
        again = books.book_invoice(invoice, DEMO_VAT_TABLE)
    [relation] = sandbox.relations
    assert (relation.company, relation.values["city"]) == ("ab", "Ede")
    assert [m.invoice_number for m in sandbox.mutations] == ["F", "G"]
    assert booked.created and not again.created


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Relation(code="1" * 10_000), "code"),
        (lambda: Relation(code="\u200b\x00 "), "code"),
        (lambda: Relation(code="1", company="B" * 101), "company"),
        (lambda: Relation(code="1", note="n" * 4001), "note"),
        (lambda: sales_mutation("F" * 10_000), "invoice_number"),
        (lambda: sales_mutation("\u200b"), "invoice_number"),
        (lambda: Relation(code="1", iban="NL91ABNA0417164301"), "iban"),
        (lambda: Relation(code="1", kvk_number="123"), "kvk_number"),
        (lambda: Relation(code="1", kvk_number="6959908x"), "kvk_number"),
        (lambda: Relation(code="1", vat_number="NL004495445B00"), "vat_number"),
        (lambda: Relation(code="1", vat_number="DE000000000"), "vat_number"),
        (lambda: Relation(code="1", gender="x"), "gender"),
    ],
)
def test_what_does_not_fit_the_remote_is_refused_naming_the_field(build: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.field == field
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_identifiers_are_normalised_and_foreign_ones_taken() -> None:
    relation = Relation(
        code=" 1001 ",
        iban="nl91 abna 0417 1643 00",
        kvk_number="6959 9084",
        vat_number="nl 0044.954.45 b01",
    )
    assert (relation.code, relation.iban, relation.kvk_number, relation.vat_number) == (
        "1001",
        "NL91ABNA0417164300",
        "69599084",
        "NL004495445B01",
    )
    belgian = Relation(code="2", kvk_number="0403.019.261", vat_number="BE 0403.019.261")
    assert (belgian.kvk_number, belgian.vat_number) == ("0403019261", "BE0403019261")
    assert Relation(code="3", vat_number="CHE-123.456.788 MWST").vat_number  # outside the EU
    assert Relation(code="4", iban="").iban == ""  # "" clears the field on REST


def test_assignment_is_checked_like_construction() -> None:
    relation = Relation(code="1")
    with pytest.raises(ValidationError) as caught:
        relation.iban = "NL00"
    assert caught.value.field == "iban"
    relation.company = "Bakker\x00ij"
    assert relation.company == "Bakkerij"


@pytest.mark.parametrize("backend", ["soap", "rest"])
def test_odd_remote_values_are_read_and_checked_again_before_sending(backend: str) -> None:
    sandbox = EBoekhoudenSandbox()
    # Entered in e-Boekhouden's own screens: values this library would not send.
    sandbox.add_relation("1001", "Bakkerij", kvk_number="12", iban="X", vat_number="onbekend")
    with soap_or_rest(backend, sandbox) as books:
        found = books.relation_by_code("1001")
        assert found is not None and (found.kvk_number, found.iban) == ("12", "X")
        calls = sandbox.stats.total
        with pytest.raises(ValidationError) as caught:
            books.update_relation(found.model_copy(update={"city": "Ede"}))
        assert sandbox.stats.total == calls, "nothing was sent"
    assert {field for field, _, _ in caught.value.errors} == {"kvk_number", "iban", "vat_number"}


def test_amounts_are_bounded_and_decimal() -> None:
    for amount in ("1e999999", "1E+30", Decimal("1E+30"), float("inf"), "NaN"):
        with pytest.raises(ValueError, match="not an amount"):
            money(amount)
    with pytest.raises(ValidationError) as caught:
        MutationLine(
            amount_entered=Decimal("1E+30"),
            amount_excl=Decimal("0"),
            vat_amount=Decimal("0"),
            amount_incl=Decimal("0"),
            vat_code="GEEN",
            vat_percentage=Decimal("0"),
            ledger_code="8000",
        )
    assert caught.value.field == "amount_entered"
    assert money("90071992547409.91") == Decimal("90071992547409.91")
