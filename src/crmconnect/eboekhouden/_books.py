"""What both e-Boekhouden backends (SOAP and REST) do alike, written once.

`BooksClient` holds the logic on top of the remote calls: upserting relations
by code, booking an invoice exactly once, bulk pushes and payment status. A
backend implements only the primitives (`add_relation`, `relations`,
`invoice_bookings`, `_add_mutation`, ...), so a host switches backend by
configuration and keeps the same behaviour.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self

import attrs

from ..errors import ConflictError, CrmConnectError, NotFoundError, ValidationError
from ..mapping import EBOEKHOUDEN_VAT_CODES, BookingLine, VatCode, VatTable, vat_breakdown
from ..models import Invoice, InvoiceKind
from ._bulk import (
    WRITABLE_RELATION_FIELDS,
    Booking,
    InvoiceLookup,
    Pair,
    PushResult,
    add_relation_once,
    check_owned,
    is_ambiguous,
    merged_relation,
    push_invoices,
    push_relations,
)
from ._models import (
    Administration,
    Balance,
    CostCentre,
    InExVat,
    Ledger,
    Mutation,
    MutationKind,
    MutationLine,
    OpenItem,
    OpenItemKind,
    Relation,
)

__all__ = ["INVOICE_KINDS", "Booking", "BooksClient", "PaymentState", "PaymentStatus"]

INVOICE_KINDS = frozenset({MutationKind.SALES_INVOICE, MutationKind.PURCHASE_INVOICE})


class PaymentState(StrEnum):
    """Whether an invoice is paid."""

    PAID = "paid"
    OPEN = "open"
    PARTLY_PAID = "partly_paid"
    UNKNOWN = "unknown"
    """Not open and not booked: the bookkeeping does not know the invoice."""


@attrs.frozen
class PaymentStatus:
    """The payment state of one invoice.

    Attributes:
        invoice_number: The invoice number.
        state: Paid, open, partly paid or unknown.
        amount: The invoice total, when known.
        paid: What was paid, when known.
        outstanding: What is still to be paid, when known.
        relation_code: The relation of the invoice, when known (always from
            `BooksClient.payment_states`).
        error: Why the state could not be told (`PaymentState.UNKNOWN`): the
            look-up failed; ask again later. ``None`` otherwise.
    """

    invoice_number: str
    state: PaymentState
    amount: Decimal | None = None
    paid: Decimal | None = None
    outstanding: Decimal | None = None
    relation_code: str | None = None
    error: CrmConnectError | None = None

    @classmethod
    def of_amounts(
        cls, invoice_number: str, amount: Decimal, paid: Decimal, outstanding: Decimal, **more: Any
    ) -> PaymentStatus:
        """The status these amounts describe.

        Paid when nothing is outstanding; partly paid when something was paid,
        or when the outstanding amount differs from the total (an answer
        without the paid amount); open otherwise.
        """
        if outstanding == 0:
            state = PaymentState.PAID
        elif paid != 0 or outstanding != amount:
            state = PaymentState.PARTLY_PAID
        else:
            state = PaymentState.OPEN
        return cls(invoice_number, state, amount, paid, outstanding, **more)

    @classmethod
    def from_open_item(cls, item: OpenItem) -> PaymentStatus:
        """The status an open item describes."""
        return cls.of_amounts(
            item.invoice_number or "",
            item.amount,
            item.paid,
            item.outstanding,
            relation_code=item.relation_code,
        )


class BooksClient(abc.ABC):
    """The interface of both e-Boekhouden clients, and what they share.

    Attributes:
        debtors_ledger: The debtors ledger code (category DEB) of sales invoices.
        creditors_ledger: The creditors ledger code (category CRED) of purchase invoices.
        mutation_cap: The most mutations one `mutations` call may return
            (SOAP: 500); bulk look-ups split their date windows at it.
        relation_fields: The `Relation` fields an update writes: what
            ``owned`` may name (SOAP: all of them).
    """

    debtors_ledger: str
    creditors_ledger: str
    mutation_cap: int
    relation_fields: frozenset[str] = WRITABLE_RELATION_FIELDS

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abc.abstractmethod
    def close(self) -> None:
        """End the session and release what the client opened."""

    # -- primitives every backend implements ----------------------------------------------

    @abc.abstractmethod
    def add_relation(self, relation: Relation) -> int:
        """Add a relation; returns its new ID. Never retried (see `upsert_relation`)."""

    @abc.abstractmethod
    def update_relation(self, relation: Relation) -> None:
        """Replace a relation (all fields), found by its ``id``."""

    @abc.abstractmethod
    def relations(
        self, *, code: str | None = None, keyword: str | None = None, id: int = 0
    ) -> list[Relation]:
        """Find relations by code, keyword or ID; all of them when no filter is given."""

    @abc.abstractmethod
    def mutations(
        self,
        *,
        invoice_number: str | None = None,
        number: int = 0,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> list[Mutation]:
        """Bookings, filtered by invoice number, mutation number or dates."""

    @abc.abstractmethod
    def invoice_bookings(self, invoice_number: str) -> list[Mutation]:
        """The invoice bookings (sales or purchase) with this number, lines included."""

    @abc.abstractmethod
    def booked_invoices(self, invoices: Sequence[Invoice]) -> set[tuple[str, str]]:
        """The (relation code, invoice number) pairs of these invoices already booked, in bulk.

        Raises:
            SyncError: The backend could not see some of them (SOAP's cap).
        """

    @abc.abstractmethod
    def invoice_lookup(self, invoices: Sequence[Invoice]) -> InvoiceLookup:
        """Which of these invoices are booked (with their mutation numbers), which are unseen.

        The bulk look-up of `push_invoices`. A failed look-up makes the
        invoices it was for unseen: reported, never booked blindly.
        """

    @abc.abstractmethod
    def _add_mutation(self, mutation: Mutation) -> int:
        """Write one mutation; returns its number. Never retried."""

    @abc.abstractmethod
    def open_items(self, kind: OpenItemKind | str = OpenItemKind.DEBTORS) -> list[OpenItem]:
        """Open items of debtors or creditors."""

    @abc.abstractmethod
    def ledgers(self, *, code: str | None = None, category: str | None = None) -> list[Ledger]:
        """Ledger accounts."""

    @abc.abstractmethod
    def cost_centres(self) -> list[CostCentre]:
        """Cost centres."""

    @abc.abstractmethod
    def administrations(self) -> list[Administration]:
        """Administrations this login may open (accountants)."""

    @abc.abstractmethod
    def balances(self, *, category: str | None = None) -> list[Balance]:
        """Balances of the ledgers."""

    def vat_codes(self) -> Mapping[str, VatCode]:
        """e-Boekhouden's VAT codes, with rates, kinds and validity dates.

        Neither API has a VAT-code endpoint (REST documents a fixed list), so
        this is the documented table, `crmconnect.mapping.EBOEKHOUDEN_VAT_CODES`.
        """
        return EBOEKHOUDEN_VAT_CODES

    # -- relations --------------------------------------------------------------------

    def relation_by_code(self, code: str) -> Relation | None:
        """The relation with exactly this code, or ``None``."""
        return next((r for r in self.relations(code=code) if r.code == code), None)

    def upsert_relation(
        self, relation: Relation, *, owned: Collection[str] | None = None
    ) -> Relation:
        """Create or update by code: look up first, so a relation is never added twice.

        An add whose answer was lost or malformed, or that the service refuses
        as a duplicate (added meanwhile), is looked up again by code: found,
        it is updated; not found, the error is raised.

        Args:
            relation: The relation, with its code.
            owned: The fields the caller owns (see `push_relations`): only
                these are compared and written over the remote record, an
                empty one clearing the remote value, and nothing is written
                when they already hold these values. ``None`` (the default):
                the relation is sent whole with the remote ID (SOAP replaces
                every field; REST's PATCH keeps those left ``None``).

        Returns:
            The relation as e-Boekhouden now holds it (as far as was sent).

        Raises:
            ValidationError: No code, or ``owned`` names an unknown field.
        """
        owned = check_owned(owned, self.relation_fields)
        if not relation.code:
            raise ValidationError("code", relation.code, "a relation needs a code")
        existing = self.relation_by_code(relation.code)
        if existing is None:
            added, existing = add_relation_once(self, relation)
            if added:
                return existing
        if owned is not None:
            merged = merged_relation(existing, relation, owned)
            if merged is not None:
                self.update_relation(merged)
            return merged or existing
        updated = relation.model_copy(update={"id": existing.id, "added": existing.added})
        self.update_relation(updated)
        return updated

    def push_relations(
        self, relations: Iterable[Relation], *, owned: Collection[str] | None = None
    ) -> PushResult:
        """Create or update many relations by code with one look-up (see `push_relations`).

        ``owned`` names the fields the caller owns: those are written as the
        relation holds them, ``None`` clearing the remote value (a field the
        CRM cleared is cleared in e-Boekhouden); the default leaves a remote
        field standing when the relation has ``None`` there.
        """
        return push_relations(self, relations, owned=owned)

    # -- bookings ---------------------------------------------------------------------

    def book_invoice(
        self, invoice: Invoice, vat_table: VatTable, *, relation: Relation | None = None
    ) -> Booking:
        """Book a sales (FactuurVerstuurd) or purchase (FactuurOntvangen) invoice, once.

        The VAT table turns the invoice into one line per VAT rate and ledger
        before anything is written (an uncovered category raises `MappingError`).
        The relation is made sure of first: created or updated when ``relation``
        is given, else it must exist. When this invoice number was already
        booked for this relation, that booking is returned and nothing is
        written. A write whose answer was lost (timeout, dropped connection) is
        checked by invoice number before anyone would repeat it.

        Raises:
            MappingError: An invoice line's VAT category is not in the table.
            NotFoundError: No ``relation`` was given and its code is unknown.
            SyncError: The service cannot show whether the invoice was booked
                (SOAP: older than the last 500 mutations); nothing was written.
        """
        vat_breakdown(invoice, vat_table)  # an uncovered category raises before any call
        self._ensure_relation(invoice.relation_code, relation)
        # The same look-up as a bulk push: SOAP's GetMutaties shows only the last
        # 500 mutations, so "not found" may mean "not visible"; such an invoice is
        # reported (SyncError), never booked blindly.
        lookup = self.invoice_lookup([invoice])
        pair = (invoice.relation_code, invoice.number)
        unseen = lookup.unseen_error()
        if unseen is not None:
            raise unseen
        if pair in lookup.booked:
            number = lookup.numbers.get(pair)
            if number is None:
                found = self.find_invoice_booking(invoice.number, invoice.relation_code)
                number = found.number if found is not None else 0
            return Booking(number, invoice.number, False, invoice.relation_code)
        return self._book(invoice, vat_table)

    def push_invoices(
        self, invoices: Sequence[Invoice], vat_table: VatTable, relations: Iterable[Relation] = ()
    ) -> PushResult:
        """Book many invoices, each once, with bulk look-ups (see `push_invoices`)."""
        return push_invoices(self, invoices, vat_table, relations)

    def _book(self, invoice: Invoice, vat_table: VatTable) -> Booking:
        """Write the booking; when its outcome is unknown, look it up before anything repeats it.

        Ambiguous (see `is_ambiguous`): the answer was lost, cut off or
        malformed, or the service failed after the write, so it may be booked.
        A `ConflictError` (REST ``MUT_019``/``MUT_020``) means it was booked
        before this call. Either way the booking is looked up by invoice
        number; when it is not found (or the look-up fails) the write's own
        error is raised and the invoice is retried on a later run.
        """
        mutation = self.invoice_mutation(invoice, vat_breakdown(invoice, vat_table))
        try:
            number = self._add_mutation(mutation)
            return Booking(number, invoice.number, True, invoice.relation_code)
        except CrmConnectError as exc:
            if not (isinstance(exc, ConflictError) or is_ambiguous(exc)):
                raise
            error = exc
        try:
            found = self.find_invoice_booking(invoice.number, invoice.relation_code)
        except CrmConnectError:
            found = None  # unknown still: the write's error says more than the look-up's
        if found is None:
            raise error
        created = not isinstance(error, ConflictError)
        return Booking(found.number, invoice.number, created, invoice.relation_code)

    def _ensure_relation(self, code: str, relation: Relation | None) -> None:
        if relation is not None:
            if relation.code != code:
                raise ValidationError(
                    "relation.code", relation.code, f"the invoice is for {code!r}"
                )
            self.upsert_relation(relation)
        elif self.relation_by_code(code) is None:
            raise NotFoundError(
                f"e-Boekhouden has no relation {code!r}; pass relation= to create it",
                service="eboekhouden",
            )

    def invoice_mutation(self, invoice: Invoice, lines: list[BookingLine]) -> Mutation:
        """The mutation that books an invoice: header on debtors or creditors, a line per rate."""
        sales = invoice.kind is InvoiceKind.SALES
        including = invoice.amounts_include_vat
        term = (invoice.due_date - invoice.date).days if invoice.due_date else None
        return Mutation(
            kind=MutationKind.SALES_INVOICE if sales else MutationKind.PURCHASE_INVOICE,
            date=invoice.date,
            ledger_code=self.debtors_ledger if sales else self.creditors_ledger,
            relation_code=invoice.relation_code,
            invoice_number=invoice.number,
            description=invoice.description or f"Factuur {invoice.number}",
            payment_term_days=str(term) if term is not None else None,
            in_ex_vat=InExVat.INCLUDING if including else InExVat.EXCLUDING,
            lines=[
                MutationLine(
                    amount_entered=line.amount_incl if including else line.amount_excl,
                    amount_excl=line.amount_excl,
                    vat_amount=line.vat_amount,
                    amount_incl=line.amount_incl,
                    vat_code=line.vat_code,
                    vat_percentage=line.rate,
                    ledger_code=line.ledger,
                )
                for line in lines
            ],
        )

    def find_invoice_booking(self, invoice_number: str, relation_code: str) -> Mutation | None:
        """The invoice booking (sales or purchase) of this invoice number and relation, if any."""
        return next(
            (
                m
                for m in self.invoice_bookings(invoice_number)
                if m.invoice_number == invoice_number and m.relation_code == relation_code
            ),
            None,
        )

    # -- payments ---------------------------------------------------------------------

    def payment_status(
        self, invoice_numbers: Iterable[str], kind: OpenItemKind | str = OpenItemKind.DEBTORS
    ) -> dict[str, PaymentStatus]:
        """Paid, open or partly paid, with the outstanding amount, per invoice number.

        Comes from the open items (one call for all invoices). An invoice that
        is not open is paid if it was booked, and unknown if it was not.

        Matched on the invoice number alone: when two relations have invoices
        with the same number (X1 paid by 1001, X1 open for 1002), the answer is
        one of theirs. Use `payment_states` with (relation code, invoice
        number) pairs to match on both.
        """
        open_by_number = {item.invoice_number: item for item in self.open_items(kind)}
        statuses = {}
        for number in invoice_numbers:
            item = open_by_number.get(number)
            statuses[number] = (
                PaymentStatus.from_open_item(item) if item else self._closed_status(number)
            )
        return statuses

    def _closed_status(self, invoice_number: str) -> PaymentStatus:
        invoices = [m for m in self.invoice_bookings(invoice_number) if m.lines]
        return _closed(invoice_number, invoices, relation_code=None)

    def payment_states(
        self,
        pairs: Iterable[Pair],
        kind: OpenItemKind | str = OpenItemKind.DEBTORS,
        *,
        booked: Collection[Pair] = (),
    ) -> dict[Pair, PaymentStatus]:
        """Paid, open or partly paid per (relation code, invoice number), in one open-items call.

        An open item counts only for its own relation and invoice number: X1
        paid by relation 1001 and open for 1002 reads as paid for 1001 and
        open for 1002. Partly paid: something paid, something outstanding
        (several open items of one pair add up).

        A pair that is not open is paid if it was booked for that relation,
        and unknown if it was not. Pairs in ``booked`` (the caller stored
        their mutation numbers, e.g. from `PushResult.bookings`) read as paid
        without another call; the others cost one look-up of the bookings per
        invoice number (SOAP: one GetMutaties of the 5,000 a month). A look-up
        that fails leaves its pairs `PaymentState.UNKNOWN` with ``error`` set
        (retry them later); the other pairs are answered.

        Args:
            pairs: (relation code, invoice number) of the invoices to check.
            kind: Debtors (sales invoices) or creditors (purchase invoices).
            booked: Pairs known to be booked. Assumption: a booking removed
                in e-Boekhouden by hand is no longer open, so such a pair
                reads as paid.

        Returns:
            The status of every pair asked for, with its ``relation_code``.

        Raises:
            CrmConnectError: The open items could not be read (nothing is known).
        """
        wanted = list(dict.fromkeys(pairs))
        found = _open_by_pair(self.open_items(kind))
        statuses = {pair: found[pair] for pair in wanted if pair in found}
        closed = [pair for pair in wanted if pair not in found]
        known = set(booked)
        by_number: dict[str, list[str]] = {}
        for code, number in closed:
            if (code, number) in known:
                statuses[(code, number)] = PaymentStatus(
                    number, PaymentState.PAID, outstanding=Decimal("0.00"), relation_code=code
                )
            else:
                by_number.setdefault(number, []).append(code)
        for number, codes in by_number.items():
            statuses.update(self._closed_states(number, codes))
        return {pair: statuses[pair] for pair in wanted}

    def _closed_states(self, number: str, codes: list[str]) -> dict[Pair, PaymentStatus]:
        """The states of invoices not open: one look-up of this number's bookings for all codes."""
        try:
            bookings = [m for m in self.invoice_bookings(number) if m.lines]
        except CrmConnectError as exc:
            return {
                (code, number): PaymentStatus(
                    number, PaymentState.UNKNOWN, relation_code=code, error=exc
                )
                for code in codes
            }
        return {
            (code, number): _closed(
                number, [m for m in bookings if m.relation_code == code], relation_code=code
            )
            for code in codes
        }


def _closed(
    invoice_number: str, bookings: Sequence[Mutation], *, relation_code: str | None
) -> PaymentStatus:
    """Not open: paid when booked (the bookings' total), else unknown."""
    if not bookings:
        return PaymentStatus(invoice_number, PaymentState.UNKNOWN, relation_code=relation_code)
    amount = sum((m.total_incl for m in bookings), Decimal("0.00"))
    return PaymentStatus(
        invoice_number,
        PaymentState.PAID,
        amount,
        amount,
        Decimal("0.00"),
        relation_code=relation_code,
    )


def _open_by_pair(items: Iterable[OpenItem]) -> dict[Pair, PaymentStatus]:
    """Open items by (relation code, invoice number); items of one pair add up."""
    sums: dict[Pair, tuple[Decimal, Decimal, Decimal]] = {}
    for item in items:
        pair = (item.relation_code or "", item.invoice_number or "")
        amount, paid, outstanding = sums.get(pair, (Decimal("0.00"),) * 3)
        sums[pair] = (amount + item.amount, paid + item.paid, outstanding + item.outstanding)
    return {
        (code, number): PaymentStatus.of_amounts(number, *amounts, relation_code=code)
        for (code, number), amounts in sums.items()
    }
