"""The tables of `PostgresStateStore`, and the versioned migrations that make them.

Everything lives in one PostgreSQL schema, ``crmconnect``. Its version is the
highest row of ``crmconnect.schema_migrations``; each migration adds one row
in the transaction that applies it. Migrations run only through `upgrade`
(``crmconnect state upgrade --dsn DSN``), never by a worker: a worker that
finds the schema missing, older or newer than its code refuses to run (`check`).

Plain SQL through psycopg, no ORM: the store is a handful of keyed tables
written by a few fixed statements, and an ORM or a migration tool
(SQLAlchemy, Alembic) would add a dependency vendors must pin beside their
own, for statements no simpler than these.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from ..errors import ConfigurationError

if TYPE_CHECKING:
    import psycopg

__all__ = ["SCHEMA", "SCHEMA_VERSION", "UPGRADE_COMMAND", "check", "upgrade", "version"]

SCHEMA: Final = "crmconnect"
"""The PostgreSQL schema that holds every table of the store."""

UPGRADE_COMMAND: Final = "crmconnect state upgrade --dsn DSN"
"""The one command that creates or migrates the tables."""

_KEY: Final = "tenant TEXT NOT NULL, connection TEXT NOT NULL"

_MIGRATIONS: Final[Mapping[int, Sequence[str]]] = {
    1: (
        # Host IDs and mark keys sort by code point, as SQLite's store sorts them.
        f"""CREATE TABLE {SCHEMA}.links (
            {_KEY},
            service TEXT NOT NULL,
            role TEXT NOT NULL,
            host_id TEXT COLLATE "C" NOT NULL,
            remote_id TEXT,
            number TEXT NOT NULL,
            host_values TEXT NOT NULL,
            remote_values TEXT NOT NULL,
            synced_at TIMESTAMPTZ NOT NULL,
            remote_digest TEXT,
            PRIMARY KEY (tenant, connection, service, role, host_id)
        )""",
        # One remote record is linked to one host record at most.
        f"""CREATE UNIQUE INDEX links_remote ON {SCHEMA}.links
            (tenant, connection, service, role, remote_id) WHERE remote_id IS NOT NULL""",
        f"""CREATE TABLE {SCHEMA}.bookmarks (
            {_KEY},
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (tenant, connection, name)
        )""",
        f"""CREATE TABLE {SCHEMA}.marks (
            {_KEY},
            kind TEXT NOT NULL,
            key TEXT COLLATE "C" NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (tenant, connection, kind, key)
        )""",
        # An identity: the ID of a finished intent is never given to a new one.
        f"""CREATE TABLE {SCHEMA}.intents (
            intent_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            {_KEY},
            service TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            host_id TEXT,
            role TEXT,
            created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
        )""",
        f"CREATE INDEX intents_owner ON {SCHEMA}.intents (tenant, connection, service, intent_id)",
        f"""CREATE TABLE {SCHEMA}.runs (
            run_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            {_KEY},
            worker TEXT NOT NULL,
            flow TEXT NOT NULL,
            started TIMESTAMPTZ NOT NULL,
            ended TIMESTAMPTZ,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'ok', 'failed', 'abandoned')),
            counts JSONB NOT NULL DEFAULT '{{}}',
            failures JSONB NOT NULL DEFAULT '[]'
        )""",
        f"CREATE INDEX runs_started ON {SCHEMA}.runs (tenant, connection, started)",
        f"CREATE INDEX runs_all_started ON {SCHEMA}.runs (connection, started)",
        f"""CREATE INDEX runs_running ON {SCHEMA}.runs (tenant, connection)
            WHERE status = 'running'""",
        # Who holds a tenant's advisory lock: the owner the engine gave, and the
        # backend that holds it (pg_locks names the backend, not the owner).
        f"""CREATE TABLE {SCHEMA}.leases (
            {_KEY},
            owner TEXT NOT NULL,
            backend_pid INTEGER NOT NULL,
            acquired TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (tenant, connection)
        )""",
    ),
}
"""Statements that bring the schema to version ``n`` (from ``n - 1``)."""

SCHEMA_VERSION: Final = max(_MIGRATIONS)
"""The version of the tables this code reads and writes."""

_MIGRATION_LOCK: Final = int.from_bytes(
    hashlib.blake2b(b"schema", digest_size=8, person=b"crmconnect-lock").digest(),
    "big",
    signed=True,
)
"""The transaction-level advisory lock one migration holds: a second waits, then finds it done."""


def version(conn: psycopg.Connection[Any]) -> int | None:
    """The schema's version; ``None`` when there are no crmconnect tables at all.

    Run inside a transaction of the caller.
    """
    found = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.schema_migrations",)
    ).fetchone()
    if not found or not found[0]:
        return None
    row = conn.execute(f"SELECT coalesce(max(version), 0) FROM {SCHEMA}.schema_migrations")
    (current,) = row.fetchone() or (0,)
    return int(current)


def check(conn: psycopg.Connection[Any]) -> None:
    """Refuse a schema this code cannot use, naming the command that fixes it.

    Raises:
        ConfigurationError: The schema is missing, older or newer than `SCHEMA_VERSION`.
    """
    found = version(conn)
    if found == SCHEMA_VERSION:
        return
    if found is None:
        raise ConfigurationError(
            f"the database has no crmconnect state tables (schema {SCHEMA!r}): run"
            f" `{UPGRADE_COMMAND}` once before starting workers"
        )
    if found < SCHEMA_VERSION:
        raise ConfigurationError(
            f"the crmconnect state tables are at schema version {found}, this crmconnect"
            f" needs {SCHEMA_VERSION}: run `{UPGRADE_COMMAND}` (workers never migrate)"
        )
    raise ConfigurationError(_newer(found))


def upgrade(conn: psycopg.Connection[Any], to: int = SCHEMA_VERSION) -> tuple[int, int]:
    """Create or migrate the tables up to version ``to``, in one transaction.

    Safe to run twice and by two processes at once: the migration holds a
    transaction-level advisory lock, so a second one waits and then finds
    nothing left to do. ``conn`` must be in autocommit mode or idle.

    Returns:
        The version found (``0`` for none) and the version now.

    Raises:
        ConfigurationError: The tables are newer than this crmconnect, or
            ``to`` is not a version it knows.
    """
    if not 0 <= to <= SCHEMA_VERSION:
        raise ConfigurationError(f"no crmconnect state schema version {to} (0 to {SCHEMA_VERSION})")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations (
                version INTEGER PRIMARY KEY,
                applied TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
            )"""
        )
        found = version(conn) or 0
        if found > SCHEMA_VERSION:
            raise ConfigurationError(_newer(found))
        for step in range(found + 1, to + 1):
            for statement in _MIGRATIONS[step]:
                conn.execute(statement)
            conn.execute(f"INSERT INTO {SCHEMA}.schema_migrations (version) VALUES (%s)", (step,))
    return found, max(found, to)


def _newer(found: int) -> str:
    return (
        f"the crmconnect state tables are at schema version {found}, newer than this"
        f" crmconnect knows ({SCHEMA_VERSION}): upgrade crmconnect here;"
        f" `{UPGRADE_COMMAND}` does not go back"
    )
