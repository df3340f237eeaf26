"""Many tenants: one hourly cycle of the Celery task bodies over PostgreSQL state, on 2 cores.

A simulation of a CRM vendor's hourly cycle: TENANTS tenants with RELATIONS
relations each. Every tenant is a `SqliteCRM` file of its own and an account
of its own in ONE DigitaleFactuur sandbox process (``python -m
crmconnect.sandbox digitalefactuur --any-account``, on loopback, no latency
added unless ``--latency``); the state of every tenant is in PostgreSQL
(`PostgresStateStore`), under tenant names with a run-unique prefix that are
forgotten afterwards (`PostgresStateStore.forget_tenant`). Each tenant run is
the task body of ``crmconnect.sync_tenant`` (`crmconnect.contrib.celery`'s
``_tasks.sync_tenant`` over the context `install` builds: a store per task
from the DSN, the tenant's lock, the run history), run by N worker processes
(``multiprocessing``, one task at a time each, as a Celery prefork worker
with prefetch 1) without a broker. The remote side is the sandbox process
over real HTTP, not a model: its CPU shares the same two cores.

Setup (timed apart): both sides are filled directly with the same relations
(the CRM file copied from a template, the sandbox accounts opened through its
control endpoint), then one first run per tenant (every flow, as the first
``sync_due`` queues) links every relation by number, in the worker processes.

The cycle: 1 % of each tenant's relations change, half in the CRM (a name:
one write to DigitaleFactuur each) and half in DigitaleFactuur (a city: one
write into the CRM each). The due flows are found as ``sync_due`` finds them
(one query of the run history, an hour later), then every due tenant runs
once. Measured: the cycle's wall time; per tenant run its wall time, CPU time,
HTTP calls, state-store queries, and the time split into listing and reading
(the DF listing, state and host reads: per record, as DF has no change filter)
vs. the changed records (remote, host and state writes) vs. the task's own
(setup, lock, run history, closing) vs. the rest (planning in Python); peak RSS
per worker process. The cycle runs at 10 %, 30 % and 100 % of the tenants (100,
300, 1,000), and at the smallest size also with 0 % and 5 % changed, to show
the cost per changed record. Accounting is checked (and the script fails
otherwise): each cycle writes exactly the changed records, on the right side,
and the run history shows exactly one ``ok`` run per tenant.

State-store queries are counted in each worker process by wrapping
``psycopg.connect`` (a cursor class counting ``execute`` and each parameter
set of ``executemany``; a connection class counting transaction blocks, each
a BEGIN and a COMMIT): this server has no ``pg_stat_statements`` loaded, and
other clients share it.

Sizing: from the measured CPU time, HTTP calls and queries per tenant run,
the time of a run in production is estimated with ``--remote-latency``
(100 ms per DigitaleFactuur call, which is also DF's default client limit of
10 calls/s) and ``--db-latency`` (1 ms per PostgreSQL round trip), and from it
the worker processes a vendor needs for 10,000 tenants every hour.

Run ``python benchmarks/tenants.py [--tenants 1000] [--relations 1000] [--workers 2]``,
``--quick`` for 100 tenants x 200 relations (a smoke run of about 2 minutes).
PostgreSQL: ``--dsn`` or ``CRMCONNECT_TEST_POSTGRES_DSN`` (default
postgresql://postgres@127.0.0.1:5432/test); ``PostgresStateStore.upgrade_schema``
is run first.

Measured on this machine (2 cores, shared with other work; the sandbox and
PostgreSQL on the same cores), 1,000 tenants x 1,000 relations, 2 workers,
whole benchmark 1,325 s (the cycles at commit c8ec2f8; the first runs began
on the engine of 798eac9, see below)::

    setup: both sides filled directly in 19.6 s; first runs of 1,000 tenants in
    1,101.7 s with 2 workers (1.1 s of setup per tenant). Per first run: 2.20 s
    wall, 0.88 s CPU, 11 HTTP calls, 3,021 statements in 2,007 transactions,
    1.49 s waiting on PostgreSQL. At c8ec2f8 (20 tenants): 1.71 s wall, 0.96 s
    CPU, 4,023 statements in 2,007 transactions.

    one hourly cycle; per tenant run in ms (means)
    tenants % chg chg/t cycle s  ms/t  wall   CPU HTTP io engine listing reading changed task planning calls stmts   tx RSS MB
        100     1  10.0   10.61 106.1 209.7  90.2    63.0  146.7    71.5    31.9    45.9 43.8     16.6  16.0  53.0 17.0    101
        100     0   0.0    7.59  75.9 149.2  62.5    58.0   91.2    78.6    14.7     3.5 39.8     12.5  11.0  27.0  8.0    101
        100     5  50.0   18.58 185.8 369.1 159.5    89.4  279.7    70.7    58.6   163.4 42.4     34.1  36.0 173.0 57.0    101
        300     1  10.0   33.53 111.8 221.6  90.7    65.7  155.9    80.8    32.3    46.0 45.2     17.4  16.0  61.3 17.3    105
       1000     1  10.0  100.25 100.3 199.2  88.8    61.6  137.6    75.1    28.0    40.5 40.6     15.0  16.0  54.5 17.3    107
    growth: 100 -> 1000 tenants (10.0x): cycle 10.6 s -> 100.3 s (9.45x)
    engine time per tenant run: 91.2 ms with 0 % changed, + 3.77 ms per changed record
    CPU time per tenant run: 62.5 ms with 0 % changed, + 1.94 ms per changed record
    where a run's time goes (ms, HTTP included): connector.relations 75.1, resolver.setup 25.5,
      store.save_link 18.3, connector.update_relation 15.0, store.links 13.8,
      store.acquire_lease 6.8, host.save_party 5.5, host.party 4.0
    peak RSS per worker process in the 1000-tenant cycle, MB: 107, 107

    sizing: 10,000 tenants x 1000 relations, 1 % changed, every hour
    measured here: 100 ms of cycle per tenant with 2 workers (no remote latency):
      17 minutes for 10,000 tenants on this machine
    in production, per tenant run: 89 ms CPU + 16.0 DF calls x 100 ms
      + 92 PostgreSQL round trips x 1.0 ms = 1.78 s
    => 4.9 worker-hours per hourly cycle: 5 worker processes busy all hour,
      10 to finish in 30 minutes; CPU 0.25 cores in all

Read: the cycle grows with the tenants (9.45x for 10x), and per tenant with
the changed records: each costs 3.8 ms of engine time (1.9 ms CPU, about 3
statements and one transaction, and one DF call when the CRM changed it).
What every run pays whatever changed is the DF listing (one call per 100
relations: DF has no change filter, so it grows with all records, at about
0.05 ms of engine time per unchanged relation besides the call) and the task's
own 40 ms (of which ~17 ms building a new httpx client, i.e. its SSL context,
per task, and ~7 ms connecting to PostgreSQL and taking the lock). In
production the run is waiting on DigitaleFactuur for 1.6 s of its 1.78 s.
A first run is dominated by PostgreSQL round trips (2 transactions and 3-4
statements per relation): ~10 s per 1,000-relation tenant at 1 ms a round trip.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import math
import multiprocessing
import os
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import attrs
import httpx
import psycopg
from sandbox_process import start_sandbox

from crmconnect.contrib.celery import _install, _tasks
from crmconnect.contrib.celery._tasks import CelerySettings, due_flows, flows_of
from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector
from crmconnect.mapping import DIGITALEFACTUUR_RELATIONS
from crmconnect.models import Address, Organisation
from crmconnect.sandbox import DigitaleFactuurSandbox, SandboxControl
from crmconnect.sync import PostgresStateStore, Role, SqliteStateStore, SyncEngine

DEFAULT_DSN = os.environ.get(
    "CRMCONNECT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
RANGES = {Role.DEBTOR: (100_000, 199_999), Role.CREDITOR: (200_000, 299_999)}
"""Six-digit numbers: 1,000 relations do not fit the default 1xxx range."""
DF_MAPPING = attrs.evolve(DIGITALEFACTUUR_RELATIONS, number_ranges=RANGES)
CITIES = ("Utrecht", "Zwolle", "Leiden", "Delft", "Ede", "Breda", "Epe", "Venlo")
EDITED_CITIES = ("Gouda", "Assen", "Baarn", "Hoorn", "Tiel", "Weert", "Sneek", "Vaals")
REMOTE_WRITES = ("klant_updaten", "klant_aanmaken")
TARGET_TENANTS = 10_000


# -- instrumentation: one meter per process (a worker runs one task at a time) ----------------


@attrs.define
class Meter:
    """What one tenant run cost: time per bucket, HTTP calls, PostgreSQL statements."""

    seconds: dict[str, float] = attrs.field(factory=lambda: collections.defaultdict(float))
    calls: collections.Counter[str] = attrs.field(factory=collections.Counter)
    named: dict[str, float] = attrs.field(factory=lambda: collections.defaultdict(float))
    """Seconds per call name (outermost calls only)."""
    http: collections.Counter[str] = attrs.field(factory=collections.Counter)
    http_io: float = 0.0
    pg_io: float = 0.0
    statements: int = 0
    transactions: int = 0
    connects: int = 0
    depth: int = 0

    def reset(self) -> None:
        """Zero every figure (a worker process runs one task at a time)."""
        self.seconds, self.named = collections.defaultdict(float), collections.defaultdict(float)
        self.calls, self.http = collections.Counter(), collections.Counter()
        self.http_io = self.pg_io = 0.0
        self.statements = self.transactions = self.connects = self.depth = 0

    @contextlib.contextmanager
    def timed(self, bucket: str, name: str) -> Iterator[None]:
        """Time a call into ``bucket``; calls made inside it count only for the outer one."""
        self.calls[name] += 1
        if self.depth:
            yield
            return
        self.depth += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self.depth -= 1
            spent = time.perf_counter() - started
            self.seconds[bucket] += spent
            self.named[name] += spent


METER = Meter()

BUCKETS: dict[str, dict[str, tuple[str, ...]]] = {
    "listing": {"connector": ("relations",)},
    "reading": {
        "store": ("links", "link", "link_by_remote", "bookmark", "mark", "marks", "intents"),
        "host": ("changed_parties", "deleted_parties", "party", "find_by_number",
                 "invoices_to_book", "open_invoices"),
    },
    "changed": {
        "connector": ("update_relation", "create_relation", "find_relation", "remove_relation"),
        "host": ("create_party", "save_party", "set_number", "flag_for_review",
                 "record_booking", "record_payment"),
        "store": ("save_link", "set_remote_digests", "remove_link", "set_marks", "set_bookmark",
                  "add_intent", "finish_intent"),
    },
    "task": {
        "store": ("acquire_lease", "release_lease", "lease_holder", "start_run", "end_run",
                  "runs", "close"),
        "host": ("close",),
        "connector": ("close",),
    },
}  # fmt: skip
"""Which calls of the store, the host and the connector count where (listing: HTTP included)."""
HOST_WRITES = ("host.create_party", "host.save_party")


def _metered(cls: type[Any], part: str) -> type[Any]:
    """A subclass of ``cls`` whose calls named in `BUCKETS` for ``part`` are timed."""

    def wrap(method: Callable[..., Any], bucket: str, name: str) -> Callable[..., Any]:
        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            with METER.timed(bucket, name):
                return method(self, *args, **kwargs)

        return timed

    namespace = {
        name: wrap(getattr(cls, name), bucket, f"{part}.{name}")
        for bucket, parts in BUCKETS.items()
        for name in parts.get(part, ())
    }
    return type(f"Metered{cls.__name__}", (cls,), namespace)


MeteredCRM = _metered(SqliteCRM, "host")
MeteredConnector = _metered(DigitaleFactuurConnector, "connector")
MeteredStore = _metered(PostgresStateStore, "store")


class CountingCursor(psycopg.Cursor[Any]):
    """Counts statements (each parameter set of ``executemany``) and their round trips."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        METER.statements += 1
        started = time.perf_counter()
        try:
            return super().execute(query, params, **kwargs)
        finally:
            METER.pg_io += time.perf_counter() - started

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
        rows = list(params_seq)
        METER.statements += len(rows)
        started = time.perf_counter()
        try:
            super().executemany(query, rows, **kwargs)
        finally:
            METER.pg_io += time.perf_counter() - started


class CountingConnection(psycopg.Connection[Any]):
    """Counts transaction blocks (a BEGIN and a COMMIT each) and times them."""

    @contextlib.contextmanager
    def transaction(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        METER.transactions += 1
        started = time.perf_counter()
        with super().transaction(*args, **kwargs) as block:
            METER.pg_io += time.perf_counter() - started
            yield block
            started = time.perf_counter()
        METER.pg_io += time.perf_counter() - started


@contextlib.contextmanager
def counting_postgres() -> Iterator[None]:
    """``psycopg.connect`` (what the store calls) makes counting connections, in this process."""
    original = psycopg.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        METER.connects += 1
        started = time.perf_counter()
        try:
            return CountingConnection.connect(*args, cursor_factory=CountingCursor, **kwargs)
        finally:
            METER.pg_io += time.perf_counter() - started

    psycopg.connect = connect
    try:
        yield
    finally:
        psycopg.connect = original


class CountingTransport(httpx.HTTPTransport):
    """Counts DigitaleFactuur calls by action and the time spent in them (body read included)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        response.read()
        METER.http_io += time.perf_counter() - started
        action = request.url.raw_path.decode().split("/", 5)[-1].split("&", 1)[0]
        METER.http[action.split("?", 1)[0]] += 1
        return response


# -- tenants and their data -------------------------------------------------------------------


@attrs.frozen
class Tenant:
    """One tenant: its name in the state store, its DF account and its CRM file."""

    index: int
    name: str
    account_id: str
    access_code: str
    crm: Path


def make_tenants(prefix: str, count: int, folder: Path) -> list[Tenant]:
    return [
        Tenant(n, f"{prefix}-{n:05d}", str(30_000 + n), f"code-{prefix}-{n:05d}",
               folder / f"crm-{n:05d}.sqlite")
        for n in range(count)
    ]  # fmt: skip


def host_party(n: int) -> Organisation:
    """A CRM organisation numbered 100000 + n, with an invoice address and an email address."""
    address = Address(
        kind="invoice", street="Dorpsstraat", house_number=n % 500 + 1,
        postcode=f"{1000 + n % 8999} AB", city=CITIES[n % len(CITIES)],
    )  # fmt: skip
    return Organisation(
        name=f"Klant {n} B.V.", debtor_number=str(100_000 + n), addresses=[address],
        contact={"email": f"info{n}@klant.example"},
    )  # fmt: skip


def make_template(folder: Path, relations: int) -> tuple[Path, list[dict[str, str]]]:
    """A CRM file with the relations, and the same relations as DigitaleFactuur holds them.

    The DF side is what the engine writes for the CRM's parties (pushed once into
    an in-process sandbox), so that a tenant's first run finds both sides equal.
    """
    path = folder / "template.sqlite"
    sandbox = DigitaleFactuurSandbox()
    with (
        SqliteCRM(path) as crm,
        SqliteStateStore(folder / "template-state.sqlite") as state,
        DigitaleFactuurClient(
            "10001", "sandbox-access-code", transport=sandbox.transport(), rate_limit=None
        ) as client,
    ):
        crm.add_many(host_party(n) for n in range(relations))
        report = SyncEngine(crm, [DigitaleFactuurConnector(client, mapping=DF_MAPPING)],
                            state=state).run("relations")  # fmt: skip
        assert report.failed == 0, report.failures[:3]
    skip = {"id", "aanmaakdatum"}
    return path, [{k: v for k, v in r.items() if k not in skip} for r in sandbox.relations]


def changed_positions(
    relations: int, percent: float, index: int, cycle: int
) -> tuple[list[int], list[int]]:
    """The relations one tenant changes in a cycle: (in the CRM, in DigitaleFactuur), apart."""
    changed = 0 if percent == 0 else max(2, round(relations * percent / 100))
    if changed == 0:
        return [], []
    step = max(1, relations // changed)
    offset = (index * 7 + cycle * 13) % step
    positions = [(offset + k * step) % relations for k in range(changed)]
    return positions[0::2], positions[1::2]


# -- the worker processes ---------------------------------------------------------------------


class Tenants:
    """The vendor's resolver: each tenant's CRM file and its DF account in the sandbox."""

    def __init__(self, tenants: Sequence[Tenant], url: str) -> None:
        self.by_name = {t.name: t for t in tenants}
        self.url = url

    def tenants(self) -> list[str]:
        return list(self.by_name)

    def setup(self, tenant: str) -> tuple[Any, list[Any]]:
        with METER.timed("task", "resolver.setup"):
            found = self.by_name[tenant]
            client = DigitaleFactuurClient(
                found.account_id, found.access_code, base_url=f"{self.url}/api",
                rate_limit=None, transport=CountingTransport(),
            )  # fmt: skip
            return MeteredCRM(found.crm), [MeteredConnector(client, mapping=DF_MAPPING)]


def make_context(tenants: Sequence[Tenant], url: str, dsn: str) -> _tasks._Context:
    """The tasks' context as `install` builds it (a store per task from the DSN), metered."""
    settings = CelerySettings(dsn=dsn)
    context = _install._context(Tenants(tenants, url), settings)
    context.open_store = lambda tenant: MeteredStore(
        dsn, tenant=tenant, connection=settings.connection, worker=_tasks.worker_name()
    )
    return context


WORKER: dict[str, Any] = {}
"""This worker process's context and tenants (set by `start_worker`)."""


def start_worker(tenants: Sequence[Tenant], url: str, dsn: str) -> None:
    """Pool initializer: the context, and counting connections for good (this process only)."""
    WORKER["context"] = make_context(tenants, url, dsn)
    WORKER["tenants"] = {t.name: t for t in tenants}
    WORKER["counting"] = counting_postgres()
    WORKER["counting"].__enter__()


def ping(_: int) -> int:
    time.sleep(0.05)
    return os.getpid()


@attrs.frozen
class TaskFigures:
    """One tenant run as measured in its worker."""

    tenant: str
    pid: int
    result: dict[str, Any]
    wall: float
    cpu: float
    http: dict[str, int]
    http_io: float
    pg_io: float
    statements: int
    transactions: int
    connects: int
    seconds: dict[str, float]
    calls: dict[str, int]
    named: dict[str, float]
    rss_mb: float

    @property
    def remote_writes(self) -> int:
        return sum(self.http.get(action, 0) for action in REMOTE_WRITES)

    @property
    def host_writes(self) -> int:
        return sum(self.calls.get(name, 0) for name in HOST_WRITES)

    @property
    def http_calls(self) -> int:
        return sum(self.http.values())

    @property
    def engine(self) -> float:
        """Wall time outside the DigitaleFactuur calls (PostgreSQL and SQLite included)."""
        return self.wall - self.http_io

    def part(self, bucket: str) -> float:
        if bucket == "planning":
            return self.wall - sum(self.seconds.values())
        return self.seconds.get(bucket, 0.0)


def sync_task(job: tuple[str, list[str] | None]) -> TaskFigures:
    """One ``crmconnect.sync_tenant`` task body, measured."""
    tenant, flows = job
    METER.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    result = _tasks.sync_tenant(WORKER["context"], tenant, flows)
    return TaskFigures(
        tenant, os.getpid(), result, time.perf_counter() - wall, time.process_time() - cpu,
        dict(METER.http), METER.http_io, METER.pg_io, METER.statements, METER.transactions,
        METER.connects, dict(METER.seconds), dict(METER.calls), dict(METER.named),
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )  # fmt: skip


def edit_host(job: tuple[str, list[int], int]) -> int:
    """Change the names of some of a tenant's parties in its CRM (as its users do)."""
    tenant, positions, cycle = job
    with SqliteCRM(WORKER["tenants"][tenant].crm) as crm:
        for n in positions:
            party = crm.find_by_number(Role.DEBTOR, str(100_000 + n))
            assert isinstance(party, Organisation)
            crm.save(party.model_copy(update={"name": f"Klant {n} B.V. c{cycle}"}))
    return len(positions)


class Workers:
    """N worker processes (spawned, warmed up), or this process itself when N is 0."""

    def __init__(self, count: int, tenants: Sequence[Tenant], url: str, dsn: str) -> None:
        self.count = count
        self.pool: Pool | None = None
        self._inline: contextlib.ExitStack | None = None
        if count == 0:
            self._inline = contextlib.ExitStack()
            self._inline.enter_context(counting_postgres())
            WORKER.update(
                context=make_context(tenants, url, dsn), tenants={t.name: t for t in tenants}
            )
            return
        self.pool = multiprocessing.get_context("spawn").Pool(
            count, start_worker, (list(tenants), url, dsn)
        )
        seen: set[int] = set()
        while len(seen) < count:  # every process started and imported before timing
            seen.update(self.pool.map(ping, range(count * 2), chunksize=1))

    def map(self, task: Callable[[Any], Any], jobs: Sequence[Any]) -> Iterator[Any]:
        if self.pool is None:
            return (task(job) for job in jobs)
        return self.pool.imap_unordered(task, jobs, chunksize=1)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()
        if self._inline is not None:
            self._inline.close()
            WORKER.clear()


@contextlib.contextmanager
def workers(count: int, tenants: Sequence[Tenant], url: str, dsn: str) -> Iterator[Workers]:
    pool = Workers(count, tenants, url, dsn)
    try:
        yield pool
    finally:
        pool.close()


# -- the benchmark ----------------------------------------------------------------------------


@attrs.frozen
class Options:
    tenants: int = 1000
    relations: int = 1000
    workers: int = 2
    cycles: tuple[int, ...] = ()
    """Tenant counts the 1 % cycle runs at (default 10 %, 30 % and 100 % of ``tenants``)."""
    slopes: tuple[float, ...] = (0.0, 5.0)
    """Further percentages changed, run at the smallest cycle size."""
    latency: float = 0.0
    dsn: str = DEFAULT_DSN
    remote_latency: float = 0.1
    db_latency: float = 0.001
    quiet: bool = False

    @property
    def sizes(self) -> tuple[int, ...]:
        wanted = self.cycles or tuple(max(1, round(self.tenants * f)) for f in (0.1, 0.3, 1.0))
        return tuple(sorted({min(size, self.tenants) for size in wanted}))


@attrs.frozen
class Cycle:
    """One hourly cycle over ``size`` tenants with ``percent`` of their relations changed."""

    size: int
    percent: float
    wall: float
    due_seconds: float
    tasks: list[TaskFigures]
    expected: dict[str, tuple[int, int]]
    """Per tenant: (changed in the CRM, changed in DigitaleFactuur)."""


@attrs.frozen
class Results:
    prefix: str
    options: Options
    fill_seconds: float
    first_wall: float
    first: list[TaskFigures]
    cycles: list[Cycle]
    forgotten: int


class Bench:
    """The sandbox, the tenants and the workers' settings of one benchmark run."""

    def __init__(self, options: Options, folder: Path, url: str, control: SandboxControl) -> None:
        self.options = options
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"
        self.tenants = make_tenants(self.prefix, options.tenants, folder)
        self.folder = folder
        self.url = url
        self.control = control
        self.ids: dict[str, str] = {}  # relation number -> DF id (the same in every account)
        self.cycle_number = 0

    def say(self, text: str) -> None:
        if not self.options.quiet:
            print(text, flush=True)

    def fill(self) -> float:
        """Both sides of every tenant filled directly: CRM files copied, DF accounts opened."""
        started = time.perf_counter()
        template, relations = make_template(self.folder, self.options.relations)
        for tenant in self.tenants:
            shutil.copyfile(template, tenant.crm)
            self.control.call("add_account", account_id=tenant.account_id,
                              access_code=tenant.access_code, relations=relations)  # fmt: skip
        for tenant in (self.tenants[0], self.tenants[-1]):
            listed = self.control.call("relations", account=tenant.account_id)
            ids = {r["relatienummer"]: r["id"] for r in listed}
            assert not self.ids or ids == self.ids, "accounts numbered their relations apart"
            self.ids = ids
        return time.perf_counter() - started

    def first_runs(self, pool: Workers) -> tuple[float, list[TaskFigures]]:
        """Every tenant's first run (every flow): links every relation by number, writes nothing."""
        started = time.perf_counter()
        jobs = [(t.name, None) for t in self.tenants]
        found: list[TaskFigures] = []
        for figures in pool.map(sync_task, jobs):
            found.append(figures)
            if len(found) % max(1, len(jobs) // 10) == 0:
                self.say(
                    f"  first runs: {len(found)}/{len(jobs)} after {time.perf_counter() - started:.0f} s"
                )
        wall = time.perf_counter() - started
        for figures in found:
            counts = figures.result["counts"]
            assert not figures.result["skipped"] and counts["failed"] == 0, figures.result
            assert figures.remote_writes == figures.host_writes == 0, figures
            assert counts["unchanged"] >= self.options.relations, counts
        return wall, found

    def change(self, pool: Workers, size: int, percent: float) -> dict[str, tuple[int, int]]:
        """1 % (``percent``) of each of the first ``size`` tenants' relations changed, half each side."""
        self.cycle_number += 1
        cycle, expected = self.cycle_number, {}
        host_jobs, city = [], EDITED_CITIES[cycle % len(EDITED_CITIES)]
        for tenant in self.tenants[:size]:
            here, there = changed_positions(self.options.relations, percent, tenant.index, cycle)
            expected[tenant.name] = (len(here), len(there))
            host_jobs.append((tenant.name, here, cycle))
            for n in there:
                self.control.call("edit_relation", account=tenant.account_id,
                                  relation_id=self.ids[str(100_000 + n)],
                                  elements={"plaats": city})  # fmt: skip
        assert sum(pool.map(edit_host, host_jobs)) == sum(h for h, _ in expected.values())
        return expected

    def cycle(self, pool: Workers, size: int, percent: float) -> Cycle:
        """What ``sync_due`` finds due an hour later, then one task per due tenant."""
        expected = self.change(pool, size, percent)
        names = [t.name for t in self.tenants[:size]]
        started = time.perf_counter()
        context = make_context(self.tenants, self.url, self.options.dsn)
        now = dt.datetime.now(dt.UTC)
        runs = context.read_runs(now - dt.timedelta(days=1))
        due = due_flows(names, runs, context.settings, now + dt.timedelta(minutes=61))
        due_seconds = time.perf_counter() - started
        hourly = flows_of(["relations", "bookings", "payments"])
        assert sorted(due) == names and all(f == hourly for f in due.values()), due
        tasks = list(pool.map(sync_task, list(due.items())))
        wall = time.perf_counter() - started
        result = Cycle(size, percent, wall, due_seconds, tasks, expected)
        self.check(result, now)
        return result

    def check(self, cycle: Cycle, since: dt.datetime) -> None:
        """Each tenant ran once, ``ok``, and wrote exactly its changed records on each side."""
        assert sorted(t.tenant for t in cycle.tasks) == sorted(cycle.expected)
        for task in cycle.tasks:
            here, there = cycle.expected[task.tenant]
            counts = task.result["counts"]
            assert not task.result["skipped"], task.result
            assert counts["failed"] == counts["conflict"] == counts["created"] == 0, task.result
            assert (task.remote_writes, task.host_writes) == (here, there), (task, here, there)
            assert counts["updated"] == here + there, task.result
        with PostgresStateStore(self.options.dsn, tenant=f"{self.prefix}-check") as store:
            runs = [
                r for r in store.runs(since, tenant=None) if str(r.tenant).startswith(self.prefix)
            ]
        per_tenant = collections.Counter(str(r.tenant) for r in runs)
        assert per_tenant == dict.fromkeys(cycle.expected, 1), "not one run per tenant"
        assert all(r.status == "ok" and r.ended is not None for r in runs)

    def forget(self) -> int:
        return sum(PostgresStateStore.forget_tenant(self.options.dsn, t.name) for t in self.tenants)


def run(options: Options) -> Results:
    """Setup, the cycles, and forgetting the tenants: the figures (printed unless ``quiet``)."""
    PostgresStateStore.upgrade_schema(options.dsn)
    options_latency = ("--latency", str(options.latency)) if options.latency else ()
    process, url = start_sandbox("digitalefactuur", "--any-account", *options_latency,
                                 ready="/_control/info")  # fmt: skip
    try:
        with (
            tempfile.TemporaryDirectory(prefix="crmconnect-tenants-") as folder,
            SandboxControl(url, timeout=120) as control,
        ):
            bench = Bench(options, Path(folder), url, control)
            try:
                return measure(bench)
            finally:
                bench.say(f"forgetting {len(bench.tenants)} tenants {bench.prefix}-*")
                bench.forget()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def measure(bench: Bench) -> Results:
    options = bench.options
    bench.say(describe(options))
    fill = bench.fill()
    bench.say(f"\nsetup: both sides filled directly in {fill:.1f} s")
    with workers(options.workers, bench.tenants, bench.url, options.dsn) as pool:
        first_wall, first = bench.first_runs(pool)
    show_first(bench, fill, first_wall, first)
    cycles = []
    for size in options.sizes:
        with workers(options.workers, bench.tenants, bench.url, options.dsn) as pool:
            cycles.append(bench.cycle(pool, size, 1.0))
            if size == options.sizes[0]:
                cycles += [bench.cycle(pool, size, percent) for percent in options.slopes]
    show_cycles(bench, cycles)
    results = Results(bench.prefix, options, fill, first_wall, first, cycles, 0)
    show_sizing(bench, results)
    return results


# -- what is printed ----------------------------------------------------------------------------


def describe(options: Options) -> str:
    where = psycopg.conninfo.conninfo_to_dict(options.dsn)
    remote = f"{options.latency * 1000:.0f} ms added" if options.latency else "no latency added"
    return (
        f"{options.tenants} tenants x {options.relations} relations, {options.workers} worker"
        f" processes ({os.cpu_count()} cores)\n"
        f"remote: ONE DigitaleFactuur sandbox process (--any-account) on loopback HTTP, {remote};"
        f" an account per tenant\nhost: a SqliteCRM file per tenant; state: PostgreSQL at"
        f" {where.get('host')}:{where.get('port', 5432)}/{where.get('dbname')}\n"
        "tasks: crmconnect.contrib.celery's sync_tenant body (no broker); queries counted by"
        " wrapping psycopg.connect in each worker (no pg_stat_statements)"
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def show_first(bench: Bench, fill: float, wall: float, first: list[TaskFigures]) -> None:
    n = len(first)
    bench.say(
        f"setup: first run of {n} tenants (every relation linked by number) in {wall:.1f} s"
        f" with {bench.options.workers} workers; setup total {fill + wall:.1f} s\n"
        f"  per first run: {ms(mean([f.wall for f in first]))} ms wall,"
        f" {ms(mean([f.cpu for f in first]))} ms CPU,"
        f" {mean([f.http_calls for f in first]):.0f} HTTP calls,"
        f" {mean([f.statements for f in first]):.0f} statements in"
        f" {mean([f.transactions for f in first]):.0f} transactions,"
        f" {ms(mean([f.pg_io for f in first]))} ms waiting on PostgreSQL"
    )


PARTS = ("listing", "reading", "changed", "task", "planning")
COLUMNS = (
    ("tenants", 7), ("% chg", 5), ("chg/t", 5), ("cycle s", 7), ("ms/t", 6), ("wall", 6),
    ("CPU", 6), ("HTTP io", 7), ("engine", 6), *((p, 8) for p in PARTS), ("calls", 5),
    ("stmts", 5), ("tx", 4), ("RSS MB", 6),
)  # fmt: skip


def cycle_row(c: Cycle) -> list[str]:
    t = c.tasks
    values = [
        f"{c.size}", f"{c.percent:g}", f"{mean([sum(c.expected[x.tenant]) for x in t]):.1f}",
        f"{c.wall:.2f}", f"{c.wall / c.size * 1000:.1f}",
        *(f"{mean([getattr(x, name) for x in t]) * 1000:.1f}"
          for name in ("wall", "cpu", "http_io", "engine")),
        *(f"{mean([x.part(p) for x in t]) * 1000:.1f}" for p in PARTS),
        f"{mean([x.http_calls for x in t]):.1f}", f"{mean([x.statements for x in t]):.1f}",
        f"{mean([x.transactions for x in t]):.1f}", f"{max(x.rss_mb for x in t):.0f}",
    ]  # fmt: skip
    return [value.rjust(width) for value, (_, width) in zip(values, COLUMNS, strict=True)]


def show_cycles(bench: Bench, cycles: list[Cycle]) -> None:
    bench.say(
        "\n== one hourly cycle (due: relations, bookings, payments); per tenant run in ms"
        " (means), engine = wall - HTTP io = listing + reading + changed + task + planning"
        " - HTTP io\n" + " ".join(name.rjust(width) for name, width in COLUMNS)
    )
    for c in cycles:
        bench.say(" ".join(cycle_row(c)))
    main = [c for c in cycles if c.percent == 1.0]
    if len(main) > 1:
        a, b = main[0], main[-1]
        bench.say(
            f"growth: {a.size} -> {b.size} tenants ({b.size / a.size:.1f}x):"
            f" cycle {a.wall:.1f} s -> {b.wall:.1f} s ({b.wall / a.wall:.2f}x)"
        )
    sloped = sorted((c for c in cycles if c.size == cycles[0].size), key=lambda c: c.percent)
    if len(sloped) > 1:
        lo, hi = sloped[0], sloped[-1]
        extra = mean([sum(v) for v in hi.expected.values()]) - mean(
            [sum(v) for v in lo.expected.values()]
        )
        for label, name in (("engine", "engine"), ("CPU", "cpu")):
            low = mean([getattr(x, name) for x in lo.tasks])
            high = mean([getattr(x, name) for x in hi.tasks])
            bench.say(
                f"{label} time per tenant run: {low * 1000:.1f} ms with {lo.percent:g} % changed,"
                f" + {(high - low) / max(extra, 1e-9) * 1000:.2f} ms per changed record"
                f" (from {lo.percent:g} % to {hi.percent:g} % at {lo.size} tenants)"
            )
    if main:
        last = main[-1].tasks
        names = {name for x in last for name in x.named}
        spent = {name: mean([x.named.get(name, 0.0) for x in last]) for name in names}
        top = sorted(spent.items(), key=lambda item: -item[1])[:8]
        bench.say(
            "where a run's time goes (ms, HTTP included): "
            + ", ".join(f"{name} {value * 1000:.1f}" for name, value in top)
        )
    peaks: dict[int, float] = collections.defaultdict(float)
    for x in main[-1].tasks if main else ():
        peaks[x.pid] = max(peaks[x.pid], x.rss_mb)
    bench.say(
        f"peak RSS per worker process in the {main[-1].size if main else 0}-tenant cycle, MB: "
        + ", ".join(f"{v:.0f}" for v in peaks.values())
    )


def show_sizing(bench: Bench, results: Results) -> None:
    """Workers for TARGET_TENANTS tenants every hour, at production latencies."""
    options = bench.options
    cycle = [c for c in results.cycles if c.percent == 1.0][-1]
    t = cycle.tasks
    cpu = mean([x.cpu for x in t])
    calls = mean([x.http_calls for x in t])
    trips = mean([x.statements + 2 * x.transactions + 3 * x.connects for x in t])
    run_s = cpu + calls * options.remote_latency + trips * options.db_latency
    busy = TARGET_TENANTS * run_s
    half_hour = math.ceil(busy / 1800)
    cores = TARGET_TENANTS * cpu / 3600
    measured_rate = cycle.wall / cycle.size
    bench.say(
        f"\n== sizing: {TARGET_TENANTS:,} tenants x {options.relations} relations, 1 % changed, every hour\n"
        f"measured here: {measured_rate * 1000:.0f} ms of cycle per tenant with {options.workers} workers"
        f" (no remote latency): {TARGET_TENANTS * measured_rate / 60:.0f} minutes for"
        f" {TARGET_TENANTS:,} tenants on this machine\n"
        f"in production, per tenant run: {cpu * 1000:.0f} ms CPU + {calls:.1f} DF calls x"
        f" {options.remote_latency * 1000:.0f} ms + {trips:.0f} PostgreSQL round trips x"
        f" {options.db_latency * 1000:.1f} ms = {run_s:.2f} s\n"
        f"=> {busy / 3600:.1f} worker-hours per hourly cycle: {math.ceil(busy / 3600)} worker processes"
        f" busy all hour, {half_hour} to finish in 30 minutes (the recommendation: room for"
        f" pushes, retries and first syncs); CPU {cores:.2f} cores in all"
    )


# -- the command --------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--relations", type=int, default=1000, help="relations per tenant")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (0: this process)")
    parser.add_argument("--quick", action="store_true", help="100 tenants x 200 relations")
    parser.add_argument(
        "--cycles", default="", help="tenant counts of the 1 %% cycles, e.g. 100,300,1000"
    )
    parser.add_argument(
        "--slopes", default="0,5", help="further %% changed at the smallest size ('' for none)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds the sandbox adds per answer"
    )
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument(
        "--remote-latency", type=float, default=0.1, help="production seconds per DF call"
    )
    parser.add_argument(
        "--db-latency",
        type=float,
        default=0.001,
        help="production seconds per PostgreSQL round trip",
    )
    args = parser.parse_args(argv)
    tenants, relations = (100, 200) if args.quick else (args.tenants, args.relations)
    return Options(
        tenants=tenants, relations=relations, workers=args.workers,
        cycles=tuple(int(n) for n in args.cycles.split(",") if n),
        slopes=tuple(float(p) for p in args.slopes.split(",") if p),
        latency=args.latency, dsn=args.dsn, remote_latency=args.remote_latency,
        db_latency=args.db_latency,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    started = time.perf_counter()
    run(parse(argv))
    print(f"\nwall time of the whole benchmark: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
