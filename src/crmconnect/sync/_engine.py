"""`SyncEngine`: the koppeling between a host CRM and the bookkeeping connectors.

The engine talks to three protocols (`HostCRM`, `AccountingConnector`,
`StateStore`) and imports no connector. A run has stages, in this order:

1. **pull**, per connector with a relation capability, in the connectors'
   order: one listing (``relations()``); links whose remote record is gone
   are unlinked and the host record flagged; with
   `Capability.RELATIONS_FROM_REMOTE`, new remote relations are linked by
   number or created in the host, and changed ones merged field by field;
   with `Capability.RELATION_CHANGES_FROM_REMOTE` only linked ones are merged;
2. **push**, per connector with `Capability.RELATIONS_TO_REMOTE`: host parties
   changed since the bookmark (and those that failed last time) are created
   remotely (intent first) or merged field by field; a record a pull merged
   gets what the host holds after every pull where its link differs;
3. **bookings** (`Capability.BOOKINGS`) and 4. **payments** (`Capability.PAYMENTS`).

Pulls come before pushes, so a relation that arrives from one service reaches
the others in the same `SyncEngine.run`; and when two services changed one
field, the later pull's value is the host's, and the push sends it to the
other: all three end the run alike (the CRM wins toward every service).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Final

import attrs

from ..errors import ConfigurationError, CrmConnectError, SyncBusyError, SyncError
from ..models import Invoice
from ._protocols import (
    AccountingConnector,
    Capability,
    DeletionTrackingHost,
    FieldValues,
    HostCRM,
    KvKFlow,
    KvKHost,
    Link,
    NumberCheckingConnector,
    Party,
    RemotePayment,
    RemoteRelation,
    RemovingConnector,
    ReviewFlagHost,
    Role,
    StateStore,
)
from ._report import Action, Side, SyncReport
from ._state import SqliteStateStore

__all__ = [
    "DEFAULT_INTERVALS",
    "DEFAULT_STATE_PATH",
    "ChangeKind",
    "ConflictPolicy",
    "Flow",
    "HostRemoval",
    "PlannedChange",
    "SyncEngine",
    "SyncPlan",
]

logger = logging.getLogger("crmconnect.sync")

DEFAULT_STATE_PATH: Final = "crmconnect-state.sqlite"
"""The state file `SyncEngine` opens (in the working directory) when given no state."""


class ConflictPolicy(StrEnum):
    """Who wins a field changed on both sides since the last sync, to different values."""

    HOST_WINS = "host_wins"
    """The host's value is written remotely (the default: the CRM always wins)."""
    REMOTE_WINS = "remote_wins"
    """The remote value is written into the host (where relations come from the remote)."""
    REVIEW = "review"
    """Neither is written: the host record is flagged for a person, and stays a conflict."""


class Flow(StrEnum):
    """What `SyncEngine.run_due` schedules, each with its own interval."""

    RELATIONS = "relations"
    BOOKINGS = "bookings"
    PAYMENTS = "payments"
    KVK = "kvk"
    """KvK updates of linked organisations (only with ``kvk=``; daily by default)."""


DEFAULT_INTERVALS: Final[Mapping[Flow, dt.timedelta]] = {
    Flow.RELATIONS: dt.timedelta(hours=1),
    Flow.BOOKINGS: dt.timedelta(hours=1),
    Flow.PAYMENTS: dt.timedelta(hours=1),
}
"""How often `SyncEngine.run_due` runs each flow: hourly."""


class HostRemoval(StrEnum):
    """What happens remotely to a linked party deleted or deactivated in the host.

    Also applies to a role whose number the host cleared. Either way the link
    is dropped and the remote relation is *detached*: a pull does not bring it
    back into the host (until a host party takes its number again).
    """

    LEAVE = "leave"
    """The remote relation stays as it is (the default)."""
    REMOVE = "remove"
    """The relation is removed remotely where the service allows it
    (`Capability.RELATION_REMOVAL`), else left."""


class ChangeKind(StrEnum):
    """What one `PlannedChange` does."""

    CREATE_HOST = "create_host"
    """A remote relation not in the host: created there, with its number."""
    CREATE_REMOTE = "create_remote"
    """A host party not in the service: created there (intent first)."""
    MERGE = "merge"
    """A linked (or now linked by number) pair: changed fields written each way."""
    UNLINK = "unlink"
    """The remote relation is gone: the link is dropped and the host party flagged."""
    DETACH = "detach"
    """The host party is gone, inactive, or lost the number: link dropped, remote left
    or removed (`HostRemoval`)."""
    BOOK = "book"
    """Sent invoices booked in the service."""
    PAYMENTS = "payments"
    """Payment states recorded in the host."""


@attrs.frozen
class PlannedChange:
    """One thing `SyncEngine.apply` will do.

    Attributes:
        kind: What it does (`ChangeKind`).
        service: The connector's ``service`` name.
        role: Debtor or creditor, for relations.
        number: The relation code, for relations.
        host_id: The host's ID of the party (``None`` before it is created).
        remote: The remote relation as this run's listing shows it.
        host_values: The host party's values (remote field space) when planned.
        to_host: Fields to write into the host, with their values.
        to_remote: Fields to write remotely, with their values.
        conflicts: Fields changed on both sides to different values.
        base: The link's values at the last sync (``None``: linked by this change).
        intent_id: An unfinished intent this change resolves.
        replaces: A link under the party's old number, detached first (the
            number changed in the host: re-linked under the new one).
        policy: How its conflicts are settled, when not by the engine's
            policy: a person's `SyncEngine.resolve` (host or remote wins, once).
        reason: Why, in words.
        invoices: The invoices to book.
        payments: The payment states to record.
    """

    kind: ChangeKind
    service: str
    role: Role | None = None
    number: str | None = None
    host_id: str | None = None
    remote: RemoteRelation | None = None
    host_values: FieldValues = attrs.field(factory=dict)
    to_host: FieldValues = attrs.field(factory=dict)
    to_remote: FieldValues = attrs.field(factory=dict)
    conflicts: tuple[str, ...] = ()
    base: Link | None = None
    intent_id: int | None = None
    replaces: Link | None = None
    policy: ConflictPolicy | None = None
    reason: str = ""
    invoices: tuple[Invoice, ...] = ()
    payments: tuple[RemotePayment, ...] = ()


@attrs.frozen
class SyncPlan:
    """What a run would do: the changes, and the report it would give (a dry run).

    Shows as its preview report: ``print(plan)``, ``console.print(plan.preview)``,
    or an HTML table in Jupyter. Nothing was written to make it.

    Attributes:
        flow: The flow planned (``"all"``, ``"relations"``, ...).
        changes: What `SyncEngine.apply` will do, in order.
        settled: Rows of records that need nothing done (unchanged), or that
            failed while planning (a listing, a look-up): reported as they are.
        planned: Rows the changes would give once applied.
        bookmarks: Host change bookmarks to store once applied, by name.
        candidates: Per service, the host IDs whose push this plan covers.
        digests: Links whose remote record is unchanged in values but not in
            digest (`Link.remote_digest`), with the digest listed: stored
            once applied, so the next run skips reading them.
        spent: ``(kind, key)`` of the engine's marks this plan uses up, dropped
            once applied: a removal a person cleared (`SyncEngine.relink`, a
            cleared review flag or number), a `SyncEngine.resolve` with
            nothing left to settle.
    """

    flow: str
    changes: tuple[PlannedChange, ...] = ()
    settled: SyncReport = attrs.field(factory=SyncReport)
    planned: SyncReport = attrs.field(factory=SyncReport)
    bookmarks: Mapping[str, str] = attrs.field(factory=dict)
    candidates: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    digests: tuple[tuple[Link, str], ...] = ()
    spent: tuple[tuple[str, str], ...] = ()

    @property
    def preview(self) -> SyncReport:
        """The report the run would give: planned rows first, then the settled ones."""
        return self.planned.merge(self.settled)

    def __len__(self) -> int:
        return len(self.changes)

    def __iter__(self) -> Iterator[PlannedChange]:
        return iter(self.changes)

    def __str__(self) -> str:
        return f"plan ({self.flow}): {self.preview}"

    def _repr_html_(self) -> str:
        return self.preview.to_html()


@attrs.define
class _Run:
    """What the stages of one run share: one listing per connector, who was handled."""

    listings: dict[str, dict[tuple[Role, str], RemoteRelation]] = attrs.field(factory=dict)
    failed_listings: set[str] = attrs.field(factory=set)
    handled: set[tuple[str, Role, str]] = attrs.field(factory=set)
    """Records the push stage leaves be: failed, unlinked or detached by the pull stage."""
    pulled: set[tuple[str, Role, str]] = attrs.field(factory=set)
    """Records the pull stage merged or created in the host. Once the pulls are applied
    the push stage sends what the host holds now where it differs from the link (a later
    pull changed the host); in a plan (pulls not applied) it leaves them to the pull."""
    pulls_applied: bool = False
    unchanged: set[tuple[str, Role, str]] = attrs.field(factory=set)
    """Records the pull found unchanged remotely (reported so once, pushed if the host changed)."""
    links: dict[str, Sequence[Link]] = attrs.field(factory=dict)
    """Each service's links, read once; dropped when a stage wrote to the service."""


@attrs.frozen
class _Known:
    """What a push knows of one service.

    Its listing by role and remote ID and by role and number, the remote IDs
    linked, the removal marks in force (key → number), the links by role and
    host ID, and the unfinished creates by role and host ID.
    """

    listing: Mapping[tuple[Role, str], RemoteRelation]
    by_number: Mapping[tuple[Role, str], RemoteRelation]
    linked: set[tuple[Role, str | None]]
    removed: Mapping[str, str]
    links: Mapping[tuple[Role, str], Link]
    intents: Mapping[tuple[Role | None, str | None], int]


@attrs.define
class _Out:
    """What a planning stage collects: changes, their rows, settled rows, marks used up."""

    changes: list[PlannedChange] = attrs.field(factory=list)
    settled: SyncReport = attrs.field(factory=SyncReport)
    planned: SyncReport = attrs.field(factory=SyncReport)
    spent: list[tuple[str, str]] = attrs.field(factory=list)


_PULLS: Final = frozenset(
    {Capability.RELATIONS_FROM_REMOTE, Capability.RELATION_CHANGES_FROM_REMOTE}
)
"""The capabilities that bring remote relation changes into the host."""

REMOVED: Final = "removed"
"""Mark kind: a link dropped after a remote removal; the number it had (no create again)."""
RETRY: Final = "retry"
"""Mark kind: a host party whose push failed, tried again next run (key service/host ID)."""
PAYMENT: Final = "payment"
"""Mark kind: the payment state last recorded in the host, per service/relation/invoice."""
DETACHED: Final = "detached"
"""Mark kind: a remote relation detached from a host party (service/role/remote ID)."""
RESOLVE: Final = "resolve"
"""Mark kind: a person's `SyncEngine.resolve` of a record's conflicts (service/host ID):
``"host"`` or ``"remote"``, used by the next merge of the record."""


def _resolve_key(service: str, host_id: str) -> str:
    return f"{service}/{host_id}"


def _detached_key(service: str, role: Role, remote_id: str) -> str:
    return f"{service}/{role.value}/{remote_id}"


_HOST: Final = socket.gethostname()


_DEAD_HOLDER_GRACE: Final = 2.0
"""Seconds a run waits for the lease of a holder that died on this machine to be freed."""


def _is_dead(holder: str) -> bool:
    """Whether a lease holder is a process on this machine that no longer exists.

    Unsure (another machine, a PID in use again, no permission) counts as alive:
    the lease then runs out by itself.
    """
    host, _, rest = holder.partition("/")
    pid = rest.partition("/")[0]
    if host != _HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class _Lease(threading.local):
    """The state store lease this thread's run holds (`SyncEngine.lease_ttl`)."""

    owner: str | None = None
    renewed: float = 0.0


def _other(role: Role) -> Role:
    return Role.CREDITOR if role is Role.DEBTOR else Role.DEBTOR


def _removed_key(service: str, role: Role, host_id: str) -> str:
    return f"{service}/{role.value}/{host_id}"


def _changes_key(service: str) -> str:
    return f"host-changes/{service}"


def _payment_key(service: str, payment: RemotePayment) -> str:
    return f"{service}/{payment.relation_code}/{payment.invoice_number}"


def _numbers(party: Party) -> list[tuple[Role, str]]:
    """The roles a party has, with its code in each."""
    found = [(Role.DEBTOR, party.debtor_number), (Role.CREDITOR, party.creditor_number)]
    return [(role, str(number)) for role, number in found if number]


def _number(party: Party, role: Role) -> str | None:
    number = party.debtor_number if role is Role.DEBTOR else party.creditor_number
    return str(number) if number else None


def _is_active(party: Party) -> bool:
    """Organisations have no active flag; a person is deactivated, not only deleted."""
    return getattr(party, "active", True) is not False


def _gone_reason(party: Party | None, role: Role) -> str | None:
    """Why a linked party no longer syncs in a role, or ``None`` when it still does."""
    if party is None:
        return "deleted in the host"
    if not _is_active(party):
        return "deactivated in the host"
    if _number(party, role) is None:
        return f"its {role.value} number was cleared in the host"
    return None


def _unchanged(remote: RemoteRelation, link: Link, digests: list[tuple[Link, str]]) -> bool:
    """The remote record is as at the last sync: by its digest, else by its values.

    Values equal under another digest (the engine wrote the record since, or
    the listing's formatting changed): the digest is kept for the next run.
    """
    if remote.digest is not None and remote.digest == link.remote_digest:
        return True
    if dict(remote.values) != dict(link.remote_values):
        return False
    if remote.digest is not None:
        digests.append((link, remote.digest))
    return True


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class SyncEngine:
    """Keeps a host CRM and the bookkeeping services in step.

    Args:
        host: The host CRM (`HostCRM`).
        connectors: The services (`AccountingConnector`), each with its own
            ``service`` name.
        state: Where links, bookmarks, intents and runs are kept: a
            `StateStore`, or a file path for a `SqliteStateStore`. ``None``
            opens `DEFAULT_STATE_PATH` in the working directory, so a second
            run remembers the first (an in-memory store would forget every
            link and intent when the process ends).
        policy: Who wins a field changed on both sides (`ConflictPolicy`).
        intervals: Per `Flow`, how often `run_due` runs it (hourly by default).
        lease_ttl: How long a run holds the state store without renewing it
            (`StateStore.acquire_lease`): one run at a time writes, so an
            intent left in the store belongs to a run that ended or died, never
            to one still writing. A run renews the lease as it goes; one killed
            blocks others until the lease expires.
        lease_wait: Seconds a run waits for another run's lease before giving up.
        on_host_removal: What happens remotely to a linked party the host
            deleted or deactivated, or to a role whose number it cleared
            (`HostRemoval`: leave, the default, or remove where the service can).
        kvk: The KvK flow (a `KvKFlow`: `crmconnect.kvk.KvKUpdates`): `run`
            and `run_due` (once per its interval) store pending KvK updates
            of linked organisations in the host, which must then be a `KvKHost`.

    Raises:
        ConfigurationError: A connector twice, or not an `AccountingConnector`;
            the host not a `HostCRM` (a `KvKHost` with ``kvk``); an unknown
            flow in ``intervals``.

    Example:
        ```python
        from crmconnect.sync import SyncEngine

        engine = SyncEngine(crm, [df_connector, eb_connector], state="state.sqlite")
        print(engine.plan())        # what would happen; nothing written
        report = engine.run()       # pulls, pushes, bookings, payments
        ```
    """

    def __init__(
        self,
        host: HostCRM,
        connectors: Iterable[AccountingConnector],
        *,
        state: StateStore | str | os.PathLike[str] | None = None,
        policy: ConflictPolicy | str = ConflictPolicy.HOST_WINS,
        intervals: Mapping[Flow | str, dt.timedelta] | None = None,
        lease_ttl: dt.timedelta = dt.timedelta(minutes=10),
        lease_wait: float = 0.0,
        on_host_removal: HostRemoval | str = HostRemoval.LEAVE,
        kvk: KvKFlow | None = None,
    ) -> None:
        if not isinstance(host, HostCRM):
            raise ConfigurationError(f"the host must be a HostCRM, not {type(host).__name__}")
        if kvk is not None and not isinstance(host, KvKHost):
            raise ConfigurationError("the KvK flow needs a host that is a KvKHost")
        self.kvk = kvk
        self.host = host
        self.connectors = _checked_connectors(connectors)
        self._owns_state = not isinstance(state, StateStore)
        if isinstance(state, StateStore):
            self.state: StateStore = state
        else:
            self.state = SqliteStateStore(DEFAULT_STATE_PATH if state is None else state)
        self.policy = _policy(policy)
        self.intervals = _intervals(intervals or {})
        if kvk is not None:
            self.intervals.setdefault(Flow.KVK, kvk.interval)
        if not isinstance(lease_ttl, dt.timedelta) or lease_ttl <= dt.timedelta(0):
            raise ConfigurationError("lease_ttl must be a positive timedelta")
        self.lease_ttl = lease_ttl
        self.lease_wait = lease_wait
        self.on_host_removal = _host_removal(on_host_removal)
        self._number_checks = frozenset(
            c.service for c in self.connectors if isinstance(c, NumberCheckingConnector)
        )
        # Per thread: one engine may run in a scheduler thread while web threads push.
        self._lease = _Lease()

    def __repr__(self) -> str:
        services = ", ".join(c.service for c in self.connectors)
        return f"SyncEngine(services=[{services}], policy={self.policy.value})"

    def close(self) -> None:
        """Close the state store when the engine opened it (a store passed in stays open)."""
        if self._owns_state:
            self.state.close()

    def __enter__(self) -> SyncEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the public flows -------------------------------------------------------------

    def plan(self, flow: Flow | str | Iterable[Flow | str] | None = None) -> SyncPlan:
        """What a run would do now, for every flow or one; a dry run: nothing is written.

        Reads the host, each service's listing and the state. Relations that a
        pull would bring in are not yet in the plan's pushes to other services
        (they do not exist in the host yet); `run` pushes them in the same run.

        Args:
            flow: One `Flow` (``"relations"``, ``"bookings"``, ``"payments"``),
                several, or every flow when ``None``.

        Raises:
            ConfigurationError: An unknown flow.
        """
        flows = _selected_flows(flow)
        run = _Run()
        plans: list[SyncPlan] = []
        if Flow.RELATIONS in flows:
            plans += [self._plan_pull(run), self._plan_push(run)]
        if Flow.BOOKINGS in flows:
            plans.append(self._plan_bookings())
        if Flow.PAYMENTS in flows:
            plans.append(self._plan_payments())
        return self._combine(_flows_name(flows), *plans)

    def apply(self, plan: SyncPlan) -> SyncReport:
        """Do what ``plan`` says; one failing record stops no other (reported ``failed``).

        Recorded in the run history under the plan's flow.
        """
        with self._recorded(plan.flow) as report:
            self._apply(plan, report)
        return report

    def run(self, flow: Flow | str | Iterable[Flow | str] | None = None) -> SyncReport:
        """Every flow (pulls, pushes, bookings, payments), or some; each planned, then applied.

        Args:
            flow: One `Flow` or several (recorded under their names, e.g.
                ``"bookings+payments"``, so `run_due` counts each); every flow
                when ``None``.

        Raises:
            ConfigurationError: An unknown flow.
        """
        flows = _selected_flows(flow)
        return self._run_flows(_flows_name(flows), flows)

    def run_due(self, now: dt.datetime | None = None) -> SyncReport:
        """Run only the flows whose interval has passed since their last run.

        Called from a host's own scheduler (every few minutes, say). A flow's
        last run is read from the state's run history (its own runs and
        `run`'s), so the schedule survives restarts.

        Args:
            now: The time to compare with (now when ``None``; time zone aware).
        """
        moment = now or dt.datetime.now(dt.UTC)
        due = [flow for flow in Flow if flow in self.intervals and self._is_due(flow, moment)]
        reports = [self._run_flows(flow.value, [flow]) for flow in due]
        return SyncReport().merge(*reports)

    def run_every(
        self,
        seconds: float = 60.0,
        *,
        rounds: int | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """`run_due` every ``seconds``, for a plain process without a scheduler of its own.

        Args:
            seconds: The pause between two checks (the flows keep their own intervals).
            rounds: Stop after this many checks (``None``: until ``stop`` is set).
            stop: Set it (from another thread, a signal handler) to stop after the current check.
        """
        stop = stop or threading.Event()
        done = 0
        while not stop.is_set() and (rounds is None or done < rounds):
            report = self.run_due()
            if len(report):
                logger.info("sync: %s", report)
            done += 1
            if rounds is None or done < rounds:
                stop.wait(seconds)

    def push_relation(self, host_id: str) -> SyncReport:
        """Send one host party to every service with relations to the remote, now.

        The immediate path a host calls on save: no listing, one look-up by
        number per service and role. Remote changes on a linked record are
        merged as in a run.

        Raises:
            SyncError: The host has no party with this ID.
        """
        party = self.host.party(host_id)
        if party is None:
            raise SyncError(f"the host has no party with ID {host_id!r}")
        try:
            with self.exclusive():
                if not _is_active(party):  # deactivated: the on_host_removal setting applies
                    return self.party_removed(host_id)
                with self._recorded("push") as report:
                    for connector in self._with(Capability.RELATIONS_TO_REMOTE):
                        for role, number in _numbers(party):
                            self._push_one(connector, party, role, number, report)
                return report
        except SyncBusyError:  # a run is busy: it (or the next) sends the party
            return self._deferred(party)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the state store across several runs (``run``, ``push_relation``, ...).

        A worker's task that runs a tenant's due flows one after the other
        holds it once, so no other run slips in between. Nested use is fine.

        Raises:
            SyncBusyError: Another run holds the state (after waiting ``lease_wait``).
        """
        if self._lease.owner is not None:
            yield
            return
        if not self._take_lease():
            raise SyncBusyError(
                "another sync run holds the state store; try again when it has ended"
            )
        try:
            yield
        finally:
            self._drop_lease()

    def party_removed(self, host_id: str) -> SyncReport:
        """Apply `on_host_removal` to a party the host deleted or deactivated, now.

        The immediate path a host calls on delete: every link of the party is
        dropped and its remote relation left or removed (`HostRemoval`). A run
        also finds such parties by itself, when their remote record changes or
        when a deactivated party shows among the changed ones.
        """
        with self._recorded("remove") as report:
            for connector in self._with(Capability.RELATIONS_TO_REMOTE):
                for role in Role:
                    link = self.state.link(host_id, connector.service, role)
                    if link is not None:
                        change = self._detach_change(link, "removed in the host")
                        self._apply_relation(change, report)
        return report

    def relink(self, host_id: str) -> int:
        """Let the next run link or create a party again that was removed remotely.

        A relation removed in a service is unlinked and its host party flagged;
        it is not created again while a person has not looked at it. After
        looking, a person calls this: the engine's removal marks of the party
        (every service and role) and the detached marks of the remote
        relations it was linked to are dropped, and the next run links the
        party by number, or creates it, in every service. The host's review
        flag is the host's to clear. (A host that is a `ReviewFlagHost` needs
        no call: clearing the flag is enough, as is clearing the number.)

        Returns:
            How many marks were dropped (0: nothing held the party back).

        Raises:
            SyncError: The host has no party with this ID.
            SyncBusyError: Another run holds the state (after ``lease_wait``).
        """
        if self.host.party(host_id) is None:
            raise SyncError(f"the host has no party with ID {host_id!r}")
        dropped = 0
        with self.exclusive():
            for connector in self.connectors:
                service = connector.service
                removed = [_removed_key(service, role, host_id) for role in Role]
                removed = [key for key in removed if self.state.mark(REMOVED, key) is not None]
                detached = self.state.marks(DETACHED, f"{service}/")
                mine = [key for key, holder in detached.items() if holder == host_id]
                if removed:
                    self.state.set_marks(REMOVED, dict.fromkeys(removed))
                if mine:
                    self.state.set_marks(DETACHED, dict.fromkeys(mine))
                dropped += len(removed) + len(mine)
                if Capability.RELATIONS_TO_REMOTE in connector.capabilities:
                    self.state.set_mark(RETRY, f"{service}/{host_id}", "")  # sent next run
        return dropped

    def resolve(
        self, host_id: str, service: str | None = None, keep: Side | str = Side.HOST
    ) -> int:
        """Settle a party's conflicts left for review (`ConflictPolicy.REVIEW`), once.

        The next run that merges the party's relation in the service settles
        the fields changed on both sides as asked: ``keep="host"`` writes the
        host's values to the service, ``keep="remote"`` the service's into the
        host; every other field merges as always. Then the engine's policy
        holds again. (A person can also settle a conflict by making both
        sides equal: a field with the same value on both sides is no conflict.)
        The host's review flag is the host's to clear.

        Args:
            host_id: The host's ID of the party.
            service: One connector's ``service`` name; every service with
                relations (both roles) when ``None``.
            keep: ``"host"`` (`Side.HOST`) or ``"remote"`` (`Side.REMOTE`).

        Returns:
            How many services the resolution was stored for.

        Raises:
            SyncError: The host has no party with this ID, or no such service.
            ConfigurationError: ``keep`` is not host or remote, or ``"remote"``
                for a service no relation changes come from.
            SyncBusyError: Another run holds the state (after ``lease_wait``).
        """
        side = _side(keep)
        if self.host.party(host_id) is None:
            raise SyncError(f"the host has no party with ID {host_id!r}")
        relational = {*_PULLS, Capability.RELATIONS_TO_REMOTE}
        chosen = [self._connector(service)] if service is not None else self.connectors
        connectors = [c for c in chosen if relational & c.capabilities]
        for connector in connectors:
            if side is Side.REMOTE and not _PULLS & connector.capabilities:
                raise ConfigurationError(
                    f"keep='remote': no relation changes come from {connector.service} "
                    "into the host"
                )
        with self.exclusive():
            for connector in connectors:
                self.state.set_mark(RESOLVE, _resolve_key(connector.service, host_id), side.value)
                if Capability.RELATIONS_TO_REMOTE in connector.capabilities:
                    self.state.set_mark(RETRY, f"{connector.service}/{host_id}", "")
        return len(connectors)

    # -- runs -------------------------------------------------------------------------

    def _run_flows(self, name: str, flows: Sequence[Flow]) -> SyncReport:
        run = _Run()
        with self._recorded(name) as report:
            if Flow.RELATIONS in flows:
                pull = self._plan_pull(run)
                self._apply(self._combine(name, pull), report)
                for change in pull.changes:  # the pull wrote links: the push reads them anew
                    run.links.pop(change.service, None)
                _pulls_applied(run, report)
                self._apply(self._combine(name, self._plan_push(run)), report)
            if Flow.BOOKINGS in flows:
                self._apply(self._combine(name, self._plan_bookings()), report)
            if Flow.PAYMENTS in flows:
                self._apply(self._combine(name, self._plan_payments()), report)
            if Flow.KVK in flows and self.kvk is not None:
                if "state" in inspect.signature(self.kvk.run).parameters:
                    self.kvk.run(self.host, report, state=self.state)
                else:  # a flow written before run was given the state store
                    self.kvk.run(self.host, report)
        return report

    @contextlib.contextmanager
    def _recorded(self, flow: str) -> Iterator[SyncReport]:
        """A run in the run history: ``failed`` when a record failed or the run broke off.

        The run holds the state's lease throughout (see ``lease_ttl``).

        Raises:
            SyncBusyError: Another run holds the lease (after waiting ``lease_wait``).
        """
        with self.exclusive():
            record = self.state.start_run(flow)
            report = SyncReport()
            try:
                yield report
            except BaseException as exc:
                failures = [*report.failures, (flow, _reason(exc))]
                self.state.end_run(record.run_id, "failed", report.counts, failures)
                raise
            status = "failed" if report.failed else "ok"
            self.state.end_run(record.run_id, status, report.counts, report.failures)

    def _take_lease(self) -> bool:
        """Take the state's lease, waiting up to ``lease_wait`` seconds for another run."""
        owner = f"{_HOST}/{os.getpid()}/{uuid.uuid4().hex}"
        deadline = time.monotonic() + self.lease_wait
        while not self.state.acquire_lease(owner, self.lease_ttl):
            holder = self.state.lease_holder()
            if holder is not None and _is_dead(holder):  # killed: no need to wait it out
                self.state.release_lease(holder)
                # A lease that is a database session's lock goes when the server
                # notices the session is gone: a moment, not the lease's time.
                deadline = max(deadline, time.monotonic() + _DEAD_HOLDER_GRACE)
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        self._lease.owner, self._lease.renewed = owner, time.monotonic()
        return True

    def _renew_lease(self) -> None:
        """Renew the lease after a third of its time; a run that lost it stops writing."""
        owner = self._lease.owner
        if (
            owner is None
            or time.monotonic() - self._lease.renewed < self.lease_ttl.total_seconds() / 3
        ):
            return
        if not self.state.acquire_lease(owner, self.lease_ttl):
            raise SyncError("this run's lease on the state store expired and another run took it")
        self._lease.renewed = time.monotonic()

    def _drop_lease(self) -> None:
        owner = self._lease.owner
        if owner is not None:
            self._lease.owner = None
            self.state.release_lease(owner)

    def _deferred(self, party: Party) -> SyncReport:
        """`push_relation` while a run holds the state: left for the next run, retried."""
        assert party.id is not None
        report = SyncReport(deferred=True)
        reason = "another sync run holds the state store: sent by the next run"
        services = [c.service for c in self._with(Capability.RELATIONS_TO_REMOTE)]
        for service in services:
            for role, number in _numbers(party):
                report.add(service, role, party.id, number, Action.FAILED, reason, side=Side.REMOTE)
            self.state.set_mark(RETRY, f"{service}/{party.id}", "")
        return report

    def _is_due(self, flow: Flow, now: dt.datetime) -> bool:
        since = now - self.intervals[flow]
        runs = self.state.runs(since=since)
        # Only runs that ended count: one cut off (still "running") is done again.
        return not any(_ran(r.flow, flow) and r.status in ("ok", "failed") for r in runs)

    def _with(self, capability: Capability) -> list[AccountingConnector]:
        return [c for c in self.connectors if capability in c.capabilities]

    @staticmethod
    def _combine(flow: str, *plans: SyncPlan) -> SyncPlan:
        return SyncPlan(
            flow,
            tuple(change for plan in plans for change in plan.changes),
            SyncReport().merge(*(plan.settled for plan in plans)),
            SyncReport().merge(*(plan.planned for plan in plans)),
            {k: v for plan in plans for k, v in plan.bookmarks.items()},
            {k: v for plan in plans for k, v in plan.candidates.items()},
            tuple(pair for plan in plans for pair in plan.digests),
            tuple(mark for plan in plans for mark in plan.spent),
        )

    # -- planning: relations ------------------------------------------------------------

    def _listing(
        self, connector: AccountingConnector, run: _Run, preview: SyncReport
    ) -> dict[tuple[Role, str], RemoteRelation] | None:
        """This run's one listing of a service, by role and remote ID; ``None`` when it failed."""
        service = connector.service
        if service in run.failed_listings:
            return None
        if service not in run.listings:
            try:
                relations = connector.relations()
            except Exception as exc:  # a failed service stops no other
                run.failed_listings.add(service)
                preview.add(
                    service, None, None, None, Action.FAILED,
                    f"listing the relations failed: {_reason(exc)}", side=Side.REMOTE,
                )  # fmt: skip
                return None
            run.listings[service] = {(r.role, r.remote_id): r for r in relations}
        return run.listings[service]

    def _plan_pull(self, run: _Run) -> SyncPlan:
        changes: list[PlannedChange] = []
        settled, planned = SyncReport(), SyncReport()
        digests: list[tuple[Link, str]] = []
        relational = {*_PULLS, Capability.RELATIONS_TO_REMOTE}
        for connector in self.connectors:
            if not relational & connector.capabilities:
                continue
            listing = self._listing(connector, run, settled)
            if listing is None:
                continue
            links = self._links(connector.service, run)
            changes += self._plan_unlinks(connector, links, listing, run, (settled, planned))
            if _PULLS & connector.capabilities:
                changes += self._plan_pull_records(
                    connector, links, listing, run, (settled, planned), digests
                )
        return SyncPlan("relations", tuple(changes), settled, planned, digests=tuple(digests))

    def _links(self, service: str, run: _Run) -> Sequence[Link]:
        if service not in run.links:
            run.links[service] = self.state.links(service)
        return run.links[service]

    def _plan_unlinks(
        self,
        connector: AccountingConnector,
        links: Sequence[Link],
        listing: Mapping[tuple[Role, str], RemoteRelation],
        run: _Run,
        reports: tuple[SyncReport, SyncReport],
    ) -> list[PlannedChange]:
        """Unlink the links whose remote record is gone from the listing."""
        settled, planned = reports
        changes = []
        for link in links:
            if link.remote_id is None or (link.role, link.remote_id) in listing:
                continue
            if (_other(link.role), link.remote_id) in listing:
                # Linked before numbers were checked: a debtor numbered in the creditors'
                # range (or the reverse) is listed in the other role. Not removed.
                settled.add(
                    connector.service, link.role, link.host_id, link.number, Action.FAILED,
                    f"{connector.service} lists it as a {_other(link.role).value} by its "
                    f"number's range: left linked; give the party a {link.role.value} "
                    f"number in the {link.role.value} range",
                    side=Side.REMOTE,
                )  # fmt: skip
                run.handled.add((connector.service, link.role, link.host_id))
                continue
            reason = f"removed in {connector.service}: unlinked, flagged for review"
            changes.append(
                PlannedChange(
                    ChangeKind.UNLINK,
                    connector.service,
                    link.role,
                    link.number,
                    link.host_id,
                    base=link,
                    reason=reason,
                )  # fmt: skip
            )
            planned.add(
                connector.service, link.role, link.host_id, link.number, Action.UNLINKED,
                reason, side=Side.HOST,
            )  # fmt: skip
        return changes

    def _plan_pull_records(
        self,
        connector: AccountingConnector,
        links: Sequence[Link],
        listing: Mapping[tuple[Role, str], RemoteRelation],
        run: _Run,
        reports: tuple[SyncReport, SyncReport],
        digests: list[tuple[Link, str]],
    ) -> list[PlannedChange]:
        """Changes for the listed records that are new or changed; the rest reported unchanged.

        A record whose digest is its link's is unchanged without reading its
        values; one whose values are its link's is unchanged too, and its
        digest goes to ``digests`` (stored when the plan is applied).
        """
        service = connector.service
        settled, planned = reports
        by_remote = {(link.role, link.remote_id): link for link in links if link.remote_id}
        linked_ids = {remote_id for _, remote_id in by_remote}
        by_host = {(link.role, link.host_id): link for link in links}
        intents = _create_intents(self.state, service)
        changes = []
        detached = self.state.marks(DETACHED, f"{service}/")
        creates = Capability.RELATIONS_FROM_REMOTE in connector.capabilities
        for key, remote in listing.items():
            link = by_remote.get(key)
            if link is None and (
                not creates or _detached_key(service, *key) in detached or key[1] in linked_ids
            ):
                continue  # not brought into the host: new, detached, or linked in the other role
            try:
                if link is not None and _unchanged(remote, link, digests):
                    run.unchanged.add((service, remote.role, link.host_id))
                    settled.add(
                        service, remote.role, link.host_id, remote.number, Action.UNCHANGED,
                        side=Side.REMOTE,
                    )  # fmt: skip
                    continue
                change = self._plan_pulled(connector, remote, link, by_host, intents)
            except Exception as exc:  # one record stops no other
                settled.add(
                    service, remote.role, link.host_id if link else None, remote.number,
                    Action.FAILED, _reason(exc), side=Side.HOST,
                )  # fmt: skip
                if link is not None:  # reported once: the push stage leaves it to the retry
                    run.handled.add((service, remote.role, link.host_id))
                continue
            if change is None:
                continue  # the host changed the number: the push stage re-links it
            if change.host_id is not None:
                merged = change.kind is ChangeKind.MERGE and not self._keeps(change)
                (run.pulled if merged else run.handled).add((service, remote.role, change.host_id))
            changes.append(change)
            _preview_change(change, self.policy, planned)
        return changes

    def _plan_pulled(
        self,
        connector: AccountingConnector,
        remote: RemoteRelation,
        link: Link | None,
        by_host: Mapping[tuple[Role, str], Link],
        intents: Mapping[tuple[Role | None, str | None], int],
    ) -> PlannedChange | None:
        """The change for a listed remote relation that is new or changed since the last sync."""
        service = connector.service
        if link is not None:
            party = self.host.party(link.host_id)
            gone = _gone_reason(party, link.role)
            if gone is not None:
                return self._detach_change(link, gone, remote)
            assert party is not None
            if _number(party, link.role) != link.number:
                return None
            return self._merge_change(connector, party, remote, link)
        party = self.host.find_by_number(remote.role, remote.number)
        if party is None:
            return PlannedChange(
                ChangeKind.CREATE_HOST, service, remote.role, remote.number, remote=remote,
                to_host=dict(remote.values), reason=f"new in {service}",
            )  # fmt: skip
        if party.id is None:  # pragma: no cover - a host's parties have IDs
            raise SyncError("the host returned a party without an ID")
        other = by_host.get((remote.role, party.id))
        if other is not None:
            raise SyncError(
                f"host party {party.id} is linked to {service} relation {other.remote_id} "
                f"already; relation {remote.remote_id} has the same number"
            )
        change = self._merge_change(connector, party, remote, None)
        return attrs.evolve(change, intent_id=intents.get((remote.role, party.id)))

    def _merge_change(
        self,
        connector: AccountingConnector,
        party: Party,
        remote: RemoteRelation,
        link: Link | None,
    ) -> PlannedChange:
        assert party.id is not None
        host_values = dict(connector.outbound_values(party, remote.role))
        resolved = self._resolution(connector.service, party.id)
        to_host, to_remote, conflicts = _merge(
            host_values,
            remote.values,
            link,
            pull=bool(_PULLS & connector.capabilities),
            push=Capability.RELATIONS_TO_REMOTE in connector.capabilities,
            policy=resolved or self.policy,
        )
        return PlannedChange(
            ChangeKind.MERGE, connector.service, remote.role, remote.number, party.id,
            remote=remote, host_values=host_values, to_host=to_host, to_remote=to_remote,
            conflicts=conflicts, base=link, policy=resolved,
            reason="" if link else f"linked by number to {connector.service} {remote.remote_id}",
        )  # fmt: skip

    def _keeps(self, change: PlannedChange) -> bool:
        """Whether a change leaves conflicts for review (its link keeps their base values)."""
        return bool(change.conflicts) and (change.policy or self.policy) is ConflictPolicy.REVIEW

    def _resolution(self, service: str, host_id: str) -> ConflictPolicy | None:
        """The policy a person chose for a record's conflicts (`resolve`), or ``None``."""
        keep = self.state.mark(RESOLVE, _resolve_key(service, host_id))
        if keep is None:
            return None
        return ConflictPolicy.HOST_WINS if keep == Side.HOST else ConflictPolicy.REMOTE_WINS

    # -- planning: pushes ---------------------------------------------------------------

    def _plan_push(self, run: _Run) -> SyncPlan:
        out = _Out()
        bookmarks: dict[str, str] = {}
        candidates: dict[str, frozenset[str]] = {}
        for connector in self._with(Capability.RELATIONS_TO_REMOTE):
            service = connector.service
            listing = self._listing(connector, run, out.settled)
            if listing is None:
                continue
            parties, bookmarks[_changes_key(service)] = self._push_candidates(service, run)
            candidates[service] = self._plan_push_service(connector, run, parties, listing, out)
        return SyncPlan(
            "relations", tuple(out.changes), out.settled, out.planned, bookmarks, candidates,
            spent=tuple(out.spent),
        )  # fmt: skip

    def _plan_push_service(
        self,
        connector: AccountingConnector,
        run: _Run,
        parties: list[Party],
        listing: Mapping[tuple[Role, str], RemoteRelation],
        out: _Out,
    ) -> frozenset[str]:
        """The pushes of one service; returns the host IDs covered (their retry done)."""
        service = connector.service
        deleted = self._deleted_parties(service)
        released = self._released_removals(service, parties)
        out.spent += [(REMOVED, key) for key in released]
        parties = parties + self._parties(set(released.values()) - {p.id for p in parties})
        links = {(link.role, link.host_id): link for link in self._links(service, run)}
        known = _Known(
            listing,
            {(r.role, r.number): r for r in listing.values()},
            {(link.role, link.remote_id) for link in links.values()},
            {
                key: number
                for key, number in self.state.marks(REMOVED, f"{service}/").items()
                if key not in released
            },
            links,
            _create_intents(self.state, service),
        )
        covered = self._plan_detaches(service, run, parties, deleted, known, out)
        skipped = run.handled if run.pulls_applied else run.handled | run.pulled
        for party in parties:
            assert party.id is not None
            if not _is_active(party):
                covered.add(party.id)  # deactivated: nothing to send, nothing to retry
                continue
            numbers = _numbers(party)
            roles = [(role, n) for role, n in numbers if (service, role, party.id) not in skipped]
            if len(roles) == len(numbers):
                covered.add(party.id)  # else the pull stage had it: kept for retry
            for role, number in roles:
                self._plan_push_record(connector, run, party, role, number, known, out)
        return frozenset(covered)

    def _plan_detaches(
        self,
        service: str,
        run: _Run,
        parties: Sequence[Party],
        deleted: frozenset[str],
        known: _Known,
        out: _Out,
    ) -> set[str]:
        """Detach the links of parties gone, inactive or without the number; their IDs."""
        covered = set()
        for link in self._gone_links(service, parties, known.links, deleted):
            covered.add(link.host_id)
            if (service, link.role, link.host_id) in run.handled:
                continue
            gone = _gone_reason(self.host.party(link.host_id), link.role)
            detach = self._detach_change(link, gone or "removed in the host")
            run.handled.add((service, link.role, link.host_id))
            out.changes.append(detach)
            _preview_change(detach, self.policy, out.planned)
        return covered

    def _plan_push_record(
        self,
        connector: AccountingConnector,
        run: _Run,
        party: Party,
        role: Role,
        number: str,
        known: _Known,
        out: _Out,
    ) -> None:
        """The push of one party in one role: a change, an unchanged row, or a failed one."""
        service = connector.service
        assert party.id is not None
        key = (service, role, party.id)
        link = known.links.get((role, party.id))
        try:
            if key in run.pulled:  # merged by a pull: the host may have moved on since
                change = self._plan_repush(connector, party, role, number, link)
            else:
                change = self._plan_pushed(connector, party, role, number, link, known)
        except Exception as exc:  # one record stops no other
            out.settled.add(
                service, role, party.id, number, Action.FAILED, _reason(exc), side=Side.REMOTE
            )
            return
        if change is None:
            return
        if _is_noop(change):
            if change.policy is not None:  # a resolve with nothing left to settle
                out.spent.append((RESOLVE, _resolve_key(service, party.id)))
            if key not in run.unchanged and key not in run.pulled:
                out.settled.add(service, role, party.id, number, Action.UNCHANGED, side=Side.REMOTE)
            return
        run.handled.add(key)
        out.changes.append(change)
        _preview_change(change, self.policy, out.planned)

    def _push_candidates(self, service: str, run: _Run) -> tuple[list[Party], str]:
        """Parties changed since the bookmark, failed before, with an intent, or pulled.

        Pulled: merged or created by a pull of this run (once the pulls are applied).
        """
        changed, bookmark = self.host.changed_parties(self.state.bookmark(_changes_key(service)))
        seen = {p.id for p in changed}
        parties = list(changed)
        extra = _retry_ids(self.state, service) | {
            i.host_id for i in self.state.intents(service) if i.host_id is not None
        }
        if run.pulls_applied:
            extra |= {host_id for _, _, host_id in run.pulled}
        return parties + self._parties(extra - seen), bookmark

    def _parties(self, host_ids: Iterable[str]) -> list[Party]:
        """The host's parties with these IDs, in ID order; those gone are left out."""
        found = (self.host.party(host_id) for host_id in sorted(host_ids))
        return [party for party in found if party is not None]

    def _released_removals(self, service: str, parties: Sequence[Party]) -> dict[str, str]:
        """Removal marks that no longer hold, by key → host ID.

        A mark keeps a party removed remotely from being created again while a
        person has not looked at it. It goes when the party's number in the
        role is cleared or changed (seen among this run's candidates), or when
        a person cleared the review flag (a `ReviewFlagHost` says so).
        """
        marks = self.state.marks(REMOVED, f"{service}/")
        if not marks:
            return {}
        present = {party.id: party for party in parties}
        flagged = None
        if isinstance(self.host, ReviewFlagHost):
            flagged = set(self.host.flagged_parties(service))
        released = {}
        for key, number in marks.items():
            role, _, host_id = key.removeprefix(f"{service}/").partition("/")
            party = present.get(host_id)
            renumbered = party is not None and _number(party, Role(role)) != number
            if renumbered or (flagged is not None and host_id not in flagged):
                released[key] = host_id
        return released

    def _deleted_parties(self, service: str) -> frozenset[str]:
        """Parties the host says it deleted since the bookmark (a `DeletionTrackingHost`).

        Asked after `HostCRM.changed_parties`, with the same bookmark.
        """
        if not isinstance(self.host, DeletionTrackingHost):
            return frozenset()
        return frozenset(self.host.deleted_parties(self.state.bookmark(_changes_key(service))))

    def _gone_links(
        self,
        service: str,
        parties: Sequence[Party],
        links: Mapping[tuple[Role, str], Link],
        deleted: frozenset[str],
    ) -> list[Link]:
        """Links of candidates that are inactive or lost a number, and of parties deleted."""
        present = {p.id: p for p in parties}
        gone = _retry_ids(self.state, service) | deleted  # retried parties, deleted ones
        found = []
        for (role, host_id), link in links.items():
            party = present.get(host_id)
            if party is not None and _is_active(party) and _number(party, role) is not None:
                continue
            if party is None and (host_id not in gone or self.host.party(host_id)):
                continue
            found.append(link)
        return found

    def _plan_repush(
        self,
        connector: AccountingConnector,
        party: Party,
        role: Role,
        number: str,
        link: Link | None,
    ) -> PlannedChange | None:
        """A record a pull of this run merged: the host's values now, where the link differs.

        The link is the one the pull wrote, so its remote values are what the
        service holds; only the host can differ (a later pull changed it).
        """
        if link is None or link.remote_id is None or link.number != number:
            return None
        remote = RemoteRelation(link.remote_id, link.number, link.role, link.remote_values)
        return self._merge_change(connector, party, remote, link)

    def _detach_change(
        self, link: Link, reason: str, remote: RemoteRelation | None = None
    ) -> PlannedChange:
        return PlannedChange(
            ChangeKind.DETACH, link.service, link.role, link.number, link.host_id,
            remote=remote, base=link, reason=reason,
        )  # fmt: skip

    def _plan_pushed(
        self,
        connector: AccountingConnector,
        party: Party,
        role: Role,
        number: str,
        link: Link | None,
        known: _Known,
    ) -> PlannedChange | None:
        """The change for one host party in one role; ``None`` when there is nothing to do."""
        service = connector.service
        assert party.id is not None
        if link is not None and link.number != number:
            # Neither service's connector changes a relation's code: the old record is
            # left (flagged) and the party is linked or created under the new number.
            change = self._plan_pushed(connector, party, role, number, None, known)
            reason = f"the {role.value} number changed from {link.number} to {number}"
            if change is None:
                change = PlannedChange(
                    ChangeKind.DETACH, service, role, link.number, party.id, base=link,
                    reason=f"{reason}: unlinked",
                )  # fmt: skip
                return change
            return attrs.evolve(change, replaces=link, reason=f"{reason}: re-linked")
        if link is not None:
            remote = known.listing.get((role, link.remote_id or ""))
            if remote is None:
                return None  # unlinked by the pull stage
            return self._merge_change(connector, party, remote, link)
        if service in self._number_checks:  # before anything is written, or an intent
            connector.check_number(role, number)  # type: ignore[attr-defined]
        host_values = dict(connector.outbound_values(party, role))
        intent_id = known.intents.get((role, party.id))
        if intent_id is not None:
            return PlannedChange(
                ChangeKind.CREATE_REMOTE, service, role, number, party.id,
                host_values=host_values, to_remote=host_values, intent_id=intent_id,
                reason="an earlier run may have created it: looked up by number first",
            )  # fmt: skip
        remote = known.by_number.get((role, number))
        if remote is not None:
            if (role, remote.remote_id) in known.linked:
                raise SyncError(
                    f"{service} relation {remote.remote_id} with this number is linked "
                    "to another host party"
                )
            return self._merge_change(connector, party, remote, None)
        if known.removed.get(_removed_key(service, role, party.id)) == number:
            return None  # removed remotely and flagged: not created again until re-linked
        return PlannedChange(
            ChangeKind.CREATE_REMOTE, service, role, number, party.id,
            host_values=host_values, to_remote=host_values, reason="new in the host",
        )  # fmt: skip

    # -- planning: bookings and payments ------------------------------------------------

    def _plan_bookings(self) -> SyncPlan:
        changes = []
        settled, planned = SyncReport(), SyncReport()
        for connector in self._with(Capability.BOOKINGS):
            try:
                invoices = tuple(self.host.invoices_to_book(connector.service))
            except Exception as exc:  # a failed service stops no other
                _failed_service(settled, connector.service, "invoice", exc)
                continue
            if not invoices:
                continue
            changes.append(PlannedChange(ChangeKind.BOOK, connector.service, invoices=invoices))
            for invoice in invoices:
                planned.add(
                    connector.service, None, None, _invoice_key(invoice), Action.CREATED,
                    "to be booked", side=Side.REMOTE, kind="invoice",
                )  # fmt: skip
        return SyncPlan("bookings", tuple(changes), settled, planned)

    def _plan_payments(self) -> SyncPlan:
        changes = []
        settled, planned = SyncReport(), SyncReport()
        for connector in self._with(Capability.PAYMENTS):
            try:
                pairs = list(self.host.open_invoices(connector.service))
                payments = tuple(connector.payment_states(pairs)) if pairs else ()
            except Exception as exc:  # a failed service stops no other
                _failed_service(settled, connector.service, "payment", exc)
                continue
            news = []
            for payment in payments:
                action = self._payment_action(connector.service, payment)
                (planned if action is Action.UPDATED else settled).add(
                    connector.service, None, None, _payment_number(payment), action,
                    _payment_reason(payment), side=Side.HOST, kind="payment",
                )  # fmt: skip
                if action is Action.UPDATED:
                    news.append(payment)
            if news:
                changes.append(
                    PlannedChange(ChangeKind.PAYMENTS, connector.service, payments=tuple(news))
                )
        return SyncPlan("payments", tuple(changes), settled, planned)

    def _payment_action(self, service: str, payment: RemotePayment) -> Action:
        if payment.error is not None:
            return Action.FAILED
        known = self.state.mark(PAYMENT, _payment_key(service, payment))
        return Action.UNCHANGED if known == _payment_text(payment) else Action.UPDATED

    # -- applying -----------------------------------------------------------------------

    def _apply(self, plan: SyncPlan, report: SyncReport) -> None:
        report.rows.extend(plan.settled)
        for change in plan.changes:
            if change.kind is ChangeKind.BOOK:
                self._book(change, report)
            elif change.kind is ChangeKind.PAYMENTS:
                self._record_payments(change, report)
            else:
                self._apply_relation(change, report)
        self._store_bookmarks(plan, report)

    def _apply_relation(self, change: PlannedChange, report: SyncReport) -> None:
        self._renew_lease()
        connector = self._connector(change.service)
        rows = SyncReport()
        try:
            if change.replaces is not None:
                self._detach_replaced(change)
            if change.kind is ChangeKind.UNLINK:
                self._unlink(change, rows)
            elif change.kind is ChangeKind.DETACH:
                self._detach(connector, change, rows)
            elif change.kind is ChangeKind.CREATE_HOST:
                self._create_host(connector, change, rows)
            elif change.kind is ChangeKind.CREATE_REMOTE:
                self._create_remote(connector, change, rows)
            else:
                self._apply_merge(connector, change, rows)
        except Exception as exc:  # one record stops no other
            if not isinstance(exc, CrmConnectError):
                logger.exception("sync of %s %s failed", change.service, change.number)
            side = Side.HOST if change.kind is ChangeKind.CREATE_HOST else Side.REMOTE
            rows.add(
                change.service, change.role, change.host_id, change.number, Action.FAILED,
                _reason(exc), side=side,
            )  # fmt: skip
        report.rows.extend(rows)

    def _unlink(self, change: PlannedChange, rows: SyncReport) -> None:
        assert change.host_id is not None and change.role is not None
        assert change.number is not None
        reason = change.reason
        if self.host.party(change.host_id) is None:  # gone on both sides: nobody to flag
            reason = f"removed in {change.service} and deleted in the host: unlinked"
        else:
            self.host.flag_for_review(change.host_id, change.service, change.reason)
            self.state.set_mark(
                REMOVED, _removed_key(change.service, change.role, change.host_id), change.number
            )
        self.state.remove_link(change.host_id, change.service, change.role)
        rows.add(
            change.service, change.role, change.host_id, change.number, Action.UNLINKED,
            reason, side=Side.HOST,
        )  # fmt: skip

    def _detach(
        self, connector: AccountingConnector, change: PlannedChange, rows: SyncReport
    ) -> None:
        """Drop the link of a party gone from the host; leave or remove the remote record."""
        link = change.base
        assert link is not None and link.remote_id is not None
        service = change.service
        outcome = f"left in {service}"
        if self.on_host_removal is HostRemoval.REMOVE:
            if Capability.RELATION_REMOVAL in connector.capabilities and isinstance(
                connector, RemovingConnector
            ):
                current = change.remote or RemoteRelation(
                    link.remote_id, link.number, link.role, link.remote_values
                )
                connector.remove_relation(current)
                outcome = f"removed from {service}"
            else:
                outcome = f"left in {service} ({service} cannot remove relations)"
        self.state.set_mark(
            DETACHED, _detached_key(service, link.role, link.remote_id), link.host_id
        )
        self.state.remove_link(link.host_id, service, link.role)
        self.state.set_mark(RETRY, f"{service}/{link.host_id}", None)
        rows.add(
            service, link.role, link.host_id, link.number, Action.UNLINKED,
            f"{change.reason}: unlinked, {outcome}", side=Side.REMOTE,
        )  # fmt: skip

    def _detach_replaced(self, change: PlannedChange) -> None:
        """The party's old number: its remote record is detached (left) and the party flagged."""
        old = change.replaces
        assert old is not None
        if old.remote_id is not None:
            key = _detached_key(old.service, old.role, old.remote_id)
            self.state.set_mark(DETACHED, key, old.host_id)
        self.state.remove_link(old.host_id, old.service, old.role)
        self.host.flag_for_review(
            old.host_id,
            old.service,
            f"{change.reason}; the {old.service} relation {old.number} was left as it is",
        )

    def _create_host(
        self, connector: AccountingConnector, change: PlannedChange, rows: SyncReport
    ) -> None:
        remote = change.remote
        assert remote is not None
        if self.host.find_by_number(remote.role, remote.number) is not None:
            # Created since the plan was made (a plan applied twice): not created again.
            rows.add(
                change.service, remote.role, None, remote.number, Action.UNCHANGED,
                "in the host already", side=Side.HOST,
            )  # fmt: skip
            return
        party = connector.inbound_party(remote, None)
        host_id = self.host.create_party(party)
        stored = self.host.party(host_id) or party
        self.state.save_link(
            Link(
                host_id, change.service, remote.role, remote.remote_id, remote.number,
                host_values=dict(connector.outbound_values(stored, remote.role)),
                remote_values=dict(remote.values), remote_digest=remote.digest,
            )
        )  # fmt: skip
        rows.add(
            change.service, remote.role, host_id, remote.number, Action.CREATED, change.reason,
            sorted(k for k, v in remote.values.items() if v is not None), side=Side.HOST,
        )  # fmt: skip

    def _create_remote(
        self, connector: AccountingConnector, change: PlannedChange, rows: SyncReport
    ) -> None:
        assert change.role is not None and change.number is not None
        assert change.host_id is not None
        service, role, number, host_id = change.service, change.role, change.number, change.host_id
        if change.intent_id is None and self.state.link(host_id, service, role) is not None:
            # Linked since the plan was made (a plan applied twice): not created again.
            rows.add(
                service, role, host_id, number, Action.UNCHANGED, "linked already", side=Side.REMOTE
            )
            return
        if change.intent_id is not None:
            found = connector.find_relation(role, number)
            if found is not None and found.role is not role:
                raise SyncError(
                    f"{service} relation {number} is a {found.role.value}: "
                    f"not linked as a {role.value}"
                )
            if found is not None:
                self._finish_found(connector, change, found, rows)
                return
            self.state.finish_intent(change.intent_id, None)  # never sent: create it now
        intent = self.state.add_intent(
            service, "create_relation", number, host_id=host_id, role=role
        )
        created = connector.create_relation(role, number, change.host_values)
        self.state.finish_intent(
            intent.intent_id,
            Link(
                host_id, service, role, created.remote_id, number,
                host_values=dict(change.host_values), remote_values=dict(created.values),
            ),
        )  # fmt: skip
        rows.add(
            service, role, host_id, number, Action.CREATED, change.reason,
            sorted(k for k, v in change.host_values.items() if v is not None), side=Side.REMOTE,
        )  # fmt: skip

    def _finish_found(
        self,
        connector: AccountingConnector,
        change: PlannedChange,
        found: RemoteRelation,
        rows: SyncReport,
    ) -> None:
        """An intent's relation exists (an earlier run created it): link it, write what differs."""
        assert change.intent_id is not None and change.host_id is not None
        assert change.role is not None
        differ = {
            name: value
            for name, value in change.host_values.items()
            if found.values.get(name) != value
        }
        current = connector.update_relation(found, differ) if differ else found
        self.state.finish_intent(
            change.intent_id,
            Link(
                change.host_id, change.service, change.role, current.remote_id, found.number,
                host_values=dict(change.host_values), remote_values=dict(current.values),
            ),
        )  # fmt: skip
        rows.add(
            change.service, change.role, change.host_id, found.number, Action.CREATED,
            "created by an earlier run that was cut off: found by number and linked",
            sorted(differ), side=Side.REMOTE,
        )  # fmt: skip

    def _apply_merge(
        self, connector: AccountingConnector, change: PlannedChange, rows: SyncReport
    ) -> None:
        remote, host_id, role = change.remote, change.host_id, change.role
        assert remote is not None and host_id is not None and role is not None
        service = change.service
        party = self.host.party(host_id)
        if party is None:
            raise SyncError(f"host party {host_id} is gone")
        host_values = dict(connector.outbound_values(party, role))
        # Fields the host changed since the plan (another service's pull, applied
        # first): the link keeps the planned value, so they are sent on, not absorbed.
        moved = {
            name: change.host_values.get(name)
            for name in {*host_values, *change.host_values}
            if name not in change.to_host and host_values.get(name) != change.host_values.get(name)
        }
        if change.to_host:
            pulled = attrs.evolve(remote, values=dict(change.to_host), digest=None)
            updated = connector.inbound_party(pulled, party)
            if updated != party:
                self.host.save_party(updated)
                party = self.host.party(host_id) or updated
                host_values = dict(connector.outbound_values(party, role))
        host_values.update(moved)
        current = remote
        if change.to_remote:
            current = connector.update_relation(remote, change.to_remote)
        policy = change.policy or self.policy
        kept = change.conflicts if policy is ConflictPolicy.REVIEW else ()
        base = change.base
        remote_values = dict(current.values)
        for name in kept:  # left for review: the base stays, so it stays a conflict
            host_values[name] = base.host_values.get(name) if base else None
            remote_values[name] = base.remote_values.get(name) if base else None
        untouched = not change.to_remote and not kept  # the record is as listed: its digest holds
        link = Link(
            host_id, service, role, remote.remote_id, remote.number, host_values, remote_values,
            remote_digest=remote.digest if untouched else None,
        )  # fmt: skip
        if change.intent_id is not None:
            self.state.finish_intent(change.intent_id, link)
        else:
            self.state.save_link(link)
        if change.base is None:  # linked by number: no longer detached
            self.state.set_mark(DETACHED, _detached_key(service, role, remote.remote_id), None)
        if change.policy is not None:  # a person's resolve: used once
            self.state.set_mark(RESOLVE, _resolve_key(service, host_id), None)
        if kept:
            fields = ", ".join(kept)
            self.host.flag_for_review(host_id, service, f"changed on both sides: {fields}")
        _report_merge(change, policy, rows)

    def _book(self, change: PlannedChange, report: SyncReport) -> None:
        self._renew_lease()
        service = change.service
        try:
            result = self._connector(service).book_invoices(change.invoices)
        except Exception as exc:  # a failed service stops no other
            for invoice in change.invoices:
                report.add(
                    service, None, None, _invoice_key(invoice), Action.FAILED, _reason(exc),
                    side=Side.REMOTE, kind="invoice",
                )  # fmt: skip
            return
        for booking in result.bookings:
            number = f"{booking.relation_code}/{booking.invoice_number}"
            try:
                self.host.record_booking(service, booking)
            except Exception as exc:  # one record stops no other
                report.add(
                    service, None, None, number, Action.FAILED,
                    f"booked as {booking.reference}, not recorded in the host: {_reason(exc)}",
                    side=Side.HOST, kind="invoice",
                )  # fmt: skip
                continue
            action = Action.CREATED if booking.created else Action.UNCHANGED
            reason = f"booking {booking.reference}" + ("" if booking.created else ", booked before")
            report.add(
                service, None, None, number, action, reason, side=Side.REMOTE, kind="invoice"
            )
        codes = {invoice.number: invoice.relation_code for invoice in change.invoices}
        for invoice_number, error in result.failed:
            number = f"{codes.get(invoice_number, '?')}/{invoice_number}"
            report.add(
                service, None, None, number, Action.FAILED, _reason(error),
                side=Side.REMOTE, kind="invoice",
            )  # fmt: skip

    def _record_payments(self, change: PlannedChange, report: SyncReport) -> None:
        service = change.service
        for payment in change.payments:
            try:
                self.host.record_payment(service, payment)
                self.state.set_mark(PAYMENT, _payment_key(service, payment), _payment_text(payment))
            except Exception as exc:  # one record stops no other
                action, reason = Action.FAILED, _reason(exc)
            else:
                action, reason = Action.UPDATED, _payment_reason(payment)
            report.add(
                service, None, None, _payment_number(payment), action, reason,
                side=Side.HOST, kind="payment",
            )  # fmt: skip
        # Payments whose state could not be read were planned as failed rows already.

    def _store_bookmarks(self, plan: SyncPlan, report: SyncReport) -> None:
        """Host change bookmarks, and the parties to try again next run (failed ones)."""
        failed: dict[str, set[str]] = {}
        for row in report.rows:
            if row.action is Action.FAILED and row.kind == "relation" and row.host_id:
                failed.setdefault(row.service, set()).add(row.host_id)
        for service in {*failed, *plan.candidates}:
            before = _retry_ids(self.state, service)
            retry = failed.get(service, set())
            done = (before & plan.candidates.get(service, frozenset())) - retry
            changes: dict[str, str | None] = {f"{service}/{host_id}": None for host_id in done}
            changes.update({f"{service}/{host_id}": "" for host_id in retry - before})
            if changes:
                self.state.set_marks(RETRY, changes)
        for name, value in plan.bookmarks.items():
            self.state.set_bookmark(name, value)
        if plan.digests:
            self.state.set_remote_digests(plan.digests)
        for kind, key in plan.spent:
            self.state.set_mark(kind, key, None)

    # -- the immediate path -------------------------------------------------------------

    def _push_one(
        self,
        connector: AccountingConnector,
        party: Party,
        role: Role,
        number: str,
        report: SyncReport,
    ) -> None:
        service = connector.service
        assert party.id is not None
        try:
            change = self._plan_one(connector, party, role, number)
        except Exception as exc:  # one service stops no other
            report.add(
                service, role, party.id, number, Action.FAILED, _reason(exc), side=Side.REMOTE
            )
            return
        if change is None:
            return
        if _is_noop(change):
            report.add(service, role, party.id, number, Action.UNCHANGED, side=Side.REMOTE)
            return
        self._apply_relation(change, report)

    def _plan_one(
        self, connector: AccountingConnector, party: Party, role: Role, number: str
    ) -> PlannedChange | None:
        """The change for one party in one role, by a look-up by number instead of a listing."""
        service = connector.service
        assert party.id is not None
        link = self.state.link(party.id, service, role)
        found = connector.find_relation(role, link.number if link else number)
        if link is not None and (found is None or found.remote_id != link.remote_id):
            return PlannedChange(
                ChangeKind.UNLINK, service, role, link.number, party.id, base=link,
                reason=f"removed in {service}: unlinked, flagged for review",
            )  # fmt: skip
        # Keyed by the role the service gives it, as a run's listing is.
        listing = {} if found is None else {(found.role, found.remote_id): found}
        by_number = {} if found is None else {(found.role, found.number): found}
        linked: set[tuple[Role, str | None]] = set()
        taken = found is not None and link is None
        if (
            found is not None
            and taken
            and self.state.link_by_remote(service, role, found.remote_id)
        ):
            linked.add((role, found.remote_id))
        if link is not None and link.number != number:  # renumbered: the new one may exist
            renumbered = connector.find_relation(role, number)
            if renumbered is not None:
                by_number[(role, number)] = renumbered
                if self.state.link_by_remote(service, role, renumbered.remote_id):
                    linked.add((role, renumbered.remote_id))
        known = _Known(
            listing, by_number, linked, self._removal(service, role, party, number),
            {} if link is None else {(role, party.id): link},
            _create_intents(self.state, service),
        )  # fmt: skip
        return self._plan_pushed(connector, party, role, number, link, known)

    def _removal(self, service: str, role: Role, party: Party, number: str) -> dict[str, str]:
        """The removal mark of one party and role, when it still holds (dropped when not).

        For `push_relation`, which writes at once: a mark whose number is no
        longer the party's, or whose review flag a person cleared, is dropped.
        """
        assert party.id is not None
        key = _removed_key(service, role, party.id)
        marked = self.state.mark(REMOVED, key)
        if marked is None:
            return {}
        if marked == number and key not in self._released_removals(service, [party]):
            return {key: marked}
        self.state.set_mark(REMOVED, key, None)
        return {}

    def _connector(self, service: str) -> AccountingConnector:
        for connector in self.connectors:
            if connector.service == service:
                return connector
        raise SyncError(f"no connector named {service!r} in this engine")


# -- merging ---------------------------------------------------------------------------


def _merge(
    host: FieldValues,
    remote: FieldValues,
    link: Link | None,
    *,
    pull: bool,
    push: bool = True,
    policy: ConflictPolicy,
) -> tuple[dict[str, str | None], dict[str, str | None], tuple[str, ...]]:
    """Per field: what to write into the host, what remotely, and which fields conflict.

    With a link, each side is compared with its own value at the last sync
    (three-way). Without one (linked by number now), a field empty on one
    side is filled from the other where that direction is on, and two
    different values are a conflict. Nothing is written remotely without
    ``push`` (a service relations only come from), nor into the host without ``pull``.
    """
    to_host: dict[str, str | None] = {}
    to_remote: dict[str, str | None] = {}
    conflicts: list[str] = []
    for name in sorted({*host, *remote}):
        owned = name in host
        mine, theirs = host.get(name), remote.get(name)
        if link is None:
            if mine == theirs:
                continue
            if not owned:  # a field only the remote side has: fill the host's
                if pull and theirs is not None:
                    to_host[name] = theirs
                continue
            if not pull:  # the host owns the field
                if push:
                    to_remote[name] = mine
                continue
            host_changed = mine is not None
            remote_changed = theirs is not None
        else:
            host_changed = owned and mine != link.host_values.get(name)
            remote_changed = theirs != link.remote_values.get(name)
        if host_changed and remote_changed:
            if mine == theirs:
                continue
            conflicts.append(name)
            if policy is ConflictPolicy.HOST_WINS and push:
                to_remote[name] = mine
            elif policy is ConflictPolicy.REMOTE_WINS and pull:
                to_host[name] = theirs
        elif host_changed and push:
            to_remote[name] = mine
        elif remote_changed and pull:
            to_host[name] = theirs
    return to_host, to_remote, tuple(conflicts)


def _conflict_reason(policy: ConflictPolicy, resolved: bool = False) -> str:
    if resolved:
        side = "host" if policy is ConflictPolicy.HOST_WINS else "remote"
        return f"changed on both sides: settled by a person, the {side}'s value kept"
    return {
        ConflictPolicy.HOST_WINS: "changed on both sides: the host wins",
        ConflictPolicy.REMOTE_WINS: "changed on both sides: the remote wins",
        ConflictPolicy.REVIEW: "changed on both sides: left for review (flagged)",
    }[policy]


def _report_merge(change: PlannedChange, policy: ConflictPolicy, rows: SyncReport) -> None:
    """The rows of a merge: per side written, a conflict row, or unchanged."""
    service, role, host_id, number = change.service, change.role, change.host_id, change.number
    conflicts = set(change.conflicts)
    winner = {ConflictPolicy.HOST_WINS: Side.REMOTE, ConflictPolicy.REMOTE_WINS: Side.HOST}
    won = winner.get(policy, Side.HOST)
    if conflicts:
        reason = _conflict_reason(policy, resolved=change.policy is not None)
        rows.add(
            service, role, host_id, number, Action.CONFLICT, reason, sorted(conflicts), side=won
        )
    for side, written in ((Side.HOST, change.to_host), (Side.REMOTE, change.to_remote)):
        fields = sorted(set(written) - (conflicts if side is won else set()))
        if fields:
            rows.add(
                service, role, host_id, number, Action.UPDATED, change.reason, fields, side=side
            )
    if not conflicts and not change.to_host and not change.to_remote:
        rows.add(service, role, host_id, number, Action.UNCHANGED, change.reason, side=Side.REMOTE)


def _preview_change(change: PlannedChange, policy: ConflictPolicy, preview: SyncReport) -> None:
    """The rows a planned relation change would give when applied."""
    if change.kind is ChangeKind.CREATE_HOST:
        preview.add(
            change.service, change.role, None, change.number, Action.CREATED, change.reason,
            sorted(k for k, v in change.to_host.items() if v is not None), side=Side.HOST,
        )  # fmt: skip
    elif change.kind is ChangeKind.CREATE_REMOTE:
        preview.add(
            change.service, change.role, change.host_id, change.number, Action.CREATED,
            change.reason, sorted(k for k, v in change.to_remote.items() if v is not None),
            side=Side.REMOTE,
        )  # fmt: skip
    else:
        _report_merge(change, change.policy or policy, preview)


# -- small helpers -----------------------------------------------------------------------


def _checked_connectors(
    connectors: Iterable[AccountingConnector],
) -> tuple[AccountingConnector, ...]:
    found = tuple(connectors)
    names: set[str] = set()
    for connector in found:
        if not isinstance(connector, AccountingConnector):
            raise ConfigurationError(f"not an AccountingConnector: {type(connector).__name__}")
        if connector.service in names:
            raise ConfigurationError(f"two connectors are named {connector.service!r}")
        names.add(connector.service)
    return found


def _policy(policy: ConflictPolicy | str) -> ConflictPolicy:
    try:
        return ConflictPolicy(policy)
    except ValueError:
        known = ", ".join(p.value for p in ConflictPolicy)
        error = ConfigurationError(f"unknown conflict policy {policy!r} (one of {known})")
    raise error


def _side(value: Side | str) -> Side:
    if isinstance(value, str) and value in Side._value2member_map_:
        return Side(value)
    raise ConfigurationError(f"keep must be 'host' or 'remote', not {value!r}")


def _host_removal(value: HostRemoval | str) -> HostRemoval:
    try:
        return HostRemoval(value)
    except ValueError:
        known = ", ".join(h.value for h in HostRemoval)
        error = ConfigurationError(f"unknown on_host_removal {value!r} (one of {known})")
    raise error


def _selected_flows(flow: Flow | str | Iterable[Flow | str] | None) -> list[Flow]:
    if flow is None:
        return list(Flow)
    wanted = [flow] if isinstance(flow, str) else list(flow)
    unknown = [name for name in wanted if name not in Flow._value2member_map_]
    if unknown or not wanted:
        known = ", ".join(f.value for f in Flow)
        raise ConfigurationError(f"unknown flow {(unknown or [''])[0]!r} (one of {known})")
    return [f for f in Flow if f in {Flow(name) for name in wanted}]


def _flows_name(flows: Sequence[Flow]) -> str:
    """The name a run is recorded under: its flow, ``"all"``, or the flows joined by ``+``."""
    if set(flows) == set(Flow):
        return "all"
    return "+".join(flow.value for flow in flows)


def _ran(record_flow: str, flow: Flow) -> bool:
    """Whether a run recorded under ``record_flow`` ran ``flow``."""
    return record_flow == "all" or flow.value in record_flow.split("+")


def _intervals(given: Mapping[Flow | str, dt.timedelta]) -> dict[Flow, dt.timedelta]:
    intervals = dict(DEFAULT_INTERVALS)
    for name, interval in given.items():
        if name not in Flow._value2member_map_:
            known = ", ".join(f.value for f in Flow)
            raise ConfigurationError(f"unknown flow {name!r} in intervals (one of {known})")
        if not isinstance(interval, dt.timedelta) or interval <= dt.timedelta(0):
            raise ConfigurationError(f"the interval of {name} must be a positive timedelta")
        intervals[Flow(name)] = interval
    return intervals


def _create_intents(state: StateStore, service: str) -> dict[tuple[Role | None, str | None], int]:
    """Unfinished relation creates of a service, by role and host ID."""
    return {
        (i.role, i.host_id): i.intent_id
        for i in state.intents(service)
        if i.kind == "create_relation"
    }


def _pulls_applied(run: _Run, report: SyncReport) -> None:
    """After the pull stage: which records the push stage sends the host's values now.

    Only those whose party another service's pull wrote since (the host may
    differ from their link); the others are in step, and a failed one is
    left to the retry.
    """
    writers: dict[str, set[str]] = {}
    for row in report:
        if row.kind != "relation" or row.role is None or row.host_id is None:
            continue
        key = (row.service, row.role, row.host_id)
        if row.action is Action.FAILED:
            run.handled.add(key)
        elif row.side is Side.HOST and row.action in _HOST_WRITES:
            writers.setdefault(row.host_id, set()).add(row.service)
            run.pulled.add(key)  # a party created in the host: pulled too
    for key in run.pulled - run.handled:
        service, _, host_id = key
        if not writers.get(host_id, set()) - {service}:
            run.handled.add(key)  # in step: reported by the pull, nothing to send
    run.pulled -= run.handled
    run.pulls_applied = True


_HOST_WRITES: Final = frozenset({Action.CREATED, Action.UPDATED, Action.CONFLICT})


def _is_noop(change: PlannedChange) -> bool:
    """A merge that writes nothing and finds both sides as the link has them."""
    base, remote = change.base, change.remote
    return (
        change.kind is ChangeKind.MERGE
        and base is not None
        and remote is not None
        and not (change.to_host or change.to_remote or change.conflicts)
        and dict(change.host_values) == dict(base.host_values)
        and dict(remote.values) == dict(base.remote_values)
    )


def _retry_ids(state: StateStore, service: str) -> set[str]:
    prefix = f"{service}/"
    return {key.removeprefix(prefix) for key in state.marks(RETRY, prefix)}


def _failed_service(preview: SyncReport, service: str, kind: str, error: BaseException) -> None:
    preview.add(
        service, None, None, None, Action.FAILED, _reason(error), side=Side.REMOTE, kind=kind
    )


def _invoice_key(invoice: Invoice) -> str:
    return f"{invoice.relation_code}/{invoice.number}"


def _payment_number(payment: RemotePayment) -> str:
    return f"{payment.relation_code}/{payment.invoice_number}"


def _payment_text(payment: RemotePayment) -> str:
    return f"{payment.state.value}|{payment.outstanding}"


def _payment_reason(payment: RemotePayment) -> str:
    if payment.error is not None:
        return f"payment state unknown: {payment.error}"
    outstanding = "" if payment.outstanding is None else f", {payment.outstanding} outstanding"
    return f"{payment.state.value}{outstanding}"
