"""`KvKSandbox`: an offline KvK (Zoeken, Basisprofiel, Vestigingsprofiel, Naamgeving).

The handler answers from an in-memory register (see `crmconnect.sandbox._kvk_data`).

Paths, parameters, field names, error codes and Dutch error texts follow KvK's
OpenAPI specs (Zoeken 2.0.0, Basisprofiel 1.5.0, Vestigingsprofiel 1.4) and
recordings of KvK's test environment. Where KvK's behaviour is undocumented
the choice is marked ``Assumption:`` in the code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import urllib.parse
from collections.abc import Callable, Collection, Iterable
from http import HTTPStatus
from typing import Any, Literal, NoReturn

import attrs

from ._core import Faults, SandboxRequest, SandboxResponse, SandboxStats, SandboxTransport, serve
from ._kvk_data import (
    Address,
    Branch,
    Company,
    Register,
    SearchHit,
    SearchQuery,
    as_kvk_date,
    kvk_test_companies,
)
from ._kvk_officers import KvKOfficers
from ._kvk_signals import SignalFeed

__all__ = ["DEMO_API_KEY", "MAX_RESULTS", "TEST_API_KEY", "KvKSandbox"]

TEST_API_KEY = "l7xx1f2691f2520d487b902f4e0b57a0b197"
"""KvK's public API key for its test environment; the sandbox accepts it by default."""

DEMO_API_KEY = "sandbox"
"""A short key the sandbox also accepts by default, for demos."""

MAX_RESULTS = 1000
"""Zoeken serves at most this many results per query, whatever ``totaal`` says."""

ENVIRONMENT_PREFIXES = ("/test/api", "/api")
"""KvK's test and production path prefixes; the sandbox answers both alike."""

API_VERSIONS = {
    "zoeken": "2.1.0",  # recorded
    "basisprofiel": "1.5.0",  # recorded
    "vestigingsprofiel": "1.5.0",  # recorded (the spec says 1.4)
    "naamgeving": "1.1.1",  # the spec version; no recording
    "functionarissen": "1.0",  # the spec's info.version; no recording
}

Flavour = Literal["json", "hal"]

# KvK pads volledigAdres between street part and postcode part, with a width
# that depends on the API (recorded): 33 spaces in Basisprofiel's hoofdvestiging,
# 25 in Vestigingsprofiel, a single space in Basisprofiel's eigenaar.
_PAD_BASISPROFIEL = 33
_PAD_VESTIGINGSPROFIEL = 25
_PAD_EIGENAAR = 1

_NO_PROFILE_LINKS_BEFORE = "20100522"
"""KvK: registrations ended before 22 May 2010 have no links to the profile APIs."""

# Assumption: KvK's "Foutmelding" test numbers fail; the sandbox makes them fail
# with a server error (90004973) and a "temporarily unavailable" (90002903).
_ERROR_SCENARIOS = {
    "90004973": (500, "IPD9999", "Er is een interne fout opgetreden."),
    "90002903": (
        404,
        "IPD1002",
        "Het product is tijdelijk niet leverbaar. Probeer het later opnieuw.",
    ),
}

_ZOEKEN_PARAMETERS = (
    "kvkNummer", "rsin", "vestigingsnummer", "naam", "straatnaam", "plaats", "postcode",
    "huisnummer", "huisletter", "postbusnummer", "type", "inclusiefInactieveRegistraties",
    "pagina", "resultatenPerPagina",
)  # fmt: skip
# Assumption: parameter names match case-insensitively; the self link shows that
# KvK lowercases them (``kvknummer``), and its docs use both spellings of
# ``inclusiefInactieveRegistraties``.
_ZOEKEN_NAMES = {name.lower(): name for name in _ZOEKEN_PARAMETERS}
_PAGING = ("pagina", "resultatenPerPagina")
_INACTIVE = "inclusiefInactieveRegistraties"
_RESULT_TYPES = frozenset({"hoofdvestiging", "nevenvestiging", "rechtspersoon"})

_KVK_NUMBER = re.compile(r"[0-9]{8}")
_BRANCH_NUMBER = re.compile(r"[0-9]{12}")
_RSIN = re.compile(r"[0-9]{9}")
_POSTCODE = re.compile(r"[0-9]{4}[a-zA-Z]{2}")  # the spec's "[a-z,A-Z]" also allows "," by mistake
_NUMBER = re.compile(r"[0-9]{1,5}")
_LETTER = re.compile(r"[a-zA-Z]")


class _KvKError(Exception):
    """An error answer: HTTP status, IPD code (``None`` for HTTP-level errors), text."""

    def __init__(self, status: int, code: str | None, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.code = code
        self.text = text


def _invalid_kvk_number(value: str) -> _KvKError:
    return _KvKError(400, "IPD0004", f"Het KVK-nummer {value} is niet valide.")


def _invalid_branch_number(value: str) -> _KvKError:
    return _KvKError(400, "IPD0006", f"Het vestigingsnummer {value} is niet valide.")  # recorded


def _invalid_input(text: str) -> _KvKError:
    return _KvKError(400, "IPD1998", text)


def _unknown_company(kvk_number: str) -> _KvKError:
    text = f"Op basis van het KVK-nummer {kvk_number} kan het product niet worden geleverd."
    return _KvKError(404, "IPD0005", text)  # recorded


def _unknown_branch(number: str) -> _KvKError:
    text = f"Op basis van het vestigingsnummer {number} kan het product niet worden geleverd."
    return _KvKError(404, "IPD0007", text)


def _no_results() -> _KvKError:
    text = "Er zijn geen gegevens gevonden die voldoen aan de opgegeven zoekparameters."
    return _KvKError(404, "IPD5200", text)  # recorded


def _ja(value: bool) -> str:
    """KvK writes indicators as ``"Ja"``/``"Nee"``."""
    return "Ja" if value else "Nee"


@attrs.frozen
class _Call:
    """A request that passed the gateway checks, with what the endpoints need."""

    request: SandboxRequest
    base: str  # e.g. "http://127.0.0.1:8123/test/api"
    route: str  # the path after the prefix, e.g. "/v1/basisprofielen/69599084"
    flavour: Flavour

    def link(self, path: str) -> str:
        """An absolute link within the same environment."""
        return self.base + path

    def params(self, name: str) -> list[str]:
        """Values of a query parameter, its name matched case-insensitively."""
        wanted = name.lower()
        return [value for key, value in self.request.query if key.lower() == wanted]


@attrs.frozen
class _ZoekenParams:
    query: SearchQuery
    page: int
    per_page: int
    link_params: tuple[tuple[str, str], ...]


_ROUTES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"/v2/zoeken"), "zoeken", "_zoeken"),
    (re.compile(r"/v1/basisprofielen/([^/]*)"), "basisprofiel", "_basisprofiel"),
    (re.compile(r"/v1/basisprofielen/([^/]*)/eigenaar"), "basisprofiel/eigenaar", "_eigenaar"),
    (
        re.compile(r"/v1/basisprofielen/([^/]*)/hoofdvestiging"),
        "basisprofiel/hoofdvestiging",
        "_hoofdvestiging",
    ),
    (
        re.compile(r"/v1/basisprofielen/([^/]*)/vestigingen"),
        "basisprofiel/vestigingen",
        "_vestigingen",
    ),
    (re.compile(r"/v1/vestigingsprofielen/([^/]*)"), "vestigingsprofiel", "_vestigingsprofiel"),
    (re.compile(r"/v1/naamgevingen/kvknummer/([^/]*)"), "naamgeving", "_naamgeving"),
    (
        re.compile(r"/v1/functionarissen/kvknummer/([^/]*)"),
        "functionarissen",
        "_functionarissen",
    ),
]
_ENDPOINTS = {
    "zoeken": "/v2/zoeken",
    "basisprofiel": "/v1/basisprofielen",
    "vestigingsprofiel": "/v1/vestigingsprofielen",
    "naamgeving": "/v1/naamgevingen/kvknummer",
    "functionarissen": "/v1/functionarissen/kvknummer",
}


def _split_prefix(path: str) -> tuple[str, str] | None:
    """``"/test/api/v2/zoeken"`` → ``("/test/api", "/v2/zoeken")``."""
    for prefix in ENVIRONMENT_PREFIXES:
        if path.startswith(prefix + "/"):
            return prefix, path[len(prefix) :]
    return None


def _route(route: str) -> tuple[str, str, str] | None:
    """The family, endpoint method name and path identifier of a route."""
    for pattern, family, method in _ROUTES:
        match = pattern.fullmatch(route)
        if match:
            return family, method, match.group(1) if pattern.groups else ""
    return None


def _flavour(accept: str | None) -> Flavour | None:
    """Pick the answer flavour from ``Accept``; ``None`` means 406.

    Assumption (kvk.md §16 q2): without ``Accept``, or with ``*/*``, KvK answers
    plain JSON (``links`` lists), as a 2022 recording without HAL shows.
    """
    if accept is None or not accept.strip():
        return "json"
    ranges = []
    for position, part in enumerate(accept.split(",")):
        media, *options = (piece.strip() for piece in part.split(";"))
        quality = next((o[2:] for o in options if o.lower().startswith("q=")), "1")
        with contextlib.suppress(ValueError):
            if float(quality) > 0:
                ranges.append((-float(quality), position, media.lower()))
    for _quality, _position, media in sorted(ranges):
        if media == "application/hal+json":
            return "hal"
        if media in ("application/json", "application/*", "*/*"):
            return "json"
    return None


def _put_links(body: dict[str, Any], call: _Call, links: Iterable[tuple[str, str]]) -> None:
    """HAL: ``_links: {rel: {href}}``; JSON: ``links: [{rel, href}]``."""
    if call.flavour == "hal":
        body["_links"] = {rel: {"href": href} for rel, href in links}
    else:
        body["links"] = [{"rel": rel, "href": href} for rel, href in links]


def _registration(start: str, end: str | None) -> dict[str, str]:
    body = {"datumAanvang": start} if start else {}
    if end:
        body["datumEinde"] = end
    return body


def _full_address(address: Address, padding: int) -> str:
    """``volledigAdres``: KvK pads between the street part and the postcode part."""
    number = address.house_number if address.house_number is not None else address.po_box
    street = " ".join(
        str(part)
        for part in (address.street, number, address.house_letter, address.house_number_addition)
        if part is not None
    )
    if not address.domestic:
        return " ".join(filter(None, (street, address.postcode, address.city, address.country)))
    place = " ".join(filter(None, (address.postcode, address.city)))
    return f"{street}{' ' * padding}{place}" if street else place


def _profile_address(address: Address, padding: int, geo: bool) -> dict[str, Any]:
    """An ``Adres`` of the profile APIs; a shielded one shows only city and country."""
    body: dict[str, Any] = {"type": address.kind, "indAfgeschermd": _ja(address.shielded)}
    if address.shielded:
        return body | {"plaats": address.city, "land": address.country}
    body["volledigAdres"] = _full_address(address, padding)
    if address.domestic:
        fields = {
            "straatnaam": address.street,
            "huisnummer": address.house_number,
            "huisletter": address.house_letter,
            "huisnummerToevoeging": address.house_number_addition,
            "toevoegingAdres": address.addition,
            "postcode": address.postcode,
            "postbusnummer": address.po_box,
            "plaats": address.city,
        }
    else:
        number = address.house_number
        fields = {
            "straatHuisnummer": " ".join(str(p) for p in (address.street, number) if p),
            "postcodeWoonplaats": " ".join(p for p in (address.postcode, address.city) if p),
            "regio": address.region,
        }
    body.update((key, value) for key, value in fields.items() if value is not None)
    body["land"] = address.country
    if geo and address.geo is not None:
        body["geoData"] = _geo_data(address)
    return body


def _geo_data(address: Address) -> dict[str, Any]:
    assert address.geo is not None
    geo = address.geo
    return {
        "addresseerbaarObjectId": geo.bag_object_id,
        "nummerAanduidingId": geo.bag_number_id,
        "gpsLatitude": geo.latitude,
        "gpsLongitude": geo.longitude,
        "rijksdriehoekX": geo.rd_x,
        "rijksdriehoekY": geo.rd_y,
        "rijksdriehoekZ": geo.rd_z,
    }


def _trade_names(names: Iterable[str]) -> list[dict[str, Any]]:
    """``handelsnamen``: ``volgorde`` counts from 0 in real data (recorded)."""
    return [{"naam": name, "volgorde": order} for order, name in enumerate(names)]


def _sbi(company_or_branch: Company | Branch) -> list[dict[str, str]]:
    return [
        {"sbiCode": a.code, "sbiOmschrijving": a.description, "indHoofdactiviteit": _ja(a.main)}
        for a in company_or_branch.sbi_activities
    ]


def _set_if(body: dict[str, Any], key: str, value: Any) -> None:
    """Add a field only when it has a value: KvK leaves empty fields out."""
    if value is not None and value != "" and value != [] and value != {}:
        body[key] = value


class KvKSandbox(KvKOfficers):
    """An offline KvK: Zoeken, Basisprofiel, Vestigingsprofiel and Naamgeving.

    Serves ``/test/api/...`` (test environment) and ``/api/...`` (production)
    alike, from an in-memory register; links in answers point back at whatever
    host the request addressed. Use it in-process with `transport` or over
    loopback HTTP with `serve`.

    Args:
        companies: The register; KvK's fictional test companies when omitted.
        api_keys: Accepted ``apikey`` values; KvK's public test key and
            ``"sandbox"`` when omitted.
        latency: Seconds added to every answer.
        rate_limit: Requests per second before 429 answers; none when ``None``.
        deprecation_warning: A text to announce in a ``warning: 299`` header on
            every answer, as KvK does before retiring an API version.

    Attributes:
        register: The indexed register (see `add`, `update` and friends).
        faults: Latency, rate limit and injected faults; change them any time.
        stats: Counters of what was answered.
        signals: The Mutatieservice: a signal for every change made through this sandbox.
        officer_fields: The table Functionarissen answers are written with (see
            `officers`, `add_officer`, `remove_officer`).

    Example:
        ```python
        sandbox = KvKSandbox()
        client = httpx.Client(
            transport=sandbox.transport(),
            base_url="https://api.kvk.nl/test/api",
            headers={"apikey": TEST_API_KEY},
        )
        client.get("/v2/zoeken", params={"kvkNummer": "69599084"}).json()["totaal"]  # 2
        ```
    """

    def __init__(
        self,
        companies: Iterable[Company] | None = None,
        *,
        api_keys: Collection[str] | None = None,
        latency: float = 0.0,
        rate_limit: float | None = None,
        deprecation_warning: str | None = None,
    ) -> None:
        self.register = Register(kvk_test_companies() if companies is None else companies)
        self.api_keys = frozenset(
            api_keys if api_keys is not None else (TEST_API_KEY, DEMO_API_KEY)
        )
        self.faults = Faults(latency=latency, rate_limit=rate_limit)
        self.stats = SandboxStats()
        self.deprecation_warning = deprecation_warning
        self.signals = SignalFeed()

    def __repr__(self) -> str:
        return f"KvKSandbox(companies={len(self.register)}, faults={self.faults!r})"

    # --- running it ----------------------------------------------------------------

    def transport(self) -> SandboxTransport:
        """An httpx transport (sync and async) answering from this sandbox."""
        return SandboxTransport(self, self.faults, self.stats)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False
    ) -> contextlib.AbstractContextManager[str]:
        """Serve this sandbox over loopback HTTP for the duration of a ``with`` block.

        Args:
            host: The address to bind; loopback only unless ``allow_remote``.
            port: The port; ``0`` picks a free one.
            allow_remote: Allow a non-loopback address.

        Returns:
            A context manager yielding the server's root URL; KvK's test
            environment is under ``<url>/test/api``, production under ``<url>/api``.
        """
        return serve(self, self.faults, host, port, stats=self.stats, allow_remote=allow_remote)

    # --- the register --------------------------------------------------------------

    def get(self, kvk_number: str) -> Company | None:
        """The registration with this KvK number, if any."""
        return self.register.get(kvk_number)

    def add(self, company: Company) -> None:
        """Register a company (e.g. one made with `generate_companies`).

        Raises:
            ValueError: When its KvK number or a branch number is taken.
        """
        self.register.add(company)
        self.signals.record(None, company)

    def update(self, kvk_number: str, /, **changes: Any) -> Company:
        """Change fields of a registration (attribute names of `Company`).

        Example: ``sandbox.update("69599084", non_mailing=False)``.

        Returns:
            The new version.

        Raises:
            KeyError: When the KvK number is not registered.
            ValueError: When asked to change the KvK number itself.
        """
        if "kvk_number" in changes:
            raise ValueError("the KvK number of a registration cannot change; add a new one")
        with self.register.lock:
            company = self._company(kvk_number)
            changed = attrs.evolve(company, **changes)
            self.register.replace(changed)
            self.signals.record(company, changed)
            return changed

    def deregister(self, kvk_number: str, date: str | dt.date | None = None) -> Company:
        """End a registration as KvK shows it after deregistration.

        Sets ``materieleRegistratie.datumEinde`` and ``eigenaar.datumUitschrijving``
        and closes its open branches. Profiles still answer; Zoeken hides it
        unless ``inclusiefInactieveRegistraties=true``, and then says ``actief: Nee``.

        Args:
            kvk_number: The registration.
            date: The end date; today when omitted.

        Returns:
            The new version.
        """
        day = as_kvk_date(date or dt.date.today())
        with self.register.lock:
            company = self._company(kvk_number)
            branches = [
                b if b.end_date else attrs.evolve(b, end_date=day) for b in company.branches
            ]
            return self.update(kvk_number, end_date=day, deregistration_date=day, branches=branches)

    def remove(self, kvk_number: str) -> Company:
        """Delete a registration: profiles then answer 404 IPD0005, Zoeken 404 IPD5200.

        Raises:
            KeyError: When the KvK number is not registered.
        """
        removed = self.register.remove(kvk_number)
        self.signals.record(removed, None)
        return removed

    def close_branch(self, branch_number: str, date: str | dt.date | None = None) -> Branch:
        """Close a branch: it leaves ``/vestigingen`` and Zoeken; its profile shows ``datumEinde``.

        Raises:
            KeyError: When the branch number is not registered.
        """
        day = as_kvk_date(date or dt.date.today())
        with self.register.lock:
            found = self.register.branch(branch_number)
            if found is None:
                raise KeyError(branch_number)
            company, branch = found
            closed = attrs.evolve(branch, end_date=day)
            branches = [closed if b.number == branch_number else b for b in company.branches]
            self.update(company.kvk_number, branches=branches)
            return closed

    def _company(self, kvk_number: str) -> Company:
        company = self.register.get(kvk_number)
        if company is None:
            raise KeyError(kvk_number)
        return company

    # --- the Handler protocol ------------------------------------------------------

    def __call__(self, request: SandboxRequest) -> SandboxResponse:
        """Answer one request as KvK would."""
        if self.signals.serves(request.path):
            accept = _flavour(request.headers.get("accept"))
            headers = self._common_headers(request)
            return self.signals.answer(request, self.api_keys, accept, headers)
        try:
            call = self._accept(request)
            family, method, identifier = _route(call.route) or self._no_route(call)
            endpoint: Callable[[_Call, str], dict[str, Any]] = getattr(self, method)
            body = endpoint(call, identifier)
        except _KvKError as error:
            return self._error(request, error)
        content_type = "application/hal+json" if call.flavour == "hal" else "application/json"
        headers = [("API-Version", API_VERSIONS[family.split("/")[0]])]
        headers += self._common_headers(request)
        return SandboxResponse.from_json(200, body, content_type=content_type, headers=headers)

    def render_error(
        self, request: SandboxRequest, status: int, retry_after: int | None = None
    ) -> SandboxResponse:
        """Answer an injected 429, 500 or 503 in KvK's error format."""
        if self.signals.serves(request.path):  # the Mutatieservice's: ProblemDetail
            headers = self._common_headers(request)
            return self.signals.render_error(request, status, retry_after, headers)
        if status == 429:
            # Assumption: KvK documents no 429; answer its error shape without an IPD code.
            seconds = retry_after or 1
            text = f"Te veel verzoeken. Probeer het over {seconds} seconde(n) opnieuw."
            response = self._error(request, _KvKError(429, None, text))
            headers = [*response.headers.raw, ("Retry-After", str(seconds))]
            return SandboxResponse(429, headers, response.body)
        if status == 500:
            return self._error(
                request, _KvKError(500, "IPD9999", "Er is een interne fout opgetreden.")
            )
        text = HTTPStatus(status).phrase
        if status == 503:
            text = "De dienst is tijdelijk niet beschikbaar. Probeer het later opnieuw."
        return self._error(request, _KvKError(status, None, text))

    def path_family(self, path: str) -> str:
        """Name the endpoint of a path for `SandboxStats`, e.g. ``"zoeken"``."""
        if self.signals.serves(path):
            return "mutatieservice"
        split = _split_prefix(path)
        routed = _route(split[1]) if split else None
        return routed[0] if routed else "other"

    # --- gateway checks and answers ---------------------------------------------------

    def _accept(self, request: SandboxRequest) -> _Call:
        """The gateway's checks, in order: key (401), method (405), Accept (406)."""
        if request.headers.get("apikey") not in self.api_keys:
            raise _KvKError(401, None, "Geen of onjuiste apikey aangeleverd")
        if request.method not in ("GET", "HEAD"):
            raise _KvKError(405, None, f"Methode {request.method} wordt niet ondersteund")
        flavour = _flavour(request.headers.get("accept"))
        if flavour is None:
            raise _KvKError(406, None, "Opgegeven Accept header wordt niet ondersteund")
        split = _split_prefix(request.path)
        if split is None:
            raise _KvKError(404, "IPD0001", "Het opgevraagde product bestaat niet.")
        return _Call(request, request.base_url + split[0], split[1], flavour)

    @staticmethod
    def _no_route(call: _Call) -> NoReturn:
        raise _KvKError(404, "IPD0001", "Het opgevraagde product bestaat niet.")

    def _common_headers(self, request: SandboxRequest) -> list[tuple[str, str]]:
        headers = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
        if self.deprecation_warning:
            text = self.deprecation_warning.replace("\\", "\\\\").replace('"', '\\"')
            headers.append(("Warning", f'299 {self._endpoint_url(request)} "{text}"'))
        return headers

    @staticmethod
    def _endpoint_url(request: SandboxRequest) -> str:
        """The warn-agent: the API endpoint including its version (per the spec)."""
        split = _split_prefix(request.path)
        if split is None:
            return request.base_url + request.path
        family = (_route(split[1]) or ("other",))[0].split("/")[0]
        return request.base_url + split[0] + _ENDPOINTS.get(family, split[1])

    def _error(self, request: SandboxRequest, error: _KvKError) -> SandboxResponse:
        """Errors are always ``application/json`` (recorded), even when HAL was asked."""
        fault: dict[str, str] = {"code": error.code} if error.code else {}
        fault["omschrijving"] = error.text
        headers = self._common_headers(request)
        if error.status == 405:
            headers.append(("Allow", "GET"))
        return SandboxResponse.from_json(error.status, {"fout": [fault]}, headers=headers)

    # --- Zoeken --------------------------------------------------------------------------

    def _zoeken(self, call: _Call, _identifier: str) -> dict[str, Any]:
        params = _parse_zoeken(call.request.query)
        start = (params.page - 1) * params.per_page
        with self.register.lock:  # a concurrent change must not split search and page
            keys = self.register.search(params.query)
            served = min(len(keys), MAX_RESULTS)
            page = keys[start : min(start + params.per_page, served)]
            hits = [self.register.hit(key, params.query) for key in page]
        if not keys:
            raise _no_results()
        # Assumption: ``totaal`` is the real count; pages beyond the 1000th result
        # (or beyond the last one) answer 200 with an empty list.
        body: dict[str, Any] = {
            "pagina": params.page,
            "resultatenPerPagina": params.per_page,
            "totaal": len(keys),
        }
        if params.page > 1:
            body["vorige"] = _zoeken_link(call, params, params.page - 1)
        if start + params.per_page < served:
            body["volgende"] = _zoeken_link(call, params, params.page + 1)
        body["resultaten"] = [_result_item(call, hit, params.query) for hit in hits]
        _put_links(body, call, [("self", _zoeken_link(call, params, params.page))])
        return body

    # --- Basisprofiel ----------------------------------------------------------------------

    def _profile_company(self, identifier: str) -> Company:
        if not _KVK_NUMBER.fullmatch(identifier):
            raise _invalid_kvk_number(identifier)
        if identifier in _ERROR_SCENARIOS:
            raise _KvKError(*_ERROR_SCENARIOS[identifier])
        company = self.register.get(identifier)
        if company is None:
            raise _unknown_company(identifier)
        return company

    def _basisprofiel(self, call: _Call, identifier: str) -> dict[str, Any]:
        company = self._profile_company(identifier)
        geo = _geo_flag(call)
        body: dict[str, Any] = {
            "kvkNummer": company.kvk_number,
            "indNonMailing": _ja(company.non_mailing),
        }
        body["naam"] = company.name
        _set_if(body, "formeleRegistratiedatum", company.registration_date)
        _set_if(body, "materieleRegistratie", _registration(company.start_date, company.end_date))
        _set_if(body, "totaalWerkzamePersonen", company.employees)
        _set_if(body, "statutaireNaam", company.statutory_name)
        _set_if(body, "handelsnamen", _trade_names(company.all_trade_names))
        _set_if(body, "sbiActiviteiten", _sbi(company))
        embedded = {"eigenaar": _owner(call, company, geo)}
        main = company.main_branch
        if main is not None:
            embedded["hoofdvestiging"] = _embedded_main_branch(call, company, main, geo)
        links = [("self", call.link(f"/v1/basisprofielen/{company.kvk_number}"))]
        if company.branches:
            links.append(
                ("vestigingen", call.link(f"/v1/basisprofielen/{company.kvk_number}/vestigingen"))
            )
        if call.flavour == "json":  # the JSON recording puts links before _embedded, HAL after
            _put_links(body, call, links)
            body["_embedded"] = embedded
        else:
            body["_embedded"] = embedded
            _put_links(body, call, links)
        return body

    def _eigenaar(self, call: _Call, identifier: str) -> dict[str, Any]:
        return _owner(call, self._profile_company(identifier), _geo_flag(call))

    def _hoofdvestiging(self, call: _Call, identifier: str) -> dict[str, Any]:
        company = self._profile_company(identifier)
        main = company.main_branch
        if main is None:  # since Basisprofiel 1.4.4: IPD0005 (was IPD0007)
            raise _unknown_company(identifier)
        links = _main_branch_links(call, company, main)
        return _branch_profile(call, company, main, links, _PAD_BASISPROFIEL, _geo_flag(call))

    def _vestigingen(self, call: _Call, identifier: str) -> dict[str, Any]:
        company = self._profile_company(identifier)
        open_branches = [b for b in company.ordered_branches if b.active]  # closed ones leave
        commercial = sum(b.commercial for b in open_branches)
        body: dict[str, Any] = {
            "kvkNummer": company.kvk_number,
            "aantalCommercieleVestigingen": commercial,
            "aantalNietCommercieleVestigingen": len(open_branches) - commercial,
            "totaalAantalVestigingen": len(open_branches),
            "vestigingen": [_branch_summary(call, company, b) for b in open_branches],
        }
        base = f"/v1/basisprofielen/{company.kvk_number}"
        _put_links(
            body,
            call,
            [("self", call.link(base + "/vestigingen")), ("basisprofiel", call.link(base))],
        )
        return body

    # --- Vestigingsprofiel -----------------------------------------------------------------

    def _vestigingsprofiel(self, call: _Call, identifier: str) -> dict[str, Any]:
        if not _BRANCH_NUMBER.fullmatch(identifier):
            raise _invalid_branch_number(identifier)
        found = self.register.branch(identifier)
        if found is None:
            raise _unknown_branch(identifier)
        company, branch = found
        links = [
            ("self", call.link(f"/v1/vestigingsprofielen/{branch.number}")),
            ("basisprofiel", call.link(f"/v1/basisprofielen/{company.kvk_number}")),
        ]
        return _branch_profile(
            call, company, branch, links, _PAD_VESTIGINGSPROFIEL, _geo_flag(call)
        )

    # --- Naamgeving ------------------------------------------------------------------------

    def _naamgeving(self, call: _Call, identifier: str) -> dict[str, Any]:
        company = self._profile_company(identifier)
        body: dict[str, Any] = {"kvkNummer": company.kvk_number}
        _set_if(body, "rsin", company.rsin)
        _set_if(body, "statutaireNaam", company.statutory_name)
        body["naam"] = company.name
        _set_if(body, "ookGenoemd", company.also_known_as)
        _set_if(body, "startdatum", company.start_date)
        _set_if(body, "einddatum", company.end_date)
        body["vestigingen"] = [
            _naming_branch(call, branch) for branch in company.ordered_branches if branch.active
        ]
        _put_links(
            body,
            call,
            [
                ("self", call.link(f"/v1/naamgevingen/kvknummer/{company.kvk_number}")),
                ("basisprofiel", call.link(f"/v1/basisprofielen/{company.kvk_number}")),
            ],
        )
        return body


# --- Zoeken helpers ----------------------------------------------------------------------


def _parse_zoeken(pairs: Iterable[tuple[str, str]]) -> _ZoekenParams:
    """Whitelist and check Zoeken's parameters (unknown ones: 400 IPD1999)."""
    values: dict[str, list[str]] = {}
    unknown: list[str] = []
    link_params: list[tuple[str, str]] = []
    for name, value in pairs:
        canonical = _ZOEKEN_NAMES.get(name.lower())
        if canonical is None:
            unknown.append(name)
            continue
        values.setdefault(canonical, []).append(value)
        if canonical not in _PAGING:
            link_params.append((name.lower(), value))  # KvK's self link lowercases names
    if unknown:
        names = ", ".join(unknown)
        raise _KvKError(
            400, "IPD1999", f"De volgende opgegeven parameter(s) is (zijn) ongeldig: {names}."
        )
    query = _zoeken_query(values)
    page = _integer(values, "pagina", 1, 1, 1000)
    per_page = _integer(values, "resultatenPerPagina", 10, 1, 100)
    return _ZoekenParams(query, page, per_page, tuple(link_params))


def _zoeken_query(values: dict[str, list[str]]) -> SearchQuery:
    def one(name: str) -> str | None:
        found = values.get(name)
        return found[0] if found else None

    kvk, rsin, branch = one("kvkNummer"), one("rsin"), one("vestigingsnummer")
    if kvk is not None and not _KVK_NUMBER.fullmatch(kvk):
        raise _invalid_kvk_number(kvk)
    if branch is not None and not _BRANCH_NUMBER.fullmatch(branch):
        raise _invalid_branch_number(branch)
    if rsin is not None and not _RSIN.fullmatch(rsin):
        raise _KvKError(400, "IPD0010", f"Het RSIN {rsin} is niet valide.")
    postcode, house_number, letter, po_box = _address_criteria(one)
    query = SearchQuery(
        kvk_number=kvk, rsin=rsin, branch_number=branch, name=one("naam"),
        street=one("straatnaam"), city=one("plaats"), postcode=postcode,
        house_number=house_number, house_letter=letter, po_box=po_box,
        types=_types(values.get("type", [])),
        include_inactive=_boolean(one(_INACTIVE), _INACTIVE),
    )  # fmt: skip
    criteria = (kvk, rsin, branch, query.name, query.street, query.city, postcode)
    if all(value is None for value in criteria):
        # Assumption: a search without any criterion is a parameter error.
        raise _invalid_input("Geef ten minste één zoekparameter op.")
    return query


def _address_criteria(
    one: Callable[[str], str | None],
) -> tuple[str | None, int | None, str | None, int | None]:
    """Postcode, huisnummer, huisletter, postbusnummer with KvK's combination rules."""
    postcode, number, letter, box = (
        one("postcode"),
        one("huisnummer"),
        one("huisletter"),
        one("postbusnummer"),
    )
    if postcode is not None and not _POSTCODE.fullmatch(postcode):
        raise _invalid_input(f"De postcode {postcode} is niet valide.")
    for name, value in (("huisnummer", number), ("postbusnummer", box)):
        if value is not None and not _NUMBER.fullmatch(value):
            raise _invalid_input(f"Het {name} {value} is niet valide.")
    if letter is not None and not _LETTER.fullmatch(letter):
        raise _invalid_input(f"De huisletter {letter} is niet valide.")
    if postcode is not None and number is None and box is None:
        raise _invalid_input(
            "Zoeken op postcode mag alleen in combinatie met huisnummer of postbusnummer."
        )
    if (number is not None or box is not None) and postcode is None:
        raise _invalid_input(
            "Zoeken op huisnummer of postbusnummer mag alleen in combinatie met postcode."
        )
    if number is not None and box is not None:  # Assumption: one or the other
        raise _invalid_input("Zoek op huisnummer of op postbusnummer, niet op beide.")
    if letter is not None and number is None:
        raise _invalid_input("Zoeken op huisletter mag alleen in combinatie met huisnummer.")
    return (
        postcode.upper() if postcode else None,
        int(number) if number is not None else None,
        letter,
        int(box) if box is not None else None,
    )


def _types(values: list[str]) -> frozenset[str]:
    """``type`` may repeat; commas are accepted too. An invalid one: IPD5203."""
    types = {part.strip() for value in values for part in value.split(",")}
    invalid = sorted(types - _RESULT_TYPES)
    if invalid:
        # KvK's code list gives IPD5203 with HTTP 404, not 400.
        raise _KvKError(404, "IPD5203", f"Het opgegeven type {', '.join(invalid)} is niet valide.")
    return frozenset(types)


def _boolean(value: str | None, name: str) -> bool:
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise _invalid_input(f"De waarde {value} van {name} is niet valide.")
    return value.lower() == "true"


def _integer(values: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    found = values.get(name)
    if not found:
        return default
    text = found[0]
    if not text.isdigit() or not low <= int(text) <= high:
        raise _invalid_input(
            f"De waarde {text} van {name} is niet valide (minimaal {low}, maximaal {high})."
        )
    return int(text)


def _zoeken_link(call: _Call, params: _ZoekenParams, page: int) -> str:
    pairs = [
        *params.link_params,
        ("pagina", str(page)),
        ("resultatenperpagina", str(params.per_page)),
    ]
    query = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
    return f"{call.link('/v2/zoeken')}?{query}"


def _result_item(call: _Call, hit: SearchHit, query: SearchQuery) -> dict[str, Any]:
    item: dict[str, Any] = {"kvkNummer": hit.company.kvk_number}
    if query.rsin is not None:  # rsin is only echoed when searched on
        _set_if(item, "rsin", hit.company.rsin)
    if hit.branch is not None:
        item["vestigingsnummer"] = hit.branch.number
    item["naam"] = hit.name
    if hit.address is not None:
        item["adres"] = _zoeken_address(hit.address, query)
    item["type"] = hit.kind
    if query.include_inactive:
        # Assumption (kvk.md §16 q3): "Ja"/"Nee", shown only when inactive ones are included.
        item["actief"] = _ja(hit.active)
    _set_if(item, "vervallenNaam", hit.expired_name)
    links = _result_links(call, hit)
    if links:
        _put_links(item, call, links)
    return item


def _result_links(call: _Call, hit: SearchHit) -> list[tuple[str, str]]:
    ended = hit.company.end_date or (hit.branch.end_date if hit.branch else None)
    if ended and ended < _NO_PROFILE_LINKS_BEFORE:
        return []
    links = [("basisprofiel", call.link(f"/v1/basisprofielen/{hit.company.kvk_number}"))]
    if hit.branch is not None:
        links.append(
            ("vestigingsprofiel", call.link(f"/v1/vestigingsprofielen/{hit.branch.number}"))
        )
    return links


def _zoeken_address(address: Address, query: SearchQuery) -> dict[str, Any]:
    """Zoeken's address: street and city; numbers only when searched on (per KvK's FAQ)."""
    kind = "bezoekadres" if address.kind == "bezoekadres" else "postadres"  # Zoeken's word
    if not address.domestic:
        return {
            "buitenlandsAdres": {
                "type": kind,
                "straatHuisnummer": " ".join(
                    str(p) for p in (address.street, address.house_number) if p
                ),
                "postcodeWoonplaats": " ".join(p for p in (address.postcode, address.city) if p),
                "land": address.country,
            }
        }
    body: dict[str, Any] = {"type": kind}
    if not address.shielded:  # a shielded address shows only its city (recorded)
        if address.street and address.po_box is None:
            body["straatnaam"] = address.street
        if query.house_number is not None:
            _set_if(body, "huisnummer", address.house_number)
            _set_if(body, "huisletter", address.house_letter)
        if query.po_box is not None:
            _set_if(body, "postbusnummer", address.po_box)
        if query.postcode is not None:
            _set_if(body, "postcode", address.postcode)
    body["plaats"] = address.city
    return {"binnenlandsAdres": body}


# --- profile helpers ---------------------------------------------------------------------


def _geo_flag(call: _Call) -> bool:
    values = call.params("geoData")
    return _boolean(values[0], "geoData") if values else False


def _owner(call: _Call, company: Company, geo: bool) -> dict[str, Any]:
    """``Eigenaar``; addresses and websites only when there are no branches (KvK 1.2-1.4)."""
    body: dict[str, Any] = {}
    _set_if(body, "rsin", company.rsin)
    body["rechtsvorm"] = company.legal_form
    body["uitgebreideRechtsvorm"] = company.extended_legal_form or company.legal_form
    _set_if(body, "datumUitschrijving", company.deregistration_date)
    if not company.branches:
        addresses = [_profile_address(a, _PAD_EIGENAAR, geo) for a in company.addresses]
        _set_if(body, "adressen", addresses)
        _set_if(body, "websites", list(company.websites))
    base = f"/v1/basisprofielen/{company.kvk_number}"
    _put_links(
        body, call, [("self", call.link(base + "/eigenaar")), ("basisprofiel", call.link(base))]
    )
    return body


def _main_branch_links(call: _Call, company: Company, main: Branch) -> list[tuple[str, str]]:
    base = f"/v1/basisprofielen/{company.kvk_number}"
    return [
        ("self", call.link(base + "/hoofdvestiging")),
        ("vestigingen", call.link(base + "/vestigingen")),
        ("basisprofiel", call.link(base)),
        ("vestigingsprofiel", call.link(f"/v1/vestigingsprofielen/{main.number}")),
    ]


def _embedded_main_branch(call: _Call, company: Company, main: Branch, geo: bool) -> dict[str, Any]:
    """The reduced hoofdvestiging embedded in Basisprofiel (fields as recorded)."""
    body: dict[str, Any] = {"vestigingsnummer": main.number, "kvkNummer": company.kvk_number}
    _set_if(body, "formeleRegistratiedatum", main.registration_date)
    _set_if(body, "materieleRegistratie", _registration(main.start_date, main.end_date))
    body["eersteHandelsnaam"] = main.name
    body["indHoofdvestiging"] = _ja(main.is_main)
    body["indCommercieleVestiging"] = _ja(main.commercial)
    body["totaalWerkzamePersonen"] = main.total_employees
    body["adressen"] = [_profile_address(a, _PAD_BASISPROFIEL, geo) for a in main.addresses]
    _set_if(body, "websites", list(main.websites))  # spec: only rsin and handelsnamen are left out
    _put_links(body, call, _main_branch_links(call, company, main))
    return body


def _branch_profile(
    call: _Call,
    company: Company,
    branch: Branch,
    links: list[tuple[str, str]],
    padding: int,
    geo: bool,
) -> dict[str, Any]:
    """A full ``Vestiging`` (Vestigingsprofiel and Basisprofiel's ``/hoofdvestiging``)."""
    non_mailing = company.non_mailing if branch.non_mailing is None else branch.non_mailing
    body: dict[str, Any] = {"vestigingsnummer": branch.number, "kvkNummer": company.kvk_number}
    _set_if(body, "rsin", company.rsin)
    body["indNonMailing"] = _ja(non_mailing)
    _set_if(body, "formeleRegistratiedatum", branch.registration_date)
    _set_if(body, "materieleRegistratie", _registration(branch.start_date, branch.end_date))
    _set_if(body, "statutaireNaam", company.statutory_name)
    body["eersteHandelsnaam"] = branch.name
    body["indHoofdvestiging"] = _ja(branch.is_main)
    body["indCommercieleVestiging"] = _ja(branch.commercial)
    body["voltijdWerkzamePersonen"] = branch.full_time_employees
    body["totaalWerkzamePersonen"] = branch.total_employees
    body["deeltijdWerkzamePersonen"] = branch.part_time_employees
    body["handelsnamen"] = _trade_names(branch.trade_names)
    body["adressen"] = [_profile_address(a, padding, geo) for a in branch.addresses]
    _set_if(body, "websites", list(branch.websites))
    _set_if(body, "sbiActiviteiten", _sbi(branch))
    _put_links(body, call, links)
    return body


def _branch_summary(call: _Call, company: Company, branch: Branch) -> dict[str, Any]:
    """A ``VestigingBasis`` of ``/vestigingen``."""
    address = next((a for a in branch.addresses if a.kind == "bezoekadres"), None) or next(
        iter(branch.addresses), None
    )
    shielded = bool(address and address.shielded)
    body: dict[str, Any] = {
        "vestigingsnummer": branch.number,
        "kvkNummer": company.kvk_number,
        "eersteHandelsnaam": branch.name,
        "indHoofdvestiging": _ja(branch.is_main),
        "indAdresAfgeschermd": _ja(shielded),
        "indCommercieleVestiging": _ja(branch.commercial),
    }
    if address is not None and not shielded:
        body["volledigAdres"] = _full_address(address, _PAD_BASISPROFIEL)
    _put_links(
        body, call, [("vestigingsprofiel", call.link(f"/v1/vestigingsprofielen/{branch.number}"))]
    )
    return body


def _naming_branch(call: _Call, branch: Branch) -> dict[str, Any]:
    """Naamgeving: commercial branches list trade names, others a plain ``naam``."""
    body: dict[str, Any] = {"vestigingsnummer": branch.number}
    if branch.commercial:
        body["eersteHandelsnaam"] = branch.name
        body["handelsnamen"] = _trade_names(branch.trade_names)
    else:
        body["naam"] = branch.name
        _set_if(body, "ookGenoemd", ", ".join(branch.trade_names[1:]) or None)
    _put_links(
        body, call, [("vestigingsprofiel", call.link(f"/v1/vestigingsprofielen/{branch.number}"))]
    )
    return body
