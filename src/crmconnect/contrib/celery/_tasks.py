"""The tasks `install` registers, as plain functions over a `_Context` (testable without a broker).

Every task builds one tenant's engine from the vendor's resolver, with the
tenant's `crmconnect.sync.PostgresStateStore`, does its work under the
tenant's lock, and closes the host, the connectors and the store afterwards.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from ...errors import ConfigurationError, SyncBusyError
from ...sync import (
    AccountingConnector,
    Capability,
    Flow,
    HostCRM,
    RunRecord,
    SyncEngine,
    SyncReport,
)

__all__ = [
    "BOOKINGS",
    "FLOWS",
    "KVK_UPDATES",
    "PAYMENTS",
    "RELATIONS",
    "CelerySettings",
    "TenantResolver",
]

logger = logging.getLogger("crmconnect.celery")

RELATIONS: Final = "relations"
"""Relations both ways (pulls, then pushes)."""
BOOKINGS: Final = "bookings"
"""Sent invoices booked."""
PAYMENTS: Final = "payments"
"""Payment states of booked invoices brought back."""
KVK_UPDATES: Final = "kvk_updates"
"""KvK updates of linked organisations stored for review (when the tenant has a KvK flow)."""

FLOWS: Final[Mapping[str, Flow]] = {
    RELATIONS: Flow.RELATIONS,
    BOOKINGS: Flow.BOOKINGS,
    PAYMENTS: Flow.PAYMENTS,
    KVK_UPDATES: Flow.KVK,
}
"""The flow names a task takes, and the engine's `Flow` each runs."""

DEFAULT_INTERVALS: Final[Mapping[str, dt.timedelta]] = {
    RELATIONS: dt.timedelta(hours=1),
    BOOKINGS: dt.timedelta(hours=1),
    PAYMENTS: dt.timedelta(hours=1),
    KVK_UPDATES: dt.timedelta(days=1),
}
"""How often each flow is due per tenant: hourly pulls and payment states, KvK daily."""


@runtime_checkable
class TenantResolver(Protocol):
    """What a vendor writes: its tenants, and one tenant's host and connectors.

    ``setup`` builds them with that tenant's credentials, which it reads from
    the vendor's own secret store: task arguments hold tenant IDs only, so no
    credential ever passes through the broker. It may return a third item, a
    mapping of further `SyncEngine` keyword arguments (``kvk=``, ``policy=``,
    ``on_host_removal=``, ...).
    """

    def tenants(self) -> Iterable[str]:
        """Every tenant to keep in step."""
        ...

    def setup(
        self, tenant: str
    ) -> (
        tuple[HostCRM, Sequence[AccountingConnector]]
        | tuple[HostCRM, Sequence[AccountingConnector], Mapping[str, Any]]
    ):
        """One tenant's host CRM and connectors (and engine options)."""
        ...


def _positive(value: float) -> float:
    if value <= 0:
        raise ConfigurationError(f"expected a positive number of seconds, got {value!r}")
    return value


@attrs.frozen
class CelerySettings:
    """How the tasks run; `install` takes them as keyword arguments.

    Attributes:
        dsn: The PostgreSQL state store's DSN (no password in it: use
            ``PGPASSWORD``/``.pgpass`` or a service file).
        connection: The name of this set of connections per tenant (see
            `crmconnect.sync.PostgresStateStore`).
        intervals: How often each flow is due, by name (`DEFAULT_INTERVALS`).
        due_every: Seconds between two `sync_due` runs of the beat entry.
        push_wait: Seconds an immediate push or booking waits for a run of the
            same tenant before it is retried later.
        push_retries: How often such a task is retried before it leaves the
            work to the tenant's next run (nothing is lost either way).
        queued_for: How long a tenant counts as queued after `sync_due`
            queued it, unless its task ends sooner (then it is due again as
            its intervals say). Set it above the longest run.
        failed_again_after: A flow whose last run failed (a record or a
            service's listing failed: a remote fault) is due again after this
            long, or its interval when that is shorter.
        redis_url: Where `sync_due` marks tenants queued (one ``SET NX`` per
            tenant); the broker's URL when it is Redis, else ``None``: then a
            tenant queued twice is skipped by its lock instead.
    """

    dsn: str
    connection: str = "default"
    intervals: Mapping[str, dt.timedelta] = attrs.field(factory=lambda: dict(DEFAULT_INTERVALS))
    due_every: float = attrs.field(default=60.0, converter=_positive)
    push_wait: float = attrs.field(default=10.0, converter=_positive)
    push_retries: int = 5
    queued_for: dt.timedelta = dt.timedelta(hours=2)
    failed_again_after: dt.timedelta = dt.timedelta(minutes=10)
    redis_url: str | None = None

    def __attrs_post_init__(self) -> None:
        unknown = sorted(set(self.intervals) - set(FLOWS))
        if unknown:
            raise ConfigurationError(
                f"intervals: unknown flow {unknown[0]!r} (one of {', '.join(FLOWS)})"
            )


def worker_name() -> str:
    """This process as a run's ``worker``: the Celery hostname (else the host's) and the pid."""
    with contextlib.suppress(Exception):
        from celery import current_task

        request = current_task.request if current_task else None
        if request is not None and request.hostname:
            return f"{request.hostname}:{os.getpid()}"
    return f"{socket.gethostname()}:{os.getpid()}"


@attrs.define
class _Context:
    """What every task needs: the resolver, the settings, and how to open a store."""

    resolver: TenantResolver
    settings: CelerySettings
    open_store: Callable[[str], Any]
    """Tenant → its state store (a `PostgresStateStore`)."""
    read_runs: Callable[[dt.datetime], Sequence[RunRecord]]
    """The run history of every tenant since a moment."""
    redis: Any = None
    """A ``redis.Redis`` for the queued marks, or ``None``."""


def flows_of(names: Iterable[str] | None) -> list[str]:
    """The flow names asked for (every one when ``None``), checked."""
    wanted = list(FLOWS) if names is None else [str(name) for name in names]
    unknown = [name for name in wanted if name not in FLOWS]
    if unknown or not wanted:
        raise ConfigurationError(
            f"unknown flow {(unknown or [''])[0]!r} (one of {', '.join(FLOWS)})"
        )
    return [name for name in FLOWS if name in wanted]


@contextlib.contextmanager
def tenant_engine(
    context: _Context, tenant: str, *, lease_wait: float = 0.0
) -> Iterator[SyncEngine]:
    """One tenant's engine; its host, connectors and store closed afterwards, whatever happens."""
    setup = context.resolver.setup(tenant)
    host, connectors = setup[0], list(setup[1])
    options = dict(setup[2]) if len(setup) > 2 else {}
    closing = [host, *connectors]
    try:
        state = context.open_store(tenant)
        closing.append(state)
        intervals = {FLOWS[name]: every for name, every in context.settings.intervals.items()}
        options.setdefault("intervals", intervals)
        yield SyncEngine(host, connectors, state=state, lease_wait=lease_wait, **options)
    finally:
        for item in closing:
            close = getattr(item, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):  # one failing close stops no other
                    close()


def summary(
    tenant: str, flows: Sequence[str], report: SyncReport, started: float
) -> dict[str, Any]:
    """A task's result: JSON-safe, no secrets (counts, and failures as the report has them)."""
    return {
        "tenant": tenant,
        "skipped": False,
        "flows": list(flows),
        "counts": {str(action): count for action, count in report.counts.items()},
        "failures": [list(failure) for failure in report.failures][:50],
        "seconds": round(time.monotonic() - started, 3),
    }


def sync_tenant(context: _Context, tenant: str, flows: Iterable[str] | None) -> dict[str, Any]:
    """One tenant's flows under its lock; ``{"skipped": True, ...}`` when a run holds it."""
    names, started = flows_of(flows), time.monotonic()
    try:
        with tenant_engine(context, tenant) as engine, engine.exclusive():
            # A flow the tenant lacks (KvK without a KvK flow) runs as nothing, and is recorded
            # as run, so it is not due again at once.
            report = engine.run([FLOWS[name] for name in names])
    except SyncBusyError as busy:
        # A run of the tenant unmarks it when it ends; another holder (a push) may not be a
        # run: the mark then lapses soon, so the tenant is queued again at a next sync_due.
        shorten_queued(context, tenant)
        logger.info("tenant %s skipped: %s", tenant, busy, extra={"tenant": tenant})
        return {"tenant": tenant, "skipped": True, "reason": str(busy)}
    except BaseException:
        unmark_queued(context, tenant)
        raise
    unmark_queued(context, tenant)
    result = summary(tenant, names, report, started)
    logger.info(
        "tenant %s synced %s: %s", tenant, "+".join(names), report,
        extra={"tenant": tenant, "flows": names, "counts": result["counts"],
               "seconds": result["seconds"]},
    )  # fmt: skip
    return result


def push_relation(context: _Context, tenant: str, host_id: str) -> tuple[dict[str, Any], bool]:
    """One party sent now; the bool says it was deferred (another run holds the tenant)."""
    started = time.monotonic()
    with tenant_engine(context, tenant, lease_wait=context.settings.push_wait) as engine:
        report = engine.push_relation(host_id)
    return summary(tenant, ["push"], report, started), report.deferred


def book_invoice(
    context: _Context, tenant: str, invoice_number: str
) -> tuple[dict[str, Any], bool]:
    """The tenant's sent invoices booked now (this one among them); bool: busy, try later."""
    started = time.monotonic()
    try:
        with tenant_engine(context, tenant, lease_wait=context.settings.push_wait) as engine:
            report = engine.run(Flow.BOOKINGS)
            waiting = {
                invoice.number
                for connector in engine.connectors
                if Capability.BOOKINGS in connector.capabilities
                for invoice in engine.host.invoices_to_book(connector.service)
            }
    except SyncBusyError:
        return {"tenant": tenant, "skipped": True, "reason": "a run holds the tenant"}, True
    result = summary(tenant, [BOOKINGS], report, started)
    result["invoice_number"] = invoice_number
    result["booked"] = invoice_number not in waiting  # now, or before
    return result, False


def due_flows(
    tenants: Iterable[str], runs: Iterable[RunRecord], settings: CelerySettings, now: dt.datetime
) -> dict[str, list[str]]:
    """Per tenant the flows whose interval passed since their last ended run.

    ``runs``: the run history of every tenant since the longest interval
    (`RunRecord.tenant` says whose); a run cut off (still running, or
    abandoned) does not count, so its flows are due again.
    """
    last: dict[tuple[str, str], RunRecord] = {}
    for run in runs:
        if run.status not in ("ok", "failed") or run.ended is None:
            continue
        for name, flow in FLOWS.items():
            if run.flow == "all" or flow.value in run.flow.split("+"):
                key = (str(getattr(run, "tenant", "")), name)
                if key not in last or run.started >= last[key].started:
                    last[key] = run
    due: dict[str, list[str]] = {}
    for tenant in tenants:
        names = [
            name
            for name, every in settings.intervals.items()
            if (tenant, name) not in last
            or last[(tenant, name)].started <= now - _wait(last[(tenant, name)], every, settings)
        ]
        if names:
            due[tenant] = [name for name in FLOWS if name in names]
    return due


def _wait(run: RunRecord, every: dt.timedelta, settings: CelerySettings) -> dt.timedelta:
    """How long after ``run`` its flow is due again: its interval, sooner after a failure."""
    return min(every, settings.failed_again_after) if run.status == "failed" else every


def _queued_key(context: _Context, tenant: str) -> str:
    return f"crmconnect:queued:{context.settings.connection}:{tenant}"


def mark_queued(context: _Context, tenant: str) -> bool:
    """Mark a tenant queued; ``False`` when it is queued or running already."""
    if context.redis is None:
        return True  # no marks: a second task for the tenant finds its lock taken and skips
    seconds = max(1, int(context.settings.queued_for.total_seconds()))
    return bool(context.redis.set(_queued_key(context, tenant), worker_name(), nx=True, ex=seconds))


def shorten_queued(context: _Context, tenant: str) -> None:
    """Let a tenant's queued mark lapse after two beats (its task was skipped)."""
    if context.redis is not None:
        with contextlib.suppress(Exception):
            seconds = max(60, int(2 * context.settings.due_every))
            context.redis.expire(_queued_key(context, tenant), seconds, lt=True)


def unmark_queued(context: _Context, tenant: str) -> None:
    if context.redis is not None:
        with contextlib.suppress(Exception):  # the mark expires by itself
            context.redis.delete(_queued_key(context, tenant))
