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
  the client resolves them (see `EBoekhoudenRestClient`);
* answers are read through `crmconnect._answers.Answer` and `JsonObject`:
  a value of the wrong type (``[]`` or ``null`` for an object, an object for
  a text, a missing ID) is a `MalformedResponseError`, never a bare
  ``TypeError``; what the remote holds is read as it is (the text rules of
  the models apply to what is sent, not to what is read).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NoReturn

from ..._answers import Answer
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
    "MAX_ROWS",
    "MUTATION_TYPES",
    "RELATION_FIELDS",
    "JsonObject",
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

MAX_ROWS = 5000
"""The most rows a mutation read may hold; more is a malformed answer.

Assumption: ``MUT_101`` ("Too many rows") bounds rows on the remote, at a
limit not published; no booking of an invoice comes near this one. It keeps
a hostile answer from building hundreds of thousands of lines in memory.
"""

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


class JsonObject:
    """One JSON object of an answer, read member by member with types checked.

    A member of the wrong type fails as `MalformedResponseError` naming the
    object and the member (through the `Answer`); a missing optional member
    reads as ``None`` (or 0 for IDs).

    Args:
        answer: The answer being read.
        data: The JSON value that should be an object.
        what: What it is, for the error (e.g. ``"a relation"``).
    """

    def __init__(self, answer: Answer, data: Any, what: str) -> None:
        self.answer = answer
        self.what = what
        self.data = answer.as_object(data, what)

    def fail(self, name: str, expected: str) -> NoReturn:
        """Fail naming the member and what it should have been."""
        value = self.data.get(name)
        kinds = {list: "a list", dict: "an object", str: "a text", bool: "a boolean"}
        kind = "null" if value is None else kinds.get(type(value), repr(value)[:20])
        self.answer.fail(f"{self.what}: {name!r} should be {expected}, not {kind}")

    def text(self, name: str) -> str | None:
        """A text member (a number is taken as its text); ``None`` when absent or empty."""
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            self.fail(name, "text")
        return str(value)

    def integer(self, name: str, *, required: bool = False) -> int:
        """A whole-number member; 0 when absent. ``required``: an ID, present and above 0."""
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                self.answer.fail(f"{self.what} has no {name!r}")
            return 0
        if isinstance(value, str) and value.isascii() and value.strip().lstrip("-").isdigit():
            value = Decimal(value)
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.fail(name, "a whole number")
        # Compared before converting: int() of 1E+999999 would build a million digits.
        if not (value.is_finite() if isinstance(value, Decimal) else True) or not (
            -(2**63) <= value < 2**63 and value == int(value)
        ):
            self.fail(name, "a whole number (64 bits)")
        if required and value <= 0:
            self.fail(name, "an ID above 0")
        return int(value)

    def optional_integer(self, name: str) -> int | None:
        """A whole-number member, or ``None`` when absent."""
        return None if self.data.get(name) is None else self.integer(name)

    def number(self, name: str) -> float | None:
        """A finite number member, or ``None`` when absent."""
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.fail(name, "a number")
        if isinstance(value, Decimal) and not value.is_finite():
            self.fail(name, "a finite number")
        try:
            return float(value)
        except OverflowError:  # an int beyond the float range
            self.fail(name, "a number in range")

    def amount(self, name: str, *, required: bool = False) -> Decimal:
        """An amount in cents; 0 when absent, unless ``required``."""
        value = self.data.get(name)
        if value is None:
            if required:
                self.answer.fail(f"{self.what} has no {name!r}")
            return Decimal("0.00")
        try:
            return money(value)
        except ValueError:
            self.fail(name, "an amount")

    def date(self, name: str) -> dt.date | None:
        """A ``YYYY-MM-DD`` date member (a date-time is cut to its date); ``None`` when absent."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            self.fail(name, "a date")

    def objects(self, name: str, *, limit: int) -> list[JsonObject]:
        """A list member of objects (empty when absent), at most ``limit`` of them."""
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(name, "a list")
        if len(value) > limit:
            self.answer.fail(f"{self.what}: {name!r} holds {len(value)} items; at most {limit}")
        return [JsonObject(self.answer, item, f"{self.what}: {name} item") for item in value]


def json_amount(amount: Decimal) -> float:
    """A Decimal in cents as the JSON number the API takes.

    A cent amount below 2**53 / 100 survives the float exactly as text:
    ``repr(float(Decimal("242.01")))`` is ``"242.01"``.
    """
    return float(amount.quantize(CENT))


def relation_to_json(relation: Relation) -> dict[str, Any]:
    """``CreateRelation`` / ``PatchRelation`` body: every field the relation sets.

    The relation is checked first (`Relation.check`): lengths, visible codes,
    IBAN, KvK and VAT numbers, as on SOAP.
    """
    relation.check()
    body: dict[str, Any] = {}
    for ours, theirs in RELATION_FIELDS:
        value = getattr(relation, ours)
        if value is not None:
            body[theirs] = str(value)
    if relation.ledger_id:
        body["ledgerId"] = relation.ledger_id
    body["doNotReceiveNewsletters"] = bool(relation.no_newsletter)
    return body


def relation_from_json(item: JsonObject) -> Relation:
    """A `Relation` from a REST relation (``Relation`` or a list item), as the remote holds it."""
    values: dict[str, Any] = {ours: item.text(theirs) for ours, theirs in RELATION_FIELDS}
    added = item.date("date")
    if added is not None:
        values["added"] = dt.datetime.combine(added, dt.time())
    values.update(
        id=item.integer("id", required=True),
        ledger_id=item.integer("ledgerId"),
        no_newsletter=1 if item.data.get("doNotReceiveNewsletters") else 0,
    )
    return item.answer.model(Relation, {k: v for k, v in values.items() if v is not None})


def mutation_from_json(
    item: JsonObject, *, ledger_code: Mapping[int, str], relation_code: str | None
) -> Mutation:
    """A `Mutation` from ``GET /v1/mutation/{id}`` (rows) or a list item (no rows).

    Args:
        item: The JSON object.
        ledger_code: Ledger ID → code (the header and rows name IDs).
        relation_code: The code of the relation ``relationId`` names, if any.
    """
    kind = MUTATION_TYPES.get(item.integer("type"))
    if kind is None:
        item.fail("type", f"a mutation type ({min(MUTATION_TYPES)}..{max(MUTATION_TYPES)})")
    raw_in_ex = item.text("inExVat")
    in_ex = InExVat(raw_in_ex) if raw_in_ex in ("IN", "EX") else None
    date = item.date("date") or dt.date.min
    term = item.optional_integer("termOfPayment")
    values = {
        "number": item.integer("id", required=True),
        "kind": kind,
        "date": date,
        "ledger_code": ledger_code.get(item.integer("ledgerId")),
        "relation_code": relation_code,
        "invoice_number": item.text("invoiceNumber"),
        "document": item.text("entryNumber"),
        "description": item.text("description"),
        "payment_term_days": str(term) if term is not None else None,
        "payment_reference": item.text("paymentReference"),
        "in_ex_vat": in_ex,
        "lines": [_line(row, in_ex, ledger_code) for row in item.objects("rows", limit=MAX_ROWS)],
    }
    return item.answer.model(Mutation, values)


def _line(row: JsonObject, in_ex: InExVat | None, ledger_code: Mapping[int, str]) -> MutationLine:
    entered = row.amount("amount")
    code = row.text("vatCode") or "GEEN"
    known = EBOEKHOUDEN_VAT_CODES.get(code)
    rate = (known.charged_rate if known else None) or Decimal(0)
    if row.data.get("vatAmount") is not None:  # sent (AFW codes) or computed by the service
        vat = row.amount("vatAmount")
    elif in_ex is InExVat.INCLUDING:
        vat = (entered * rate / (100 + rate)).quantize(CENT, ROUND_HALF_UP)
    else:
        vat = (entered * rate / 100).quantize(CENT, ROUND_HALF_UP)
    excl, incl = (
        (entered - vat, entered) if in_ex is InExVat.INCLUDING else (entered, entered + vat)
    )
    values = {
        "amount_entered": entered,
        "amount_excl": excl,
        "vat_amount": vat,
        "amount_incl": incl,
        "vat_code": code,
        "vat_percentage": (known.rate if known and known.rate is not None else Decimal(0)),
        "ledger_code": ledger_code.get(row.integer("ledgerId"), ""),
        "cost_centre_id": row.integer("costCenterId"),
        "invoice_number": row.text("invoiceNumber"),
    }
    return row.answer.model(MutationLine, values)


def open_item_from_json(item: JsonObject) -> OpenItem:
    """An `OpenItem` from an outstanding-invoice item."""
    values = {
        "date": item.date("date"),
        "invoice_number": item.text("invoiceNumber"),
        "relation_code": item.text("relationCode"),
        "relation_name": item.text("company"),
        "amount": item.amount("totalAmount", required=True),
        "paid": item.amount("paidAmount"),
        "outstanding": item.amount("outstandingAmount", required=True),
    }
    return item.answer.model(OpenItem, values)


def ledger_from_json(item: JsonObject) -> Ledger:
    """A `Ledger` from a REST ledger."""
    values = {
        "id": item.integer("id", required=True),
        "code": item.text("code"),
        "description": item.text("description"),
        "category": item.text("category"),
        "group": item.text("group"),
    }
    return item.answer.model(Ledger, values)


def cost_centre_from_json(item: JsonObject) -> CostCentre:
    """A `CostCentre` from a REST cost centre."""
    values = {
        "id": item.integer("id", required=True),
        "description": item.text("description"),
        "parent_id": item.optional_integer("parentId"),
    }
    return item.answer.model(CostCentre, values)


def administration_from_json(item: JsonObject) -> Administration:
    """An `Administration` from a REST administration (accountants only)."""
    guid = item.text("guid") or item.text("id")
    if guid is None:
        item.answer.fail(f"{item.what} has no 'guid'")
    values = {
        "company": item.text("name") or item.text("company"),
        "city": item.text("city"),
        "guid": guid,
    }
    return item.answer.model(Administration, values)
