"""The e-Boekhouden connector (SOAP through zeep; ``pip install 'crmconnect[eboekhouden]'``).

Example:
    ```python
    from crmconnect.eboekhouden import EBoekhoudenClient, Relation

    with EBoekhoudenClient("user", "code1", "code2") as books:
        books.upsert_relation(Relation(code="1001", company="Bakkerij Jansen B.V."))
        print(books.open_items("Debiteuren"))
    ```
"""

from ._bulk import PushResult
from ._convert import NameStyle, format_person_name, relation_from
from ._errors import ERROR_PATTERNS, SESSION_ERROR_PATTERN, error_from_result
from ._models import (
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
    from ._client import (
        DEFAULT_URL,
        Booking,
        EBoekhoudenClient,
        PaymentState,
        PaymentStatus,
    )
except ImportError as _missing:  # pragma: no cover - exercised without the extra
    if _missing.name not in {"zeep", "requests", "lxml"}:
        raise
    raise ImportError(
        "crmconnect.eboekhouden needs zeep: pip install 'crmconnect[eboekhouden]'",
        name=_missing.name,
    ) from None

__all__ = [
    "DEFAULT_URL",
    "ERROR_PATTERNS",
    "SESSION_ERROR_PATTERN",
    "Administration",
    "Balance",
    "Booking",
    "CostCentre",
    "EBoekhoudenClient",
    "InExVat",
    "Ledger",
    "LedgerCategory",
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
    "error_from_result",
    "format_person_name",
    "money",
    "relation_from",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "crmconnect.eboekhouden"
del _name, _obj
