"""Fill each tenant's CRM of `vendor_app` with relations and sent invoices (a demo's start).

``python examples/tenants/seed.py --relations 50 --invoices 10``: every tenant of
``CRMCONNECT_TENANTS`` gets that many organisations with a debtor number and
that many sent invoices, unless its CRM has relations already.
"""

from __future__ import annotations

import argparse
import datetime as dt

from vendor_app import resolver

from crmconnect.models import Address, Invoice, InvoiceKind, InvoiceLine, Organisation


def organisation(tenant: str, n: int) -> Organisation:
    """The ``n``-th relation of a tenant, a debtor numbered from 1001."""
    address = Address(
        kind="invoice", street="Hoofdstraat", house_number=n + 1, postcode="3511 AA", city="Utrecht"
    )
    return Organisation(
        name=f"Klant {n:04d} van {tenant}", debtor_number=str(1001 + n), addresses=[address]
    )


def invoice(n: int, relations: int) -> Invoice:
    """The ``n``-th sent invoice, to one of the relations."""
    line = InvoiceLine(description="Advies", unit_price="100.00", vat_category="nl_high")
    return Invoice(
        number=f"F{n + 1:05d}", relation_code=str(1001 + n % relations),
        date=dt.date(2026, 11, 2), kind=InvoiceKind.SALES, lines=[line],
    )  # fmt: skip


def seed(tenant: str, relations: int, invoices: int) -> bool:
    """Fill one tenant's CRM; ``False`` when it had relations already."""
    with resolver.crm(tenant) as crm:
        if crm.parties():
            return False
        crm.add_many([organisation(tenant, n) for n in range(relations)])
        for n in range(invoices):
            crm.add_invoice(invoice(n, relations), sent=True)
    return True


def main() -> None:
    """Seed every tenant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relations", type=int, default=50)
    parser.add_argument("--invoices", type=int, default=10)
    args = parser.parse_args()
    done = [t for t in resolver.tenants() if seed(t, args.relations, args.invoices)]
    print(f"seeded {len(done)} tenants with {args.relations} relations, {args.invoices} invoices")


if __name__ == "__main__":
    main()
