"""The KvK connector: search, profiles, matching, enrichment and the update service.

Example:
    ```python
    from crmconnect.kvk import KvKClient, Matcher, UpdateService

    with KvKClient(environment="test") as kvk:
        page = kvk.search(name="Test EMZ Dagobert")
        organisation = kvk.organisation("69599084")
        result = Matcher(kvk).match(organisation)
        report = UpdateService(kvk).check_updates(organisation)
    ```
"""

from .._cache import Cache, DiskCache, MemoryCache
from ._client import (
    ENVIRONMENTS,
    MAX_ANSWER_BYTES,
    MAX_SEARCH_RESULTS,
    TEST_API_KEY,
    AsyncKvKClient,
    Environment,
    KvKClient,
    KvKUsage,
)
from ._enrich import (
    EMPLOYEE_SPLIT,
    ENRICHMENT_FIELDS,
    INVOICE_ADDRESS_FROM,
    PERFECTVIEW_FIELDS,
    EnrichmentSettings,
    build_organisation,
    employee_class,
)
from ._flow import (
    DEFAULT_KVK_INTERVAL,
    KVK_SERVICE,
    REGISTRATION_FIELD,
    SIGNAL_BOOKMARK,
    KvKUpdates,
    apply_kvk_update,
)
from ._matching import (
    AsyncMatcher,
    Candidate,
    Matcher,
    MatchResult,
    MatchSettings,
    MatchStatus,
    ProgressCallback,
    Strategy,
    query_name,
    score_result,
)
from ._models import (
    BasicProfile,
    BranchList,
    BranchProfile,
    BranchSummary,
    ForeignAddress,
    GeoData,
    KvKSbiActivity,
    MaterialRegistration,
    Naming,
    NamingBranch,
    Owner,
    RegisterAddress,
    ResultType,
    SearchAddress,
    SearchPage,
    SearchResult,
    TradeName,
    parse_kvk_date,
    parse_kvk_flag,
)
from ._normalise import (
    address_key,
    name_similarity,
    normalise_city,
    normalise_name,
    same_city,
)
from ._officers import (
    CONTACTS_FIELD,
    OFFICER_ATTRIBUTES,
    OFFICER_FIELDS,
    PERFECTVIEW_CONTACT_FUNCTIONS,
    PREPROD_BASE_URL,
    ContactFunctions,
    Officer,
    OfficerField,
    OfficerList,
    OfficerTable,
    read_officers,
)
from ._signal_models import (
    SIGNAL_NAMES,
    Signal,
    SignalDetail,
    SignalKind,
    SignalNames,
    SignalPage,
    SignalType,
    Subscription,
    SubscriptionList,
    UnreadableSignal,
)
from ._signal_updates import (
    DEFAULT_SIGNAL_OVERLAP,
    SignalBookmark,
    SignalUpdates,
    SignalUpdateService,
)
from ._updates import (
    UPDATE_FIELDS,
    FieldChange,
    RegistrationStatus,
    UpdateReport,
    UpdateService,
    UpdateSummary,
    compare,
    format_value,
)

__all__ = [
    "CONTACTS_FIELD",
    "DEFAULT_KVK_INTERVAL",
    "DEFAULT_SIGNAL_OVERLAP",
    "EMPLOYEE_SPLIT",
    "ENRICHMENT_FIELDS",
    "ENVIRONMENTS",
    "INVOICE_ADDRESS_FROM",
    "KVK_SERVICE",
    "MAX_ANSWER_BYTES",
    "MAX_SEARCH_RESULTS",
    "OFFICER_ATTRIBUTES",
    "OFFICER_FIELDS",
    "PERFECTVIEW_CONTACT_FUNCTIONS",
    "PERFECTVIEW_FIELDS",
    "PREPROD_BASE_URL",
    "REGISTRATION_FIELD",
    "SIGNAL_BOOKMARK",
    "SIGNAL_NAMES",
    "TEST_API_KEY",
    "UPDATE_FIELDS",
    "AsyncKvKClient",
    "AsyncMatcher",
    "BasicProfile",
    "BranchList",
    "BranchProfile",
    "BranchSummary",
    "Cache",
    "Candidate",
    "ContactFunctions",
    "DiskCache",
    "EnrichmentSettings",
    "Environment",
    "FieldChange",
    "ForeignAddress",
    "GeoData",
    "KvKClient",
    "KvKSbiActivity",
    "KvKUpdates",
    "KvKUsage",
    "MatchResult",
    "MatchSettings",
    "MatchStatus",
    "Matcher",
    "MaterialRegistration",
    "MemoryCache",
    "Naming",
    "NamingBranch",
    "Officer",
    "OfficerField",
    "OfficerList",
    "OfficerTable",
    "Owner",
    "ProgressCallback",
    "RegisterAddress",
    "RegistrationStatus",
    "ResultType",
    "SearchAddress",
    "SearchPage",
    "SearchResult",
    "Signal",
    "SignalBookmark",
    "SignalDetail",
    "SignalKind",
    "SignalNames",
    "SignalPage",
    "SignalType",
    "SignalUpdateService",
    "SignalUpdates",
    "Strategy",
    "Subscription",
    "SubscriptionList",
    "TradeName",
    "UnreadableSignal",
    "UpdateReport",
    "UpdateService",
    "UpdateSummary",
    "address_key",
    "apply_kvk_update",
    "build_organisation",
    "compare",
    "employee_class",
    "format_value",
    "name_similarity",
    "normalise_city",
    "normalise_name",
    "parse_kvk_date",
    "parse_kvk_flag",
    "query_name",
    "read_officers",
    "same_city",
    "score_result",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        try:
            _obj.__module__ = "crmconnect.kvk"
        except (AttributeError, TypeError):  # pragma: no cover - builtins, aliases
            pass
del _name, _obj
