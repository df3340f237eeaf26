"""A vendor's Celery app for many tenants, here against the sandboxes: what docker-compose runs.

Copy it and replace `SandboxTenants` by your own resolver: your tenants from
your database, each tenant's `HostCRM` adapter, and its credentials from your
secret store (never from task arguments, which pass through the broker).

Here each tenant is a SQLite CRM file (``<CRMCONNECT_CRM_DIR>/<tenant>.db``)
with its own DigitaleFactuur account and e-Boekhouden access token, in
sandboxes that serve any account (``python -m crmconnect.sandbox
digitalefactuur --any-account``). Every account's requests are spaced through
Redis (`SharedRateLimit`), so all workers together stay under the limit.

Settings, from the environment:

=============================  =====================================================
``CRMCONNECT_BROKER_URL``      the broker (``redis://127.0.0.1:6379/0``)
``CRMCONNECT_STATE_DSN``       the state store (``postgresql://postgres@127.0.0.1/test``)
``CRMCONNECT_DF_URL``          DigitaleFactuur's API root (``http://127.0.0.1:8125/api``)
``CRMCONNECT_EB_URL``          e-Boekhouden's REST root (``http://127.0.0.1:8124``)
``CRMCONNECT_CRM_DIR``         where the tenants' CRM files are (``./tenants``)
``CRMCONNECT_TENANTS``         how many tenants (``10``), named ``<prefix>-001``, ...
``CRMCONNECT_TENANT_PREFIX``   their names' prefix (``tenant``)
``CRMCONNECT_RATE_LIMIT``      requests per second per remote account (``20``)
``CRMCONNECT_VISIBILITY``      Redis's visibility timeout, seconds (``14400``)
=============================  =====================================================

Run: ``crmconnect state upgrade --dsn $CRMCONNECT_STATE_DSN`` once, then
``celery -A vendor_app worker`` (as many as you like) and ``celery -A vendor_app beat``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from celery import Celery

from crmconnect.contrib.celery import SharedRateLimit, install
from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector
from crmconnect.eboekhouden import EBoekhoudenConnector
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.sandbox import DEMO_VAT_TABLE

BROKER = os.environ.get("CRMCONNECT_BROKER_URL", "redis://127.0.0.1:6379/0")
DSN = os.environ.get("CRMCONNECT_STATE_DSN", "postgresql://postgres@127.0.0.1:5432/test")
DF_URL = os.environ.get("CRMCONNECT_DF_URL", "http://127.0.0.1:8125/api")
EB_URL = os.environ.get("CRMCONNECT_EB_URL", "http://127.0.0.1:8124")
CRM_DIR = Path(os.environ.get("CRMCONNECT_CRM_DIR", "tenants"))
TENANTS = int(os.environ.get("CRMCONNECT_TENANTS", "10"))
PREFIX = os.environ.get("CRMCONNECT_TENANT_PREFIX", "tenant")
RATE_LIMIT = int(os.environ.get("CRMCONNECT_RATE_LIMIT", "20"))
VISIBILITY = int(os.environ.get("CRMCONNECT_VISIBILITY", str(4 * 3600)))


def credentials(tenant: str) -> tuple[str, str, str]:
    """A tenant's DigitaleFactuur account, access code and e-Boekhouden token.

    Made up from the tenant's name, for the sandboxes; a vendor reads them
    from its secret store here.
    """
    digest = hashlib.sha256(f"{PREFIX}/{tenant}".encode()).hexdigest()
    account = str(int(digest[:10], 16) % 10**9)
    return account, f"code-{digest[10:30]}", f"token-{digest[30:62]}"


class SandboxTenants:
    """The resolver: the tenants, and one tenant's CRM and connectors."""

    def tenants(self) -> list[str]:
        """Every tenant (a vendor: its active customers with a koppeling)."""
        return [f"{PREFIX}-{n:03d}" for n in range(1, TENANTS + 1)]

    def crm(self, tenant: str) -> SqliteCRM:
        """The tenant's CRM (a vendor: its `HostCRM` adapter on the tenant's database)."""
        CRM_DIR.mkdir(parents=True, exist_ok=True)
        return SqliteCRM(CRM_DIR / f"{tenant}.db")

    def setup(
        self, tenant: str
    ) -> tuple[SqliteCRM, list[DigitaleFactuurConnector | EBoekhoudenConnector]]:
        """The tenant's CRM and connectors, built with its credentials."""
        account, code, token = credentials(tenant)
        df = DigitaleFactuurClient(
            account, code, base_url=DF_URL,
            rate_limit=SharedRateLimit(BROKER, "digitalefactuur", account, rate=RATE_LIMIT),
        )  # fmt: skip
        eb = EBoekhoudenRestClient(
            token, base_url=EB_URL,
            rate_limit=SharedRateLimit(BROKER, "eboekhouden", token, rate=RATE_LIMIT),
        )  # fmt: skip
        return self.crm(tenant), [
            DigitaleFactuurConnector(df),
            EBoekhoudenConnector(eb, DEMO_VAT_TABLE),
        ]


app = Celery("vendor_app", broker=BROKER)
app.conf.broker_transport_options = {"visibility_timeout": VISIBILITY}
app.conf.worker_prefetch_multiplier = 1  # one tenant at a time per worker process
app.conf.task_ignore_result = True
resolver = SandboxTenants()
crm = install(app, resolver, dsn=DSN)
