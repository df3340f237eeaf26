"""`TrialHost`: a host CRM that is only read, its writes kept in memory, for a trial run.

A trial against the sandboxes (``crmconnect sync --sandbox``) meets empty
services and keeps its state in memory. Writing into the real host would do
harm that outlives it: bookings recorded for invoices no real service holds
(the real run would never book them and would read them as paid), parties
created or changed from sandbox data, flags for relations "removed". So the
engine of a trial runs on a `TrialHost`: it reads the host, and keeps what the
engine writes in memory, where the engine reads it back (a party a pull
created is pushed on, an invoice booked is not booked again) and where it can
be shown as what would have happened. It works over any `HostCRM`, and is a
`DeletionTrackingHost`, `KvKHost` or `ReviewFlagHost` exactly when the host is.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Collection, Sequence
from typing import Any

import attrs

from ..errors import ValidationError
from ..models import Invoice
from ._engine import _number
from ._protocols import (
    DeletionTrackingHost,
    HostCRM,
    KvKHost,
    Party,
    PaymentState,
    RemoteBooking,
    RemotePayment,
    ReviewFlagHost,
    Role,
)

__all__ = ["KeptFlag", "KeptKvKUpdate", "TrialHost"]


@attrs.frozen
class KeptFlag:
    """A review flag a trial run would have set in the host."""

    host_id: str
    service: str
    reason: str


@attrs.frozen
class KeptKvKUpdate:
    """A pending KvK update a trial run would have stored in the host."""

    host_id: str
    field: str
    crm_value: object
    kvk_value: object


class TrialHost:
    """A host CRM read as it is, with every write kept in memory: the host of a trial run.

    ``TrialHost(host)`` answers every read from ``host`` with the writes made
    through it laid over; nothing is ever written to ``host``. What would have
    been written is kept in the attributes below (gone with the object).

    Args:
        host: The real host CRM (any `HostCRM`). The trial host is also a
            `DeletionTrackingHost`, `KvKHost` or `ReviewFlagHost` when it is.

    Attributes:
        host: The real host, only read.
        created: Parties created, by their trial IDs (``"trial-1"``, ...).
        changed: Parties of the host changed (numbers set included), by host ID.
        flags: Review flags set (`KeptFlag`).
        bookings: ``(service, booking)`` of invoices booked.
        payments: ``(service, payment)`` of payment states recorded.
        kvk_updates: KvK updates stored (`KeptKvKUpdate`).

    Example:
        ```python
        from crmconnect.sync import SyncEngine, TrialHost

        trial = TrialHost(crm)    # crm is only read
        SyncEngine(trial, [df_sandbox_connector], state=":memory:").run()
        print(trial.summary())    # what the run would have written into crm
        ```
    """

    def __new__(cls, host: HostCRM) -> TrialHost:
        if cls is TrialHost:
            kinds = tuple(mixin for kind, mixin in _MIXINS if isinstance(host, kind))
            cls = _variant(kinds)
        return super().__new__(cls)

    def __init__(self, host: HostCRM) -> None:
        if not isinstance(host, HostCRM):
            raise ValidationError("host", type(host).__name__, "is not a HostCRM")
        self.host = host
        self.created: dict[str, Party] = {}
        self.changed: dict[str, Party] = {}
        self.flags: list[KeptFlag] = []
        self.bookings: list[tuple[str, RemoteBooking]] = []
        self.payments: list[tuple[str, RemotePayment]] = []
        self.kvk_updates: list[KeptKvKUpdate] = []
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"TrialHost({self.host!r})"

    def summary(self) -> str:
        """What the engine wrote into this trial host, in one line (nothing reached the host)."""
        parts = [
            (len(self.created), "party created", "parties created"),
            (len(self.changed), "party changed", "parties changed"),
            (len(self.flags), "flag", "flags"),
            (len(self.bookings), "booking", "bookings"),
            (len(self.payments), "payment state", "payment states"),
            (len(self.kvk_updates), "KvK update", "KvK updates"),
        ]
        said = [f"{count} {one if count == 1 else many}" for count, one, many in parts if count]
        return ", ".join(said) or "nothing"

    # -- parties ---------------------------------------------------------------------

    def _overlay(self) -> dict[str, Party]:
        return {**self.changed, **self.created}

    def changed_parties(self, bookmark: str | None) -> tuple[Sequence[Party], str]:
        """The host's changed parties (as this trial changed them), and every trial write."""
        changed, new_bookmark = self.host.changed_parties(bookmark)
        overlay = self._overlay()
        parties = [overlay.get(p.id or "", p) for p in changed]
        seen = {p.id for p in parties}
        parties += [party for host_id, party in overlay.items() if host_id not in seen]
        return parties, new_bookmark

    def party(self, host_id: str) -> Party | None:
        """The party as this trial left it, else as the host has it."""
        return self._overlay().get(host_id) or self.host.party(host_id)

    def find_by_number(self, role: Role, number: str) -> Party | None:
        """The party with this number, among this trial's writes first, then in the host."""
        overlay = self._overlay()
        for party in overlay.values():
            if _number(party, role) == str(number):
                return party
        found = self.host.find_by_number(role, number)
        if found is not None and found.id in overlay:
            return None  # its number was changed in this trial
        return found

    def create_party(self, party: Party) -> str:
        """Keep a new party in memory under a trial ID (``"trial-1"``, ...)."""
        host_id = f"trial-{next(self._ids)}"
        self.created[host_id] = party.model_copy(update={"id": host_id}, deep=True)
        return host_id

    def save_party(self, party: Party) -> None:
        """Keep a changed party in memory.

        Raises:
            ValidationError: Neither the host nor this trial has a party with its ID.
        """
        host_id = party.id or ""
        if host_id in self.created:
            self.created[host_id] = party.model_copy(deep=True)
        elif host_id in self.changed or self.host.party(host_id) is not None:
            self.changed[host_id] = party.model_copy(deep=True)
        else:
            raise ValidationError("id", party.id, "is not the ID of a party in the host")

    def set_number(self, host_id: str, role: Role, number: str | None) -> None:
        """Keep a party's new debtor or creditor number in memory.

        Raises:
            ValidationError: No party has this ID.
        """
        party = self.party(host_id)
        if party is None:
            raise ValidationError("id", host_id, "is not the ID of a party in the host")
        column = "debtor_number" if role is Role.DEBTOR else "creditor_number"
        self.save_party(party.model_copy(update={column: number}))

    def flag_for_review(self, host_id: str, service: str, reason: str) -> None:
        """Keep the flag in memory (`flags`)."""
        flag = KeptFlag(host_id, service, reason)
        if flag not in self.flags:
            self.flags.append(flag)

    # -- invoices --------------------------------------------------------------------

    def invoices_to_book(self, service: str) -> Sequence[Invoice]:
        """The host's invoices to book, less those this trial booked."""
        booked = {(b.relation_code, b.invoice_number) for s, b in self.bookings if s == service}
        invoices = self.host.invoices_to_book(service)
        return [i for i in invoices if (i.relation_code, i.number) not in booked]

    def record_booking(self, service: str, booking: RemoteBooking) -> None:
        """Keep the booking in memory (`bookings`)."""
        self.bookings.append((service, booking))

    def open_invoices(self, service: str) -> Sequence[tuple[str, str]]:
        """The host's open invoices and those this trial booked, less those it saw paid."""
        booked = [(b.relation_code, b.invoice_number) for s, b in self.bookings if s == service]
        paid = {
            (p.relation_code, p.invoice_number)
            for s, p in self.payments
            if s == service and p.state is PaymentState.PAID
        }
        pairs = dict.fromkeys([*self.host.open_invoices(service), *booked])
        return [pair for pair in pairs if pair not in paid]

    def record_payment(self, service: str, payment: RemotePayment) -> None:
        """Keep the payment state in memory (`payments`)."""
        self.payments.append((service, payment))


class _TrialDeletions(TrialHost):
    def deleted_parties(self, bookmark: str | None) -> Sequence[str]:
        """The host's deleted parties (`DeletionTrackingHost`)."""
        host: Any = self.host
        return list(host.deleted_parties(bookmark))


class _TrialKvK(TrialHost):
    def store_kvk_update(
        self, host_id: str, field: str, crm_value: object, kvk_value: object
    ) -> bool:
        """Keep the update in memory (`kvk_updates`); ``False`` when kept already."""
        update = KeptKvKUpdate(host_id, field, crm_value, kvk_value)
        if update in self.kvk_updates:
            return False
        self.kvk_updates.append(update)
        return True


class _TrialFlags(TrialHost):
    def flagged_parties(self, service: str) -> Collection[str]:
        """The host's flagged parties and those this trial flagged (`ReviewFlagHost`)."""
        host: Any = self.host
        mine = {flag.host_id for flag in self.flags if flag.service == service}
        return {*host.flagged_parties(service), *mine}


_MIXINS: tuple[tuple[type, type[TrialHost]], ...] = (
    (DeletionTrackingHost, _TrialDeletions),
    (KvKHost, _TrialKvK),
    (ReviewFlagHost, _TrialFlags),
)


@functools.cache
def _variant(mixins: tuple[type[TrialHost], ...]) -> type[TrialHost]:
    """`TrialHost` with the optional protocols of the host it reads."""
    if not mixins:
        return TrialHost
    variant: type[TrialHost] = type("TrialHost", (*mixins,), {"__module__": "crmconnect.sync"})
    return variant
