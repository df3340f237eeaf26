"""The KvK sandbox's Functionarissen endpoint, built on the client's table of field names.

``GET /{test/}api/v1/functionarissen/kvknummer/{kvkNummer}`` answers the
officers of a registration. KvK's response schema is not public, so the
sandbox writes its answers through the very table the client reads them
with (`crmconnect.kvk.OFFICER_FIELDS`, every name assumed): a corrected
table (``KvKSandbox().officer_fields = table``) changes both sides alike.

Assumptions (no public source): an unknown KvK number answers 404 IPD0005
as Basisprofiel does; a registration without officers answers an empty
list; an officer who left stays listed with ``datumEinde`` when the sandbox
is told a date (`KvKOfficers.remove_officer`), and disappears otherwise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ..kvk._officers import OFFICER_FIELDS, OFFICERS_PATH, OfficerTable
from ._kvk_data import Company, Register, as_kvk_date
from ._kvk_officers_data import OfficerRecord, default_officers, test_company_officers

if TYPE_CHECKING:
    import datetime as dt

    from ._kvk import _Call
    from ._kvk_signals import SignalFeed

__all__ = ["KvKOfficers", "render_officers"]

_KVK_NUMBER = re.compile(r"[0-9]{8}")


@functools.cache
def _test_officers() -> Mapping[str, tuple[OfficerRecord, ...]]:
    return test_company_officers()


def render_officers(
    kvk_number: str, records: Iterable[OfficerRecord], table: OfficerTable = OFFICER_FIELDS
) -> dict[str, Any]:
    """A Functionarissen answer written through a table (what the client reads back).

    Every officer goes into the table's first list of officers that name
    their own kind, or else the list for its kind, or else the first list.
    """
    body: dict[str, Any] = {}
    _put(body, table.kvk_number, kvk_number)
    lists = [key for key, _ in table]
    generic = next((key for key, kind in table if kind is None), None)
    by_kind = {kind.casefold(): key for key, kind in table if kind}
    body[generic or lists[0]] = []  # an empty list says: no officers
    for record in records:
        key = generic or by_kind.get((record.kind or "").casefold(), lists[0])
        body.setdefault(key, []).append(_item(record, table))
    return body


def _item(record: OfficerRecord, table: OfficerTable) -> dict[str, Any]:
    values = {
        "kind": record.kind,
        "function": record.function,
        "title": record.title,
        "full_name": record.full_name,
        "initials": record.initials,
        "first_names": record.first_names,
        "infix": record.infix,
        "last_name": record.last_name,
        "legal_person_name": record.legal_person_name,
        "start_date": record.start_date,
        "end_date": record.end_date,
        "authority": record.authority,
        "branch_number": record.branch_number,
    }
    item: dict[str, Any] = {}
    for spec in table.fields:
        if values.get(spec.attribute) is not None:
            _put(item, spec.path, values[spec.attribute])
    for path, value in record.extra.items():
        _put(item, path, value)
    return item


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


class KvKOfficers:
    """The officers of `KvKSandbox`: its Functionarissen endpoint and their changes.

    Officers are kept per KvK number: KvK's test companies have their own
    (invented) ones, every other registration gets officers that fit its
    legal form, until a test changes them.

    Attributes:
        officer_fields: The table answers are written with (the client's by default).
    """

    officer_fields: OfficerTable = OFFICER_FIELDS
    _changed_officers: dict[str, tuple[OfficerRecord, ...]] | None = None

    if TYPE_CHECKING:
        register: Register
        signals: SignalFeed

    def officers(self, kvk_number: str) -> tuple[OfficerRecord, ...]:
        """The officers served for a registration, those who left with a date included.

        Raises:
            KeyError: When the KvK number is not registered.
        """
        with self.register.lock:
            company = self._registered(kvk_number)
            changed = self._changes()
            if kvk_number in changed:
                return changed[kvk_number]
            return _test_officers().get(kvk_number) or default_officers(company)

    def set_officers(self, kvk_number: str, officers: Iterable[OfficerRecord]) -> None:
        """Replace the officers of a registration.

        Raises:
            KeyError: When the KvK number is not registered.
        """
        with self.register.lock:
            self._registered(kvk_number)
            self._changes()[kvk_number] = tuple(officers)
        self._officers_changed(kvk_number)

    def add_officer(self, kvk_number: str, officer: OfficerRecord) -> OfficerRecord:
        """An officer joins a registration.

        Raises:
            KeyError: When the KvK number is not registered.
        """
        with self.register.lock:
            self.set_officers(kvk_number, [*self.officers(kvk_number), officer])
        return officer

    def remove_officer(
        self,
        kvk_number: str,
        last_name: str,
        first_names: str | None = None,
        *,
        date: str | dt.date | None = None,
    ) -> OfficerRecord:
        """An officer leaves: listed with ``datumEinde`` when a date is given, else gone.

        Args:
            kvk_number: The registration.
            last_name: The officer's last name (or a legal person's name), any case.
            first_names: Also their first names, where two share a last name.
            date: The end date; without one the officer is no longer listed at all.

        Returns:
            The officer as served before.

        Raises:
            KeyError: When the registration or a current officer of that name is not found.
        """
        with self.register.lock:
            current = self.officers(kvk_number)
            found = next(
                (o for o in current if o.end_date is None and o.matches(last_name, first_names)),
                None,
            )
            if found is None:
                raise KeyError(f"{kvk_number} has no current officer {last_name!r}")
            kept = [o for o in current if o is not found]
            if date is not None:
                kept.append(attrs.evolve(found, end_date=as_kvk_date(date)))
            self.set_officers(kvk_number, kept)
        return found

    def _registered(self, kvk_number: str) -> Company:
        company = self.register.get(kvk_number)
        if company is None:
            raise KeyError(kvk_number)
        return company

    def _changes(self) -> dict[str, tuple[OfficerRecord, ...]]:
        if self._changed_officers is None:
            self._changed_officers = {}
        return self._changed_officers

    def _officers_changed(self, kvk_number: str) -> None:
        """Record the Mutatieservice signal of a change of officers.

        Assumption (KvK's FAQ: the Officers block always shows, with a J/N
        indicator): one ``SignaalGewijzigdeInschrijving`` whose ``functionarissen``
        block says ``J`` and whose other blocks say ``N``.
        """
        changed = {
            "maOnderneming": {"indicatieGewijzigd": "N"},
            "eigenaar": {"indicatieGewijzigd": "N"},
            "functionarissen": {"indicatieGewijzigd": "J"},
        }
        company = self.register.get(kvk_number)
        self.signals.add(
            "SignaalGewijzigdeInschrijving", kvk_number, company=company, changed=changed
        )

    def _functionarissen(self, call: _Call, identifier: str) -> dict[str, Any]:
        # Imported here: _kvk imports this module.
        from ._kvk import _invalid_kvk_number, _put_links, _unknown_company

        if not _KVK_NUMBER.fullmatch(identifier):
            raise _invalid_kvk_number(identifier)
        try:
            records = self.officers(identifier)
        except KeyError:
            raise _unknown_company(identifier) from None
        body = render_officers(identifier, records, self.officer_fields)
        _put_links(body, call, [("self", call.link(f"/{OFFICERS_PATH}/{identifier}"))])
        return body
