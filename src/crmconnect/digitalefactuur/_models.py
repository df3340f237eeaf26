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
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from .. import validation
from .._model import Model, clean_text, key, text
from .._model import Text as CleanText
from ..errors import ValidationError
from ..models._party import _vat_number
from ._fields import RELATION_FIELDS, FieldTable

__all__ = [
    "ID_LENGTH",
    "MAPPED_ATTRIBUTES",
    "NUMBER_LENGTH",
    "TEXT_LENGTH",
    "Fingerprinter",
    "Invoice",
    "InvoiceLine",
    "PaymentStatus",
    "Relation",
    "RelationKind",
    "listed_number",
    "parse_date",
    "relation_fingerprint",
    "relation_values",
]

ID_LENGTH = 20
"""Longest DF ID accepted: DF's IDs are numbers (``133366``), and 20 digits hold any 64-bit one."""
NUMBER_LENGTH = 32
"""Longest relation or invoice number. Assumption: DF documents no lengths."""
TEXT_LENGTH = 255
"""Longest text sent in a relation field. Assumption: DF documents no lengths."""
MAX_AMOUNT = Decimal(10) ** 12
"""Amounts read are finite and below this, so arithmetic on them cannot overflow."""


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


def _bounded(value: Decimal | None) -> Decimal | None:
    if value is not None and not (value.is_finite() and abs(value) < MAX_AMOUNT):
        raise ValueError(f"not an amount below {MAX_AMOUNT:,}")
    return value


def _empty_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _number_text(value: object) -> object:
    """IDs and numbers may be given as ints (``5002``); they travel as text."""
    if isinstance(value, bool):
        raise ValueError("is a boolean, not a number")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("is negative")
        return str(value)
    return _empty_is_none(value)


Amount = Annotated[Decimal | None, BeforeValidator(_decimal)]
Date = Annotated[dt.date | None, BeforeValidator(parse_date)]
if TYPE_CHECKING:  # to type checkers these are plain strings (ints are taken at run time)
    Id: TypeAlias = str | None
    Number: TypeAlias = str | None
    Text: TypeAlias = str | None
    ReadText: TypeAlias = str | None
else:
    Id = Annotated[key(ID_LENGTH) | None, BeforeValidator(_number_text)]
    """A DF ID: an int or text of at most `ID_LENGTH` visible characters."""
    Number = Annotated[key(NUMBER_LENGTH) | None, BeforeValidator(_number_text)]
    """A relation or invoice number: an int or text of at most `NUMBER_LENGTH` characters."""
    Text = Annotated[text(TEXT_LENGTH) | None, BeforeValidator(_empty_is_none)]
    """Text sent to DF: control and invisible characters removed, at most `TEXT_LENGTH`."""
    ReadText = Annotated[CleanText | None, BeforeValidator(_empty_is_none)]
    """Text only read from DF (an invoice line): cleaned; the answer's size bounds it."""
BoundedAmount = Annotated[Amount, AfterValidator(_bounded)]

_READING: ContextVar[bool] = ContextVar("crmconnect_digitalefactuur_reading", default=False)
"""True while `Relation.from_elements` reads a remote record."""


def _identifier(rule: Callable[[Any], str]) -> AfterValidator:
    """Check and normalise an identifier the host gives; a remote record is read as it is.

    What a person typed into DigitaleFactuur's screens is read, not refused:
    one odd IBAN must not make a whole listing fail. What is sent is checked.
    """

    def check(value: str | None) -> str | None:
        if value is None or _READING.get():
            return value
        try:
            return rule(value)
        except ValidationError as invalid:
            reason = invalid.reason
        raise ValueError(reason)  # the model names the field and the value

    return AfterValidator(check)


if TYPE_CHECKING:
    IbanText: TypeAlias = str | None
    BicText: TypeAlias = str | None
    KvkText: TypeAlias = str | None
    VatText: TypeAlias = str | None
else:
    IbanText = Annotated[Text, _identifier(validation.iban)]
    BicText = Annotated[Text, _identifier(validation.bic)]
    KvkText = Annotated[Text, _identifier(validation.kvk_number)]
    VatText = Annotated[Text, _identifier(_vat_number)]


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


class _Model(Model):
    # An unknown keyword is a typing error (``citty=``): refused. Elements of a
    # remote record the tables do not map are kept in ``unknown`` instead.
    model_config = ConfigDict(populate_by_name=True, str_strip_whitespace=True, extra="forbid")


class Relation(_Model):
    """A debtor or creditor (``<klant>``).

    Attributes:
        id: DigitaleFactuur's internal ID (``id``, ``klanten_id``); ``None`` before it is created.
        number: The relation number (``relatienummer``): 1xxx debtors, 2xxx creditors by convention.
        unknown: Elements the field table does not map, as read.
    """

    id: Id = None
    number: Number = Field(None, alias="relatienummer")
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
    iban: IbanText = Field(None, alias="rekeningnummer")
    account_holder: Text = Field(None, alias="tenaamstelling")
    bic: BicText = Field(None, alias="bic")
    kvk_number: KvkText = Field(None, alias="kvk_nummer")
    vat_number: VatText = Field(None, alias="btw_nummer")
    unknown: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_elements(
        cls,
        elements: Mapping[str, str],
        table: FieldTable = RELATION_FIELDS,
        id_element: str = "id",
    ) -> Relation:
        """A relation from a ``<klant>``'s leaf elements, named through ``table``."""
        by_element = table.by_element
        values: dict[str, Any] = {"id": elements.get(id_element)}
        unknown = {}
        for element, value in elements.items():
            attribute = by_element.get(element)
            if attribute is not None:
                values[attribute] = value
            elif element != id_element:
                unknown[element] = value
        if not values.get("kind"):
            values.pop("kind", None)
        reading = _READING.set(True)
        try:
            return cls.model_validate({**values, "unknown": unknown})
        finally:
            _READING.reset(reading)

    def to_elements(self, table: FieldTable = RELATION_FIELDS) -> list[tuple[str, str]]:
        """Every mapped element, in the table's order; empty ones as ``""``.

        Whether ``klant_updaten`` clears omitted elements is unknown, so all are sent.
        """
        values = [(spec.element, _text(getattr(self, spec.attribute))) for spec in table]
        return [("id", self.id), *values] if self.id else values


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _plain(value: str) -> str:
    """Trimmed, inner whitespace collapsed, control and invisible characters removed."""
    text = value.strip()
    if "  " not in text and text.isprintable():  # the common case, in two C-fast checks
        return text
    text = " ".join(text.split())
    if not text.isprintable():  # the rare case: clean_text's characters (C-fast check first)
        text = " ".join(clean_text(text).split())
    return text


def _code(value: str) -> str:
    return _plain(value).replace(" ", "").upper()


_NORMALISERS: dict[str, Callable[[str], str]] = {
    "postcode": _code,
    "iban": _code,
    "bic": _code,
    "vat_number": _code,
    "country": lambda value: _plain(value).upper(),
    "email": lambda value: _plain(value).casefold(),
}
"""How each attribute is compared; others by `_plain`."""

_DEFAULTS = {"kind": RelationKind.DEBTOR.value}
"""What `Relation` assumes for an element that is absent or empty."""


def _digest(parts: list[str]) -> str:
    return hashlib.blake2b("".join(parts).encode(), digest_size=16).hexdigest()


MAPPED_ATTRIBUTES = tuple(spec.attribute for spec in RELATION_FIELDS)
"""The attributes of `Relation` that a fingerprint may cover (``id`` and ``unknown`` never)."""


def checked_fields(fields: Iterable[str] | None, known: Iterable[str]) -> frozenset[str]:
    """The attributes a fingerprint covers: ``fields``, each one of ``known``; all when ``None``.

    Raises:
        ValidationError: For a name that is not one of ``known`` (or a bare string,
            which would be read letter by letter).
    """
    known = tuple(known)
    if fields is None:
        return frozenset(known)
    if isinstance(fields, str):
        raise ValidationError("fields", fields, "must be a collection of attribute names")
    chosen = frozenset(fields)
    for name in sorted(chosen, key=str):
        if name not in known:
            raise ValidationError(
                "fields", name, f"is not a mapped relation attribute; known: {', '.join(known)}"
            )
    return chosen


def relation_fingerprint(
    values: Relation | Mapping[str, object], fields: Iterable[str] | None = None
) -> str:
    """A hash of the mapped fields, normalised: equal for equal relations.

    Args:
        values: A `Relation`, or attribute → text (e.g. ``relation.model_dump()``);
            ``id`` and ``unknown`` are ignored.
        fields: Only these attributes (e.g. the fields the CRM owns); all when
            ``None``. The same ``fields`` give the value
            `DigitaleFactuurClient.relations_index` lists for the relation.

    Returns:
        A hex digest; trimmed text, postcode, IBAN, BIC and VAT number without
        spaces in upper case, country upper-cased and e-mail case-folded first.

    Raises:
        ValidationError: ``fields`` names an attribute that is not mapped.

    Example:
        >>> a = relation_fingerprint({"name": "Bakkerij ", "postcode": "3511 aa"})
        >>> a == relation_fingerprint({"name": "Bakkerij", "postcode": "3511AA"})
        True
        >>> relation_fingerprint({"name": "B", "city": "Ede"}, fields=["name"]) == (
        ...     relation_fingerprint({"name": "B", "city": "Epe"}, fields=["name"]))
        True
    """
    compared = relation_values(values, fields)
    return _digest([f"{name}\x1f{text}\x1e" for name, text in sorted(compared.items()) if text])


def relation_values(
    values: Relation | Mapping[str, object], fields: Iterable[str] | None = None
) -> dict[str, str]:
    """Each field's text as the fingerprint compares it: for a comparison field by field.

    A sync engine that keeps, per link, what each field held at the last sync
    compares these, so a change of spelling only (``3511 aa`` for ``3511AA``)
    is no change, exactly as `relation_fingerprint` (a hash of the non-empty ones).

    Args:
        values: A `Relation`, or attribute → text (e.g. ``relation.model_dump()``).
        fields: Only these attributes; every mapped one when ``None``.

    Returns:
        Attribute → normalised text, ``""`` for an empty or absent field, in
        the order of `MAPPED_ATTRIBUTES`.

    Raises:
        ValidationError: ``fields`` names an attribute that is not mapped.

    Example:
        >>> relation_values({"postcode": "3511 aa", "city": None}, ["postcode", "city"])
        {'postcode': '3511AA', 'city': ''}
    """
    if isinstance(values, Relation):
        values = values.model_dump(exclude={"id", "unknown"})
    chosen = checked_fields(fields, MAPPED_ATTRIBUTES)
    compared = {}
    for attribute in MAPPED_ATTRIBUTES:
        if attribute in chosen:
            value = values.get(attribute)
            text = "" if value is None else str(value)
            compared[attribute] = _NORMALISERS.get(attribute, _plain)(text) if text else ""
    return compared


def listed_number(text: str | None) -> str | None:
    """A relation number as listed (already trimmed) → as `Relation.number` holds it.

    ``None`` where the model would hold none or refuse it (empty, only invisible
    characters, longer than `NUMBER_LENGTH`): such a relation cannot be found by number.
    """
    if not text:
        return None
    if not text.isprintable():  # the rare case: clean_text's characters (C-fast check first)
        text = clean_text(text).strip()
    return text if text and len(text) <= NUMBER_LENGTH else None


class Fingerprinter:
    """`relation_fingerprint` straight from a record's elements, without building a `Relation`.

    Equal to ``relation_fingerprint(relation, fields)`` for the relation the
    same elements give (the tests hold them to it). The snapshot and index
    path: one pass over a plan made once per field table and set of fields.

    Args:
        table: The relation field table the elements are named by.
        fields: The attributes covered (e.g. the fields the CRM owns); all the
            table maps when ``None``.

    Raises:
        ValidationError: ``fields`` names an attribute the table does not map.
    """

    def __init__(
        self, table: FieldTable = RELATION_FIELDS, fields: Iterable[str] | None = None
    ) -> None:
        self.fields = checked_fields(fields, (spec.attribute for spec in table))
        self._plan = [
            (f"{spec.attribute}\x1f", spec.element, _NORMALISERS.get(spec.attribute, _plain),
             _DEFAULTS.get(spec.attribute, ""))
            for spec in sorted(table, key=lambda spec: spec.attribute)
            if spec.attribute in self.fields
        ]  # fmt: skip

    def __call__(self, elements: Mapping[str, str]) -> str:
        """The fingerprint of one record's elements (element name → text)."""
        parts: list[str] = []
        get = elements.get
        for prefix, element, normalise, default in self._plan:
            value = get(element) or default
            if value:
                text = normalise(value)
                if text:
                    parts += (prefix, text, "\x1e")
        return _digest(parts)


class InvoiceLine(_Model):
    """An invoice line (``<factuurregel>``)."""

    id: Id = None
    quantity: BoundedAmount = Field(None, alias="aantal")
    description: ReadText = Field(None, alias="omschrijving")
    price: BoundedAmount = Field(None, alias="prijs")
    vat: BoundedAmount = Field(None, alias="btw")
    """A fraction: ``0.210`` is 21 %."""


class Invoice(_Model):
    """An invoice (``<factuur>``) with its payment status.

    Attributes:
        payment_status: Open or paid; another text the service sends is kept as it is.
        total: The invoice total, when the service sends it.
        paid: What was paid, when the service sends it.
        unknown: Elements no field table maps, as read.
    """

    id: Id = None
    number: Number = Field(None, alias="factuurnummer")
    relation_id: Id = Field(None, alias="klant_id")
    date: Date = Field(None, alias="factuurdatum")
    due_date: Date = Field(None, alias="vervaldatum")
    payment_status: Status = Field(None, alias="betaalstatus")
    total: BoundedAmount = Field(None, alias="totaal")
    paid: BoundedAmount = Field(None, alias="voldaan")
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
