"""The in-memory administration behind `EBoekhoudenSandbox`: ledgers, relations, bookings.

`Bookkeeping` holds one e-Boekhouden administration: a default Dutch chart of
ledgers, cost centres, relations with unique codes, mutations numbered from 1,
and what follows from them (open items, balances). It checks bookings the way
the service does and refuses bad ones with an `InBandError` carrying a code and
a Dutch text, which the SOAP handler returns in ``ErrorMsg``.

Nothing here knows about XML: names are English, values Python; the Dutch
strings are the service's own vocabulary (mutation kinds, ledger categories,
VAT codes) and its error texts.

Assumption: e-Boekhouden publishes no SOAP error codes or texts. The sandbox
borrows the codes of its REST API for the same situations (``REL_049`` "code
already exists", ``MUT_007`` "unknown ledger", ...) and writes Dutch texts in
the wording of its interface, so that text-based error mapping can be tested.
"""

from __future__ import annotations

import datetime as dt
import threading
import types
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

import attrs

from ..mapping import VatTable

__all__ = [
    "CATEGORIES",
    "DEMO_VAT_TABLE",
    "DEMO_VAT_TABLE_TOML",
    "ERROR_TEXTS",
    "MUTATION_KINDS",
    "MUTATION_LIMIT",
    "OPEN_ITEM_KINDS",
    "RELATION_FIELDS",
    "VAT_CODES",
    "AdministrationRecord",
    "Bookkeeping",
    "CostCentreRecord",
    "InBandError",
    "LedgerRecord",
    "LineRecord",
    "MutationRecord",
    "OpenItemRecord",
    "RelationRecord",
    "VatCode",
    "default_chart",
    "default_cost_centres",
]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

MUTATION_LIMIT = 500
"""GetMutaties returns at most the last 500 mutations (e-Boekhouden's manual)."""

MUTATION_KINDS = (
    "OpeningsSaldo",
    "FactuurOntvangen",
    "FactuurVerstuurd",
    "FactuurbetalingOntvangen",
    "FactuurbetalingVerstuurd",
    "GeldOntvangen",
    "GeldUitgegeven",
    "Memoriaal",
)
"""``enMutatieSoorten``, in the WSDL's order (the first is .NET's default)."""

OPEN_ITEM_KINDS = ("Debiteuren", "Crediteuren")
"""``enOpenpostenSoort``, in the WSDL's order."""

CATEGORIES = ("BAL", "VW", "FIN", "DEB", "CRED", "AF19", "AF6", "AFOVERIG", "VOOR", "BTWRC")
"""Ledger categories (``Categorie``) the SOAP service knows."""

_SALES_INVOICE = "FactuurVerstuurd"
_PURCHASE_INVOICE = "FactuurOntvangen"
_SALES_PAYMENT = "FactuurbetalingOntvangen"
_PURCHASE_PAYMENT = "FactuurbetalingVerstuurd"
_MONEY_IN = "GeldOntvangen"
_MONEY_OUT = "GeldUitgegeven"
_INVOICES = frozenset({_SALES_INVOICE, _PURCHASE_INVOICE})
_PAYMENTS = frozenset({_SALES_PAYMENT, _PURCHASE_PAYMENT})
_WITH_VAT = frozenset({_SALES_INVOICE, _PURCHASE_INVOICE, _MONEY_IN, _MONEY_OUT})
"""Kinds whose lines are revenue or costs with VAT (REST types 1, 2, 5, 6)."""
_OPEN_ITEM_KIND = {
    _SALES_INVOICE: "Debiteuren",
    _SALES_PAYMENT: "Debiteuren",
    _PURCHASE_INVOICE: "Crediteuren",
    _PURCHASE_PAYMENT: "Crediteuren",
}
_PAYMENT_FOR = {_SALES_INVOICE: _SALES_PAYMENT, _PURCHASE_INVOICE: _PURCHASE_PAYMENT}
_INVOICE_FOR = {payment: invoice for invoice, payment in _PAYMENT_FOR.items()}
_HEADER_CATEGORY = {
    _SALES_INVOICE: "DEB",
    _PURCHASE_INVOICE: "CRED",
    _SALES_PAYMENT: "FIN",
    _PURCHASE_PAYMENT: "FIN",
    _MONEY_IN: "FIN",
    _MONEY_OUT: "FIN",
}
_BALANCING = frozenset({"FIN", "DEB", "CRED"})

MAX_RELATION_CODE = 15
"""``Code`` of a relation: at most 15 characters (REST ``REL_006``)."""

ERROR_TEXTS: Mapping[str, str] = {
    # Sessions and credentials.
    "SECURITY_001": "Beveiligingscode 2 is onjuist.",
    "SECURITY_002": "Sessie is verlopen of bestaat niet. Open een nieuwe sessie.",
    "SECURITY_003": "Geen toegang tot administratie {guid}.",
    "SECURITY_010": "Inloggen mislukt: gebruikersnaam of beveiligingscode onjuist.",
    # Relations.
    "REL_001": "Ongeldig relatietype {value} (B of P).",
    "REL_002": "Naam (Bedrijf) ontbreekt.",
    "REL_004": "Ongeldig geslacht {value} (m, v of a).",
    "REL_005": "Relatiecode ontbreekt.",
    "REL_006": "Relatiecode {code} is te lang (maximaal 15 tekens).",
    "REL_048": "Grootboekrekening met ID {id} niet gevonden.",
    "REL_049": "Relatiecode {code} bestaat al.",
    "REL_054": "Relatie-ID ontbreekt.",
    "REL_055": "Relatie met ID {id} niet gevonden.",
    # Mutations.
    "MUT_001": "Ongeldige mutatiesoort {value}.",
    "MUT_002": "Factuurnummer ontbreekt.",
    "MUT_003": "Datum ontbreekt of is ongeldig.",
    "MUTA_001": "Rekening (grootboekrekening) ontbreekt.",
    "MUT_007": "Grootboekrekening {code} bestaat niet.",
    "MUT_009": "Rekening {code} heeft een ongeldige categorie ({category}) voor deze mutatie.",
    "MUT_010": "Rekening {code} moet een crediteurenrekening zijn.",
    "MUT_011": "Rekening {code} moet een debiteurenrekening zijn.",
    "MUT_012": "Relatiecode ontbreekt.",
    "MUT_013": "Relatie {code} bestaat niet.",
    "MUT_017": "InExBTW moet IN of EX zijn.",
    "MUT_020": "Combinatie van relatie {relation} en factuurnummer {invoice} bestaat al.",
    "MUT_026": "InExBTW moet EX zijn bij inkopen met verlegde btw.",
    "MUT_100": "Mutatieregels ontbreken.",
    "MUT_104": "Tegenrekening {code} in regel {line} bestaat niet.",
    "MUT_106": "Tegenrekening {code} in regel {line} heeft een ongeldige categorie ({category}).",
    "MUT_107": "Tegenrekening {code} in regel {line} moet een crediteurenrekening zijn.",
    "MUT_108": "Tegenrekening {code} in regel {line} moet een debiteurenrekening zijn.",
    "MUT_109": "Ongeldige btw-code {code} in regel {line}.",
    "MUT_110": "Btw-code {code} in regel {line} moet van het type inkoop zijn.",
    "MUT_111": "Btw-code {code} in regel {line} moet van het type verkoop zijn.",
    "MUT_115": "Factuur {invoice} van relatie {relation} niet gevonden.",
    "MUT_117": "Kostenplaats {id} in regel {line} bestaat niet.",
    "MUT_120": "Factuurnummer ontbreekt bij de betaling.",
    # Anything else.
    "ERR_002": "Ongeldige waarde: {detail}.",
    "SANDBOX_001": "{operation} wordt door de sandbox niet ondersteund.",
}
"""In-band error texts by code; ``{placeholders}`` are filled per error.

Assumption: the real SOAP codes and texts are unknown (eboekhouden.md §1.7);
these codes are the REST API's for the same situation, the texts the sandbox's.
No text names a security code.
"""


class InBandError(ValueError):
    """A refusal the service reports in ``ErrorMsg`` (HTTP 200), not as a fault.

    Attributes:
        code: The error code (``LastErrorCode``), e.g. ``"REL_049"``.
        text: The Dutch error text (``LastErrorDescription``).
    """

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text

    @classmethod
    def of(cls, error_code: str, /, **values: object) -> InBandError:
        """The error ``error_code`` with its text from `ERROR_TEXTS`, placeholders filled."""
        return cls(error_code, ERROR_TEXTS[error_code].format(**values))


# --- VAT codes ----------------------------------------------------------------------------

VatKind = Literal["sale", "purchase", "none"]


@attrs.frozen
class VatCode:
    """A VAT code (``BTWCode``) of e-Boekhouden's documented list.

    Attributes:
        code: The code, e.g. ``"HOOG_VERK_21"``.
        kind: ``"sale"``, ``"purchase"`` or ``"none"`` (``GEEN``).
        rate: The rate in percent; ``None`` for the deviating-rate codes (``AFW*``).
        description: The manual's Dutch description.
        reverse_charge: Whether the VAT is reverse-charged (``VERL_*``).
    """

    code: str
    kind: VatKind
    rate: Decimal | None
    description: str
    reverse_charge: bool = False

    def rate_on(self, date: dt.date) -> Decimal:
        """The rate on a booking date; 0 when the code has no fixed rate.

        e-Boekhouden's manual: ``LAAG_VERK`` (and ``LAAG_INK``) is 6 % for
        bookings before 2019 and 9 % from 1 January 2019.
        """
        if self.code in ("LAAG_VERK", "LAAG_INK") and date >= dt.date(2019, 1, 1):
            return Decimal("9")
        return self.rate if self.rate is not None else Decimal("0")


def _vat(code: str, kind: VatKind, rate: str | None, text: str, rc: bool = False) -> VatCode:
    return VatCode(code, kind, Decimal(rate) if rate is not None else None, text, rc)


VAT_CODES: Mapping[str, VatCode] = {
    vat.code: vat
    for vat in (
        _vat("HOOG_VERK_21", "sale", "21", "BTW hoog, verkopen 21%"),
        _vat("HOOG_VERK", "sale", "19", "BTW hoog, verkopen (19%, oud tarief)"),
        _vat("LAAG_VERK_9", "sale", "9", "BTW laag, verkopen 9%"),
        _vat("LAAG_VERK", "sale", "6", "BTW laag, verkopen (6%; vanaf 2019 9%)"),
        _vat("VERL_VERK", "sale", "21", "BTW verlegd 21% (1e)", rc=True),
        _vat("VERL_VERK_L9", "sale", "9", "BTW verlegd 9% (1e)", rc=True),
        _vat("AFW_VERK", "sale", None, "Afwijkend btw-tarief verkoop"),
        _vat("BU_EU_VERK", "sale", "0", "Leveringen naar buiten de EU"),
        _vat("BI_EU_VERK", "sale", "0", "Goederen naar binnen de EU"),
        _vat("BI_EU_VERK_D", "sale", "0", "Diensten naar binnen de EU"),
        _vat("AFST_VERK", "sale", "0", "Afstandsverkopen naar binnen de EU"),
        _vat("HOOG_INK_21", "purchase", "21", "BTW hoog, inkopen 21%"),
        _vat("HOOG_INK", "purchase", "19", "BTW hoog, inkopen (19%, oud tarief)"),
        _vat("LAAG_INK_9", "purchase", "9", "BTW laag, inkopen 9%"),
        _vat("LAAG_INK", "purchase", "6", "BTW laag, inkopen (6%; vanaf 2019 9%)"),
        _vat("VERL_INK", "purchase", "21", "BTW verlegd, hoog, inkopen", rc=True),
        _vat("VERL_INK_L9", "purchase", "9", "BTW verlegd, laag, inkopen", rc=True),
        # Assumption: VERL_INK_L is listed only in the REST table; SOAP accepts it too.
        _vat("VERL_INK_L", "purchase", "6", "BTW verlegd 6%, inkopen", rc=True),
        _vat("AFW", "purchase", None, "Afwijkend btw-tarief"),
        _vat("BU_EU_INK", "purchase", "0", "Leveringen/diensten van buiten de EU"),
        _vat("BI_EU_INK", "purchase", "0", "Leveringen/diensten van binnen de EU"),
        _vat("GEEN", "none", "0", "Geen BTW"),
    )
}
"""The VAT codes of e-Boekhouden's manual (eboekhouden.md §1.5), by code."""


# --- records ------------------------------------------------------------------------------


@attrs.frozen
class AdministrationRecord:
    """One administration a login can open (``cAdministratie``).

    Attributes:
        company: The company name (``Bedrijf``).
        city: The city (``Plaats``).
        guid: The GUID that `OpenSessionSub` takes (``Guid``).
        first_year: The first financial year (``StartBoekjaar``), e.g. ``"2020"``.
    """

    company: str
    city: str
    guid: str
    first_year: str = "2020"


@attrs.frozen
class LedgerRecord:
    """A ledger account (``cGrootboekrekening``).

    Attributes:
        id: The service's ID (``ID``), used by ``cRelatie.Gb_ID``.
        code: The code (``Code``), e.g. ``"8000"``.
        description: The name (``Omschrijving``).
        category: The category (``Categorie``), one of `CATEGORIES`.
        group: The group (``Groep``); empty when none.
    """

    id: int
    code: str
    description: str
    category: str
    group: str = ""


@attrs.frozen
class CostCentreRecord:
    """A cost centre (``cKostenplaats``).

    Attributes:
        id: The ID (``KostenplaatsId``), used by ``KostenplaatsID`` on lines.
        description: The name (``Omschrijving``).
        parent_id: The parent's ID (``KostenplaatsParentId``); 0 at the top.
    """

    id: int
    description: str
    parent_id: int = 0


RELATION_FIELDS: tuple[tuple[str, str], ...] = (
    ("code", "Code"),
    ("company", "Bedrijf"),
    ("contact_person", "Contactpersoon"),
    ("gender", "Geslacht"),
    ("address", "Adres"),
    ("postcode", "Postcode"),
    ("city", "Plaats"),
    ("country", "Land"),
    ("postal_address", "Adres2"),
    ("postal_postcode", "Postcode2"),
    ("postal_city", "Plaats2"),
    ("postal_country", "Land2"),
    ("phone", "Telefoon"),
    ("mobile", "GSM"),
    ("fax", "FAX"),
    ("email", "Email"),
    ("website", "Site"),
    ("note", "Notitie"),
    ("bank_account", "Bankrekening"),
    ("giro_account", "Girorekening"),
    ("vat_number", "BTWNummer"),
    ("kvk_number", "KvkNummer"),
    ("salutation", "Aanhef"),
    ("iban", "IBAN"),
    ("bic", "BIC"),
    ("type", "BP"),
    *((f"def{n}", f"Def{n}") for n in range(1, 11)),
    ("member", "LA"),
)
"""The text fields of ``cRelatie``: (English name, wire name), in the WSDL's order."""

_RELATION_NAMES = frozenset(name for name, _wire in RELATION_FIELDS)


def _read_only(values: Mapping[str, str]) -> Mapping[str, str]:
    return types.MappingProxyType(dict(values))


@attrs.frozen
class RelationRecord:
    """A relation (``cRelatie``) as the administration stores it.

    Attributes:
        id: The ID the service gave it (``ID``).
        added: When it was added (``AddDatum``).
        values: Its text fields by English name (see `RELATION_FIELDS`); absent
            fields are left out, empty ones kept as ``""``.
        ledger_id: Its default ledger's ID (``Gb_ID``); 0 for none.
        no_newsletter: ``GeenEmail`` (1: no newsletter).
        newsletter_groups: ``NieuwsbriefgroepenCount`` (reserved).
    """

    id: int
    added: dt.datetime
    values: Mapping[str, str] = attrs.field(converter=_read_only, hash=False)
    ledger_id: int = 0
    no_newsletter: int = 0
    newsletter_groups: int = 0

    @property
    def code(self) -> str:
        """The relation code, unique in the administration."""
        return self.values.get("code", "")

    @property
    def company(self) -> str:
        """The name (``Bedrijf``): the company, or a private person's name."""
        return self.values.get("company", "")

    def get(self, name: str) -> str | None:
        """A text field by English name (e.g. ``"city"``), ``None`` when absent."""
        if name not in _RELATION_NAMES:
            raise KeyError(name)
        return self.values.get(name)


@attrs.frozen
class LineRecord:
    """A line of a mutation (``cMutatieRegel``): one VAT code on one ledger.

    Attributes:
        amount_entered: ``BedragInvoer``: incl. VAT when the mutation says ``IN``,
            else excl. VAT.
        amount_excl: ``BedragExclBTW``.
        vat_amount: ``BedragBTW``.
        amount_incl: ``BedragInclBTW``.
        vat_code: ``BTWCode``, one of `VAT_CODES`.
        vat_percentage: ``BTWPercentage``.
        ledger_code: ``TegenrekeningCode``: the revenue, cost or (on payments)
            debtors/creditors ledger.
        cost_centre_id: ``KostenplaatsID``; 0 for none.
    """

    amount_entered: Decimal
    amount_excl: Decimal
    vat_amount: Decimal
    amount_incl: Decimal
    vat_code: str
    vat_percentage: Decimal
    ledger_code: str
    cost_centre_id: int = 0

    @classmethod
    def of(
        cls,
        amount: Decimal | str | int,
        vat_code: str,
        ledger_code: str,
        *,
        in_ex: Literal["IN", "EX"] = "EX",
        rate: Decimal | str | int | None = None,
        date: dt.date | None = None,
        cost_centre_id: int = 0,
    ) -> LineRecord:
        """A consistent line from one amount: VAT rounded half up to cents.

        Args:
            amount: The amount entered (excl. VAT for ``"EX"``, incl. for ``"IN"``).
            vat_code: The VAT code; its rate applies unless ``rate`` is given.
            ledger_code: The ledger of the line.
            in_ex: Whether ``amount`` includes VAT.
            rate: The VAT rate in percent, when not the code's.
            date: The booking date, for the code's rate (6 % → 9 %); today if omitted.
            cost_centre_id: The cost centre, 0 for none.

        Returns:
            The line; reverse-charged codes get no VAT amount.
        """
        entered = _cents(amount)
        vat = VAT_CODES.get(vat_code)
        if rate is not None:
            percentage = Decimal(str(rate))
        else:
            percentage = vat.rate_on(date or dt.date.today()) if vat else Decimal("0")
        charged = Decimal("0") if vat is not None and vat.reverse_charge else percentage
        if in_ex == "EX":
            vat_amount = (entered * charged / 100).quantize(CENT, ROUND_HALF_UP)
            excl, incl = entered, entered + vat_amount
        else:
            vat_amount = (entered * charged / (100 + charged)).quantize(CENT, ROUND_HALF_UP)
            excl, incl = entered - vat_amount, entered
        return cls(
            entered, excl, vat_amount, incl, vat_code, percentage, ledger_code, cost_centre_id
        )


def _line_tuple(lines: Iterable[LineRecord]) -> tuple[LineRecord, ...]:
    return tuple(lines)


@attrs.frozen
class MutationRecord:
    """A mutation (``cMutatie``): an invoice, a payment, a journal entry.

    As input to `Bookkeeping.book` the ``number`` is ignored (0).

    Attributes:
        number: ``MutatieNr``, numbered from 1 per administration.
        kind: ``Soort``, one of `MUTATION_KINDS`.
        date: ``Datum``; ``None`` only on refused input.
        ledger_code: ``Rekening``: the debtors, creditors or bank ledger.
        relation_code: ``RelatieCode``.
        invoice_number: ``Factuurnummer``.
        document: ``Boekstuk``.
        description: ``Omschrijving``.
        payment_term: ``Betalingstermijn`` (days, a string on the wire).
        payment_reference: ``Betalingskenmerk`` (not in GetMutaties answers).
        in_ex_vat: ``InExBTW``: ``"IN"``, ``"EX"`` or ``None``.
        lines: ``MutatieRegels``.
    """

    number: int
    kind: str
    date: dt.date | None
    ledger_code: str | None = None
    relation_code: str | None = None
    invoice_number: str | None = None
    document: str | None = None
    description: str | None = None
    payment_term: str | None = None
    payment_reference: str | None = None
    in_ex_vat: str | None = None
    lines: tuple[LineRecord, ...] = attrs.field(default=(), converter=_line_tuple)

    @property
    def total_incl(self) -> Decimal:
        """The sum of the lines including VAT."""
        return sum((line.amount_incl for line in self.lines), ZERO)


@attrs.frozen
class OpenItemRecord:
    """An invoice and what was paid on it (``cOpenPost``).

    Attributes:
        kind: ``"Debiteuren"`` (sales) or ``"Crediteuren"`` (purchases).
        date: The invoice date (``MutDatum``).
        invoice_number: ``MutFactuur``.
        relation_code: ``RelCode``.
        relation_name: ``RelBedrijf``: the relation's current name.
        amount: ``Bedrag``: the invoice total incl. VAT.
        paid: ``Voldaan``: the payments booked on it.
        outstanding: ``Openstaand``: ``amount - paid``.
    """

    kind: str
    date: dt.date
    invoice_number: str
    relation_code: str
    relation_name: str
    amount: Decimal
    paid: Decimal
    outstanding: Decimal

    @property
    def state(self) -> Literal["open", "partly_paid", "paid"]:
        """``"paid"`` when nothing is outstanding, ``"partly_paid"`` or ``"open"``."""
        if self.outstanding == 0:
            return "paid"
        return "partly_paid" if self.paid != 0 else "open"


# --- the default administration -----------------------------------------------------------

_DEFAULT_CHART = (
    ("0100", "Inventaris", "BAL", "Vaste activa"),
    ("0500", "Eigen vermogen", "BAL", "Eigen vermogen"),
    ("1000", "Kas", "FIN", "Liquide middelen"),
    ("1100", "Bank", "FIN", "Liquide middelen"),
    ("1300", "Debiteuren", "DEB", "Vorderingen"),
    ("1500", "Af te dragen btw hoog", "AF19", "Btw"),
    ("1510", "Af te dragen btw laag", "AF6", "Btw"),
    ("1520", "Af te dragen btw overig", "AFOVERIG", "Btw"),
    ("1530", "Voorbelasting", "VOOR", "Btw"),
    ("1560", "Btw rekening-courant", "BTWRC", "Btw"),
    ("1600", "Crediteuren", "CRED", "Schulden"),
    ("2000", "Vraagposten", "BAL", "Tussenrekeningen"),
    ("4000", "Kosten", "VW", "Kosten"),
    ("4100", "Huisvestingskosten", "VW", "Kosten"),
    ("4500", "Kantoorkosten", "VW", "Kosten"),
    ("7000", "Inkoopwaarde van de omzet", "VW", "Kostprijs"),
    ("8000", "Omzet hoog", "VW", "Omzet"),
    ("8010", "Omzet laag", "VW", "Omzet"),
    # Assumption: product-group revenue ledgers, for VAT tables with one ledger
    # per product group (issue 3's docs use 8011/8012/8014/8015).
    ("8011", "Omzet advies", "VW", "Omzet"),
    ("8012", "Omzet licenties", "VW", "Omzet"),
    ("8014", "Omzet onderhoud", "VW", "Omzet"),
    ("8015", "Omzet opleidingen", "VW", "Omzet"),
    ("8020", "Omzet verlegd", "VW", "Omzet"),
    ("8100", "Omzet EU", "VW", "Omzet"),
    ("8200", "Omzet export", "VW", "Omzet"),
    ("9000", "Overige opbrengsten", "VW", "Overig"),
)

DEMO_VAT_TABLE_TOML = """\
# The VAT table (crmconnect.mapping.VatTable.from_toml) for the sandbox's default chart.
[sales]
nl_high = { vat_code = "HOOG_VERK_21", ledger = "8000" }
nl_low = { vat_code = "LAAG_VERK_9", ledger = "8010" }
zero = { vat_code = "GEEN", ledger = "8000" }
reverse_charge = { vat_code = "VERL_VERK", ledger = "8020" }
exempt = { vat_code = "GEEN", ledger = "8000" }
eu_goods = { vat_code = "BI_EU_VERK", ledger = "8100" }
eu_services = { vat_code = "BI_EU_VERK_D", ledger = "8100" }
export_outside_eu = { vat_code = "BU_EU_VERK", ledger = "8200" }

[sales.product_groups]
consultancy = "8011"
licences = "8012"
maintenance = "8014"
training = "8015"

[purchase]
nl_high = { vat_code = "HOOG_INK_21", ledger = "4000" }
nl_low = { vat_code = "LAAG_INK_9", ledger = "7000" }
zero = { vat_code = "GEEN", ledger = "4000" }
reverse_charge = { vat_code = "VERL_INK", ledger = "4000" }
exempt = { vat_code = "GEEN", ledger = "4000" }
eu_goods = { vat_code = "BI_EU_INK", ledger = "7000" }
eu_services = { vat_code = "BI_EU_INK", ledger = "4000" }
export_outside_eu = { vat_code = "BU_EU_INK", ledger = "7000" }
"""
"""`DEMO_VAT_TABLE` as TOML text: every category, sales and purchases.

The starting point of a host's own table file (``VatTable.from_toml(path)``).
"""

DEMO_VAT_TABLE: VatTable = VatTable.from_toml(DEMO_VAT_TABLE_TOML)
"""A ready VAT table for the sandbox's default chart: every category, sales and purchases.

Example:
    ```python
    books.push_invoices(invoices, DEMO_VAT_TABLE)
    ```
"""

_FIRST_LEDGER_ID = 2001
"""Assumption: real ledger IDs are large, arbitrary numbers; the sandbox counts from here."""
_FIRST_RELATION_ID = 100001
"""Assumption: relation IDs likewise; distinct from ledger IDs and mutation numbers."""


def default_chart() -> list[LedgerRecord]:
    """The sandbox's default Dutch chart of ledgers.

    Assumption: modelled on e-Boekhouden's default chart (1300 debtors, 1600
    creditors, 8000 revenue) as far as public examples show it; the VAT
    ledgers (1500-1560) carry one account per VAT category.
    """
    return [
        LedgerRecord(_FIRST_LEDGER_ID + index, code, text, category, group)
        for index, (code, text, category, group) in enumerate(_DEFAULT_CHART)
    ]


def default_cost_centres() -> list[CostCentreRecord]:
    """Three cost centres, one nested (Assumption: IDs are arbitrary)."""
    return [
        CostCentreRecord(101, "Algemeen"),
        CostCentreRecord(102, "Verkoop"),
        CostCentreRecord(103, "Verkoop Noord", parent_id=102),
    ]


# --- the administration -------------------------------------------------------------------


def _cents(value: Decimal | str | int | float) -> Decimal:
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return amount.quantize(CENT, ROUND_HALF_UP)


def _fold(value: str | None) -> str:
    """Codes and invoice numbers compare case-insensitively and untrimmed.

    Assumption: the service runs on SQL Server with its default
    case-insensitive collation, so ``"r1"`` and ``"R1"`` are the same code.
    """
    return (value or "").casefold()


class Bookkeeping:
    """One in-memory e-Boekhouden administration. Thread-safe.

    Args:
        info: Name, city and GUID of the administration.
        ledgers: The chart of ledgers; `default_chart` when omitted.
        cost_centres: The cost centres; `default_cost_centres` when omitted.
        reject_duplicate_invoices: Refuse a second invoice booking with the same
            relation and invoice number (``MUT_020``). Off by default.
            Assumption: the SOAP service does not refuse it (eboekhouden.md §4.1
            found no such guarantee); off, a double booking is visible in tests.
    """

    def __init__(
        self,
        info: AdministrationRecord,
        ledgers: Iterable[LedgerRecord] | None = None,
        cost_centres: Iterable[CostCentreRecord] | None = None,
        *,
        reject_duplicate_invoices: bool = False,
    ) -> None:
        self.info = info
        self.lock = threading.RLock()
        self.reject_duplicate_invoices = reject_duplicate_invoices
        self._ledgers: dict[str, LedgerRecord] = {}
        for ledger in default_chart() if ledgers is None else ledgers:
            self._ledgers[ledger.code] = ledger
        self._cost_centres = {
            centre.id: centre
            for centre in (default_cost_centres() if cost_centres is None else cost_centres)
        }
        self._relations: dict[int, RelationRecord] = {}
        self._relation_ids: dict[str, int] = {}
        self._mutations: list[MutationRecord] = []
        self._by_invoice: dict[str, list[MutationRecord]] = {}
        self._next_relation_id = _FIRST_RELATION_ID

    def __repr__(self) -> str:
        with self.lock:
            return (
                f"Bookkeeping({self.info.company!r}, relations={len(self._relations)}, "
                f"mutations={len(self._mutations)})"
            )

    # --- reading ---------------------------------------------------------------------

    @property
    def ledgers(self) -> list[LedgerRecord]:
        """The chart of ledgers, by code."""
        with self.lock:
            return sorted(self._ledgers.values(), key=lambda ledger: ledger.code)

    @property
    def cost_centres(self) -> list[CostCentreRecord]:
        """The cost centres, by ID."""
        with self.lock:
            return sorted(self._cost_centres.values(), key=lambda centre: centre.id)

    @property
    def relations(self) -> list[RelationRecord]:
        """Every relation, by ID (the order they were added in)."""
        with self.lock:
            return list(self._relations.values())

    @property
    def mutations(self) -> list[MutationRecord]:
        """Every mutation, by number."""
        with self.lock:
            return list(self._mutations)

    def ledger(self, code: str) -> LedgerRecord | None:
        """The ledger with this code, if any."""
        with self.lock:
            return self._ledgers.get(code)

    def relation(self, code: str) -> RelationRecord | None:
        """The relation with this code (case-insensitive), if any."""
        with self.lock:
            relation_id = self._relation_ids.get(_fold(code))
            return self._relations[relation_id] if relation_id is not None else None

    def mutation(self, number: int) -> MutationRecord | None:
        """The mutation with this number, if any."""
        with self.lock:
            return self._mutations[number - 1] if 0 < number <= len(self._mutations) else None

    # --- chart and cost centres ------------------------------------------------------

    def add_ledger(
        self, code: str, description: str, category: str, group: str = ""
    ) -> LedgerRecord:
        """Add a ledger account.

        Raises:
            ValueError: For a taken code or an unknown category.
        """
        if category not in CATEGORIES:
            raise ValueError(f"unknown ledger category {category!r}; one of {CATEGORIES}")
        with self.lock:
            if code in self._ledgers:
                raise ValueError(f"ledger code {code!r} is taken")
            next_id = max((ledger.id for ledger in self._ledgers.values()), default=0) + 1
            ledger = LedgerRecord(
                max(next_id, _FIRST_LEDGER_ID), code, description, category, group
            )
            self._ledgers[code] = ledger
            return ledger

    def add_cost_centre(self, description: str, parent_id: int = 0) -> CostCentreRecord:
        """Add a cost centre.

        Raises:
            ValueError: For an unknown parent.
        """
        with self.lock:
            if parent_id and parent_id not in self._cost_centres:
                raise ValueError(f"unknown parent cost centre {parent_id}")
            centre_id = max(self._cost_centres, default=100) + 1
            centre = CostCentreRecord(centre_id, description, parent_id)
            self._cost_centres[centre_id] = centre
            return centre

    # --- relations -------------------------------------------------------------------

    def add_relation(
        self,
        values: Mapping[str, str],
        *,
        added: dt.datetime | None = None,
        ledger_id: int = 0,
        no_newsletter: int = 0,
        newsletter_groups: int = 0,
    ) -> RelationRecord:
        """Add a relation (AddRelatie).

        Args:
            values: Text fields by English name (see `RELATION_FIELDS`).
            added: ``AddDatum``; today (midnight) when omitted.
            ledger_id: The default ledger's ID (``Gb_ID``), 0 for none.
            no_newsletter: ``GeenEmail``.
            newsletter_groups: ``NieuwsbriefgroepenCount``.

        Returns:
            The stored relation, with its new ID.

        Raises:
            InBandError: For a missing, too long or taken code, a missing name,
                or an invalid type, gender or ledger.
        """
        with self.lock:
            self._check_relation(values, ledger_id, own_id=None)
            relation = RelationRecord(
                self._next_relation_id,
                added or dt.datetime.combine(dt.date.today(), dt.time()),
                values,
                ledger_id,
                no_newsletter,
                newsletter_groups,
            )
            self._next_relation_id += 1
            self._store_relation(relation)
            return relation

    def update_relation(
        self,
        relation_id: int,
        values: Mapping[str, str],
        *,
        ledger_id: int = 0,
        no_newsletter: int = 0,
        newsletter_groups: int = 0,
    ) -> RelationRecord:
        """Replace a relation's fields (UpdateRelatie).

        Assumption: UpdateRelatie overwrites every field with what was sent
        (omitted fields become empty) and keeps ``AddDatum``; eboekhouden.md §4.2
        advises read-modify-write for this reason.

        Raises:
            InBandError: For a missing or unknown ID, or the checks of `add_relation`.
        """
        with self.lock:
            if not relation_id:
                raise InBandError.of("REL_054")
            old = self._relations.get(relation_id)
            if old is None:
                raise InBandError.of("REL_055", id=relation_id)
            self._check_relation(values, ledger_id, own_id=relation_id)
            new = RelationRecord(
                relation_id, old.added, values, ledger_id, no_newsletter, newsletter_groups
            )
            del self._relation_ids[_fold(old.code)]
            self._store_relation(new)
            return new

    def find_relations(
        self, *, keyword: str | None = None, code: str | None = None, relation_id: int = 0
    ) -> list[RelationRecord]:
        """Relations matching every given filter (GetRelaties).

        Assumption: ``Code`` matches exactly (case-insensitively); ``Trefwoord``
        matches a part of the code, name, city, contact person or e-mail
        address (case-insensitively); ``ID`` 0 means "any".
        """
        needle = _fold(keyword)
        with self.lock:
            found = []
            if code:  # the index answers exact codes at once
                known = self._relation_ids.get(_fold(code))
                candidates = [self._relations[known]] if known is not None else []
            else:
                candidates = list(self._relations.values())
            for relation in candidates:
                if relation_id and relation.id != relation_id:
                    continue
                if code and _fold(relation.code) != _fold(code):
                    continue
                if needle and not any(
                    needle in _fold(relation.values.get(name))
                    for name in ("code", "company", "city", "contact_person", "email")
                ):
                    continue
                found.append(relation)
            return found

    def _check_relation(
        self, values: Mapping[str, str], ledger_id: int, own_id: int | None
    ) -> None:
        unknown = set(values) - _RELATION_NAMES
        if unknown:
            raise ValueError(f"unknown relation fields: {sorted(unknown)}")
        code = values.get("code") or ""
        if not code.strip():
            raise InBandError.of("REL_005")
        if len(code) > MAX_RELATION_CODE:
            raise InBandError.of("REL_006", code=code)
        taken = self._relation_ids.get(_fold(code))
        if taken is not None and taken != own_id:
            raise InBandError.of("REL_049", code=code)
        # Assumption: a name is required, as the REST API requires one (REL_002).
        if not (values.get("company") or "").strip():
            raise InBandError.of("REL_002")
        if values.get("type", "") not in ("", "B", "P"):
            raise InBandError.of("REL_001", value=values["type"])
        if values.get("gender", "") not in ("", "m", "v", "a"):
            raise InBandError.of("REL_004", value=values["gender"])
        if values.get("member", "") not in ("", "0", "1"):
            raise InBandError.of("ERR_002", detail=f"LA {values['member']} (0 of 1)")
        if ledger_id and ledger_id not in {ledger.id for ledger in self._ledgers.values()}:
            raise InBandError.of("REL_048", id=ledger_id)

    def _store_relation(self, relation: RelationRecord) -> None:
        self._relations[relation.id] = relation
        self._relation_ids[_fold(relation.code)] = relation.id

    # --- mutations -------------------------------------------------------------------

    def book(self, draft: MutationRecord) -> MutationRecord:
        """Book a mutation (AddMutatie) after the service's checks.

        Args:
            draft: The mutation; its ``number`` is ignored.

        Returns:
            The booked mutation with its number.

        Raises:
            InBandError: For the first check the mutation fails.
        """
        with self.lock:
            self._check_mutation(draft)
            booked = attrs.evolve(draft, number=len(self._mutations) + 1)
            self._mutations.append(booked)
            if booked.invoice_number:
                self._by_invoice.setdefault(_fold(booked.invoice_number), []).append(booked)
            return booked

    def find_mutations(
        self,
        *,
        number: int = 0,
        number_from: int | None = None,
        number_to: int | None = None,
        invoice_number: str | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        limit: int = MUTATION_LIMIT,
        limit_before_filter: bool = False,
    ) -> list[MutationRecord]:
        """The last ``limit`` mutations matching every given filter (GetMutaties), by number.

        Args:
            number: Only this mutation; 0 for any.
            number_from: Only numbers from this one (inclusive).
            number_to: Only numbers up to this one (inclusive).
            invoice_number: Only mutations with this invoice number (case-insensitive).
            date_from: Only mutations on or after this date.
            date_to: Only mutations on or before this date.
            limit: At most this many, the last ones (e-Boekhouden: 500).
            limit_before_filter: Apply the limit to the whole administration
                first, then filter (the other reading of the manual's "never
                more than the last 500 mutations": older ones cannot be found).

        Returns:
            The matching mutations, oldest first (Assumption: the order is undocumented).
        """
        wanted = _fold(invoice_number)

        def matches(mutation: MutationRecord) -> bool:
            return (
                (not number or mutation.number == number)
                and (number_from is None or mutation.number >= number_from)
                and (number_to is None or mutation.number <= number_to)
                and (not wanted or _fold(mutation.invoice_number) == wanted)
                and (
                    date_from is None or (mutation.date is not None and mutation.date >= date_from)
                )
                and (date_to is None or (mutation.date is not None and mutation.date <= date_to))
            )

        with self.lock:
            if limit_before_filter:
                return [m for m in self._mutations[-limit:] if matches(m)] if limit > 0 else []
            candidates = self._by_invoice.get(wanted, []) if wanted else self._mutations
            found = [m for m in candidates if matches(m)]
        return found[-limit:] if limit > 0 else []

    def pay(
        self,
        invoice_number: str,
        amount: Decimal | str | int,
        date: dt.date | None = None,
        relation_code: str | None = None,
        *,
        bank_ledger: str | None = None,
    ) -> MutationRecord:
        """Book a payment on an invoice, as a bank statement would.

        A sales invoice gets a ``FactuurbetalingOntvangen``, a purchase invoice a
        ``FactuurbetalingVerstuurd``: bank ledger in the header, the invoice's
        debtors or creditors ledger on the line, no VAT.

        Args:
            invoice_number: The invoice paid.
            amount: The amount paid (incl. VAT); negative for a refund.
            date: The payment date; today when omitted.
            relation_code: The relation, needed when several relations have an
                invoice with this number.
            bank_ledger: The bank or cash ledger; the first FIN ledger when omitted.

        Returns:
            The booked payment.

        Raises:
            KeyError: No invoice with this number (and relation).
            ValueError: The invoice number is ambiguous without ``relation_code``.
        """
        with self.lock:
            invoices = [
                m
                for m in self._by_invoice.get(_fold(invoice_number), [])
                if m.kind in _INVOICES
                and (relation_code is None or _fold(m.relation_code) == _fold(relation_code))
            ]
            if not invoices:
                raise KeyError(invoice_number)
            relations = {_fold(m.relation_code) for m in invoices}
            if len(relations) > 1:
                raise ValueError(
                    f"invoice {invoice_number!r} exists for several relations; pass relation_code"
                )
            invoice = invoices[0]
            bank = bank_ledger or self._bank_ledger()
            paid = _cents(amount)
            line = LineRecord(
                paid, paid, ZERO, paid, "GEEN", Decimal("0"), invoice.ledger_code or ""
            )
            return self.book(
                MutationRecord(
                    0,
                    _PAYMENT_FOR[invoice.kind],
                    date or dt.date.today(),
                    ledger_code=bank,
                    relation_code=invoice.relation_code,
                    invoice_number=invoice.invoice_number,
                    description=f"Betaling factuur {invoice.invoice_number}",
                    in_ex_vat="EX",
                    lines=(line,),
                )
            )

    def _bank_ledger(self) -> str:
        """1100 "Bank" of the default chart, else the first cash or bank ledger."""
        bank = self._ledgers.get("1100")
        if bank is not None and bank.category == "FIN":
            return bank.code
        return next((ledger.code for ledger in self.ledgers if ledger.category == "FIN"), "1100")

    def open_items(
        self, kind: str = "Debiteuren", *, include_settled: bool = False
    ) -> list[OpenItemRecord]:
        """Invoices minus payments per relation and invoice number (GetOpenPosten).

        Args:
            kind: ``"Debiteuren"`` (sales invoices) or ``"Crediteuren"`` (purchases).
            include_settled: Also list invoices with nothing outstanding.

        Returns:
            The items, by invoice date and number.

        Assumption: GetOpenPosten leaves settled invoices out (it lists
        *open* items); several invoice bookings with the same relation and
        number add up to one item; a payment counts on the item of its
        relation and invoice number (``RelatieCode`` + header ``Factuurnummer``).
        """
        if kind not in OPEN_ITEM_KINDS:
            raise ValueError(f"kind must be one of {OPEN_ITEM_KINDS}, got {kind!r}")
        totals: dict[tuple[str, str], list[Decimal]] = {}
        first: dict[tuple[str, str], MutationRecord] = {}
        with self.lock:
            for mutation in self._mutations:
                if _OPEN_ITEM_KIND.get(mutation.kind) != kind:
                    continue
                key = (_fold(mutation.relation_code), _fold(mutation.invoice_number))
                amounts = totals.setdefault(key, [ZERO, ZERO])
                if mutation.kind in _INVOICES:
                    first.setdefault(key, mutation)
                    amounts[0] += mutation.total_incl
                else:
                    amounts[1] += mutation.total_incl
            items = []
            for key, invoice in first.items():
                amount, paid = totals[key]
                if amount - paid == 0 and not include_settled:
                    continue
                relation = self.relation(invoice.relation_code or "")
                items.append(
                    OpenItemRecord(
                        kind,
                        invoice.date or dt.date.min,
                        invoice.invoice_number or "",
                        relation.code if relation else invoice.relation_code or "",
                        relation.company if relation else "",
                        amount,
                        paid,
                        amount - paid,
                    )
                )
        return sorted(items, key=lambda item: (item.date, item.invoice_number))

    # --- balances --------------------------------------------------------------------

    def balance(
        self,
        ledger_code: str,
        *,
        cost_centre_id: int = 0,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> Decimal:
        """The balance of one ledger (GetSaldo): debit positive, credit negative.

        Raises:
            InBandError: ``MUT_007`` for an unknown ledger.
        """
        with self.lock:
            if ledger_code not in self._ledgers:
                raise InBandError.of("MUT_007", code=ledger_code)
            return self._balances(cost_centre_id, date_from, date_to).get(ledger_code, ZERO)

    def balances(
        self,
        *,
        category: str | None = None,
        cost_centre_id: int = 0,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> list[tuple[LedgerRecord, Decimal]]:
        """The balance of every ledger (GetSaldi), by ledger code.

        Assumption: every ledger is listed, also with a zero balance; the sign
        is debit positive, credit negative (revenue shows negative).
        """
        with self.lock:
            sums = self._balances(cost_centre_id, date_from, date_to)
            return [
                (ledger, sums.get(ledger.code, ZERO))
                for ledger in self.ledgers
                if not category or ledger.category == category
            ]

    def _balances(
        self, cost_centre_id: int, date_from: dt.date | None, date_to: dt.date | None
    ) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = {}
        for mutation in self._mutations:
            if mutation.date is None:
                continue
            if (date_from and mutation.date < date_from) or (date_to and mutation.date > date_to):
                continue
            for code, amount, centre in self._postings(mutation):
                if cost_centre_id and centre != cost_centre_id:
                    continue
                sums[code] = sums.get(code, ZERO) + amount
        return sums

    def _postings(self, mutation: MutationRecord) -> list[tuple[str, Decimal, int]]:
        """The double entry of a mutation: (ledger, debit positive, cost centre).

        Assumption: invoices and money received/spent post excl. VAT on the
        line's ledger, the VAT on the administration's VAT ledger of the code's
        category, the total on the header ledger; payments move the total
        between bank and debtors/creditors; a journal entry (Memoriaal) debits
        its lines and credits the header ledger; an opening balance debits its
        lines only.
        """
        kind, header = mutation.kind, mutation.ledger_code or ""
        credit_lines = kind in (_SALES_INVOICE, _MONEY_IN, _SALES_PAYMENT)
        sign = Decimal(-1) if credit_lines else Decimal(1)
        postings: list[tuple[str, Decimal, int]] = []
        for line in mutation.lines:
            centre = line.cost_centre_id
            if kind in _PAYMENTS:
                postings.append((line.ledger_code, sign * line.amount_incl, centre))
                continue
            postings.append((line.ledger_code, sign * line.amount_excl, centre))
            vat_ledger = self._vat_ledger(line.vat_code)
            if line.vat_amount and vat_ledger is not None:
                postings.append((vat_ledger, sign * line.vat_amount, centre))
        if header and kind != "OpeningsSaldo":
            postings.append((header, -sign * mutation.total_incl, 0))
        return postings

    def _vat_ledger(self, vat_code: str) -> str | None:
        vat = VAT_CODES.get(vat_code)
        if vat is None:
            return None
        if vat.kind == "purchase":
            category = "VOOR"
        elif vat.code.startswith("HOOG"):
            category = "AF19"
        elif vat.code.startswith("LAAG"):
            category = "AF6"
        else:
            category = "AFOVERIG"
        return next(
            (code for code, ledger in sorted(self._ledgers.items()) if ledger.category == category),
            None,
        )

    # --- checks ----------------------------------------------------------------------

    def _check_mutation(self, draft: MutationRecord) -> None:
        kind = draft.kind
        if kind not in MUTATION_KINDS:
            raise InBandError.of("MUT_001", value=kind)
        if draft.date is None or draft.date <= dt.date(1900, 1, 1):
            raise InBandError.of("MUT_003")  # .NET sends DateTime.MinValue for a missing date
        self._check_header(draft)
        # Assumption: invoices and payments need a relation and an invoice number;
        # a payment's invoice must exist for that relation (REST MUT_012/MUT_120/MUT_115).
        if kind in _INVOICES | _PAYMENTS:
            if not draft.relation_code:
                raise InBandError.of("MUT_012")
            if not draft.invoice_number:
                raise InBandError.of("MUT_120" if kind in _PAYMENTS else "MUT_002")
        if draft.relation_code and self.relation(draft.relation_code) is None:
            raise InBandError.of("MUT_013", code=draft.relation_code)
        in_ex = draft.in_ex_vat or ""
        if in_ex not in ("IN", "EX") and (in_ex or kind in _WITH_VAT):
            raise InBandError.of("MUT_017")
        if not draft.lines:
            raise InBandError.of("MUT_100")
        for number, line in enumerate(draft.lines, start=1):
            self._check_line(draft, line, number)
        if kind in _PAYMENTS and not self._invoice_exists(draft):
            raise InBandError.of(
                "MUT_115", invoice=draft.invoice_number, relation=draft.relation_code
            )
        if kind in _INVOICES and self.reject_duplicate_invoices and self._invoice_exists(draft):
            raise InBandError.of(
                "MUT_020", relation=draft.relation_code, invoice=draft.invoice_number
            )

    def _check_header(self, draft: MutationRecord) -> None:
        code = draft.ledger_code
        wanted = _HEADER_CATEGORY.get(draft.kind)
        if not code:
            if wanted is not None:
                raise InBandError.of("MUTA_001")
            return
        ledger = self._ledgers.get(code)
        if ledger is None:
            raise InBandError.of("MUT_007", code=code)
        if wanted is None or ledger.category == wanted:
            return
        if wanted == "DEB":
            raise InBandError.of("MUT_011", code=code)
        if wanted == "CRED":
            raise InBandError.of("MUT_010", code=code)
        raise InBandError.of("MUT_009", code=code, category=ledger.category)

    def _check_line(self, draft: MutationRecord, line: LineRecord, number: int) -> None:
        kind = draft.kind
        ledger = self._ledgers.get(line.ledger_code)
        if ledger is None:
            raise InBandError.of("MUT_104", code=line.ledger_code, line=number)
        if kind in _WITH_VAT and ledger.category in _BALANCING:
            raise InBandError.of(
                "MUT_106", code=line.ledger_code, line=number, category=ledger.category
            )
        if kind == _SALES_PAYMENT and ledger.category != "DEB":
            raise InBandError.of("MUT_108", code=line.ledger_code, line=number)
        if kind == _PURCHASE_PAYMENT and ledger.category != "CRED":
            raise InBandError.of("MUT_107", code=line.ledger_code, line=number)
        vat = VAT_CODES.get(line.vat_code)
        if vat is None:
            raise InBandError.of("MUT_109", code=line.vat_code or "(leeg)", line=number)
        if kind in (_SALES_INVOICE, _MONEY_IN) and vat.kind == "purchase":
            raise InBandError.of("MUT_111", code=line.vat_code, line=number)
        if kind in (_PURCHASE_INVOICE, _MONEY_OUT) and vat.kind == "sale":
            raise InBandError.of("MUT_110", code=line.vat_code, line=number)
        if kind == _PURCHASE_INVOICE and vat.reverse_charge and draft.in_ex_vat != "EX":
            raise InBandError.of("MUT_026")
        if line.cost_centre_id and line.cost_centre_id not in self._cost_centres:
            raise InBandError.of("MUT_117", id=line.cost_centre_id, line=number)
        # Assumption: the service keeps the amounts it is sent (whether it
        # recomputes them from BTWCode is unverified) but refuses a line whose
        # amounts do not add up.
        if line.amount_excl + line.vat_amount != line.amount_incl:
            detail = f"regel {number}: BedragExclBTW + BedragBTW <> BedragInclBTW"
            raise InBandError.of("ERR_002", detail=detail)
        entered = {"IN": line.amount_incl, "EX": line.amount_excl}.get(draft.in_ex_vat or "")
        if entered is not None and line.amount_entered != entered:
            detail = f"regel {number}: BedragInvoer past niet bij InExBTW {draft.in_ex_vat}"
            raise InBandError.of("ERR_002", detail=detail)

    def _invoice_exists(self, draft: MutationRecord) -> bool:
        invoice_kind = _INVOICE_FOR.get(draft.kind, draft.kind)
        return any(
            m.kind == invoice_kind and _fold(m.relation_code) == _fold(draft.relation_code)
            for m in self._by_invoice.get(_fold(draft.invoice_number), [])
        )
