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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

from ..errors import ConfigurationError
from ..errors import ValidationError as CrmValidationError
from ..models import Address, AddressKind, Organisation
from ..sync import Action, HostCRM, KvKHost, Side, StateStore, SyncReport
from ._client import KvKClient
from ._officers import apply_contact_update, is_contact_field
from ._updates import UPDATE_FIELDS, UpdateReport, UpdateService

__all__ = [
    "DEFAULT_KVK_INTERVAL",
    "KVK_SERVICE",
    "REGISTRATION_FIELD",
    "KvKUpdates",
    "apply_kvk_update",
]

KVK_SERVICE: Final = "kvk"
"""The ``service`` name of the KvK flow's report rows and pending updates."""

REGISTRATION_FIELD: Final = "registration"
"""The pending removal of a registration that ended or was removed.

Its KvK value is ``{"status": "ended", "end_date": "2026-01-31"}`` or
``{"status": "removed"}``; the CRM value is ``{"status": "active"}``."""

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
    registration, and unlinks a removed one from KvK (its KvK and branch
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
        data["end_date"] = kvk_value.get("end_date") if isinstance(kvk_value, dict) else None
    else:
        raise CrmValidationError(REGISTRATION_FIELD, kvk_value, "not a removal the KvK flow stores")
    return Organisation.model_validate(data)


class KvKUpdates:
    """The KvK flow: pending updates and removals of linked organisations, stored in the host.

    Pass it to `SyncEngine` (``SyncEngine(host, connectors, kvk=KvKUpdates(kvk))``);
    the host must implement `KvKHost`. `SyncEngine.run` runs it with the other
    flows and `SyncEngine.run_due` once per ``interval``. Every check asks
    KvK (a paid call per organisation), so `SyncEngine.plan` leaves it out.

    Args:
        updates: A `crmconnect.kvk.UpdateService`, or a `crmconnect.kvk.KvKClient` to make one.
        interval: How often `SyncEngine.run_due` runs it (daily by default);
            the engine's ``intervals={"kvk": ...}`` overrides it.
        workers: KvK requests in flight at once.

    Raises:
        ConfigurationError: ``updates`` is neither, or ``interval`` or
            ``workers`` is not positive.

    Example:
        ```python
        from crmconnect.kvk import KvKClient, KvKUpdates
        from crmconnect.sync import SyncEngine

        kvk = KvKClient(api_key=...)
        engine = SyncEngine(crm, [df], kvk=KvKUpdates(kvk, interval=dt.timedelta(hours=1)))
        engine.run_due()   # checks the organisations with a KvK number once an hour
        ```
    """

    service: Final = KVK_SERVICE

    def __init__(
        self,
        updates: UpdateService | KvKClient,
        *,
        interval: dt.timedelta = DEFAULT_KVK_INTERVAL,
        workers: int = 4,
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

    def __repr__(self) -> str:
        return f"KvKUpdates(interval={self.interval}, workers={self.workers})"

    def run(self, host: HostCRM, report: SyncReport, *, state: StateStore | None = None) -> None:
        """Check every host organisation with a KvK number; store what differs in the host.

        One row per organisation: ``pending`` (fields newly stored for a
        person to review, named in the row; `SyncReport.pending` counts them),
        ``unchanged`` (nothing new), or ``failed`` (KvK or the host failed for
        it; the others go on, and it is checked again next run).

        Raises:
            ConfigurationError: The host is not a `KvKHost`.
        """
        if not isinstance(host, KvKHost):
            raise ConfigurationError(f"the KvK flow needs a KvKHost, not {type(host).__name__}")
        parties, _ = host.changed_parties(None)
        linked = [p for p in parties if isinstance(p, Organisation) and p.kvk_number and p.id]
        summary = self.updates.check_updates_many(linked, workers=self.workers)
        for checked in summary.reports:
            self._store(host, checked, report)

    def _store(self, host: KvKHost, checked: UpdateReport, report: SyncReport) -> None:
        org = checked.organisation
        host_id, number = str(org.id), org.kvk_number
        if checked.error is not None:
            reason = f"checking KvK failed: {type(checked.error).__name__}: {checked.error}"
            report.add(KVK_SERVICE, None, host_id, number, Action.FAILED, reason, **_ROW)
            return
        try:
            stored = _store_differences(host, host_id, checked)
        except Exception as exc:  # one organisation stops no other (as in every flow)
            reason = f"storing the KvK updates failed: {type(exc).__name__}: {exc}"
            report.add(KVK_SERVICE, None, host_id, number, Action.FAILED, reason, **_ROW)
            return
        if not stored:
            report.add(KVK_SERVICE, None, host_id, number, Action.UNCHANGED, **_ROW)
            return
        reason = checked.reason or ""
        report.add(KVK_SERVICE, None, host_id, number, Action.PENDING, reason, stored, **_ROW)


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
    date goes with the removal, not as a separate update.
    """
    if checked.status == _REMOVED:
        return {"status": _REMOVED}
    register = checked.register
    if checked.status != _ENDED or register is None:
        return None
    if register.end_date is None or register.end_date == checked.organisation.end_date:
        return None
    return {"status": _ENDED, "end_date": register.end_date.isoformat()}
