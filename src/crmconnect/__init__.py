"""crmconnect: connect a CRM to the Dutch KvK register and to Dutch bookkeeping services.

The root package holds what every connector shares: the errors, the
canonical models and the version. Connectors live in their subpackages
(`crmconnect.kvk`, ...), so a plain import stays light.

Example:
    ```python
    import crmconnect
    from crmconnect.kvk import KvKClient

    with KvKClient(environment="test") as kvk:
        organisation: crmconnect.Organisation = kvk.organisation("69599084")
    ```
"""

from ._version import __version__
from .errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    CrmConnectError,
    MalformedResponseError,
    MappingError,
    NotFoundError,
    RateLimitError,
    RemoteDeprecationWarning,
    RemoteValidationError,
    ServerError,
    SyncError,
    TimeoutError,
    TransportError,
    UnavailableError,
    ValidationError,
)
from .models import (
    Address,
    AddressKind,
    BankAccount,
    ContactDetails,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    Organisation,
    Person,
    RelationType,
    SbiActivity,
    VatCategory,
)

__all__ = [
    "APIError",
    "Address",
    "AddressKind",
    "AuthenticationError",
    "BankAccount",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "ContactDetails",
    "CrmConnectError",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "MalformedResponseError",
    "MappingError",
    "NotFoundError",
    "Organisation",
    "Person",
    "RateLimitError",
    "RelationType",
    "RemoteDeprecationWarning",
    "RemoteValidationError",
    "SbiActivity",
    "ServerError",
    "SyncError",
    "TimeoutError",
    "TransportError",
    "UnavailableError",
    "ValidationError",
    "VatCategory",
    "__version__",
]
