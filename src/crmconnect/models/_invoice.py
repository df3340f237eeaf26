"""Canonical invoice models: what a host CRM hands over to be booked.

Money is `Decimal` and never `float`: a float cannot hold 0.10 exactly, so
the models refuse floats outright (pass a `Decimal`, an `int` or a string).
A credit note is an ordinary invoice with negative quantities or prices.

Amounts and quantities are bounded when the model is built, so that every
sum the connectors make of them (line amounts, VAT, totals) is exact and
never raises: each is finite, below 10^12 in absolute value (a thousand
billion euros, far beyond any bookkeeping service's invoice), with at most
`MAX_DECIMALS` decimals, and so is each line amount.
"""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from ..errors import ValidationError
from ._base import CanonicalModel, CleanText, InvoiceNumber, RelationCode

__all__ = [
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "VatCategory",
]

CENT = Decimal("0.01")

AMOUNT_LIMIT = Decimal("1E+12")
"""Amounts, quantities and line amounts are below this in absolute value."""

MAX_DECIMALS = 6
"""Most decimals of a quantity or a unit price (a price per hour of 1/3, an amount per kWh)."""

_SMALLEST = Decimal("1E-6")

_EXACT = decimal.Context(
    prec=2 * (12 + MAX_DECIMALS) + 2,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
"""Enough digits for the exact product of two bounded values, whatever the caller's context."""


def _refuse_float(value: object) -> object:
    if isinstance(value, float):
        raise ValueError(
            f"{value!r} is a float, which cannot hold an exact amount; "
            "pass a Decimal, an int or a string such as '12.50'"
        )
    return value


def _bounded(value: Decimal) -> Decimal:
    # pydantic has refused NaN and infinity already (Decimal's allow_inf_nan is off).
    # copy_abs and quantize in _EXACT: the caller's context may round or trap.
    if value.copy_abs() >= AMOUNT_LIMIT:
        raise ValueError(f"is not below {AMOUNT_LIMIT:,.0f} in absolute value")
    exponent = value.as_tuple().exponent
    if (
        isinstance(exponent, int)
        and exponent < -MAX_DECIMALS
        and value != value.quantize(_SMALLEST, context=_EXACT)
    ):
        raise ValueError(f"has more than {MAX_DECIMALS} decimals")
    return value


Exact = Annotated[Decimal, BeforeValidator(_refuse_float), AfterValidator(_bounded)]
"""A finite `Decimal` below 10^12 in absolute value with at most 6 decimals; floats are refused."""


class VatCategory(StrEnum):
    """What kind of VAT applies to an invoice line, independent of any bookkeeping service.

    The mapping tables (`crmconnect.mapping`) turn a category into the remote
    VAT code and ledger; the invoice date decides the rate where the law
    changed it (NL high 19 % → 21 % on 2012-10-01, NL low 6 % → 9 % on 2019-01-01).
    """

    NL_HIGH = "nl_high"
    """Algemeen / hoog tarief: 21 % (19 % before 2012-10-01)."""
    NL_LOW = "nl_low"
    """Verlaagd / laag tarief: 9 % (6 % before 2019-01-01)."""
    ZERO = "zero"
    """0 % in the Netherlands (nultarief)."""
    REVERSE_CHARGE = "reverse_charge"
    """Btw verlegd: the customer accounts for the VAT; none on the invoice."""
    EXEMPT = "exempt"
    """Vrijgesteld (art. 11 Wet OB): no VAT and no input-VAT deduction; not the same as 0 %."""
    EU_GOODS = "eu_goods"
    """Intra-EU supply of goods (ICP): 0 %, the customer's VAT id is required."""
    EU_SERVICES = "eu_services"
    """Intra-EU B2B services: VAT is due in the customer's country."""
    EXPORT_OUTSIDE_EU = "export_outside_eu"
    """Export outside the EU (0 %); on a purchase, goods or services from outside the EU."""


class InvoiceKind(StrEnum):
    """Whether the host sends the invoice or receives it."""

    SALES = "sales"
    """Verkoopfactuur: the host invoiced a customer (debtor)."""
    PURCHASE = "purchase"
    """Inkoopfactuur: a supplier (creditor) invoiced the host."""


class InvoiceLine(CanonicalModel):
    """One line of an invoice.

    Quantity, unit price and their product (the line amount) are each below
    10^12 in absolute value; quantity and unit price have at most 6 decimals
    (trailing zeros do not count). Anything else, NaN and infinity included,
    is refused with a `crmconnect.errors.ValidationError` naming the field.

    Attributes:
        description: What was delivered.
        quantity: Number of units; negative on a credit note.
        unit_price: Price of one unit, including or excluding VAT as the
            invoice says (`Invoice.amounts_include_vat`); may be negative.
        vat_category: The VAT that applies to this line.
        product_group: The host's product group, e.g. ``"consultancy"``; a VAT
            table may book a group on its own ledger.

    Example:
        >>> InvoiceLine(description="Advice", quantity=3, unit_price="33.335",
        ...             vat_category="nl_high").amount
        Decimal('100.01')
    """

    description: CleanText = ""
    quantity: Exact = Decimal(1)
    unit_price: Exact
    vat_category: VatCategory
    product_group: CleanText | None = None

    @field_validator("product_group")
    @classmethod
    def _blank_group_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _bounded_amount(self) -> InvoiceLine:
        amount = self._exact_amount()
        if amount.copy_abs() >= AMOUNT_LIMIT:
            reason = f"quantity × unit_price is not below {AMOUNT_LIMIT:,.0f} in absolute value"
            raise ValidationError("amount", amount, reason)
        return self

    def _exact_amount(self) -> Decimal:
        # Both factors have at most 12 + 6 digits: the product is exact in _EXACT.
        return _EXACT.multiply(self.quantity, self.unit_price)

    @property
    def amount(self) -> Decimal:
        """``quantity × unit_price`` rounded to cents, half up (away from zero on a tie).

        This is the line total a customer sees on the invoice; every later sum
        starts from these rounded amounts. It is computed exactly, whatever
        the caller's decimal context.
        """
        return self._exact_amount().quantize(CENT, rounding=ROUND_HALF_UP, context=_EXACT)


class Invoice(CanonicalModel):
    """A sales or purchase invoice (or credit note) to be booked.

    Attributes:
        number: The invoice number (factuurnummer), unique per relation: visible
            text of at most `MAX_INVOICE_NUMBER` (50) characters.
        relation_code: The code of the customer or supplier (relatiecode):
            visible text of at most `MAX_RELATION_CODE` (15) characters.
        date: Invoice date; it decides the VAT rate where the law changed it.
        due_date: When it must be paid; not before ``date``.
        kind: Sales or purchase.
        lines: At least one line.
        amounts_include_vat: Whether the unit prices include VAT.
        currency: ``"EUR"``; other currencies are not supported yet.
        description: A description of the whole invoice (omschrijving).

    Example:
        >>> import datetime as dt
        >>> invoice = Invoice(
        ...     number="2024-001",
        ...     relation_code="1001",
        ...     date=dt.date(2024, 3, 1),
        ...     lines=[InvoiceLine(description="Bread", unit_price="2.50", vat_category="nl_low")],
        ... )
        >>> invoice.kind, invoice.currency
        (<InvoiceKind.SALES: 'sales'>, 'EUR')
    """

    number: InvoiceNumber
    relation_code: RelationCode
    date: dt.date
    due_date: dt.date | None = None
    kind: InvoiceKind = InvoiceKind.SALES
    lines: list[InvoiceLine] = Field(min_length=1)
    amounts_include_vat: bool = False
    currency: CleanText = "EUR"
    description: CleanText | None = None

    @field_validator("currency")
    @classmethod
    def _euro_only(cls, value: str) -> str:
        if value.upper() != "EUR":
            raise ValueError(f"{value!r}: only EUR is supported for now")
        return "EUR"

    @model_validator(mode="after")
    def _due_after_date(self) -> Invoice:
        if self.due_date is not None and self.due_date < self.date:
            reason = f"is before the invoice date {self.date}"
            raise ValidationError("due_date", self.due_date, reason)
        return self
