"""`DigitaleFactuurClient` (and `AsyncDigitaleFactuurClient`): DF's XML API on httpx.

Remote quirks handled here:

* both credentials are path segments (``/api/{account_id}/{access_code}/{action}``):
  they are masked in every log line (httpx's own included), ``repr`` and error;
* reads are ``GET`` with parameters glued on with ``&`` and no ``?``, so the
  path is built here, each value percent-encoded, never with httpx's ``params``;
* writes are ``POST`` with one form field ``xml``; every mapped element is
  sent, because whether ``klant_updaten`` clears omitted ones is unknown;
* an error is a plain-text body starting with three digits, whatever the
  HTTP status; answers are parsed with defusedxml;
* ``klanten`` paging is undocumented: pages are read until one is empty or
  repeats an earlier one, up to a hard cap.

Every operation is written once, as a generator that yields the calls it needs
and receives their answers (httpx's auth-flow pattern); the sync and the async
client only drive it. Reads are retried; writes never are: a create whose
answer was lost is looked up by relation number before it is sent again.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Generator
from decimal import Decimal
from typing import Literal, TypeVar

import attrs
import httpx

from .._http import AsyncHTTP, HTTPSettings, SyncHTTP
from .._ratelimit import TokenBucket
from .._redact import Redactor, mask_secret, protect_library_logs
from .._retry import RetryPolicy
from ..errors import (
    APIError,
    ConfigurationError,
    ConnectError,
    CrmConnectError,
    NotFoundError,
    TransportError,
    ValidationError,
)
from ._errors import coded_error, parse_http_error
from ._fields import INVOICE_FIELDS, LINE_FIELDS, RELATION_FIELDS, FieldTable
from ._models import Invoice, InvoiceLine, PaymentStatus, Relation, relation_fingerprint
from ._xml import UnsafeXMLError, build, leaves, parse, records

__all__ = ["DEFAULT_URL", "MAX_PAGES", "AsyncDigitaleFactuurClient", "DigitaleFactuurClient"]

DEFAULT_URL = "https://administratie.digitalefactuur.nl/api"
MAX_PAGES = 1000
"""Hard cap on pages of one listing."""
DEFAULT_RATE_LIMIT = 10.0
"""Requests per second: DF documents no limit, so the client stays polite."""

logger = logging.getLogger("crmconnect.digitalefactuur")

_T = TypeVar("_T")


@attrs.frozen
class _Call:
    """One request of an operation: the action, its ``&`` parameters, the XML of a write."""

    method: Literal["GET", "POST"]
    action: str
    params: tuple[tuple[str, str], ...] = ()
    xml: str | None = None
    read: bool = True
    """Reads are retried; writes (every POST, and deletes) never are."""


Flow = Generator[_Call, str, _T]


class _DigitaleFactuurBase:
    """Configuration, the operations (as flows) and parsing, shared by both clients."""

    def __init__(
        self,
        account_id: str | None,
        access_code: str | None,
        *,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        rate_limit: float | None,
        relation_fields: FieldTable,
        invoice_fields: FieldTable,
        max_pages: int,
    ) -> None:
        self._account = _setting(account_id, "ACCOUNT_ID")
        self._code = _setting(access_code, "ACCESS_CODE")
        self.base_url = (
            base_url or os.environ.get("CRMCONNECT_DIGITALEFACTUUR_URL") or DEFAULT_URL
        ).rstrip("/")
        self.relation_fields = relation_fields
        self.invoice_fields = invoice_fields
        self.max_pages = max_pages
        secrets = [self._account, self._code]
        secrets += [urllib.parse.quote(s, safe="") for s in secrets]
        self._redact = Redactor(secrets)
        protect_library_logs(secrets, ("httpx",))  # httpx logs every URL at INFO
        tables = (relation_fields, invoice_fields, LINE_FIELDS)
        account, code = (urllib.parse.quote(s, safe="") for s in (self._account, self._code))
        self._settings = HTTPSettings(
            service="digitalefactuur",
            base_url=f"{self.base_url}/{account}/{code}",
            error_parser=functools.partial(_parse_answer, tables=tables),
            headers={"Accept": "application/xml, text/xml, text/plain"},
            timeout=timeout,
            retry=RetryPolicy(max_attempts=max(1, max_retries + 1)),
            limiter=TokenBucket(rate_limit),
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, "
            f"account_id={mask_secret(self._account)!r}, access_code={mask_secret(self._code)!r})"
        )

    # -- the wire -----------------------------------------------------------------

    @staticmethod
    def _path(call: _Call) -> str:
        # "&"-joined, no "?": DF's convention; every value percent-encoded.
        glued = "".join(
            f"&{name}={urllib.parse.quote(value, safe='')}" for name, value in call.params
        )
        return f"/{call.action}{glued}"

    @staticmethod
    def _form(call: _Call) -> tuple[bytes | None, dict[str, str]]:
        if call.xml is None:
            return None, {}
        body = urllib.parse.urlencode({"xml": call.xml}).encode("ascii")
        return body, {"Content-Type": "application/x-www-form-urlencoded"}

    def _root(self, text: str, action: str) -> ET.Element:
        try:
            root = parse(text)
        except UnsafeXMLError as error:
            raise APIError(
                f"DigitaleFactuur {action}: refused an answer with a DTD or entities ({error})",
                service="digitalefactuur",
                context={"action": action},
            ) from None
        if root is None:
            excerpt = self._redact(" ".join(text.split())[:200]) or "(empty body)"
            raise APIError(
                f"DigitaleFactuur {action}: the answer is neither XML nor an error code",
                service="digitalefactuur",
                remote_message=excerpt,
                context={"action": action, "body": excerpt},
            )
        return root

    # -- relations ----------------------------------------------------------------

    def _pages(
        self, action: str, params: tuple[tuple[str, str], ...], read: Callable[[str], list[_T]]
    ) -> Flow[list[_T]]:
        """Every record over the pages, until one is empty or repeats (at most ``max_pages``)."""
        found: list[_T] = []
        seen: set[int] = set()
        for page in range(1, self.max_pages + 1):
            text = yield _Call("GET", action, (*params, ("page", str(page))))
            batch = read(text)
            if not batch or hash(text) in seen:
                return found  # an empty page, or one seen before: the service ignores "page"
            seen.add(hash(text))
            found.extend(batch)
        raise APIError(
            f"DigitaleFactuur {action}: more than {self.max_pages} pages; stopped",
            service="digitalefactuur",
        )

    def _read_relations(self, text: str) -> list[Relation]:
        table = self.relation_fields
        return [
            Relation.from_elements(leaves(r), table) for r in records(self._root(text, "klanten"))
        ]

    def _read_fingerprints(self, text: str) -> list[tuple[str, str]]:
        by_element = self.relation_fields.by_element
        snapshot = []
        for record in records(self._root(text, "klanten")):
            elements = leaves(record)
            values = {by_element[k]: v for k, v in elements.items() if k in by_element}
            snapshot.append((elements.get("id", ""), relation_fingerprint(values)))
        return snapshot

    def _relations_flow(self) -> Flow[list[Relation]]:
        return (yield from self._pages("klanten", (), self._read_relations))

    def _snapshot_flow(self) -> Flow[dict[str, str]]:
        pairs = yield from self._pages("klanten", (), self._read_fingerprints)
        return dict(pairs)

    def _relation_flow(self, relation_id: str) -> Flow[Relation | None]:
        # Assumption: "klanten&klanten_id=ID" reads one relation, as facturen_id does for invoices.
        try:
            text = yield _Call("GET", "klanten", (("klanten_id", relation_id),))
        except NotFoundError:
            return None
        return next((r for r in self._read_relations(text) if r.id == relation_id), None)

    def _by_number_flow(self, number: str) -> Flow[Relation | None]:
        # DF documents no filter on klanten: the number is looked up in the full list.
        listed = yield from self._relations_flow()
        return next((r for r in listed if r.number == number), None)

    def _create_flow(self, relation: Relation) -> Flow[Relation]:
        if relation.id:
            raise ValidationError("id", relation.id, "a relation to create has no ID yet")
        if not relation.number:
            raise ValidationError(
                "number", relation.number, "a relation needs a number: it finds a lost create"
            )
        call = _Call("POST", "klant_aanmaken", xml=self._relation_xml(relation), read=False)
        try:
            text = yield call
        except ConnectError:
            raise  # never sent
        except TransportError:
            # Ambiguous: DF may have created it. Look before sending it again.
            found = yield from self._by_number_flow(relation.number)
            if found is not None:
                logger.info("a lost klant_aanmaken had created the relation; not sent again")
                return found
            text = yield call
        new_id = _created_id(text, self._root)
        if new_id is None:  # the answer names no ID: find it by number
            found = yield from self._by_number_flow(relation.number)
            new_id = found.id if found else None
        return relation.model_copy(update={"id": new_id})

    def _relation_xml(self, relation: Relation) -> str:
        return build(self.relation_fields.record, relation.to_elements(self.relation_fields))

    def _update_flow(self, relation: Relation) -> Flow[None]:
        if not relation.id:
            raise ValidationError("id", relation.id, "updating needs the relation's DF ID")
        yield _Call("POST", "klant_updaten", xml=self._relation_xml(relation), read=False)

    def _upsert_flow(self, relation: Relation) -> Flow[Relation]:
        if not relation.number:
            raise ValidationError("number", relation.number, "upserting goes by relation number")
        existing = yield from self._by_number_flow(relation.number)
        if existing is None:
            return (yield from self._create_flow(relation.model_copy(update={"id": None})))
        updated = relation.model_copy(update={"id": existing.id})
        yield from self._update_flow(updated)
        return updated

    def _delete_flow(self, relation_id: str) -> Flow[None]:
        yield _Call("GET", "klant_verwijderen", (("klanten_id", relation_id),), read=False)

    def _raw_flow(self, relation_id: str | None) -> Flow[str]:
        params = (("klanten_id", relation_id),) if relation_id else (("page", "1"),)
        text = yield _Call("GET", "klanten", params)
        found = records(self._root(text, "klanten"))
        if relation_id:
            found = [r for r in found if leaves(r).get("id") == relation_id]
        if not found:
            raise NotFoundError(
                "DigitaleFactuur has no relation to show", service="digitalefactuur"
            )
        ET.indent(found[0])
        return ET.tostring(found[0], encoding="unicode")

    # -- invoices -----------------------------------------------------------------

    def _read_invoices(self, text: str) -> list[Invoice]:
        return [self._invoice(r) for r in records(self._root(text, "facturen"))]

    def _invoice(self, record: ET.Element) -> Invoice:
        by_element = self.invoice_fields.by_element
        values: dict[str, object] = {"id": None, "unknown": {}}
        unknown: dict[str, str] = {}
        for element, text in leaves(record).items():
            if element == "id":
                values["id"] = text
            elif element in by_element:
                values[by_element[element]] = text
            else:
                unknown[element] = text
        lines_by = LINE_FIELDS.by_element
        lines = [
            InvoiceLine.model_validate(
                {lines_by[k]: v for k, v in leaves(line).items() if k in lines_by}
            )
            for line in record.iter(LINE_FIELDS.record)
        ]
        return Invoice.model_validate({**values, "unknown": unknown, "lines": lines})

    def _invoices_flow(
        self, status: PaymentStatus | str | None, number: str | None
    ) -> Flow[list[Invoice]]:
        params: list[tuple[str, str]] = []
        if status is not None:
            params.append(("betaalstatus", PaymentStatus(status).value))
        if number is not None:
            params.append(("factuurnummer", number))
        return (yield from self._pages("facturen", tuple(params), self._read_invoices))

    def _invoice_flow(self, invoice_id: str) -> Flow[Invoice | None]:
        try:
            text = yield _Call("GET", "facturen", (("facturen_id", invoice_id),))
        except NotFoundError:
            return None
        return next((i for i in self._read_invoices(text) if i.id == invoice_id), None)

    def _payment_flow(
        self, invoice_id: str, date: dt.date | None, amount: Decimal | None
    ) -> Flow[None]:
        elements = [("id", invoice_id), ("datum", (date or dt.date.today()).isoformat())]
        if amount is not None:  # a part payment
            elements += [("deelbetaling", "1"), ("voldaan", f"{Decimal(amount):.2f}")]
        yield _Call(
            "POST", "factuur_betaling_verwerken", xml=build("factuur", elements), read=False
        )

    def _undo_payment_flow(self, invoice_id: str) -> Flow[None]:
        xml = build("factuur", [("id", invoice_id)])
        yield _Call("POST", "factuur_betaling_ongedaan_maken", xml=xml, read=False)


def _setting(value: str | None, name: str) -> str:
    found = value or os.environ.get(f"CRMCONNECT_DIGITALEFACTUUR_{name}")
    if not found:
        raise ConfigurationError(
            f"no DigitaleFactuur {name.lower().replace('_', ' ')}: pass it or set "
            f"CRMCONNECT_DIGITALEFACTUUR_{name}"
        )
    if "/" in found or not found.strip():
        raise ConfigurationError(
            f"the DigitaleFactuur {name.lower().replace('_', ' ')} is malformed"
        )
    return found


def _created_id(text: str, root_of: Callable[[str, str], ET.Element]) -> str | None:
    """The new ID in a create's answer: a bare number, or an ``<id>`` anywhere in XML.

    Assumption: what a successful ``klant_aanmaken`` returns is undocumented.
    """
    stripped = text.strip()
    if stripped.isdigit():
        return stripped
    if not stripped:
        return None
    root = root_of(stripped, "klant_aanmaken")
    found = root if root.tag == "id" else root.find(".//id")
    value = (found.text or "").strip() if found is not None else ""
    return value or None


def _parse_answer(
    response: httpx.Response, redact: Redactor, *, tables: tuple[FieldTable, ...]
) -> APIError | None:
    """HTTP errors, and a 200 whose body starts with a three-digit code."""
    error = parse_http_error(response, redact)
    if error is not None:
        return error
    action = response.request.url.path.rsplit("/", 1)[-1].split("&", 1)[0]
    return coded_error(response.text, action, redact, tables)


class DigitaleFactuurClient(_DigitaleFactuurBase):
    """Client for DigitaleFactuur's XML API.

    Args:
        account_id: The account id. Falls back to ``CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID``.
        access_code: The access code, the "toegangscode" (``..._ACCESS_CODE``).
        base_url: The API root (``..._URL``), e.g. a sandbox on loopback.
        timeout: Seconds per request.
        max_retries: Retries of reads after transport or server errors.
        rate_limit: Requests per second at most; ``None`` for no limit.
        relation_fields: The element names of relations (see `RELATION_FIELDS`).
        invoice_fields: The element names of invoices (see `INVOICE_FIELDS`).
        max_pages: Hard cap on pages of one listing.
        http_client: An `httpx.Client` to use (borrowed, never closed here).
        transport: An httpx transport for a client created here (e.g. a sandbox's).

    Example:
        ```python
        with DigitaleFactuurClient("12345", "access-code") as df:
            for relation in df.relations():
                print(relation.number, relation.name)
        ```
    """

    def __init__(
        self,
        account_id: str | None = None,
        access_code: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        rate_limit: float | None = DEFAULT_RATE_LIMIT,
        relation_fields: FieldTable = RELATION_FIELDS,
        invoice_fields: FieldTable = INVOICE_FIELDS,
        max_pages: int = MAX_PAGES,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            account_id,
            access_code,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            rate_limit=rate_limit,
            relation_fields=relation_fields,
            invoice_fields=invoice_fields,
            max_pages=max_pages,
        )
        self._http = SyncHTTP(
            self._settings, self._redact, http_client=http_client, transport=transport
        )

    def __enter__(self) -> DigitaleFactuurClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (a borrowed ``http_client`` stays open)."""
        self._http.close()

    def _run(self, flow: Flow[_T]) -> _T:
        """Drive an operation: send each call it yields, hand back the answer or the error."""
        try:
            call = next(flow)
            while True:
                try:
                    text = self._send(call)
                except CrmConnectError as error:
                    call = flow.throw(error)
                else:
                    call = flow.send(text)
        except StopIteration as done:
            result: _T = done.value
            return result

    def _send(self, call: _Call) -> str:
        content, headers = self._form(call)
        response = self._http.request(
            call.method, self._path(call), content=content, headers=headers, idempotent=call.read
        )
        return response.text

    def relations(self) -> list[Relation]:
        """Every relation (``klanten``), over all pages."""
        return self._run(self._relations_flow())

    def relations_snapshot(self) -> dict[str, str]:
        """``{DF id: fingerprint}`` of every relation, for change detection (no models built)."""
        return self._run(self._snapshot_flow())

    def relation(self, relation_id: str) -> Relation | None:
        """One relation by DF ID, or ``None``."""
        return self._run(self._relation_flow(relation_id))

    def relation_by_number(self, number: str) -> Relation | None:
        """The relation with this relation number, or ``None`` (reads the list)."""
        return self._run(self._by_number_flow(number))

    def create_relation(self, relation: Relation) -> Relation:
        """Create a relation (``klant_aanmaken``); returns it with its new DF ID.

        Never repeated blindly: when the answer is lost, the relation number
        is looked up first, and the create is sent again only when it is not there.

        Raises:
            ValidationError: The relation has an ID already, or no number.
        """
        return self._run(self._create_flow(relation))

    def update_relation(self, relation: Relation) -> None:
        """Update a relation (``klant_updaten``): every mapped element is sent.

        Raises:
            ValidationError: The relation has no DF ID.
        """
        self._run(self._update_flow(relation))

    def upsert_relation(self, relation: Relation) -> Relation:
        """Create or update by relation number; returns the relation with its DF ID."""
        return self._run(self._upsert_flow(relation))

    def delete_relation(self, relation_id: str) -> None:
        """Delete a relation (``klant_verwijderen``). Not retried."""
        self._run(self._delete_flow(relation_id))

    def raw_relation_xml(self, relation_id: str | None = None) -> str:
        """The XML of one relation as DF sends it (the first one when no ID is given).

        For checking the assumed element names against a live account.
        """
        return self._run(self._raw_flow(relation_id))

    def invoices(
        self, *, status: PaymentStatus | str | None = None, number: str | None = None
    ) -> list[Invoice]:
        """Invoices (``facturen``), over all pages, by payment status or invoice number."""
        return self._run(self._invoices_flow(status, number))

    def invoice(self, invoice_id: str) -> Invoice | None:
        """One invoice by DF ID, or ``None``."""
        return self._run(self._invoice_flow(invoice_id))

    def record_payment(
        self, invoice_id: str, *, date: dt.date | None = None, amount: Decimal | None = None
    ) -> None:
        """Register a payment (``factuur_betaling_verwerken``): in full, or ``amount`` of it.

        Not retried: when the answer is lost, read the invoice before paying again.
        """
        self._run(self._payment_flow(invoice_id, date, amount))

    def undo_payment(self, invoice_id: str) -> None:
        """Undo the payments of an invoice (``factuur_betaling_ongedaan_maken``)."""
        self._run(self._undo_payment_flow(invoice_id))


class AsyncDigitaleFactuurClient(_DigitaleFactuurBase):
    """The asynchronous twin of `DigitaleFactuurClient`: the same methods, awaited.

    Example:
        ```python
        async with AsyncDigitaleFactuurClient("12345", "access-code") as df:
            snapshot = await df.relations_snapshot()
        ```
    """

    def __init__(
        self,
        account_id: str | None = None,
        access_code: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        rate_limit: float | None = DEFAULT_RATE_LIMIT,
        relation_fields: FieldTable = RELATION_FIELDS,
        invoice_fields: FieldTable = INVOICE_FIELDS,
        max_pages: int = MAX_PAGES,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            account_id,
            access_code,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            rate_limit=rate_limit,
            relation_fields=relation_fields,
            invoice_fields=invoice_fields,
            max_pages=max_pages,
        )
        self._http = AsyncHTTP(
            self._settings, self._redact, http_client=http_client, transport=transport
        )

    async def __aenter__(self) -> AsyncDigitaleFactuurClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (a borrowed ``http_client`` stays open)."""
        await self._http.aclose()

    async def _run(self, flow: Flow[_T]) -> _T:
        try:
            call = next(flow)
            while True:
                try:
                    text = await self._send(call)
                except CrmConnectError as error:
                    call = flow.throw(error)
                else:
                    call = flow.send(text)
        except StopIteration as done:
            result: _T = done.value
            return result

    async def _send(self, call: _Call) -> str:
        content, headers = self._form(call)
        response = await self._http.request(
            call.method, self._path(call), content=content, headers=headers, idempotent=call.read
        )
        return response.text

    async def relations(self) -> list[Relation]:
        """Every relation (see `DigitaleFactuurClient.relations`)."""
        return await self._run(self._relations_flow())

    async def relations_snapshot(self) -> dict[str, str]:
        """``{DF id: fingerprint}`` of every relation."""
        return await self._run(self._snapshot_flow())

    async def relation(self, relation_id: str) -> Relation | None:
        """One relation by DF ID, or ``None``."""
        return await self._run(self._relation_flow(relation_id))

    async def relation_by_number(self, number: str) -> Relation | None:
        """The relation with this relation number, or ``None``."""
        return await self._run(self._by_number_flow(number))

    async def create_relation(self, relation: Relation) -> Relation:
        """Create a relation, never twice (see `DigitaleFactuurClient.create_relation`)."""
        return await self._run(self._create_flow(relation))

    async def update_relation(self, relation: Relation) -> None:
        """Update a relation: every mapped element is sent."""
        await self._run(self._update_flow(relation))

    async def upsert_relation(self, relation: Relation) -> Relation:
        """Create or update by relation number."""
        return await self._run(self._upsert_flow(relation))

    async def delete_relation(self, relation_id: str) -> None:
        """Delete a relation. Not retried."""
        await self._run(self._delete_flow(relation_id))

    async def raw_relation_xml(self, relation_id: str | None = None) -> str:
        """The XML of one relation as DF sends it."""
        return await self._run(self._raw_flow(relation_id))

    async def invoices(
        self, *, status: PaymentStatus | str | None = None, number: str | None = None
    ) -> list[Invoice]:
        """Invoices, over all pages, by payment status or invoice number."""
        return await self._run(self._invoices_flow(status, number))

    async def invoice(self, invoice_id: str) -> Invoice | None:
        """One invoice by DF ID, or ``None``."""
        return await self._run(self._invoice_flow(invoice_id))

    async def record_payment(
        self, invoice_id: str, *, date: dt.date | None = None, amount: Decimal | None = None
    ) -> None:
        """Register a payment, in full or ``amount`` of it. Not retried."""
        await self._run(self._payment_flow(invoice_id, date, amount))

    async def undo_payment(self, invoice_id: str) -> None:
        """Undo the payments of an invoice."""
        await self._run(self._undo_payment_flow(invoice_id))
