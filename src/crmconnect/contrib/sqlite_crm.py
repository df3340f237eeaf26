"""A small CRM on SQLite that implements `crmconnect.sync.HostCRM`: the reference host.

`SqliteCRM` keeps organisations and persons (with their addresses, contact
details, bank accounts and debtor and creditor numbers), invoices with their
lines, bookings per bookkeeping service, payment states, relations flagged
for review, pending KvK updates with the rejected ones remembered, and the
parties deleted (`delete`, `deleted_parties`, for the engine's
``DeletionTrackingHost``). The demo, the tests and the benchmarks use it; a
host copies it, or the guide "Writing a HostCRM adapter" built on it, to
connect its own CRM.

Only the standard library's `sqlite3` is used. How it is kept:

- A party is stored whole, as the JSON of its canonical model, so
  ``crm.get(crm.add(party))`` equals ``party`` with its new ``id``; the
  columns the engine searches by (kind, debtor and creditor number, change
  counter) are indexed beside it. Debtor and creditor numbers are unique.
- Every write to a party that changes it takes the next value of one change
  counter, in the same transaction. SQLite lets one writer at a time in
  (``BEGIN IMMEDIATE``), so changes commit in counter order, and a bookmark
  (the last counter seen) never skips a change made by another connection or
  process, which a wall-clock "modified since" can (clocks step back, and a
  transaction that started earlier may commit later).
- A deleted party leaves a tombstone (its ID, kind and numbers) with the
  next value of the same counter, so one bookmark covers both changes and
  deletions. Its flags and KvK updates go with it; its invoices, bookings and
  payment states stay (they are bookkeeping history, kept by relation code).
- Every write is one transaction: it happens whole or not at all.
- The schema's version is the file's ``PRAGMA user_version``: opening an
  older file brings it up to date (a file of version 0 gets the tombstone
  table); a file of a newer crmconnect is refused.

Example:
    >>> from crmconnect.contrib.sqlite_crm import SqliteCRM
    >>> from crmconnect.models import Organisation
    >>> with SqliteCRM(":memory:") as crm:
    ...     host_id = crm.add(Organisation(name="Bakkerij Jansen", debtor_number=1001))
    ...     crm.get(host_id).debtor_number
    '1001'
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import os
import sqlite3
import threading
import typing

import attrs
import pydantic_core

from .. import _model, errors, models, sync

if typing.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from types import TracebackType

__all__ = ["SCHEMA_VERSION", "PendingKvkUpdate", "ReviewFlag", "SqliteCRM"]

SCHEMA_VERSION = 1
"""The version of the tables this code writes (the file's ``PRAGMA user_version``).

0: no tombstones (before `SqliteCRM.delete`); 1: ``deleted_parties``.
"""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO counter (name, value) VALUES ('changes', 0)",
    # AUTOINCREMENT: an id is never handed out twice, also after the last party was removed.
    """CREATE TABLE IF NOT EXISTS parties (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('organisation', 'person')),
        debtor_number TEXT UNIQUE,
        creditor_number TEXT UNIQUE,
        change INTEGER NOT NULL,
        data TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS parties_by_change ON parties (change)",
    # A party deleted, under the change counter of its deletion (version 1).
    """CREATE TABLE IF NOT EXISTS deleted_parties (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        debtor_number TEXT,
        creditor_number TEXT,
        change INTEGER NOT NULL,
        deleted_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS deleted_parties_by_change ON deleted_parties (change)",
    """CREATE TABLE IF NOT EXISTS review_flags (
        host_id INTEGER NOT NULL REFERENCES parties (id),
        service TEXT NOT NULL,
        reason TEXT NOT NULL,
        flagged_at TEXT NOT NULL,
        PRIMARY KEY (host_id, service, reason))""",
    """CREATE TABLE IF NOT EXISTS invoices (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        relation_code TEXT NOT NULL,
        number TEXT NOT NULL,
        data TEXT NOT NULL,
        sent INTEGER NOT NULL,
        payment_state TEXT NOT NULL DEFAULT 'open',
        outstanding TEXT,
        UNIQUE (relation_code, number))""",
    "CREATE INDEX IF NOT EXISTS invoices_by_number ON invoices (number)",
    """CREATE TABLE IF NOT EXISTS bookings (
        service TEXT NOT NULL,
        invoice_id INTEGER NOT NULL REFERENCES invoices (id),
        reference TEXT NOT NULL,
        PRIMARY KEY (service, invoice_id))""",
    """CREATE TABLE IF NOT EXISTS kvk_updates (
        host_id INTEGER NOT NULL REFERENCES parties (id),
        field TEXT NOT NULL,
        crm_value TEXT NOT NULL,
        kvk_value TEXT NOT NULL,
        stored_at TEXT NOT NULL,
        PRIMARY KEY (host_id, field))""",
    """CREATE TABLE IF NOT EXISTS kvk_rejections (
        host_id INTEGER NOT NULL REFERENCES parties (id),
        field TEXT NOT NULL,
        kvk_value TEXT NOT NULL,
        PRIMARY KEY (host_id, field))""",
)

_KINDS: dict[str, type[models.Organisation | models.Person]] = {
    "organisation": models.Organisation,
    "person": models.Person,
}

_NUMBER_COLUMNS = {sync.Role.DEBTOR: "debtor_number", sync.Role.CREDITOR: "creditor_number"}


@attrs.frozen
class ReviewFlag:
    """A party marked for a person to look at, e.g. removed in a bookkeeping service.

    Attributes:
        host_id: The party's ID.
        service: Who flagged it (a connector's ``service`` name, ``"kvk"``).
        reason: Why, in plain words.
        flagged_at: When it was flagged (UTC).
    """

    host_id: str
    service: str
    reason: str
    flagged_at: dt.datetime


@attrs.frozen
class PendingKvkUpdate:
    """A field in which the KvK register differs from the CRM, waiting for a person.

    The values are kept as JSON data: an address comes back as a ``dict`` of
    its fields, a date as its ISO text, a number as itself.

    Attributes:
        host_id: The party's ID.
        field: The `crmconnect.models.Organisation` attribute, e.g. ``"visiting_address"``.
        crm_value: What the CRM had when the update was stored.
        kvk_value: What the register says.
        stored_at: When it was stored (UTC).
    """

    host_id: str
    field: str
    crm_value: object
    kvk_value: object
    stored_at: dt.datetime


class SqliteCRM:
    """A small CRM in one SQLite file, implementing `crmconnect.sync.HostCRM`.

    It also tells which parties were deleted (`deleted_parties`), the
    ``DeletionTrackingHost`` protocol the sync engine uses to apply its
    ``on_host_removal`` setting, and which still carry a review flag
    (`flagged_parties`, ``ReviewFlagHost``), so clearing the flag of a relation
    removed remotely lets the engine create it again.

    Safe to share between threads; several instances (in several processes)
    may open one file at once: a write waits for the one before it, up to
    ``timeout`` seconds.

    Args:
        path: The database file, created when missing; ``":memory:"`` for a
            CRM that lives as long as this object.
        timeout: Seconds a write waits for another connection's write to end.

    Attributes:
        path: The database file, as given.

    Raises:
        ConfigurationError: The file was written by a newer crmconnect
            (its schema version is higher than `SCHEMA_VERSION`).

    Example:
        ```python
        with SqliteCRM("crm.sqlite") as crm:
            host_id = crm.add(Organisation(name="Bakkerij Jansen", debtor_number="1001"))
            changed, bookmark = crm.changed_parties(None)
        ```
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")  # readers do not wait for the writer
        try:
            with self._write() as db:
                _migrate(db, self.path)
        except BaseException:
            self._db.close()
            raise

    # --- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteCRM:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteCRM(path={self.path!r})"

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: the database's write lock from the start, all or nothing."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query in it sees the same committed state."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    # --- parties -------------------------------------------------------------------------

    def add(self, party: sync.Party) -> str:
        """Store a new party and return its ID (the ``id`` of ``party`` is ignored).

        Args:
            party: An organisation or a person.

        Returns:
            The host ID, which `get` and every other method take.

        Raises:
            ValidationError: The party breaks a model rule, or its debtor or
                creditor number is another party's.
        """
        with self._write() as db:
            return self._insert(db, party)

    create_party = add
    """`HostCRM.create_party`: the same as `add`."""

    def add_many(self, parties: Iterable[sync.Party]) -> list[str]:
        """Store new parties in one transaction: all of them, or none when one is refused.

        Much faster than `add` one by one for an import (one commit instead of many).

        Returns:
            Their host IDs, in the order given.

        Raises:
            ValidationError: A party breaks a model rule, or its debtor or
                creditor number is another party's (also one of those given).
        """
        with self._write() as db:
            return [self._insert(db, party) for party in parties]

    def _insert(self, db: sqlite3.Connection, party: sync.Party) -> str:
        cursor = db.execute(
            "INSERT INTO parties (kind, change, data) VALUES (?, 0, '')", (_kind(party),)
        )
        host_id = str(cursor.lastrowid)
        self._store(db, party.model_copy(update={"id": host_id}))
        return host_id

    def get(self, host_id: str) -> sync.Party | None:
        """The party with this ID, or ``None``."""
        row = self._db_row("SELECT kind, data FROM parties WHERE id = ?", _row_id(host_id))
        return None if row is None else _party(row[0], row[1])

    party = get
    """`HostCRM.party`: the same as `get`."""

    def save(self, party: sync.Party) -> None:
        """Store a changed party, found by its ``id``.

        Saving a party as it is stored changes nothing, not even the change counter.

        Raises:
            ValidationError: ``party.id`` is not a stored party, the party
                breaks a model rule, or its debtor or creditor number is
                another party's.
        """
        with self._write() as db:
            self._stored_kind(db, party.id)
            self._store(db, party)

    save_party = save
    """`HostCRM.save_party`: the same as `save`."""

    def parties(self) -> list[sync.Party]:
        """Every party, in the order they were added."""
        with self._lock:
            rows = self._db.execute("SELECT kind, data FROM parties ORDER BY id").fetchall()
        return [_party(kind, data) for kind, data in rows]

    def changed_parties(self, bookmark: str | None) -> tuple[list[sync.Party], str]:
        """Parties added or changed after ``bookmark`` (all when ``None``), and the new bookmark.

        The bookmark is the change counter of the last change or deletion
        seen: pass it to the next call to get only what changed since. Call
        `deleted_parties` with the same ``bookmark`` as this call, after it:
        every deletion the new bookmark covers is in that answer.

        Raises:
            ValidationError: ``bookmark`` is not one this CRM gave.
        """
        after = _bookmark(bookmark)
        with self._read() as db:
            _check_not_ahead(db, after, bookmark)
            rows = db.execute(
                "SELECT kind, data, change FROM parties WHERE change > ? ORDER BY change", (after,)
            ).fetchall()
            (deleted,) = db.execute(
                "SELECT max(change) FROM deleted_parties WHERE change > ?", (after,)
            ).fetchone()
        last = max(rows[-1][2] if rows else after, deleted or after)
        return [_party(kind, data) for kind, data, _ in rows], str(last)

    def delete(self, host_id: str) -> None:
        """Delete a party, leaving a tombstone that `deleted_parties` reports.

        Its addresses, contact persons and bank accounts go with it (they are
        part of the party's record), and so do its review flags and its
        pending and rejected KvK updates. Its invoices, bookings and payment
        states stay: they are bookkeeping history, found by relation code, and
        payment states of its booked invoices still come in. Its debtor and
        creditor numbers are free again; a party that takes one over takes
        over the invoices filed under it. An ID is never given out again.

        Raises:
            ValidationError: No party has this ID (field ``id``), also when
                it was deleted before.
        """
        row_id = _row_id(host_id)
        with self._write() as db:
            row = db.execute(
                "SELECT kind, debtor_number, creditor_number FROM parties WHERE id = ?", (row_id,)
            ).fetchone()
            if row is None:
                raise errors.ValidationError("id", host_id, _unknown_party(db, row_id))
            for table in ("review_flags", "kvk_updates", "kvk_rejections"):
                db.execute(f"DELETE FROM {table} WHERE host_id = ?", (row_id,))
            db.execute("DELETE FROM parties WHERE id = ?", (row_id,))
            (change,) = db.execute(
                "UPDATE counter SET value = value + 1 WHERE name = 'changes' RETURNING value"
            ).fetchone()
            db.execute(
                "INSERT INTO deleted_parties VALUES (?, ?, ?, ?, ?, ?)",
                (row_id, *row, change, _now()),
            )

    def deleted_parties(self, bookmark: str | None) -> list[str]:
        """The IDs of parties deleted after ``bookmark`` (all when ``None``), in deletion order.

        ``bookmark`` is one `changed_parties` gave: changes and deletions
        share one counter. Pass the bookmark given to `changed_parties`, not
        the one it returned.

        Raises:
            ValidationError: ``bookmark`` is not one this CRM gave.
        """
        after = _bookmark(bookmark)
        with self._read() as db:
            _check_not_ahead(db, after, bookmark)
            rows = db.execute(
                "SELECT id FROM deleted_parties WHERE change > ? ORDER BY change", (after,)
            ).fetchall()
        return [str(row_id) for (row_id,) in rows]

    def find_by_number(self, role: sync.Role, number: str) -> sync.Party | None:
        """The party whose debtor (or creditor) number is ``number``, or ``None``."""
        column = _NUMBER_COLUMNS[_role(role)]
        with self._lock:
            row = self._db.execute(
                f"SELECT kind, data FROM parties WHERE {column} = ?", (str(number),)
            ).fetchone()
        return None if row is None else _party(row[0], row[1])

    def set_number(self, host_id: str, role: sync.Role, number: str | None) -> None:
        """Set (or, with ``None``, clear) a party's debtor or creditor number.

        Raises:
            ValidationError: No party has this ID, the number breaks the rule
                of relation codes, or it is another party's.
        """
        column = _NUMBER_COLUMNS[_role(role)]
        with self._write() as db:
            kind = self._stored_kind(db, host_id)
            (data,) = db.execute(
                "SELECT data FROM parties WHERE id = ?", (_row_id(host_id),)
            ).fetchone()
            party = _party(kind, data)
            setattr(party, column, number)  # validated: an error names the field
            self._store(db, party)

    def _store(self, db: sqlite3.Connection, party: sync.Party) -> None:
        """Write a party over its row; a real change takes the next change counter."""
        kind = _kind(party)
        checked = _KINDS[kind].model_validate(party.model_dump())
        data = checked.model_dump_json()
        host_id = _row_id(checked.id)
        for role, column in _NUMBER_COLUMNS.items():
            self._check_number_free(db, role, getattr(checked, column), host_id)
        updated = db.execute(
            """UPDATE parties SET kind = ?, debtor_number = ?, creditor_number = ?, data = ?,
                   change = (SELECT value + 1 FROM counter WHERE name = 'changes')
               WHERE id = ? AND data IS NOT ?""",
            (kind, checked.debtor_number, checked.creditor_number, data, host_id, data),
        )
        if updated.rowcount:
            db.execute("UPDATE counter SET value = value + 1 WHERE name = 'changes'")

    @staticmethod
    def _check_number_free(
        db: sqlite3.Connection, role: sync.Role, number: str | None, host_id: int | None
    ) -> None:
        column = _NUMBER_COLUMNS[role]
        holder = db.execute(
            f"SELECT id FROM parties WHERE {column} = ? AND id IS NOT ?", (number, host_id)
        ).fetchone()
        if number is not None and holder is not None:
            raise errors.ValidationError(
                column, number, f"is already the {role.value} number of party {holder[0]}"
            )

    @staticmethod
    def _stored_kind(db: sqlite3.Connection, host_id: str | None) -> str:
        row_id = _row_id(host_id)
        row = db.execute("SELECT kind FROM parties WHERE id = ?", (row_id,)).fetchone()
        if row is None:
            raise errors.ValidationError("id", host_id, _unknown_party(db, row_id))
        return str(row[0])

    def _db_row(self, query: str, *params: object) -> tuple[typing.Any, ...] | None:
        with self._lock:
            row: tuple[typing.Any, ...] | None = self._db.execute(query, params).fetchone()
        return row

    # --- review flags --------------------------------------------------------------------

    def flag_for_review(self, host_id: str, service: str, reason: str) -> None:
        """Mark a party for a person to look at; flagging it again for the same reason is one flag.

        The reason may quote a remote service: control and invisible
        characters (which SQLite's UTF-8 cannot all hold) are removed.

        Raises:
            ValidationError: No party has this ID.
        """
        with self._write() as db:
            self._stored_kind(db, host_id)
            db.execute(
                "INSERT OR REPLACE INTO review_flags VALUES (?, ?, ?, ?)",
                (_row_id(host_id), _model.clean_text(service), _model.clean_text(reason), _now()),
            )

    def review_flags(self, host_id: str | None = None) -> list[ReviewFlag]:
        """The flags of one party, or of every party, oldest first."""
        with self._lock:
            rows = self._db.execute(
                """SELECT host_id, service, reason, flagged_at FROM review_flags
                   WHERE ? IS NULL OR host_id = ? ORDER BY flagged_at, host_id""",
                (host_id, _row_id(host_id)),
            ).fetchall()
        return [
            ReviewFlag(str(host), service, reason, dt.datetime.fromisoformat(flagged))
            for host, service, reason, flagged in rows
        ]

    def flagged_parties(self, service: str) -> list[str]:
        """IDs of parties with a flag of this service (``ReviewFlagHost``).

        The sync engine asks this each run: a relation removed in a service is
        not created there again while its party carries that service's flag,
        and is linked or created again once a person cleared it (`clear_flags`).
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT host_id FROM review_flags WHERE service = ? ORDER BY host_id",
                (service,),
            ).fetchall()
        return [str(host_id) for (host_id,) in rows]

    def clear_flags(self, host_id: str, service: str | None = None) -> int:
        """Remove a party's flags (of one service, or all); returns how many went."""
        with self._write() as db:
            cursor = db.execute(
                "DELETE FROM review_flags WHERE host_id = ? AND (? IS NULL OR service = ?)",
                (_row_id(host_id), service, service),
            )
        return cursor.rowcount

    # --- invoices, bookings and payments -------------------------------------------------

    def add_invoice(self, invoice: models.Invoice, *, sent: bool = True) -> None:
        """Store an invoice; a sent one is to be booked (`invoices_to_book`).

        Its payment state starts as open.

        Args:
            invoice: The invoice; its ``relation_code`` must be the debtor
                number (sales) or creditor number (purchase) of a party.
            sent: Whether the host has sent it; `mark_sent` does it later.

        Raises:
            ValidationError: No party has the relation code in the invoice's
                role, or the relation already has an invoice with this number.
        """
        checked = models.Invoice.model_validate(invoice.model_dump())
        role = sync.Role.DEBTOR if checked.kind is models.InvoiceKind.SALES else sync.Role.CREDITOR
        with self._write() as db:
            column = _NUMBER_COLUMNS[role]
            if not db.execute(
                f"SELECT 1 FROM parties WHERE {column} = ?", (checked.relation_code,)
            ).fetchone():
                raise errors.ValidationError(
                    "relation_code", checked.relation_code, f"is no party's {role.value} number"
                )
            if db.execute(
                "SELECT 1 FROM invoices WHERE relation_code = ? AND number = ?",
                (checked.relation_code, checked.number),
            ).fetchone():
                raise errors.ValidationError(
                    "number", checked.number, f"relation {checked.relation_code} has it already"
                )
            db.execute(
                "INSERT INTO invoices (relation_code, number, data, sent) VALUES (?, ?, ?, ?)",
                (checked.relation_code, checked.number, checked.model_dump_json(), sent),
            )

    def mark_sent(self, invoice_number: str, *, relation_code: str | None = None) -> None:
        """Mark a stored invoice as sent, so it is to be booked.

        Raises:
            ValidationError: No such invoice, or several relations have one
                with this number and ``relation_code`` is not given.
        """
        with self._write() as db:
            invoice_id = _invoice_id(db, invoice_number, relation_code)
            db.execute("UPDATE invoices SET sent = 1 WHERE id = ?", (invoice_id,))

    def invoice(self, invoice_number: str, *, relation_code: str | None = None) -> models.Invoice:
        """A stored invoice.

        Raises:
            ValidationError: No such invoice, or several relations have one
                with this number and ``relation_code`` is not given.
        """
        with self._read() as db:
            invoice_id = _invoice_id(db, invoice_number, relation_code)
            (data,) = db.execute("SELECT data FROM invoices WHERE id = ?", (invoice_id,)).fetchone()
        return models.Invoice.model_validate(json.loads(data))

    def invoices_to_book(self, service: str) -> list[models.Invoice]:
        """Sent invoices not yet booked in this service, in the order they were added."""
        with self._lock:
            rows = self._db.execute(
                """SELECT data FROM invoices WHERE sent AND NOT EXISTS (
                       SELECT 1 FROM bookings WHERE invoice_id = invoices.id AND service = ?)
                   ORDER BY id""",
                (service,),
            ).fetchall()
        return [models.Invoice.model_validate(json.loads(data)) for (data,) in rows]

    def record_booking(self, service: str, booking: sync.RemoteBooking) -> None:
        """Remember that an invoice is booked in this service, with the service's reference.

        Raises:
            ValidationError: The relation has no invoice with this number.
        """
        with self._write() as db:
            invoice_id = _invoice_id(db, booking.invoice_number, booking.relation_code)
            db.execute(
                "INSERT OR REPLACE INTO bookings (service, invoice_id, reference) VALUES (?, ?, ?)",
                (service, invoice_id, booking.reference),
            )

    def booking_reference(
        self, service: str, invoice_number: str, *, relation_code: str | None = None
    ) -> str | None:
        """The service's reference of an invoice's booking, or ``None`` while not booked there.

        Raises:
            ValidationError: No such invoice, or several relations have one
                with this number and ``relation_code`` is not given.
        """
        with self._read() as db:
            invoice_id = _invoice_id(db, invoice_number, relation_code)
            row = db.execute(
                "SELECT reference FROM bookings WHERE service = ? AND invoice_id = ?",
                (service, invoice_id),
            ).fetchone()
        return None if row is None else str(row[0])

    def open_invoices(self, service: str) -> list[tuple[str, str]]:
        """``(relation code, invoice number)`` of invoices booked in this service and not paid."""
        with self._lock:
            rows = self._db.execute(
                """SELECT relation_code, number FROM invoices
                   JOIN bookings ON bookings.invoice_id = invoices.id AND bookings.service = ?
                   WHERE payment_state != ? ORDER BY invoices.id""",
                (service, sync.PaymentState.PAID.value),
            ).fetchall()
        return [(str(code), str(number)) for code, number in rows]

    def record_payment(self, service: str, payment: sync.RemotePayment) -> None:
        """Store an invoice's payment state and what is still to be paid.

        The invoice is found by relation code and number. A state the service
        could not read (`PaymentState.UNKNOWN`) leaves the stored one as it is.
        The host keeps one state per invoice, whichever service reported it.

        Raises:
            ValidationError: The relation has no invoice with this number.
        """
        with self._write() as db:
            invoice_id = _invoice_id(db, payment.invoice_number, payment.relation_code)
            if payment.state is sync.PaymentState.UNKNOWN:
                return
            outstanding = None if payment.outstanding is None else str(payment.outstanding)
            db.execute(
                "UPDATE invoices SET payment_state = ?, outstanding = ? WHERE id = ?",
                (payment.state.value, outstanding, invoice_id),
            )

    def payment_state(
        self, invoice_number: str, *, relation_code: str | None = None
    ) -> sync.PaymentState:
        """``"open"``, ``"partly_paid"`` or ``"paid"`` (a `PaymentState`, which is a ``str``).

        Raises:
            ValidationError: No such invoice, or several relations have one
                with this number and ``relation_code`` is not given.
        """
        state, _ = self._payment(invoice_number, relation_code)
        return sync.PaymentState(state)

    def outstanding(
        self, invoice_number: str, *, relation_code: str | None = None
    ) -> decimal.Decimal | None:
        """What is still to be paid on an invoice, as the service last reported it.

        ``None`` until a service reported it.

        Raises:
            ValidationError: No such invoice, or several relations have one
                with this number and ``relation_code`` is not given.
        """
        _, outstanding = self._payment(invoice_number, relation_code)
        return None if outstanding is None else decimal.Decimal(outstanding)

    def _payment(self, invoice_number: str, relation_code: str | None) -> tuple[str, str | None]:
        with self._read() as db:
            invoice_id = _invoice_id(db, invoice_number, relation_code)
            state, outstanding = db.execute(
                "SELECT payment_state, outstanding FROM invoices WHERE id = ?", (invoice_id,)
            ).fetchone()
        return str(state), outstanding

    # --- KvK updates ---------------------------------------------------------------------

    def store_kvk_update(
        self, host_id: str, field: str, crm_value: object, kvk_value: object
    ) -> bool:
        """Store a field the KvK register has otherwise, for a person to accept or reject.

        A newer update of the same field replaces the pending one; the same
        value again keeps the pending one as it is (only its CRM value is
        brought up to date), so a daily check does not propose it anew. A value
        the person rejected is not stored again; once the register's value
        changes, the rejection is forgotten and the new value is stored.

        Args:
            host_id: The party's ID.
            field: The `crmconnect.models.Organisation` attribute, e.g. ``"rsin"``.
            crm_value: What the CRM has (any value the models hold: text,
                numbers, dates, an `crmconnect.models.Address`, lists).
            kvk_value: What the register says.

        Returns:
            ``True`` for a new proposal; ``False`` when this very value is pending
            already, or the person rejected it before (nothing new stored).

        Raises:
            ValidationError: No party has this ID.
        """
        kvk_json = _json(kvk_value)
        with self._write() as db:
            self._stored_kind(db, host_id)
            key = (_row_id(host_id), field)
            rejected = db.execute(
                "SELECT kvk_value FROM kvk_rejections WHERE host_id = ? AND field = ?", key
            ).fetchone()
            if rejected is not None and rejected[0] == kvk_json:
                return False
            pending = db.execute(
                "UPDATE kvk_updates SET crm_value = ? WHERE host_id = ? AND field = ? "
                "AND kvk_value = ?",
                (_json(crm_value), *key, kvk_json),
            )
            if pending.rowcount:
                return False
            db.execute("DELETE FROM kvk_rejections WHERE host_id = ? AND field = ?", key)
            db.execute(
                "INSERT OR REPLACE INTO kvk_updates VALUES (?, ?, ?, ?, ?)",
                (*key, _json(crm_value), kvk_json, _now()),
            )
        return True

    def pending_kvk_updates(self, host_id: str | None = None) -> list[PendingKvkUpdate]:
        """The updates waiting for a person, of one party or of all, by party and field."""
        with self._lock:
            rows = self._db.execute(
                """SELECT host_id, field, crm_value, kvk_value, stored_at FROM kvk_updates
                   WHERE ? IS NULL OR host_id = ? ORDER BY host_id, field""",
                (host_id, _row_id(host_id)),
            ).fetchall()
        return [
            PendingKvkUpdate(
                str(host),
                field,
                json.loads(crm),
                json.loads(kvk),
                dt.datetime.fromisoformat(stored),
            )
            for host, field, crm, kvk, stored in rows
        ]

    def accept_kvk_update(self, host_id: str, field: str) -> PendingKvkUpdate:
        """Apply a pending update to the party and take it off the list, in one transaction.

        The party takes the register's value (`crmconnect.kvk.apply_kvk_update`)
        and counts as changed, so the sync engine sends it on. Accepting a
        removal (field ``"registration"``) only takes it off the list.

        Returns:
            The update applied.

        Raises:
            ValidationError: No update of this field is pending for the party,
                or the party is not an organisation or refuses the value (then
                it stays pending).
        """
        with self._write() as db:
            update = self._take_kvk_update(db, host_id, field)
            kind, data = db.execute(
                "SELECT kind, data FROM parties WHERE id = ?", (_row_id(host_id),)
            ).fetchone()
            party = _party(kind, data)
            if not isinstance(party, models.Organisation):
                raise errors.ValidationError("host_id", host_id, "is not an organisation")
            from ..kvk import apply_kvk_update  # here: crmconnect.kvk loads httpx

            self._store(db, apply_kvk_update(party, field, update.kvk_value))
        return update

    def reject_kvk_update(self, host_id: str, field: str) -> None:
        """Take a pending update off the list and remember its value as rejected.

        The same value is not stored again (`store_kvk_update`) until the
        register's value changes.

        Raises:
            ValidationError: No update of this field is pending for the party.
        """
        with self._write() as db:
            update = self._take_kvk_update(db, host_id, field)
            db.execute(
                "INSERT OR REPLACE INTO kvk_rejections VALUES (?, ?, ?)",
                (_row_id(host_id), field, _json(update.kvk_value)),
            )

    def is_rejected(self, host_id: str, field: str, kvk_value: object) -> bool:
        """Whether a person rejected this register value of the field (and it has not changed)."""
        row = self._db_row(
            "SELECT kvk_value FROM kvk_rejections WHERE host_id = ? AND field = ?",
            _row_id(host_id),
            field,
        )
        return row is not None and row[0] == _json(kvk_value)

    @staticmethod
    def _take_kvk_update(db: sqlite3.Connection, host_id: str, field: str) -> PendingKvkUpdate:
        row = db.execute(
            """DELETE FROM kvk_updates WHERE host_id = ? AND field = ?
               RETURNING host_id, crm_value, kvk_value, stored_at""",
            (_row_id(host_id), field),
        ).fetchone()
        if row is None:
            reason = f"no KvK update of this field is pending for party {host_id}"
            raise errors.ValidationError("field", field, reason)
        host, crm, kvk, stored = row
        return PendingKvkUpdate(
            str(host), field, json.loads(crm), json.loads(kvk), dt.datetime.fromisoformat(stored)
        )


def _migrate(db: sqlite3.Connection, path: str) -> None:
    """Create the tables, or bring a file of an older schema version up to `SCHEMA_VERSION`.

    Every statement is ``IF NOT EXISTS``: a version 0 file gains the tombstone
    table and keeps everything else.
    """
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise errors.ConfigurationError(
            f"{path!r} is a SqliteCRM of schema version {version}, newer than this "
            f"crmconnect's ({SCHEMA_VERSION}): upgrade crmconnect to open it"
        )
    for statement in _SCHEMA:
        db.execute(statement)
    if version < SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check_not_ahead(db: sqlite3.Connection, after: int, bookmark: str | None) -> None:
    (current,) = db.execute("SELECT value FROM counter WHERE name = 'changes'").fetchone()
    if after > current:
        # E.g. the engine's state belongs to another database: "after 10" would miss 1..10.
        raise errors.ValidationError(
            "bookmark", bookmark, f"is ahead of this CRM's last change ({current})"
        )


def _unknown_party(db: sqlite3.Connection, row_id: int | None) -> str:
    """Why an ID names no party: deleted, or never one of ours."""
    if db.execute("SELECT 1 FROM deleted_parties WHERE id = ?", (row_id,)).fetchone():
        return "is the ID of a party deleted from this CRM"
    return "is not the ID of a party in this CRM"


def _kind(party: object) -> str:
    if isinstance(party, models.Organisation):
        return "organisation"
    if isinstance(party, models.Person):
        return "person"
    raise errors.ValidationError("party", type(party).__name__, "is not an Organisation or Person")


def _row_id(host_id: object) -> int | None:
    """The row of a host ID; ``None`` (matching no row) for text that is not one of ours."""
    if isinstance(host_id, str) and host_id.isascii() and host_id.isdigit():
        return int(host_id)
    return None


def _party(kind: str, data: str) -> sync.Party:
    return _KINDS[kind].model_validate(json.loads(data))


def _role(role: object) -> sync.Role:
    try:
        return sync.Role(str(role))
    except ValueError:
        reason = f"is not a role ({', '.join(r.value for r in sync.Role)})"
    raise errors.ValidationError("role", role, reason)


def _bookmark(bookmark: str | None) -> int:
    if bookmark is None:
        return 0
    if not (isinstance(bookmark, str) and bookmark.isascii() and bookmark.isdigit()):
        raise errors.ValidationError("bookmark", bookmark, "is not a bookmark this CRM gave")
    return int(bookmark)


def _invoice_id(db: sqlite3.Connection, number: str, relation_code: str | None) -> int:
    """The row of an invoice by number, and by relation code where several relations have it."""
    rows = db.execute(
        """SELECT id, relation_code FROM invoices
           WHERE number = ? AND (? IS NULL OR relation_code = ?)""",
        (number, relation_code, relation_code),
    ).fetchall()
    if len(rows) == 1:
        return int(rows[0][0])
    if rows:
        codes = ", ".join(sorted(str(code) for _, code in rows))
        reason = f"relations {codes} each have an invoice with this number: give the relation code"
    elif relation_code is None:
        reason = "no invoice has this number"
    else:
        reason = f"relation {relation_code} has no invoice with this number"
    raise errors.ValidationError("invoice_number", number, reason)


def _json(value: object) -> str:
    """A value as canonical JSON (sorted keys), so equal values give equal texts.

    ASCII only: a lone surrogate in a register's text is kept as an escape
    instead of failing SQLite's UTF-8 encoding.
    """
    data = pydantic_core.to_jsonable_python(value)
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()
