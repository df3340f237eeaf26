"""KvK API clients: `KvKClient` (blocking) and `AsyncKvKClient`.

Both share `_KvKBase`, which does no I/O: configuration, parameter checks,
cache keys and parsing. The two clients add only the requests.

Costs: Zoeken is free, every profile call (Basisprofiel, Vestigingsprofiel,
Naamgeving) is paid per query. Profile answers therefore always go through
the client's cache (in memory unless you pass another), so one client fetches
each profile at most once; `usage` counts what was really sent.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Generic, Literal, TypeVar

import anyio
import attrs
import httpx
import pydantic

from .. import validation
from .._answers import Answer, excerpt
from .._cache import Cache, MemoryCache
from .._http import AsyncHTTP, HTTPSettings, QueryParams, SyncHTTP
from .._model import clean_text
from .._ratelimit import RateLimiter, limiter_for
from .._redact import Redactor, mask_secret
from .._retry import RetryPolicy
from ..errors import (
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    RemoteDeprecationWarning,
)
from ..errors import ValidationError as CrmValidationError
from ..models import Organisation
from ._enrich import EnrichmentSettings, branch_to_fetch, build_organisation, enrichment_settings
from ._errors import NO_RESULTS
from ._models import (
    BasicProfile,
    BranchList,
    BranchProfile,
    Naming,
    Owner,
    ResultType,
    SearchPage,
    SearchResult,
)
from ._officers import (
    PREPROD_BASE_URL,
    AsyncOfficers,
    ContactFunctions,
    Officers,
    OfficerTable,
)
from ._signals import AsyncSignalsMixin, SignalsMixin, parse_kvk_answer_error

__all__ = [
    "ENVIRONMENTS",
    "MAX_SEARCH_RESULTS",
    "TEST_API_KEY",
    "AsyncKvKClient",
    "Environment",
    "KvKClient",
    "KvKUsage",
]

Environment = Literal["production", "test"]

ENVIRONMENTS: dict[str, str] = {
    "production": "https://api.kvk.nl/api",
    "test": "https://api.kvk.nl/test/api",
}
TEST_API_KEY = "l7xx1f2691f2520d487b902f4e0b57a0b197"
"""KvK's public key for its test environment (fictional companies only)."""

MAX_SEARCH_RESULTS = 1000
"""Zoeken shows at most 1000 results, whatever ``totaal`` says."""

MAX_PAGE = 1000
"""Zoeken's highest page number."""

MAX_PER_PAGE = 100
"""Zoeken's most results on one page."""

MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""KvK's default ``max_answer_bytes``: 4 MiB. KvK's largest answers (``/vestigingen`` of a
chain with thousands of branches) stay under 1 MB; parsed JSON costs up to 20 times its
bytes, so a hostile 4 MiB answer is refused within about 100 MB (the core's 16 MiB: 400 MB)."""

MAX_SEARCH_TEXT = 500
"""Our bound on a searched name, street or city (KvK names are far shorter; URLs stay short)."""

DEFAULT_RATE_LIMIT = 100.0
"""KvK allows up to 100 requests per second per key."""

_MAX_WARNINGS = 20
"""Distinct deprecation warnings shown per client (a broken server could send endless ones)."""
_WARNING_LENGTH = 500
_RESULT_TYPES = frozenset({"hoofdvestiging", "nevenvestiging", "rechtspersoon"})
_ModelT = TypeVar("_ModelT", bound=pydantic.BaseModel)


@attrs.define
class KvKUsage:
    """What a client really sent, and what its cache saved.

    Attributes:
        search_calls: Zoeken requests sent (free).
        profile_calls: Profile requests sent (paid per query).
        cache_hits: Answers served from the cache instead.
        signal_calls: Mutatieservice requests sent (its own contract, not per query).
    """

    search_calls: int = 0
    profile_calls: int = 0
    cache_hits: int = 0
    signal_calls: int = 0
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False, eq=False)

    def count(self, *, paid: bool, cached: bool) -> None:
        """Record one answer."""
        with self._lock:
            if cached:
                self.cache_hits += 1
            elif paid:
                self.profile_calls += 1
            else:
                self.search_calls += 1

    def count_signal_call(self) -> None:
        """Record one Mutatieservice request."""
        with self._lock:
            self.signal_calls += 1


def url_secrets(url: str) -> list[str]:
    """The password of a URL such as ``https://user:pass@gateway/kvk``, to mask.

    The user name is left visible: a short one (``api``) would mask every
    occurrence of that word in every message.
    """
    try:
        password = httpx.URL(url).password
    except httpx.InvalidURL:
        return []
    return [password] if password else []


def check_client_settings(
    base_url: object, max_retries: object, rate_limit: object, max_answer_bytes: object
) -> None:
    """Refuse settings of the wrong kind with a `ConfigurationError` naming them."""
    problems = [
        ("base_url", base_url, base_url is None or isinstance(base_url, str)),
        ("max_retries", max_retries, _whole(max_retries, 0)),
        (
            "rate_limit",
            rate_limit,
            rate_limit is None or _positive(rate_limit) or _limits(rate_limit),
        ),
        ("max_answer_bytes", max_answer_bytes, _whole(max_answer_bytes, 1)),
    ]
    for name, value, ok in problems:
        if not ok:
            raise ConfigurationError(f"{name} cannot be {value!r}")


def _whole(value: object, lowest: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= lowest


def _limits(value: object) -> bool:
    return isinstance(value, RateLimiter)


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


class _KvKBase:
    """Configuration, parameter checks and parsing shared by both clients."""

    enrichment: EnrichmentSettings
    """What `organisation` fills (set by each client)."""

    def __init__(
        self,
        api_key: str | None,
        *,
        environment: Environment,
        base_url: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        rate_limit: float | RateLimiter | None,
        accept: Literal["application/json", "application/hal+json"],
        cache: Cache | None,
        cache_searches: bool,
        max_answer_bytes: int,
    ) -> None:
        if not isinstance(environment, str) or environment not in ENVIRONMENTS:
            raise ConfigurationError(
                f"environment must be one of {sorted(ENVIRONMENTS)}, got {environment!r}"
            )
        check_client_settings(base_url, max_retries, rate_limit, max_answer_bytes)
        self.environment = environment
        given = base_url or os.environ.get("CRMCONNECT_KVK_BASE_URL")
        self.base_url = (given or ENVIRONMENTS[environment]).rstrip("/")
        # The old test environment does not serve Functionarissen: its officers come
        # from KvK's preprod host (as the CLI does), unless a base URL was given.
        self._officers_root = PREPROD_BASE_URL if environment == "test" and not given else None
        self._api_key = self._resolve_key(api_key, environment)
        self._redact = Redactor([self._api_key, *url_secrets(self.base_url)])
        self.cache: Cache = cache if cache is not None else MemoryCache()
        self.cache_searches = cache_searches
        self.usage = KvKUsage()
        self._warned: set[str] = set()
        self._fetched: dict[str, float] = {}
        """When this client itself last fetched each cached key (`time.monotonic`)."""
        self._settings = HTTPSettings(
            service="kvk",
            base_url=self.base_url,
            error_parser=parse_kvk_answer_error,
            headers={"apikey": self._api_key, "Accept": accept},
            timeout=timeout if timeout is not None else httpx.Timeout(30.0, connect=10.0),
            retry=RetryPolicy(max_attempts=max(1, max_retries + 1)),
            limiter=limiter_for(rate_limit, burst=10),
            on_response=self._surface_warning,
            max_answer_bytes=max_answer_bytes,
        )

    @staticmethod
    def _resolve_key(api_key: str | None, environment: str) -> str:
        key = api_key or os.environ.get("CRMCONNECT_KVK_API_KEY")
        if key is not None and not isinstance(key, str):
            # The value is not named: it may be the key itself.
            raise ConfigurationError(f"the KvK API key must be text, not {type(key).__name__}")
        key = (key or "").strip()
        if key and not key.isprintable():
            raise ConfigurationError(
                "the KvK API key holds a line break or control character (pasted with it?)"
            )
        if key:
            return key
        if environment == "test":
            return TEST_API_KEY
        raise ConfigurationError(
            "no KvK API key: pass api_key=..., set CRMCONNECT_KVK_API_KEY, "
            'or use environment="test" with KvK\'s public test key'
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(environment={self.environment!r}, "
            f"base_url={self._redact(self.base_url)!r}, api_key={mask_secret(self._api_key)!r})"
        )

    def _surface_warning(self, response: httpx.Response) -> None:
        # KvK announces retirement with an RFC 7234 header: 299 <endpoint> "<text>".
        for value in response.headers.get_list("warning"):
            if value not in self._warned and len(self._warned) < _MAX_WARNINGS:
                self._warned.add(value)
                text = excerpt(value, self._redact, _WARNING_LENGTH)
                warnings.warn(text, RemoteDeprecationWarning, stacklevel=6)

    # -- parameters -----------------------------------------------------------------

    @staticmethod
    def _search_params(
        *,
        name: str | None,
        kvk_number: str | int | None,
        rsin: str | int | None,
        branch_number: str | int | None,
        street: str | None,
        city: str | None,
        postcode: str | None,
        house_number: int | str | None,
        house_letter: str | None,
        po_box: int | str | None,
        types: Sequence[ResultType] | None,
        include_inactive: bool,
        page: int,
        per_page: int,
    ) -> list[tuple[str, str]]:
        """Zoeken v2 parameters, checked before any request (KvK refuses unknown ones)."""
        params: list[tuple[str, str]] = []
        if kvk_number is not None:
            params.append(("kvkNummer", validation.kvk_number(kvk_number)))
        if rsin is not None:
            params.append(("rsin", _nine_digits(rsin)))
        if branch_number is not None:
            params.append(("vestigingsnummer", validation.branch_number(branch_number)))
        if name is not None:
            params.append(("naam", _search_text("name", name)))
        if street is not None:
            params.append(("straatnaam", _search_text("street", street)))
        if city is not None:
            params.append(("plaats", _search_text("city", city)))
        params.extend(_address_params(postcode, house_number, house_letter, po_box))
        for kind in [types] if isinstance(types, str) else types or ():
            if kind not in _RESULT_TYPES:
                raise CrmValidationError("types", kind, f"must be one of {sorted(_RESULT_TYPES)}")
            params.append(("type", kind))
        if not params:
            raise CrmValidationError("search", None, "give at least one search criterion")
        if include_inactive:
            params.append(("inclusiefInactieveRegistraties", "true"))
        pages = _number("page", page, MAX_PAGE)  # Zoeken: "minimaal 1 en maximaal 1000"
        params += [("pagina", str(pages)), ("resultatenPerPagina", str(_per_page(per_page)))]
        return params

    def _key(self, path: str, params: QueryParams) -> str:
        query = "&".join(f"{k}={v}" for k, v in params)
        where = path if path.startswith("https://") else f"{self.base_url}/{path}"
        return f"{where}?{query}"

    def _decode(self, call: _Call[_ModelT], text: str, status: int | None = 200) -> _ModelT:
        """Read an answer into its wire model, or fail with a `MalformedResponseError`.

        Whatever the body (HTML, ``[]``, JSON nested 100,000 deep, another
        registration's profile), the result is the model or our typed error
        naming the service, the status and a masked excerpt.
        """
        answer = Answer("kvk", status, text, self._redact)
        try:
            return _read(answer, call)
        except MalformedResponseError as exc:
            exc.context["path"] = call.path
            error = exc
        raise error  # outside the except block: nothing chained

    @staticmethod
    def _empty_page(page: int, per_page: int) -> str:
        return json.dumps(
            {"pagina": page, "resultatenPerPagina": per_page, "totaal": 0, "resultaten": []}
        )

    def _check_branch_owner(self, kvk_number: str, branch: BranchProfile) -> None:
        if branch.kvk_number and branch.kvk_number != kvk_number:
            raise self._redact.scrub(
                CrmValidationError(
                    "branch_number",
                    branch.branch_number,
                    f"belongs to KvK number {branch.kvk_number}, not {kvk_number}",
                )
            )

    # -- calls (what to fetch, without fetching) ------------------------------------

    def _search_call(self, criteria: dict[str, Any]) -> _Call[SearchPage]:
        return _Call(
            "v2/zoeken", self._search_params(**_search_defaults(criteria)), SearchPage, False
        )

    @staticmethod
    def _profile_call(
        model: type[_ModelT], kvk_number: str | int, suffix: str = "", geo_data: bool | None = False
    ) -> _Call[_ModelT]:
        kvk = validation.kvk_number(kvk_number)
        path = f"v1/basisprofielen/{kvk}{suffix}"
        return _Call(path, _geo(bool(geo_data)), model, True, (("kvk_number", kvk),))

    @staticmethod
    def _branch_call(branch_number: str | int, geo_data: bool) -> _Call[BranchProfile]:
        branch = validation.branch_number(branch_number)
        path = f"v1/vestigingsprofielen/{branch}"
        return _Call(path, _geo(geo_data), BranchProfile, True, (("branch_number", branch),))

    @staticmethod
    def _naming_call(kvk_number: str | int) -> _Call[Naming]:
        kvk = validation.kvk_number(kvk_number)
        path = f"v1/naamgevingen/kvknummer/{kvk}"
        return _Call(path, [], Naming, True, (("kvk_number", kvk),))

    # -- cache ------------------------------------------------------------------------

    def _from_cache(
        self, key: str, call: _Call[_ModelT], fresh: bool, since: float | None = None
    ) -> _ModelT | None:
        """The cached answer, parsed; ``None`` on a miss (or one that must be fetched).

        With ``fresh`` every answer is fetched; with ``since`` (a `time.monotonic`
        value) every answer this client did not itself fetch at or after it.
        """
        if fresh or not (call.paid or self.cache_searches):
            return None
        if since is not None and self._fetched.get(key, -math.inf) < since:
            return None
        text = self.cache.get(key)
        if text is None:
            return None
        try:
            result = self._decode(call, text)
        except MalformedResponseError:
            return None  # an entry this version cannot read (another version wrote it): refetch
        self.usage.count(paid=call.paid, cached=True)
        return result

    def _received(self, key: str, call: _Call[_ModelT], status: int, text: str) -> _ModelT:
        """Count a sent request, parse its answer, and cache it only when it is valid."""
        self.usage.count(paid=call.paid, cached=False)
        result = self._decode(call, text, status)
        if call.paid or self.cache_searches:
            self.cache.set(key, text)
            self._fetched[key] = time.monotonic()
        return result

    def _no_results(self, error: NotFoundError, call: _Call[Any]) -> tuple[int, str] | None:
        """Zoeken's 404 IPD5200 is an empty page; ``None`` for every other not-found."""
        if error.code != NO_RESULTS or call.model is not SearchPage:
            return None
        params = dict(call.params)
        return 404, self._empty_page(int(params["pagina"]), int(params["resultatenPerPagina"]))

    def _organisation_from(
        self, kvk: str, profile: BasicProfile, branch: BranchProfile | None
    ) -> Organisation:
        if branch is not None:
            self._check_branch_owner(kvk, branch)
        try:
            rule = self.enrichment.invoice_address_from
            return build_organisation(profile, branch, invoice_address_from=rule)
        except (pydantic.ValidationError, CrmValidationError) as exc:
            reason = f"the register data does not fit an Organisation: {_first_problem(exc)}"
            body = repr(profile)  # the fields it read; cannot fail, unlike a dump
        raise Answer("kvk", 200, body, self._redact).malformed(reason)


@attrs.frozen
class _Call(Generic[_ModelT]):
    """One GET: path, parameters, the model of its answer, and whether it is paid."""

    path: str
    params: QueryParams
    model: type[_ModelT]
    paid: bool
    expect: tuple[tuple[str, str], ...] = ()
    """Attributes the answer must have these values in (when it has them at all)."""


def _nine_digits(value: str | int) -> str:
    # KvK checks only the pattern here; test-environment RSINs do not all pass the elfproef.
    compact = str(value).replace(" ", "").replace(".", "")
    if len(compact) != 9 or not compact.isdigit():
        raise CrmValidationError("rsin", value, "an RSIN has 9 digits")
    return compact


def _search_text(field: str, value: str) -> str:
    """A name, street or city to search for: visible text of bounded length."""
    if not isinstance(value, str):
        raise CrmValidationError(field, value, f"must be text, not {type(value).__name__}")
    text = " ".join(clean_text(value).split())
    if not text:
        raise CrmValidationError(field, value, "must not be empty")
    if len(text) > MAX_SEARCH_TEXT:
        raise CrmValidationError(
            field, value[:40] + "...", f"is {len(text)} characters; at most {MAX_SEARCH_TEXT}"
        )
    return text


def _per_page(value: int | str) -> int:
    try:
        return _number("per_page", value, MAX_PER_PAGE)
    except CrmValidationError:
        raise CrmValidationError("per_page", value, "must be between 1 and 100") from None


def _address_params(
    postcode: str | None,
    house_number: int | str | None,
    house_letter: str | None,
    po_box: int | str | None,
) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    if postcode is not None:
        if house_number is None and po_box is None:
            raise CrmValidationError(
                "postcode", postcode, "KvK searches a postcode only with house_number or po_box"
            )
        # Sent without a space and upper-case: KvK's pattern is ^[0-9]{4}[a-zA-Z]{2}$.
        params.append(("postcode", validation.postcode(postcode)))
    elif house_number is not None or po_box is not None:
        raise CrmValidationError("postcode", None, "house_number and po_box need a postcode")
    if house_number is not None:
        params.append(("huisnummer", str(_number("house_number", house_number))))
    if house_letter is not None:
        if (
            house_number is None
            or not isinstance(house_letter, str)
            or not re.fullmatch("[A-Za-z]", house_letter)
        ):
            raise CrmValidationError(
                "house_letter", house_letter, "one letter, only with house_number"
            )
        params.append(("huisletter", house_letter.upper()))
    if po_box is not None:
        params.append(("postbusnummer", str(_number("po_box", po_box))))
    return params


def _number(field: str, value: int | str, highest: int = 99999) -> int:
    """A whole number from 1 to ``highest``, given as an int or as digits."""
    text = str(value).strip() if isinstance(value, int | str) else ""
    if isinstance(value, bool) or not re.fullmatch("[0-9]{1,9}", text):
        raise CrmValidationError(field, value, "must be a whole number")
    number = int(text)
    if not 1 <= number <= highest:
        raise CrmValidationError(field, value, f"must be between 1 and {highest}")
    return number


class KvKClient(Officers, SignalsMixin, _KvKBase):
    """Blocking client for KvK's Zoeken, profile, Naamgeving and Mutatieservice APIs.

    Args:
        api_key: Your KvK API key. Falls back to ``CRMCONNECT_KVK_API_KEY``, and in
            the test environment to KvK's public test key.
        environment: ``"production"`` or ``"test"`` (KvK's fictional test companies).
        base_url: Overrides the environment's URL (also ``CRMCONNECT_KVK_BASE_URL``),
            e.g. for a gateway or the sandbox on loopback.
        http_client: An `httpx.Client` to borrow (never closed here).
        transport: An httpx transport for a client created here, e.g.
            ``KvKSandbox().transport()`` in tests.
        timeout: Request timeout in seconds.
        max_retries: Retries of idempotent requests after retriable errors.
        rate_limit: Requests per second (KvK allows 100); ``None`` disables; or a
            `RateLimiter` shared with other clients and processes.
        accept: Response flavour to ask for; both are parsed.
        cache: Where profile answers (and, with ``cache_searches``, search answers)
            are kept; defaults to an in-memory cache of this client.
        cache_searches: Also cache Zoeken answers (free, but rate-limited).
        max_answer_bytes: The largest answer read (4 MiB by default); a larger
            one, like any answer that is not a valid one, raises
            `crmconnect.errors.MalformedResponseError` and is not cached.
        officer_fields: The field names Functionarissen answers are read with
            (`OFFICER_FIELDS`, assumed, by default).
        contact_functions: Which officers `organisation` adds to ``contacts``
            (e.g. `PERFECTVIEW_CONTACT_FUNCTIONS`); ``None``, the default,
            fetches no officers and leaves ``contacts`` empty.
        enrichment: The fields `organisation` is to fill (`EnrichmentSettings`,
            PerfectView's by default) and the invoice-address rule.

    Example:
        ```python
        from crmconnect.kvk import KvKClient

        with KvKClient(environment="test") as kvk:
            for hit in kvk.iter_search(name="Test EMZ Dagobert"):
                print(hit.kvk_number, hit.name)
            organisation = kvk.organisation("69599084")
        ```
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        environment: Environment = "production",
        base_url: str | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 3,
        rate_limit: float | RateLimiter | None = DEFAULT_RATE_LIMIT,
        accept: Literal["application/json", "application/hal+json"] = "application/json",
        cache: Cache | None = None,
        cache_searches: bool = False,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        officer_fields: OfficerTable | None = None,
        contact_functions: ContactFunctions | Sequence[str] | None = None,
        enrichment: EnrichmentSettings | None = None,
    ) -> None:
        super().__init__(
            api_key,
            environment=environment,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            rate_limit=rate_limit,
            accept=accept,
            cache=cache,
            cache_searches=cache_searches,
            max_answer_bytes=max_answer_bytes,
        )
        self._http = SyncHTTP(
            self._settings, self._redact, http_client=http_client, transport=transport
        )
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._setup_officers(officer_fields, contact_functions)
        self.enrichment = enrichment_settings(enrichment)

    def __enter__(self) -> KvKClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (a borrowed ``http_client`` stays open)."""
        self._http.close()

    def _run(
        self, call: _Call[_ModelT], *, fresh: bool = False, since: float | None = None
    ) -> _ModelT:
        """Fetch through the cache (see `_from_cache`), one request per key at a time, and parse."""
        key = self._key(call.path, call.params)
        cached = self._from_cache(key, call, fresh, since)
        if cached is not None:
            return cached
        with self._lock_for(key):
            cached = self._from_cache(key, call, fresh, since)
            if cached is not None:
                return cached
            status, text = self._fetch(call)
            return self._received(key, call, status, text)

    def _fetch(self, call: _Call[Any]) -> tuple[int, str]:
        try:
            response = self._http.request("GET", call.path, params=call.params, idempotent=True)
        except NotFoundError as exc:
            empty = self._no_results(exc, call)
            if empty is None:
                raise
            return empty
        return response.status_code, response.text

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def search(
        self,
        *,
        name: str | None = None,
        kvk_number: str | int | None = None,
        rsin: str | int | None = None,
        branch_number: str | int | None = None,
        street: str | None = None,
        city: str | None = None,
        postcode: str | None = None,
        house_number: int | str | None = None,
        house_letter: str | None = None,
        po_box: int | str | None = None,
        types: Sequence[ResultType] | None = None,
        include_inactive: bool = False,
        page: int = 1,
        per_page: int = 10,
    ) -> SearchPage:
        """Search the register (Zoeken v2, free). One page; see `iter_search` for all.

        Args:
            name: Name, trade name or former name; KvK matches whole words.
            kvk_number: 8-digit KvK number.
            rsin: 9-digit RSIN.
            branch_number: 12-digit branch number (shorter ones are zero-padded).
            street: Street name.
            city: City.
            postcode: Postcode, with or without space; needs ``house_number`` or ``po_box``.
            house_number: House number (with ``postcode``).
            house_letter: House letter (with ``house_number``).
            po_box: PO box number (with ``postcode``).
            types: Only these result types.
            include_inactive: Also ended registrations (results then say ``active``).
            page: Page number, from 1.
            per_page: Results per page, 1 to 100.

        Returns:
            The page; no hits gives an empty page (KvK's 404 ``IPD5200``), not an error.

        Raises:
            ValidationError: A parameter is invalid; nothing was sent.
        """
        criteria = {k: v for k, v in locals().items() if k != "self"}  # all are criteria
        return self._run(self._search_call(criteria))

    def iter_search(self, *, per_page: int = 100, **criteria: Any) -> Iterator[SearchResult]:
        """Yield every result of a search, page by page, up to KvK's 1000-result cap.

        Args:
            per_page: Results per request (1 to 100).
            **criteria: The criteria of `search` (not ``page``).

        Yields:
            Each result once. A warning is issued when the search has more than
            1000 hits, because KvK never shows the rest: narrow the search.
        """
        _no_page(criteria)
        page, seen = 1, 0
        while True:
            result = self.search(page=page, per_page=per_page, **criteria)
            for item in result.results:
                if seen >= MAX_SEARCH_RESULTS:
                    break
                seen += 1
                yield item
            if _last_page(result, seen):
                return
            page += 1

    def basic_profile(
        self, kvk_number: str | int, *, geo_data: bool = False, fresh: bool = False
    ) -> BasicProfile:
        """Fetch the Basisprofiel of a KvK number (paid, cached).

        Raises:
            ValidationError: The number is not 8 digits; nothing was sent.
            NotFoundError: KvK cannot deliver it (IPD0005: unknown or deregistered).
        """
        return self._run(self._profile_call(BasicProfile, kvk_number, "", geo_data), fresh=fresh)

    def owner(self, kvk_number: str | int, *, geo_data: bool = False, fresh: bool = False) -> Owner:
        """Fetch the owner part of the Basisprofiel (``/eigenaar``, paid, cached)."""
        return self._run(self._profile_call(Owner, kvk_number, "/eigenaar", geo_data), fresh=fresh)

    def main_branch(
        self, kvk_number: str | int, *, geo_data: bool = False, fresh: bool = False
    ) -> BranchProfile:
        """Fetch the main branch of a registration (``/hoofdvestiging``, paid, cached)."""
        return self._run(
            self._profile_call(BranchProfile, kvk_number, "/hoofdvestiging", geo_data), fresh=fresh
        )

    def branches(self, kvk_number: str | int, *, fresh: bool = False) -> BranchList:
        """List all branches of a registration (``/vestigingen``, paid, cached; not paged)."""
        return self._run(self._profile_call(BranchList, kvk_number, "/vestigingen"), fresh=fresh)

    def branch_profile(
        self, branch_number: str | int, *, geo_data: bool = False, fresh: bool = False
    ) -> BranchProfile:
        """Fetch the Vestigingsprofiel of a branch (paid, cached).

        Raises:
            ValidationError: Not a branch number; nothing was sent.
            NotFoundError: KvK cannot deliver it (IPD0007).
        """
        return self._run(self._branch_call(branch_number, geo_data), fresh=fresh)

    def naming(self, kvk_number: str | int, *, fresh: bool = False) -> Naming:
        """Fetch all names of a registration and its branches (Naamgeving, paid, cached)."""
        return self._run(self._naming_call(kvk_number), fresh=fresh)

    def organisation(
        self, kvk_number: str | int, branch_number: str | int | None = None, *, fresh: bool = False
    ) -> Organisation:
        """Everything the register says about an organisation, as an `Organisation`.

        Fetches the Basisprofiel (a paid call, at most once per client), and the
        profile of the given branch only where it is needed: for a branch other
        than the main one, or for a field of `enrichment` the Basisprofiel's
        main branch lacks (a second paid call; see `EnrichmentSettings`).

        Args:
            kvk_number: The 8-digit KvK number (a string, or an int).
            branch_number: The branch to describe; the main branch when omitted.
            fresh: Ask KvK again even when the cache holds the answers (the
                fresh answers then replace the cached ones). Update checks do
                this: a cache serves matching and enrichment, never a check for changes.

        Raises:
            ValidationError: A number is invalid, or the branch belongs to another KvK number.
            NotFoundError: KvK cannot deliver the registration (e.g. it was removed).
        """
        return self._organisation(kvk_number, branch_number, fresh=fresh)

    def _organisation(
        self,
        kvk_number: str | int,
        branch_number: str | int | None,
        *,
        fresh: bool = False,
        since: float | None = None,
    ) -> Organisation:
        """`organisation`; with ``since``, only answers this client fetched since then.

        One update run passes its start as ``since``: each profile is then asked
        once per run, however many records share it, and never served from an
        older cache entry.
        """
        kvk = validation.kvk_number(kvk_number)
        profile = self._run(self._profile_call(BasicProfile, kvk), fresh=fresh, since=since)
        wanted = branch_to_fetch(profile, branch_number, self.enrichment.fields)
        branch = (
            self._run(self._branch_call(wanted, False), fresh=fresh, since=since)
            if wanted
            else None
        )
        org = self._organisation_from(kvk, profile, branch)
        return self._with_contacts(org, fresh=fresh, since=since)


class AsyncKvKClient(AsyncOfficers, AsyncSignalsMixin, _KvKBase):
    """Asynchronous twin of `KvKClient`: the same arguments and methods, awaitable.

    Example:
        ```python
        async with AsyncKvKClient(environment="test") as kvk:
            organisation = await kvk.organisation("69599084")
        ```
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        environment: Environment = "production",
        base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 3,
        rate_limit: float | RateLimiter | None = DEFAULT_RATE_LIMIT,
        accept: Literal["application/json", "application/hal+json"] = "application/json",
        cache: Cache | None = None,
        cache_searches: bool = False,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        officer_fields: OfficerTable | None = None,
        contact_functions: ContactFunctions | Sequence[str] | None = None,
        enrichment: EnrichmentSettings | None = None,
    ) -> None:
        super().__init__(
            api_key,
            environment=environment,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            rate_limit=rate_limit,
            accept=accept,
            cache=cache,
            cache_searches=cache_searches,
            max_answer_bytes=max_answer_bytes,
        )
        self._http = AsyncHTTP(
            self._settings, self._redact, http_client=http_client, transport=transport
        )
        self._locks: dict[str, anyio.Lock] = {}
        self._setup_officers(officer_fields, contact_functions)
        self.enrichment = enrichment_settings(enrichment)

    async def __aenter__(self) -> AsyncKvKClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (a borrowed ``http_client`` stays open)."""
        await self._http.aclose()

    async def _run(self, call: _Call[_ModelT], *, fresh: bool = False) -> _ModelT:
        """Fetch through the cache (unless ``fresh``), one request per key at a time, and parse."""
        key = self._key(call.path, call.params)
        cached = self._from_cache(key, call, fresh)
        if cached is not None:
            return cached
        async with self._locks.setdefault(key, anyio.Lock()):
            cached = self._from_cache(key, call, fresh)
            if cached is not None:
                return cached
            status, text = await self._fetch(call)
            return self._received(key, call, status, text)

    async def _fetch(self, call: _Call[Any]) -> tuple[int, str]:
        try:
            response = await self._http.request(
                "GET", call.path, params=call.params, idempotent=True
            )
        except NotFoundError as exc:
            empty = self._no_results(exc, call)
            if empty is None:
                raise
            return empty
        return response.status_code, response.text

    async def search(self, **criteria: Any) -> SearchPage:
        """Search the register (Zoeken v2, free); the arguments of `KvKClient.search`."""
        return await self._run(self._search_call(criteria))

    async def iter_search(
        self, *, per_page: int = 100, **criteria: Any
    ) -> AsyncIterator[SearchResult]:
        """Yield every result of a search, up to 1000 (see `KvKClient.iter_search`)."""
        _no_page(criteria)
        page, seen = 1, 0
        while True:
            result = await self.search(page=page, per_page=per_page, **criteria)
            for item in result.results:
                if seen >= MAX_SEARCH_RESULTS:
                    break
                seen += 1
                yield item
            if _last_page(result, seen):
                return
            page += 1

    async def basic_profile(
        self, kvk_number: str | int, *, geo_data: bool = False, fresh: bool = False
    ) -> BasicProfile:
        """Fetch the Basisprofiel (see `KvKClient.basic_profile`)."""
        return await self._run(
            self._profile_call(BasicProfile, kvk_number, "", geo_data), fresh=fresh
        )

    async def owner(
        self, kvk_number: str | int, *, geo_data: bool = False, fresh: bool = False
    ) -> Owner:
        """Fetch the owner part of the Basisprofiel (see `KvKClient.owner`)."""
        return await self._run(
            self._profile_call(Owner, kvk_number, "/eigenaar", geo_data), fresh=fresh
        )

    async def main_branch(
        self, kvk_number: str | int, *, geo_data: bool = False, fresh: bool = False
    ) -> BranchProfile:
        """Fetch the main branch (see `KvKClient.main_branch`)."""
        call = self._profile_call(BranchProfile, kvk_number, "/hoofdvestiging", geo_data)
        return await self._run(call, fresh=fresh)

    async def branches(self, kvk_number: str | int, *, fresh: bool = False) -> BranchList:
        """List all branches (see `KvKClient.branches`)."""
        return await self._run(
            self._profile_call(BranchList, kvk_number, "/vestigingen"), fresh=fresh
        )

    async def branch_profile(
        self, branch_number: str | int, *, geo_data: bool = False, fresh: bool = False
    ) -> BranchProfile:
        """Fetch the Vestigingsprofiel (see `KvKClient.branch_profile`)."""
        return await self._run(self._branch_call(branch_number, geo_data), fresh=fresh)

    async def naming(self, kvk_number: str | int, *, fresh: bool = False) -> Naming:
        """Fetch all names (see `KvKClient.naming`)."""
        return await self._run(self._naming_call(kvk_number), fresh=fresh)

    async def organisation(
        self, kvk_number: str | int, branch_number: str | int | None = None, *, fresh: bool = False
    ) -> Organisation:
        """Everything the register says about an organisation (see `KvKClient.organisation`)."""
        kvk = validation.kvk_number(kvk_number)
        profile = await self.basic_profile(kvk, fresh=fresh)
        wanted = branch_to_fetch(profile, branch_number, self.enrichment.fields)
        branch = await self.branch_profile(wanted, fresh=fresh) if wanted else None
        return await self._with_contacts(self._organisation_from(kvk, profile, branch), fresh=fresh)


def _read(answer: Answer, call: _Call[_ModelT]) -> _ModelT:
    data = answer.as_object(answer.json(), f"the answer to {call.path}")
    if call.model is SearchPage:
        _check_search_page(answer, data)
    result = answer.model(call.model, data)
    for attribute, expected in call.expect:
        found = getattr(result, attribute, None)
        if found is not None and found != expected:
            answer.fail(f"{attribute} is {found!r}, asked for {expected!r}")
    return result


def _check_search_page(answer: Answer, data: dict[str, Any]) -> None:
    """A search page has its total and its results, and no more of them than fit on a page."""
    answer.field(data, "totaal", "the search page")
    results = answer.as_list(data.get("resultaten"), "the search page's resultaten")
    if len(results) > MAX_PER_PAGE:
        answer.fail(f"{len(results)} results on one page; Zoeken gives at most {MAX_PER_PAGE}")


def _first_problem(exc: pydantic.ValidationError | CrmValidationError) -> str:
    if isinstance(exc, CrmValidationError):
        return f"{exc.field}: {exc.reason}"
    first = exc.errors(include_url=False)[0]
    return ".".join(str(part) for part in first["loc"]) + ": " + first["msg"]


_SEARCH_ARGS = (
    "name kvk_number rsin branch_number street city postcode house_number house_letter po_box types"
).split()


def _search_defaults(criteria: dict[str, Any]) -> dict[str, Any]:
    unknown = set(criteria) - {*_SEARCH_ARGS, "include_inactive", "page", "per_page"}
    if unknown:
        name = sorted(unknown)[0]
        raise CrmValidationError(name, criteria[name], "not a search criterion")
    full: dict[str, Any] = dict.fromkeys(_SEARCH_ARGS)
    full.update(include_inactive=False, page=1, per_page=10)
    full.update(criteria)
    return full


def _no_page(criteria: dict[str, Any]) -> None:
    if "page" in criteria:
        raise CrmValidationError("page", criteria["page"], "iter_search walks every page itself")


def _geo(geo_data: bool) -> list[tuple[str, str]]:
    return [("geoData", "true")] if geo_data else []


def _last_page(result: SearchPage, seen: int) -> bool:
    if not result.results or seen >= MAX_SEARCH_RESULTS:
        if result.total > MAX_SEARCH_RESULTS and seen >= MAX_SEARCH_RESULTS:
            warnings.warn(
                f"KvK found {result.total} results but shows only {MAX_SEARCH_RESULTS}: "
                "narrow the search",
                UserWarning,
                stacklevel=3,
            )
        return True
    return result.page * result.per_page >= result.total
