"""The VAT table: canonical VAT category → remote VAT code and ledger, and the booking breakdown.

Everything here is plain data and pure functions. It never imports a
connector: the codes and ledgers a table is checked against come in as
arguments (`EBOEKHOUDEN_VAT_CODES` is the documented e-Boekhouden list,
copied here as data).
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Collection, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from ..errors import MappingError, ValidationError
from ..models import Invoice, InvoiceKind, InvoiceLine, VatCategory

__all__ = [
    "EBOEKHOUDEN_VAT_CODES",
    "BookingLine",
    "ProductGroupLedger",
    "VatCode",
    "VatRow",
    "VatTable",
    "VatTarget",
    "vat_breakdown",
    "vat_rate",
]

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")
HIGH_21_FROM = dt.date(2012, 10, 1)
"""The Dutch high rate went from 19 % to 21 % on this date."""
LOW_9_FROM = dt.date(2019, 1, 1)
"""The Dutch low rate went from 6 % to 9 % on this date."""

RowKey = tuple[InvoiceKind, VatCategory]


def _cents(amount: Decimal) -> Decimal:
    """Round to cents, half up: ties go away from zero, so credit notes mirror invoices."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _to_kind(value: InvoiceKind | str, field: str = "kind") -> InvoiceKind:
    try:
        return InvoiceKind(value)
    except ValueError:
        raise ValidationError(field, value, "expected 'sales' or 'purchase'") from None


def _to_category(value: VatCategory | str, field: str = "category") -> VatCategory:
    try:
        return VatCategory(value)
    except ValueError:
        expected = ", ".join(category.value for category in VatCategory)
        raise ValidationError(
            field, value, f"not a VAT category; expected one of {expected}"
        ) from None


def _non_empty(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(attribute.name, value, "must be a non-empty string")


# --------------------------------------------------------------------------
# Remote VAT codes and the Dutch rates


@attrs.frozen
class VatCode:
    """A VAT code of a bookkeeping service, with what booking it needs to know.

    Attributes:
        code: The remote code, e.g. ``"HOOG_VERK_21"`` (e-Boekhouden ``BTWCode``).
        rate: The percentage; for a reverse-charge code the notional rate the
            customer accounts for. ``None`` for a deviating-rate code
            (``AFW``), whose VAT amount cannot be computed from a rate.
        kind: Sales or purchase; ``None`` when the code fits both (``GEEN``).
        reverse_charge: The customer accounts for the VAT (btw verlegd), so
            none is charged on the invoice.
        valid_from: First invoice date the code applies to, if limited.
        valid_until: Cut-off date: the code applies to invoice dates *before* it.
        replaces: The code this one took over from on ``valid_from``.
        description: The service's description.

    Example:
        >>> EBOEKHOUDEN_VAT_CODES["LAAG_VERK"].valid_until
        datetime.date(2019, 1, 1)
    """

    code: str
    rate: Decimal | None
    kind: InvoiceKind | None
    reverse_charge: bool = False
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    replaces: str | None = None
    description: str = ""

    @property
    def charged_rate(self) -> Decimal | None:
        """The rate charged on the invoice: the rate, or 0 for reverse charge."""
        return Decimal(0) if self.reverse_charge else self.rate

    def applies_on(self, on: dt.date) -> bool:
        """Whether the code applies to an invoice dated ``on``."""
        starts = self.valid_from is None or self.valid_from <= on
        return starts and (self.valid_until is None or on < self.valid_until)


def _vat_codes(*codes: VatCode) -> Mapping[str, VatCode]:
    return MappingProxyType({code.code: code for code in codes})


_S, _P = InvoiceKind.SALES, InvoiceKind.PURCHASE

EBOEKHOUDEN_VAT_CODES: Mapping[str, VatCode] = _vat_codes(
    VatCode("HOOG_VERK_21", Decimal(21), _S, valid_from=HIGH_21_FROM, replaces="HOOG_VERK",
            description="BTW hoog, verkopen 21%"),
    VatCode("HOOG_VERK", Decimal(19), _S, valid_until=HIGH_21_FROM,
            description="BTW hoog, verkopen (19%, before 2012-10-01)"),
    VatCode("LAAG_VERK_9", Decimal(9), _S, valid_from=LOW_9_FROM, replaces="LAAG_VERK",
            description="BTW laag, verkopen 9%"),
    VatCode("LAAG_VERK", Decimal(6), _S, valid_until=LOW_9_FROM,
            description="BTW laag, verkopen (6%, before 2019-01-01)"),
    VatCode("VERL_VERK", Decimal(21), _S, reverse_charge=True, description="BTW verlegd 21%"),
    VatCode("VERL_VERK_L9", Decimal(9), _S, reverse_charge=True, description="BTW verlegd 9%"),
    VatCode("AFW_VERK", None, _S, description="Afwijkend btw-tarief verkoop"),
    VatCode("BU_EU_VERK", Decimal(0), _S, description="Leveringen naar buiten de EU 0%"),
    # The REST table lists BI_EU_VERK as "Purchase"; the SOAP manual and every peer: sale.
    VatCode("BI_EU_VERK", Decimal(0), _S, description="Goederen naar binnen de EU 0%"),
    VatCode("BI_EU_VERK_D", Decimal(0), _S, description="Diensten naar binnen de EU 0%"),
    VatCode("AFST_VERK", Decimal(0), _S, description="Afstandsverkopen naar binnen de EU 0%"),
    VatCode("HOOG_INK_21", Decimal(21), _P, valid_from=HIGH_21_FROM, replaces="HOOG_INK",
            description="BTW hoog, inkopen 21%"),
    VatCode("HOOG_INK", Decimal(19), _P, valid_until=HIGH_21_FROM,
            description="BTW hoog, inkopen (19%, before 2012-10-01)"),
    VatCode("LAAG_INK_9", Decimal(9), _P, valid_from=LOW_9_FROM, replaces="LAAG_INK",
            description="BTW laag, inkopen 9%"),
    VatCode("LAAG_INK", Decimal(6), _P, valid_until=LOW_9_FROM,
            description="BTW laag, inkopen (6%, before 2019-01-01)"),
    VatCode("VERL_INK", Decimal(21), _P, reverse_charge=True,
            description="BTW verlegd, hoog, inkopen"),
    VatCode("VERL_INK_L9", Decimal(9), _P, reverse_charge=True, valid_from=LOW_9_FROM,
            replaces="VERL_INK_L", description="BTW verlegd, laag, inkopen 9%"),
    VatCode("VERL_INK_L", Decimal(6), _P, reverse_charge=True, valid_until=LOW_9_FROM,
            description="BTW verlegd, laag, inkopen 6%"),
    VatCode("AFW", None, _P, description="Afwijkend btw-tarief"),
    VatCode("BU_EU_INK", Decimal(0), _P, description="Leveringen/diensten van buiten de EU 0%"),
    VatCode("BI_EU_INK", Decimal(0), _P, description="Leveringen/diensten van binnen de EU 0%"),
    VatCode("GEEN", Decimal(0), None, description="Geen BTW"),
)  # fmt: skip
"""e-Boekhouden's Dutch VAT codes (``BTWCode``), from its manual and its REST VAT table.

Read-only. Dates follow Dutch law: the 21 % codes from 2012-10-01, the 9 %
codes from 2019-01-01, each replacing the older code. Belgian codes
(``BE_…``, for e-boekhouden.be) are not listed.
"""

_LEGAL_RATES: Mapping[VatCategory, tuple[tuple[dt.date, Decimal], ...]] = MappingProxyType(
    {
        VatCategory.NL_HIGH: ((dt.date.min, Decimal(19)), (HIGH_21_FROM, Decimal(21))),
        VatCategory.NL_LOW: ((dt.date.min, Decimal(6)), (LOW_9_FROM, Decimal(9))),
    }
)


def vat_rate(category: VatCategory, on: dt.date) -> Decimal:
    """The Dutch VAT rate charged on an invoice, in percent, decided by the invoice date.

    Only the NL high and low categories charge VAT; the others charge 0 %
    (reverse charge included: the customer accounts for it).

    Args:
        category: The VAT category of the line.
        on: The invoice date.

    Returns:
        The percentage, e.g. ``Decimal('9')``.

    Example:
        >>> import datetime as dt
        >>> from crmconnect.models import VatCategory
        >>> vat_rate(VatCategory.NL_LOW, dt.date(2018, 12, 31))
        Decimal('6')
        >>> vat_rate(VatCategory.NL_LOW, dt.date(2019, 1, 1))
        Decimal('9')
    """
    periods = _LEGAL_RATES.get(VatCategory(category), ((dt.date.min, Decimal(0)),))
    return next(rate for start, rate in reversed(periods) if start <= on)


def _successor(code: VatCode, codes: Mapping[str, VatCode]) -> VatCode | None:
    return next((other for other in codes.values() if other.replaces == code.code), None)


def _resolve(code: VatCode, on: dt.date, codes: Mapping[str, VatCode]) -> VatCode:
    """The code that applies on a date: follow ``replaces`` forwards or backwards."""
    current, seen = code, {code.code}
    while not current.applies_on(on):
        if current.valid_until is not None and on >= current.valid_until:
            following = _successor(current, codes)
        else:
            following = codes.get(current.replaces) if current.replaces else None
        if following is None or following.code in seen:
            chain = "nor any code it replaces or that replaces it"
            raise MappingError(f"VAT code {code.code} does not apply on {on}, {chain}")
        current = following
        seen.add(current.code)
    return current


# --------------------------------------------------------------------------
# Rows and results


@attrs.frozen
class VatRow:
    """One row of a VAT table: a category of sales or purchase invoices → VAT code and ledger.

    Attributes:
        kind: Sales or purchase.
        category: The canonical VAT category.
        vat_code: The remote VAT code; for a rate that changed over time, any
            code of the chain (``LAAG_VERK_9`` or ``LAAG_VERK``): the invoice
            date picks the one that applies.
        ledger: The revenue (sales) or cost (purchase) ledger code.

    Example:
        >>> VatRow("sales", "nl_high", "HOOG_VERK_21", "8000").category
        <VatCategory.NL_HIGH: 'nl_high'>
    """

    kind: InvoiceKind = attrs.field(converter=_to_kind)
    category: VatCategory = attrs.field(converter=_to_category)
    vat_code: str = attrs.field(validator=_non_empty)
    ledger: str = attrs.field(validator=_non_empty)

    @property
    def key(self) -> RowKey:
        """``(kind, category)``: a table has at most one row per key."""
        return (self.kind, self.category)

    @property
    def path(self) -> str:
        """Where the row sits in a TOML table, e.g. ``"sales.nl_high"``."""
        return f"{self.kind.value}.{self.category.value}"


@attrs.frozen
class ProductGroupLedger:
    """A ledger for a product group: its lines book there instead of on the VAT row's ledger.

    Attributes:
        kind: Sales or purchase.
        product_group: The host's product group, as on `InvoiceLine.product_group`.
        ledger: The revenue (sales) or cost (purchase) ledger code.
    """

    kind: InvoiceKind = attrs.field(converter=_to_kind)
    product_group: str = attrs.field(validator=_non_empty)
    ledger: str = attrs.field(validator=_non_empty)


@attrs.frozen
class VatTarget:
    """Where an invoice line goes: the VAT code that applies on the date, its rate and the ledger.

    Attributes:
        vat_code: The remote VAT code.
        rate: The rate charged on the invoice, in percent (0 for reverse charge).
        ledger: The ledger code.
    """

    vat_code: str
    rate: Decimal
    ledger: str


@attrs.frozen
class BookingLine:
    """One line of a booking: the sum of an invoice's lines with one VAT code on one ledger.

    All amounts are in cents and ``amount_excl + vat_amount == amount_incl`` exactly.

    Attributes:
        vat_code: The remote VAT code (e-Boekhouden ``BTWCode``).
        ledger: The revenue or cost ledger (``TegenrekeningCode``).
        rate: The rate charged, in percent (``BTWPercentage``).
        amount_excl: Amount excluding VAT (``BedragExclBTW``).
        vat_amount: The VAT (``BedragBTW``).
        amount_incl: Amount including VAT (``BedragInclBTW``).
    """

    vat_code: str
    ledger: str
    rate: Decimal
    amount_excl: Decimal
    vat_amount: Decimal
    amount_incl: Decimal

    def __attrs_post_init__(self) -> None:
        if self.amount_excl + self.vat_amount != self.amount_incl:
            reason = f"{self.amount_excl} + {self.vat_amount} is not {self.amount_incl}"
            raise ValidationError("amount_incl", self.amount_incl, reason)


# --------------------------------------------------------------------------
# Table validation


def _index_rows(rows: Iterable[VatRow]) -> dict[RowKey, VatRow]:
    index: dict[RowKey, VatRow] = {}
    for row in rows:
        if row.key in index:
            reason = f"duplicate row: {index[row.key].vat_code}/{index[row.key].ledger} already"
            raise ValidationError(row.path, f"{row.vat_code}/{row.ledger}", reason)
        index[row.key] = row
    return index


def _index_groups(groups: Iterable[ProductGroupLedger]) -> dict[tuple[InvoiceKind, str], str]:
    index: dict[tuple[InvoiceKind, str], str] = {}
    for group in groups:
        key = (group.kind, group.product_group)
        if key in index:
            path = f"{group.kind.value}.product_groups.{group.product_group}"
            raise ValidationError(
                path, group.ledger, f"duplicate product group: {index[key]} already"
            )
        index[key] = group.ledger
    return index


def _check_code(row: VatRow, codes: Mapping[str, VatCode]) -> None:
    field = f"{row.path}.vat_code"
    code = codes.get(row.vat_code)
    if code is None:
        raise ValidationError(field, row.vat_code, "unknown VAT code")
    if code.kind not in (None, row.kind):
        raise ValidationError(
            field, row.vat_code, f"a {code.kind} code cannot book {row.kind} invoices"
        )
    if code.rate is None:
        raise ValidationError(
            field, row.vat_code, "a deviating-rate code has no rate to compute VAT with"
        )
    _check_rates(row, code, codes)


def _sample_dates(codes: Mapping[str, VatCode]) -> list[dt.date]:
    """Every date a rate or a code changes: rates are constant in between."""
    dates = {dt.date.min, *(start for periods in _LEGAL_RATES.values() for start, _ in periods)}
    for code in codes.values():
        dates.update(day for day in (code.valid_from, code.valid_until) if day is not None)
    return sorted(dates, reverse=True)


def _check_rates(row: VatRow, code: VatCode, codes: Mapping[str, VatCode]) -> None:
    for day in _sample_dates(codes):
        try:
            applied = _resolve(code, day, codes)
        except MappingError:
            continue  # not covered on that date: an invoice then raises MappingError
        legal = vat_rate(row.category, day)
        if applied.kind not in (None, row.kind) or applied.charged_rate != legal:
            means = f"{applied.code} at {applied.charged_rate} %"
            reason = f"on {day} it means {means}, but {row.category} is {legal} %"
            raise ValidationError(f"{row.path}.vat_code", row.vat_code, reason)


def _check_ledgers(table: VatTable, known_ledgers: Collection[str]) -> None:
    for row in table.rows:
        if row.ledger not in known_ledgers:
            raise ValidationError(f"{row.path}.ledger", row.ledger, "unknown ledger")
    for group in table.product_groups:
        if group.ledger not in known_ledgers:
            path = f"{group.kind.value}.product_groups.{group.product_group}"
            raise ValidationError(path, group.ledger, "unknown ledger")


def _required(categories: Iterable[VatCategory | str] | None) -> frozenset[VatCategory]:
    if categories is None:
        return frozenset(VatCategory.__members__.values())
    return frozenset(_to_category(category) for category in categories)


def _check_holes(index: Mapping[RowKey, VatRow], required: frozenset[VatCategory]) -> None:
    for kind in InvoiceKind:
        if not any(key[0] is kind for key in index):
            continue  # the table does not book this kind at all
        for category in VatCategory:
            if category in required and (kind, category) not in index:
                reason = "no row for this category (leave it out of required_categories if unused)"
                raise ValidationError(f"{kind.value}.{category.value}", None, reason)


# --------------------------------------------------------------------------
# The table


@attrs.frozen(init=False)
class VatTable:
    """The VAT table of one administration: immutable, validated when it is built.

    One row per invoice kind and VAT category gives the remote VAT code and
    the ledger; optional product-group ledgers override the ledger for the
    lines of a group. Build it in code or read it with `from_toml`.

    Validation refuses: an empty table; a VAT code not in ``known_vat_codes``
    or of the wrong kind (a sales code on a purchase row) or without a rate;
    a code whose rate does not fit the category on some date; a ledger not in
    ``known_ledgers`` (when given); two rows for one kind and category (or two
    ledgers for one product group); and a hole: a kind with rows that lacks a
    row for a required category. Each failure raises
    `crmconnect.errors.ValidationError` naming the row, e.g. ``sales.nl_low.vat_code``.

    Args:
        rows: The VAT rows.
        product_groups: Ledgers per product group.
        required_categories: The categories every booked kind must cover
            (default: all of `VatCategory`).
        known_vat_codes: The VAT codes the service offers, with their rates
            (default: `EBOEKHOUDEN_VAT_CODES`).
        known_ledgers: The ledger codes of the administration; ``None`` skips the check.
        administration: A label for messages, e.g. the administration's name.

    Example:
        >>> import datetime as dt
        >>> from crmconnect.models import InvoiceKind, VatCategory
        >>> table = VatTable(
        ...     [VatRow("sales", "nl_high", "HOOG_VERK_21", "8000"),
        ...      VatRow("sales", "nl_low", "LAAG_VERK_9", "8001")],
        ...     [ProductGroupLedger("sales", "consultancy", "8011")],
        ...     required_categories=["nl_high", "nl_low"],
        ... )
        >>> table.lookup(InvoiceKind.SALES, VatCategory.NL_LOW, dt.date(2018, 6, 1))
        VatTarget(vat_code='LAAG_VERK', rate=Decimal('6'), ledger='8001')
        >>> table.lookup(InvoiceKind.SALES, VatCategory.NL_HIGH, dt.date(2024, 6, 1), "consultancy")
        VatTarget(vat_code='HOOG_VERK_21', rate=Decimal('21'), ledger='8011')
    """

    rows: tuple[VatRow, ...]
    product_groups: tuple[ProductGroupLedger, ...]
    required_categories: frozenset[VatCategory]
    administration: str | None
    vat_codes: Mapping[str, VatCode] = attrs.field(eq=False, repr=False)
    _rows_by_key: Mapping[RowKey, VatRow] = attrs.field(eq=False, repr=False)
    _group_ledgers: Mapping[tuple[InvoiceKind, str], str] = attrs.field(eq=False, repr=False)

    def __init__(
        self,
        rows: Iterable[VatRow],
        product_groups: Iterable[ProductGroupLedger] = (),
        *,
        required_categories: Iterable[VatCategory | str] | None = None,
        known_vat_codes: Mapping[str, VatCode] = EBOEKHOUDEN_VAT_CODES,
        known_ledgers: Collection[str] | None = None,
        administration: str | None = None,
    ) -> None:
        rows, groups = tuple(rows), tuple(product_groups)
        if not rows:
            raise ValidationError("rows", rows, "a VAT table needs at least one row")
        required = _required(required_categories)
        index = _index_rows(rows)
        for row in rows:
            _check_code(row, known_vat_codes)
        _check_holes(index, required)
        self.__attrs_init__(
            rows=rows,
            product_groups=groups,
            required_categories=required,
            administration=administration,
            vat_codes=MappingProxyType(dict(known_vat_codes)),
            rows_by_key=MappingProxyType(index),
            group_ledgers=MappingProxyType(_index_groups(groups)),
        )
        if known_ledgers is not None:
            _check_ledgers(self, known_ledgers)

    def validate(
        self,
        *,
        known_vat_codes: Collection[str] | None = None,
        known_ledgers: Collection[str] | None = None,
    ) -> None:
        """Check the table against the codes and ledgers of the live administration.

        Use it when the table was read before the connector could say what the
        administration has, e.g. with the ledger codes from e-Boekhouden's
        ``GetGrootboekrekeningen``. Only the codes the rows name are checked.

        Args:
            known_vat_codes: The VAT codes the administration offers.
            known_ledgers: The ledger codes of the administration.

        Raises:
            ValidationError: A row names a code or a ledger not in the sets.
        """
        if known_vat_codes is not None:
            for row in self.rows:
                if row.vat_code not in known_vat_codes:
                    raise ValidationError(f"{row.path}.vat_code", row.vat_code, "unknown VAT code")
        if known_ledgers is not None:
            _check_ledgers(self, known_ledgers)

    def row(self, kind: InvoiceKind, category: VatCategory) -> VatRow | None:
        """The row for a kind and a category, or ``None`` when the table does not cover it."""
        return self._rows_by_key.get((kind, category))

    def lookup(
        self,
        kind: InvoiceKind,
        category: VatCategory,
        on: dt.date,
        product_group: str | None = None,
    ) -> VatTarget:
        """Where a line goes: the code that applies on the date, its rate and the ledger.

        The product group's ledger wins over the VAT row's ledger when the
        table has one for the group.

        Args:
            kind: Sales or purchase.
            category: The line's VAT category.
            on: The invoice date.
            product_group: The line's product group, if any.

        Raises:
            MappingError: The table has no row for the kind and category, or
                no code of the row's chain applies on the date.
        """
        row = self._rows_by_key.get((kind, category))
        if row is None:
            where = f" of {self.administration}" if self.administration else ""
            covered = f"is not covered by the VAT table{where}"
            raise MappingError(
                f"VAT category {category.value!r} of {kind.value} invoices {covered}"
            )
        code = _resolve(self.vat_codes[row.vat_code], on, self.vat_codes)
        ledger = self._group_ledgers.get((kind, product_group or ""), row.ledger)
        return VatTarget(vat_code=code.code, rate=_charged(code), ledger=ledger)

    @classmethod
    def from_toml(
        cls,
        source: str | os.PathLike[str],
        *,
        known_vat_codes: Mapping[str, VatCode] = EBOEKHOUDEN_VAT_CODES,
        known_ledgers: Collection[str] | None = None,
    ) -> VatTable:
        """Read a table from a TOML file or TOML text (format: see `from_dict` and the docs).

        A `pathlib.Path` (any path-like) is read as a file; a `str` is TOML
        text when it contains ``=``, and a file name otherwise.

        Args:
            source: A path, or the TOML text itself.
            known_vat_codes: As for `VatTable`.
            known_ledgers: As for `VatTable`.

        Raises:
            ValidationError: The file cannot be read (missing, a directory, not
                UTF-8), the text is not TOML, or the table is not valid.

        Example:
            >>> from crmconnect.models import InvoiceKind, VatCategory
            >>> VatTable.from_toml('''
            ... required_categories = ["nl_high"]
            ... [sales]
            ... nl_high = { vat_code = "HOOG_VERK_21", ledger = "8000" }
            ... ''').row(InvoiceKind.SALES, VatCategory.NL_HIGH)
            VatRow(kind=<InvoiceKind.SALES: 'sales'>, category=<VatCategory.NL_HIGH: ...>, ...)
        """
        is_text = isinstance(source, str) and "=" in source
        label = "<text>" if is_text else os.fspath(source)
        try:
            text = source if is_text else Path(source).read_text(encoding="utf-8")
            data = tomllib.loads(str(text))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            problem = "TOML syntax error" if isinstance(error, ValueError) else "cannot be read"
            failure = ValidationError("vat_table", label, f"{problem}: {error}")
        else:
            return cls.from_dict(data, known_vat_codes=known_vat_codes, known_ledgers=known_ledgers)
        raise failure  # outside the except: nothing chained

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        known_vat_codes: Mapping[str, VatCode] = EBOEKHOUDEN_VAT_CODES,
        known_ledgers: Collection[str] | None = None,
    ) -> VatTable:
        """Build a table from plain data, shaped like the TOML file.

        ``{"administration": str, "required_categories": [str],
        "sales": {category: {"vat_code": str, "ledger": str}, "product_groups": {group: ledger}},
        "purchase": {...}}``; every key but one kind is optional.

        Raises:
            ValidationError: The data has an unknown key or a wrong type, or
                the table is not valid.
        """
        _check_keys(data, _TOP_KEYS, "")
        administration = data.get("administration")
        if administration is not None and not isinstance(administration, str):
            raise ValidationError("administration", administration, "must be a string")
        rows: list[VatRow] = []
        groups: list[ProductGroupLedger] = []
        for kind in InvoiceKind:
            section = _table(data.get(kind.value, {}), kind.value)
            for name, value in section.items():
                if name == "product_groups":
                    groups.extend(_parse_groups(kind, value))
                else:
                    rows.append(_parse_row(kind, name, value))
        return cls(
            rows,
            groups,
            required_categories=_parse_required(data.get("required_categories")),
            known_vat_codes=known_vat_codes,
            known_ledgers=known_ledgers,
            administration=administration,
        )


def _charged(code: VatCode) -> Decimal:
    rate = code.charged_rate
    if rate is None:  # pragma: no cover - refused when the table is built
        raise MappingError(f"VAT code {code.code} has no rate")
    return rate


# --------------------------------------------------------------------------
# Plain data (TOML) → rows

_TOP_KEYS = frozenset({"administration", "required_categories", "sales", "purchase"})
_ROW_KEYS = frozenset({"vat_code", "ledger"})


def _check_keys(data: Mapping[str, Any], allowed: frozenset[str], prefix: str) -> None:
    for key, value in data.items():
        if key not in allowed:
            expected = ", ".join(sorted(allowed))
            raise ValidationError(f"{prefix}{key}", value, f"unknown key; expected {expected}")


def _table(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(field, value, "must be a table")
    return value


def _code_string(value: object, field: str) -> str:
    if isinstance(value, int | float):
        reason = 'write codes as strings ("8000"): a number loses leading zeros'
        raise ValidationError(field, value, reason)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, value, "must be a non-empty string")
    return value.strip()


def _parse_row(kind: InvoiceKind, name: str, value: object) -> VatRow:
    path = f"{kind.value}.{name}"
    category = _to_category(name, path)
    cells = _table(value, path)
    _check_keys(cells, _ROW_KEYS, f"{path}.")
    if cells.keys() < _ROW_KEYS:
        raise ValidationError(path, dict(cells), "needs vat_code and ledger")
    vat_code = _code_string(cells["vat_code"], f"{path}.vat_code")
    ledger = _code_string(cells["ledger"], f"{path}.ledger")
    return VatRow(kind, category, vat_code, ledger)


def _parse_groups(kind: InvoiceKind, value: object) -> list[ProductGroupLedger]:
    path = f"{kind.value}.product_groups"
    return [
        ProductGroupLedger(kind, group, _code_string(ledger, f"{path}.{group}"))
        for group, ledger in _table(value, path).items()
    ]


def _parse_required(value: object) -> list[VatCategory] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValidationError("required_categories", value, "must be a list of VAT categories")
    return [_to_category(item, f"required_categories[{i}]") for i, item in enumerate(value)]


# --------------------------------------------------------------------------
# Booking breakdown


def vat_breakdown(invoice: Invoice, table: VatTable) -> list[BookingLine]:
    """Split an invoice into booking lines: one per VAT code and ledger.

    Every line is first looked up in the table, so an uncovered category
    raises before anything is computed. Then, per invoice line,
    ``quantity × unit_price`` is rounded to cents (half up, away from zero on
    a tie, so a credit note mirrors its invoice); the rounded amounts are
    summed per (VAT code, ledger) and VAT is computed once per group:

    * excluding VAT: ``vat = round(excl × rate / 100)``, ``incl = excl + vat``;
    * including VAT: ``excl = round(incl × 100 / (100 + rate))``, ``vat = incl - excl``.

    So ``amount_excl + vat_amount == amount_incl`` exactly, all amounts are
    `Decimal` cents, and zero-rate codes give no VAT. Lines come in the
    order their group first appears on the invoice.

    Args:
        invoice: The invoice (or credit note).
        table: The administration's VAT table.

    Returns:
        The booking lines.

    Raises:
        MappingError: A line's category is not covered for the invoice's kind
            and date; the message names the invoice and the line.

    Example:
        >>> import datetime as dt
        >>> from crmconnect.models import Invoice, InvoiceLine
        >>> table = VatTable([VatRow("sales", "nl_high", "HOOG_VERK_21", "8000")],
        ...                  required_categories=["nl_high"])
        >>> invoice = Invoice(number="2024-001", relation_code="1001", date=dt.date(2024, 3, 1),
        ...     lines=[InvoiceLine(unit_price="0.01", vat_category="nl_high")] * 100)
        >>> [line] = vat_breakdown(invoice, table)
        >>> line.vat_code, line.amount_excl, line.vat_amount, line.amount_incl
        ('HOOG_VERK_21', Decimal('1.00'), Decimal('0.21'), Decimal('1.21'))
    """
    targets = [
        _target(invoice, number, line, table) for number, line in enumerate(invoice.lines, 1)
    ]
    totals: dict[VatTarget, Decimal] = {}
    for line, target in zip(invoice.lines, targets, strict=True):
        totals[target] = totals.get(target, ZERO) + line.amount
    return [
        _booking_line(target, total, invoice.amounts_include_vat)
        for target, total in totals.items()
    ]


def _target(invoice: Invoice, number: int, line: InvoiceLine, table: VatTable) -> VatTarget:
    try:
        return table.lookup(invoice.kind, line.vat_category, invoice.date, line.product_group)
    except MappingError as error:
        raise MappingError(
            f"invoice {invoice.number!r}, line {number} ({line.description!r}): {error}"
        ) from error


def _booking_line(target: VatTarget, total: Decimal, include_vat: bool) -> BookingLine:
    rate = target.rate
    if include_vat:
        excl = _cents(total * HUNDRED / (HUNDRED + rate))
        vat = total - excl
    else:
        excl = total
        vat = _cents(total * rate / HUNDRED)
    return BookingLine(
        vat_code=target.vat_code,
        ledger=target.ledger,
        rate=rate.quantize(CENT),
        amount_excl=excl,
        vat_amount=vat,
        amount_incl=excl + vat,
    )
