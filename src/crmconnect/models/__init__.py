"""Canonical models: the contract between a host CRM and crmconnect.

Connectors translate their wire formats to and from these models, so the
host sees one shape whatever the remote service. Public names are English;
Dutch terms appear only in the docstrings.
"""

from ._invoice import Invoice, InvoiceKind, InvoiceLine, VatCategory
from ._party import (
    Address,
    AddressKind,
    BankAccount,
    ContactDetails,
    Organisation,
    Person,
    RelationType,
    SbiActivity,
)

__all__ = [
    "Address",
    "AddressKind",
    "BankAccount",
    "ContactDetails",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "Organisation",
    "Person",
    "RelationType",
    "SbiActivity",
    "VatCategory",
]

for _name in __all__:
    globals()[_name].__module__ = "crmconnect.models"
del _name
