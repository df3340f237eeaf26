"""The update service: what changed in the register since the CRM record was filled.

For a record linked to the register (it has a KvK number), `UpdateService`
fetches the register data and lists, field by field, the CRM value beside the
register value, plus whether the registration ended or was removed. A person
accepts or rejects each field; `UpdateReport.apply` returns a copy with only
the accepted fields changed.

An update check always asks KvK (paid): the client's cache, which may be a
`DiskCache` kept for a week, serves matching and enrichment, never a check
for changes, or it would hide a move for as long as it keeps the old answer.
The fresh answers replace the cached ones.
"""

from __future__ import annotations

import html
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import Any

import attrs

from ..errors import CrmConnectError, NotFoundError
from ..errors import ValidationError as CrmValidationError
from ..models import Address, AddressKind, Organisation, Person
from ._client import KvKClient
from ._normalise import normalise_name, same_city
from ._officers import (
    CONTACTS_FIELD,
    apply_contact_changes,
    contact_changes,
    describe_person,
    is_contact_field,
)

__all__ = [
    "UPDATE_FIELDS",
    "FieldChange",
    "RegistrationStatus",
    "UpdateReport",
    "UpdateService",
    "UpdateSummary",
    "compare",
    "format_value",
]

UPDATE_FIELDS: dict[str, str] = {
    "name": "Name",
    "statutory_name": "Statutory name",
    "trade_names": "Trade names",
    "legal_form": "Legal form",
    "branch_number": "Branch number",
    "rsin": "RSIN",
    "registration_date": "Registration date",
    "establishment_date": "Establishment date",
    "end_date": "End date",
    "visiting_address": "Visiting address",
    "postal_address": "Postal address",
    "sbi_activities": "SBI activities",
    "employees_total": "Employees (total)",
    "employees_full_time": "Employees (full-time)",
    "employees_part_time": "Employees (part-time)",
    "employee_class": "Employee class",
    "websites": "Websites",
    "non_mailing": "Non-mailing indication",
}
"""Every field the update service compares, with its label."""

_ADDRESS_FIELDS = {"visiting_address": AddressKind.VISITING, "postal_address": AddressKind.POSTAL}


class RegistrationStatus(StrEnum):
    """Where the registration stands."""

    ACTIVE = "active"
    ENDED = "ended"
    """The register gives an end or deregistration date."""
    REMOVED = "removed"
    """KvK can no longer deliver the registration (IPD0005 / IPD0007)."""


@attrs.frozen
class FieldChange:
    """One field in which the CRM and the register differ.

    Attributes:
        field: The `Organisation` attribute, e.g. ``"visiting_address"``.
        label: A readable label.
        crm_value: What the CRM has.
        kvk_value: What the register says.
    """

    field: str
    label: str
    crm_value: Any
    kvk_value: Any

    @property
    def remote_value(self) -> Any:
        """The authoritative source's value: the register's (KvK) or, for VIES, the VAT system's."""
        return self.kvk_value


@attrs.frozen
class UpdateReport:
    """The differences for one CRM record, for a person to accept field by field.

    Attributes:
        organisation: The CRM record as it was checked.
        register: The register's data, ``None`` when it was removed.
        status: Active, ended or removed.
        changes: The differing fields.
        reason: The register's words when it was removed or ended.
        error: Why the check failed, when it did (then nothing else is known).
        compared: The fields the check compared: the names `apply` accepts.
    """

    organisation: Organisation
    register: Organisation | None
    status: RegistrationStatus = RegistrationStatus.ACTIVE
    changes: tuple[FieldChange, ...] = ()
    reason: str | None = None
    error: CrmConnectError | None = None
    compared: tuple[str, ...] = attrs.field(default=tuple(UPDATE_FIELDS), repr=False)

    @property
    def fields(self) -> list[str]:
        """The names of the changed fields (pass them to `apply` to accept all)."""
        return [change.field for change in self.changes]

    @property
    def has_updates(self) -> bool:
        """Whether some field differs."""
        return bool(self.changes)

    @property
    def is_removed(self) -> bool:
        """Whether the registration ended or was removed."""
        return self.status is not RegistrationStatus.ACTIVE

    def apply(self, org: Organisation | None = None, accept: Iterable[str] = ()) -> Organisation:
        """Return a copy of the record with only the accepted fields taken from the register.

        A fixed list may be passed for every record (``accept=["visiting_address",
        "employees_total"]``): a listed field that did not change is left as it is.

        Args:
            org: The record to update; defaults to the one checked.
            accept: Field names from `compared` (those in `fields` change);
                ``"contacts"`` takes every officer who joined or left, a change's
                own field (``"contacts:joined:J. Jansen (Bestuurder)"``) that one.

        Raises:
            ValidationError: A name is not a field this check compares (a typo).
        """
        base = org if org is not None else self.organisation
        by_field = {change.field: change for change in self.changes}
        update: dict[str, Any] = {}
        addresses = list(base.addresses)
        names = [accept] if isinstance(accept, str) else list(accept)
        for name in names:
            if is_contact_field(name) and CONTACTS_FIELD in self.compared:
                continue  # taken over below, officer by officer
            if name not in self.compared:
                raise CrmValidationError(
                    "accept", name, f"not a field this check compares: {list(self.compared)}"
                )
            if name not in by_field:
                continue  # unchanged: nothing to take over
            value = by_field[name].kvk_value
            if name in _ADDRESS_FIELDS:
                addresses = _replace_address(addresses, _ADDRESS_FIELDS[name], value)
                update["addresses"] = addresses
            else:
                update[name] = value
        contact_updates = [
            (c.field, c.crm_value, c.kvk_value) for c in self.changes if is_contact_field(c.field)
        ]
        if contact_updates:
            update["contacts"] = apply_contact_changes(base.contacts, contact_updates, names)
        return base.model_copy(update=update, deep=True)

    def _repr_html_(self) -> str:
        return _report_html(self)


def _replace_address(addresses: list[Address], kind: AddressKind, new: Address) -> list[Address]:
    kept = [a for a in addresses if a.kind != kind]
    return [*kept, new]


@attrs.frozen
class UpdateSummary:
    """The outcome of checking a whole CRM.

    Attributes:
        reports: One report per record, in input order.
        pending_updates: Records with at least one changed field.
        removals: Records whose registration ended or was removed.
        errors: Records that could not be checked.
    """

    reports: tuple[UpdateReport, ...]

    @property
    def pending_updates(self) -> int:
        """Records with at least one changed field (the count on PerfectView's icon)."""
        return sum(1 for r in self.reports if r.has_updates)

    @property
    def removals(self) -> int:
        """Records whose registration ended or was removed."""
        return sum(1 for r in self.reports if r.is_removed)

    @property
    def errors(self) -> int:
        """Records that could not be checked."""
        return sum(1 for r in self.reports if r.error is not None)


def compare(
    crm: Organisation, register: Organisation, fields: Mapping[str, str] = UPDATE_FIELDS
) -> tuple[FieldChange, ...]:
    """The fields in which the register differs from the CRM (pure).

    Fields the register leaves empty and shielded addresses are not proposed:
    the register not saying something is no reason to erase the CRM's value.
    Names are compared as matching compares them (`normalise_name`, keeping
    "Holding"): ``Jansen B.V.``, ``Jansen BV`` and ``JANSEN`` are one name.

    Args:
        crm: The CRM record.
        register: The authoritative record (KvK's register, or VIES).
        fields: The fields to compare, with their labels.
    """
    changes = []
    for field, label in fields.items():
        theirs = _value(register, field)
        if theirs in (None, [], "") or (isinstance(theirs, Address) and theirs.shielded):
            continue
        ours = _value(crm, field)
        if not _same(field, ours, theirs):
            changes.append(FieldChange(field, label, ours, theirs))
    return tuple(changes)


def _value(org: Organisation, field: str) -> Any:
    return getattr(org, field)


_NAME_FIELDS = frozenset({"name", "statutory_name"})


def _same(field: str, ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, Address):
        return isinstance(ours, Address) and _same_address(ours, theirs)
    if field == "sbi_activities":
        return {(a.code, a.main) for a in ours} == {(a.code, a.main) for a in theirs}
    if field == "websites":
        return [_loose(v) for v in ours] == [_loose(v) for v in theirs]
    if field == "trade_names":
        return [_name_key(v) for v in ours] == [_name_key(v) for v in theirs]
    if field in _NAME_FIELDS and isinstance(ours, str) and isinstance(theirs, str):
        return _name_key(ours) == _name_key(theirs)
    if isinstance(theirs, str) and isinstance(ours, str):
        return " ".join(ours.split()).casefold() == " ".join(theirs.split()).casefold()
    return bool(ours == theirs)


def _name_key(name: str) -> str:
    # As matching compares names: "Jansen B.V.", "Jansen BV" and "JANSEN" are one name
    # (legal form, case, accents, punctuation); "Jansen Holding" stays another one.
    return normalise_name(name, strip_holding=False)


def _loose(value: str) -> str:
    return value.strip().casefold().removeprefix("https://").removeprefix("http://").rstrip("/")


def _same_address(ours: Address, theirs: Address) -> bool:
    if _address_key(ours) != _address_key(theirs):
        return False
    if ours.city is None or theirs.city is None:
        return ours.city is theirs.city
    return same_city(ours.city, theirs.city)


def _address_key(a: Address) -> tuple[Any, ...]:
    street = normalise_name(a.street, strip_holding=False) if a.street else None
    letter = a.house_letter.upper() if a.house_letter else None
    addition = a.house_number_addition.upper() if a.house_number_addition else None
    postcode = a.postcode.replace(" ", "").upper() if a.postcode else None
    return (street, a.house_number, letter, addition, postcode, a.po_box)


class UpdateService:
    """Checks CRM records that are linked to the register for changes and removals.

    Args:
        client: A `KvKClient`; its cache makes each profile a single paid call.

    Example:
        ```python
        service = UpdateService(kvk)
        report = service.check_updates(crm_record)
        updated = report.apply(crm_record, accept=["visiting_address", "employees_total"])
        ```
    """

    def __init__(self, client: KvKClient) -> None:
        self.client = client

    def check_updates(self, org: Organisation, *, since: float | None = None) -> UpdateReport:
        """Compare one record with what the register says now (fetched fresh, never cached).

        Args:
            org: The CRM record, with its KvK number.
            since: A `time.monotonic` value: answers this client fetched at or
                after it count as fresh (`check_updates_many` passes its start,
                so records sharing a KvK number cost one call). Default: now.

        Raises:
            ValidationError: The record has no (valid) KvK number.
        """
        if not org.kvk_number:
            raise CrmValidationError(
                "kvk_number", org.kvk_number, "the record is not linked to KvK"
            )
        start = time.monotonic() if since is None else since
        compared = self._compared()
        try:
            register = self.client._organisation(org.kvk_number, org.branch_number, since=start)
        except NotFoundError as exc:
            reason = exc.remote_message or str(exc)
            removed = RegistrationStatus.REMOVED
            return UpdateReport(org, None, removed, reason=reason, compared=compared)
        changes = compare(org, register) + self._contact_changes(org, register)
        if register.end_date is not None:
            reason = f"registration ended on {register.end_date.isoformat()}"
            ended = RegistrationStatus.ENDED
            return UpdateReport(org, register, ended, changes, reason, compared=compared)
        return UpdateReport(org, register, RegistrationStatus.ACTIVE, changes, compared=compared)

    def _compared(self) -> tuple[str, ...]:
        """The fields a check compares: contacts too when the client fetches officers."""
        contacts = (CONTACTS_FIELD,) if self.client.contact_functions is not None else ()
        return (*UPDATE_FIELDS, *contacts)

    def _contact_changes(self, org: Organisation, theirs: Organisation) -> tuple[FieldChange, ...]:
        """Officers who joined or left, each a change a person accepts or rejects."""
        functions = self.client.contact_functions
        if functions is None:
            return ()
        found = contact_changes(org.contacts, theirs.contacts, functions)
        return tuple(FieldChange(*change) for change in found)

    def check_updates_many(
        self,
        orgs: Sequence[Organisation],
        *,
        workers: int = 4,
        on_progress: Callable[[int, int, UpdateReport], None] | None = None,
    ) -> UpdateSummary:
        """Check many records; failures are reported per record, never dropped.

        Args:
            orgs: The CRM records (each with a KvK number).
            workers: Requests in flight at once.
            on_progress: Called after each record with (done, total, report).
        """
        done = itertools.count(1)
        lock = threading.Lock()
        start = time.monotonic()  # one run: each profile is fetched once, and fresh

        def one(org: Organisation) -> UpdateReport:
            try:
                report = self.check_updates(org, since=start)
            except CrmConnectError as exc:
                report = UpdateReport(org, None, error=exc)
            with lock:
                position = next(done)
                if on_progress is not None:
                    on_progress(position, len(orgs), report)
            return report

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return UpdateSummary(tuple(pool.map(one, orgs)))


TABLE_STYLE = 'style="border-collapse:collapse;text-align:left" cellpadding="4" border="1"'
"""Attributes of the tables in the notebook views (self-contained HTML)."""


def format_value(value: Any) -> str:
    """Show a field value as text: addresses on one line, SBI codes with "(main)"."""
    if value is None:
        return ""
    if isinstance(value, Address):
        return value.one_line()
    if isinstance(value, Person):
        return describe_person(value)
    if isinstance(value, list):
        return ", ".join(
            f"{v.code}{' (main)' if v.main else ''}" if hasattr(v, "code") else str(v)
            for v in value
        )
    return str(value)


def _report_html(report: UpdateReport) -> str:
    esc = html.escape
    changed = {c.field for c in report.changes}
    register = report.register
    rows = []
    for field, label in UPDATE_FIELDS.items():
        ours = format_value(getattr(report.organisation, field)) or "—"
        theirs = (format_value(getattr(register, field)) if register else "") or "—"
        style = ' style="background:#fff3cd;font-weight:bold"' if field in changed else ""
        rows.append(
            f"<tr{style}><td>{esc(label)}</td><td>{esc(ours)}</td><td>{esc(theirs)}</td></tr>"
        )
    for change in (c for c in report.changes if is_contact_field(c.field)):
        ours, theirs = format_value(change.crm_value) or "—", format_value(change.kvk_value) or "—"
        rows.append(
            f'<tr style="background:#fff3cd;font-weight:bold"><td>{esc(change.label)}</td>'
            f"<td>{esc(ours)}</td><td>{esc(theirs)}</td></tr>"
        )
    status = esc(report.status.value) + (f": {esc(report.reason)}" if report.reason else "")
    return (
        f"<div><p><b>{esc(report.organisation.name)}</b> ({status}, "
        f"{len(report.changes)} changed)</p>"
        f"<table {TABLE_STYLE}><thead><tr><th>field</th><th>CRM</th><th>KvK</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
