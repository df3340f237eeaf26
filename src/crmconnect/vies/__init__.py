"""VAT numbers checked with the EU's VIES, and customers updated by VAT number.

`ViesClient.check` says whether a VAT number is valid and, where the member
state discloses them, under which name and address; `check_approx` also
matches trader details and returns a consultation number. Only VALID and
INVALID are answers: whatever else VIES says is an `UnavailableError`, retried
and never taken for "invalid". `VatUpdateService.vat_updates` compares a CRM
record with VIES and proposes the name and the address, to accept field by
field (`UpdateReport.apply`), as the KvK update service does.

Example:
    ```python
    from crmconnect.vies import VatUpdateService, ViesClient

    with ViesClient() as vies:
        report = VatUpdateService(vies).vat_updates(customer)
        for change in report.changes:
            print(change.label, change.crm_value, "→", change.remote_value)
        customer = report.apply(customer, accept=report.fields)
    ```
"""

from ._client import (
    DEFAULT_URL,
    UNAVAILABLE,
    VAT_UPDATE_FIELDS,
    VatUpdateService,
    ViesClient,
    split_vat_number,
    vat_updates,
)
from ._models import Match, VatCheck, parse_address

__all__ = [
    "DEFAULT_URL",
    "UNAVAILABLE",
    "VAT_UPDATE_FIELDS",
    "Match",
    "VatCheck",
    "VatUpdateService",
    "ViesClient",
    "parse_address",
    "split_vat_number",
    "vat_updates",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "crmconnect.vies"
del _name, _obj
