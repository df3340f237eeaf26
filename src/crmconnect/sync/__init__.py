"""The koppeling: keeping a host CRM and the bookkeeping services in step, both ways.

Work in progress (issue 10): the protocols the engine talks to are here; the
engine, the state store and the report follow.
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

__all__ = [
    "AccountingConnector",
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
    "Role",
    "RunRecord",
    "StateStore",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and isinstance(_obj, type):
        _obj.__module__ = "crmconnect.sync"
