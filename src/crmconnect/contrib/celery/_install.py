"""`install`: crmconnect's tasks registered on a vendor's Celery app (see the package)."""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ...errors import ConfigurationError, TransportError
from ...sync import RunRecord
from . import _tasks
from ._tasks import DEFAULT_INTERVALS, CelerySettings, TenantResolver, worker_name

if TYPE_CHECKING:
    from celery import Celery, Task


__all__ = ["Installed", "install"]

logger = logging.getLogger("crmconnect.celery")

_SCHEDULER = "crmconnect-scheduler"
"""The tenant name of the store `sync_due` reads every tenant's run history through."""

_HISTORY = dt.timedelta(days=30)
"""How far back `install` looks for the longest run (for the visibility timeout check)."""


@attrs.frozen
class Installed:
    """What `install` registered: the four tasks and the settings they run with."""

    sync_tenant: Task
    sync_due: Task
    push_relation: Task
    book_invoice: Task
    settings: CelerySettings


def install(
    app: Celery,
    resolver: TenantResolver,
    *,
    dsn: str,
    beat: bool = True,
    connection: str = "default",
    intervals: Mapping[str, dt.timedelta] | None = None,
    due_every: float = 60.0,
    push_wait: float = 10.0,
    push_retries: int = 5,
    queued_for: dt.timedelta = dt.timedelta(hours=2),
    redis_url: str | None = None,
) -> Installed:
    """Register crmconnect's tasks (and, with ``beat``, the beat entry) on ``app``.

    Args:
        app: The vendor's Celery app.
        resolver: The vendor's `TenantResolver`.
        dsn: The PostgreSQL state store (run ``crmconnect state upgrade --dsn
            DSN`` once per release first: workers never migrate).
        beat: Add ``crmconnect.sync_due`` every ``due_every`` seconds to the
            app's beat schedule.
        connection: The name of this set of connections per tenant.
        intervals: How often each flow is due, by name (hourly; KvK daily).
        due_every: Seconds between two ``sync_due`` runs of the beat entry.
        push_wait: Seconds an immediate push or booking waits for a run.
        push_retries: How often such a task is retried before it leaves the
            work to the tenant's next run.
        queued_for: How long a tenant counts as queued (above the longest run).
        redis_url: Where tenants are marked queued; the broker's URL when the
            broker is Redis. See `CelerySettings` for each.

    Raises:
        ConfigurationError: A setting that cannot be, or the resolver lacks
            ``tenants``/``setup``.
    """
    if not isinstance(resolver, TenantResolver):
        raise ConfigurationError("resolver needs tenants() and setup(tenant)")
    settings = CelerySettings(
        dsn=dsn, connection=connection, intervals=dict(intervals or DEFAULT_INTERVALS),
        due_every=due_every, push_wait=push_wait, push_retries=push_retries,
        queued_for=queued_for, redis_url=redis_url or _redis_broker(app),
    )  # fmt: skip
    context = _context(resolver, settings)
    installed = _register(app, context)
    if beat:
        schedule = dict(app.conf.beat_schedule or {})
        schedule["crmconnect.sync_due"] = {"task": "crmconnect.sync_due", "schedule": due_every}
        app.conf.beat_schedule = schedule
    _check_visibility_timeout(app, context)
    return installed


def _context(resolver: TenantResolver, settings: CelerySettings) -> _tasks._Context:
    from ...sync import PostgresStateStore

    def open_store(tenant: str) -> PostgresStateStore:
        return PostgresStateStore(
            settings.dsn, tenant=tenant, connection=settings.connection, worker=worker_name()
        )

    def read_runs(since: dt.datetime) -> Sequence[RunRecord]:
        """Every tenant's runs on this connection name: one query."""
        with PostgresStateStore(
            settings.dsn, tenant=_SCHEDULER, connection=settings.connection
        ) as store:
            return store.runs(since, tenant=None)

    redis = None
    if settings.redis_url:
        import redis as redis_client

        redis = redis_client.Redis.from_url(settings.redis_url)
    return _tasks._Context(resolver, settings, open_store, read_runs, redis)


def _retried_faults() -> tuple[type[BaseException], ...]:
    """What a task retries as a whole: the network and the database, not a record's failure."""
    faults: list[type[BaseException]] = [TransportError, ConnectionError, TimeoutError]
    try:
        import psycopg

        faults.append(psycopg.OperationalError)
    except ImportError:  # pragma: no cover - the postgres extra is installed with celery
        pass
    return tuple(faults)


def _register(app: Celery, context: _tasks._Context) -> Installed:
    settings = context.settings
    common: dict[str, Any] = {
        "acks_late": True,
        "reject_on_worker_lost": True,
        "autoretry_for": _retried_faults(),
        "retry_backoff": True,
        "retry_backoff_max": 600,
        "retry_jitter": True,
        "max_retries": 5,
    }

    @app.task(name="crmconnect.sync_tenant", **common)  # type: ignore[misc]
    def sync_tenant(tenant: str, flows: list[str] | None = None) -> dict[str, Any]:
        return _tasks.sync_tenant(context, tenant, flows)

    @app.task(name="crmconnect.sync_due", **common)  # type: ignore[misc]
    def sync_due() -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        longest = max(settings.intervals.values(), default=dt.timedelta(hours=1))
        tenants = list(context.resolver.tenants())
        due = _tasks.due_flows(tenants, context.read_runs(now - longest), settings, now)
        queued = [t for t in due if _tasks.mark_queued(context, t)]
        for tenant in queued:
            sync_tenant.delay(tenant, due[tenant])
        logger.info("sync_due: %d tenants, %d due, %d queued", len(tenants), len(due), len(queued))
        return {"tenants": len(tenants), "due": len(due), "queued": len(queued)}

    @app.task(name="crmconnect.push_relation", bind=True, **common)  # type: ignore[misc]
    def push_relation(self: Task, tenant: str, host_id: str) -> dict[str, Any]:
        result, deferred = _tasks.push_relation(context, tenant, host_id)
        if deferred and self.request.retries < settings.push_retries:
            raise self.retry(countdown=_backoff(settings, self.request.retries))
        return result

    @app.task(name="crmconnect.book_invoice", bind=True, **common)  # type: ignore[misc]
    def book_invoice(self: Task, tenant: str, invoice_number: str) -> dict[str, Any]:
        result, busy = _tasks.book_invoice(context, tenant, invoice_number)
        if busy and self.request.retries < settings.push_retries:
            raise self.retry(countdown=_backoff(settings, self.request.retries))
        return result

    return Installed(sync_tenant, sync_due, push_relation, book_invoice, settings)


def _backoff(settings: CelerySettings, retries: int) -> float:
    return min(300.0, settings.push_wait * 2.0 ** int(retries))


def _redis_broker(app: Celery) -> str | None:
    url = str(app.conf.broker_url or "")
    return url if url.startswith(("redis://", "rediss://")) else None


def _check_visibility_timeout(app: Celery, context: _tasks._Context) -> None:
    """Warn when Redis would redeliver a task that is still running (see the docs' values)."""
    if not str(app.conf.broker_url or "").startswith(("redis://", "rediss://")):
        return
    options = app.conf.broker_transport_options or {}
    visibility = float(options.get("visibility_timeout", 3600.0))
    try:
        runs = context.read_runs(dt.datetime.now(dt.UTC) - _HISTORY)
    except Exception as exc:  # the store may not be reachable when the app starts
        logger.debug("no run history read for the visibility check: %s", exc)
        return
    longest = max(
        ((run.ended - run.started).total_seconds() for run in runs if run.ended is not None),
        default=0.0,
    )
    if longest >= visibility:
        warnings.warn(
            f"Redis's visibility_timeout ({visibility:.0f} s) is shorter than the longest "
            f"crmconnect run seen ({longest:.0f} s): a running task would be delivered again. "
            "Set broker_transport_options={'visibility_timeout': ...} above it.",
            RuntimeWarning,
            stacklevel=2,
        )
