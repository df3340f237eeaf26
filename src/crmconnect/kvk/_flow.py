"""`KvKUpdates`: the KvK flow of the engine, checking every linked organisation on a schedule.

Each run asks the KvK register (through `UpdateService`) about
every host organisation with a KvK number, and stores what differs in the
host for a person to review (`KvKHost.store_kvk_update`): one pending update
per field, and a pending removal (field `REGISTRATION_FIELD`) when the
registration ended or was removed. Nothing is written into the party itself
until a person accepts the update (`apply_kvk_update` applies it).

A value the person rejected is remembered by the host, which then refuses
to store it again (`store_kvk_update` returns ``False``) until the register's
value changes. The flow stores every difference it finds on each run; the
host decides what is new, so a no-change run reports every organisation
``unchanged``.

On KvK's change signals (``signals=``, a Mutatieservice subscription) a run
re-checks only the organisations the new signals name (`SignalUpdateService`)
and reports only those; a registration a signal ends is stored as a pending
removal without a paid call. The signal bookmark is kept in the engine's
state store (`signal_bookmark_name`), written after the run's updates are
stored, so a run that breaks off is read again; the first run, without a
bookmark, checks every organisation as polling does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import attrs

from ..errors import ConfigurationError
from ..errors import ValidationError as CrmValidationError
from ..models import Address, AddressKind, Organisation
from ..sync import Action, HostCRM, KvKHost, Side, StateStore, SyncReport
from ._client import KvKClient
from ._officers import apply_contact_update, is_contact_field
from ._signal_updates import SignalBookmark, SignalUpdateService
from ._signal_updates import _key as _record_key
from ._updates import UPDATE_FIELDS, UpdateReport, UpdateService

__all__ = [
    "DEFAULT_KVK_INTERVAL",
    "KVK_SERVICE",
    "REGISTRATION_FIELD",
    "SIGNAL_BOOKMARK",
    "KvKUpdates",
    "apply_kvk_update",
]

KVK_SERVICE: Final = "kvk"
"""The ``service`` name of the KvK flow's report rows and pending updates."""

REGISTRATION_FIELD: Final = "registration"
"""The pending removal of a registration that ended or was removed.

Its KvK value is ``{"status": "ended", "end_date": "2026-01-31"}`` or
``{"status": "removed"}``; the CRM value is ``{"status": "active"}``. An end
found by a change signal, which gives no date, is ``{"status": "ended"}``."""

SIGNAL_BOOKMARK: Final = "kvk-signals"
"""The start of the name under which the KvK flow on signals keeps its bookmark in the
state store: ``"kvk-signals:<subscription id>"`` (`KvKUpdates.signal_bookmark_name`)."""

DEFAULT_KVK_INTERVAL: Final = dt.timedelta(days=1)
"""How often `SyncEngine.run_due` runs the KvK flow unless told otherwise: daily."""

_REMOVED, _ENDED = "removed", "ended"
"""`crmconnect.kvk.RegistrationStatus` values (a StrEnum: equal to its text)."""

_ADDRESS_KINDS: Final = {
    "visiting_address": AddressKind.VISITING,
    "postal_address": AddressKind.POSTAL,
}


def apply_kvk_update(org: Organisation, field: str, kvk_value: object) -> Organisation:
    """A copy of ``org`` with one accepted KvK value in it, checked by the model.

    The value may be the register's own (an `Address`, a date) or its JSON form
    as a host stored it (a ``dict`` for an address, ISO text for a date).
    Accepting a removal (`REGISTRATION_FIELD`) sets the end date of an ended
    registration (where the removal gives one: one found by a change signal
    does not), and unlinks a removed one from KvK (its KvK and branch
    numbers are cleared, so it is no longer checked); the party itself stays.

    Args:
        org: The host's organisation.
        field: An `Organisation` attribute the update service compares,
            `REGISTRATION_FIELD`, or a contact change (``contacts:joined:...``).
        kvk_value: The register's value.

    Raises:
        ValidationError: ``field`` is not one the update service compares, or the
            value does not fit the model.
    """
    if field == REGISTRATION_FIELD:
        return _apply_registration(org, kvk_value)
    if is_contact_field(field):  # an officer who joined or left (contacts:joined:<name>)
        return apply_contact_update(org, field, kvk_value)
    if field not in UPDATE_FIELDS:
        known = [*UPDATE_FIELDS, REGISTRATION_FIELD]
        raise CrmValidationError("field", field, f"not a field KvK updates: {known}")
    data: dict[str, Any] = org.model_dump()
    if field in _ADDRESS_KINDS:
        kind = _ADDRESS_KINDS[field]
        address = Address.model_validate(
            kvk_value.model_dump() if isinstance(kvk_value, Address) else kvk_value
        ).model_copy(update={"kind": kind})
        kept = [a for a in data["addresses"] if a["kind"] != kind]
        data["addresses"] = [*kept, address.model_dump()]
    else:
        data[field] = kvk_value
    return Organisation.model_validate(data)


def _apply_registration(org: Organisation, kvk_value: object) -> Organisation:
    data: dict[str, Any] = org.model_dump()
    status = kvk_value.get("status") if isinstance(kvk_value, dict) else None
    if status == _REMOVED:
        data.update(kvk_number=None, branch_number=None)
    elif status == _ENDED:
        # An end found by a signal has no date: the record keeps the end date it has.
        end_date = kvk_value.get("end_date") if isinstance(kvk_value, dict) else None
        if end_date is not None:
            data["end_date"] = end_date
    else:
        raise CrmValidationError(REGISTRATION_FIELD, kvk_value, "not a removal the KvK flow stores")
    return Organisation.model_validate(data)


class KvKUpdates:
    """The KvK flow: pending updates and removals of linked organisations, stored in the host.

    Pass it to `SyncEngine` (``SyncEngine(host, connectors, kvk=KvKUpdates(kvk))``);
    the host must implement `KvKHost`. `SyncEngine.run` runs it with the other
    flows and `SyncEngine.run_due` once per ``interval``. Every check asks
    KvK (a paid call per organisation), so `SyncEngine.plan` leaves it out.

    With ``signals`` (a Mutatieservice subscription) a run checks only the
    organisations KvK's change signals name since the last run, and keeps
    its `SignalBookmark` in the engine's state store; the first run checks
    every organisation, as without signals.

    Args:
        updates: A `crmconnect.kvk.UpdateService`, or a `crmconnect.kvk.KvKClient` to make one.
        interval: How often `SyncEngine.run_due` runs it (daily by default);
            the engine's ``intervals={"kvk": ...}`` overrides it.
        workers: KvK requests in flight at once.
        signals: Drive the checks by change signals: a subscription id (read
            with ``updates``' client), or a `SignalUpdateService` of one's own
            (its overlap, names, clock). ``None`` (the default): every run
            checks every organisation.

    Raises:
        ConfigurationError: ``updates`` or ``signals`` is neither of the kinds
            named, or ``interval`` or ``workers`` is not positive.

    Example:
        ```python
        from crmconnect.kvk import KvKClient, KvKUpdates
        from crmconnect.sync import SyncEngine

        kvk = KvKClient(api_key=...)
        engine = SyncEngine(crm, [df], kvk=KvKUpdates(kvk, interval=dt.timedelta(hours=1)))
        engine.run_due()   # checks the organisations with a KvK number once an hour

        on_signals = KvKUpdates(kvk, signals=subscription_id)  # only what KvK says changed
        ```
    """

    service: Final = KVK_SERVICE

    def __init__(
        self,
        updates: UpdateService | KvKClient,
        *,
        interval: dt.timedelta = DEFAULT_KVK_INTERVAL,
        workers: int = 4,
        signals: SignalUpdateService | str | None = None,
    ) -> None:
        if isinstance(updates, KvKClient):
            updates = UpdateService(updates)
        if not isinstance(updates, UpdateService):  # type: ignore[redundant-expr,unused-ignore]
            kind = type(updates).__name__  # type: ignore[unreachable]
            raise ConfigurationError(f"KvKUpdates needs an UpdateService or KvKClient, not {kind}")
        if not isinstance(interval, dt.timedelta) or interval <= dt.timedelta(0):
            raise ConfigurationError("the interval of the KvK flow must be a positive timedelta")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigurationError(f"workers must be a positive number, not {workers!r}")
        self.updates = updates
        self.interval = interval
        self.workers = workers
        self.signals = _signal_service(signals, updates)

    def __repr__(self) -> str:
        on = f", signals={self.signals!r}" if self.signals is not None else ""
        return f"KvKUpdates(interval={self.interval}, workers={self.workers}{on})"

    @property
    def signal_bookmark_name(self) -> str | None:
        """The state store's name of the signal bookmark; ``None`` without signals.

        ``"kvk-signals:<subscription id>"``: another subscription starts afresh
        (a full check) rather than reading a bookmark that is not its own.

        Raises:
            ConfigurationError: No subscription id was given and the key has
                no active subscription, or several.
        """
        if self.signals is None:
            return None
        return f"{SIGNAL_BOOKMARK}:{self.signals.subscription_id}"

    def run(self, host: HostCRM, report: SyncReport, *, state: StateStore | None = None) -> None:
        """Check the host's organisations with a KvK number; store what differs in the host.

        One row per organisation checked: ``pending`` (fields newly stored for
        a person to review, named in the row; `SyncReport.pending` counts
        them), ``unchanged`` (nothing new), or ``failed`` (KvK or the host
        failed for it; the others go on, and it is checked again next run).
        Without signals every organisation is checked; on signals, those the
        new signals name (and those that failed last run).

        Args:
            host: The host CRM, a `KvKHost`.
            report: The run's report, which gets the rows.
            state: The engine's state store: where the signal bookmark is kept
                (needed on signals; the engine passes it).

        Raises:
            ConfigurationError: The host is not a `KvKHost`, or the flow is on
                signals and no state store is given.
            ValidationError: The stored signal bookmark cannot be read.
        """
        if not isinstance(host, KvKHost):
            raise ConfigurationError(f"the KvK flow needs a KvKHost, not {type(host).__name__}")
        if self.signals is not None and state is None:
            raise ConfigurationError(
                "the KvK flow on signals keeps its bookmark in a state store: "
                "run it through SyncEngine, or pass state="
            )
        parties, _ = host.changed_parties(None)
        linked = [p for p in parties if isinstance(p, Organisation) and p.kvk_number and p.id]
        if self.signals is None or state is None:
            summary = self.updates.check_updates_many(linked, workers=self.workers)
            for checked in summary.reports:
                self._store(host, checked, report)
            return
        self._run_on_signals(self.signals, host, linked, report, state)

    def _run_on_signals(
        self,
        signals: SignalUpdateService,
        host: KvKHost,
        linked: Sequence[Organisation],
        report: SyncReport,
        state: StateStore,
    ) -> None:
        """Check what the signals name; without a bookmark yet, check all and start one.

        The bookmark is stored after the updates: records whose check or
        storing failed go into it, to be checked again next run.
        """
        name = f"{SIGNAL_BOOKMARK}:{signals.subscription_id}"
        stored = state.bookmark(name)
        if stored is None:  # taken before the full check: a change during it is read next run
            bookmark = SignalBookmark.loads(signals.start())
            reports = self.updates.check_updates_many(linked, workers=self.workers).reports
        else:
            result = signals.check_updates(linked, stored, workers=self.workers)
            bookmark, reports = SignalBookmark.loads(result.bookmark), result.reports
        failed = {_record_key(c.organisation) for c in reports if not self._store(host, c, report)}
        retry = tuple(sorted(set(bookmark.retry) | failed, key=lambda k: (k[0], k[1] or "")))
        state.set_bookmark(name, attrs.evolve(bookmark, retry=retry).dumps())

    def _store(self, host: KvKHost, checked: UpdateReport, report: SyncReport) -> bool:
        """Store one check's differences and add its row; ``False`` when it failed."""
        org = checked.organisation
        host_id, number = str(org.id), org.kvk_number
        if checked.error is not None:
            reason = f"checking KvK failed: {type(checked.error).__name__}: {checked.error}"
            report.add(KVK_SERVICE, None, host_id, number, Action.FAILED, reason, **_ROW)
            return False
        try:
            stored = _store_differences(host, host_id, checked)
        except Exception as exc:  # one organisation stops no other (as in every flow)
            reason = f"storing the KvK updates failed: {type(exc).__name__}: {exc}"
            report.add(KVK_SERVICE, None, host_id, number, Action.FAILED, reason, **_ROW)
            return False
        if not stored:
            report.add(KVK_SERVICE, None, host_id, number, Action.UNCHANGED, **_ROW)
            return True
        reason = checked.reason or ""
        report.add(KVK_SERVICE, None, host_id, number, Action.PENDING, reason, stored, **_ROW)
        return True


def _signal_service(
    signals: SignalUpdateService | str | None, updates: UpdateService
) -> SignalUpdateService | None:
    if signals is None or isinstance(signals, SignalUpdateService):
        return signals
    if isinstance(signals, str) and signals.strip():
        return SignalUpdateService(updates, signals.strip())
    kind = type(signals).__name__
    raise ConfigurationError(
        f"signals must be a subscription id or a SignalUpdateService, not {kind}"
    )


_ROW: Final[dict[str, Any]] = {"side": Side.HOST, "kind": "kvk_update"}


def _store_differences(host: KvKHost, host_id: str, checked: UpdateReport) -> Sequence[str]:
    """Store every difference (and the removal); return the fields newly pending."""
    removal = _removal(checked)
    changes = [c for c in checked.changes if not (removal and c.field == "end_date")]
    stored = [
        change.field
        for change in changes
        if host.store_kvk_update(host_id, change.field, change.crm_value, change.kvk_value)
    ]
    active = {"status": "active"}
    if removal and host.store_kvk_update(host_id, REGISTRATION_FIELD, active, removal):
        stored.append(REGISTRATION_FIELD)
    return stored


def _removal(checked: UpdateReport) -> dict[str, str] | None:
    """The pending removal's value (status and end date, not KvK's wording), when there is one.

    Stable between runs, so a rejected removal stays rejected. An ended
    registration whose end date the CRM has already is no news; its end
    date goes with the removal, not as a separate update. An end found by a
    change signal (no register data: no date) is news while the CRM has no
    end date.
    """
    if checked.status == _REMOVED:
        return {"status": _REMOVED}
    if checked.status != _ENDED:
        return None
    register = checked.register
    if register is None:  # ended by a change signal, which gives no end date
        return None if checked.organisation.end_date else {"status": _ENDED}
    if register.end_date is None or register.end_date == checked.organisation.end_date:
        return None
    return {"status": _ENDED, "end_date": register.end_date.isoformat()}
