"""The VAT table (crmconnect.mapping) and the canonical invoice models."""

from __future__ import annotations

import datetime as dt
import doctest
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

import crmconnect
import crmconnect.mapping as mapping
from crmconnect.errors import MappingError, ValidationError
from crmconnect.mapping import (
    EBOEKHOUDEN_VAT_CODES,
    BookingLine,
    ProductGroupLedger,
    VatCode,
    VatRow,
    VatTable,
    VatTarget,
    _vat,
    vat_breakdown,
    vat_rate,
)
from crmconnect.models import Invoice, InvoiceKind, InvoiceLine, VatCategory

SALES, PURCHASE = InvoiceKind.SALES, InvoiceKind.PURCHASE
LEDGERS = frozenset({"8000", "8001", "8002", "8011", "8012", "7000", "7001", "7002", "7011"})

SALES_ROWS = {
    "nl_high": ("HOOG_VERK_21", "8000"),
    "nl_low": ("LAAG_VERK_9", "8001"),
    "zero": ("GEEN", "8002"),
    "reverse_charge": ("VERL_VERK", "8002"),
    "exempt": ("GEEN", "8002"),
    "eu_goods": ("BI_EU_VERK", "8002"),
    "eu_services": ("BI_EU_VERK_D", "8002"),
    "export_outside_eu": ("BU_EU_VERK", "8002"),
}
PURCHASE_ROWS = {
    "nl_high": ("HOOG_INK_21", "7000"),
    "nl_low": ("LAAG_INK_9", "7001"),
    "zero": ("GEEN", "7002"),
    "reverse_charge": ("VERL_INK", "7002"),
    "exempt": ("GEEN", "7002"),
    "eu_goods": ("BI_EU_INK", "7002"),
    "eu_services": ("BI_EU_INK", "7002"),
    "export_outside_eu": ("BU_EU_INK", "7002"),
}

TOML = """
administration = "Bakkerij Jansen B.V."

[sales]
nl_high           = { vat_code = "HOOG_VERK_21", ledger = "8000" }
nl_low            = { vat_code = "LAAG_VERK_9",  ledger = "8001" }
zero              = { vat_code = "GEEN",         ledger = "8002" }
reverse_charge    = { vat_code = "VERL_VERK",    ledger = "8002" }
exempt            = { vat_code = "GEEN",         ledger = "8002" }
eu_goods          = { vat_code = "BI_EU_VERK",   ledger = "8002" }
eu_services       = { vat_code = "BI_EU_VERK_D", ledger = "8002" }
export_outside_eu = { vat_code = "BU_EU_VERK",   ledger = "8002" }

[sales.product_groups]
consultancy = "8011"
training    = "8012"

[purchase]
nl_high           = { vat_code = "HOOG_INK_21", ledger = "7000" }
nl_low            = { vat_code = "LAAG_INK_9",  ledger = "7001" }
zero              = { vat_code = "GEEN",        ledger = "7002" }
reverse_charge    = { vat_code = "VERL_INK",    ledger = "7002" }
exempt            = { vat_code = "GEEN",        ledger = "7002" }
eu_goods          = { vat_code = "BI_EU_INK",   ledger = "7002" }
eu_services       = { vat_code = "BI_EU_INK",   ledger = "7002" }
export_outside_eu = { vat_code = "BU_EU_INK",   ledger = "7002" }

[purchase.product_groups]
consultancy = "7011"
"""


def _rows(**overrides: tuple[str, str] | None) -> list[VatRow]:
    """All sixteen rows; ``sales_nl_low=None`` drops a row, ``sales_nl_low=(code, ledger)`` changes it."""
    rows = []
    for kind, table in ((SALES, SALES_ROWS), (PURCHASE, PURCHASE_ROWS)):
        for category, default in table.items():
            key = f"{kind.value}_{category}"
            cells = overrides.get(key, default)
            if cells is not None:
                rows.append(VatRow(kind, category, *cells))
    return rows


GROUPS = [
    ProductGroupLedger("sales", "consultancy", "8011"),
    ProductGroupLedger("sales", "training", "8012"),
    ProductGroupLedger("purchase", "consultancy", "7011"),
]


@pytest.fixture
def table() -> VatTable:
    return VatTable(_rows(), GROUPS, known_ledgers=LEDGERS, administration="Bakkerij Jansen B.V.")


def _line(price: str, category: str = "nl_high", quantity: str = "1", **extra: Any) -> InvoiceLine:
    return InvoiceLine(
        description=extra.pop("description", "item"),
        quantity=Decimal(quantity),
        unit_price=Decimal(price),
        vat_category=VatCategory(category),
        **extra,
    )


def _invoice(*lines: InvoiceLine, date: dt.date = dt.date(2024, 3, 1), **extra: Any) -> Invoice:
    return Invoice(
        number=extra.pop("number", "2024-001"),
        relation_code="1001",
        date=date,
        lines=list(lines),
        **extra,
    )


def _amounts(line: BookingLine) -> tuple[Decimal, Decimal, Decimal]:
    return (line.amount_excl, line.vat_amount, line.amount_incl)


def _refused(build: Any, *args: Any, **kwargs: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        build(*args, **kwargs)
    return info.value


# --------------------------------------------------------------------------
# Public surface, house rules


def test_doctests() -> None:
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for module in (mapping, crmconnect.models):
        for test in finder.find(module, module.__name__, module=False, globs=dict(vars(module))):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 20
    assert result.failed == 0


def test_private_module_declares_all() -> None:
    assert set(_vat.__all__) <= set(mapping.__all__)
    assert all(getattr(mapping, name) is getattr(_vat, name) for name in _vat.__all__)


def test_invoice_models_are_exported_from_the_root() -> None:
    for name in ("Invoice", "InvoiceKind", "InvoiceLine", "VatCategory"):
        assert getattr(crmconnect, name) is getattr(crmconnect.models, name)
        assert getattr(crmconnect, name).__module__ == "crmconnect.models"


def test_mapping_never_imports_a_connector() -> None:
    code = (
        "import sys, crmconnect.mapping\n"
        "bad = [m for m in sys.modules if m.startswith(('crmconnect.eboekhouden', 'crmconnect.kvk',"
        " 'crmconnect.sandbox', 'zeep', 'httpx'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_table_and_rows_are_immutable(table: VatTable) -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        table.rows = ()  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        table.rows[0].ledger = "9999"  # type: ignore[misc]
    with pytest.raises(TypeError):
        table.vat_codes["NEW"] = EBOEKHOUDEN_VAT_CODES["GEEN"]  # type: ignore[index]
    with pytest.raises(TypeError):
        EBOEKHOUDEN_VAT_CODES["NEW"] = EBOEKHOUDEN_VAT_CODES["GEEN"]  # type: ignore[index]
    assert hash(table) == hash(VatTable(_rows(), GROUPS, administration="Bakkerij Jansen B.V."))


# --------------------------------------------------------------------------
# Canonical invoice models


def test_invoice_defaults_and_line_amount() -> None:
    invoice = _invoice(_line("33.335", quantity="3"))
    assert invoice.kind is SALES
    assert invoice.currency == "EUR"
    assert invoice.amounts_include_vat is False
    assert invoice.lines[0].amount == Decimal("100.01")  # 100.005 rounds half up


@pytest.mark.parametrize("field", ["quantity", "unit_price"])
def test_invoice_line_refuses_floats(field: str) -> None:
    values: dict[str, Any] = {"unit_price": "1.00", "vat_category": "nl_high", field: 0.1}
    with pytest.raises(ValidationError, match="float"):
        InvoiceLine(**values)


def test_invoice_line_refuses_nan_and_unknown_category() -> None:
    with pytest.raises(ValidationError, match="finite"):
        InvoiceLine(unit_price=Decimal("NaN"), vat_category=VatCategory.NL_HIGH)
    with pytest.raises(ValidationError, match="vat_category"):
        InvoiceLine(unit_price=Decimal(1), vat_category="nl_middle")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lines": []}, "at least 1 item"),
        ({"currency": "USD"}, "only EUR"),
        ({"due_date": dt.date(2024, 2, 1)}, "before the invoice date"),
        ({"number": "  "}, "number"),
        ({"relation_code": ""}, "relation_code"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invoice_validation(changes: dict[str, Any], message: str) -> None:
    data: dict[str, Any] = {
        "number": "2024-001",
        "relation_code": "1001",
        "date": dt.date(2024, 3, 1),
        "lines": [_line("1.00")],
        **changes,
    }
    with pytest.raises(ValidationError, match=message):
        Invoice(**data)


def test_credit_note_is_an_invoice_with_negative_amounts() -> None:
    credit = _invoice(_line("10.00", quantity="-2"), _line("-5.00"), number="2024-001-C")
    assert [line.amount for line in credit.lines] == [Decimal("-20.00"), Decimal("-5.00")]
    assert _invoice(_line("1.00"), currency="eur").currency == "EUR"
    assert (
        InvoiceLine(unit_price=Decimal(1), vat_category="zero", product_group=" ").product_group
        is None
    )


# --------------------------------------------------------------------------
# The code list and the Dutch rates


def test_code_list_is_consistent() -> None:
    for name, code in EBOEKHOUDEN_VAT_CODES.items():
        assert name == code.code
        assert code.rate is None or isinstance(code.rate, Decimal)
        if code.replaces is not None:
            older = EBOEKHOUDEN_VAT_CODES[code.replaces]
            assert older.kind == code.kind
            assert older.valid_until == code.valid_from
    assert EBOEKHOUDEN_VAT_CODES["LAAG_VERK"].rate == 6
    assert EBOEKHOUDEN_VAT_CODES["LAAG_VERK_9"].rate == 9
    assert EBOEKHOUDEN_VAT_CODES["HOOG_VERK"].rate == 19
    assert EBOEKHOUDEN_VAT_CODES["HOOG_INK_21"].kind is PURCHASE
    assert EBOEKHOUDEN_VAT_CODES["GEEN"].kind is None
    assert EBOEKHOUDEN_VAT_CODES["VERL_VERK"].charged_rate == 0
    assert EBOEKHOUDEN_VAT_CODES["AFW"].rate is None
    assert not any(name.startswith("BE_") for name in EBOEKHOUDEN_VAT_CODES)


@pytest.mark.parametrize(
    ("category", "on", "rate"),
    [
        (VatCategory.NL_LOW, dt.date(2018, 12, 31), 6),
        (VatCategory.NL_LOW, dt.date(2019, 1, 1), 9),
        (VatCategory.NL_HIGH, dt.date(2012, 9, 30), 19),
        (VatCategory.NL_HIGH, dt.date(2012, 10, 1), 21),
        (VatCategory.REVERSE_CHARGE, dt.date(2024, 1, 1), 0),
        (VatCategory.EU_GOODS, dt.date(2024, 1, 1), 0),
    ],
)
def test_dutch_rates_by_date(category: VatCategory, on: dt.date, rate: int) -> None:
    assert vat_rate(category, on) == rate
    assert isinstance(vat_rate(category, on), Decimal)


# --------------------------------------------------------------------------
# Building a table: from code and from TOML


def test_table_from_code(table: VatTable) -> None:
    assert len(table.rows) == 16
    assert table.required_categories == frozenset(VatCategory)
    assert table.row(SALES, VatCategory.NL_HIGH) == VatRow(
        SALES, VatCategory.NL_HIGH, "HOOG_VERK_21", "8000"
    )
    assert table.lookup(PURCHASE, VatCategory.NL_HIGH, dt.date(2024, 1, 1)) == VatTarget(
        "HOOG_INK_21", Decimal(21), "7000"
    )


def test_table_from_toml_text_and_file_equals_the_table_from_code(
    table: VatTable, tmp_path: Path
) -> None:
    from_text = VatTable.from_toml(TOML, known_ledgers=LEDGERS)
    path = tmp_path / "vat.toml"
    path.write_text(TOML, encoding="utf-8")
    from_path = VatTable.from_toml(path, known_ledgers=LEDGERS)
    from_str_path = VatTable.from_toml(str(path))
    assert from_text == from_path == from_str_path == table
    assert from_text.administration == "Bakkerij Jansen B.V."


def test_partial_table_with_required_categories() -> None:
    toml = """
    required_categories = ["nl_high", "nl_low"]
    [sales]
    nl_high = { vat_code = "HOOG_VERK_21", ledger = "8000" }
    nl_low = { vat_code = "LAAG_VERK_9", ledger = "8001" }
    """
    table = VatTable.from_toml(toml)
    assert table.required_categories == {VatCategory.NL_HIGH, VatCategory.NL_LOW}
    assert table.row(PURCHASE, VatCategory.NL_HIGH) is None
    assert table.row(SALES, VatCategory.ZERO) is None


def test_unknown_vat_code() -> None:
    error = _refused(VatTable, _rows(sales_nl_high=("HOOG_VERK_22", "8000")))
    assert (error.field, error.value) == ("sales.nl_high.vat_code", "HOOG_VERK_22")
    assert "unknown VAT code" in error.reason
    toml = TOML.replace(
        '"BI_EU_INK",   ledger = "7002" }\neu_services',
        '"BI_EU_IN",   ledger = "7002" }\neu_services',
    )
    assert _refused(VatTable.from_toml, toml).field == "purchase.eu_goods.vat_code"


def test_vat_codes_of_another_list() -> None:
    # A code the service does not offer is unknown, even if e-Boekhouden has it.
    codes = {name: code for name, code in EBOEKHOUDEN_VAT_CODES.items() if name != "BI_EU_VERK_D"}
    error = _refused(VatTable, _rows(), known_vat_codes=codes)
    assert error.field == "sales.eu_services.vat_code"


def test_unknown_ledger() -> None:
    error = _refused(VatTable, _rows(sales_nl_low=("LAAG_VERK_9", "8099")), known_ledgers=LEDGERS)
    assert (error.field, error.value, error.reason) == (
        "sales.nl_low.ledger",
        "8099",
        "unknown ledger",
    )
    error = _refused(
        VatTable.from_toml,
        TOML.replace('training    = "8012"', 'training = "8098"'),
        known_ledgers=LEDGERS,
    )
    assert (error.field, error.value) == ("sales.product_groups.training", "8098")
    # Without known ledgers, ledgers are not checked.
    assert (
        VatTable(_rows(sales_nl_low=("LAAG_VERK_9", "8099"))).row(SALES, VatCategory.NL_LOW)
        is not None
    )


def test_validate_against_the_live_administration(table: VatTable) -> None:
    table.validate(known_vat_codes=set(EBOEKHOUDEN_VAT_CODES), known_ledgers=LEDGERS)
    error = _refused(table.validate, known_ledgers=LEDGERS - {"8011"})
    assert error.field == "sales.product_groups.consultancy"
    error = _refused(table.validate, known_vat_codes=set(EBOEKHOUDEN_VAT_CODES) - {"VERL_INK"})
    assert error.field == "purchase.reverse_charge.vat_code"


def test_hole() -> None:
    error = _refused(VatTable, _rows(purchase_exempt=None))
    assert (error.field, error.value) == ("purchase.exempt", None)
    assert "no row" in error.reason
    toml = TOML.replace('exempt            = { vat_code = "GEEN",         ledger = "8002" }\n', "")
    assert _refused(VatTable.from_toml, toml).field == "sales.exempt"


def test_duplicate_row() -> None:
    rows = [*_rows(), VatRow(SALES, VatCategory.NL_HIGH, "HOOG_VERK_21", "8001")]
    error = _refused(VatTable, rows)
    assert error.field == "sales.nl_high"
    assert "duplicate row" in error.reason
    # In TOML a second key for the same category is already a TOML error, with its line.
    toml = TOML.replace(
        "[sales.product_groups]",
        'nl_high = { vat_code = "HOOG_VERK_21", ledger = "8000" }\n[sales.product_groups]',
    )
    error = _refused(VatTable.from_toml, toml)
    assert error.field == "vat_table"
    assert "line 14" in error.reason


def test_duplicate_product_group() -> None:
    error = _refused(VatTable, _rows(), [*GROUPS, ProductGroupLedger(SALES, "training", "8011")])
    assert error.field == "sales.product_groups.training"
    assert "duplicate" in error.reason


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"purchase_nl_high": ("HOOG_VERK_21", "7000")}, "purchase.nl_high.vat_code"),
        ({"sales_nl_low": ("LAAG_INK_9", "8001")}, "sales.nl_low.vat_code"),
    ],
)
def test_code_of_the_wrong_kind(override: dict[str, tuple[str, str]], field: str) -> None:
    error = _refused(VatTable, _rows(**override))
    assert error.field == field
    assert "cannot book" in error.reason


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"sales_nl_low": ("HOOG_VERK_21", "8001")}, "nl_low is 9 %"),
        ({"sales_nl_high": ("GEEN", "8000")}, "nl_high is 21 %"),
        ({"sales_zero": ("HOOG_VERK_21", "8002")}, "zero is 0 %"),
        ({"sales_reverse_charge": ("HOOG_VERK_21", "8002")}, "reverse_charge is 0 %"),
        ({"sales_nl_high": ("AFW_VERK", "8000")}, "no rate"),
    ],
)
def test_code_that_does_not_fit_the_category(
    override: dict[str, tuple[str, str]], reason: str
) -> None:
    assert reason in _refused(VatTable, _rows(**override)).reason


@pytest.mark.parametrize(
    ("toml", "field", "reason"),
    [
        (
            "[sales]\nnl_hig = { vat_code = 'HOOG_VERK_21', ledger = '8000' }",
            "sales.nl_hig",
            "not a VAT category",
        ),
        (
            "[sales]\nnl_high = { vat_code = 'HOOG_VERK_21', ledger = 8000 }",
            "sales.nl_high.ledger",
            "leading zeros",
        ),
        (
            "[sales]\nnl_high = { vat_code = 'HOOG_VERK_21' }",
            "sales.nl_high",
            "needs vat_code and ledger",
        ),
        (
            "[sales]\nnl_high = { vat_code = 'HOOG_VERK_21', ledger = '8000', rate = 21 }",
            "sales.nl_high.rate",
            "unknown key",
        ),
        ("[sale]\nnl_high = { vat_code = 'HOOG_VERK_21', ledger = '8000' }", "sale", "unknown key"),
        ("sales = 'nl_high'", "sales", "must be a table"),
        ("required_categories = 'nl_high'", "required_categories", "list"),
        ("required_categories = ['nl_hoog']", "required_categories[0]", "not a VAT category"),
        ("administration = 7", "administration", "string"),
        ("administration = 'x'", "rows", "at least one row"),
        ("sales = {", "vat_table", "TOML syntax error"),
    ],
)
def test_malformed_toml(toml: str, field: str, reason: str) -> None:
    error = _refused(VatTable.from_toml, toml)
    assert error.field == field
    assert reason in error.reason


def test_rows_refuse_unknown_kinds_and_categories() -> None:
    assert _refused(VatRow, "sale", "nl_high", "HOOG_VERK_21", "8000").field == "kind"
    assert _refused(VatRow, "sales", "nl", "HOOG_VERK_21", "8000").field == "category"
    assert _refused(VatRow, "sales", "nl_high", "", "8000").field == "vat_code"
    assert _refused(ProductGroupLedger, "sales", "consultancy", " ").field == "ledger"


# --------------------------------------------------------------------------
# Lines the table does not cover


def test_uncovered_category_raises_before_anything_is_computed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = VatTable.from_toml(
        "required_categories = ['nl_high']\n[sales]\nnl_high = { vat_code = 'HOOG_VERK_21', ledger = '8000' }"
    )
    computed: list[object] = []
    monkeypatch.setattr(_vat, "_booking_line", lambda *args: computed.append(args))
    invoice = _invoice(
        _line("10.00"), _line("5.00"), _line("7.00", "eu_goods", description="Flour to Antwerp")
    )
    with pytest.raises(MappingError) as info:
        vat_breakdown(invoice, table)
    message = str(info.value)
    assert "'2024-001'" in message
    assert "line 3" in message
    assert "'Flour to Antwerp'" in message
    assert "'eu_goods'" in message
    assert computed == []


def test_uncovered_kind_names_the_administration(table: VatTable) -> None:
    sales_only = VatTable([row for row in table.rows if row.kind is SALES], administration="Jansen")
    with pytest.raises(
        MappingError,
        match="'nl_high' of purchase invoices is not covered by the VAT table of Jansen",
    ):
        vat_breakdown(_invoice(_line("1.00"), kind=PURCHASE), sales_only)


def test_date_no_code_covers_raises_mapping_error() -> None:
    # A code that starts on a date and replaces nothing does not cover earlier invoices.
    codes = {
        **EBOEKHOUDEN_VAT_CODES,
        "NEW_21": VatCode("NEW_21", Decimal(21), SALES, valid_from=dt.date(2030, 1, 1)),
    }
    table = VatTable(
        [VatRow(SALES, "nl_high", "NEW_21", "8000")], required_categories=[], known_vat_codes=codes
    )
    assert table.lookup(SALES, VatCategory.NL_HIGH, dt.date(2030, 1, 1)).vat_code == "NEW_21"
    with pytest.raises(MappingError, match="NEW_21 does not apply on 2029-12-31"):
        vat_breakdown(_invoice(_line("1.00"), date=dt.date(2029, 12, 31)), table)


# --------------------------------------------------------------------------
# The date rules


@pytest.mark.parametrize(
    ("kind", "on", "code", "rate", "vat"),
    [
        (SALES, dt.date(2018, 12, 31), "LAAG_VERK", 6, "6.00"),
        (SALES, dt.date(2019, 1, 1), "LAAG_VERK_9", 9, "9.00"),
        (PURCHASE, dt.date(2018, 12, 31), "LAAG_INK", 6, "6.00"),
        (PURCHASE, dt.date(2019, 1, 1), "LAAG_INK_9", 9, "9.00"),
    ],
)
def test_low_rate_six_before_2019_nine_from_2019(
    table: VatTable, kind: InvoiceKind, on: dt.date, code: str, rate: int, vat: str
) -> None:
    [line] = vat_breakdown(_invoice(_line("100.00", "nl_low"), date=on, kind=kind), table)
    assert (line.vat_code, line.rate) == (code, Decimal(rate))
    assert line.vat_amount == Decimal(vat)
    assert line.ledger == ("8001" if kind is SALES else "7001")


@pytest.mark.parametrize("named", ["LAAG_VERK", "LAAG_VERK_9"])
def test_the_date_decides_whichever_code_the_row_names(named: str) -> None:
    table = VatTable([VatRow(SALES, "nl_low", named, "8001")], required_categories=[])
    assert table.lookup(SALES, VatCategory.NL_LOW, dt.date(2018, 6, 1)) == VatTarget(
        "LAAG_VERK", Decimal(6), "8001"
    )
    assert table.lookup(SALES, VatCategory.NL_LOW, dt.date(2024, 6, 1)) == VatTarget(
        "LAAG_VERK_9", Decimal(9), "8001"
    )


@pytest.mark.parametrize(
    ("on", "code", "vat"),
    [(dt.date(2012, 9, 30), "HOOG_VERK", "19.00"), (dt.date(2012, 10, 1), "HOOG_VERK_21", "21.00")],
)
def test_high_rate_nineteen_before_october_2012(
    table: VatTable, on: dt.date, code: str, vat: str
) -> None:
    [line] = vat_breakdown(_invoice(_line("100.00"), date=on), table)
    assert (line.vat_code, line.vat_amount) == (code, Decimal(vat))


# --------------------------------------------------------------------------
# Product-group ledgers


def test_product_group_ledgers(table: VatTable) -> None:
    invoice = _invoice(
        _line("100.00", product_group="consultancy"),
        _line("50.00", "nl_low", product_group="consultancy"),
        _line("20.00", product_group="bread"),  # no ledger of its own
        _line("10.00"),
        _line("30.00", product_group="training"),
    )
    lines = vat_breakdown(invoice, table)
    assert [(line.vat_code, line.ledger, line.amount_excl) for line in lines] == [
        ("HOOG_VERK_21", "8011", Decimal("100.00")),
        ("LAAG_VERK_9", "8011", Decimal("50.00")),
        ("HOOG_VERK_21", "8000", Decimal("30.00")),
        ("HOOG_VERK_21", "8012", Decimal("30.00")),
    ]


def test_product_group_ledgers_are_per_kind(table: VatTable) -> None:
    [line] = vat_breakdown(
        _invoice(_line("10.00", product_group="consultancy"), kind=PURCHASE), table
    )
    assert (line.vat_code, line.ledger) == ("HOOG_INK_21", "7011")
    [line] = vat_breakdown(_invoice(_line("10.00", product_group="training"), kind=PURCHASE), table)
    assert line.ledger == "7000"


# --------------------------------------------------------------------------
# Rounding


def test_hundred_lines_of_one_cent(table: VatTable) -> None:
    lines = [_line("0.01")] * 100
    [excl] = vat_breakdown(_invoice(*lines), table)
    assert _amounts(excl) == (Decimal("1.00"), Decimal("0.21"), Decimal("1.21"))  # not 100 × 0.00
    [incl] = vat_breakdown(_invoice(*lines, amounts_include_vat=True), table)
    assert _amounts(incl) == (Decimal("0.83"), Decimal("0.17"), Decimal("1.00"))


def test_each_line_is_rounded_to_cents_before_summing(table: VatTable) -> None:
    # 3 × 0.005 is 0.015 unrounded (→ 0.02), but each line rounds to 0.01 first: 0.03.
    [line] = vat_breakdown(_invoice(*[_line("0.005")] * 3, amounts_include_vat=True), table)
    assert line.amount_incl == Decimal("0.03")


def test_mixed_rates_on_one_invoice(table: VatTable) -> None:
    invoice = _invoice(
        _line("19.99", quantity="3"),
        _line("2.45", "nl_low", quantity="7"),
        _line("100.00", "export_outside_eu"),
        _line("0.10"),
        _line("12.00", "reverse_charge"),
        _line("8.00", "exempt"),
    )
    lines = vat_breakdown(invoice, table)
    assert [(line.vat_code, line.ledger, line.rate, *_amounts(line)) for line in lines] == [
        (
            "HOOG_VERK_21",
            "8000",
            Decimal("21.00"),
            Decimal("60.07"),
            Decimal("12.61"),
            Decimal("72.68"),
        ),
        (
            "LAAG_VERK_9",
            "8001",
            Decimal("9.00"),
            Decimal("17.15"),
            Decimal("1.54"),
            Decimal("18.69"),
        ),
        (
            "BU_EU_VERK",
            "8002",
            Decimal("0.00"),
            Decimal("100.00"),
            Decimal("0.00"),
            Decimal("100.00"),
        ),
        ("VERL_VERK", "8002", Decimal("0.00"), Decimal("12.00"), Decimal("0.00"), Decimal("12.00")),
        ("GEEN", "8002", Decimal("0.00"), Decimal("8.00"), Decimal("0.00"), Decimal("8.00")),
    ]


@pytest.mark.parametrize("rate_category", ["nl_high", "nl_low"])
def test_incl_and_excl_give_consistent_totals(table: VatTable, rate_category: str) -> None:
    # Booking excl then booking the resulting incl amount gives back the same excl and VAT.
    for cents in range(1, 3001, 7):
        amount = Decimal(cents) / 100
        [excl] = vat_breakdown(_invoice(_line(str(amount), rate_category)), table)
        [incl] = vat_breakdown(
            _invoice(_line(str(excl.amount_incl), rate_category), amounts_include_vat=True), table
        )
        assert _amounts(incl) == _amounts(excl), amount


def test_invariants_hold_for_every_line(table: VatTable) -> None:
    categories = list(VatCategory)
    lines = [
        _line(f"{i * 37 % 1000}.{i % 100:02d}", categories[i % 8], quantity=str(i % 5 - 2))
        for i in range(200)
    ]
    for include in (False, True):
        for line in vat_breakdown(_invoice(*lines, amounts_include_vat=include), table):
            assert line.amount_excl + line.vat_amount == line.amount_incl
            for value in (line.rate, *_amounts(line)):
                assert value.as_tuple().exponent == -2


def test_booking_line_refuses_inconsistent_amounts() -> None:
    with pytest.raises(ValidationError, match="amount_incl"):
        BookingLine(
            "HOOG_VERK_21", "8000", Decimal(21), Decimal("1.00"), Decimal("0.21"), Decimal("1.22")
        )


# --------------------------------------------------------------------------
# Credit notes


@pytest.mark.parametrize("include", [False, True])
def test_credit_note_mirrors_the_invoice(table: VatTable, include: bool) -> None:
    lines = [
        _line("0.50", "nl_low"),
        _line("33.335", quantity="3"),
        _line("0.005"),
        _line("9.99", "eu_goods"),
    ]
    invoice = vat_breakdown(_invoice(*lines, amounts_include_vat=include), table)
    negated = [line.model_copy(update={"quantity": -line.quantity}) for line in lines]
    credit = vat_breakdown(_invoice(*negated, amounts_include_vat=include, number="C-1"), table)
    assert [_amounts(line) for line in credit] == [
        tuple(-a for a in _amounts(line)) for line in invoice
    ]
    assert [(c.vat_code, c.ledger, c.rate) for c in credit] == [
        (i.vat_code, i.ledger, i.rate) for i in invoice
    ]


def test_credit_note_rounding_ties_go_away_from_zero(table: VatTable) -> None:
    # 0.50 at 9 % is 0.045 VAT: 0.05 on the invoice, -0.05 on the credit note.
    [line] = vat_breakdown(_invoice(_line("-0.50", "nl_low")), table)
    assert _amounts(line) == (Decimal("-0.50"), Decimal("-0.05"), Decimal("-0.55"))


def test_invoice_with_credit_lines_nets_per_group(table: VatTable) -> None:
    lines = vat_breakdown(
        _invoice(_line("100.00"), _line("-40.00"), _line("-10.00", "nl_low")), table
    )
    assert [_amounts(line) for line in lines] == [
        (Decimal("60.00"), Decimal("12.60"), Decimal("72.60")),
        (Decimal("-10.00"), Decimal("-0.90"), Decimal("-10.90")),
    ]


# --------------------------------------------------------------------------
# No float anywhere


def _no_floats(value: object) -> None:
    assert not isinstance(value, float), value
    for field in getattr(type(value), "__attrs_attrs__", ()):
        _no_floats(getattr(value, field.name))


def test_no_float_ever_appears(table: VatTable) -> None:
    invoice = _invoice(
        _line("0.10", quantity="3"),
        _line("2.45", "nl_low", quantity="0.5"),
        _line("7", "eu_services"),
    )
    for include in (False, True):
        for line in vat_breakdown(
            invoice.model_copy(update={"amounts_include_vat": include}), table
        ):
            _no_floats(line)
            assert all(type(value) is Decimal for value in (line.rate, *_amounts(line)))
    for code in EBOEKHOUDEN_VAT_CODES.values():
        _no_floats(code)
    for category in VatCategory:
        _no_floats(table.lookup(SALES, category, dt.date(2024, 1, 1)))
    assert all(type(line.amount) is Decimal for line in invoice.lines)


@pytest.mark.parametrize("kind", ["missing", "directory", "not_utf8", "not_toml"])
def test_table_files_that_cannot_be_read_are_a_validation_error(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "vat.toml"
    if kind == "directory":
        path.mkdir()
    elif kind == "not_utf8":
        path.write_bytes(b'[sales]\nnl_high = { vat_code = "\xff" }\n')
    elif kind == "not_toml":
        path.write_text("[sales\n", encoding="utf-8")
    error = _refused(VatTable.from_toml, path)
    assert (error.field, error.value) == ("vat_table", str(path))
    assert error.__context__ is None
