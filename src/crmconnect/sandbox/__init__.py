"""Offline emulators of the services crmconnect talks to, shipped with the library.

`KvKSandbox` answers like KvK's Zoeken, Basisprofiel, Vestigingsprofiel and
Naamgeving APIs, from an in-memory register that starts with KvK's fictional
test companies (add thousands more with `generate_companies`). Run it
in-process through an httpx transport, or as a loopback HTTP server for any
application (also from the command line: ``python -m crmconnect.sandbox kvk``).
Latency, rate limits and failures can be switched on at will with `Faults`.

`EBoekhoudenSandbox` answers like e-Boekhouden's SOAP service (``/soap.asmx``)
and its REST API (``/v1/``) over the same in-memory books: relations, ledgers,
VAT codes, mutations, open items and balances, with their sessions, errors
(in-band for SOAP) and SOAP's 500-mutation limit
(``python -m crmconnect.sandbox eboekhouden``).

`DigitaleFactuurSandbox` answers like DigitaleFactuur's XML API
(``/api/{account_id}/{access_code}/{action}``): relations with debtor numbers
1xxx and creditor numbers 2xxx, invoices with their payment status
(``python -m crmconnect.sandbox digitalefactuur``).

`DigitaleFactuurMultiSandbox` and `EBoekhoudenMultiSandbox` serve many
accounts from one process, each with its own books, found by its credentials
(a list, or any well-formed ones: ``--any-account``). Every served sandbox
answers a JSON control endpoint under ``/_control/`` to loopback clients
(faults, counters, payments); `SandboxControl` drives it from another process.

`ViesSandbox` answers like the EU's VIES REST interface, with VIES's own
test numbers (``100`` valid, ``200`` invalid, ``300`` service unavailable, ...)
and member states that can be switched off.

Example:
    ```python
    import httpx

    from crmconnect.sandbox import TEST_API_KEY, KvKSandbox, generate_companies

    sandbox = KvKSandbox()
    for company in generate_companies(1000, seed=1):
        sandbox.add(company)

    with httpx.Client(
        transport=sandbox.transport(),
        base_url="https://api.kvk.nl/test/api",
        headers={"apikey": TEST_API_KEY, "Accept": "application/hal+json"},
    ) as client:
        found = client.get("/v2/zoeken", params={"kvkNummer": "69599084"}).json()
        assert found["totaal"] == 2

    sandbox.faults.fail_next(1, "503")  # the next request fails
    sandbox.deregister("69599084", "20260101")  # now hidden from Zoeken

    with sandbox.serve(port=0) as url:  # e.g. http://127.0.0.1:54321
        print(f"point your app at {url}/test/api")

    books = EBoekhoudenSandbox()  # accepts DEMO_CREDENTIALS
    books.fail_next(1, "drop_after", "AddMutatie")  # booked, but the answer is lost
    with books.serve() as url:
        print(f"SOAP at {url}/soap.asmx, REST under {url}/v1/")
    ```
"""

from ._control import CONTROL_PATH, SandboxControl
from ._core import (
    FaultKind,
    Faults,
    Handler,
    Headers,
    SandboxRequest,
    SandboxResponse,
    SandboxStats,
    SandboxTransport,
    ServiceHandler,
    serve,
)
from ._digitalefactuur import (
    DEMO_ACCESS_CODE,
    DEMO_ACCOUNT_ID,
    DigitaleFactuurSandbox,
    InvoiceRecord,
    generate_relations,
)
from ._digitalefactuur_accounts import DigitaleFactuurMultiSandbox
from ._eboekhouden import (
    DEMO_ACCESS_TOKEN,
    DEMO_ADMINISTRATION,
    DEMO_CREDENTIALS,
    DEMO_SECURITY_CODE_1,
    DEMO_SECURITY_CODE_2,
    DEMO_USERNAME,
    REST_PREFIX,
    SOAP_NAMESPACE,
    SOAP_PATH,
    EBoekhoudenCredentials,
    EBoekhoudenSandbox,
)
from ._eboekhouden_accounts import EBoekhoudenMultiSandbox
from ._eboekhouden_data import (
    DEMO_VAT_TABLE,
    DEMO_VAT_TABLE_TOML,
    MUTATION_LIMIT,
    VAT_CODES,
    AdministrationRecord,
    Bookkeeping,
    CostCentreRecord,
    InBandError,
    LedgerRecord,
    LineRecord,
    MutationRecord,
    OpenItemRecord,
    RelationRecord,
    VatCode,
)
from ._kvk import DEMO_API_KEY, MAX_RESULTS, TEST_API_KEY, KvKSandbox
from ._kvk_data import (
    Address,
    AddressKind,
    Branch,
    Company,
    GeoData,
    Register,
    SbiActivity,
    generate_companies,
    kvk_test_companies,
)
from ._kvk_officers_data import OfficerRecord
from ._kvk_signals import SignalFeed
from ._vies import VIES_PATH, VIES_TEST_NUMBERS, ViesSandbox, ViesTrader

__all__ = [
    "CONTROL_PATH",
    "DEMO_ACCESS_CODE",
    "DEMO_ACCESS_TOKEN",
    "DEMO_ACCOUNT_ID",
    "DEMO_ADMINISTRATION",
    "DEMO_API_KEY",
    "DEMO_CREDENTIALS",
    "DEMO_SECURITY_CODE_1",
    "DEMO_SECURITY_CODE_2",
    "DEMO_USERNAME",
    "DEMO_VAT_TABLE",
    "DEMO_VAT_TABLE_TOML",
    "MAX_RESULTS",
    "MUTATION_LIMIT",
    "REST_PREFIX",
    "SOAP_NAMESPACE",
    "SOAP_PATH",
    "TEST_API_KEY",
    "VAT_CODES",
    "VIES_PATH",
    "VIES_TEST_NUMBERS",
    "Address",
    "AddressKind",
    "AdministrationRecord",
    "Bookkeeping",
    "Branch",
    "Company",
    "CostCentreRecord",
    "DigitaleFactuurMultiSandbox",
    "DigitaleFactuurSandbox",
    "EBoekhoudenCredentials",
    "EBoekhoudenMultiSandbox",
    "EBoekhoudenSandbox",
    "FaultKind",
    "Faults",
    "GeoData",
    "Handler",
    "Headers",
    "InBandError",
    "InvoiceRecord",
    "KvKSandbox",
    "LedgerRecord",
    "LineRecord",
    "MutationRecord",
    "OfficerRecord",
    "OpenItemRecord",
    "Register",
    "RelationRecord",
    "SandboxControl",
    "SandboxRequest",
    "SandboxResponse",
    "SandboxStats",
    "SandboxTransport",
    "SbiActivity",
    "ServiceHandler",
    "SignalFeed",
    "VatCode",
    "ViesSandbox",
    "ViesTrader",
    "generate_companies",
    "generate_relations",
    "kvk_test_companies",
    "serve",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "crmconnect.sandbox"
del _name, _obj
