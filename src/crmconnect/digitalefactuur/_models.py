"""DigitaleFactuur's relations and invoices, with English names.

The Dutch element names are the aliases (and `crmconnect.digitalefactuur.RELATION_FIELDS`
decides them on the wire). Elements the tables do not map are kept in
``unknown``, never dropped. Money is `Decimal`.

Remote quirks handled here:

* dates come as ``dd-mm-yyyy`` in some answers and ``yyyy-mm-dd`` in others;
* an invoice line's VAT is a fraction (``0.210``), a product's a percentage;
* the API has no version or changed-at field: `relation_fingerprint` hashes
  the mapped fields, normalised, so the sync engine can see what changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ._fields import RELATION_FIELDS, FieldTable

__all__ = [
    "Invoice",
    "InvoiceLine",
    "PaymentStatus",
    "Relation",
    "RelationKind",
    "parse_date",
    "relation_fingerprint",
]


def parse_date(value: object) -> dt.date | None:
    """A date from ``dd-mm-yyyy`` or ``yyyy-mm-dd`` (DF writes both); ``None`` when empty."""
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value).strip()[:10]
    if not text or text.startswith("0000"):
        return None
    if len(text) == 10 and text[2] == "-" and text[5] == "-":
        day, month, year = text.split("-")
        return dt.date(int(year), int(month), int(day))
    return dt.date.fromisoformat(text)


def _decimal(value: object) -> object:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # a Dutch decimal comma
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def _empty_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


Amount = Annotated[Decimal | None, BeforeValidator(_decimal)]
Date = Annotated[dt.date | None, BeforeValidator(parse_date)]
Text = Annotated[str | None, BeforeValidator(_empty_is_none)]


class RelationKind(StrEnum):
    """``type`` of a relation.

    Assumption: ``crediteur`` is accepted; DF's examples show only ``debiteur``.
    """

    DEBTOR = "debiteur"
    CREDITOR = "crediteur"


class PaymentStatus(StrEnum):
    """``betaalstatus`` of an invoice (the values of the ``facturen`` filter)."""

    OPEN = "openstaand"
    PAID = "betaald"


def _status(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        known = {status.value: status for status in PaymentStatus}
        return known.get(text.casefold(), text or None)
    return value


Status = Annotated[PaymentStatus | str | None, BeforeValidator(_status)]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, str_strip_whitespace=True)


class Relation(_Model):
    """A debtor or creditor (``<klant>``).

    Attributes:
        id: DigitaleFactuur's internal ID (``id``, ``klanten_id``); ``None`` before it is created.
        number: The relation number (``relatienummer``): 1xxx debtors, 2xxx creditors by convention.
        unknown: Elements the field table does not map, as read.
    """

    id: Text = None
    number: Text = Field(None, alias="relatienummer")
    kind: RelationKind = Field(RelationKind.DEBTOR, alias="type")
    name: Text = Field(None, alias="naam")
    contact_name: Text = Field(None, alias="contactpersoon_naam")
    contact_department: Text = Field(None, alias="contactpersoon_afdeling")
    email: Text = Field(None, alias="contactpersoon_email")
    phone: Text = Field(None, alias="telefoonnummer")
    address: Text = Field(None, alias="adres")
    postcode: Text = Field(None, alias="postcode")
    city: Text = Field(None, alias="plaats")
    country: Text = Field(None, alias="land")
    fax: Text = Field(None, alias="faxnummer")
    iban: Text = Field(None, alias="rekeningnummer")
    account_holder: Text = Field(None, alias="tenaamstelling")
    bic: Text = Field(None, alias="bic")
    kvk_number: Text = Field(None, alias="kvk_nummer")
    vat_number: Text = Field(None, alias="btw_nummer")
    unknown: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_elements(
        cls, elements: Mapping[str, str], table: FieldTable = RELATION_FIELDS
    ) -> Relation:
        """A relation from a ``<klant>``'s leaf elements, named through ``table``."""
        by_element = table.by_element
        values: dict[str, Any] = {"id": elements.get("id")}
        unknown = {}
        for element, text in elements.items():
            attribute = by_element.get(element)
            if attribute is not None:
                values[attribute] = text
            elif element != "id":
                unknown[element] = text
        if not values.get("kind"):
            values.pop("kind", None)
        return cls.model_validate({**values, "unknown": unknown})

    def to_elements(self, table: FieldTable = RELATION_FIELDS) -> list[tuple[str, str]]:
        """Every mapped element, in the table's order; empty ones as ``""``.

        Whether ``klant_updaten`` clears omitted elements is unknown, so all are sent.
        """
        values = [(spec.element, _text(getattr(self, spec.attribute))) for spec in table]
        return [("id", self.id), *values] if self.id else values


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _normalised(attribute: str, value: str | None) -> str:
    text = " ".join((value or "").split())
    if attribute in ("postcode", "iban", "bic", "vat_number"):
        return text.replace(" ", "").upper()
    if attribute == "country":
        return text.upper()
    if attribute == "email":
        return text.casefold()
    return text


def relation_fingerprint(values: Mapping[str, str | None]) -> str:
    """A hash of the mapped fields, normalised: equal for equal relations.

    Args:
        values: Attribute → text (e.g. ``relation.model_dump()`` or parsed elements
            renamed through the field table); ``id`` and ``unknown`` are ignored.

    Returns:
        A hex digest; trimmed text, postcode, IBAN, BIC and VAT number without
        spaces in upper case, country upper-cased and e-mail case-folded first.

    Example:
        >>> a = relation_fingerprint({"name": "Bakkerij ", "postcode": "3511 aa"})
        >>> a == relation_fingerprint({"name": "Bakkerij", "postcode": "3511AA"})
        True
    """
    digest = hashlib.blake2b(digest_size=16)
    for attribute in sorted(values):
        if attribute in ("id", "unknown"):
            continue
        value = values[attribute]
        text = _normalised(attribute, value if value is None else str(value))
        if text:
            digest.update(f"{attribute}\x1f{text}\x1e".encode())
    return digest.hexdigest()


class InvoiceLine(_Model):
    """An invoice line (``<factuurregel>``)."""

    id: Text = None
    quantity: Amount = Field(None, alias="aantal")
    description: Text = Field(None, alias="omschrijving")
    price: Amount = Field(None, alias="prijs")
    vat: Amount = Field(None, alias="btw")
    """A fraction: ``0.210`` is 21 %."""


class Invoice(_Model):
    """An invoice (``<factuur>``) with its payment status.

    Attributes:
        payment_status: Open or paid; another text the service sends is kept as it is.
        total: The invoice total, when the service sends it.
        paid: What was paid, when the service sends it.
        unknown: Elements no field table maps, as read.
    """

    id: Text = None
    number: Text = Field(None, alias="factuurnummer")
    relation_id: Text = Field(None, alias="klant_id")
    date: Date = Field(None, alias="factuurdatum")
    due_date: Date = Field(None, alias="vervaldatum")
    payment_status: Status = Field(None, alias="betaalstatus")
    total: Amount = Field(None, alias="totaal")
    paid: Amount = Field(None, alias="voldaan")
    lines: list[InvoiceLine] = Field(default_factory=list)
    unknown: dict[str, str] = Field(default_factory=dict)

    @property
    def outstanding(self) -> Decimal | None:
        """Total minus paid, when both are known (0 for a paid invoice with a total)."""
        if self.payment_status == PaymentStatus.PAID and self.total is not None:
            return Decimal("0.00")
        if self.total is None:
            return None
        return self.total - (self.paid or Decimal(0))
