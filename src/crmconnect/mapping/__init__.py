"""Mapping tables between the canonical models and the bookkeeping services.

The relation field tables map a canonical `crmconnect.models.Organisation` or
`crmconnect.models.Person` to a remote relation's fields and back, as rows of
data (canonical path, remote field, direction, named transform), checked when
built: `FieldTable`, grouped per service with the seeds' rules (inbound party
kind, relation type, number ranges, person-name style) in a
`RelationMapping`. The defaults ship as TOML data: `DIGITALEFACTUUR_RELATIONS`
and `EBOEKHOUDEN_RELATIONS`.

The VAT table maps a canonical `crmconnect.models.VatCategory` of a sales or
purchase invoice to the remote VAT code (e-Boekhouden ``BTWCode``) and the
revenue or cost ledger, per administration. It is declarative: rows of plain
data, built in code or read from a TOML file, validated when built. The
invoice date picks the rate where Dutch law changed it (NL low 6 % → 9 % on
2019-01-01, NL high 19 % → 21 % on 2012-10-01); product groups may book on
ledgers of their own.

`vat_breakdown` turns an invoice into booking lines, one per VAT code and
ledger, in `Decimal` cents.

This package never imports a connector: the VAT codes and ledgers a table is
checked against are passed in (`EBOEKHOUDEN_VAT_CODES` holds e-Boekhouden's
documented list as data).

Example:
    ```python
    import datetime as dt
    from pathlib import Path

    from crmconnect.mapping import VatTable, vat_breakdown
    from crmconnect.models import Invoice, InvoiceLine

    table = VatTable.from_toml(Path("vat-table.toml"), known_ledgers={"8000", "8001", "8011"})
    invoice = Invoice(
        number="2024-001",
        relation_code="1001",
        date=dt.date(2024, 3, 1),
        lines=[InvoiceLine(description="Advice", unit_price="100.00", vat_category="nl_high")],
    )
    for line in vat_breakdown(invoice, table):
        print(line.vat_code, line.ledger, line.amount_excl, line.vat_amount, line.amount_incl)
    ```
"""

from ._fields import Direction, FieldRow, FieldTable, PartyKind
from ._names import NameStyle, PersonName, format_person_name, initials_of, parse_person_name
from ._relations import DIGITALEFACTUUR_RELATIONS, EBOEKHOUDEN_RELATIONS, RelationMapping
from ._transforms import StreetParts, format_street_line, parse_street_line
from ._vat import (
    EBOEKHOUDEN_VAT_CODES,
    BookingLine,
    ProductGroupLedger,
    VatCode,
    VatRow,
    VatTable,
    VatTarget,
    vat_breakdown,
    vat_rate,
)

__all__ = [
    "DIGITALEFACTUUR_RELATIONS",
    "EBOEKHOUDEN_RELATIONS",
    "EBOEKHOUDEN_VAT_CODES",
    "BookingLine",
    "Direction",
    "FieldRow",
    "FieldTable",
    "NameStyle",
    "PartyKind",
    "PersonName",
    "ProductGroupLedger",
    "RelationMapping",
    "StreetParts",
    "VatCode",
    "VatRow",
    "VatTable",
    "VatTarget",
    "format_person_name",
    "format_street_line",
    "initials_of",
    "parse_person_name",
    "parse_street_line",
    "vat_breakdown",
    "vat_rate",
]

for _name in __all__:
    if hasattr(globals()[_name], "__qualname__"):
        globals()[_name].__module__ = "crmconnect.mapping"
del _name
