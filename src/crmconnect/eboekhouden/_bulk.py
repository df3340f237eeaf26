"""Pushing many relations and invoices with few calls (bulk look-ups first).

The create path costs about one call per record: existing relation codes come
from one relation listing, existing invoice bookings from the backend's bulk
look-up (SOAP: GetMutaties over date windows, split whenever a window hits the
service's cap of 500). A rerun without changes writes nothing. A record that fails is
reported in the result with its error, never dropped; the others go on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from ..errors import CrmConnectError
from ..mapping import VatTable
from ..models import Invoice
from ._models import Mutation, MutationKind, Relation

if TYPE_CHECKING:
    from ._books import BooksClient

__all__ = ["PushResult", "booked_by_date_windows", "push_invoices", "push_relations"]

MUTATION_CAP = 500
"""GetMutaties returns at most this many mutations per call."""

_INVOICE_KINDS = frozenset({MutationKind.SALES_INVOICE, MutationKind.PURCHASE_INVOICE})


@attrs.frozen
class PushResult:
    """What a bulk push did, per record key (relation code or invoice number).

    Attributes:
        created: Keys written for the first time.
        updated: Keys whose remote record was changed.
        unchanged: Keys that needed no write.
        failed: Keys with the error that stopped them (retry them later).
    """

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    failed: tuple[tuple[str, CrmConnectError], ...] = ()

    @property
    def writes(self) -> int:
        """Records written (created or updated)."""
        return len(self.created) + len(self.updated)


def push_relations(client: BooksClient, relations: Iterable[Relation]) -> PushResult:
    """Create missing relations and update changed ones, by code (one look-up in all).

    Only the fields a relation sets are compared and sent over the remote
    record (read, modify, write), so fields the host leaves empty stay as they are.
    """
    existing = {r.code: r for r in client.relations() if r.code}
    created, updated, unchanged, failed = [], [], [], []
    for relation in relations:
        key = relation.code or ""
        known = existing.get(key)
        wanted = relation.model_dump(exclude={"id", "added"}, exclude_none=True)
        try:
            if known is None:
                client.add_relation(relation)
                created.append(key)
            elif any(getattr(known, name) != value for name, value in wanted.items()):
                client.update_relation(known.model_copy(update=wanted))
                updated.append(key)
            else:
                unchanged.append(key)
        except CrmConnectError as exc:
            failed.append((key, exc))
    return PushResult(tuple(created), tuple(updated), tuple(unchanged), tuple(failed))


def booked_by_date_windows(
    client: BooksClient, invoices: Sequence[Invoice]
) -> set[tuple[str, str]]:
    """(relation code, invoice number) pairs already booked, from mutations by date window."""
    if not invoices:
        return set()
    dates = sorted(i.date for i in invoices)
    found = _bookings_between(client, dates[0], dates[-1])
    return {
        (m.relation_code or "", m.invoice_number or "")
        for m in found
        if m.kind in _INVOICE_KINDS and m.invoice_number
    }


def _bookings_between(client: BooksClient, start: dt.date, end: dt.date) -> list[Mutation]:
    # GetMutaties stops at 500: a full window may hide more, so it is split in two.
    found = client.mutations(date_from=start, date_to=end)
    if len(found) < client.mutation_cap or start == end:
        return found
    middle = start + (end - start) / 2
    return [
        *_bookings_between(client, start, middle),
        *_bookings_between(client, middle + dt.timedelta(days=1), end),
    ]


def push_invoices(
    client: BooksClient,
    invoices: Sequence[Invoice],
    vat_table: VatTable,
    relations: Iterable[Relation] = (),
) -> PushResult:
    """Book every invoice not yet booked; relations given are pushed first.

    Each invoice is mapped through the VAT table before anything is written
    for it; a failing invoice is reported and the others go on. An invoice
    whose relation failed to push is reported with that relation's error.
    """
    relations = list(relations)
    relation_errors = dict(push_relations(client, relations).failed) if relations else {}
    done = client.booked_invoices(invoices)
    created, unchanged, failed = [], [], []
    for invoice in invoices:
        if (invoice.relation_code, invoice.number) in done:
            unchanged.append(invoice.number)
            continue
        if invoice.relation_code in relation_errors:
            failed.append((invoice.number, relation_errors[invoice.relation_code]))
            continue
        try:
            client._book(invoice, vat_table)
            created.append(invoice.number)
        except CrmConnectError as exc:
            failed.append((invoice.number, exc))
    return PushResult(tuple(created), (), tuple(unchanged), tuple(failed))
