"""The koppeling: keeping a host CRM and the bookkeeping services in step, both ways.

Work in progress (issue 10): the protocols the engine talks to, the state
store (`SqliteStateStore`) and the report (`SyncReport`) are here; the engine
follows.
"""

from ._protocols import (
    AccountingConnector,
    BookingResult,
    Capability,
    FieldValues,
    HostCRM,
    Intent,
    Link,
    Party,
    PaymentState,
    RemoteBooking,
    RemotePayment,
    RemoteRelation,
    Role,
    RunRecord,
    StateStore,
)
from ._report import Action, ReportRow, Side, SyncReport
from ._state import SqliteStateStore

__all__ = [
    "AccountingConnector",
    "Action",
    "BookingResult",
    "Capability",
    "FieldValues",
    "HostCRM",
    "Intent",
    "Link",
    "Party",
    "PaymentState",
    "RemoteBooking",
    "RemotePayment",
    "RemoteRelation",
    "ReportRow",
    "Role",
    "RunRecord",
    "Side",
    "SqliteStateStore",
    "StateStore",
    "SyncReport",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and isinstance(_obj, type):
        _obj.__module__ = "crmconnect.sync"
