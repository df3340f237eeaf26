"""`EBoekhoudenConnector`: e-Boekhouden as an `AccountingConnector` of the sync engine.

Relations go to e-Boekhouden (the CRM owns the mapped fields, a field it
cleared is cleared there), sent invoices are booked with the VAT table, each
once, and payment states come back by relation and invoice number. Relation
changes made in e-Boekhouden are listed too, so the engine sees them; on a
conflict the CRM wins (the engine's policy, host wins by default).

The engine compares in e-Boekhouden's field space: `outbound_values` is the
mapping table's text per `Relation` attribute, `relations` what e-Boekhouden
holds, both through the same normaliser per field (the transform of the
table row that maps it), so an unchanged relation compares equal and a write
the engine made does not come back as a change. ``type`` (BP: business or
private) is compared too: it follows the party's kind. Either backend (SOAP
or REST) works: the connector talks to a `BooksClient`.

Remote quirks handled here:

* e-Boekhouden has no debtor or creditor kind on a relation: the role comes
  from the code's number range (1xxx debtors, 2xxx creditors by default). A
  relation whose code is in no range is listed under both roles, so a link of
  either role finds it (the engine never pulls new relations from here);
* SOAP's UpdateRelatie replaces the record and REST's PATCH needs the name:
  an update is read-modify-write over the record of this run's listing (or
  this connector's own last write), read again when older than ``listing_max_age``;
* an add whose answer was lost, or refused because the code exists, is looked
  up by code before anything else (`add_relation_once`): never added twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from ..errors import (
    ConfigurationError,
    CrmConnectError,
    NotFoundError,
    SyncError,
    ValidationError,
)
from ..mapping import EBOEKHOUDEN_RELATIONS, NameStyle, RelationMapping, VatTable
from ..mapping._adapters import (
    Normaliser,
    check_number,
    checked_values,
    field_normalisers,
    inbound_party,
    normalised,
    with_name_style,
)
from ..models import Invoice, Person
from ..sync._protocols import (
    BookingResult,
    Capability,
    FieldValues,
    Party,
    PaymentState,
    RemoteBooking,
    RemotePayment,
    RemoteRelation,
    Role,
)
from ._books import BooksClient, PaymentStatus
from ._bulk import Pair, add_relation_once, merged_relation
from ._models import OpenItemKind, Relation, RelationType

__all__ = ["EBoekhoudenConnector"]

_OPEN_ITEMS_OF_ROLE = {Role.DEBTOR: OpenItemKind.DEBTORS, Role.CREDITOR: OpenItemKind.CREDITORS}
_RESERVED = frozenset({"code", "type"})
"""Set from the link (code) and the party's kind (type: BP, business or private)."""


def _kind_code(text: str) -> str:
    return text.strip().upper()


class EBoekhoudenConnector:
    """e-Boekhouden for `crmconnect.sync.SyncEngine`: relations out, bookings, payment states.

    Args:
        books: The e-Boekhouden client, SOAP or REST (`connect` builds either).
        vat_table: The VAT table invoices are booked with.
        mapping: The relation tables and rules (default `EBOEKHOUDEN_RELATIONS`).
        name_style: How a person's name is written (overrides the mapping's).
        service: The connector's name in the engine and its state.
        changes_from_remote: Bring changes made in e-Boekhouden to linked
            relations into the host (on by default); a relation created in
            e-Boekhouden is not created in the host.
        listing_max_age: Seconds an update may go by the record of the last
            listing; older, the record is read again first (one call).
        check_closed_bookings: Look up the booking of an invoice that is no
            longer open before reading it as paid (one call per invoice
            number; SOAP allows 5,000 a month). Off by default: the engine asks
            only for invoices it booked, and a booked invoice that is not open
            is paid (assumed: a booking removed by hand in e-Boekhouden reads
            as paid too).

    Attributes:
        service: The connector's name (``"eboekhouden"``).
        capabilities: Relations to e-Boekhouden, bookings and payment states,
            and (``changes_from_remote``) changes made in e-Boekhouden to
            linked relations, which lose to the CRM's on a conflict under
            the engine's default policy.
        mapping: The `RelationMapping` in use.
        fields: The `Relation` attributes compared: every one a table row
            maps, and ``type``.

    Raises:
        ConfigurationError: Not a `BooksClient` or a `VatTable`, or a table row
            maps a field the backend does not write (or the code or ``type``).

    Example:
        ```python
        from crmconnect.eboekhouden import EBoekhoudenConnector, EBoekhoudenSettings, connect

        books = connect(EBoekhoudenSettings(access_token=token))
        eb = EBoekhoudenConnector(books, vat_table)
        SyncEngine(host, [eb]).run()
        ```
    """

    def __init__(
        self,
        books: BooksClient,
        vat_table: VatTable,
        *,
        mapping: RelationMapping = EBOEKHOUDEN_RELATIONS,
        name_style: NameStyle | str | None = None,
        service: str = "eboekhouden",
        changes_from_remote: bool = True,
        listing_max_age: float = 300.0,
        check_closed_bookings: bool = False,
    ) -> None:
        if not isinstance(books, BooksClient):
            raise ConfigurationError(
                "EBoekhoudenConnector needs a BooksClient (SOAP or REST), "
                f"not {type(books).__name__}"
            )
        if not isinstance(vat_table, VatTable):
            raise ConfigurationError(
                f"EBoekhoudenConnector needs a VatTable, not {type(vat_table).__name__}"
            )
        self.books = books
        self.vat_table = vat_table
        self.mapping = with_name_style(mapping, name_style)
        self.service = service
        self.capabilities = frozenset(
            {Capability.RELATIONS_TO_REMOTE, Capability.BOOKINGS, Capability.PAYMENTS}
            | ({Capability.RELATION_CHANGES_FROM_REMOTE} if changes_from_remote else set())
        )
        self._normalisers: dict[str, Normaliser] = {
            **field_normalisers(self.mapping, books.relation_fields, _RESERVED, "e-Boekhouden"),
            "type": _kind_code,
        }
        self.fields = frozenset(self._normalisers)
        self.listing_max_age = listing_max_age
        self.check_closed_bookings = check_closed_bookings
        self._listed: dict[str, Relation] = {}
        self._read_at = 0.0
        self._written: dict[str, Relation] = {}

    def __repr__(self) -> str:
        return f"EBoekhoudenConnector(service={self.service!r}, books={self.books!r})"

    def close(self) -> None:
        """Close the client it was given (a worker closes each tenant's connector after a task)."""
        self.books.close()

    # -- the mapping ----------------------------------------------------------------

    def outbound_values(self, party: Party, role: Role) -> FieldValues:
        """The texts e-Boekhouden's fields would hold for this party, normalised as the listing's.

        Only the fields the party's table writes (the CRM owns them, a
        ``None`` clears the remote value); the code comes from the link.
        """
        raw = self.mapping.table_for(party).outbound(party)
        kind = RelationType.PRIVATE if isinstance(party, Person) else RelationType.BUSINESS
        return normalised(self._normalisers, {**raw, "type": kind.value})

    def inbound_party(self, relation: RemoteRelation, party: Party | None) -> Party:
        """``party`` (or a new organisation or person, as the mapping says) with the values.

        A new party gets the relation's code as its debtor (or creditor)
        number and the mapping's relation type for the role.
        """
        return inbound_party(self.mapping, relation, party)

    # -- relations ------------------------------------------------------------------

    def relations(self) -> Sequence[RemoteRelation]:
        """Every relation with a code, from one listing; kept for this run's updates.

        Raises:
            CrmConnectError: The listing failed: nothing is known.
        """
        listed = {str(r.id): r for r in self.books.relations() if r.code and r.id}
        self._listed, self._read_at = listed, time.monotonic()
        self._written.clear()
        return [remote for relation in listed.values() for remote in self._remotes(relation)]

    def find_relation(self, role: Role, number: str) -> RemoteRelation | None:
        """The relation with this code, or ``None``; its role as the number range says."""
        found = self.books.relation_by_code(number)
        if found is None or not found.id:
            return None
        self._written[str(found.id)] = found
        return self._remote(found, self.mapping.role_for_number(number) or Role(role))

    def check_number(self, role: Role, number: str) -> None:
        """Refuse a code the mapping's ranges give to the other role (before any write).

        e-Boekhouden has no debtor or creditor kind: the role is the code's
        range, so a debtor coded 2500 would be listed as a creditor and its
        debtor link taken as removed. A code in no range is accepted (listed
        under both roles).

        Raises:
            ValidationError: Naming the code and the ranges.
        """
        check_number(self.mapping, Role(role), number, "e-Boekhouden")

    def create_relation(self, role: Role, number: str, values: FieldValues) -> RemoteRelation:
        """Add a relation with this code and these values; never twice.

        An add whose answer was lost, or that e-Boekhouden refuses because the
        code exists, is looked up by code first: found, the given fields are
        written over it (the CRM owns them) and that relation is returned.

        Raises:
            ValidationError: The code lies in the other role's range
                (`check_number`), a field the mapping does not compare, or a
                value the relation model refuses (named); nothing was sent.
        """
        self.check_number(role, number)
        checked = checked_values(values, self.fields)
        relation = Relation(code=number, **{k: v for k, v in checked.items() if v is not None})
        added, found = add_relation_once(self.books, relation)
        if not added:  # it existed: the CRM's fields over what e-Boekhouden holds
            found = self._write(found, relation, checked)
        self._written[str(found.id)] = found
        return self._remote(found, Role(role))

    def update_relation(self, current: RemoteRelation, changes: FieldValues) -> RemoteRelation:
        """Write ``changes`` over the e-Boekhouden record (``None`` clears); others stay.

        Read-modify-write over this run's listing (or this connector's last
        write, or the record read now when the listing is older than
        ``listing_max_age``). Nothing is written when nothing changes.

        Raises:
            ValidationError: A field the mapping does not compare, or a value refused.
            NotFoundError: e-Boekhouden no longer holds the relation.
        """
        checked = checked_values(changes, self.fields)
        known = self._current(current.remote_id)
        wanted = Relation(code=known.code, **{k: v for k, v in checked.items() if v is not None})
        written = self._write(known, wanted, checked)
        self._written[current.remote_id] = written
        return self._remote(written, current.role)

    # -- bookings and payments ------------------------------------------------------

    def book_invoices(self, invoices: Sequence[Invoice]) -> BookingResult:
        """Book each invoice once (`BooksClient.push_invoices`: one bulk look-up first).

        An invoice booked before is returned with ``created=False`` and its
        mutation number; one that failed is in ``failed`` with its error
        (retried next run: a write whose answer was lost was looked up first).
        """
        invoices = list(invoices)
        result = self.books.push_invoices(invoices, self.vat_table)
        failed = list(result.failed)
        bookings = [
            RemoteBooking(b.invoice_number, b.relation_code, str(b.mutation_number), b.created)
            for b in result.bookings
            if b.mutation_number
        ]
        done = {(b.relation_code, b.invoice_number) for b in bookings}
        failed_numbers = {number for number, _ in failed}
        for invoice in invoices:
            pair = (invoice.relation_code, invoice.number)
            if pair not in done and invoice.number not in failed_numbers:
                # Booked (seen by the look-up) without its mutation number: find it.
                outcome = self._booked_before(invoice)
                if isinstance(outcome, RemoteBooking):
                    bookings.append(outcome)
                    done.add(pair)
                else:
                    failed.append((invoice.number, outcome))
        return BookingResult(bookings=bookings, failed=failed)

    def payment_states(self, pairs: Sequence[tuple[str, str]]) -> Sequence[RemotePayment]:
        """The state of each (relation code, invoice number), one open-items call per role.

        Matched on both: invoice X1 paid by 1001 and open for 1002 reads paid
        for 1001 and open for 1002; partly paid with what is outstanding. A
        code in no number range is looked for among debtors and creditors. A
        failed look-up leaves its pairs `PaymentState.UNKNOWN` with the reason.
        """
        wanted = list(dict.fromkeys(pairs))
        by_kind: dict[OpenItemKind, list[Pair]] = {}
        for pair in wanted:
            role = self.mapping.role_for_number(pair[0])
            for kind in [_OPEN_ITEMS_OF_ROLE[role]] if role else list(OpenItemKind):
                by_kind.setdefault(kind, []).append(pair)
        found: dict[Pair, RemotePayment] = {}
        for kind, group in by_kind.items():
            for pair, payment in self._states(kind, group).items():
                if pair not in found or _rank(payment) > _rank(found[pair]):
                    found[pair] = payment
        return [found[pair] for pair in wanted]

    # -- helpers --------------------------------------------------------------------

    def _states(self, kind: OpenItemKind, pairs: list[Pair]) -> dict[Pair, RemotePayment]:
        booked = () if self.check_closed_bookings else pairs
        try:
            states = self.books.payment_states(pairs, kind, booked=booked)
        except CrmConnectError as exc:
            return {
                (code, number): RemotePayment(number, code, PaymentState.UNKNOWN, error=str(exc))
                for code, number in pairs
            }
        return {pair: _payment(pair, status) for pair, status in states.items()}

    def _booked_before(self, invoice: Invoice) -> RemoteBooking | CrmConnectError:
        try:
            found = self.books.find_invoice_booking(invoice.number, invoice.relation_code)
        except CrmConnectError as exc:
            return exc
        if found is None or not found.number:
            return SyncError(
                f"invoice {invoice.number!r} of {invoice.relation_code!r} was seen booked, "
                "but its booking cannot be found"
            )
        return RemoteBooking(invoice.number, invoice.relation_code, str(found.number), False)

    def _write(self, known: Relation, wanted: Relation, owned: Iterable[str]) -> Relation:
        """``known`` with the owned fields of ``wanted`` written over it (none: no call)."""
        merged = merged_relation(known, wanted, frozenset(owned))
        if merged is None:
            return known
        self.books.update_relation(merged)
        return merged

    def _current(self, remote_id: str) -> Relation:
        """The record to write over: the last write, a fresh listing's, or read now."""
        if remote_id in self._written:
            return self._written[remote_id]
        fresh = time.monotonic() - self._read_at <= self.listing_max_age
        if fresh and remote_id in self._listed:
            return self._listed[remote_id]
        found = self.books.relations(id=_relation_id(remote_id))
        if not found:
            raise NotFoundError(
                f"e-Boekhouden no longer holds relation {remote_id}", service="eboekhouden"
            )
        return found[0]

    def _remotes(self, relation: Relation) -> list[RemoteRelation]:
        role = self.mapping.role_for_number(relation.code or "")
        return [self._remote(relation, r) for r in ([role] if role else list(Role))]

    def _remote(self, relation: Relation, role: Role) -> RemoteRelation:
        values = normalised(
            self._normalisers, {name: getattr(relation, name) for name in self._normalisers}
        )
        return RemoteRelation(
            remote_id=str(relation.id),
            number=relation.code or "",
            role=role,
            values=values,
        )


def _relation_id(remote_id: str) -> int:
    if not remote_id.isdigit():
        raise ValidationError("remote_id", remote_id, "is not an e-Boekhouden relation ID")
    return int(remote_id)


def _payment(pair: Pair, status: PaymentStatus) -> RemotePayment:
    code, number = pair
    return RemotePayment(
        invoice_number=number,
        relation_code=code,
        state=PaymentState(status.state.value),
        outstanding=status.outstanding,
        error=None if status.error is None else str(status.error),
    )


_RANK = {
    PaymentState.UNKNOWN: 0,
    PaymentState.PAID: 1,
    PaymentState.PARTLY_PAID: 2,
    PaymentState.OPEN: 2,
}


def _rank(payment: RemotePayment) -> int:
    """Which of two kinds' answers for one pair tells more: open in one beats closed in both."""
    return _RANK[payment.state]
