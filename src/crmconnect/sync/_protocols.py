"""What the sync engine talks to: the host CRM, the accounting connectors and the state store.

The engine imports no connector and no host: it works through these three
protocols and the value types below. Values are compared in the *remote field
space*: a connector's mapping table turns a host party into the texts its
remote fields would hold (`crmconnect.mapping`), and a connector's listing
gives the texts they hold now, both normalised the same way. A field is
named by the connector's own (English) attribute name, e.g. ``"postcode"``.

A link is per host record, service and role: a party with both a debtor and a
creditor number is two remote relations in each service.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

import attrs

from ..errors import CrmConnectError
from ..models import Invoice, Organisation, Person

if TYPE_CHECKING:
    from ._report import SyncReport

__all__ = [
    "AccountingConnector",
    "BookingResult",
    "Capability",
    "DeletionTrackingHost",
    "FieldValues",
    "HostCRM",
    "Intent",
    "KvKFlow",
    "KvKHost",
    "Link",
    "NumberCheckingConnector",
    "Party",
    "PaymentState",
    "RemoteBooking",
    "RemotePayment",
    "RemoteRelation",
    "RemovingConnector",
    "ReviewFlagHost",
    "Role",
    "RunRecord",
    "StateStore",
    "values_fingerprint",
]

Party: TypeAlias = Organisation | Person
"""A host relation: an organisation or a person."""

FieldValues: TypeAlias = Mapping[str, str | None]
"""Remote field name → normalised text; ``None`` for an empty field."""


class Role(StrEnum):
    """The role a relation has in a bookkeeping service."""

    DEBTOR = "debtor"
    """A customer: the host's debtor number is the remote code (1xxx by convention)."""
    CREDITOR = "creditor"
    """A supplier: the host's creditor number is the remote code (2xxx by convention)."""


class Capability(StrEnum):
    """What a connector can do; the engine runs only the flows a connector has."""

    RELATIONS_FROM_REMOTE = "relations_from_remote"
    """Relations created or changed remotely come to the host."""
    RELATION_CHANGES_FROM_REMOTE = "relation_changes_from_remote"
    """Changes made remotely to linked relations come to the host; a relation
    created remotely is not created in the host (it is linked when a host
    party takes its number)."""
    RELATIONS_TO_REMOTE = "relations_to_remote"
    """Host relations are created and updated remotely."""
    BOOKINGS = "bookings"
    """Sent invoices are booked remotely."""
    PAYMENTS = "payments"
    """Payment states of booked invoices come back."""
    RELATION_REMOVAL = "relation_removal"
    """Relations can be removed remotely (`RemovingConnector.remove_relation`)."""


class PaymentState(StrEnum):
    """Whether an invoice is paid, as the host records it."""

    OPEN = "open"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"
    UNKNOWN = "unknown"


def values_fingerprint(values: FieldValues) -> str:
    """A hash of the non-empty values: equal values, equal fingerprints."""
    parts = [f"{name}\x1f{text}\x1e" for name, text in sorted(values.items()) if text]
    return hashlib.blake2b("".join(parts).encode(), digest_size=16).hexdigest()


@attrs.frozen
class RemoteRelation:
    """A relation as a connector's listing shows it.

    Attributes:
        remote_id: The service's own ID of the record.
        number: The relation code (the host's debtor or creditor number).
        role: Debtor or creditor.
        values: Every mapped remote field, normalised (`FieldValues`). A
            connector may give a mapping that reads them only when first used
            (a `crmconnect.errors.CrmConnectError` then, when they cannot be read).
        digest: A digest of the record as the service listed it, when the
            connector has one: an equal digest at the next run means an
            unchanged record, so the engine skips reading its values
            (`Link.remote_digest`). ``None``: the values are compared. Not
            part of equality: two relations with equal values are equal.
    """

    remote_id: str
    number: str
    role: Role
    values: FieldValues
    digest: str | None = attrs.field(default=None, eq=False)

    @property
    def fingerprint(self) -> str:
        """A hash of ``values`` (`values_fingerprint`): equal values, equal fingerprints."""
        return values_fingerprint(self.values)


@attrs.frozen
class RemoteBooking:
    """An invoice booked remotely (or found booked before).

    Attributes:
        invoice_number: The host's invoice number.
        relation_code: The debtor or creditor number it was booked on.
        reference: The service's reference of the booking (e.g. a mutation number).
        created: ``False`` when it had been booked before and nothing was written.
    """

    invoice_number: str
    relation_code: str
    reference: str
    created: bool


@attrs.frozen
class BookingResult:
    """What booking a batch of invoices did: every invoice is in one of the two.

    Attributes:
        bookings: Invoices booked now or found booked before.
        failed: ``(invoice number, error)`` of invoices not booked (retried next run).
    """

    bookings: Sequence[RemoteBooking] = ()
    failed: Sequence[tuple[str, CrmConnectError]] = ()


@attrs.frozen
class RemotePayment:
    """The payment state of one booked invoice.

    Attributes:
        invoice_number: The host's invoice number.
        relation_code: The debtor or creditor number.
        state: Open, partly paid, paid or unknown.
        outstanding: What is still to be paid, when known.
        error: Why the state is unknown, when it could not be read (asked again next run).
    """

    invoice_number: str
    relation_code: str
    state: PaymentState
    outstanding: Decimal | None = None
    error: str | None = None


@attrs.frozen
class Link:
    """What the state store knows of one host record in one service and role.

    Attributes:
        host_id: The host's ID of the party.
        service: The connector's ``service`` name.
        role: Debtor or creditor.
        remote_id: The service's ID (``None`` while only an intent exists).
        number: The relation code.
        host_values: The host side's field values at the last sync.
        remote_values: The remote side's field values at the last sync.
        synced_at: When the link was last written.
        remote_digest: `RemoteRelation.digest` of the remote record when it
            last held ``remote_values`` as listed; ``None`` when unknown (the
            engine wrote it since, or the connector gives no digest).
    """

    host_id: str
    service: str
    role: Role
    remote_id: str | None
    number: str
    host_values: FieldValues = attrs.field(factory=dict)
    remote_values: FieldValues = attrs.field(factory=dict)
    synced_at: dt.datetime | None = None
    remote_digest: str | None = None


@attrs.frozen
class Intent:
    """A remote write announced before it is sent (so a killed run does not repeat it).

    Attributes:
        intent_id: The store's ID of the intent.
        service: The connector's ``service`` name.
        kind: What is written: ``"create_relation"``, ``"update_relation"``, ``"book_invoice"``.
        key: The natural key to look the write up by (relation number, invoice number).
        host_id: The host record concerned, when there is one.
        role: The role, for relation writes.
        created_at: When the intent was recorded.
    """

    intent_id: int
    service: str
    kind: str
    key: str
    host_id: str | None
    role: Role | None
    created_at: dt.datetime


@attrs.frozen
class RunRecord:
    """One run of the engine, as the state store keeps it.

    Attributes:
        run_id: The store's ID of the run.
        flow: The flow run (``"relations"``, ``"bookings"``, ``"payments"``, ``"all"``).
        started: When it started.
        ended: When it ended; ``None`` while running or after a crash.
        status: ``"running"``, ``"ok"``, ``"failed"`` or ``"abandoned"``.
        counts: Records per action (created, updated, ...).
        failures: ``(record key, reason)`` per failed record.
        tenant: The tenant the run was for, in a store shared by tenants
            (`PostgresStateStore`); ``None`` in a store of one host.
        connection: The tenant's connection name, beside ``tenant``.
        worker: Who ran it (host name and process ID, or a Celery worker's
            name), where the store records it.
    """

    run_id: int
    flow: str
    started: dt.datetime
    ended: dt.datetime | None
    status: str
    counts: Mapping[str, int] = attrs.field(factory=dict)
    failures: Sequence[tuple[str, str]] = ()
    tenant: str | None = None
    connection: str | None = None
    worker: str | None = None


@runtime_checkable
class HostCRM(Protocol):
    """What a host CRM implements for the engine (see `crmconnect.contrib.sqlite_crm`)."""

    def changed_parties(self, bookmark: str | None) -> tuple[Sequence[Party], str]:
        """Parties created or changed after ``bookmark`` (all when ``None``), and the new one."""
        ...

    def party(self, host_id: str) -> Party | None:
        """One party by the host's ID, or ``None``."""
        ...

    def find_by_number(self, role: Role, number: str) -> Party | None:
        """The party whose debtor (or creditor) number is ``number``, or ``None``."""
        ...

    def create_party(self, party: Party) -> str:
        """Store a new party (its ``id`` is ignored); returns the host's ID."""
        ...

    def save_party(self, party: Party) -> None:
        """Store a changed party, found by its ``id``."""
        ...

    def set_number(self, host_id: str, role: Role, number: str | None) -> None:
        """Set (or clear) a party's debtor or creditor number."""
        ...

    def flag_for_review(self, host_id: str, service: str, reason: str) -> None:
        """Mark a party for a person to look at (e.g. removed remotely); shown in the host."""
        ...

    def invoices_to_book(self, service: str) -> Sequence[Invoice]:
        """Sent invoices not yet booked in this service."""
        ...

    def record_booking(self, service: str, booking: RemoteBooking) -> None:
        """Remember that an invoice is booked in this service."""
        ...

    def open_invoices(self, service: str) -> Sequence[tuple[str, str]]:
        """``(relation code, invoice number)`` of booked invoices the host still has open."""
        ...

    def record_payment(self, service: str, payment: RemotePayment) -> None:
        """Store an invoice's payment state."""
        ...


@runtime_checkable
class DeletionTrackingHost(HostCRM, Protocol):
    """A host that tells which parties it deleted, so a run handles them by itself.

    Without it a host calls `SyncEngine.party_removed` when it deletes a
    party; with it each run asks, and applies the engine's ``on_host_removal``
    setting to the links of the parties gone.
    """

    def deleted_parties(self, bookmark: str | None) -> Sequence[str]:
        """Host IDs of parties deleted after ``bookmark`` (the `changed_parties` bookmark).

        Asked with the bookmark given to `changed_parties` in the same run,
        after that call: a deletion between the two calls is then reported
        now or next run, never lost.
        """
        ...


@runtime_checkable
class ReviewFlagHost(HostCRM, Protocol):
    """A host that tells which parties still carry a review flag, so a cleared one counts.

    A relation removed remotely is flagged (`HostCRM.flag_for_review`) and not
    created again while flagged: with this the engine sees a person clear
    the flag, and the next run links or creates the party again. Without it
    a person calls `SyncEngine.relink`.
    """

    def flagged_parties(self, service: str) -> Collection[str]:
        """Host IDs of parties with a review flag of this service that was not cleared."""
        ...


@runtime_checkable
class KvKFlow(Protocol):
    """A flow the engine runs beside the relations, bookings and payments: the KvK updates.

    Implemented by `crmconnect.kvk.KvKUpdates`; the engine imports no connector.

    Attributes:
        service: The name its report rows carry (``"kvk"``).
        interval: How often `SyncEngine.run_due` runs it.
    """

    @property
    def service(self) -> str:
        """The name its report rows carry."""
        ...

    @property
    def interval(self) -> dt.timedelta:
        """How often `SyncEngine.run_due` runs it."""
        ...

    def run(self, host: HostCRM, report: SyncReport, *, state: StateStore | None = None) -> None:
        """Check the host's linked organisations; store what differs, add a row per one.

        The engine passes its host only when it is a `KvKHost`, and its state
        store as ``state`` (where a flow keeps a bookmark, as the KvK flow on
        change signals does). A flow whose ``run`` takes no ``state`` (written
        before it was passed) is called without it.
        """
        ...


@runtime_checkable
class KvKHost(HostCRM, Protocol):
    """A `HostCRM` that also keeps KvK updates for a person to review (the KvK flow needs it).

    Optional: a host without KvK implements `HostCRM` alone. What a person
    decides (accept, reject) stays in the host; the flow only stores.
    """

    def store_kvk_update(
        self, host_id: str, field: str, crm_value: object, kvk_value: object
    ) -> bool:
        """Store a field the register has otherwise (or a removal) for a person to review.

        Args:
            host_id: The organisation's host ID.
            field: The `Organisation` attribute (``"visiting_address"``), or
                ``"registration"`` for a registration that ended or was removed.
            crm_value: What the host has.
            kvk_value: What the register says.

        Returns:
            ``True`` when this is a new proposal; ``False`` when this very value
            is pending already, or the person rejected it and the register has
            not changed it since (then nothing is stored).
        """
        ...


@runtime_checkable
class AccountingConnector(Protocol):
    """What each bookkeeping connector implements for the engine.

    Attributes:
        service: A short name, unique per engine (``"digitalefactuur"``).
        capabilities: The flows this connector takes part in.
    """

    service: str
    capabilities: frozenset[Capability]

    def outbound_values(self, party: Party, role: Role) -> FieldValues:
        """The texts the remote fields would hold for this party (the mapping table, out)."""
        ...

    def inbound_party(self, relation: RemoteRelation, party: Party | None) -> Party:
        """``party`` (or a new one) with the remote values applied (the mapping table, in)."""
        ...

    def relations(self) -> Sequence[RemoteRelation]:
        """Every remote relation, in one listing per run."""
        ...

    def find_relation(self, role: Role, number: str) -> RemoteRelation | None:
        """The remote relation with this code, or ``None`` (resolves an unfinished intent)."""
        ...

    def create_relation(self, role: Role, number: str, values: FieldValues) -> RemoteRelation:
        """Create a relation; never retried blindly (looked up by number when unsure)."""
        ...

    def update_relation(self, current: RemoteRelation, changes: FieldValues) -> RemoteRelation:
        """Write only ``changes`` over ``current`` (``None`` clears a field)."""
        ...

    def book_invoices(self, invoices: Sequence[Invoice]) -> BookingResult:
        """Book invoices, each exactly once, with bulk look-ups; one failure stops no other."""
        ...

    def payment_states(self, pairs: Sequence[tuple[str, str]]) -> Sequence[RemotePayment]:
        """Payment states of ``(relation code, invoice number)`` pairs."""
        ...


@runtime_checkable
class NumberCheckingConnector(AccountingConnector, Protocol):
    """A connector that can tell, before any write, whether a number fits a role.

    DigitaleFactuur and e-Boekhouden key a relation's role by its number's
    range (1xxx debtors, 2xxx creditors by default): a debtor numbered in the
    creditors' range would come back as a creditor. The engine asks before it
    creates a relation, so such a record fails alone, before anything is written.
    """

    def check_number(self, role: Role, number: str) -> None:
        """Refuse a number that cannot be a relation code of ``role`` in this service.

        Raises:
            ValidationError: Naming the number and the range it should be in.
        """
        ...


@runtime_checkable
class RemovingConnector(AccountingConnector, Protocol):
    """A connector that can remove a relation (with `Capability.RELATION_REMOVAL`).

    Used when a host party is deleted or deactivated and the engine is set to
    remove it remotely (`crmconnect.sync.HostRemoval.REMOVE`).
    """

    def remove_relation(self, current: RemoteRelation) -> None:
        """Remove the relation; one already gone is no error."""
        ...


@runtime_checkable
class StateStore(Protocol):
    """Where the engine keeps links, bookmarks, intents and run history between runs.

    Every method is one transaction: a crash leaves either the whole write or none of it.
    """

    def link(self, host_id: str, service: str, role: Role) -> Link | None:
        """The link of a host record in a service and role, or ``None``."""
        ...

    def link_by_remote(self, service: str, role: Role, remote_id: str) -> Link | None:
        """The link of a remote record, or ``None``."""
        ...

    def links(self, service: str) -> Sequence[Link]:
        """Every link of a service."""
        ...

    def save_link(self, link: Link) -> None:
        """Insert or replace a link (keyed by host ID, service and role)."""
        ...

    def set_remote_digests(self, digests: Sequence[tuple[Link, str]]) -> None:
        """Store each link's `Link.remote_digest`, in one transaction.

        Only where the stored link is still the one given (same remote ID and
        ``synced_at``): a link written since keeps what was written with it.
        """
        ...

    def remove_link(self, host_id: str, service: str, role: Role) -> None:
        """Forget a link (the remote record was removed)."""
        ...

    def bookmark(self, name: str) -> str | None:
        """A stored bookmark (e.g. the host's change cursor), or ``None``."""
        ...

    def set_bookmark(self, name: str, value: str) -> None:
        """Store a bookmark."""
        ...

    def mark(self, kind: str, key: str) -> str | None:
        """A keyed mark (a removal mark, a record to retry, a payment state), or ``None``."""
        ...

    def marks(self, kind: str, prefix: str = "") -> Mapping[str, str]:
        """Every mark of a kind whose key starts with ``prefix``, by key."""
        ...

    def set_marks(self, kind: str, values: Mapping[str, str | None]) -> None:
        """Store marks of a kind in one transaction; a ``None`` value removes one."""
        ...

    def set_mark(self, kind: str, key: str, value: str | None) -> None:
        """Store one mark; ``None`` removes it."""
        ...

    def acquire_lease(self, owner: str, ttl: dt.timedelta) -> bool:
        """Hold the store for ``ttl`` so one run at a time writes (renewed when held already).

        ``False`` when another owner holds an unexpired lease. The engine takes it
        for every run, so the intents it finds at the start of a run belong to
        runs that ended or died, and resolving them cannot race a live writer.
        """
        ...

    def lease_holder(self) -> str | None:
        """The owner of the unexpired lease, or ``None`` when the store is free."""
        ...

    def release_lease(self, owner: str) -> None:
        """Free the store, when ``owner`` holds it."""
        ...

    def add_intent(
        self, service: str, kind: str, key: str, *, host_id: str | None, role: Role | None
    ) -> Intent:
        """Record that a write is about to be sent."""
        ...

    def intents(self, service: str) -> Sequence[Intent]:
        """Unfinished intents of a service, oldest first."""
        ...

    def finish_intent(self, intent_id: int, link: Link | None = None) -> None:
        """Drop a finished intent and, in the same transaction, save the link it made."""
        ...

    def start_run(self, flow: str) -> RunRecord:
        """Record a run as started (earlier runs still marked running become abandoned)."""
        ...

    def end_run(
        self,
        run_id: int,
        status: str,
        counts: Mapping[str, int],
        failures: Sequence[tuple[str, str]],
    ) -> None:
        """Record how a run ended."""
        ...

    def runs(self, since: dt.datetime | None = None) -> Sequence[RunRecord]:
        """Run history, oldest first."""
        ...

    def close(self) -> None:
        """Release the store's connection."""
        ...
