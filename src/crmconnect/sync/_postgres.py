"""`PostgresStateStore`: the engine's state for many tenants in one PostgreSQL database.

The same `StateStore` as `SqliteStateStore` (links, bookmarks, marks, intents,
runs), with every row keyed by tenant and connection, so one database serves
every administration a CRM vendor runs. What differs:

- the tables are made by ``crmconnect state upgrade --dsn DSN`` (`_pg_schema`),
  never by a store: one on a missing, older or newer schema refuses to run;
- the lease is a session-level advisory lock on a 64-bit key of (tenant,
  connection), held on one connection for the whole run; PostgreSQL drops it
  when that session ends, so a killed worker blocks nobody;
- runs carry the tenant, connection and worker, and their start and end
  come from the database clock, so runs of one tenant on several machines
  compare.

psycopg is imported only when a store is made: ``import crmconnect.sync``
works without the ``postgres`` extra.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self, TypeAlias

import attrs

from ..errors import (
    ConfigurationError,
    ConnectError,
    CrmConnectError,
    SyncBusyError,
    SyncError,
    TransportError,
    ValidationError,
)
from . import _pg_schema
from ._protocols import Intent, Link, Role, RunRecord
from ._state import (
    _ROLES,
    ABANDONED,
    END_STATUSES,
    RUNNING,
    _counts_json,
    _failures_json,
    _JsonValues,
    _require_text,
    _role,
    _values_json,
)

if TYPE_CHECKING:
    import types

    import psycopg
    from psycopg_pool import ConnectionPool

    _Connection: TypeAlias = psycopg.Connection[Any]
    _Cursor: TypeAlias = psycopg.Cursor[Any]

__all__ = ["PostgresStateStore", "TenantOverview"]

_S: Final = _pg_schema.SCHEMA
_EXTRA: Final = "pip install 'crmconnect[postgres]'"
_TABLES: Final = ("links", "bookmarks", "marks", "intents", "runs", "leases")

_LINK_COLUMNS: Final = (
    "host_id, service, role, remote_id, number, host_values, remote_values, synced_at,"
    " remote_digest"
)
_INTENT_COLUMNS: Final = "intent_id, service, kind, key, host_id, role, created_at"
_RUN_COLUMNS: Final = (
    "run_id, flow, started, ended, status, counts, failures, tenant, connection, worker"
)


class _ThisTenant:
    """The default of `PostgresStateStore.runs`: the store's own tenant."""

    def __repr__(self) -> str:
        return "<this store's tenant>"


THIS_TENANT: Final = _ThisTenant()


def _psycopg() -> types.ModuleType:
    """psycopg, or a `ConfigurationError` naming the extra that brings it."""
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(f"the PostgreSQL state store needs psycopg: {_EXTRA}") from None
    return psycopg


def lock_key(tenant: str, connection: str) -> int:
    """The signed 64-bit advisory lock key of a tenant's connection."""
    text = f"{tenant}\x1f{connection}".encode()
    digest = hashlib.blake2b(text, digest_size=8, person=b"crmconnect-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


@attrs.frozen
class TenantOverview:
    """One tenant's runs at a glance (`PostgresStateStore.overview`), for a dashboard.

    Attributes:
        tenant: The tenant.
        runs: Runs started in the period.
        failed_runs: Of those, runs that ended ``failed`` (a record failed, or the run broke off).
        written: Records created or updated (both sides) by those runs.
        failures: Records that failed in those runs (tried again by later runs).
        last_run: When its last run started.
        last_status: Its last run's status (``running``, ``ok``, ``failed``, ``abandoned``).
        last_success: When its last run without failures ended, if any did.
    """

    tenant: str
    runs: int
    failed_runs: int
    written: int
    failures: int
    last_run: dt.datetime
    last_status: str
    last_success: dt.datetime | None


@attrs.frozen
class _Held:
    """The lease this store holds: its owner, until when (monotonic seconds)."""

    owner: str
    expires: float


class _Source:
    """Where a store's connections come from: its own DSN, or the host's pool."""

    def __init__(self, dsn_or_pool: str | ConnectionPool[Any], connect_timeout: float) -> None:
        self.pool: ConnectionPool[Any] | None = None
        self.dsn = ""
        self.secret: str | None = None
        self.connect_timeout = connect_timeout
        if isinstance(dsn_or_pool, str):
            self.dsn = dsn_or_pool
            self.secret = _password(dsn_or_pool)
        elif callable(getattr(dsn_or_pool, "getconn", None)) and callable(
            getattr(dsn_or_pool, "putconn", None)
        ):
            self.pool = dsn_or_pool
        else:
            raise ConfigurationError(
                "the PostgreSQL state store needs a DSN or a psycopg_pool.ConnectionPool,"
                f" not {type(dsn_or_pool).__name__}"
            )

    def get(self) -> _Connection:
        """A connection: borrowed from the pool, or a new one in autocommit mode."""
        psycopg = _psycopg()
        try:
            if self.pool is not None:
                pooled: _Connection = self.pool.getconn()
                return pooled
            conn: _Connection = psycopg.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=max(1, round(self.connect_timeout)),
                application_name="crmconnect",
            )
        except psycopg.OperationalError as exc:
            message = self._scrub(f"cannot connect to PostgreSQL: {exc}")
            raise ConnectError(message, service="postgresql") from None
        return conn

    def put(self, conn: _Connection) -> None:
        """Give a connection back to the pool, or close it."""
        if self.pool is not None:
            self.pool.putconn(conn)
        else:
            conn.close()

    def failure(self, exc: Exception, where: str) -> CrmConnectError:
        """Our error for a psycopg one; the DSN's password never shows."""
        psycopg = _psycopg()
        message = self._scrub(f"{where}: {exc}")
        if isinstance(exc, psycopg.OperationalError):  # lost connection, server shut down
            return TransportError(message, service="postgresql")
        return SyncError(message)

    def _scrub(self, text: str) -> str:
        text = " ".join(text.split())
        return text.replace(self.secret, "***") if self.secret else text


def _password(dsn: str) -> str | None:
    """The DSN's password (to keep it out of messages); refuses a malformed DSN."""
    psycopg = _psycopg()
    try:
        password = psycopg.conninfo.conninfo_to_dict(dsn).get("password")
    except psycopg.Error:
        # libpq's message may quote the DSN, password and all: not shown.
        raise ConfigurationError(
            "the DSN is not a PostgreSQL connection string"
            " (postgresql://user@host:5432/database, or host=... dbname=...)"
        ) from None
    return None if password is None else str(password)


class PostgresStateStore:
    """A `StateStore` for many tenants in one PostgreSQL database (psycopg 3).

    Every row is keyed by ``tenant`` and ``connection`` (what one
    ``setup(tenant)`` of a vendor's resolver returns), and every method is one
    transaction. ``finish_intent`` drops the intent and saves the link in the
    same transaction, as in `SqliteStateStore`: after a crash there is the
    intent or the link, never neither.

    The tables must exist at this code's version: run
    ``crmconnect state upgrade --dsn DSN`` (or `upgrade_schema`) once per
    release, before starting workers. A store never migrates; on a missing,
    older or newer schema its first call raises `ConfigurationError`.

    **The lease** (`acquire_lease`) is a session-level
    ``pg_try_advisory_lock`` on a 64-bit key of (tenant, connection), taken
    on a connection the store keeps until `release_lease` (with a pool, that
    connection is borrowed for the whole run, not per call). A second store of
    the same tenant and connection, in this or any process, cannot take it
    meanwhile; when the holder's process dies PostgreSQL ends its session and
    the lock is free. ``ttl`` counts only inside one store object (another
    owner of the same object may take an expired lease); across sessions the
    lock lasts until released or the session ends. It does not work behind
    PgBouncer in transaction pooling mode (a session lock would stay on a
    server connection other clients get): connect directly, or through
    session pooling.

    **Threads and processes**: making a store does no I/O (the first call
    connects and checks the schema version), so making one per task is
    cheap. One store may be shared by threads: with a DSN its calls take
    turns on its one connection; with a pool each call borrows a connection,
    except while the lease is held, when calls take turns on the lease's
    connection. A store must not cross a ``fork()``: make it in the process
    that uses it (in a Celery prefork worker, per task or per child).

    Example:
        ```python
        from crmconnect.sync import PostgresStateStore, SyncEngine

        dsn = "postgresql://crmconnect@db.internal:5432/crmconnect"
        with PostgresStateStore(dsn, tenant="acme") as state:
            engine = SyncEngine(host, connectors, state=state)
            engine.run()
            print(state.runs()[-1].status)
        # ok
        ```

    Args:
        dsn_or_pool: A libpq connection string (``postgresql://...``; the
            store opens one connection and keeps it until `close`), or a
            ``psycopg_pool.ConnectionPool`` shared by stores.
        tenant: The tenant (a vendor's customer) whose state this is.
        connection: Which of the tenant's connections (``"default"``).
        worker: Recorded with each run (`RunRecord.worker`); by default this
            machine's name and the process ID.
        connect_timeout: Seconds to wait for a new connection (DSN only).

    Raises:
        ConfigurationError: psycopg is not installed, the DSN is malformed,
            or ``tenant`` or ``connection`` is empty.
    """

    SCHEMA_VERSION: ClassVar[int] = _pg_schema.SCHEMA_VERSION
    """The schema version this code reads and writes."""

    def __init__(
        self,
        dsn_or_pool: str | ConnectionPool[Any],
        *,
        tenant: str,
        connection: str = "default",
        worker: str | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        _psycopg()
        try:
            self.tenant = _require_text("tenant", tenant)
            self.connection = _require_text("connection", connection)
            self.worker = None if worker is None else _require_text("worker", worker)
        except ValidationError as exc:
            raise ConfigurationError(str(exc)) from None
        self._source = _Source(dsn_or_pool, connect_timeout)
        self._key = lock_key(self.tenant, self.connection)
        self._mutex = threading.RLock()
        self._conn: _Connection | None = None  # a DSN's connection; a pool's while leased
        self._held: _Held | None = None
        self._checked = False
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"PostgresStateStore(tenant={self.tenant!r}, connection={self.connection!r}, {state})"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the lease if held and the connection (again is harmless).

        Using the store afterwards raises `SyncError`.
        """
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            held, self._held = self._held, None
            conn, self._conn = self._conn, None
        if conn is not None:
            if held is not None:
                self._unlock(conn)
            self._give_back(conn)

    # -- schema and tenants (class-level) ---------------------------------------------------

    @staticmethod
    def upgrade_schema(
        dsn_or_pool: str | ConnectionPool[Any], *, to: int | None = None
    ) -> tuple[int, int]:
        """Create or migrate the tables (what ``crmconnect state upgrade`` runs).

        One transaction under a transaction-level advisory lock: safe to run
        twice and by two processes at once (the second waits, then finds
        nothing to do).

        Args:
            dsn_or_pool: As for the store.
            to: The version to reach (default: `SCHEMA_VERSION`).

        Returns:
            The version found (``0`` for none) and the version now.

        Raises:
            ConfigurationError: The tables are newer than this crmconnect.
            TransportError: The database cannot be reached.
        """
        source = _Source(dsn_or_pool, 10.0)
        target = _pg_schema.SCHEMA_VERSION if to is None else to
        with _borrowed(source, "upgrading the crmconnect state tables") as conn:
            return _pg_schema.upgrade(conn, target)

    @staticmethod
    def schema_version(dsn_or_pool: str | ConnectionPool[Any]) -> int | None:
        """The version of the tables in the database; ``None`` when there are none."""
        source = _Source(dsn_or_pool, 10.0)
        with _borrowed(source, "reading the crmconnect state schema version") as conn:
            with conn.transaction():
                return _pg_schema.version(conn)

    @classmethod
    def forget_tenant(cls, dsn_or_pool: str | ConnectionPool[Any], tenant: str) -> int:
        """Delete every row of a tenant, of all its connections (a customer who left).

        One transaction; it takes each connection's lock for that
        transaction, so it refuses while a run of the tenant holds one. Stop
        the tenant's jobs first (drop it from the resolver's ``tenants()``):
        a run that starts afterwards begins from nothing.

        Returns:
            The number of rows deleted.

        Raises:
            SyncBusyError: A run of the tenant holds its lock.
        """
        with cls(dsn_or_pool, tenant=tenant) as store:
            return store._forget()

    def _forget(self) -> int:
        names = " UNION ".join(
            f"SELECT connection FROM {_S}.{table} WHERE tenant = %(t)s" for table in _TABLES
        )
        removed = 0
        with self._transaction() as cur:
            for (name,) in cur.execute(names, {"t": self.tenant}).fetchall():
                taken = cur.execute(
                    "SELECT pg_try_advisory_xact_lock(%s)", (lock_key(self.tenant, name),)
                ).fetchone()
                if not taken or not taken[0]:
                    raise SyncBusyError(
                        f"a sync run of tenant {self.tenant!r} (connection {name!r}) holds its"
                        " lock: stop the tenant's jobs, then forget it"
                    )
            for table in _TABLES:
                cur.execute(f"DELETE FROM {_S}.{table} WHERE tenant = %s", (self.tenant,))
                removed += cur.rowcount
        return removed

    # -- links ------------------------------------------------------------------------------

    def link(self, host_id: str, service: str, role: Role) -> Link | None:
        """The link of a host record in a service and role, or ``None``."""
        with self._read() as cur:
            row = cur.execute(
                f"SELECT {_LINK_COLUMNS} FROM {_S}.links WHERE tenant = %s AND connection = %s"
                " AND service = %s AND role = %s AND host_id = %s",
                (*self._owner, service, _role(role), host_id),
            ).fetchone()
        return None if row is None else _link(row)

    def link_by_remote(self, service: str, role: Role, remote_id: str) -> Link | None:
        """The link of a remote record, or ``None``."""
        with self._read() as cur:
            row = cur.execute(
                f"SELECT {_LINK_COLUMNS} FROM {_S}.links WHERE tenant = %s AND connection = %s"
                " AND service = %s AND role = %s AND remote_id = %s",
                (*self._owner, service, _role(role), remote_id),
            ).fetchone()
        return None if row is None else _link(row)

    def links(self, service: str) -> list[Link]:
        """Every link of a service, by role and host ID."""
        with self._read() as cur:
            rows = cur.execute(
                f"SELECT {_LINK_COLUMNS} FROM {_S}.links WHERE tenant = %s AND connection = %s"
                " AND service = %s ORDER BY role, host_id",
                (*self._owner, service),
            ).fetchall()
        return [_link(row) for row in rows]

    def save_link(self, link: Link) -> None:
        """Insert or replace a link (keyed by host ID, service and role).

        ``synced_at`` is stored as given, or as the database's now when ``None``.

        Raises:
            ValidationError: A value is not text or ``None``, ``synced_at``
                has no time zone, or the remote record is already linked to
                another host record.
        """
        with self._transaction() as cur:
            self._save_link(cur, link)

    def set_remote_digests(self, digests: Sequence[tuple[Link, str]]) -> None:
        """Store each link's `Link.remote_digest`, in one transaction.

        Only where the stored link is still the one given (same remote ID and
        ``synced_at``): a link written since keeps what was written with it.
        """
        rows = [
            (
                _require_text("digest", digest),
                *self._owner,
                link.service,
                _role(link.role),
                link.host_id,
                link.remote_id,
                None if link.synced_at is None else _aware("synced_at", link.synced_at),
            )
            for link, digest in digests
        ]
        if not rows:
            return
        with self._transaction() as cur:
            cur.executemany(
                f"UPDATE {_S}.links SET remote_digest = %s WHERE tenant = %s AND connection = %s"
                " AND service = %s AND role = %s AND host_id = %s"
                " AND remote_id IS NOT DISTINCT FROM %s::text AND synced_at = %s::timestamptz",
                rows,
            )

    def remove_link(self, host_id: str, service: str, role: Role) -> None:
        """Forget a link (nothing happens when there is none)."""
        with self._transaction() as cur:
            cur.execute(
                f"DELETE FROM {_S}.links WHERE tenant = %s AND connection = %s"
                " AND service = %s AND role = %s AND host_id = %s",
                (*self._owner, service, _role(role), host_id),
            )

    # -- bookmarks and marks ----------------------------------------------------------------

    def bookmark(self, name: str) -> str | None:
        """A stored bookmark (e.g. the host's change cursor), or ``None``."""
        with self._read() as cur:
            row = cur.execute(
                f"SELECT value FROM {_S}.bookmarks WHERE tenant = %s AND connection = %s"
                " AND name = %s",
                (*self._owner, name),
            ).fetchone()
        return None if row is None else str(row[0])

    def set_bookmark(self, name: str, value: str) -> None:
        """Store a bookmark, replacing the one of that name."""
        if not isinstance(value, str):
            raise ValidationError("value", value, "a text")
        name = _require_text("name", name)
        with self._transaction() as cur:
            cur.execute(
                f"INSERT INTO {_S}.bookmarks (tenant, connection, name, value)"
                " VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tenant, connection, name) DO UPDATE SET value = excluded.value",
                (*self._owner, name, value),
            )

    def mark(self, kind: str, key: str) -> str | None:
        """The value stored under ``(kind, key)``, or ``None``."""
        with self._read() as cur:
            row = cur.execute(
                f"SELECT value FROM {_S}.marks WHERE tenant = %s AND connection = %s"
                " AND kind = %s AND key = %s",
                (*self._owner, kind, key),
            ).fetchone()
        return None if row is None else str(row[0])

    def marks(self, kind: str, prefix: str = "") -> dict[str, str]:
        """Every mark of a kind whose key starts with ``prefix``, by key."""
        with self._read() as cur:
            rows = cur.execute(
                f"SELECT key, value FROM {_S}.marks WHERE tenant = %s AND connection = %s"
                " AND kind = %s AND starts_with(key, %s) ORDER BY key",
                (*self._owner, kind, prefix),
            ).fetchall()
        return {str(key): str(value) for key, value in rows}

    def set_marks(self, kind: str, values: Mapping[str, str | None]) -> None:
        """Store marks of a kind, all in one transaction; a ``None`` value removes one.

        Raises:
            ValidationError: ``kind`` or a key is empty, or a value is not a text or ``None``.
        """
        removed, stored = [], []
        for key, value in values.items():
            if value is not None and not isinstance(value, str):
                raise ValidationError(f"marks.{key}", value, "a text or None")
            key = _require_text("key", key)
            if value is None:
                removed.append((*self._owner, kind, key))
            else:
                stored.append((*self._owner, kind, key, value))
        kind = _require_text("kind", kind)
        with self._transaction() as cur:
            if removed:
                cur.executemany(
                    f"DELETE FROM {_S}.marks WHERE tenant = %s AND connection = %s"
                    " AND kind = %s AND key = %s",
                    removed,
                )
            if stored:
                cur.executemany(
                    f"INSERT INTO {_S}.marks (tenant, connection, kind, key, value)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant, connection, kind, key)"
                    " DO UPDATE SET value = excluded.value",
                    stored,
                )

    def set_mark(self, kind: str, key: str, value: str | None) -> None:
        """Store one mark; ``None`` removes it (see `set_marks`)."""
        self.set_marks(kind, {key: value})

    # -- the lease: a session-level advisory lock -------------------------------------------

    def acquire_lease(self, owner: str, ttl: dt.timedelta) -> bool:
        """Take the tenant's advisory lock for ``owner``; ``False`` when another holds it.

        Held by ``owner`` already: renewed (after checking the session still
        holds the lock). Held by another owner of this store whose ``ttl``
        ran out: taken over. Held by another session: ``False`` until that
        session releases it or ends.
        """
        if not isinstance(ttl, dt.timedelta) or ttl <= dt.timedelta(0):
            raise ValidationError("ttl", ttl, "a positive timedelta")
        owner = _require_text("owner", owner)
        with self._mutex:
            now = time.monotonic()
            held = self._held
            if held is None:
                return self._lock(owner, now + ttl.total_seconds())
            if held.owner != owner and held.expires > now:
                return False
            if not self._still_locked():
                return False
            if held.owner != owner:
                self._record_holder(owner)
            self._held = _Held(owner, now + ttl.total_seconds())
            return True

    def lease_holder(self) -> str | None:
        """The owner holding the tenant's lock, or ``None`` when it is free.

        For this store's own lease, ``None`` once its ``ttl`` ran out. For
        another session's, the owner it gave (or ``"PostgreSQL backend
        <pid>"`` in the moment before it recorded it).
        """
        with self._mutex:
            held = self._held
            if held is not None:
                return held.owner if held.expires > time.monotonic() else None
        with self._read() as cur:
            row = cur.execute(
                f"SELECT l.pid, s.owner FROM pg_locks l LEFT JOIN {_S}.leases s"
                " ON s.tenant = %s AND s.connection = %s AND s.backend_pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND l.classid::bigint = %s AND l.objid::bigint = %s",
                (*self._owner, *_halves(self._key)),
            ).fetchone()
        if row is None:
            return None
        return str(row[1]) if row[1] is not None else f"PostgreSQL backend {row[0]}"

    def release_lease(self, owner: str) -> None:
        """Release the lock when ``owner`` holds it here (otherwise nothing happens).

        With a pool, the lease's connection goes back to it.
        """
        with self._mutex:
            held = self._held
            if held is None or held.owner != owner:
                return
            self._held = None
            conn = self._conn
            if conn is not None:
                self._unlock(conn)
                if self._source.pool is not None or conn.closed:
                    self._conn = None
                    self._give_back(conn)

    def _lock(self, owner: str, expires: float) -> bool:
        """Take the advisory lock on a connection kept for the run (mutex held)."""
        self._require_open()
        psycopg = _psycopg()
        borrowed = self._conn is None and self._source.pool is not None
        taken = False
        try:
            if borrowed:
                self._conn = self._source.get()
            conn = self._kept()
            with conn.transaction():
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            taken = bool(row and row[0])
            if taken:
                self._held = _Held(owner, expires)
                self._record_holder(owner)
        except BaseException as exc:
            self._held = None
            if taken and self._conn is not None:
                self._unlock(self._conn)
            self._let_go(borrowed)
            if isinstance(exc, psycopg.Error):
                raise self._failure(exc) from None
            raise
        if not taken:
            self._let_go(borrowed)
        return taken

    def _let_go(self, borrowed: bool) -> None:
        """Return a connection borrowed for a lease that was not taken."""
        if borrowed and self._conn is not None:
            conn, self._conn = self._conn, None
            self._give_back(conn)

    def _record_holder(self, owner: str) -> None:
        """Write who holds the lock, for `lease_holder` in other sessions."""
        with self._transaction() as cur:
            cur.execute(
                f"INSERT INTO {_S}.leases (tenant, connection, owner, backend_pid)"
                " VALUES (%s, %s, %s, pg_backend_pid()) ON CONFLICT (tenant, connection)"
                " DO UPDATE SET owner = excluded.owner, backend_pid = excluded.backend_pid,"
                " acquired = clock_timestamp()",
                (*self._owner, owner),
            )

    def _still_locked(self) -> bool:
        """Whether this session still holds the lock (a lost connection took it along)."""
        try:
            with self._read() as cur:
                row = cur.execute(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid()"
                    " AND locktype = 'advisory' AND granted AND objsubid = 1"
                    " AND classid::bigint = %s AND objid::bigint = %s)",
                    _halves(self._key),
                ).fetchone()
        except CrmConnectError:
            row = None
        if row and row[0]:
            return True
        self._held = None
        return False

    def _unlock(self, conn: _Connection) -> None:
        """Release the lock and its holder row; a connection that fails is closed (freeing it)."""
        psycopg = _psycopg()
        try:
            with conn.transaction():
                conn.execute(
                    f"DELETE FROM {_S}.leases WHERE tenant = %s AND connection = %s"
                    " AND backend_pid = pg_backend_pid()",
                    self._owner,
                )
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
        except psycopg.Error:
            conn.close()  # the session ends, and its lock with it

    # -- intents ----------------------------------------------------------------------------

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
        with self._transaction() as cur:
            row = cur.execute(
                f"INSERT INTO {_S}.intents (tenant, connection, service, kind, key, host_id, role)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING intent_id, created_at",
                (*self._owner, *values),
            ).fetchone()
        assert row is not None  # an INSERT ... RETURNING gives its row
        return Intent(
            int(row[0]),
            service,
            kind,
            key,
            host_id,
            None if role is None else Role(role),
            _utc(row[1]),
        )

    def intents(self, service: str) -> list[Intent]:
        """Unfinished intents of a service, oldest first."""
        with self._read() as cur:
            rows = cur.execute(
                f"SELECT {_INTENT_COLUMNS} FROM {_S}.intents WHERE tenant = %s"
                " AND connection = %s AND service = %s ORDER BY intent_id",
                (*self._owner, service),
            ).fetchall()
        return [_intent(row) for row in rows]

    def finish_intent(self, intent_id: int, link: Link | None = None) -> None:
        """Drop a finished intent and, in the same transaction, save the link it made.

        Raises:
            ValidationError: There is no unfinished intent with this ID for
                this tenant and connection (finished already, by this or
                another process), or the link is refused as by `save_link`.
                Nothing is written then.
        """
        with self._transaction() as cur:
            cur.execute(
                f"DELETE FROM {_S}.intents WHERE tenant = %s AND connection = %s"
                " AND intent_id = %s",
                (*self._owner, intent_id),
            )
            if cur.rowcount == 0:
                raise ValidationError("intent_id", intent_id, "no unfinished intent has this ID")
            if link is not None:
                self._save_link(cur, link)

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, flow: str) -> RunRecord:
        """Record a run as started, at the database's clock.

        Runs of this tenant and connection still marked running become
        abandoned (their process died: the lock was free for this one). A
        run that was alive after all still records its real end with `end_run`.
        """
        flow = _require_text("flow", flow)
        worker = self.worker or f"{socket.gethostname()}/{os.getpid()}"
        with self._transaction() as cur:
            cur.execute(
                f"UPDATE {_S}.runs SET status = %s WHERE tenant = %s AND connection = %s"
                " AND status = %s",
                (ABANDONED, *self._owner, RUNNING),
            )
            row = cur.execute(
                f"INSERT INTO {_S}.runs (tenant, connection, worker, flow, started, status)"
                " VALUES (%s, %s, %s, %s, clock_timestamp(), %s) RETURNING run_id, started",
                (*self._owner, worker, flow, RUNNING),
            ).fetchone()
        assert row is not None  # an INSERT ... RETURNING gives its row
        return RunRecord(
            int(row[0]),
            flow,
            _utc(row[1]),
            None,
            RUNNING,
            tenant=self.tenant,
            connection=self.connection,
            worker=worker,
        )

    def end_run(
        self,
        run_id: int,
        status: str,
        counts: Mapping[str, int],
        failures: Sequence[tuple[str, str]],
    ) -> None:
        """Record how a run ended, at the database's clock.

        Args:
            run_id: The ID `start_run` gave.
            status: ``"ok"``, ``"failed"`` or ``"abandoned"``.
            counts: Records per action (a `SyncReport`'s ``counts``).
            failures: ``(record key, reason)`` per failed record.

        Raises:
            ValidationError: An unknown run (of this tenant and connection),
                status, or a count that is not an integer.
        """
        if status not in END_STATUSES:
            raise ValidationError("status", status, f"one of {sorted(END_STATUSES)}")
        # JSONB has no NUL character; a reason is text for people, so it goes.
        cleaned = [(_no_nul(key), _no_nul(reason)) for key, reason in failures]
        row = (status, _counts_json(counts), _failures_json(cleaned), *self._owner, run_id)
        with self._transaction() as cur:
            cur.execute(
                f"UPDATE {_S}.runs SET ended = clock_timestamp(), status = %s,"
                " counts = %s::jsonb, failures = %s::jsonb"
                " WHERE tenant = %s AND connection = %s AND run_id = %s",
                row,
            )
            if cur.rowcount == 0:
                raise ValidationError("run_id", run_id, "no run has this ID")

    def runs(
        self,
        since: dt.datetime | None = None,
        *,
        tenant: str | None | _ThisTenant = THIS_TENANT,
    ) -> list[RunRecord]:
        """Run history of this connection name, oldest first.

        Args:
            since: Only runs started at or after this moment.
            tenant: Whose runs: this store's tenant by default (what the
                engine asks, to see which flows are due); ``None`` for every
                tenant's runs on this connection name (a vendor's dashboard);
                or another tenant's name.

        Raises:
            ValidationError: ``since`` has no time zone.
        """
        where, params = ["connection = %s"], list[object]([self.connection])
        if isinstance(tenant, _ThisTenant):
            tenant = self.tenant
        if tenant is not None:
            where.append("tenant = %s")
            params.append(_require_text("tenant", tenant))
        if since is not None:
            where.append("started >= %s")
            params.append(_aware("since", since))
        with self._read() as cur:
            rows = cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM {_S}.runs WHERE {' AND '.join(where)}"
                " ORDER BY started, run_id",
                params,
            ).fetchall()
        return [_run(row) for row in rows]

    @classmethod
    def overview(
        cls,
        dsn_or_pool: str | ConnectionPool[Any],
        *,
        connection: str = "default",
        since: dt.datetime | None = None,
    ) -> list[TenantOverview]:
        """Per tenant with runs: counts a dashboard shows, in one query, by tenant.

        Args:
            dsn_or_pool: As for the store.
            connection: The connection name.
            since: Count only runs started at or after this moment (all when ``None``);
                the last success is looked for in the same period.

        Raises:
            ValidationError: ``since`` has no time zone.
        """
        params: list[object] = [_require_text("connection", connection)]
        period = ""
        if since is not None:
            period = " AND started >= %s"
            params.append(_aware("since", since))
        source = _Source(dsn_or_pool, 10.0)
        with _borrowed(source, "reading the run overview") as conn, conn.transaction():
            rows = conn.execute(
                f"""SELECT tenant, count(*),
                    count(*) FILTER (WHERE status = 'failed'),
                    coalesce(sum(coalesce((counts->>'created')::int, 0)
                                 + coalesce((counts->>'updated')::int, 0)), 0),
                    coalesce(sum(coalesce((counts->>'failed')::int, 0)), 0),
                    max(started),
                    (array_agg(status ORDER BY started DESC, run_id DESC))[1],
                    max(ended) FILTER (WHERE status = 'ok')
                FROM {_S}.runs WHERE connection = %s{period}
                GROUP BY tenant ORDER BY tenant""",
                params,
            ).fetchall()
        return [TenantOverview(*row) for row in rows]

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _owner(self) -> tuple[str, str]:
        return self.tenant, self.connection

    def _save_link(self, cur: _Cursor, link: Link) -> None:
        role = _role(link.role)
        if link.remote_id is not None:
            other = cur.execute(
                f"SELECT host_id FROM {_S}.links WHERE tenant = %s AND connection = %s"
                " AND service = %s AND role = %s AND remote_id = %s AND host_id <> %s",
                (*self._owner, link.service, role, link.remote_id, link.host_id),
            ).fetchone()
            if other is not None:
                raise ValidationError(
                    "remote_id",
                    link.remote_id,
                    f"this {link.service} {role} is already linked to host record {other[0]!r}",
                )
        synced = None if link.synced_at is None else _aware("synced_at", link.synced_at)
        cur.execute(
            f"INSERT INTO {_S}.links (tenant, connection, {_LINK_COLUMNS})"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " coalesce(%s::timestamptz, clock_timestamp()), %s)"
            " ON CONFLICT (tenant, connection, service, role, host_id) DO UPDATE SET"
            " remote_id = excluded.remote_id, number = excluded.number,"
            " host_values = excluded.host_values, remote_values = excluded.remote_values,"
            " synced_at = excluded.synced_at, remote_digest = excluded.remote_digest",
            (
                *self._owner,
                _require_text("host_id", link.host_id),
                _require_text("service", link.service),
                role,
                link.remote_id,
                _require_text("number", link.number),
                _values_json("host_values", link.host_values),
                _values_json("remote_values", link.remote_values),
                synced,
                link.remote_digest,
            ),
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[_Cursor]:
        """One transaction on this store's connection, or on one borrowed from the pool."""
        psycopg = _psycopg()
        try:
            with self._session() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            raise self._failure(exc) from None

    @contextlib.contextmanager
    def _read(self) -> Iterator[_Cursor]:
        """One reading statement: without BEGIN and COMMIT in autocommit mode (one round trip)."""
        psycopg = _psycopg()
        try:
            with self._session() as conn:
                block = contextlib.nullcontext() if conn.autocommit else conn.transaction()
                with block, conn.cursor() as cur:
                    yield cur
        except psycopg.Error as exc:
            raise self._failure(exc) from None

    @contextlib.contextmanager
    def _session(self) -> Iterator[_Connection]:
        with self._mutex:
            self._require_open()
            if self._conn is not None or self._source.pool is None:
                yield self._kept()
                return
        conn = self._source.get()
        try:
            self._check_schema(conn)
            yield conn
        finally:
            self._source.put(conn)

    def _kept(self) -> _Connection:
        """The connection this store keeps, opened when needed (mutex held)."""
        conn = self._conn
        if conn is not None and (conn.closed or conn.broken):
            self._conn = None
            self._give_back(conn)
            if self._held is not None:
                self._held = None
                raise SyncError(f"{self._where}: the connection that held the run's lock was lost")
            conn = None
        if conn is None:
            conn = self._conn = self._source.get()
        self._check_schema(conn)
        return conn

    def _check_schema(self, conn: _Connection) -> None:
        if not self._checked:
            with conn.transaction():
                _pg_schema.check(conn)
            self._checked = True

    def _give_back(self, conn: _Connection) -> None:
        with contextlib.suppress(Exception):  # a broken connection is closed either way
            self._source.put(conn)

    def _require_open(self) -> None:
        if self._closed:
            raise SyncError(f"{self._where} is closed")

    @property
    def _where(self) -> str:
        return (
            f"the PostgreSQL state store of tenant {self.tenant!r} (connection {self.connection!r})"
        )

    def _failure(self, exc: Exception) -> CrmConnectError:
        return self._source.failure(exc, self._where)


@contextlib.contextmanager
def _borrowed(source: _Source, doing: str) -> Iterator[_Connection]:
    """A connection for one class-level task, with psycopg's errors made ours."""
    psycopg = _psycopg()
    try:
        conn = source.get()
        try:
            yield conn
        finally:
            source.put(conn)
    except psycopg.Error as exc:
        raise source.failure(exc, doing) from None


def _halves(key: int) -> tuple[int, int]:
    """A 64-bit key as pg_locks shows it: high and low 32 bits, unsigned."""
    return (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF


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
        _utc(synced_at),
        digest,
    )


def _intent(row: Sequence[Any]) -> Intent:
    intent_id, service, kind, key, host_id, role, created_at = row
    return Intent(
        int(intent_id),
        service,
        kind,
        key,
        host_id,
        None if role is None else Role(role),
        _utc(created_at),
    )


def _run(row: Sequence[Any]) -> RunRecord:
    run_id, flow, started, ended, status, counts, failures, tenant, connection, worker = row
    return RunRecord(
        int(run_id),
        flow,
        _utc(started),
        None if ended is None else _utc(ended),
        status,
        dict(counts),
        tuple((str(key), str(reason)) for key, reason in failures),
        tenant=tenant,
        connection=connection,
        worker=worker,
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    """A stamp as read, in UTC (psycopg gives the session's time zone)."""
    return moment.astimezone(dt.UTC)


def _aware(field: str, moment: object) -> dt.datetime:
    if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
        raise ValidationError(field, moment, "a datetime with a time zone")
    return moment


def _no_nul(text: object) -> str:
    return str(text).replace("\x00", "")
