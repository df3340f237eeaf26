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
  they come back as naive datetimes and are reduced to dates.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ..errors import ValidationError
from ..mapping import EBOEKHOUDEN_VAT_CODES

__all__ = [
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
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _date(value: object) -> object:
    return value.date() if isinstance(value, dt.datetime) else value


Money = Annotated[Decimal, BeforeValidator(money)]
RemoteDate = Annotated[dt.date, BeforeValidator(_date)]


class _Wire(BaseModel):
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, str_strip_whitespace=True, validate_assignment=True
    )

    def to_wire(self) -> dict[str, Any]:
        """The dictionary zeep takes: Dutch element names, ``None`` left out."""
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
    code: str | None = Field(None, alias="Code", max_length=15)
    company: str | None = Field(None, alias="Bedrijf")
    contact_person: str | None = Field(None, alias="Contactpersoon")
    gender: str | None = Field(None, alias="Geslacht", pattern="^[mva]?$")
    address: str | None = Field(None, alias="Adres")
    postcode: str | None = Field(None, alias="Postcode")
    city: str | None = Field(None, alias="Plaats")
    country: str | None = Field(None, alias="Land")
    postal_address: str | None = Field(None, alias="Adres2")
    postal_postcode: str | None = Field(None, alias="Postcode2")
    postal_city: str | None = Field(None, alias="Plaats2")
    postal_country: str | None = Field(None, alias="Land2")
    phone: str | None = Field(None, alias="Telefoon")
    mobile: str | None = Field(None, alias="GSM")
    fax: str | None = Field(None, alias="FAX")
    email: str | None = Field(None, alias="Email")
    website: str | None = Field(None, alias="Site")
    note: str | None = Field(None, alias="Notitie")
    vat_number: str | None = Field(None, alias="BTWNummer")
    kvk_number: str | None = Field(None, alias="KvkNummer")
    salutation: str | None = Field(None, alias="Aanhef")
    iban: str | None = Field(None, alias="IBAN")
    bic: str | None = Field(None, alias="BIC")
    type: RelationType = Field(RelationType.BUSINESS, alias="BP")
    def1: str | None = Field(None, alias="Def1")
    def2: str | None = Field(None, alias="Def2")
    def3: str | None = Field(None, alias="Def3")
    def4: str | None = Field(None, alias="Def4")
    def5: str | None = Field(None, alias="Def5")
    def6: str | None = Field(None, alias="Def6")
    def7: str | None = Field(None, alias="Def7")
    def8: str | None = Field(None, alias="Def8")
    def9: str | None = Field(None, alias="Def9")
    def10: str | None = Field(None, alias="Def10")
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

    amount_entered: Decimal = Field(alias="BedragInvoer")
    amount_excl: Decimal = Field(alias="BedragExclBTW")
    vat_amount: Decimal = Field(alias="BedragBTW")
    amount_incl: Decimal = Field(alias="BedragInclBTW")
    vat_code: str = Field(alias="BTWCode")
    vat_percentage: Decimal = Field(alias="BTWPercentage")
    ledger_code: str = Field(alias="TegenrekeningCode")
    cost_centre_id: int = Field(0, alias="KostenplaatsID")
    invoice_number: str | None = Field(None, alias="Factuurnummer")
    """Only in GetMutaties answers (``cMutatieListRegel``), e.g. on payments."""


class Mutation(_Wire):
    """A booking (``cMutatie``): an invoice, a payment, a journal entry."""

    number: int = Field(0, alias="MutatieNr")
    kind: MutationKind = Field(alias="Soort")
    date: RemoteDate = Field(alias="Datum")
    ledger_code: str | None = Field(None, alias="Rekening")
    relation_code: str | None = Field(None, alias="RelatieCode")
    invoice_number: str | None = Field(None, alias="Factuurnummer")
    document: str | None = Field(None, alias="Boekstuk")
    description: str | None = Field(None, alias="Omschrijving")
    payment_term_days: str | None = Field(None, alias="Betalingstermijn")
    """A string on the wire: the number of days."""
    payment_reference: str | None = Field(None, alias="Betalingskenmerk")
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
    invoice_number: str | None = Field(None, alias="MutFactuur")
    relation_code: str | None = Field(None, alias="RelCode")
    relation_name: str | None = Field(None, alias="RelBedrijf")
    amount: Money = Field(alias="Bedrag")
    paid: Money = Field(alias="Voldaan")
    outstanding: Money = Field(alias="Openstaand")


class Ledger(_Wire):
    """A ledger account (``cGrootboekrekening``)."""

    id: int = Field(0, alias="ID")
    code: str | None = Field(None, alias="Code", max_length=10)
    description: str | None = Field(None, alias="Omschrijving", max_length=50)
    category: str | None = Field(None, alias="Categorie")
    group: str | None = Field(None, alias="Groep")


class CostCentre(_Wire):
    """A cost centre (``cKostenplaats``)."""

    id: int = Field(alias="KostenplaatsId")
    description: str | None = Field(None, alias="Omschrijving")
    parent_id: int | None = Field(None, alias="KostenplaatsParentId")


class Administration(_Wire):
    """An administration an accountant can open (``cAdministratie``)."""

    company: str | None = Field(None, alias="Bedrijf")
    city: str | None = Field(None, alias="Plaats")
    guid: str = Field(alias="Guid")
    first_financial_year: str | None = Field(None, alias="StartBoekjaar")


class Balance(_Wire):
    """The balance of one ledger (``cSaldo``)."""

    id: int | None = Field(None, alias="ID")
    code: str | None = Field(None, alias="Code")
    category: str | None = Field(None, alias="Categorie")
    balance: Money = Field(alias="Saldo")
