"""The DigitaleFactuur connector: debtors, creditors and invoices over DF's XML API.

`DigitaleFactuurClient` (and its async twin) lists, reads, creates, updates and
deletes relations, lists and reads invoices with their payment status, and
records or undoes payments. The element names live in `RELATION_FIELDS`,
`INVOICE_FIELDS` and `ANSWER_ELEMENTS` (the roots every answer is checked
against), data a host can correct without a release; names that no public
source shows are marked ``assumed``. DF has no version field, so change
detection goes by digests and fingerprints: `relations_snapshot` gives
``{DF id: digest}`` of each record as listed, `relations_index` gives per
relation its DF id, relation number, digest and a fingerprint of only the
fields the caller owns (equal to `relation_fingerprint` of a relation in hand
restricted to them), and `update_relation_fields` writes
some fields only, read-modify-write, since DF replaces every field on update.
`DigitaleFactuurConnector` is DF for the sync engine (`crmconnect.sync`):
relations both ways through a `crmconnect.mapping.RelationMapping`.

Example:
    ```python
    from crmconnect.digitalefactuur import DigitaleFactuurClient, Relation, RelationKind

    with DigitaleFactuurClient("12345", "access-code") as df:
        df.upsert_relation(Relation(number="1001", name="Bakkerij Jansen B.V."))
        df.upsert_relation(Relation(number="2001", name="Groothandel Smit",
                                    kind=RelationKind.CREDITOR))
        open_invoices = df.invoices(status="openstaand")
    ```
"""

from ._client import DEFAULT_URL, MAX_PAGES, AsyncDigitaleFactuurClient, DigitaleFactuurClient
from ._connector import DigitaleFactuurConnector
from ._errors import ERROR_CODES
from ._fields import (
    ANSWER_ELEMENTS,
    INVOICE_FIELDS,
    LINE_FIELDS,
    RELATION_FIELDS,
    FieldSpec,
    FieldTable,
)
from ._index import RelationIndex, RelationIndexEntry
from ._models import (
    Invoice,
    InvoiceLine,
    PaymentStatus,
    Relation,
    RelationKind,
    parse_date,
    relation_fingerprint,
    relation_values,
)

__all__ = [
    "ANSWER_ELEMENTS",
    "DEFAULT_URL",
    "ERROR_CODES",
    "INVOICE_FIELDS",
    "LINE_FIELDS",
    "MAX_PAGES",
    "RELATION_FIELDS",
    "AsyncDigitaleFactuurClient",
    "DigitaleFactuurClient",
    "DigitaleFactuurConnector",
    "FieldSpec",
    "FieldTable",
    "Invoice",
    "InvoiceLine",
    "PaymentStatus",
    "Relation",
    "RelationIndex",
    "RelationIndexEntry",
    "RelationKind",
    "parse_date",
    "relation_fingerprint",
    "relation_values",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "crmconnect.digitalefactuur"
del _name, _obj
