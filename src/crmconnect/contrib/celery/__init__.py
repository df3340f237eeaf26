"""Per-tenant sync jobs on Celery, for a CRM vendor running thousands of administrations.

`install` registers crmconnect's tasks on the vendor's own Celery app:

- ``crmconnect.sync_tenant(tenant, flows=None)``: one tenant's flows (`RELATIONS`,
  `BOOKINGS`, `PAYMENTS`, `KVK_UPDATES`; every one when ``None``) under the
  tenant's lock; ``{"skipped": True, "reason": ...}`` when a run holds it.
- ``crmconnect.sync_due()``: queues ``sync_tenant`` for every tenant with a flow
  due (from the run history in the state store), once: a tenant queued or
  running is not queued again. The beat entry runs it every ``due_every`` seconds.
- ``crmconnect.push_relation(tenant, host_id)``: the immediate push a host
  sends on save; waits ``push_wait`` seconds for a run of the tenant, then is
  retried later (and the party is marked for the tenant's next run anyway).
- ``crmconnect.book_invoice(tenant, invoice_number)``: books the tenant's sent
  invoices now, when the host marks one sent.

Task arguments hold IDs only; credentials come from the vendor's
`TenantResolver`, never through the broker. Tasks acknowledge late and are
rejected when their worker is lost, so a worker killed mid-task is redelivered
and the engine's intents make the rerun converge (no duplicate, nothing lost).
Transport faults are retried with backoff; a record that fails is reported in
the result and tried again by the next run, not retried as the whole task.

Needs ``pip install crmconnect[celery,postgres]``.
"""

from __future__ import annotations

from ._install import Installed, install
from ._ratelimit import SharedRateLimit
from ._tasks import (
    BOOKINGS,
    DEFAULT_INTERVALS,
    FLOWS,
    KVK_UPDATES,
    PAYMENTS,
    RELATIONS,
    CelerySettings,
    TenantResolver,
)

__all__ = [
    "BOOKINGS",
    "DEFAULT_INTERVALS",
    "FLOWS",
    "KVK_UPDATES",
    "PAYMENTS",
    "RELATIONS",
    "CelerySettings",
    "Installed",
    "SharedRateLimit",
    "TenantResolver",
    "install",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        try:
            _obj.__module__ = __name__
        except (AttributeError, TypeError):  # pragma: no cover - builtins
            pass
