"""`SignalFeed`: the KvK sandbox's Mutatieservice (change signals), kept beside its register.

Every change made through `KvKSandbox` (``add``, ``update``, ``deregister``,
``remove``, ``close_branch``, and whatever goes through ``update``) becomes a
signal, as KvK's Mutatieservice reports changes in the Trade Register. Each
accepted API key has one subscription, and every subscription sees every
signal (a subscription on the whole register). Served at KvK's paths:

* ``GET /v1/abonnementen``: ``{klantId, abonnementen: [{id, contract, startDatum, actief}]}``;
* ``GET /v1/abonnementen/{id}?vanaf=&tot=&pagina=&aantal=``: a window of signals, paged;
* ``GET /v1/abonnementen/{id}/signalen/{signaalId}``: ``{signaal: {...}}``.

Errors are RFC 7807 ``ProblemDetail`` bodies (KvK's spec gives that shape
for 401 and 403). The choices no KvK source confirms are marked ``Assumption:``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
import threading
import uuid
from collections.abc import Callable, Collection, Iterable
from http import HTTPStatus
from typing import Any, Literal

import attrs

from ._core import SandboxRequest, SandboxResponse
from ._kvk_data import Branch, Company

__all__ = ["KMS_API_VERSION", "TEST_SUBSCRIPTION_ID", "SandboxSignal", "SignalFeed"]

KMS_API_VERSION = "1.0.9"
"""The version of KvK's ``api-kms.yaml``."""

TEST_SUBSCRIPTION_ID = "1365acf9-0b63-3ed4-9e68-a8c37425080b"
"""The subscription id two public clients use with KvK's public test key (unverified)."""

MIN_PER_PAGE, MAX_PER_PAGE, DEFAULT_PER_PAGE = 10, 500, 100
"""Assumption: ``aantal`` from 10 to 500, default 100 (a third-party source)."""

_PREFIXES = ("/test/api", "/api")
_ROOT = "/v1/abonnementen"
_PARAMETERS = ("vanaf", "tot", "pagina", "aantal")
_NAMESPACE = uuid.UUID("6f1d2c1e-8f43-4a55-9a4e-2b6a1f1d0c51")

Flavour = Literal["json", "hal"]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _wire_time(value: dt.datetime) -> str:
    """KvK's timestamps: UTC with microseconds and a ``Z`` (recorded: ``...T13:16:01.86692Z``)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _jn(value: bool) -> str:
    """Assumption: the signal detail's indicators are ``J``/``N`` (KvK's FAQ: "J/N indicator")."""
    return "J" if value else "N"


@attrs.frozen
class SandboxSignal:
    """One signal as the sandbox keeps it.

    Attributes:
        id: A UUID.
        timestamp: When the change was made (the feed's clock).
        type: The ``signaalType``.
        kvk_number: The registration.
        branch_number: The branch, for a branch's own change.
        concerns: ``heeftBetrekkingOp`` at the time of the change.
        changed: ``heeftGewijzigdeGegevens``.
    """

    id: str
    timestamp: dt.datetime
    type: str
    kvk_number: str
    branch_number: str | None = None
    concerns: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)
    changed: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


class _Problem(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class SignalFeed:
    """The signals of a `KvKSandbox`, served as KvK's Mutatieservice.

    Args:
        clock: Gives "now" (aware); the signals' timestamps and the end of an
            open window. Set it (``sandbox.signals.clock = ...``) to simulate days.
        delay: How long after a change its signal becomes visible (KvK: within
            15 minutes); none by default. A signal keeps the time of the change.
        seed: Seed of the signal ids (UUIDs).

    Attributes:
        clock: As above; may be replaced at any time.
        delay: As above; may be changed at any time.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        delay: dt.timedelta = dt.timedelta(0),
        seed: int = 0,
    ) -> None:
        self.clock: Callable[[], dt.datetime] = clock or _utc_now
        self.delay = delay
        self._random = random.Random(seed)
        self._signals: list[tuple[dt.datetime, int, SandboxSignal]] = []
        self._by_id: dict[str, SandboxSignal] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SignalFeed(signals={len(self._signals)}, delay={self.delay})"

    def __len__(self) -> int:
        return len(self._signals)

    @property
    def signals(self) -> list[SandboxSignal]:
        """Every signal recorded, oldest first (visible or not yet)."""
        with self._lock:
            return [signal for _, _, signal in self._signals]

    def clear(self) -> None:
        """Forget every signal."""
        with self._lock:
            self._signals.clear()
            self._by_id.clear()

    @staticmethod
    def subscription_id(api_key: str) -> str:
        """The subscription of an API key: KvK's test id for its public test key."""
        from ._kvk import TEST_API_KEY  # the one place both modules need the key

        if api_key == TEST_API_KEY:
            return TEST_SUBSCRIPTION_ID
        return str(uuid.uuid5(_NAMESPACE, api_key))

    # --- recording ------------------------------------------------------------------------

    def add(
        self,
        signal_type: str,
        kvk_number: str,
        branch_number: str | None = None,
        *,
        at: dt.datetime | None = None,
        company: Company | None = None,
        changed: dict[str, Any] | None = None,
    ) -> SandboxSignal:
        """Record a signal of any type (e.g. one the client does not know) at ``at`` (now)."""
        with self._lock:
            when = at if at is not None else self.clock()
            identifier = str(uuid.UUID(int=self._random.getrandbits(128), version=4))
            signal = SandboxSignal(
                identifier,
                when.astimezone(dt.UTC),
                signal_type,
                kvk_number,
                branch_number,
                _concerns(company) if company is not None else {"kvkNummer": kvk_number},
                changed or {},
            )
            entry = (signal.timestamp, len(self._by_id), signal)
            bisect.insort(self._signals, entry, key=lambda e: (e[0], e[1]))
            self._by_id[identifier] = signal
            return signal

    def record(self, before: Company | None, after: Company | None) -> list[SandboxSignal]:
        """Record the signals of one change of the register (none when nothing changed)."""
        company = after if after is not None else before
        if company is None:
            return []
        return [
            self.add(kind, company.kvk_number, branch, company=company, changed=changed)
            for kind, branch, changed in _signals_of(before, after)
        ]

    # --- serving --------------------------------------------------------------------------

    @staticmethod
    def serves(path: str) -> bool:
        """Whether a path is the Mutatieservice's (under ``/test/api`` or ``/api``)."""
        return _route(path) is not None

    def answer(
        self,
        request: SandboxRequest,
        api_keys: Collection[str],
        flavour: Flavour | None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> SandboxResponse:
        """Answer one Mutatieservice request as KvK would."""
        extra = [("API-Version", KMS_API_VERSION), *headers]
        try:
            key = request.headers.get("apikey") or ""
            if key not in api_keys:
                raise _Problem(401, "Geen of onjuiste apikey aangeleverd")
            if request.method not in ("GET", "HEAD"):
                raise _Problem(405, f"Methode {request.method} wordt niet ondersteund")
            if flavour is None:
                raise _Problem(406, "Opgegeven Accept header wordt niet ondersteund")
            body = self._endpoint(request, key, api_keys, flavour)
        except _Problem as problem:
            return self.problem(request, problem.status, problem.detail, extra)
        content_type = "application/hal+json" if flavour == "hal" else "application/json"
        return SandboxResponse.from_json(200, body, content_type=content_type, headers=extra)

    def problem(
        self,
        request: SandboxRequest,
        status: int,
        detail: str,
        headers: Iterable[tuple[str, str]] = (),
    ) -> SandboxResponse:
        """A ``ProblemDetail`` answer (RFC 7807), ``application/json`` as in KvK's spec."""
        body = {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "instance": request.path,
        }
        return SandboxResponse.from_json(status, body, headers=list(headers))

    def render_error(
        self,
        request: SandboxRequest,
        status: int,
        retry_after: int | None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> SandboxResponse:
        """An injected 429, 500 or 503 as a ``ProblemDetail`` (429 with ``Retry-After``)."""
        extra = [("API-Version", KMS_API_VERSION), *headers]
        if status == 429:
            seconds = retry_after or 1
            extra.append(("Retry-After", str(seconds)))
            text = f"Te veel verzoeken. Probeer het over {seconds} seconde(n) opnieuw."
        else:
            text = "Er is een interne fout opgetreden." if status == 500 else "Probeer het later."
        return self.problem(request, status, text, extra)

    def _endpoint(
        self, request: SandboxRequest, key: str, api_keys: Collection[str], flavour: Flavour
    ) -> dict[str, Any]:
        prefix, parts = _route(request.path) or ("", [])
        base = request.base_url + prefix
        if not parts:
            return self._subscriptions(key, base, flavour)
        subscription = parts[0]
        if subscription != self.subscription_id(key):
            others = {self.subscription_id(k) for k in api_keys}
            if subscription in others:
                raise _Problem(403, "Niet geautoriseerd voor deze operatie")
            raise _Problem(404, f"Abonnement {subscription} bestaat niet")
        if len(parts) == 1:
            return self._page(request, base, subscription, flavour)
        return self._detail(parts[2], base, subscription, flavour)

    def _subscriptions(self, key: str, base: str, flavour: Flavour) -> dict[str, Any]:
        subscription = self.subscription_id(key)
        item = {
            "id": subscription,
            "contract": {"id": str(uuid.uuid5(_NAMESPACE, "contract:" + subscription))},
            "startDatum": "2024-01-01",  # Assumption: an ISO date
            "actief": True,
        }
        body: dict[str, Any] = {
            "klantId": str(uuid.uuid5(_NAMESPACE, "klant:" + key)),
            "abonnementen": [item],
        }
        _links(body, flavour, [("self", f"{base}{_ROOT}")])
        return body

    def _page(
        self, request: SandboxRequest, base: str, subscription: str, flavour: Flavour
    ) -> dict[str, Any]:
        window = _Window.of(request)
        visible = self._window(window)
        pages = math.ceil(len(visible) / window.per_page)
        start = (window.page - 1) * window.per_page
        link = f"{base}{_ROOT}/{subscription}"
        body: dict[str, Any] = {
            "pagina": window.page,
            "aantal": window.per_page,
            "totaal": len(visible),
            "totaalPaginas": pages,
        }
        if window.page > 1:
            body["vorige"] = window.link(link, window.page - 1)
        if window.page < pages:
            body["volgende"] = window.link(link, window.page + 1)
        body["signalen"] = [
            _item(s, f"{link}/signalen/{s.id}", flavour)
            for s in visible[start : start + window.per_page]
        ]
        _links(body, flavour, [("self", window.link(link, window.page))])
        return body

    def _window(self, window: _Window) -> list[SandboxSignal]:
        """The visible signals with ``vanaf <= timestamp < tot``, oldest first."""
        now = self.clock()
        with self._lock:
            low = bisect.bisect_left(self._signals, window.since, key=lambda e: e[0])
            high = (
                bisect.bisect_left(self._signals, window.until, key=lambda e: e[0])
                if window.until is not None
                else len(self._signals)
            )
            chosen = [signal for _, _, signal in self._signals[low:high]]
        return [s for s in chosen if s.timestamp + self.delay <= now]

    def _detail(
        self, signal_id: str, base: str, subscription: str, flavour: Flavour
    ) -> dict[str, Any]:
        with self._lock:
            signal = self._by_id.get(signal_id)
        if signal is None or signal.timestamp + self.delay > self.clock():
            raise _Problem(404, f"Signaal {signal_id} bestaat niet")
        body: dict[str, Any] = {
            "signaal": {
                "berichtId": signal.id,
                "signaalType": signal.type,
                "registratieId": str(uuid.uuid5(_NAMESPACE, "registratie:" + signal.id).int)[:12],
                "registratieTijdstip": _wire_time(signal.timestamp),
                "indicatieCorrectie": _jn(False),
                "heeftBetrekkingOp": signal.concerns,
                "heeftGewijzigdeGegevens": signal.changed,
            }
        }
        _links(body, flavour, [("self", f"{base}{_ROOT}/{subscription}/signalen/{signal.id}")])
        return body


# --- requests -------------------------------------------------------------------------------


def _route(path: str) -> tuple[str, list[str]] | None:
    """``("/test/api", [])`` for the list, ``[id]`` for signals, ``[id, "signalen", sid]``."""
    for prefix in _PREFIXES:
        head = prefix + _ROOT
        if path != head and not path.startswith(head + "/"):
            continue
        parts = [part for part in path[len(head) :].split("/") if part]
        if len(parts) in (0, 1) or (len(parts) == 3 and parts[1] == "signalen"):
            return prefix, parts
        return None
    return None


@attrs.frozen
class _Window:
    since: dt.datetime
    until: dt.datetime | None
    """``None``: an open window, up to the newest visible signal."""
    page: int
    per_page: int

    @classmethod
    def of(cls, request: SandboxRequest) -> _Window:
        unknown = sorted({name for name, _ in request.query} - set(_PARAMETERS))
        if unknown:  # Assumption: like Zoeken, unknown parameters are refused
            raise _Problem(400, f"Onbekende parameter(s): {', '.join(unknown)}")
        values = {name: request.params(name)[0] for name in _PARAMETERS if request.params(name)}
        if "vanaf" not in values:  # Assumption: vanaf is required
            raise _Problem(400, "De parameter vanaf is verplicht")
        since = _instant(values["vanaf"], "vanaf")
        until = _instant(values["tot"], "tot") if "tot" in values else None
        if until is not None and until <= since:
            raise _Problem(400, "De parameter tot moet na vanaf liggen")
        page = _whole(values.get("pagina"), "pagina", 1, 1, 10**6)
        per_page = _whole(
            values.get("aantal"), "aantal", DEFAULT_PER_PAGE, MIN_PER_PAGE, MAX_PER_PAGE
        )
        return cls(since, until, page, per_page)

    def link(self, base: str, page: int) -> str:
        until = f"&tot={_wire_time(self.until)}" if self.until is not None else ""
        return f"{base}?vanaf={_wire_time(self.since)}{until}&pagina={page}&aantal={self.per_page}"


def _instant(text: str, name: str) -> dt.datetime:
    """An ISO date-time; without a zone it is taken as UTC (assumption)."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _Problem(400, f"De waarde {text} van {name} is geen geldige datum-tijd") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _whole(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise _Problem(
            400, f"De waarde {text} van {name} is niet valide (minimaal {low}, maximaal {high})"
        )
    return int(text)


def _links(body: dict[str, Any], flavour: Flavour, links: Iterable[tuple[str, str]]) -> None:
    if flavour == "hal":
        body["_links"] = {rel: {"href": href} for rel, href in links}
    else:
        body["links"] = [{"rel": rel, "href": href} for rel, href in links]


def _item(signal: SandboxSignal, link: str, flavour: Flavour) -> dict[str, Any]:
    """A list item: lower-case ``kvknummer`` (recorded), ``vestigingsnummer`` when it has one."""
    item: dict[str, Any] = {
        "id": signal.id,
        "timestamp": _wire_time(signal.timestamp),
        "kvknummer": signal.kvk_number,
        "signaalType": signal.type,
    }
    if signal.branch_number:
        item["vestigingsnummer"] = signal.branch_number  # Assumption (kvk-connect)
    _links(item, flavour, [("signaal", link)])
    return item


# --- what a change signals ------------------------------------------------------------------

Change = tuple[str, str | None, dict[str, Any]]
"""A signal to record: type, branch number and ``heeftGewijzigdeGegevens``."""

_OWNER_FIELDS = frozenset({"legal_form", "extended_legal_form", "rsin", "deregistration_date"})
_LEGAL_FORM = frozenset({"legal_form", "extended_legal_form"})


def _signals_of(before: Company | None, after: Company | None) -> list[Change]:
    """The signals of a change, as KvK's catalogue describes them.

    Assumption: several changes in one filing give one signal (KvK's FAQ), so a
    company-level change is one ``SignaalGewijzigdeInschrijving`` that lists the
    changed branches; a change of branches only is one
    ``SignaalGewijzigdeVestiging`` per branch; an end (or a removal from the
    register) is one ``SignaalBeeindiging``; a new legal form also gives a
    ``SignaalRechtsvormwijziging``.
    """
    if before is None:
        return [("SignaalNieuweInschrijving", None, {"aanleiding": {"code": "NW"}})]
    if after is None or (before.active and not after.active):
        code = "BR" if (after or before).rsin else "OO"  # rechtspersoon ends / onderneming stops
        return [("SignaalBeeindiging", None, {"beeindiging": {"code": code}})]
    names = [f.name for f in attrs.fields(Company) if f.name != "branches"]
    company = {n for n in names if getattr(before, n) != getattr(after, n)}
    old = {b.number: b for b in before.branches}
    new = {b.number: b for b in after.branches}
    branches = [n for n in new if n in old and old[n] != new[n]]
    signals: list[Change] = []
    if company & _LEGAL_FORM:
        signals.append(
            ("SignaalRechtsvormwijziging", None, {"vorigeRechtsvorm": before.legal_form})
        )
        company -= _LEGAL_FORM
    if company or set(old) != set(new):
        changed = {
            "maOnderneming": {"indicatieGewijzigd": _jn(bool(company - _OWNER_FIELDS))},
            "eigenaar": {"indicatieGewijzigd": _jn(bool(company & _OWNER_FIELDS))},
            "vestigingen": {
                "gewijzigdeVestigingen": [
                    {"vestigingsnummer": n} for n in sorted({*branches, *(set(old) ^ set(new))})
                ]
            },
        }
        signals.append(("SignaalGewijzigdeInschrijving", None, changed))
    else:
        signals += [
            ("SignaalGewijzigdeVestiging", n, _branch_change(old[n], new[n])) for n in branches
        ]
    return signals


def _branch_change(old: Branch, new: Branch) -> dict[str, Any]:
    """``vestigingDetails`` and the changed blocks (KvK's names: Naamgeving, Adresgegevens, ...)."""
    blocks = {
        "Naamgeving": ("trade_names", "former_names"),
        "Adresgegevens": ("addresses",),
        "Activiteiten": ("sbi_activities", "full_time_employees", "part_time_employees"),
        "Registratie": ("end_date", "start_date", "registration_date"),
        "Communicatie": ("websites",),
    }
    changed = [
        block
        for block, fields in blocks.items()
        if any(getattr(old, f) != getattr(new, f) for f in fields)
    ]
    return {
        "vestigingDetails": {"vestigingsnummer": new.number, "isHoofdvestiging": _jn(new.is_main)},
        "gewijzigdeGegevens": changed or ["Overig"],
    }


def _concerns(company: Company) -> dict[str, Any]:
    """``heeftBetrekkingOp``: the registration and its branches at the time of the change."""
    body: dict[str, Any] = {"kvkNummer": company.kvk_number, "nonMailing": _jn(company.non_mailing)}
    if company.employees is not None:
        body["totaalWerkzamePersonen"] = company.employees
    body["wordtUitgeoefendIn"] = [
        {
            "vestigingsnummer": branch.number,
            "isHoofdvestiging": _jn(branch.is_main),
            "totaalWerkzamePersonen": branch.total_employees,
        }
        for branch in company.ordered_branches
    ]
    return body
