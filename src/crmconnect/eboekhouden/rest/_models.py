"""Wire format of e-Boekhouden's REST API v1 ↔ the connector's models.

The REST backend returns the same models as the SOAP one (`Relation`,
`Mutation`, `OpenItem`, ...). The JSON names live in plain tables
(`RELATION_FIELDS`, `MUTATION_TYPES`), so a host can correct one without a
release.

Remote quirks handled here:

* amounts are JSON numbers (doubles): they are read with ``parse_float=Decimal``
  and quantised to cents; they are written from `Decimal` cents, whose
  shortest float representation is the same decimal text;
* a mutation row carries one ``amount`` (incl. or excl. VAT as ``inExVat``
  says); the service computes the VAT from ``vatCode``, so lines read back are
  completed here the same way (half up, per row);
* REST works with numeric IDs of ledgers and relations where SOAP takes codes:
  the client resolves them (see `EBoekhoudenRestClient`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ...mapping import EBOEKHOUDEN_VAT_CODES
from .._models import (
    Administration,
    CostCentre,
    InExVat,
    Ledger,
    Mutation,
    MutationKind,
    MutationLine,
    OpenItem,
    Relation,
    money,
)

__all__ = [
    "MUTATION_TYPES",
    "RELATION_FIELDS",
    "administration_from_json",
    "cost_centre_from_json",
    "json_amount",
    "ledger_from_json",
    "mutation_from_json",
    "open_item_from_json",
    "relation_from_json",
    "relation_to_json",
    "rest_field",
]

CENT = Decimal("0.01")

RELATION_FIELDS: list[tuple[str, str]] = [
    ("code", "code"),
    ("type", "type"),
    ("company", "name"),
    ("contact_person", "contact"),
    ("gender", "gender"),
    ("salutation", "salutation"),
    ("address", "address"),
    ("postcode", "postalCode"),
    ("city", "city"),
    ("country", "country"),
    ("postal_address", "address2"),
    ("postal_postcode", "postalCode2"),
    ("postal_city", "city2"),
    ("postal_country", "country2"),
    ("phone", "phoneNumber"),
    ("mobile", "mobilePhoneNumber"),
    ("fax", "faxNumber"),
    ("email", "emailAddress"),
    ("website", "website"),
    ("note", "note"),
    ("vat_number", "vatNumber"),
    ("kvk_number", "companyRegistrationNumber"),
    ("iban", "iban"),
    ("bic", "bic"),
    *((f"def{n}", f"freeText{n}") for n in range(1, 11)),
]
"""`Relation` attribute ↔ REST JSON name (``CreateRelation``, eboekhouden.md §2.4).

Not on REST: ``member`` (SOAP ``LA``), ``newsletter_groups``. ``ledger_id``
and ``no_newsletter`` are mapped in code (``ledgerId``, ``doNotReceiveNewsletters``).
"""

MUTATION_TYPES: dict[int, MutationKind] = {
    0: MutationKind.OPENING_BALANCE,
    1: MutationKind.PURCHASE_INVOICE,
    2: MutationKind.SALES_INVOICE,
    3: MutationKind.SALES_PAYMENT,
    4: MutationKind.PURCHASE_PAYMENT,
    5: MutationKind.MONEY_RECEIVED,
    6: MutationKind.MONEY_SPENT,
    7: MutationKind.JOURNAL,
}
"""REST mutation ``type`` → kind: 1..7 are the SOAP ``Soort`` values in order.

Assumption: 0 is the opening balance (REST documents 1..7 only).
"""
TYPE_OF_KIND = {kind: number for number, kind in MUTATION_TYPES.items()}


def rest_field(json_name: str | None) -> str | None:
    """Our attribute name for a REST JSON (property) name, e.g. ``emailAddress`` → ``email``."""
    if not json_name:
        return None
    wanted = json_name[:1].lower() + json_name[1:]
    return next((ours for ours, theirs in RELATION_FIELDS if theirs == wanted), json_name)


def json_amount(amount: Decimal) -> float:
    """A Decimal in cents as the JSON number the API takes.

    A cent amount below 2**53 / 100 survives the float exactly as text:
    ``repr(float(Decimal("242.01")))`` is ``"242.01"``.
    """
    return float(amount.quantize(CENT))


def relation_to_json(relation: Relation) -> dict[str, Any]:
    """``CreateRelation`` / ``PatchRelation`` body: every field the relation sets."""
    body: dict[str, Any] = {}
    for ours, theirs in RELATION_FIELDS:
        value = getattr(relation, ours)
        if value is not None:
            body[theirs] = str(value)
    if relation.ledger_id:
        body["ledgerId"] = relation.ledger_id
    body["doNotReceiveNewsletters"] = bool(relation.no_newsletter)
    return body


def relation_from_json(data: Mapping[str, Any]) -> Relation:
    """A `Relation` from a REST relation (``Relation`` or a list item)."""
    values: dict[str, Any] = {
        ours: str(data[theirs])
        for ours, theirs in RELATION_FIELDS
        if data.get(theirs) not in (None, "")
    }
    added = _date(data.get("date"))
    return Relation(
        id=int(data.get("id") or 0),
        ledger_id=int(data.get("ledgerId") or 0),
        no_newsletter=1 if data.get("doNotReceiveNewsletters") else 0,
        **({"added": dt.datetime.combine(added, dt.time())} if added else {}),
        **values,
    )


def mutation_from_json(
    data: Mapping[str, Any], *, ledger_code: Mapping[int, str], relation_code: str | None
) -> Mutation:
    """A `Mutation` from ``GET /v1/mutation/{id}`` (rows) or a list item (no rows).

    Args:
        data: The JSON object.
        ledger_code: Ledger ID → code (the header and rows name IDs).
        relation_code: The code of the relation ``relationId`` names, if any.
    """
    kind = MUTATION_TYPES[int(data.get("type") or 0)]
    in_ex = InExVat(data["inExVat"]) if data.get("inExVat") in ("IN", "EX") else None
    date = _date(data.get("date")) or dt.date.min
    rows = data.get("rows") or []
    term = data.get("termOfPayment")
    return Mutation(
        number=int(data.get("id") or 0),
        kind=kind,
        date=date,
        ledger_code=ledger_code.get(int(data.get("ledgerId") or 0)),
        relation_code=relation_code,
        invoice_number=data.get("invoiceNumber") or None,
        document=data.get("entryNumber") or None,
        description=data.get("description") or None,
        payment_term_days=str(term) if term is not None else None,
        payment_reference=data.get("paymentReference") or None,
        in_ex_vat=in_ex,
        lines=[_line(row, in_ex, date, ledger_code) for row in rows],
    )


def _line(
    row: Mapping[str, Any], in_ex: InExVat | None, date: dt.date, ledger_code: Mapping[int, str]
) -> MutationLine:
    entered = money(row.get("amount") or 0)
    code = str(row.get("vatCode") or "GEEN")
    known = EBOEKHOUDEN_VAT_CODES.get(code)
    rate = (known.charged_rate if known else None) or Decimal(0)
    if row.get("vatAmount") is not None:  # sent (AFW codes) or computed by the service
        vat = money(row["vatAmount"])
    elif in_ex is InExVat.INCLUDING:
        vat = (entered * rate / (100 + rate)).quantize(CENT, ROUND_HALF_UP)
    else:
        vat = (entered * rate / 100).quantize(CENT, ROUND_HALF_UP)
    excl, incl = (
        (entered - vat, entered) if in_ex is InExVat.INCLUDING else (entered, entered + vat)
    )
    return MutationLine(
        amount_entered=entered,
        amount_excl=excl,
        vat_amount=vat,
        amount_incl=incl,
        vat_code=code,
        vat_percentage=(known.rate if known and known.rate is not None else Decimal(0)),
        ledger_code=ledger_code.get(int(row.get("ledgerId") or 0), ""),
        cost_centre_id=int(row.get("costCenterId") or 0),
        invoice_number=row.get("invoiceNumber") or None,
    )


def open_item_from_json(data: Mapping[str, Any]) -> OpenItem:
    """An `OpenItem` from an outstanding-invoice item."""
    return OpenItem(
        date=_date(data.get("date")),
        invoice_number=data.get("invoiceNumber"),
        relation_code=data.get("relationCode"),
        relation_name=data.get("company"),
        amount=data.get("totalAmount", 0),
        paid=data.get("paidAmount", 0),
        outstanding=data.get("outstandingAmount", 0),
    )


def ledger_from_json(data: Mapping[str, Any]) -> Ledger:
    """A `Ledger` from a REST ledger."""
    return Ledger(
        id=int(data.get("id") or 0),
        code=data.get("code"),
        description=data.get("description"),
        category=data.get("category"),
        group=data.get("group"),
    )


def cost_centre_from_json(data: Mapping[str, Any]) -> CostCentre:
    """A `CostCentre` from a REST cost centre."""
    parent = data.get("parentId")
    return CostCentre(
        id=int(data["id"]),
        description=data.get("description"),
        parent_id=int(parent) if parent is not None else None,
    )


def administration_from_json(data: Mapping[str, Any]) -> Administration:
    """An `Administration` from a REST administration (accountants only)."""
    return Administration(
        company=data.get("name") or data.get("company"),
        city=data.get("city"),
        guid=str(data.get("guid") or data.get("id") or ""),
        first_financial_year=None,
    )


def _date(value: object) -> dt.date | None:
    if isinstance(value, str) and value:
        return dt.date.fromisoformat(value[:10])
    return None
