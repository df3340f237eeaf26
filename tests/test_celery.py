"""`crmconnect.contrib.celery`: the tasks on a Celery app, against PostgreSQL and Redis.

The tasks run eagerly here (in this process, as Celery's ``task_always_eager``
does), each tenant with its own in-process sandboxes and SQLite CRM; the
state is in the test PostgreSQL and the queued marks and shared rate limits
in the test Redis. The run with real worker processes, a broker and a killed
worker is tests/test_celery_workers.py.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector
from crmconnect.eboekhouden import EBoekhoudenConnector
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.errors import ConfigurationError
from crmconnect.models import Address, Invoice, InvoiceKind, InvoiceLine, Organisation
from crmconnect.sandbox import (
    DEMO_ACCESS_CODE,
    DEMO_ACCOUNT_ID,
    DEMO_CREDENTIALS,
    DEMO_VAT_TABLE,
    DigitaleFactuurSandbox,
    EBoekhoudenSandbox,
)
from crmconnect.sync import PaymentState, PostgresStateStore, Role, RunRecord
from tests.conftest import require_postgres

celery = pytest.importorskip("celery", reason="no celery: pip install 'crmconnect[celery]'")
redis = pytest.importorskip("redis", reason="no redis client: pip install 'crmconnect[celery]'")

from crmconnect.contrib.celery import (  # noqa: E402
    BOOKINGS,
    PAYMENTS,
    RELATIONS,
    CelerySettings,
    SharedRateLimit,
    install,
)
from crmconnect.contrib.celery._tasks import due_flows  # noqa: E402

DSN = require_postgres()
REDIS_URL = os.environ.get("CRMCONNECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_missing() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"no Redis at {REDIS_URL} ({exc}); set CRMCONNECT_TEST_REDIS_URL"
    return None


if (missing := _redis_missing()) is not None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{missing} (CI=true: the Celery tests must run)", pytrace=False)
    pytest.skip(missing, allow_module_level=True)

PostgresStateStore.upgrade_schema(DSN)


class SandboxTenants:
    """A resolver: each tenant a SQLite CRM, a DigitaleFactuur and an e-Boekhouden sandbox."""

    def __init__(self, folder: Path, count: int) -> None:
        prefix = f"t-{uuid.uuid4().hex[:8]}"
        self.names = [f"{prefix}-{n}" for n in range(count)]
        self.folder = folder
        self.df = {name: DigitaleFactuurSandbox() for name in self.names}
        self.eb = {name: EBoekhoudenSandbox() for name in self.names}
        self.closed: list[str] = []

    def tenants(self) -> list[str]:
        return list(self.names)

    def crm(self, tenant: str) -> SqliteCRM:
        return SqliteCRM(self.folder / f"{tenant}.db")

    def setup(self, tenant: str) -> tuple[Any, list[Any]]:
        df = DigitaleFactuurClient(
            DEMO_ACCOUNT_ID,
            DEMO_ACCESS_CODE,
            transport=self.df[tenant].transport(),
            rate_limit=None,
        )
        assert DEMO_CREDENTIALS.access_token is not None
        eb = EBoekhoudenRestClient(
            DEMO_CREDENTIALS.access_token, transport=self.eb[tenant].transport()
        )
        connectors = [DigitaleFactuurConnector(df), EBoekhoudenConnector(eb, DEMO_VAT_TABLE)]
        return _Closing(self.crm(tenant), tenant, self.closed), connectors


class _Closing(SqliteCRM):
    """The tenant's CRM, noting that the task closed it."""

    def __init__(self, crm: SqliteCRM, tenant: str, closed: list[str]) -> None:
        self.__dict__.update(crm.__dict__)
        self._tenant, self._closed = tenant, closed

    def close(self) -> None:
        self._closed.append(self._tenant)
        super().close()


def organisation(name: str, number: str) -> Organisation:
    address = Address(
        kind="invoice", street="Haagweg", house_number=4, postcode="2311 AA", city="Leiden"
    )
    return Organisation(name=name, debtor_number=number, addresses=[address])


def sales_invoice(number: str, relation_code: str) -> Invoice:
    """A sales invoice of 100.00 plus 21 % VAT."""
    return Invoice(
        number=number, relation_code=relation_code, date=dt.date(2026, 11, 2),
        kind=InvoiceKind.SALES,
        lines=[InvoiceLine(description="Advies", unit_price="100.00", vat_category="nl_high")],
    )  # fmt: skip


@pytest.fixture
def tenants(tmp_path: Path) -> Iterator[SandboxTenants]:
    resolver = SandboxTenants(tmp_path, 3)
    yield resolver
    for name in resolver.names:
        PostgresStateStore.forget_tenant(DSN, name)


@pytest.fixture
def app() -> Any:
    app = celery.Celery("crmconnect-tests", broker=REDIS_URL, backend=None)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    return app


@pytest.fixture
def marks() -> Iterator[Any]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    for key in client.scan_iter("crmconnect:*"):
        client.delete(key)


def test_install_registers_the_four_tasks_safe_for_redelivery_and_the_beat_entry(
    app: Any, tenants: SandboxTenants
) -> None:
    crm = install(app, tenants, dsn=DSN, due_every=30)
    for name in ("sync_tenant", "sync_due", "push_relation", "book_invoice"):
        task = app.tasks[f"crmconnect.{name}"]
        assert task.name == getattr(crm, name).name
        assert task.acks_late and task.reject_on_worker_lost  # a lost worker: delivered again
    assert app.conf.beat_schedule["crmconnect.sync_due"] == {
        "task": "crmconnect.sync_due",
        "schedule": 30,
    }
    with pytest.raises(ConfigurationError, match="resolver"):
        install(app, object(), dsn=DSN)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="unknown flow 'hourly'"):
        CelerySettings(dsn=DSN, intervals={"hourly": dt.timedelta(hours=1)})


def test_sync_tenant_runs_one_tenants_flows_with_its_own_state_and_closes_it(
    app: Any, tenants: SandboxTenants
) -> None:
    crm = install(app, tenants, dsn=DSN, beat=False)
    first, other = tenants.names[0], tenants.names[1]
    with tenants.crm(first) as host:
        host.add(organisation("Garage De Vries", "1001"))
    tenants.df[first].add_relation(relatienummer="1002", naam="Bakkerij Jansen")

    result = crm.sync_tenant.delay(first, [RELATIONS]).get()

    assert result["skipped"] is False and result["flows"] == [RELATIONS]
    # 1001 to DigitaleFactuur and e-Boekhouden; 1002 from DigitaleFactuur into the CRM and on.
    assert result["counts"]["created"] == 4
    assert [r.get("code") for r in tenants.eb[first].relations] == ["1001", "1002"]
    assert tenants.eb[other].relations == []  # another tenant's books are untouched
    assert tenants.closed == [first]
    with PostgresStateStore(DSN, tenant=first) as state:
        [run] = state.runs()
        assert (run.flow, run.status, run.tenant) == ("relations", "ok", first)
        assert run.worker and str(os.getpid()) in run.worker
    again = crm.sync_tenant.delay(first).get()  # every flow, nothing changed
    assert again["counts"]["created"] == again["counts"]["updated"] == 0


def test_a_tenant_whose_lock_is_taken_is_skipped_without_a_run_row(
    app: Any, tenants: SandboxTenants
) -> None:
    crm = install(app, tenants, dsn=DSN, beat=False, redis_url=REDIS_URL)
    tenant = tenants.names[0]
    marks = redis.Redis.from_url(REDIS_URL)
    key = f"crmconnect:queued:default:{tenant}"
    marks.set(key, "sync_due", ex=7200)
    with PostgresStateStore(DSN, tenant=tenant) as holder:
        assert holder.acquire_lease("another-worker", dt.timedelta(minutes=5))
        result = crm.sync_tenant.delay(tenant).get()
        assert 0 < marks.ttl(key) <= 120  # queued again soon, whoever held the lock
        marks.delete(key)
        assert result["skipped"] is True and "holds the state" in result["reason"]
        assert holder.runs() == []
        holder.release_lease("another-worker")
    assert crm.sync_tenant.delay(tenant).get()["skipped"] is False


def test_sync_due_queues_each_due_tenant_once(
    app: Any, tenants: SandboxTenants, marks: Any
) -> None:
    crm = install(app, tenants, dsn=DSN, beat=False, redis_url=REDIS_URL)
    busy = tenants.names[2]
    marks.set(f"crmconnect:queued:default:{busy}", "worker-x", ex=60)  # queued or running

    first = crm.sync_due.delay().get()

    assert (first["tenants"], first["due"], first["queued"]) == (3, 3, 2)
    for tenant in tenants.names[:2]:
        with PostgresStateStore(DSN, tenant=tenant) as state:
            assert [run.flow for run in state.runs()] == ["all"]  # KvK too: nothing to do there
        assert marks.get(f"crmconnect:queued:default:{tenant}") is None  # the task ended
    again = crm.sync_due.delay().get()
    assert (again["due"], again["queued"]) == (1, 0)  # only the one still marked queued


def test_due_flows_follow_each_flows_interval_and_ignore_cut_off_runs() -> None:
    now = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
    settings = CelerySettings(
        dsn=DSN, intervals={RELATIONS: dt.timedelta(hours=1), PAYMENTS: dt.timedelta(minutes=15)}
    )

    def run(tenant: str, flow: str, minutes_ago: int, status: str = "ok") -> RunRecord:
        started = now - dt.timedelta(minutes=minutes_ago)
        ended = None if status == "running" else started + dt.timedelta(seconds=5)
        return RunRecord(1, flow, started, ended, status, tenant=tenant)

    runs = [
        run("a", "relations+payments", 10),
        run("b", "all", 30),
        run("c", "relations", 5, status="running"),  # cut off: due again
        run("c", "payments", 70),
        run("e", "relations+payments", 12, status="failed"),  # a remote fault: due again soon
        run("f", "relations+payments", 8, status="failed"),
    ]
    due = due_flows(["a", "b", "c", "d", "e", "f"], runs, settings, now)
    assert due == {
        "b": [PAYMENTS],
        "c": [RELATIONS, PAYMENTS],
        "d": [RELATIONS, PAYMENTS],
        "e": [RELATIONS, PAYMENTS],
    }


def test_push_relation_waits_for_a_run_then_retries_and_nothing_is_lost(
    app: Any, tenants: SandboxTenants
) -> None:
    crm = install(app, tenants, dsn=DSN, beat=False, push_wait=0.2, push_retries=1)
    tenant = tenants.names[0]
    with tenants.crm(tenant) as host:
        host_id = host.add(organisation("Garage De Vries", "1001"))
    with PostgresStateStore(DSN, tenant=tenant) as holder:
        assert holder.acquire_lease("a-long-run", dt.timedelta(minutes=5))
        with pytest.raises(celery.exceptions.Retry):
            crm.push_relation.apply(args=(tenant, host_id), throw=True, retries=0).get()
        result = crm.push_relation.apply(args=(tenant, host_id), retries=1).get()  # retries spent
        assert result["counts"]["failed"] == 2  # reported: the next run sends it
        holder.release_lease("a-long-run")
    assert tenants.eb[tenant].relations == []
    crm.sync_tenant.delay(tenant, [RELATIONS]).get()
    assert [r.get("code") for r in tenants.eb[tenant].relations] == ["1001"]
    pushed = crm.push_relation.delay(tenant, host_id).get()
    assert pushed["counts"]["failed"] == 0


def test_book_invoice_books_once_and_payments_come_back(app: Any, tenants: SandboxTenants) -> None:
    crm = install(app, tenants, dsn=DSN, beat=False)
    tenant = tenants.names[0]
    with tenants.crm(tenant) as host:
        host.add(organisation("Garage De Vries", "1001"))
        host.add_invoice(sales_invoice("F1", "1001"))
    crm.sync_tenant.delay(tenant, [RELATIONS]).get()

    booked = crm.book_invoice.delay(tenant, "F1").get()
    again = crm.book_invoice.delay(tenant, "F1").get()

    assert booked["booked"] and again["booked"]
    assert len(tenants.eb[tenant].mutations) == 1  # once
    tenants.eb[tenant].pay("F1", "121.00", relation_code="1001")
    crm.sync_tenant.delay(tenant, [PAYMENTS, BOOKINGS]).get()
    with tenants.crm(tenant) as host:
        assert host.payment_state("F1") is PaymentState.PAID


def test_a_shared_rate_limit_holds_across_threads_and_stores_no_secret() -> None:
    secret = f"key-{uuid.uuid4().hex}"
    limits = [SharedRateLimit(REDIS_URL, "kvk", secret, rate=5) for _ in range(3)]
    assert secret not in repr(limits[0]) and secret not in limits[0].key
    stamps: list[float] = []

    def work(limit: SharedRateLimit) -> None:
        for _ in range(4):
            limit.acquire()
            stamps.append(time.monotonic())

    threads = [threading.Thread(target=work, args=(limit,)) for limit in limits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    # 12 requests at 5 a second: no second-long window holds more than 5 of them.
    assert all(stamps[i + 5] - stamps[i] >= 0.95 for i in range(len(stamps) - 5))
    with pytest.raises(ConfigurationError):
        SharedRateLimit(REDIS_URL, "kvk", secret, rate=0)


def test_a_visibility_timeout_shorter_than_a_run_warns(app: Any, tenants: SandboxTenants) -> None:
    tenant = tenants.names[0]
    with PostgresStateStore(DSN, tenant=tenant) as state:
        run = state.start_run("all")
        time.sleep(1.2)
        state.end_run(run.run_id, "ok", {}, [])
    app.conf.broker_transport_options = {"visibility_timeout": 1}
    with pytest.warns(RuntimeWarning, match="visibility_timeout"):
        install(app, tenants, dsn=DSN, beat=False)
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    install(app, tenants, dsn=DSN, beat=False)  # no warning (pytest's filter would fail it)


def test_host_number_roles_reach_each_tenants_own_books(app: Any, tenants: SandboxTenants) -> None:
    crm = install(app, tenants, dsn=DSN, beat=False)
    for index, tenant in enumerate(tenants.names):
        with tenants.crm(tenant) as host:
            host.add(organisation(f"Klant {index}", f"100{index}"))
    for tenant in tenants.names:
        crm.sync_tenant.delay(tenant, [RELATIONS]).get()
    for index, tenant in enumerate(tenants.names):
        assert [r.get("code") for r in tenants.eb[tenant].relations] == [f"100{index}"]
        with tenants.crm(tenant) as host:
            assert host.find_by_number(Role.DEBTOR, f"100{index}") is not None


def test_each_run_logs_one_structured_line_without_secrets(
    app: Any, tenants: SandboxTenants, caplog: pytest.LogCaptureFixture
) -> None:
    crm = install(app, tenants, dsn=DSN, beat=False)
    tenant = tenants.names[0]
    with caplog.at_level("INFO", logger="crmconnect.celery"):
        crm.sync_tenant.delay(tenant, [RELATIONS]).get()
    [line] = [r for r in caplog.records if r.name == "crmconnect.celery"]
    assert tenant in line.getMessage() and getattr(line, "tenant", None) == tenant
    assert getattr(line, "flows", None) == [RELATIONS] and "created" in getattr(line, "counts", {})
    assert DEMO_CREDENTIALS.access_token is not None
    for secret in (DEMO_ACCESS_CODE, DEMO_CREDENTIALS.access_token):
        assert secret not in caplog.text
