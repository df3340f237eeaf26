"""`EBoekhoudenRestClient`: e-Boekhouden's REST API v1 on the shared HTTP core.

Same interface, models and errors as the SOAP `EBoekhoudenClient` (both are a
`BooksClient`). One session per client: ``POST /v1/session`` turns the access
token into a short-lived session token, which is reused for every call,
renewed shortly before it expires or once when the service answers
``SECURITY_010``, and ended with ``DELETE /v1/session`` on `close()`.

Remote quirks handled here:

* ledgers and relations are named by numeric IDs, not codes: the client keeps
  code ↔ ID maps, filled from listings (one ledger listing per client);
* mutation list items carry neither rows nor the relation, so bookings of an
  invoice number are read one by one (``GET /v1/mutation/{id}``), and the bulk
  look-up starts from the outstanding invoices, which do name the relation;
* lists are paged (``limit`` up to 2000, ``offset``); paging stops on a short
  or empty page or when ``count`` is reached; a page with more items than
  asked for, or the same page again, is a `MalformedResponseError`, and a
  listing stops at a hard cap of pages (never an endless loop);
* every answer is read through `crmconnect._answers.Answer`: whatever the
  server sends (HTML, ``[]`` or ``{}`` where an object belongs, JSON nested
  100,000 deep, a body beyond ``max_answer_bytes``) yields a result or a typed
  error. After a write, an unreadable answer is a `MalformedResponseError`:
  the write may have taken effect, so the bulk pushes look it up before
  repeating it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx

from ..._answers import DEFAULT_MAX_ANSWER_BYTES, Answer
from ..._http import HTTPSettings, QueryParams, SyncHTTP
from ..._ratelimit import RateLimiter, limiter_for
from ..._redact import Redactor, mask_secret
from ..._retry import RetryPolicy
from ...errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    CrmConnectError,
    MalformedResponseError,
    NotFoundError,
    TransportError,
    ValidationError,
)
from ...models import Invoice
from .._books import INVOICE_KINDS, BooksClient
from .._bulk import InvoiceLookup, Pair, booking_numbers
from .._models import (
    Administration,
    Balance,
    CostCentre,
    Ledger,
    Mutation,
    MutationLine,
    OpenItem,
    OpenItemKind,
    Relation,
)
from ._errors import SESSION_EXPIRED, parse_rest_error
from ._models import (
    RELATION_FIELDS,
    TYPE_OF_KIND,
    JsonObject,
    administration_from_json,
    cost_centre_from_json,
    json_amount,
    ledger_from_json,
    mutation_from_json,
    open_item_from_json,
    relation_from_json,
    relation_to_json,
)

__all__ = ["DEFAULT_REST_URL", "EBoekhoudenRestClient"]

DEFAULT_REST_URL = "https://api.e-boekhouden.nl"
"""The Dutch API; Belgian administrations use ``https://api.e-boekhouden.be``."""

PAGE_SIZE = 2000
"""The largest ``limit`` the API takes (``PAGE_001`` beyond it)."""
MAX_PAGES = 1000
"""Hard cap on pages per listing: 2 million records."""
RENEW_MARGIN = 30.0
"""Renew the session token this many seconds before it expires."""
MAX_SESSION_SECONDS = 24 * 3600.0
"""The longest ``expiresIn`` believed; a longer (or unreadable) one is cut to it."""
_SOURCE = re.compile(r"^[\w ]{1,10}$")
_INVOICE_TYPES = "{},{}".format(*sorted(TYPE_OF_KIND[kind] for kind in INVOICE_KINDS))
_CRED_DEB = {OpenItemKind.DEBTORS: "D", OpenItemKind.CREDITORS: "C"}

logger = logging.getLogger("crmconnect.eboekhouden")


class EBoekhoudenRestClient(BooksClient):
    """Client for e-Boekhouden's REST API v1 (``api.e-boekhouden.nl``).

    Args:
        access_token: The API token. Falls back to ``CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN``.
        source: A short name of the connecting application: 1-10 letters,
            digits, underscores or spaces (the API refuses a hyphen).
        base_url: The API root, e.g. a sandbox on loopback (``..._REST_URL``);
            ``url`` is its old name (a `DeprecationWarning`).
        timeout: Seconds per request.
        max_retries: Retries of reads after transport or server errors.
        http_client: An `httpx.Client` to use (borrowed, never closed here).
        transport: An httpx transport for a client created here (e.g. a sandbox's).
        debtors_ledger: The debtors ledger code (category DEB) for sales invoices.
        creditors_ledger: The creditors ledger code (category CRED) for purchase invoices.
        page_size: Records per page of a listing (1-2000).
        max_answer_bytes: The largest answer read (16 MiB by default); a larger
            one is a `crmconnect.errors.MalformedResponseError`.
        rate_limit: Requests per second at most, or a `RateLimiter` shared with
            other clients and processes; ``None`` (the default) for none:
            e-Boekhouden documents no REST limit (eboekhouden.md), but answers
            429 when it applies one, which reads retry and writes report.

    Example:
        ```python
        with EBoekhoudenRestClient("api-token") as books:
            print(books.payment_status(["F2026-001"]))
        ```
    """

    mutation_cap = 2**31
    """REST pages through every mutation: no cap like SOAP's 500."""

    relation_fields = frozenset({ours for ours, _ in RELATION_FIELDS} | {"no_newsletter"})
    """What a PATCH writes. Not ``member`` and ``newsletter_groups`` (not on REST),
    nor ``ledger_id`` (``relation_to_json`` leaves 0 out, so it cannot be cleared):
    owning one would compare a field no update changes, and write it on every run."""

    def __init__(
        self,
        access_token: str | None = None,
        *,
        source: str = "crmconnect",
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        debtors_ledger: str = "1300",
        creditors_ledger: str = "1600",
        page_size: int = PAGE_SIZE,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        url: str | None = None,
        rate_limit: float | RateLimiter | None = None,
    ) -> None:
        if url is not None:
            warnings.warn(
                "EBoekhoudenRestClient(url=...) is now base_url=...", DeprecationWarning, 2
            )
            base_url = base_url or url
        token = access_token or os.environ.get("CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN")
        if not token:
            raise ConfigurationError(
                "no e-Boekhouden access token: pass it or set CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN"
            )
        if not _SOURCE.match(source):
            raise ConfigurationError(
                f"source must be 1-10 letters, digits, underscores or spaces, got {source!r}"
            )
        if not 1 <= page_size <= PAGE_SIZE:
            raise ConfigurationError(f"page_size must be 1..{PAGE_SIZE}, got {page_size}")
        self._access_token = token
        self.source = source
        self.base_url = (
            base_url or os.environ.get("CRMCONNECT_EBOEKHOUDEN_REST_URL") or DEFAULT_REST_URL
        )
        self.debtors_ledger = debtors_ledger
        self.creditors_ledger = creditors_ledger
        self.page_size = page_size
        self._redact = _RestRedactor([token])
        settings = HTTPSettings(
            service="eboekhouden",
            base_url=self.base_url,
            error_parser=parse_rest_error,
            headers={"Accept": "application/json"},
            timeout=timeout,
            retry=RetryPolicy(max_attempts=max(1, max_retries + 1)),
            limiter=limiter_for(rate_limit),
            max_answer_bytes=max_answer_bytes,
        )
        self._retry = settings.retry
        self._http = SyncHTTP(settings, self._redact, http_client=http_client, transport=transport)
        self._session: str | None = None
        self._renew_at = 0.0
        self._lock = threading.RLock()
        self._ledger_ids: dict[str, int] = {}
        self._relation_ids: dict[str, int] = {}
        self._relation_codes: dict[int, str] = {}
        self.sessions_opened = 0
        """Sessions this client opened (one per run, unless the service expired one)."""

    def __repr__(self) -> str:
        return (
            f"EBoekhoudenRestClient(base_url={self.base_url!r}, "
            f"access_token={mask_secret(self._access_token)!r})"
        )

    # -- session ----------------------------------------------------------------------

    @property
    def session_open(self) -> bool:
        """Whether a session token is held now."""
        return self._session is not None

    def _token(self) -> str:
        with self._lock:
            if self._session is None or time.monotonic() > self._renew_at:
                self._open()
            assert self._session is not None
            return self._session

    def _open(self) -> None:
        body = {"accessToken": self._access_token, "source": self.source}
        try:
            response = self._http.request(
                "POST", "/v1/session", content=_json(body), headers=_JSON, idempotent=True
            )
        except AuthenticationError as refused:
            error = self._token_refused(refused)
        else:
            self._start_session(self._answer(response))
            return
        raise error  # outside the except block: nothing chained

    def _token_refused(self, refused: AuthenticationError) -> AuthenticationError:
        """The error for a refused access token: what to check, in REST's terms."""
        message = (
            f"e-Boekhouden refused the API access token ({refused.code or refused.status_code}: "
            f"{refused.remote_message}); check the token (Beheer > Inrichting > Koppelingen > "
            "API: it may have expired) and base_url (.nl or .be)"
        )
        return self._redact.scrub(
            AuthenticationError(
                message,
                service="eboekhouden",
                status_code=refused.status_code,
                code=refused.code,
                remote_message=refused.remote_message,
                context=refused.context,
            )
        )

    def _start_session(self, answer: Answer) -> None:
        session = JsonObject(answer, answer.json(parse_float=Decimal), "the session")
        token = session.data.get("token")
        if not isinstance(token, str) or not token.strip():
            session.fail("token", "a text")
        self._redact.add(token)
        lifetime = session.number("expiresIn") or 3600.0
        lifetime = min(max(lifetime, 1.0), MAX_SESSION_SECONDS)
        self._session = token
        # Renew a little early, but never sooner than halfway through a short lifetime.
        self._renew_at = time.monotonic() + lifetime - min(RENEW_MARGIN, lifetime / 2)
        self.sessions_opened += 1
        logger.info("e-Boekhouden REST session opened")

    def close(self) -> None:
        """End the session (``DELETE /v1/session``) and close the HTTP client made here."""
        with self._lock:
            if self._session is not None:
                try:  # with the token held: an expired one needs no new session to end it
                    headers = {"Authorization": self._session}
                    self._http.request("DELETE", "/v1/session", headers=headers, idempotent=True)
                except (APIError, TransportError) as exc:  # closing is best effort
                    logger.warning("closing the e-Boekhouden session failed: %s", exc)
                self._session = None
            self._http.close()

    # -- calls ------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        body: Mapping[str, Any] | None = None,
        idempotent: bool,
    ) -> Answer:
        """One call with the session; a new session once when the service forgot it."""
        for renewed in (False, True):
            headers = {"Authorization": self._token(), **(_JSON if body is not None else {})}
            try:
                response = self._http.request(
                    method,
                    path,
                    params=params,
                    content=_json(body) if body is not None else None,
                    headers=headers,
                    idempotent=idempotent,
                )
            except APIError as error:
                # Not authenticated: nothing was done, so one retry with a new session is safe.
                if renewed or error.code != SESSION_EXPIRED or path == "/v1/session":
                    raise
                logger.info("e-Boekhouden REST session expired; opening a new one")
                with self._lock:
                    self._session = None
                continue
            return self._answer(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, response: httpx.Response) -> Answer:
        return Answer.of(response, service="eboekhouden", redact=self._redact)

    def _object(
        self, method: str, path: str, what: str, *, idempotent: bool = True, **kwargs: Any
    ) -> JsonObject:
        """One call whose answer is a JSON object (amounts as `Decimal`).

        A read whose answer is no JSON object (a maintenance page with HTTP
        200, a cut-off body) is asked again under the retry policy; a write's
        is not: it may have taken effect (the bulk pushes look it up).
        """
        attempts = self._retry.attempts() if idempotent else 1
        for attempt in range(1, attempts + 1):
            answer = self._send(method, path, idempotent=idempotent, **kwargs)
            try:
                return JsonObject(answer, answer.json(parse_float=Decimal), what)
            except MalformedResponseError as unreadable:
                error = unreadable
            if attempt < attempts:
                logger.info("e-Boekhouden %s %s: %s; asking again", method, path, error)
                time.sleep(self._retry.wait_for(attempt, error))
        raise error

    def _items(self, path: str, what: str, params: QueryParams = ()) -> Iterator[JsonObject]:
        """Every item of a paged listing, each an object (else the answer is malformed)."""
        seen: set[bytes] = set()
        for page in range(MAX_PAGES):
            query = [
                *params,
                ("limit", str(self.page_size)),
                ("offset", str(page * self.page_size)),
            ]
            listing = self._object("GET", path, f"a page of {path}", params=query)
            answer = listing.answer
            items = answer.as_list(answer.field(listing.data, "items", listing.what), "'items'")
            count = listing.optional_integer("count")
            if len(items) > self.page_size:
                answer.fail(f"the page holds {len(items)} items; {self.page_size} were asked")
            digest = hashlib.sha256(answer.body if isinstance(answer.body, bytes) else b"").digest()
            if items and digest in seen:
                answer.fail(f"offset {page * self.page_size} gave an earlier page again")
            seen.add(digest)
            yield from (JsonObject(answer, item, what) for item in items)
            if len(items) < self.page_size or (
                count is not None and (page + 1) * self.page_size >= count
            ):
                return
        raise APIError(
            f"e-Boekhouden {path}: more than {MAX_PAGES} pages; narrow the filter",
            service="eboekhouden",
        )

    # -- relations --------------------------------------------------------------------

    def add_relation(self, relation: Relation) -> int:
        """Add a relation (``POST /v1/relation``); returns its new ID. Not retried.

        Raises:
            ConflictError: The code is taken (``REL_049``).
        """
        created = self._object(
            "POST",
            "/v1/relation",
            "the created relation",
            body=relation_to_json(relation),
            idempotent=False,
        )
        relation_id = created.integer("id", required=True)
        self._remember_relation(created.text("code") or relation.code or "", relation_id)
        return relation_id

    def update_relation(self, relation: Relation) -> None:
        """Change a relation (``PATCH /v1/relation/{id}``): every field it sets.

        Fields left ``None`` keep their remote value (PATCH semantics); set
        ``""`` to clear one.

        Raises:
            ValidationError: The relation has no ID (take it from `relation_by_code`)
                or no name (PATCH requires ``name``).
        """
        if not relation.id:
            raise ValidationError("id", relation.id, "updating needs the relation's ID")
        if not relation.company:
            raise ValidationError("company", relation.company, "e-Boekhouden needs the name")
        body = relation_to_json(relation)
        self._send("PATCH", f"/v1/relation/{relation.id}", body=body, idempotent=True)

    def relations(
        self, *, code: str | None = None, keyword: str | None = None, id: int = 0
    ) -> list[Relation]:
        """Find relations by code, keyword or ID; all of them when no filter is given.

        The REST API has no keyword search: a keyword is matched (``[like]``)
        against code, name, city, contact and e-mail, one listing each.
        """
        if id:
            try:
                found = [
                    relation_from_json(self._object("GET", f"/v1/relation/{id}", "a relation"))
                ]
            except NotFoundError:
                return []
        else:
            found = self._listed_relations(code, keyword)
        for relation in found:
            self._remember_relation(relation.code or "", relation.id)
        return [r for r in found if not code or r.code == code]

    def _listed_relations(self, code: str | None, keyword: str | None) -> list[Relation]:
        base: list[tuple[str, str]] = [("code", code)] if code else []
        if not keyword:
            return [relation_from_json(i) for i in self._items("/v1/relation", "a relation", base)]
        pattern = f"%{_escape_like(keyword)}%"
        by_id: dict[int, Relation] = {}
        for name in ("code", "name", "city", "contact", "email"):
            if code and name == "code":
                continue
            filtered = [*base, (f"{name}[like]", pattern)]
            for item in self._items("/v1/relation", "a relation", filtered):
                relation = relation_from_json(item)
                by_id.setdefault(relation.id, relation)
        return [by_id[key] for key in sorted(by_id)]

    def _remember_relation(self, code: str, relation_id: int) -> None:
        if code and relation_id:
            self._relation_ids[code] = relation_id
            self._relation_codes[relation_id] = code

    def _relation_id(self, code: str) -> int:
        if code not in self._relation_ids:
            self.relation_by_code(code)  # remembers its ID when found
        if code not in self._relation_ids:
            raise NotFoundError(f"e-Boekhouden has no relation {code!r}", service="eboekhouden")
        return self._relation_ids[code]

    def _relation_code(self, relation_id: int) -> str | None:
        if not relation_id:
            return None
        if relation_id not in self._relation_codes:
            self.relations(id=relation_id)
        return self._relation_codes.get(relation_id)

    # -- ledgers ----------------------------------------------------------------------

    def _ledger_maps(self) -> tuple[dict[str, int], dict[int, str]]:
        if not self._ledger_ids:
            for ledger in self.ledgers():
                if ledger.code:
                    self._ledger_ids[ledger.code] = ledger.id
        return self._ledger_ids, {i: c for c, i in self._ledger_ids.items()}

    def _ledger_id(self, code: str | None, field: str) -> int:
        ids, _ = self._ledger_maps()
        if not code or code not in ids:
            raise ValidationError(field, code, "no ledger with this code in the administration")
        return ids[code]

    # -- mutations --------------------------------------------------------------------

    def _add_mutation(self, mutation: Mutation) -> int:
        """``POST /v1/mutation``, codes resolved to IDs first. Not retried."""
        created = self._object(
            "POST",
            "/v1/mutation",
            "the created mutation",
            body=self._mutation_body(mutation),
            idempotent=False,
        )
        return created.integer("id", required=True)

    def _mutation_body(self, mutation: Mutation) -> dict[str, Any]:
        """``CreateMutation``: ledger and relation codes turned into IDs, ``None`` left out."""
        mutation.check_vat_codes()
        relation = mutation.relation_code
        term = mutation.payment_term_days
        body = {
            "type": TYPE_OF_KIND[mutation.kind],
            "date": mutation.date.isoformat(),
            "ledgerId": self._ledger_id(mutation.ledger_code, "ledger_code"),
            "invoiceNumber": mutation.invoice_number,
            "entryNumber": mutation.document,
            "description": mutation.description,
            "paymentReference": mutation.payment_reference,
            "inExVat": mutation.in_ex_vat.value if mutation.in_ex_vat else None,
            "termOfPayment": int(term) if term else None,
            "relationId": self._relation_id(relation) if relation else None,
            "rows": [self._row_body(line) for line in mutation.lines],
        }
        return _without_none(body)

    def _row_body(self, line: MutationLine) -> dict[str, Any]:
        return _without_none(
            {
                "ledgerId": self._ledger_id(line.ledger_code, "lines.ledger_code"),
                "vatCode": line.vat_code,
                # One amount per row: the service computes the VAT from the code.
                "amount": json_amount(line.amount_entered),
                "costCenterId": line.cost_centre_id or None,
            }
        )

    def mutation(self, number: int) -> Mutation | None:
        """One mutation with its lines (``GET /v1/mutation/{id}``), or ``None``."""
        try:
            item = self._object("GET", f"/v1/mutation/{number}", "a mutation")
        except NotFoundError:
            return None
        _, codes = self._ledger_maps()
        relation = self._relation_code(item.integer("relationId"))
        return mutation_from_json(item, ledger_code=codes, relation_code=relation)

    def mutations(
        self,
        *,
        invoice_number: str | None = None,
        number: int = 0,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> list[Mutation]:
        """Bookings (``GET /v1/mutation``), all pages; by ``number`` with their lines.

        List items carry no lines and no relation (an API quirk): take one
        mutation by ``number`` or use `invoice_bookings` for those.
        """
        if number:
            found = self.mutation(number)
            return [found] if found is not None else []
        _, codes = self._ledger_maps()
        return [
            mutation_from_json(item, ledger_code=codes, relation_code=None)
            for item in self._mutation_items(invoice_number, date_from, date_to, types=None)
        ]

    def _mutation_items(
        self,
        invoice_number: str | None,
        date_from: dt.date | None,
        date_to: dt.date | None,
        *,
        types: str | None,
    ) -> Iterator[JsonObject]:
        params: list[tuple[str, str]] = []
        if invoice_number:
            params.append(("invoiceNumber", invoice_number))
        if types:
            params.append(("type[range]", types))
        if date_from or date_to:
            start, end = date_from or dt.date(1900, 1, 1), date_to or dt.date(2200, 1, 1)
            params.append(("date[range]", f"{start.isoformat()},{end.isoformat()}"))
        return self._items("/v1/mutation", "a mutation", params)

    def invoice_bookings(self, invoice_number: str) -> list[Mutation]:
        """The invoice bookings with this number, each read with its lines and relation."""
        items = self._mutation_items(invoice_number, None, None, types=_INVOICE_TYPES)
        numbers = [
            i.integer("id", required=True)
            for i in items
            if i.text("invoiceNumber") == invoice_number
        ]
        return [m for m in map(self.mutation, numbers) if m is not None and m.kind in INVOICE_KINDS]

    def invoice_lookup(self, invoices: Sequence[Invoice]) -> InvoiceLookup:
        """Which invoices are booked, with their mutation numbers (see `booked_invoices`).

        REST's listings are complete (no cap), so every invoice is seen unless
        a call fails: then all are unseen, with its error (never booked blindly).
        """
        wanted = {(i.relation_code, i.number) for i in invoices}
        try:
            numbers = self._booked_numbers(invoices)
        except CrmConnectError as exc:
            return InvoiceLookup(unseen=dict.fromkeys(wanted, exc), calls=1)
        booked = numbers.keys() & wanted
        known = {pair: numbers[pair] for pair in booked if numbers[pair]}
        return InvoiceLookup(booked=frozenset(booked), calls=1, numbers=known)

    def booked_invoices(self, invoices: Sequence[Invoice]) -> set[tuple[str, str]]:
        """Pairs already booked: the outstanding invoices, then the rest by number.

        Unpaid invoices are found in the two outstanding lists at once; only an
        invoice number listed among the bookings but not outstanding (paid, or
        of another relation) is read on its own.
        """
        wanted = {(i.relation_code, i.number) for i in invoices}
        return set(self._booked_numbers(invoices).keys() & wanted)

    def _booked_numbers(self, invoices: Sequence[Invoice]) -> dict[Pair, int]:
        """Booked (relation code, invoice number) pairs → mutation number (0: not told)."""
        if not invoices:
            return {}
        wanted = {(i.relation_code, i.number) for i in invoices}
        found: dict[Pair, int] = {}
        for kind in OpenItemKind:
            for item, mutation in self._outstanding(kind):
                pair = (item.relation_code or "", item.invoice_number or "")
                if pair in wanted:
                    found[pair] = found.get(pair) or mutation
        missing = {number for _, number in wanted - found.keys()}
        if missing:
            dates = sorted(i.date for i in invoices)
            items = self._mutation_items(None, dates[0], dates[-1], types=_INVOICE_TYPES)
            listed = {i.text("invoiceNumber") or "" for i in items}
            for number in sorted(listed & missing):
                booked = booking_numbers(self.invoice_bookings(number))
                found.update({pair: n for pair, n in booked.items() if pair in wanted})
        if len({i.relation_code for i in invoices} - self._relation_ids.keys()) > 1:
            self.relations()  # one listing resolves every relation code to its ID
        return found

    # -- reads ------------------------------------------------------------------------

    def open_items(self, kind: OpenItemKind | str = OpenItemKind.DEBTORS) -> list[OpenItem]:
        """Outstanding invoices of debtors or creditors (``/v1/mutation/invoice/outstanding``)."""
        return [item for item, _ in self._outstanding(kind)]

    def _outstanding(self, kind: OpenItemKind | str) -> list[tuple[OpenItem, int]]:
        """Outstanding invoices, each with its booking's number (``mutationId``; 0: not told)."""
        params = [("credDeb", _CRED_DEB[OpenItemKind(kind)])]
        items = self._items("/v1/mutation/invoice/outstanding", "an outstanding invoice", params)
        return [(open_item_from_json(item), item.integer("mutationId")) for item in items]

    def ledgers(self, *, code: str | None = None, category: str | None = None) -> list[Ledger]:
        """Ledger accounts (``GET /v1/ledger``)."""
        params = [(k, v) for k, v in (("code", code), ("category", category)) if v]
        found = [ledger_from_json(i) for i in self._items("/v1/ledger", "a ledger", params)]
        for ledger in found:
            if ledger.code:
                self._ledger_ids[ledger.code] = ledger.id
        return found

    def cost_centres(self) -> list[CostCentre]:
        """Cost centres (``GET /v1/costcenter``)."""
        return [cost_centre_from_json(i) for i in self._items("/v1/costcenter", "a cost centre")]

    def administrations(self) -> list[Administration]:
        """Administrations of an accountant (``GET /v1/administration``).

        Raises:
            AuthenticationError: ``EP_001`` for a login that is not an accountant's.
        """
        items = self._items("/v1/administration", "an administration")
        return [administration_from_json(i) for i in items]

    def balances(self, *, category: str | None = None) -> list[Balance]:
        """Balances of the ledgers: one ``GET /v1/ledger/{id}/balance`` per ledger."""
        result = []
        for ledger in self.ledgers(category=category):
            found = self._object("GET", f"/v1/ledger/{ledger.id}/balance", "a ledger balance")
            values = {
                "id": ledger.id,
                "code": ledger.code,
                "category": ledger.category,
                "balance": found.amount("balance", required=True),
            }
            result.append(found.answer.model(Balance, values))
        return result


_JSON = {"Content-Type": "application/json"}

_TOKEN_MEMBER = re.compile(r'("(?:token|accessToken)"\s*:\s*)[^,}]*')


class _RestRedactor(Redactor):
    """The client's secrets masked, and any ``token`` member of a JSON text.

    A session answer that is cut off or malformed is shown in its error's
    excerpt before its token could be registered as a secret.
    """

    def __call__(self, text: str) -> str:
        return _TOKEN_MEMBER.sub(r'\1"***"', super().__call__(text))


def _json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _escape_like(text: str) -> str:
    # ``%`` and ``?`` are the wildcards of [like]: a literal one is escaped with a backslash.
    # Assumption: the escape character is ``\\`` (the API says only that they "must be escaped").
    return re.sub(r"([%?\\])", r"\\\1", text)
