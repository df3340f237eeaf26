"""The koppeling: keeping a host CRM and the bookkeeping services in step, both ways.

`SyncEngine` runs the flows (relations both ways, bookings, payment states)
between a `HostCRM` and the `AccountingConnector` of each service, keeping its
memory in a `StateStore` (`SqliteStateStore` by default, `PostgresStateStore`
for many tenants) and telling what it
did in a `SyncReport`. `SyncEngine.plan` is a dry run (`SyncPlan`).
`crmconnect.config.SyncConfig` builds all of it from a TOML file
(``crmconnect sync --config``); a trial against the sandboxes runs on a
`TrialHost`, which reads the host and keeps its writes in memory.
"""

from ._engine import (
    DEFAULT_INTERVALS,
    DEFAULT_STATE_PATH,
    ChangeKind,
    ConflictPolicy,
    Flow,
    HostRemoval,
    PlannedChange,
    SyncEngine,
    SyncPlan,
)
from ._postgres import PostgresStateStore, TenantOverview
from ._protocols import (
    AccountingConnector,
    BookingResult,
    Capability,
    DeletionTrackingHost,
    FieldValues,
    HostCRM,
    Intent,
    KvKFlow,
    KvKHost,
    Link,
    NumberCheckingConnector,
    Party,
    PaymentState,
    RemoteBooking,
    RemotePayment,
    RemoteRelation,
    RemovingConnector,
    ReviewFlagHost,
    Role,
    RunRecord,
    StateStore,
)
from ._report import Action, ReportRow, Side, SyncReport
from ._state import SqliteStateStore
from ._trial import KeptFlag, KeptKvKUpdate, TrialHost

__all__ = [
    "DEFAULT_INTERVALS",
    "DEFAULT_STATE_PATH",
    "AccountingConnector",
    "Action",
    "BookingResult",
    "Capability",
    "ChangeKind",
    "ConflictPolicy",
    "DeletionTrackingHost",
    "FieldValues",
    "Flow",
    "HostCRM",
    "HostRemoval",
    "Intent",
    "KeptFlag",
    "KeptKvKUpdate",
    "KvKFlow",
    "KvKHost",
    "Link",
    "NumberCheckingConnector",
    "Party",
    "PaymentState",
    "PlannedChange",
    "PostgresStateStore",
    "RemoteBooking",
    "RemotePayment",
    "RemoteRelation",
    "RemovingConnector",
    "ReportRow",
    "ReviewFlagHost",
    "Role",
    "RunRecord",
    "Side",
    "SqliteStateStore",
    "StateStore",
    "SyncEngine",
    "SyncPlan",
    "SyncReport",
    "TenantOverview",
    "TrialHost",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and isinstance(_obj, type):
        _obj.__module__ = "crmconnect.sync"
