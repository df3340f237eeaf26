"""Pushing many relations and invoices with few calls (bulk look-ups first).

The create path costs about one call per record: existing relation codes come
from one relation listing, existing invoice bookings from the backend's bulk
look-up (`InvoiceLookup`). A rerun without changes writes nothing. A record
that fails is reported in the result with its error, never dropped; the
others go on. A write whose outcome is unknown (the answer was lost, cut off
or malformed) is looked up before anything repeats it.

SOAP's GetMutaties answers at most 500 mutations. The look-up never reads a
capped answer as complete: it splits date windows at the cap, falls back to
one GetMutaties per invoice number where a single day holds 500 or more
mutations, and reports an invoice it could not see as *unseen* (failed, not
booked) rather than as "not booked". Which path it took is in
`PushResult.lookup`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ..errors import (
    ConflictError,
    ConnectError,
    CrmConnectError,
    ServerError,
    SyncError,
    TransportError,
    ValidationError,
)
from ..mapping import VatTable
from ..models import Invoice
from ._models import Mutation, MutationKind, Relation

if TYPE_CHECKING:
    from ._books import BooksClient

__all__ = [
    "MUTATION_CAP",
    "WRITABLE_RELATION_FIELDS",
    "Booking",
    "InvoiceLookup",
    "LookupPath",
    "Pair",
    "PushResult",
    "booking_numbers",
    "check_owned",
    "is_ambiguous",
    "lookup_by_date_windows",
    "merged_relation",
    "push_invoices",
    "push_relations",
]

MUTATION_CAP = 500
"""GetMutaties returns at most this many mutations per call."""

_INVOICE_KINDS = frozenset({MutationKind.SALES_INVOICE, MutationKind.PURCHASE_INVOICE})

Pair = tuple[str, str]
"""(relation code, invoice number): what makes an invoice booking the same one."""


@attrs.frozen
class Booking:
    """The booking of an invoice.

    Attributes:
        mutation_number: e-Boekhouden's number of the booking (``Mutatienummer``):
            store it on the host's invoice.
        invoice_number: The invoice number.
        created: ``False`` when the invoice had been booked before and nothing was written.
        relation_code: The relation the invoice is booked for (an invoice number
            is unique per relation, not per administration).
    """

    mutation_number: int
    invoice_number: str
    created: bool
    relation_code: str = ""


def is_ambiguous(error: CrmConnectError) -> bool:
    """Whether a write that failed this way may have taken effect all the same.

    A lost, cut-off or malformed answer (a `TransportError` other than
    `ConnectError`, a `ServerError` such as `MalformedResponseError`) says
    nothing about the write: look it up before anything repeats it. A
    `ConnectError` means the request was never sent.
    """
    if isinstance(error, ConnectError):
        return False
    return isinstance(error, TransportError | ServerError)


# -- the invoice look-up ---------------------------------------------------------------


class LookupPath(StrEnum):
    """How a bulk look-up of invoice bookings went (the most expensive step taken)."""

    COMPLETE = "complete"
    """The first answers held every booking that matters (REST's listings; SOAP's
    GetMutaties of the whole administration below the cap, or with the
    mutations numbered below the last 500)."""
    DATE_WINDOWS = "date_windows"
    """GetMutaties over date windows, each split until it answered below the cap."""
    PER_INVOICE = "per_invoice"
    """Some day held the cap or more: its invoices were looked up one by one."""
    RECENT_ONLY = "recent_only"
    """The service shows only the last 500 mutations of the administration,
    whatever the filter: invoices not among them are unseen (reported, not booked)."""


@attrs.frozen
class InvoiceLookup:
    """Which invoices are booked, as far as the look-up could see, and how it looked.

    Attributes:
        path: The most expensive path taken (`LookupPath`).
        booked: (relation code, invoice number) pairs found booked.
        unseen: Pairs the look-up could not see, with the reason. A push
            reports them as failed and never books them: whether they were
            booked is unknown.
        calls: Look-up calls made (SOAP: GetMutaties, 5,000 a month allowed);
            1 for a backend's own bulk look-up (REST), whatever it costs.
        windows: Date windows read.
        per_invoice: Invoices looked up one by one.
        numbers: The mutation number of each booked pair, where the look-up
            saw it (the lowest, if a pair was booked more than once).
    """

    path: LookupPath = LookupPath.COMPLETE
    booked: frozenset[Pair] = frozenset()
    unseen: Mapping[Pair, CrmConnectError] = attrs.field(factory=dict)
    calls: int = 0
    windows: int = 0
    per_invoice: int = 0
    numbers: Mapping[Pair, int] = attrs.field(factory=dict)

    def unseen_error(self) -> SyncError | None:
        """One error naming the unseen invoices, or ``None`` when every invoice was seen."""
        if not self.unseen:
            return None
        numbers = sorted(number for _, number in self.unseen)
        first = next(iter(self.unseen.values()))
        shown = ", ".join(numbers[:5]) + (" ..." if len(numbers) > 5 else "")
        return SyncError(
            f"cannot tell whether {len(numbers)} invoice(s) were booked ({shown}): {first}"
        )


class MutationSource(Protocol):
    """What the date-window look-up needs of a backend (the SOAP client)."""

    mutation_cap: int

    def mutations(
        self,
        *,
        invoice_number: str | None = None,
        number: int = 0,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> list[Mutation]:
        """GetMutaties with these filters."""

    def mutations_numbered(self, first: int, last: int) -> list[Mutation]:
        """GetMutaties of mutation numbers ``first`` to ``last`` (MutatieNrVan/MutatieNrTm)."""


def lookup_by_date_windows(source: MutationSource, invoices: Sequence[Invoice]) -> InvoiceLookup:
    """Find booked invoices with GetMutaties, never reading a capped answer as complete.

    1. GetMutaties without filter: below the cap it is the whole
       administration, and the answer (`LookupPath.COMPLETE`).
    2. At the cap, GetMutaties of the numbers below the oldest one answered
       tells whether a filter reaches older mutations (and finds the last
       500 of them). If not (the service keeps "the last 500 of the
       administration" before filtering), invoices not among those 500 are
       unseen (`LookupPath.RECENT_ONLY`).
    3. Invoices still not found: GetMutaties over their dates, each window split in
       two while it answers the cap (`LookupPath.DATE_WINDOWS`); a single
       day at the cap falls back to one call per invoice number of that day
       (`LookupPath.PER_INVOICE`).

    Args:
        source: The SOAP client.
        invoices: The invoices to look for.

    Returns:
        The look-up; a failed call marks the invoices it was for as unseen.
    """
    walk = _Walk(source, {(i.relation_code, i.number) for i in invoices})
    if not invoices:
        return walk.result()
    recent = walk.read(walk.wanted, source.mutations)
    if recent is None or len(recent) < source.mutation_cap:
        return walk.result()
    reachable = walk.history_reachable(min(m.number for m in recent))
    if reachable is None:  # the probe failed: the invoices are unseen, with its error
        return walk.result()
    if not reachable:
        walk.path = LookupPath.RECENT_ONLY
        walk.give_up(walk.pending(), _recent_only_error(source.mutation_cap))
        return walk.result()
    by_date: dict[dt.date, set[Pair]] = {}
    for invoice in invoices:
        pair = (invoice.relation_code, invoice.number)
        if pair in walk.pending():
            by_date.setdefault(invoice.date, set()).add(pair)
    if by_date:
        walk.windows_between(by_date, min(by_date), max(by_date))
    return walk.result()


def _recent_only_error(cap: int) -> SyncError:
    return SyncError(
        f"e-Boekhouden's GetMutaties shows only the last {cap} mutations of this "
        "administration, whatever the filter, and the invoice is not among them: "
        "check it in e-Boekhouden, or push with the REST backend (no such limit)"
    )


@attrs.define
class _Walk:
    """The state of one look-up: what was found, what is unseen, what it cost."""

    source: MutationSource
    wanted: set[Pair]
    path: LookupPath = LookupPath.COMPLETE
    booked: set[Pair] = attrs.field(factory=set)
    unseen: dict[Pair, CrmConnectError] = attrs.field(factory=dict)
    calls: int = 0
    windows: int = 0
    per_invoice: int = 0
    numbers: dict[Pair, int] = attrs.field(factory=dict)

    def pending(self) -> set[Pair]:
        return self.wanted - self.booked - self.unseen.keys()

    def give_up(self, pairs: Iterable[Pair], error: CrmConnectError) -> None:
        for pair in pairs:
            self.unseen.setdefault(pair, error)

    def read(
        self, scope: Iterable[Pair], call: Callable[[], list[Mutation]]
    ) -> list[Mutation] | None:
        """One look-up call; its bookings are noted, a failure makes ``scope`` unseen."""
        self.calls += 1
        try:
            found = call()
        except CrmConnectError as exc:
            self.give_up(scope, exc)
            return None
        for pair, number in booking_numbers(found).items():
            if pair in self.wanted:
                self.booked.add(pair)
                self.numbers[pair] = min(number, self.numbers.get(pair, number))
        return found

    def history_reachable(self, oldest: int) -> bool | None:
        """Whether a filter finds mutations older than the last ``cap``; ``None``: unknown."""
        if oldest <= 1:
            return True  # numbers start at 1: nothing older exists
        older = self.read(self.pending(), lambda: self.source.mutations_numbered(1, oldest - 1))
        if older is None:
            return None
        # Assumption: numbering starts at 1 and has no gaps; an empty answer (or one
        # that ignores the number filter) means older mutations cannot be seen.
        return bool(older) and all(m.number < oldest for m in older)

    def windows_between(
        self, by_date: Mapping[dt.date, set[Pair]], start: dt.date, end: dt.date
    ) -> None:
        """Read one window; split it while it answers the cap (skipping halves without invoices)."""
        scope = {pair for day, pairs in by_date.items() if start <= day <= end for pair in pairs}
        if not scope & self.pending():
            return
        if self.path is LookupPath.COMPLETE:
            self.path = LookupPath.DATE_WINDOWS
        self.windows += 1
        found = self.read(scope, lambda: self.source.mutations(date_from=start, date_to=end))
        if found is None or len(found) < self.source.mutation_cap:
            return
        if start == end:  # one day at the cap: it cannot be narrowed by date
            self.per_invoice_look_ups(scope & self.pending())
            return
        middle = start + (end - start) / 2
        self.windows_between(by_date, start, middle)
        self.windows_between(by_date, middle + dt.timedelta(days=1), end)

    def per_invoice_look_ups(self, pairs: set[Pair]) -> None:
        if not pairs:  # the capped day's answer showed them all: no look-up, no such path
            return
        self.path = LookupPath.PER_INVOICE
        for number in sorted({number for _, number in pairs}):
            scope = {pair for pair in pairs if pair[1] == number}
            self.per_invoice += 1
            found = self.read(
                scope, functools.partial(self.source.mutations, invoice_number=number)
            )
            if found is not None and len(found) >= self.source.mutation_cap:
                self.give_up(scope - self.booked, _recent_only_error(self.source.mutation_cap))

    def result(self) -> InvoiceLookup:
        return InvoiceLookup(
            self.path,
            frozenset(self.booked),
            dict(self.unseen),
            self.calls,
            self.windows,
            self.per_invoice,
            dict(self.numbers),
        )


def booking_numbers(mutations: Iterable[Mutation]) -> dict[Pair, int]:
    """The invoice bookings among ``mutations``: (relation code, invoice number) → number.

    A pair booked more than once (by hand, before this library) keeps its lowest number.
    """
    numbers: dict[Pair, int] = {}
    for m in mutations:
        if m.kind in _INVOICE_KINDS and m.invoice_number:
            pair = (m.relation_code or "", m.invoice_number)
            numbers[pair] = min(m.number, numbers.get(pair, m.number))
    return numbers


# -- results ---------------------------------------------------------------------------


@attrs.frozen
class PushResult:
    """What a bulk push did, per record key (relation code or invoice number).

    Attributes:
        created: Keys written for the first time.
        updated: Keys whose remote record was changed.
        unchanged: Keys that needed no write.
        failed: Keys with the error that stopped them (retry them later:
            nothing was written twice, and an unsure write was looked up).
        lookup: For invoices, how the booked ones were found (`InvoiceLookup`:
            path, calls, invoices it could not see); ``None`` for relations.
        bookings: For invoices, the booking of each invoice booked now
            (``created``) or found booked before, where its mutation number
            is known: what a host stores on its invoice. Empty for relations.
    """

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    failed: tuple[tuple[str, CrmConnectError], ...] = ()
    lookup: InvoiceLookup | None = None
    bookings: tuple[Booking, ...] = ()

    @property
    def writes(self) -> int:
        """Records written (created or updated)."""
        return len(self.created) + len(self.updated)

    @property
    def mutation_numbers(self) -> dict[Pair, int]:
        """(relation code, invoice number) → mutation number, of every booking known."""
        return {(b.relation_code, b.invoice_number): b.mutation_number for b in self.bookings}


@attrs.define
class _Outcome:
    created: list[str] = attrs.field(factory=list)
    updated: list[str] = attrs.field(factory=list)
    unchanged: list[str] = attrs.field(factory=list)
    failed: list[tuple[str, CrmConnectError]] = attrs.field(factory=list)
    bookings: dict[Pair, Booking] = attrs.field(factory=dict)

    def booked(self, booking: Booking) -> None:
        pair = (booking.relation_code, booking.invoice_number)
        self.bookings.setdefault(pair, booking)

    def result(self, lookup: InvoiceLookup | None = None) -> PushResult:
        return PushResult(
            tuple(self.created),
            tuple(self.updated),
            tuple(self.unchanged),
            tuple(self.failed),
            lookup,
            tuple(self.bookings.values()),
        )


# -- relations -------------------------------------------------------------------------

_NOT_WRITABLE = frozenset({"id", "added"})


def push_relations(
    client: BooksClient, relations: Iterable[Relation], *, owned: Collection[str] | None = None
) -> PushResult:
    """Create missing relations and update changed ones, by code (one look-up in all).

    Each update is read, modify, write over the remote record: only the
    fields the caller speaks for are compared and changed (see
    `merged_relation`), the others keep what e-Boekhouden holds. An add whose
    answer was lost or malformed, or that the service refuses as a duplicate,
    is looked up by code before anything else is written for that code.

    Args:
        client: The backend.
        relations: The relations, each with its code.
        owned: The `Relation` fields the caller owns: compared and written
            as the relation holds them, ``None`` or ``""`` clearing the remote
            value. ``None`` (the default): the fields the relation sets (not
            ``None``), so an empty field never clears a remote one.

    Raises:
        ValidationError: ``owned`` names something that is not a `Relation`
            field the backend writes (`BooksClient.relation_fields`); nothing was sent.
    """
    owned = check_owned(owned, client.relation_fields)
    outcome = _Outcome()
    relations = list(relations)
    try:
        existing = {r.code: r for r in client.relations() if r.code}
    except CrmConnectError as exc:  # nothing is known: every relation waits for the next run
        outcome.failed.extend((r.code or "", exc) for r in relations)
        return outcome.result()
    for relation in relations:
        key = relation.code or ""
        try:
            existing[key] = _push_relation(client, relation, existing.get(key), outcome, owned)
        except CrmConnectError as exc:
            outcome.failed.append((key, exc))
    return outcome.result()


WRITABLE_RELATION_FIELDS = frozenset(Relation.model_fields.keys() - _NOT_WRITABLE)
"""Every `Relation` field an update can write (SOAP's ``cRelatie`` carries them all)."""


def check_owned(owned: Collection[str] | None, writable: Collection[str]) -> frozenset[str] | None:
    """``owned`` as a set of field names the backend writes (``None`` stays ``None``).

    Raises:
        ValidationError: A name that is not a `Relation` field the backend writes.
    """
    if owned is None:
        return None
    if isinstance(owned, str):  # one name, not its letters
        raise ValidationError("owned", owned, "give a collection of field names, not one text")
    for name in sorted(owned):
        if name not in writable:
            raise ValidationError(
                "owned",
                name,
                f"not a Relation field this backend writes ({', '.join(sorted(writable))})",
            )
    return frozenset(owned)


def _push_relation(
    client: BooksClient,
    relation: Relation,
    known: Relation | None,
    outcome: _Outcome,
    owned: frozenset[str] | None,
) -> Relation:
    """Add, update or leave one relation; returns the remote state it now has."""
    key = relation.code or ""
    if not key:
        raise ValidationError("code", relation.code, "a relation needs a code")
    if known is None:
        added, found = add_relation_once(client, relation)
        if added:
            outcome.created.append(key)
            return found
        known = found  # it existed after all (a duplicate refused): compare as usual
    updated = merged_relation(known, relation, owned)
    if updated is None:
        outcome.unchanged.append(key)
        return known
    client.update_relation(updated)
    outcome.updated.append(key)
    return updated


def merged_relation(
    known: Relation, relation: Relation, owned: Collection[str] | None
) -> Relation | None:
    """The remote record ``known`` with the caller's fields of ``relation``; ``None``: no change.

    With ``owned``, exactly those fields are taken from ``relation``, an
    empty one (``None`` or ``""``) as ``""``: the value that clears a field
    on both backends. SOAP sends it as an empty element (whether
    UpdateRelatie blanks an element left out is unverified, eboekhouden.md
    §5); REST sends an empty member (a PATCH keeps a member left out, and the
    API does not say what ``null`` does). Without ``owned``, the fields
    ``relation`` sets. ``None`` and ``""`` count as the same (a cleared field
    reads back as absent or empty).
    """
    if owned is None:
        wanted = relation.model_dump(exclude=set(_NOT_WRITABLE), exclude_none=True)
    else:
        wanted = {name: _or_empty(getattr(relation, name)) for name in owned}
    changes = {
        name: value for name, value in wanted.items() if not _same(getattr(known, name), value)
    }
    return known.model_copy(update=changes) if changes else None


def _or_empty(value: Any) -> Any:
    return "" if value is None else value


def _same(remote: Any, wanted: Any) -> bool:
    return bool(_or_empty(remote) == _or_empty(wanted))


def add_relation_once(client: BooksClient, relation: Relation) -> tuple[bool, Relation]:
    """Add a relation, never twice; ``(True, added)`` or ``(False, the one that existed)``.

    A `ConflictError` means the code exists; an ambiguous failure (see
    `is_ambiguous`) may have added it. Either way the code is looked up
    before anything else happens: found, it is the answer; not found, the
    original error is raised.
    """
    code = relation.code or ""
    try:
        return True, relation.model_copy(update={"id": client.add_relation(relation)})
    except CrmConnectError as exc:
        if not (isinstance(exc, ConflictError) or is_ambiguous(exc)):
            raise
        error = exc
    found = client.relation_by_code(code)
    if found is None:
        raise error
    if isinstance(error, ConflictError):
        return False, found
    return True, relation.model_copy(update={"id": found.id, "added": found.added})


# -- invoices --------------------------------------------------------------------------


def push_invoices(
    client: BooksClient,
    invoices: Sequence[Invoice],
    vat_table: VatTable,
    relations: Iterable[Relation] = (),
) -> PushResult:
    """Book every invoice not yet booked; relations given are pushed first.

    Each invoice is mapped through the VAT table before anything is written
    for it; a failing invoice is reported and the others go on. An invoice
    whose relation failed to push is reported with that relation's error; one
    the look-up could not see is reported as failed and not booked; the same
    invoice given twice is booked once.
    """
    relations = list(relations)
    relation_errors = dict(push_relations(client, relations).failed) if relations else {}
    lookup = client.invoice_lookup(invoices)
    done = set(lookup.booked)
    outcome = _Outcome()
    for invoice, pair in _with_pairs(invoices):
        if pair in done:
            outcome.unchanged.append(invoice.number)
            if pair in lookup.numbers:
                outcome.booked(Booking(lookup.numbers[pair], invoice.number, False, pair[0]))
        elif pair in lookup.unseen:
            outcome.failed.append((invoice.number, lookup.unseen[pair]))
        elif invoice.relation_code in relation_errors:
            outcome.failed.append((invoice.number, relation_errors[invoice.relation_code]))
        else:
            try:
                booking = client._book(invoice, vat_table)
            except CrmConnectError as exc:
                outcome.failed.append((invoice.number, exc))
                continue
            done.add(pair)
            (outcome.created if booking.created else outcome.unchanged).append(invoice.number)
            outcome.booked(booking)
    return outcome.result(lookup)


def _with_pairs(invoices: Iterable[Invoice]) -> Iterator[tuple[Invoice, Pair]]:
    for invoice in invoices:
        yield invoice, (invoice.relation_code, invoice.number)
