"""e-Boekhouden's REST API v1 (``api.e-boekhouden.nl``) on httpx: no zeep needed.

`EBoekhoudenRestClient` is a `crmconnect.eboekhouden.BooksClient` like the SOAP
client: the same methods, models and errors, so a host switches backend by
configuration (`crmconnect.eboekhouden.connect`). `RELATION_FIELDS` and
`MUTATION_TYPES` hold the JSON names as data.

Example:
    ```python
    from crmconnect.eboekhouden import Relation
    from crmconnect.eboekhouden.rest import EBoekhoudenRestClient

    with EBoekhoudenRestClient("api-token") as books:
        books.upsert_relation(Relation(code="1001", company="Bakkerij Jansen B.V."))
        print(books.open_items("Debiteuren"))
    ```
"""

from ._client import DEFAULT_REST_URL, EBoekhoudenRestClient
from ._errors import parse_rest_error
from ._models import MUTATION_TYPES, RELATION_FIELDS

__all__ = [
    "DEFAULT_REST_URL",
    "MUTATION_TYPES",
    "RELATION_FIELDS",
    "EBoekhoudenRestClient",
    "parse_rest_error",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "crmconnect.eboekhouden.rest"
del _name, _obj
