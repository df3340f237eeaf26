"""`PostgresStateStore` against a real PostgreSQL: the conformance suite, then what is its own.

The server is ``CRMCONNECT_TEST_POSTGRES_DSN`` (default: 127.0.0.1:5432, user
postgres, database test); without it these tests skip with one line, and
under ``CI=true`` they fail (the ``postgres_dsn`` fixture of conftest). Every
test works in tenants of its own and forgets them afterwards; the migration
tests make a database of their own and drop it.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector
from crmconnect.errors import (
    ConfigurationError,
    ConnectError,
    SyncBusyError,
    SyncError,
    ValidationError,
)
from crmconnect.models import Organisation
from crmconnect.sandbox import DigitaleFactuurSandbox
from crmconnect.sync import PostgresStateStore, Role, StateStore, SyncEngine
from crmconnect.sync._pg_schema import SCHEMA_VERSION, UPGRADE_COMMAND
from crmconnect.sync._postgres import lock_key
from tests.conftest import require_postgres
from tests.test_sync_state import DF, EB, StateStoreContract, a_link

require_postgres()  # else this module skips in one line (fails under CI=true)
import psycopg  # noqa: E402  (there when PostgreSQL is)

runner = CliRunner(env={"COLUMNS": "220"})
ACCOUNT, CODE = "98765", "s3cr3t-access-code-xyz"
MINUTES = dt.timedelta(minutes=5)


@pytest.fixture(scope="module")
def dsn(postgres_dsn: str) -> str:
    """The test database, with the tables at this code's version."""
    PostgresStateStore.upgrade_schema(postgres_dsn)
    return postgres_dsn


@pytest.fixture
def new_tenant(dsn: str) -> Iterator[Callable[[], str]]:
    """Makes tenant names of this test's own; all are forgotten afterwards."""
    made: list[str] = []

    def make() -> str:
        made.append(f"test-{uuid.uuid4().hex}")
        return made[-1]

    yield make
    for tenant in made:
        PostgresStateStore.forget_tenant(dsn, tenant)


@pytest.fixture
def tenant(new_tenant: Callable[[], str]) -> str:
    return new_tenant()


# -- the conformance suite -------------------------------------------------------------------


class TestPostgresStateStore(StateStoreContract):
    """With a DSN: each store keeps one connection of its own."""

    @pytest.fixture
    def open_store(self, dsn: str, tenant: str) -> Callable[[], StateStore]:
        return lambda: PostgresStateStore(dsn, tenant=tenant)


class TestPostgresStateStoreOnAPool(StateStoreContract):
    """With a pool shared by the stores: calls borrow, the lease keeps one for the run."""

    @pytest.fixture
    def open_store(self, dsn: str, tenant: str) -> Iterator[Callable[[], StateStore]]:
        from psycopg_pool import ConnectionPool

        with ConnectionPool(dsn, min_size=1, max_size=4, open=True) as pool:
            yield lambda: PostgresStateStore(pool, tenant=tenant)


# -- helpers ---------------------------------------------------------------------------------


def raw(dsn: str) -> Any:
    """A plain psycopg connection (autocommit), to look behind the store's back."""
    return psycopg.connect(dsn, autocommit=True)


def db_now(dsn: str) -> dt.datetime:
    with raw(dsn) as conn:
        moment: dt.datetime = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    return moment


def child(code: str, *args: str) -> subprocess.Popen[str]:
    """A Python process running ``code``; it prints one line when it is ready."""
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line:
        process.kill()
        pytest.fail(f"the child process did not start: {process.communicate()[1]}")
    return process


HOLDER = """
    import datetime as dt, sys, time
    from crmconnect.sync import PostgresStateStore
    store = PostgresStateStore(sys.argv[1], tenant=sys.argv[2])
    assert store.acquire_lease("child-run", dt.timedelta(minutes=5))
    run = store.start_run("all")
    print(run.run_id, flush=True)
    time.sleep(120)
"""
"""Holds a tenant's lease with a run started, until killed."""


def wait_for_lease(store: PostgresStateStore, owner: str, seconds: float = 10.0) -> float:
    """Seconds until ``owner`` took the lease (fails after ``seconds``)."""
    start = time.monotonic()
    while not store.acquire_lease(owner, MINUTES):
        if time.monotonic() - start > seconds:
            pytest.fail(f"the lease was not free after {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - start


# -- migrations: crmconnect state upgrade ---------------------------------------------------


@pytest.fixture
def empty_db(postgres_dsn: str) -> Iterator[str]:
    """A database of this test's own, without any table; dropped afterwards."""
    name = f"crmconnect_test_{uuid.uuid4().hex[:12]}"
    with raw(postgres_dsn) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield psycopg.conninfo.make_conninfo(postgres_dsn, dbname=name)
    finally:
        with raw(postgres_dsn) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrations(dsn: str) -> list[int]:
    with raw(dsn) as conn:
        rows = conn.execute("SELECT version FROM crmconnect.schema_migrations ORDER BY 1")
        return [row[0] for row in rows]


def test_upgrade_creates_the_tables_and_a_second_run_does_nothing(empty_db: str) -> None:
    assert PostgresStateStore.schema_version(empty_db) is None
    assert PostgresStateStore.upgrade_schema(empty_db) == (0, SCHEMA_VERSION)
    assert PostgresStateStore.schema_version(empty_db) == SCHEMA_VERSION
    assert PostgresStateStore.upgrade_schema(empty_db) == (SCHEMA_VERSION, SCHEMA_VERSION)
    assert migrations(empty_db) == list(range(1, SCHEMA_VERSION + 1))
    with PostgresStateStore(empty_db, tenant="t") as store:
        store.set_bookmark("host", "v1")
        assert store.bookmark("host") == "v1"


def test_the_command_upgrades_twice_and_from_four_processes_at_once(empty_db: str) -> None:
    entry = "from crmconnect._cli import main; main()"  # the crmconnect command
    command = [sys.executable, "-c", entry, "state", "upgrade", "--dsn", empty_db]
    at_once = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [process.communicate(timeout=60)[0] for process in at_once]
    assert [process.returncode for process in at_once] == [0] * 4, outputs
    assert sorted("created" in out for out in outputs) == [False] * 3 + [True], outputs
    assert any("nothing to do" in out for out in outputs)
    assert migrations(empty_db) == list(range(1, SCHEMA_VERSION + 1))
    again = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "nothing to do" in again.stdout


@pytest.mark.parametrize("state", ["missing", "older"])
def test_a_store_refuses_a_missing_or_older_schema_naming_the_command(
    empty_db: str, state: str
) -> None:
    if state == "older":
        PostgresStateStore.upgrade_schema(empty_db, to=SCHEMA_VERSION - 1)
    store = PostgresStateStore(empty_db, tenant="t")  # making it does no I/O: no error yet
    with pytest.raises(ConfigurationError) as caught:
        store.bookmark("host")
    assert UPGRADE_COMMAND in str(caught.value)
    with pytest.raises(ConfigurationError):
        store.acquire_lease("a", MINUTES)
    store.close()
    expected = None if state == "missing" else SCHEMA_VERSION - 1
    assert PostgresStateStore.schema_version(empty_db) == expected  # the store migrated nothing
    assert PostgresStateStore.upgrade_schema(empty_db) == (expected or 0, SCHEMA_VERSION)
    with PostgresStateStore(empty_db, tenant="t") as store:
        assert store.bookmark("host") is None


def test_a_newer_schema_is_refused_by_stores_and_by_the_command(empty_db: str) -> None:
    PostgresStateStore.upgrade_schema(empty_db)
    with raw(empty_db) as conn:
        conn.execute(
            "INSERT INTO crmconnect.schema_migrations (version) VALUES (%s)", (SCHEMA_VERSION + 1,)
        )
    with PostgresStateStore(empty_db, tenant="t") as store:
        with pytest.raises(ConfigurationError) as caught:
            store.links(DF)
    message = str(caught.value)
    assert f"version {SCHEMA_VERSION + 1}" in message and "upgrade crmconnect" in message
    assert UPGRADE_COMMAND in message
    with pytest.raises(ConfigurationError, match="newer"):
        PostgresStateStore.upgrade_schema(empty_db)
    from crmconnect._cli_app import app

    result = runner.invoke(app, ["state", "upgrade", "--dsn", empty_db])
    assert result.exit_code == 1 and "newer" in result.output
    assert migrations(empty_db)[-1] == SCHEMA_VERSION + 1  # nothing was changed


# -- the lease: a session-level advisory lock -----------------------------------------------


def test_the_lease_is_the_advisory_lock_of_tenant_and_connection(dsn: str, tenant: str) -> None:
    key = lock_key(tenant, "default")
    with PostgresStateStore(dsn, tenant=tenant) as store, raw(dsn) as other:
        assert store.acquire_lease("run-1", MINUTES)
        # Any other session finds the lock taken, not only another store.
        assert other.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0] is False
        store.release_lease("run-1")
        assert other.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0] is True
        assert not store.acquire_lease("run-2", MINUTES)  # now the other session holds it
        other.execute("SELECT pg_advisory_unlock(%s)", (key,))
        assert store.acquire_lease("run-2", MINUTES)


def test_another_tenant_or_connection_has_a_lock_of_its_own(
    dsn: str, new_tenant: Callable[[], str]
) -> None:
    acme, globex = new_tenant(), new_tenant()
    stores = [
        PostgresStateStore(dsn, tenant=acme),
        PostgresStateStore(dsn, tenant=acme, connection="second-administration"),
        PostgresStateStore(dsn, tenant=globex),
    ]
    try:
        assert [store.acquire_lease(f"run-{i}", MINUTES) for i, store in enumerate(stores)] == [
            True,
            True,
            True,
        ]
        assert stores[2].lease_holder() == "run-2"
        with PostgresStateStore(dsn, tenant=acme) as second:
            assert second.lease_holder() == "run-0"
            assert not second.acquire_lease("other", MINUTES)
    finally:
        for store in stores:
            store.close()


def test_a_lease_held_by_another_process_blocks_until_sigkill_frees_it(
    dsn: str, tenant: str
) -> None:
    holder = child(HOLDER, dsn, tenant)
    try:
        with PostgresStateStore(dsn, tenant=tenant) as store:
            assert not store.acquire_lease("parent", MINUTES)
            assert store.lease_holder() == "child-run"
            (killed_run,) = store.runs()
            assert (killed_run.status, killed_run.ended) == ("running", None)  # visible at once
            assert killed_run.worker == f"{socket.gethostname()}/{holder.pid}"
            holder.send_signal(signal.SIGKILL)
            holder.wait(10)
            assert wait_for_lease(store, "parent") < 5  # PostgreSQL ended the session
            assert store.lease_holder() == "parent"
            store.start_run("all")
            runs = store.runs()
            assert [(r.status, r.ended) for r in runs[:1]] == [("abandoned", None)]
            assert runs[1].status == "running" and runs[1].worker != killed_run.worker
    finally:
        holder.kill()
        holder.communicate()  # closes its pipes


def test_a_store_closed_while_leased_frees_the_lock_and_the_pool_connection(
    dsn: str, tenant: str
) -> None:
    from psycopg_pool import ConnectionPool

    with ConnectionPool(dsn, min_size=1, max_size=1, open=True) as pool:
        first = PostgresStateStore(pool, tenant=tenant)
        assert first.acquire_lease("a", MINUTES)
        first.set_bookmark("host", "v1")  # on the lease's connection, the pool's only one
        first.close()
        with PostgresStateStore(pool, tenant=tenant) as second:
            assert second.acquire_lease("b", MINUTES)  # the connection came back unlocked
            assert second.bookmark("host") == "v1"
            second.release_lease("b")


def test_two_engines_on_two_stores_run_one_at_a_time(
    dsn: str, tenant: str, df: DigitaleFactuurConnector
) -> None:
    with (
        SqliteCRM(":memory:") as crm,
        PostgresStateStore(dsn, tenant=tenant) as one,
        PostgresStateStore(dsn, tenant=tenant) as two,
    ):
        first, second = SyncEngine(crm, [df], state=one), SyncEngine(crm, [df], state=two)
        host_id = crm.add(organisation("Garage De Vries", "1002"))
        with first.exclusive():
            first.run("relations")
            with pytest.raises(SyncBusyError):
                second.run()
            pushed = second.push_relation(host_id)
            assert pushed.deferred and pushed.failed == 1
        assert second.run().failed == 0
        assert [r.flow for r in two.runs()] == ["relations", "all"]


# -- run history -----------------------------------------------------------------------------


def test_runs_start_and_end_at_the_database_clock_with_the_worker(dsn: str, tenant: str) -> None:
    with PostgresStateStore(dsn, tenant=tenant, worker="celery@worker-3/412") as store:
        before = db_now(dsn)
        run = store.start_run("relations")
        after = db_now(dsn)
        assert before <= run.started <= after and run.started.tzinfo is dt.UTC
        store.end_run(run.run_id, "ok", {"created": 2}, [("df/1", "nul \x00 weg")])
        (ended,) = store.runs()
    assert ended.ended is not None and after <= ended.ended <= db_now(dsn)
    assert (ended.tenant, ended.connection, ended.worker) == (
        tenant,
        "default",
        "celery@worker-3/412",
    )
    assert ended.failures == (("df/1", "nul  weg"),)


def test_the_default_worker_is_this_machine_and_process(dsn: str, tenant: str) -> None:
    with PostgresStateStore(dsn, tenant=tenant) as store:
        run = store.start_run("all")
    assert run.worker == f"{socket.gethostname()}/{os.getpid()}"


def test_runs_of_every_tenant_on_this_connection_name(
    dsn: str, new_tenant: Callable[[], str]
) -> None:
    acme, globex = new_tenant(), new_tenant()
    with (
        PostgresStateStore(dsn, tenant=acme) as a,
        PostgresStateStore(dsn, tenant=globex) as g,
        PostgresStateStore(dsn, tenant=acme, connection="other") as elsewhere,
    ):
        since = db_now(dsn)
        mine = a.start_run("all")
        theirs = g.start_run("payments")
        elsewhere.start_run("all")
        assert [r.run_id for r in a.runs()] == [mine.run_id]  # the engine's view: its own
        every = [r for r in a.runs(since, tenant=None) if r.tenant in (acme, globex)]
        assert [(r.tenant, r.run_id) for r in every] == [
            (acme, mine.run_id),
            (globex, theirs.run_id),
        ]
        assert {r.connection for r in a.runs(since, tenant=None)} == {"default"}
        assert [r.run_id for r in a.runs(tenant=globex)] == [theirs.run_id]
        # A tenant's next run abandons only its own runs left running.
        a.start_run("all")
        assert g.runs()[0].status == "running" and elsewhere.runs()[0].status == "running"
        with pytest.raises(ValidationError) as caught:
            a.end_run(theirs.run_id, "ok", {}, [])  # another tenant's run
        assert caught.value.field == "run_id"


def test_the_overview_counts_runs_writes_failures_and_last_success_per_tenant(
    dsn: str, new_tenant: Callable[[], str]
) -> None:
    acme, globex = new_tenant(), new_tenant()
    with PostgresStateStore(dsn, tenant=acme) as a, PostgresStateStore(dsn, tenant=globex) as g:
        since = db_now(dsn)
        first = a.start_run("all")
        a.end_run(first.run_id, "ok", {"created": 3, "updated": 2, "failed": 0}, [])
        second = a.start_run("relations")
        a.end_run(second.run_id, "failed", {"created": 1, "failed": 2}, [("42", "HTTP 503")])
        g.start_run("all")  # still running
    seen = {o.tenant: o for o in PostgresStateStore.overview(dsn, since=since)}
    mine, theirs = seen[acme], seen[globex]
    assert (mine.runs, mine.failed_runs, mine.written, mine.failures) == (2, 1, 6, 2)
    assert mine.last_status == "failed" and mine.last_success is not None
    assert mine.last_success <= mine.last_run
    assert (theirs.runs, theirs.last_status, theirs.last_success) == (1, "running", None)
    assert PostgresStateStore.overview(dsn, connection="elsewhere", since=since) == []


# -- tenants kept apart, and forgotten --------------------------------------------------------


def test_tenants_sharing_ids_and_numbers_never_see_each_other(
    dsn: str, new_tenant: Callable[[], str]
) -> None:
    acme, globex = new_tenant(), new_tenant()
    with PostgresStateStore(dsn, tenant=acme) as a, PostgresStateStore(dsn, tenant=globex) as g:
        a.save_link(a_link("42", remote_id="7"))
        g.save_link(a_link("42", remote_id="7", number="2002"))  # the same remote ID elsewhere
        a.set_bookmark("host", "acme")
        g.set_marks("retry", {"df/42": ""})
        intent = a.add_intent(DF, "create_relation", "1001", host_id="42", role=Role.DEBTOR)
        assert g.link("42", DF, Role.DEBTOR).number == "2002"  # type: ignore[union-attr]
        assert a.link_by_remote(DF, Role.DEBTOR, "7").number == "1001"  # type: ignore[union-attr]
        assert (g.bookmark("host"), dict(a.marks("retry")), g.intents(DF)) == (None, {}, [])
        with pytest.raises(ValidationError):
            g.finish_intent(intent.intent_id, a_link("42"))  # not globex's intent
        assert a.intents(DF) == [intent]


def test_forget_tenant_deletes_every_row_of_every_connection_and_nothing_else(
    dsn: str, new_tenant: Callable[[], str]
) -> None:
    leaving, staying = new_tenant(), new_tenant()
    for store in (
        PostgresStateStore(dsn, tenant=leaving),
        PostgresStateStore(dsn, tenant=leaving, connection="books-2"),
        PostgresStateStore(dsn, tenant=staying),
    ):
        with store:
            store.save_link(a_link("42"))
            store.set_bookmark("host", "v")
            store.set_mark("retry", "df/42", "")
            store.add_intent(EB, "book_invoice", "F1", host_id=None, role=None)
            store.end_run(store.start_run("all").run_id, "ok", {}, [])

    assert PostgresStateStore.forget_tenant(dsn, leaving) == 2 * 5

    for connection in ("default", "books-2"):
        with PostgresStateStore(dsn, tenant=leaving, connection=connection) as gone:
            assert (gone.links(DF), gone.bookmark("host"), gone.marks("retry")) == ([], None, {})
            assert (gone.intents(EB), gone.runs()) == ([], [])
    with PostgresStateStore(dsn, tenant=staying) as kept:
        assert len(kept.links(DF)) == 1 and len(kept.runs()) == 1 and kept.intents(EB)


def test_forget_tenant_refuses_while_a_run_holds_its_lock(dsn: str, tenant: str) -> None:
    with PostgresStateStore(dsn, tenant=tenant, connection="books-2") as running:
        running.set_bookmark("host", "v")
        assert running.acquire_lease("run", MINUTES)
        with pytest.raises(SyncBusyError, match="books-2"):
            PostgresStateStore.forget_tenant(dsn, tenant)
        assert running.bookmark("host") == "v"  # nothing deleted
        from crmconnect._cli_app import app

        busy = runner.invoke(app, ["state", "forget", tenant, "--yes", "--dsn", dsn])
        assert busy.exit_code == 6 and "busy" in busy.output
        running.release_lease("run")
    done = runner.invoke(app, ["state", "forget", tenant, "--yes", "--dsn", dsn])
    assert done.exit_code == 0 and "1 row deleted" in done.output


# -- the sync engine on PostgreSQL ------------------------------------------------------------


def organisation(name: str, number: str) -> Organisation:
    return Organisation.model_validate(
        {
            "name": name,
            "addresses": [{"kind": "invoice", "street": "Haagweg", "house_number": 4,
                           "postcode": "2311 AA", "city": "Leiden"}],
            "debtor_number": number,
        }
    )  # fmt: skip


@pytest.fixture
def df_sandbox() -> DigitaleFactuurSandbox:
    return DigitaleFactuurSandbox(ACCOUNT, CODE)


@pytest.fixture
def df(df_sandbox: DigitaleFactuurSandbox) -> Iterator[DigitaleFactuurConnector]:
    with DigitaleFactuurClient(
        ACCOUNT, CODE, transport=df_sandbox.transport(), rate_limit=None
    ) as client:
        yield DigitaleFactuurConnector(client)


def test_the_engine_syncs_digitalefactuur_both_ways_with_its_state_on_postgres(
    dsn: str,
    tenant: str,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
) -> None:
    with SqliteCRM(":memory:") as crm, PostgresStateStore(dsn, tenant=tenant) as state:
        engine = SyncEngine(crm, [df], state=state)
        df_sandbox.add_relation(relatienummer="1001", naam="Bakkerij Jansen", plaats="Utrecht")
        host_id = crm.add(organisation("Garage De Vries", "1002"))

        first = engine.run()
        assert (first.created, first.failed) == (2, 0)
        assert crm.find_by_number(Role.DEBTOR, "1001") is not None
        assert [r["relatienummer"] for r in df_sandbox.relations].count("1002") == 1

        second = engine.run()  # the digests stored by the first run match the listing
        assert (second.created, second.updated, second.unchanged) == (0, 0, 2)
        listed = {r.number: r.digest for r in df.relations()}
        assert {link.number: link.remote_digest for link in state.links(DF)} == listed

        # A killed run's intent: the relation was created, the link never saved.
        knip = crm.add(organisation("Kapsalon Knip", "1003"))
        state.add_intent(DF, "create_relation", "1003", host_id=knip, role=Role.DEBTOR)
        df_sandbox.add_relation(relatienummer="1003", naam="Kapsalon Knip", plaats="Leiden")
        creates = df_sandbox.stats.requests["klant_aanmaken"]
        third = engine.run()
        assert third.failed == 0 and state.intents(DF) == []
        assert df_sandbox.stats.requests["klant_aanmaken"] == creates  # not created again
        assert [r["relatienummer"] for r in df_sandbox.relations].count("1003") == 1

        assert [r.status for r in state.runs()] == ["ok", "ok", "ok"]
        assert {r.tenant for r in state.runs()} == {tenant}
        assert state.link(host_id, DF, Role.DEBTOR) is not None


# -- without the extra, and secrets ----------------------------------------------------------


def test_without_psycopg_the_package_imports_and_the_store_names_the_extra() -> None:
    code = """
        import sys
        sys.modules["psycopg"] = None  # as if the postgres extra were not installed
        import crmconnect.sync
        from crmconnect.errors import ConfigurationError
        try:
            crmconnect.sync.PostgresStateStore("postgresql://localhost/x", tenant="t")
        except ConfigurationError as exc:
            print(exc)
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'crmconnect[postgres]'" in done.stdout


def test_the_password_shows_nowhere() -> None:
    secret = "pw-never-shown-9731"
    unreachable = f"postgresql://postgres:{secret}@127.0.0.1:1/test"
    store = PostgresStateStore(unreachable, tenant="t", connect_timeout=1)
    assert secret not in repr(store)
    with pytest.raises(ConnectError) as caught:
        store.bookmark("host")
    assert secret not in str(caught.value) and caught.value.__cause__ is None
    with pytest.raises(ConfigurationError) as malformed:
        PostgresStateStore(f"host=x password={secret} =oops", tenant="t")
    assert secret not in str(malformed.value)


def test_a_closed_store_refuses_and_an_empty_tenant_is_refused(dsn: str) -> None:
    with pytest.raises(ConfigurationError, match="tenant"):
        PostgresStateStore(dsn, tenant="")
    with pytest.raises(ConfigurationError, match="connection"):
        PostgresStateStore(dsn, tenant="t", connection="")
    with pytest.raises(ConfigurationError, match="DSN or a psycopg_pool"):
        PostgresStateStore(42, tenant="t")  # type: ignore[arg-type]
    store = PostgresStateStore(dsn, tenant="t")
    store.close()
    with pytest.raises(SyncError, match="closed"):
        store.acquire_lease("a", MINUTES)
