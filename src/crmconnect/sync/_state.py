"""`SqliteStateStore`: the engine's memory between runs, in one SQLite file.

It keeps the links (host ID ↔ remote ID and number, per service and role, with
the field values of both sides at the last sync), the bookmarks, the intents
of remote writes not yet finished, and the run history. Every method is one
transaction. The file is in WAL mode and writes take the lock up front
(``BEGIN IMMEDIATE``), so two processes may open the same file: a writer
waits for the other (up to ``busy_timeout``) instead of failing half-way.
Commits are synced to disk (``synchronous=FULL``): an intent that was
recorded survives a crash of the process and of the machine.

The tables carry a ``sync_`` prefix, so the store may share a file with a
host's own tables (`crmconnect.contrib.sqlite_crm` or your own).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, Self

from ..errors import ConfigurationError, SyncError, ValidationError
from ._protocols import FieldValues, Intent, Link, Role, RunRecord

__all__ = ["SCHEMA_VERSION", "SqliteStateStore"]

SCHEMA_VERSION: Final = 3
"""The version of the tables this code writes (kept in ``sync_schema_version``)."""

_SCHEMA: Final = (
    "CREATE TABLE sync_schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE sync_links (
        service TEXT NOT NULL,
        role TEXT NOT NULL,
        host_id TEXT NOT NULL,
        remote_id TEXT,
        number TEXT NOT NULL,
        host_values TEXT NOT NULL,
        remote_values TEXT NOT NULL,
        synced_at TEXT NOT NULL,
        remote_digest TEXT,
        PRIMARY KEY (service, role, host_id)
    )""",
    # One remote record is linked to one host record at most.
    """CREATE UNIQUE INDEX sync_links_remote ON sync_links (service, role, remote_id)
        WHERE remote_id IS NOT NULL""",
    "CREATE TABLE sync_bookmarks (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # AUTOINCREMENT: the ID of a finished intent is never given to a new one.
    """CREATE TABLE sync_intents (
        intent_id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        host_id TEXT,
        role TEXT,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE sync_runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        flow TEXT NOT NULL,
        started TEXT NOT NULL,
        ended TEXT,
        status TEXT NOT NULL,
        counts TEXT NOT NULL,
        failures TEXT NOT NULL
    )""",
    "CREATE INDEX sync_runs_started ON sync_runs (started)",
)

_MARKS_AND_LEASE: Final = (
    # Keyed marks: (kind, key) -> value, e.g. ("retry", "digitalefactuur/42") -> "".
    """CREATE TABLE sync_marks (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    ) WITHOUT ROWID""",
    # At most one row: the run that holds the store, until it releases or ``expires``.
    """CREATE TABLE sync_lease (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires TEXT NOT NULL
    )""",
)

_MIGRATIONS: Final[Mapping[int, Sequence[str]]] = {
    1: (
        *_MARKS_AND_LEASE,
        # Version 1 kept marks in bookmarks: removal marks, retry sets, payment states.
        """INSERT INTO sync_marks (kind, key, value)
            SELECT 'removed', substr(name, 9), value FROM sync_bookmarks
            WHERE name LIKE 'removed/%'""",
        """INSERT INTO sync_marks (kind, key, value)
            SELECT 'payment', substr(name, 9), value FROM sync_bookmarks
            WHERE name LIKE 'payment/%'""",
        """INSERT OR IGNORE INTO sync_marks (kind, key, value)
            SELECT 'retry', substr(b.name, 7) || '/' || j.value, '' FROM sync_bookmarks b,
            json_each(b.value) j WHERE b.name LIKE 'retry/%' AND json_valid(b.value)""",
        """DELETE FROM sync_bookmarks
            WHERE name LIKE 'removed/%' OR name LIKE 'payment/%' OR name LIKE 'retry/%'""",
    ),
    # Version 3: the digest of the remote record as listed when it held remote_values.
    2: ("ALTER TABLE sync_links ADD COLUMN remote_digest TEXT",),
}
"""Statements that bring the tables from version ``n`` to ``n + 1``."""

_LEASE: Final = "runs"

RUNNING: Final = "running"
ABANDONED: Final = "abandoned"
END_STATUSES: Final = frozenset({"ok", "failed", ABANDONED})
"""What `SqliteStateStore.end_run` accepts."""

_LINK_COLUMNS: Final = (
    "host_id, service, role, remote_id, number, host_values, remote_values, synced_at,"
    " remote_digest"
)
_INTENT_COLUMNS: Final = "intent_id, service, kind, key, host_id, role, created_at"
_RUN_COLUMNS: Final = "run_id, flow, started, ended, status, counts, failures"


class SqliteStateStore:
    """The default `StateStore`: links, bookmarks, intents and runs in a SQLite file.

    Every method is one transaction: a process killed at any point leaves
    each write whole or absent. ``finish_intent`` drops the intent and saves
    the link it made in the same transaction, so after a crash there is
    either the intent (look the record up by number) or the link, never
    neither. Safe to share between threads and between processes.

    Example:
        ```python
        from crmconnect.sync import Role, SqliteStateStore

        with SqliteStateStore(":memory:") as state:
            intent = state.add_intent("digitalefactuur", "create_relation", "1001",
                                      host_id="42", role=Role.DEBTOR)
            print([i.key for i in state.intents("digitalefactuur")])
        # ['1001']
        ```

    Args:
        path: The file (created when missing), or ``":memory:"`` for a store
            that lives as long as the object (tests, dry runs).
        busy_timeout: Seconds to wait for another process's write before
            giving up with a `SyncError`.

    Raises:
        ConfigurationError: The file cannot be opened, is not a SQLite
            database, or was written by a newer crmconnect (schema version).
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self._name = os.fspath(path)
        self._lock = threading.RLock()
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self._name, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open the state store {self._name!r}: {exc}") from exc
        try:
            self._prepare(self._db)
        except BaseException:
            self.close()
            raise

    @property
    def path(self) -> str:
        """The file the store lives in (``":memory:"`` for an in-memory store)."""
        return self._name

    def __repr__(self) -> str:
        state = "closed" if self._db is None else "open"
        return f"SqliteStateStore({self._name!r}, {state})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (again is harmless); using the store afterwards raises."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- links ---------------------------------------------------------------------------

    def link(self, host_id: str, service: str, role: Role) -> Link | None:
        """The link of a host record in a service and role, or ``None``."""
        with self._transaction(write=False) as db:
            row = db.execute(
                f"SELECT {_LINK_COLUMNS} FROM sync_links"
                " WHERE service = ? AND role = ? AND host_id = ?",
                (service, _role(role), host_id),
            ).fetchone()
        return None if row is None else _link(row)

    def link_by_remote(self, service: str, role: Role, remote_id: str) -> Link | None:
        """The link of a remote record, or ``None``."""
        with self._transaction(write=False) as db:
            row = db.execute(
                f"SELECT {_LINK_COLUMNS} FROM sync_links"
                " WHERE service = ? AND role = ? AND remote_id = ?",
                (service, _role(role), remote_id),
            ).fetchone()
        return None if row is None else _link(row)

    def links(self, service: str) -> list[Link]:
        """Every link of a service, by role and host ID."""
        with self._transaction(write=False) as db:
            rows = db.execute(
                f"SELECT {_LINK_COLUMNS} FROM sync_links WHERE service = ? ORDER BY role, host_id",
                (service,),
            ).fetchall()
        return [_link(row) for row in rows]

    def save_link(self, link: Link) -> None:
        """Insert or replace a link (keyed by host ID, service and role).

        ``synced_at`` is stored as given, or as now when it is ``None``.

        Raises:
            ValidationError: A value is not text or ``None``, ``synced_at``
                has no time zone, or the remote record is already linked to
                another host record.
        """
        with self._transaction(write=True) as db:
            _save_link(db, link)

    def set_remote_digests(self, digests: Sequence[tuple[Link, str]]) -> None:
        """Store each link's `Link.remote_digest`, in one transaction.

        Only where the stored link is still the one given (same remote ID and
        ``synced_at``): a link written since keeps what was written with it.
        """
        rows = [
            (
                _require_text("digest", digest),
                link.service,
                _role(link.role),
                link.host_id,
                link.remote_id,
                _stamp("synced_at", link.synced_at) if link.synced_at else None,
            )
            for link, digest in digests
        ]
        with self._transaction(write=True) as db:
            db.executemany(
                "UPDATE sync_links SET remote_digest = ?"
                " WHERE service = ? AND role = ? AND host_id = ? AND remote_id IS ?"
                " AND synced_at = ?",
                rows,
            )

    def remove_link(self, host_id: str, service: str, role: Role) -> None:
        """Forget a link (nothing happens when there is none)."""
        with self._transaction(write=True) as db:
            db.execute(
                "DELETE FROM sync_links WHERE service = ? AND role = ? AND host_id = ?",
                (service, _role(role), host_id),
            )

    # -- bookmarks -----------------------------------------------------------------------

    def bookmark(self, name: str) -> str | None:
        """A stored bookmark (e.g. the host's change cursor), or ``None``."""
        with self._transaction(write=False) as db:
            row = db.execute("SELECT value FROM sync_bookmarks WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_bookmark(self, name: str, value: str) -> None:
        """Store a bookmark, replacing the one of that name."""
        if not isinstance(value, str):
            raise ValidationError("value", value, "a text")
        with self._transaction(write=True) as db:
            db.execute(
                "INSERT INTO sync_bookmarks (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (_require_text("name", name), value),
            )

    # -- marks ---------------------------------------------------------------------------

    def mark(self, kind: str, key: str) -> str | None:
        """The value stored under ``(kind, key)``, or ``None``."""
        with self._transaction(write=False) as db:
            row = db.execute(
                "SELECT value FROM sync_marks WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else str(row[0])

    def marks(self, kind: str, prefix: str = "") -> dict[str, str]:
        """Every mark of a kind whose key starts with ``prefix``, by key."""
        with self._transaction(write=False) as db:
            rows = db.execute(
                "SELECT key, value FROM sync_marks WHERE kind = ? AND substr(key, 1, ?) = ?"
                " ORDER BY key",
                (kind, len(prefix), prefix),
            ).fetchall()
        return {str(key): str(value) for key, value in rows}

    def set_marks(self, kind: str, values: Mapping[str, str | None]) -> None:
        """Store marks of a kind, all in one transaction; a ``None`` value removes one.

        Raises:
            ValidationError: ``kind`` or a key is empty, or a value is not a text or ``None``.
        """
        rows = []
        for key, value in values.items():
            if value is not None and not isinstance(value, str):
                raise ValidationError(f"marks.{key}", value, "a text or None")
            rows.append((_require_text("key", key), value))
        kind = _require_text("kind", kind)
        with self._transaction(write=True) as db:
            for key, value in rows:
                if value is None:
                    db.execute("DELETE FROM sync_marks WHERE kind = ? AND key = ?", (kind, key))
                else:
                    db.execute(
                        "INSERT INTO sync_marks (kind, key, value) VALUES (?, ?, ?)"
                        " ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                        (kind, key, value),
                    )

    def set_mark(self, kind: str, key: str, value: str | None) -> None:
        """Store one mark; ``None`` removes it (see `set_marks`)."""
        self.set_marks(kind, {key: value})

    # -- the lease -----------------------------------------------------------------------

    def acquire_lease(self, owner: str, ttl: dt.timedelta) -> bool:
        """Hold the store for ``ttl`` (one run at a time); ``False`` when another holds it.

        Free, expired, or held by ``owner`` already (then it is renewed): taken.
        A process killed while holding it blocks others until it expires.
        """
        if not isinstance(ttl, dt.timedelta) or ttl <= dt.timedelta(0):
            raise ValidationError("ttl", ttl, "a positive timedelta")
        owner = _require_text("owner", owner)
        now = _now()
        with self._transaction(write=True) as db:
            row = db.execute(
                "SELECT owner, expires FROM sync_lease WHERE name = ?", (_LEASE,)
            ).fetchone()
            if row is not None and row[0] != owner and row[1] > _stamp("now", now):
                return False
            db.execute(
                "INSERT INTO sync_lease (name, owner, expires) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                " expires = excluded.expires",
                (_LEASE, owner, _stamp("expires", now + ttl)),
            )
        return True

    def lease_holder(self) -> str | None:
        """The owner of the unexpired lease, or ``None`` when the store is free."""
        with self._transaction(write=False) as db:
            row = db.execute(
                "SELECT owner FROM sync_lease WHERE name = ? AND expires > ?",
                (_LEASE, _stamp("now", _now())),
            ).fetchone()
        return None if row is None else str(row[0])

    def release_lease(self, owner: str) -> None:
        """Give the store free again (nothing happens unless ``owner`` holds it)."""
        with self._transaction(write=True) as db:
            db.execute("DELETE FROM sync_lease WHERE name = ? AND owner = ?", (_LEASE, owner))

    # -- intents -------------------------------------------------------------------------

    def add_intent(
        self, service: str, kind: str, key: str, *, host_id: str | None, role: Role | None
    ) -> Intent:
        """Record that a write is about to be sent; committed before this returns.

        Raises:
            ValidationError: ``service``, ``kind`` or ``key`` is empty, ``host_id``
                is empty or not a text, or ``role`` is not a `Role`.
        """
        values = (
            _require_text("service", service),
            _require_text("kind", kind),
            _require_text("key", key),
            None if host_id is None else _require_text("host_id", host_id),
            None if role is None else _role(role),
        )
        created_at = _now()
        with self._transaction(write=True) as db:
            cursor = db.execute(
                "INSERT INTO sync_intents (service, kind, key, host_id, role, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (*values, _stamp("created_at", created_at)),
            )
        assert cursor.lastrowid is not None  # an INSERT into a rowid table sets it
        return Intent(
            cursor.lastrowid,
            service,
            kind,
            key,
            host_id,
            None if role is None else Role(role),
            created_at,
        )

    def intents(self, service: str) -> list[Intent]:
        """Unfinished intents of a service, oldest first."""
        with self._transaction(write=False) as db:
            rows = db.execute(
                f"SELECT {_INTENT_COLUMNS} FROM sync_intents WHERE service = ? ORDER BY intent_id",
                (service,),
            ).fetchall()
        return [_intent(row) for row in rows]

    def finish_intent(self, intent_id: int, link: Link | None = None) -> None:
        """Drop a finished intent and, in the same transaction, save the link it made.

        Raises:
            ValidationError: There is no unfinished intent with this ID
                (finished already, by this or another process), or the link
                is refused as by `save_link`. Nothing is written then.
        """
        with self._transaction(write=True) as db:
            dropped = db.execute("DELETE FROM sync_intents WHERE intent_id = ?", (intent_id,))
            if dropped.rowcount == 0:
                raise ValidationError("intent_id", intent_id, "no unfinished intent has this ID")
            if link is not None:
                _save_link(db, link)

    # -- runs ----------------------------------------------------------------------------

    def start_run(self, flow: str) -> RunRecord:
        """Record a run as started; earlier runs still marked running become abandoned.

        A run that was alive after all (another process) still records its
        real end with `end_run`.
        """
        started = _now()
        row = (_require_text("flow", flow), _stamp("started", started), RUNNING)
        with self._transaction(write=True) as db:
            db.execute("UPDATE sync_runs SET status = ? WHERE status = ?", (ABANDONED, RUNNING))
            cursor = db.execute(
                "INSERT INTO sync_runs (flow, started, ended, status, counts, failures)"
                " VALUES (?, ?, NULL, ?, '{}', '[]')",
                row,
            )
        assert cursor.lastrowid is not None  # an INSERT into a rowid table sets it
        return RunRecord(cursor.lastrowid, flow, started, None, RUNNING)

    def end_run(
        self,
        run_id: int,
        status: str,
        counts: Mapping[str, int],
        failures: Sequence[tuple[str, str]],
    ) -> None:
        """Record how a run ended.

        Args:
            run_id: The ID `start_run` gave.
            status: ``"ok"``, ``"failed"`` or ``"abandoned"``.
            counts: Records per action (a `SyncReport`'s ``counts``).
            failures: ``(record key, reason)`` per failed record.

        Raises:
            ValidationError: An unknown run, status, or a count that is not an integer.
        """
        if status not in END_STATUSES:
            raise ValidationError("status", status, f"one of {sorted(END_STATUSES)}")
        row = (
            _stamp("ended", _now()),
            status,
            _counts_json(counts),
            _failures_json(failures),
            run_id,
        )
        with self._transaction(write=True) as db:
            updated = db.execute(
                "UPDATE sync_runs SET ended = ?, status = ?, counts = ?, failures = ?"
                " WHERE run_id = ?",
                row,
            )
            if updated.rowcount == 0:
                raise ValidationError("run_id", run_id, "no run has this ID")

    def runs(self, since: dt.datetime | None = None) -> list[RunRecord]:
        """Run history, oldest first; only runs started at or after ``since`` when given."""
        query = f"SELECT {_RUN_COLUMNS} FROM sync_runs"
        params: tuple[str, ...] = ()
        if since is not None:
            query += " WHERE started >= ?"
            params = (_stamp("since", since),)
        with self._transaction(write=False) as db:
            rows = db.execute(query + " ORDER BY run_id", params).fetchall()
        return [_run(row) for row in rows]

    # -- plumbing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction: a write takes the lock first, a read is one statement."""
        with self._lock:
            db = self._db
            if db is None:
                raise SyncError(f"the state store {self._name!r} is closed")
            try:
                if write:
                    db.execute("BEGIN IMMEDIATE")
                yield db
                if write:
                    db.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(db)
                raise SyncError(f"state store {self._name!r}: {exc}") from exc
            except BaseException:
                _rollback(db)
                raise

    def _prepare(self, db: sqlite3.Connection) -> None:
        """WAL mode, and the tables at the version this code knows."""
        try:
            if self._name != ":memory:":
                # Persistent for the file; readers then never block the writer.
                db.execute("PRAGMA journal_mode = WAL").fetchone()
            db.execute("PRAGMA synchronous = FULL")
            db.execute("BEGIN IMMEDIATE")
            try:
                _create_or_upgrade(db, self._name)
            except BaseException:
                _rollback(db)
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ConfigurationError(
                f"{self._name!r} cannot be used as a state store: {exc}"
            ) from exc


def _create_or_upgrade(db: sqlite3.Connection, name: str) -> None:
    found = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sync_schema_version'"
    ).fetchone()
    if found is None:
        for statement in (*_SCHEMA, *_MARKS_AND_LEASE):
            db.execute(statement)
        db.execute("INSERT INTO sync_schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        return
    row = db.execute("SELECT version FROM sync_schema_version").fetchone()
    version = None if row is None else row[0]
    if not isinstance(version, int) or version < 1:
        raise ConfigurationError(f"{name!r}: the state store's schema version is {version!r}")
    if version > SCHEMA_VERSION:
        raise ConfigurationError(
            f"{name!r} holds a state store of schema version {version}, newer than this"
            f" crmconnect knows ({SCHEMA_VERSION}): upgrade crmconnect to use it"
        )
    for step in range(version, SCHEMA_VERSION):
        for statement in _MIGRATIONS[step]:
            db.execute(statement)
    db.execute("UPDATE sync_schema_version SET version = ?", (SCHEMA_VERSION,))


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        db.execute("ROLLBACK")


def _save_link(db: sqlite3.Connection, link: Link) -> None:
    role = _role(link.role)
    if link.remote_id is not None:
        other = db.execute(
            "SELECT host_id FROM sync_links"
            " WHERE service = ? AND role = ? AND remote_id = ? AND host_id != ?",
            (link.service, role, link.remote_id, link.host_id),
        ).fetchone()
        if other is not None:
            raise ValidationError(
                "remote_id",
                link.remote_id,
                f"this {link.service} {role} is already linked to host record {other[0]!r}",
            )
    db.execute(
        f"INSERT INTO sync_links ({_LINK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (service, role, host_id) DO UPDATE SET remote_id = excluded.remote_id,"
        " number = excluded.number, host_values = excluded.host_values,"
        " remote_values = excluded.remote_values, synced_at = excluded.synced_at,"
        " remote_digest = excluded.remote_digest",
        (
            _require_text("host_id", link.host_id),
            _require_text("service", link.service),
            role,
            link.remote_id,
            _require_text("number", link.number),
            _values_json("host_values", link.host_values),
            _values_json("remote_values", link.remote_values),
            _stamp("synced_at", link.synced_at or _now()),
            link.remote_digest,
        ),
    )


def _link(row: Sequence[Any]) -> Link:
    host_id, service, role, remote_id, number, host_values, remote_values, synced_at, digest = row
    return Link(
        host_id,
        service,
        _ROLES[role],
        remote_id,
        number,
        _JsonValues(host_values),
        _JsonValues(remote_values),
        dt.datetime.fromisoformat(synced_at),
        digest,
    )


_ROLES: Final = {role.value: role for role in Role}


class _JsonValues(Mapping[str, "str | None"]):
    """A link's field values, decoded from their JSON when first used.

    A run reads every link and uses the values of the few whose records
    changed: decoding them all would cost more than the rest of a no-change run.
    """

    __slots__ = ("_decoded", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._decoded: dict[str, str | None] | None = None

    def _values(self) -> dict[str, str | None]:
        if self._decoded is None:
            self._decoded = json.loads(self._text)
        return self._decoded

    def __getitem__(self, name: str) -> str | None:
        return self._values()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return self._values() == dict(other)

    __hash__ = None  # type: ignore[assignment]  # a mapping: unhashable, as a dict

    def __repr__(self) -> str:
        return repr(self._values())


def _intent(row: Sequence[Any]) -> Intent:
    intent_id, service, kind, key, host_id, role, created_at = row
    return Intent(
        intent_id,
        service,
        kind,
        key,
        host_id,
        None if role is None else Role(role),
        dt.datetime.fromisoformat(created_at),
    )


def _run(row: Sequence[Any]) -> RunRecord:
    run_id, flow, started, ended, status, counts, failures = row
    return RunRecord(
        run_id,
        flow,
        dt.datetime.fromisoformat(started),
        None if ended is None else dt.datetime.fromisoformat(ended),
        status,
        json.loads(counts),
        tuple((key, reason) for key, reason in json.loads(failures)),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(field: str, moment: dt.datetime) -> str:
    """UTC, fixed width: stored stamps compare as text in time order."""
    if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
        raise ValidationError(field, moment, "a datetime with a time zone")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _role(role: Role | str) -> str:
    try:
        return Role(role).value
    except ValueError:
        raise ValidationError("role", role, f"one of {[r.value for r in Role]}") from None


def _require_text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(field, value, "a non-empty text")
    return value


def _values_json(field: str, values: FieldValues) -> str:
    for name, value in values.items():
        if not isinstance(name, str):
            raise ValidationError(field, name, "field names are texts")
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"{field}.{name}", value, "a text or None")
    return json.dumps(dict(values), ensure_ascii=False, sort_keys=True)


def _counts_json(counts: Mapping[str, int]) -> str:
    for action, count in counts.items():
        if not isinstance(count, int) or isinstance(count, bool):
            raise ValidationError(f"counts.{action}", count, "a whole number")
    return json.dumps({str(action): count for action, count in counts.items()}, sort_keys=True)


def _failures_json(failures: Sequence[tuple[str, str]]) -> str:
    pairs = [(str(key), str(reason)) for key, reason in failures]
    return json.dumps(pairs, ensure_ascii=False)
