"""Wire models of e-Boekhouden's SOAP API (types of its WSDL), with English names.

The Dutch element names of the WSDL (``cRelatie``, ``cMutatie``, ...) are the
aliases. Models validate what zeep does not: enum values (``Soort``,
``InExBTW``, ``BP``, open-item kind), lengths and money types.

Remote quirks handled here:

* every ``minOccurs=1`` element must be sent, even when it means "none"
  (``ID=0``, ``Gb_ID=0``, ``KostenplaatsID=0``, ...): the defaults below fill them;
* money is ``xsd:decimal`` in mutations but ``xsd:double`` in open items and
  balances: doubles arrive as ``float`` from zeep and are turned into
  `Decimal` through ``str`` and quantised to cents, never used as floats;
* ``BTWCode`` is checked against the documented codes before sending
  (`Mutation.check_vat_codes`): zeep would send any text;
* dates go out as `datetime.date` (``YYYY-MM-DD``), never timezone-aware;
  they come back as naive datetimes and are reduced to dates;
* every text goes through the shared text rules of `crmconnect._model`
  (`Text`, `text`, `key`): control and invisible characters are removed (lxml
  refuses a NUL, REST would store it), codes and numbers must be visible, and
  lengths fit the remote fields (`FIELD_LENGTHS`); IBAN, KvK and VAT numbers
  are checked with `crmconnect.validation`.

Two ways in, on purpose: a model built by keyword (``Relation(code=...)``) or
changed by assignment is checked by every rule above and raises
`crmconnect.errors.ValidationError` naming the field; ``model_validate`` reads
a remote record and is lenient where the remote is (a relation entered in
e-Boekhouden's own screens with an odd KvK number is still read; only
invisible characters are removed). Whatever is sent is checked again first
(`check`, called by ``to_wire`` and by the REST client), so a record read
leniently is never sent unchecked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from contextvars import ContextVar
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Self, TypeAlias

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from stdnum import exceptions as stdnum_errors
from stdnum import vatin
from stdnum.be import vat as be_vat

from .. import validation
from .._model import Model, Text, clean_text, key, text
from ..errors import ValidationError
from ..mapping import EBOEKHOUDEN_VAT_CODES

__all__ = [
    "FIELD_LENGTHS",
    "MAX_AMOUNT",
    "Administration",
    "Balance",
    "CostCentre",
    "InExVat",
    "Ledger",
    "LedgerCategory",
    "Mutation",
    "MutationKind",
    "MutationLine",
    "OpenItem",
    "OpenItemKind",
    "Relation",
    "RelationType",
    "money",
]

CENT = Decimal("0.01")

MAX_AMOUNT = Decimal(2**53) / 100
"""The largest amount in cents that a JSON number (a double) carries exactly."""

FIELD_LENGTHS: Mapping[str, int] = MappingProxyType(
    {
        "relation_code": 15,
        "company": 100,
        "ledger_code": 10,
        "ledger_description": 50,
        "invoice_number": 50,
        "address": 150,
        "postcode": 50,
        "city": 150,
        "country": 50,
        "phone": 50,
        "email": 255,
        "website": 255,
        "name": 150,
        "bic": 11,
        "free_text": 255,
        "note": 4000,
        "vat_code": 25,
        "document": 50,
        "description": 500,
        "payment_reference": 50,
    }
)
"""Lengths of e-Boekhouden's text fields, checked before anything is sent (read-only:
the models are built from it when they are defined).

Sources: relation code 15 (the REST ``code`` field; ``REL_006``) and name 100
(``REL_003``) as a public description of ``CreateRelation`` gives them;
ledger code 10 and description 50 (the SOAP manual on
``cGrootboekrekening``). The WSDL gives no lengths.

Assumption: the other limits are not published (REST only says "too long":
``REL_009`` ... ``REL_047``, ``MUT_018``); these are generous, so a value the
service takes is never refused here, while a runaway value (10,000
characters) is refused before it is sent. The service's own refusal still
arrives as a `RemoteValidationError` naming the field.
"""

_READING: ContextVar[bool] = ContextVar("crmconnect_eboekhouden_reading", default=False)
"""True while `_Wire.model_validate` reads a remote record (nested models included).

A context variable, not pydantic's validation context: `Model` has its own
``__init__``, through which pydantic validates without passing the context on.
"""


def _as_read(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A remote record is read as it is: only invisible characters go (Text).
    if isinstance(value, str) and _READING.get():
        return clean_text(value).strip()
    return handler(value)


def sent(rule: Any) -> Any:
    """A text rule that holds for what is sent; remote records are read as they are.

    Args:
        rule: The rule, e.g. ``key(15)`` or ``text(100)``.
    """
    return Annotated[rule, WrapValidator(_as_read)]


def _clearable(check: Any) -> Any:
    # "" clears a field (REST PATCH), so it passes every identifier check.
    def checked(value: str) -> str:
        if not value:
            return value
        try:
            return str(check(value))
        except ValidationError as invalid:
            raise ValueError(invalid.reason) from None

    return checked


def _iban(value: str) -> str:
    return validation.iban(value)


def _kvk_number(value: str) -> str:
    digits = "".join(ch for ch in value if ch not in " .-")
    if len(digits) == 10 and digits.isdigit():  # a Belgian ondernemingsnummer (e-Boekhouden.be)
        try:
            return str(be_vat.validate(digits))
        except stdnum_errors.ValidationError:
            raise ValidationError("kvk_number", value, "not a valid ondernemingsnummer") from None
    return validation.kvk_number(value)


def _vat_number(value: str) -> str:
    compact = "".join(ch for ch in value if ch not in " .-").upper()
    if not compact[:2].isalpha() or compact.startswith("NL"):
        return validation.vat_number(value)
    try:  # another country's: python-stdnum knows the EU's and many more
        return str(vatin.validate(compact))
    except stdnum_errors.ValidationError as invalid:
        raise ValidationError("vat_number", value, f"not a valid VAT number ({invalid})") from None


def _days(value: str) -> str:
    if value and not (value.isascii() and value.isdigit() and len(value) <= 4):
        raise ValueError("a payment term is a number of days (0-9999)")
    return value


def _length(name: str) -> Any:
    return sent(text(FIELD_LENGTHS[name]))


if TYPE_CHECKING:  # to type checkers these are plain strings
    RelationCode: TypeAlias = str
    LedgerCode: TypeAlias = str
    InvoiceNumber: TypeAlias = str
    VatCodeText: TypeAlias = str
    Iban: TypeAlias = str
    KvkNumber: TypeAlias = str
    VatNumber: TypeAlias = str
    CompanyName: TypeAlias = str
    PersonName: TypeAlias = str
    AddressLine: TypeAlias = str
    PostcodeText: TypeAlias = str
    City: TypeAlias = str
    Country: TypeAlias = str
    Phone: TypeAlias = str
    Email: TypeAlias = str
    Website: TypeAlias = str
    Bic: TypeAlias = str
    FreeText: TypeAlias = str
    Note: TypeAlias = str
    Document: TypeAlias = str
    Description: TypeAlias = str
    PaymentReference: TypeAlias = str
    LedgerDescription: TypeAlias = str
    PaymentTerm: TypeAlias = str
else:
    RelationCode = sent(key(FIELD_LENGTHS["relation_code"]))
    LedgerCode = sent(key(FIELD_LENGTHS["ledger_code"]))
    InvoiceNumber = sent(key(FIELD_LENGTHS["invoice_number"]))
    VatCodeText = sent(key(FIELD_LENGTHS["vat_code"]))
    Iban = sent(Annotated[str, AfterValidator(_clearable(_iban))])
    KvkNumber = sent(Annotated[str, AfterValidator(_clearable(_kvk_number))])
    VatNumber = sent(Annotated[str, AfterValidator(_clearable(_vat_number))])
    CompanyName = _length("company")
    PersonName = _length("name")
    AddressLine = _length("address")
    PostcodeText = _length("postcode")
    City = _length("city")
    Country = _length("country")
    Phone = _length("phone")
    Email = _length("email")
    Website = _length("website")
    Bic = _length("bic")
    FreeText = _length("free_text")
    Note = _length("note")
    Document = _length("document")
    Description = _length("description")
    PaymentReference = _length("payment_reference")
    LedgerDescription = _length("ledger_description")
    PaymentTerm = sent(Annotated[str, AfterValidator(_days)])


def money(value: object) -> Decimal:
    """Turn a remote amount (``float`` from ``xsd:double``, str, Decimal) into cents.

    Example:
        >>> money(0.1 + 0.2)
        Decimal('0.30')
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"not an amount: {value!r}")
    try:
        # A float came from xsd:double: its shortest repr is what the service sent.
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite() or abs(amount) > MAX_AMOUNT:
        raise ValueError(f"not an amount (at most {MAX_AMOUNT} either way): {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _date(value: object) -> object:
    return value.date() if isinstance(value, dt.datetime) else value


Money = Annotated[Decimal, BeforeValidator(money)]
RemoteDate = Annotated[dt.date, BeforeValidator(_date)]


class _Wire(Model):
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, str_strip_whitespace=True, validate_assignment=True
    )

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Read a remote record (Dutch or English names), lenient where the remote is.

        Text rules and identifier checks hold for what is sent, not for what
        the remote holds: only invisible characters are removed here. Types
        and enums are still checked.

        Raises:
            ValidationError: A value of the wrong type, naming the field.
        """
        reading = _READING.set(True)
        try:
            return super().model_validate(obj, *args, **kwargs)
        finally:
            _READING.reset(reading)

    def check(self) -> None:
        """Check every rule for sending (lengths, visible codes, identifiers).

        Raises:
            ValidationError: Names the first field that breaks a rule;
                ``.errors`` lists them all.
        """
        sending = _READING.set(False)
        try:
            type(self)(**self.model_dump())
        finally:
            _READING.reset(sending)

    def to_wire(self) -> dict[str, Any]:
        """The dictionary zeep takes: Dutch element names, ``None`` left out; checked first."""
        self.check()
        return self.model_dump(by_alias=True, exclude_none=True, mode="python")


class RelationType(StrEnum):
    """``BP``: business or private person."""

    BUSINESS = "B"
    PRIVATE = "P"


class MutationKind(StrEnum):
    """``Soort`` of a mutation (enMutatieSoorten)."""

    OPENING_BALANCE = "OpeningsSaldo"
    PURCHASE_INVOICE = "FactuurOntvangen"
    SALES_INVOICE = "FactuurVerstuurd"
    SALES_PAYMENT = "FactuurbetalingOntvangen"
    PURCHASE_PAYMENT = "FactuurbetalingVerstuurd"
    MONEY_RECEIVED = "GeldOntvangen"
    MONEY_SPENT = "GeldUitgegeven"
    JOURNAL = "Memoriaal"


class InExVat(StrEnum):
    """``InExBTW``: whether entered amounts include VAT."""

    INCLUDING = "IN"
    EXCLUDING = "EX"


class OpenItemKind(StrEnum):
    """``OpSoort`` of GetOpenPosten."""

    DEBTORS = "Debiteuren"
    CREDITORS = "Crediteuren"


class LedgerCategory(StrEnum):
    """``Categorie`` of a ledger account."""

    BALANCE = "BAL"
    PROFIT_AND_LOSS = "VW"
    CASH_AND_BANK = "FIN"
    DEBTORS = "DEB"
    CREDITORS = "CRED"
    VAT_HIGH = "AF19"
    VAT_LOW = "AF6"
    VAT_OTHER = "AFOVERIG"
    INPUT_VAT = "VOOR"
    VAT_CURRENT_ACCOUNT = "BTWRC"
    VAT_PAYABLE = "AF"


class Relation(_Wire):
    """A relation (``cRelatie``): a debtor or creditor.

    ``code`` is unique per administration and is the key that sync uses.
    ``id`` is 0 when adding; on update it is the ID from GetRelaties.
    """

    id: int = Field(0, alias="ID")
    added: dt.datetime = Field(
        default_factory=lambda: dt.datetime.combine(dt.date.today(), dt.time()), alias="AddDatum"
    )
    code: RelationCode | None = Field(None, alias="Code")
    company: CompanyName | None = Field(None, alias="Bedrijf")
    contact_person: PersonName | None = Field(None, alias="Contactpersoon")
    gender: str | None = Field(None, alias="Geslacht", pattern="^[mva]?$")
    address: AddressLine | None = Field(None, alias="Adres")
    postcode: PostcodeText | None = Field(None, alias="Postcode")
    city: City | None = Field(None, alias="Plaats")
    country: Country | None = Field(None, alias="Land")
    postal_address: AddressLine | None = Field(None, alias="Adres2")
    postal_postcode: PostcodeText | None = Field(None, alias="Postcode2")
    postal_city: City | None = Field(None, alias="Plaats2")
    postal_country: Country | None = Field(None, alias="Land2")
    phone: Phone | None = Field(None, alias="Telefoon")
    mobile: Phone | None = Field(None, alias="GSM")
    fax: Phone | None = Field(None, alias="FAX")
    email: Email | None = Field(None, alias="Email")
    website: Website | None = Field(None, alias="Site")
    note: Note | None = Field(None, alias="Notitie")
    vat_number: VatNumber | None = Field(None, alias="BTWNummer")
    kvk_number: KvkNumber | None = Field(None, alias="KvkNummer")
    salutation: PersonName | None = Field(None, alias="Aanhef")
    iban: Iban | None = Field(None, alias="IBAN")
    bic: Bic | None = Field(None, alias="BIC")
    type: RelationType = Field(RelationType.BUSINESS, alias="BP")
    def1: FreeText | None = Field(None, alias="Def1")
    def2: FreeText | None = Field(None, alias="Def2")
    def3: FreeText | None = Field(None, alias="Def3")
    def4: FreeText | None = Field(None, alias="Def4")
    def5: FreeText | None = Field(None, alias="Def5")
    def6: FreeText | None = Field(None, alias="Def6")
    def7: FreeText | None = Field(None, alias="Def7")
    def8: FreeText | None = Field(None, alias="Def8")
    def9: FreeText | None = Field(None, alias="Def9")
    def10: FreeText | None = Field(None, alias="Def10")
    member: str | None = Field(None, alias="LA", pattern="^[01]?$")
    ledger_id: int = Field(0, alias="Gb_ID")
    no_newsletter: int = Field(0, alias="GeenEmail", ge=0, le=1)
    newsletter_groups: int = Field(0, alias="NieuwsbriefgroepenCount")

    @field_validator("type", mode="before")
    @classmethod
    def _business_by_default(cls, value: Any) -> Any:
        # A relation entered elsewhere may come back without BP: e-Boekhouden's default is B.
        return RelationType.BUSINESS if value in (None, "") else value


class MutationLine(_Wire):
    """A line of a mutation (``cMutatieRegel``): one VAT rate on one ledger."""

    amount_entered: Money = Field(alias="BedragInvoer")
    amount_excl: Money = Field(alias="BedragExclBTW")
    vat_amount: Money = Field(alias="BedragBTW")
    amount_incl: Money = Field(alias="BedragInclBTW")
    vat_code: VatCodeText = Field(alias="BTWCode")
    vat_percentage: Decimal = Field(alias="BTWPercentage", ge=-100, le=100)
    ledger_code: LedgerCode = Field(alias="TegenrekeningCode")
    cost_centre_id: int = Field(0, alias="KostenplaatsID")
    invoice_number: InvoiceNumber | None = Field(None, alias="Factuurnummer")
    """Only in GetMutaties answers (``cMutatieListRegel``), e.g. on payments."""


class Mutation(_Wire):
    """A booking (``cMutatie``): an invoice, a payment, a journal entry."""

    number: int = Field(0, alias="MutatieNr")
    kind: MutationKind = Field(alias="Soort")
    date: RemoteDate = Field(alias="Datum")
    ledger_code: LedgerCode | None = Field(None, alias="Rekening")
    relation_code: RelationCode | None = Field(None, alias="RelatieCode")
    invoice_number: InvoiceNumber | None = Field(None, alias="Factuurnummer")
    document: Document | None = Field(None, alias="Boekstuk")
    description: Description | None = Field(None, alias="Omschrijving")
    payment_term_days: PaymentTerm | None = Field(None, alias="Betalingstermijn")
    """A string on the wire: the number of days."""
    payment_reference: PaymentReference | None = Field(None, alias="Betalingskenmerk")
    in_ex_vat: InExVat | None = Field(None, alias="InExBTW")
    lines: list[MutationLine] = Field(default_factory=list, alias="MutatieRegels")

    @field_validator("lines", mode="before")
    @classmethod
    def _unwrap_lines(cls, value: Any) -> Any:
        # On the wire the lines sit in an ArrayOf wrapper: {"cMutatieRegel": [...]}
        # on input, {"cMutatieListRegel": [...]} in GetMutaties answers; None when empty.
        if value is None:
            return []
        if isinstance(value, dict) and len(value) == 1:
            inner = next(iter(value.values()))
            return [] if inner is None else inner if isinstance(inner, list) else [inner]
        return value

    @property
    def total_incl(self) -> Decimal:
        """The sum of the lines including VAT."""
        return sum((line.amount_incl for line in self.lines), Decimal("0.00"))

    def check_vat_codes(self) -> None:
        """Refuse a line whose VAT code e-Boekhouden does not know, before anything is sent.

        zeep sends any text as ``BTWCode``; reading stays lenient (an answer may
        carry a code this list does not have yet).

        Raises:
            ValidationError: Names the line and the code.
        """
        for number, line in enumerate(self.lines, start=1):
            if line.vat_code not in EBOEKHOUDEN_VAT_CODES:
                known = ", ".join(sorted(EBOEKHOUDEN_VAT_CODES))
                raise ValidationError(
                    f"lines[{number}].vat_code",
                    line.vat_code,
                    f"not an e-Boekhouden VAT code ({known})",
                )

    def to_wire(self) -> dict[str, Any]:
        """The dictionary zeep takes; lines go in the ``ArrayOfCMutatieRegel`` wrapper."""
        self.check_vat_codes()
        data = super().to_wire()
        data["MutatieRegels"] = {"cMutatieRegel": [line.to_wire() for line in self.lines]}
        return data


class OpenItem(_Wire):
    """An open item (``cOpenPost``): an invoice not (fully) paid yet."""

    date: RemoteDate | None = Field(None, alias="MutDatum")
    invoice_number: Text | None = Field(None, alias="MutFactuur")
    relation_code: Text | None = Field(None, alias="RelCode")
    relation_name: Text | None = Field(None, alias="RelBedrijf")
    amount: Money = Field(alias="Bedrag")
    paid: Money = Field(alias="Voldaan")
    outstanding: Money = Field(alias="Openstaand")


class Ledger(_Wire):
    """A ledger account (``cGrootboekrekening``)."""

    id: int = Field(0, alias="ID")
    code: LedgerCode | None = Field(None, alias="Code")
    description: LedgerDescription | None = Field(None, alias="Omschrijving")
    category: Text | None = Field(None, alias="Categorie")
    group: Text | None = Field(None, alias="Groep")


class CostCentre(_Wire):
    """A cost centre (``cKostenplaats``)."""

    id: int = Field(alias="KostenplaatsId")
    description: Text | None = Field(None, alias="Omschrijving")
    parent_id: int | None = Field(None, alias="KostenplaatsParentId")


class Administration(_Wire):
    """An administration an accountant can open (``cAdministratie``)."""

    company: Text | None = Field(None, alias="Bedrijf")
    city: Text | None = Field(None, alias="Plaats")
    guid: Text = Field(alias="Guid")
    first_financial_year: Text | None = Field(None, alias="StartBoekjaar")


class Balance(_Wire):
    """The balance of one ledger (``cSaldo``)."""

    id: int | None = Field(None, alias="ID")
    code: Text | None = Field(None, alias="Code")
    category: Text | None = Field(None, alias="Categorie")
    balance: Money = Field(alias="Saldo")
