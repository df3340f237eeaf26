"""Optional pieces built on crmconnect's public API, for hosts to use or copy.

- `crmconnect.contrib.sqlite_crm`: `SqliteCRM`, a small CRM on SQLite that
  implements `crmconnect.sync.HostCRM`: the reference host, and the worked
  example of the guide "Writing a HostCRM adapter".
- `crmconnect.contrib.celery`: per-tenant sync jobs on a vendor's Celery app,
  with the state on PostgreSQL (``pip install crmconnect[celery]``).
"""

__all__: list[str] = []
