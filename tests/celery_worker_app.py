"""The worker app of tests/test_celery_workers.py: examples/tenants/vendor_app.py, plus a witness.

Each tenant's CRM notes every write in Redis (which task, when), so the test
can tell from the host's side that no two runs of a tenant overlapped,
independently of the state store's run history. With
``CRMCONNECT_TEST_NO_LOCK=1`` the state store's lock is switched off (a test
build of a broken deployment): the test shows its checks then fail.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import redis
from vendor_app import BROKER, CRM_DIR, app, crm, resolver

from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.sync import Party, PostgresStateStore, RemoteBooking, RemotePayment

__all__ = ["app", "crm"]

QUEUE = os.environ["CRMCONNECT_TEST_QUEUE"]
app.conf.task_default_queue = QUEUE
# Sweep for a killed worker's messages every 2 s (kombu's default: about every 100 s).
app.conf.broker_transport_options = {
    **app.conf.broker_transport_options,
    "unacked_restore_interval": 2,
    "unacked_restore_throttle": 1,
}
_witness = redis.Redis.from_url(BROKER)


class WitnessCRM(SqliteCRM):
    """A tenant's CRM that notes each write: ``<task token> <unix time>`` per write."""

    def __init__(self, path: Any, tenant: str) -> None:
        super().__init__(path)
        self._key = f"{QUEUE}:writes:{tenant}"
        self._token = uuid.uuid4().hex

    def _note(self) -> None:
        _witness.rpush(self._key, f"{self._token} {time.time():.6f}")

    def create_party(self, party: Party) -> str:  # type: ignore[override]
        self._note()
        return super().create_party(party)

    def save_party(self, party: Party) -> None:  # type: ignore[override]
        self._note()
        super().save_party(party)

    def record_booking(self, service: str, booking: RemoteBooking) -> None:
        self._note()
        super().record_booking(service, booking)

    def record_payment(self, service: str, payment: RemotePayment) -> None:
        self._note()
        super().record_payment(service, payment)


_setup = resolver.setup


def _witnessed_setup(tenant: str) -> Any:
    host, connectors = _setup(tenant)
    host.close()
    return WitnessCRM(CRM_DIR / f"{tenant}.db", tenant), connectors


resolver.setup = _witnessed_setup  # type: ignore[method-assign]

if os.environ.get("CRMCONNECT_TEST_NO_LOCK") == "1":
    PostgresStateStore.acquire_lease = lambda self, owner, ttl: True  # type: ignore[method-assign]
    PostgresStateStore.lease_holder = lambda self: None  # type: ignore[method-assign]
    PostgresStateStore.release_lease = lambda self, owner: None  # type: ignore[method-assign]
