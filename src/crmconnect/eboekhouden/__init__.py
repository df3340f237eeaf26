"""The e-Boekhouden connector: SOAP through zeep, or the REST API through httpx.

`EBoekhoudenClient` speaks SOAP (``pip install 'crmconnect[eboekhouden]'``);
`crmconnect.eboekhouden.rest.EBoekhoudenRestClient` speaks the REST API v1.
Both are a `BooksClient`: the same methods, models and errors, so a host
switches backend by configuration (`connect`). `EBoekhoudenConnector` is
e-Boekhouden for the sync engine (`crmconnect.sync`): relations out, invoices
booked once, payment states back.

Example:
    ```python
    from crmconnect.eboekhouden import EBoekhoudenClient, Relation

    with EBoekhoudenClient("user", "code1", "code2") as books:
        books.upsert_relation(Relation(code="1001", company="Bakkerij Jansen B.V."))
        print(books.open_items("Debiteuren"))
    ```
"""

from ._books import Booking, BooksClient, PaymentState, PaymentStatus
from ._bulk import InvoiceLookup, LookupPath, PushResult
from ._config import EBoekhoudenSettings, connect
from ._connector import EBoekhoudenConnector
from ._convert import NameStyle, format_person_name, relation_from
from ._errors import (
    ERROR_CODES,
    ERROR_PATTERNS,
    FIELD_OF_CODE,
    SESSION_ERROR_PATTERN,
    error_from_result,
)
from ._models import (
    FIELD_LENGTHS,
    Administration,
    Balance,
    CostCentre,
    InExVat,
    Ledger,
    LedgerCategory,
    Mutation,
    MutationKind,
    MutationLine,
    OpenItem,
    OpenItemKind,
    Relation,
    RelationType,
    money,
)

try:
    from ._client import DEFAULT_URL, EBoekhoudenClient
except ImportError as _missing:  # pragma: no cover - exercised without the extra
    if _missing.name not in {"zeep", "requests", "lxml"}:
        raise
    # The REST backend (crmconnect.eboekhouden.rest) works without zeep:
    # only touching the SOAP client asks for the extra.
    _SOAP_MISSING = _missing.name

    def __getattr__(name: str) -> object:
        if name in {"DEFAULT_URL", "EBoekhoudenClient"}:
            raise ImportError(
                "crmconnect.eboekhouden's SOAP client needs zeep: "
                "pip install 'crmconnect[eboekhouden]'",
                name=_SOAP_MISSING,
            )
        raise AttributeError(name)


__all__ = [
    "DEFAULT_URL",
    "ERROR_CODES",
    "ERROR_PATTERNS",
    "FIELD_LENGTHS",
    "FIELD_OF_CODE",
    "SESSION_ERROR_PATTERN",
    "Administration",
    "Balance",
    "Booking",
    "BooksClient",
    "CostCentre",
    "EBoekhoudenClient",
    "EBoekhoudenConnector",
    "EBoekhoudenSettings",
    "InExVat",
    "InvoiceLookup",
    "Ledger",
    "LedgerCategory",
    "LookupPath",
    "Mutation",
    "MutationKind",
    "MutationLine",
    "NameStyle",
    "OpenItem",
    "OpenItemKind",
    "PaymentState",
    "PaymentStatus",
    "PushResult",
    "Relation",
    "RelationType",
    "connect",
    "error_from_result",
    "format_person_name",
    "money",
    "relation_from",
]

if "EBoekhoudenClient" not in globals():
    # Without zeep these two exist only as the ImportError of ``__getattr__``:
    # ``from crmconnect.eboekhouden import *`` still works for the REST backend.
    __all__ = [name for name in __all__ if name not in {"DEFAULT_URL", "EBoekhoudenClient"}]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("crmconnect.eboekhouden."):
        # NameStyle is crmconnect.mapping's, re-exported: it keeps its own module.
        _obj.__module__ = "crmconnect.eboekhouden"
del _name, _obj
