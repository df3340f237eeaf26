"""`DigitaleFactuurClient` (and `AsyncDigitaleFactuurClient`): DF's XML API on httpx.

Remote quirks handled here:

* both credentials are path segments (``/api/{account_id}/{access_code}/{action}``):
  they are masked in every log line (httpx's own included), ``repr`` and error;
  the base URL is the API root, ending in ``/api`` (a bare host gets it added);
* reads are ``GET`` with parameters glued on with ``&`` and no ``?``, so the
  path is built here, each value percent-encoded, never with httpx's ``params``;
* writes are ``POST`` with one form field ``xml``; whether ``klant_updaten``
  clears omitted elements is unknown, so it is taken to replace the record:
  every mapped element is sent, and the unmapped ones read are sent back, and
  a change of some fields is read-modify-write (`update_relation_fields`);
* ``klanten`` has no filter and no version: look-ups by number read the list
  (once for many, `relations_by_number`), change detection fingerprints it;
* an error is a plain-text body starting with three digits, whatever the
  HTTP status; a 404 for the URL or the action (not a record) means a wrong
  base URL, a `ConfigurationError`;
* every answer is checked against the shape its action must have (root,
  record and required elements, depth; `ANSWER_ELEMENTS`): anything else, an
  HTML maintenance page with HTTP 200 included, is a `MalformedResponseError`;
* ``klanten`` paging is undocumented: pages are read until one is empty or
  repeats an earlier one, up to a hard cap.

Every operation is written once, as a generator that yields the calls it needs
and receives their answers (httpx's auth-flow pattern); the sync and the async
client only drive it. Reads are retried; writes never are: a create whose
answer was lost or unreadable is looked up by relation number before anything
else is done.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Literal, NamedTuple, TypeVar, cast

import attrs
import httpx
import xxhash

from .._answers import DEFAULT_MAX_ANSWER_BYTES, Answer
from .._http import AsyncHTTP, HTTPSettings, SyncHTTP
from .._model import clean_text
from .._ratelimit import RateLimiter, limiter_for
from .._redact import Redactor, mask_secret, protect_library_logs
from .._retry import RetryPolicy
from ..errors import (
    APIError,
    ConfigurationError,
    ConnectError,
    CrmConnectError,
    MalformedResponseError,
    NotFoundError,
    TransportError,
    ValidationError,
)
from ._errors import UnknownRouteError, coded_error, parse_http_error
from ._fields import ANSWER_ELEMENTS, INVOICE_FIELDS, LINE_FIELDS, RELATION_FIELDS, FieldTable
from ._index import ListedRecord, RelationIndex
from ._models import (
    ID_LENGTH,
    NUMBER_LENGTH,
    Fingerprinter,
    Invoice,
    InvoiceLine,
    PaymentStatus,
    Relation,
    listed_number,
)
from ._xml import MalformedAnswer, Record, Shape, build, parse, read, read_record, split_plain

__all__ = ["DEFAULT_URL", "MAX_PAGES", "AsyncDigitaleFactuurClient", "DigitaleFactuurClient"]

SERVICE = "digitalefactuur"
DEFAULT_URL = "https://administratie.digitalefactuur.nl/api"
"""DF's API root (documented); the credentials and the action follow it."""
MAX_PAGES = 1000
"""Hard cap on pages of one listing."""
DEFAULT_RATE_LIMIT = 10.0
"""Requests per second: DF documents no limit, so the client stays polite."""
MAX_PAYMENT = Decimal(10) ** 12
"""Largest part payment sent."""

logger = logging.getLogger("crmconnect.digitalefactuur")

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
"""An element name sent back from `Relation.unknown` (no colon: DF's names have none)."""

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


Flow = Generator[_Call, Answer, _T]


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
        rate_limit: float | RateLimiter | None,
        relation_fields: FieldTable,
        invoice_fields: FieldTable,
        answer_elements: FieldTable,
        max_pages: int,
        max_answer_bytes: int,
    ) -> None:
        self._account = _setting(account_id, "ACCOUNT_ID")
        self._code = _setting(access_code, "ACCESS_CODE")
        secrets = [self._account, self._code]
        secrets += [urllib.parse.quote(s, safe="") for s in secrets]
        self._redact = Redactor(secrets)
        protect_library_logs(secrets, ("httpx",))  # httpx logs every URL at INFO
        self.base_url = _api_root(
            base_url or os.environ.get("CRMCONNECT_DIGITALEFACTUUR_URL") or DEFAULT_URL,
            self._redact,
        )
        self.relation_fields = relation_fields
        self.invoice_fields = invoice_fields
        self.answer_elements = answer_elements
        self.max_pages = max_pages
        self._id = answer_elements.element("id")
        self._relations = Shape(
            relation_fields.record,
            frozenset({answer_elements.element("relation_list")}),
            (self._id,),
        )
        self._invoices = Shape(
            invoice_fields.record,
            frozenset({answer_elements.element("invoice_list")}),
            (self._id,),
            lines=LINE_FIELDS.record,
        )
        self._written = Shape(answer_elements.element("written"), required=(self._id,))
        self._fingerprint = Fingerprinter(relation_fields)
        self._number = next((s.element for s in relation_fields if s.attribute == "number"), "")
        tables = (relation_fields, invoice_fields, LINE_FIELDS)
        account, code = (urllib.parse.quote(s, safe="") for s in (self._account, self._code))
        self._settings = HTTPSettings(
            service=SERVICE,
            base_url=f"{self.base_url}/{account}/{code}",
            error_parser=functools.partial(_parse_answer, tables=tables),
            headers={"Accept": "application/xml, text/xml, text/plain"},
            timeout=timeout,
            retry=RetryPolicy(max_attempts=max(1, max_retries + 1)),
            limiter=limiter_for(rate_limit),
            max_answer_bytes=max_answer_bytes,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self._redact(self.base_url)!r}, "
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

    def _answer(self, response: httpx.Response) -> Answer:
        return Answer.of(response, service=SERVICE, redact=self._redact)

    def _wrong_url(self, error: UnknownRouteError, action: str) -> ConfigurationError:
        """An unknown URL or action: the base URL is wrong, not the record missing."""
        said = error.remote_message or "404"
        return self._redact.scrub(
            ConfigurationError(
                f"DigitaleFactuur does not know the URL of {action!r} ({said}): check base_url "
                f"{self.base_url!r}; it must be the API root, ending in /api (e.g. {DEFAULT_URL})"
            )
        )

    def _read(self, answer: Answer, shape: Shape, action: str) -> list[Record]:
        """The records of an answer, or a `MalformedResponseError` naming the action."""
        try:
            return read(answer.body, shape)
        except MalformedAnswer as malformed:
            reason = str(malformed)
        raise self._malformed(answer, action, reason)

    def _malformed(self, answer: Answer, action: str, reason: str) -> MalformedResponseError:
        error = answer.malformed(f"{action}: {reason}")
        error.context["action"] = action
        return error

    def _built(self, answer: Answer, action: str, build: Callable[[], _T]) -> _T:
        """A model from an answer's record; a refused value is a malformed answer."""
        try:
            return build()
        except ValidationError as refused:
            reason = f"{refused.field}: {refused.reason}"
        raise self._malformed(answer, action, reason)

    def _written_id(self, answer: Answer, action: str, expected: str | None = None) -> str:
        """The ID a write's answer names: a bare number, or the ``id`` of a written record.

        Assumption: what DF answers to a write is undocumented (a bare number,
        or ``<klant><id>N</id></klant>`` as the sandbox does).
        """
        text = answer.body.strip()
        if text.isdigit() and len(text) <= ID_LENGTH:
            found = text.decode() if isinstance(text, bytes) else text
        else:
            records = self._read(answer, self._written, action)
            if len(records) != 1:
                raise self._malformed(answer, action, f"{len(records)} records, not one")
            found = records[0].elements[self._id]
        if expected is not None and found != expected:
            raise self._malformed(answer, action, f"the answer names ID {found}, not {expected}")
        return found

    # -- relations ----------------------------------------------------------------

    def _pages(
        self,
        action: str,
        params: tuple[tuple[str, str], ...],
        read: Callable[[Answer], list[_T]],
    ) -> Flow[list[_T]]:
        """Every record over the pages, until one is empty or repeats (at most ``max_pages``)."""
        found: list[_T] = []
        seen: set[int] = set()
        for page in range(1, self.max_pages + 1):
            answer = yield _Call("GET", action, (*params, ("page", str(page))))
            batch = read(answer)
            if not batch or hash(answer.body) in seen:
                return found  # an empty page, or one seen before: the service ignores "page"
            seen.add(hash(answer.body))
            found.extend(batch)
        raise self._redact.scrub(
            APIError(f"DigitaleFactuur {action}: more than {self.max_pages} pages; stopped",
                     service=SERVICE)
        )  # fmt: skip

    def _read_relations(self, answer: Answer) -> list[Relation]:
        table, id_element = self.relation_fields, self._id
        return [
            self._built(
                answer,
                "klanten",
                functools.partial(Relation.from_elements, r.elements, table, id_element),
            )
            for r in self._read(answer, self._relations, "klanten")
        ]

    def _read_page(self, answer: Answer, *, numbers: bool = True) -> list[_Page]:
        """A page's relations as columns (none for an empty page): checked, no value read.

        A plain page (`split_plain`) is cut into its records' bytes, each
        digested as listed; any other page is read exactly, and each record's
        digest taken over its element texts. ``numbers=False`` leaves the
        numbers out (``None``): a snapshot needs IDs and digests only.
        """
        keys = (self._id, self._number) if numbers and self._number else (self._id,)
        plain = split_plain(answer.body, self._relations, keys, raws=numbers)
        if plain is None:
            records = [r.elements for r in self._read(answer, self._relations, "klanten")]
            page = _Page(
                [elements[self._id] for elements in records],
                [listed_number(elements.get(self._number)) for elements in records],
                [_elements_digest(elements) for elements in records],
                records,
            )
        else:
            ids = cast(list[str], plain.keys[0])  # split_plain holds every ID present
            listed = _listed_numbers(plain.keys[1]) if len(keys) > 1 else [None] * len(ids)
            page = _Page(ids, listed, plain.digests, plain.raws or [])
        return [page] if page.ids else []

    def _read_listing(self, answer: Answer) -> list[ListedRecord]:
        """Per relation its ID, number, digest and bytes (or element texts)."""
        return [
            ListedRecord(*row)
            for page in self._read_page(answer)
            for row in zip(page.ids, page.numbers, page.digests, page.sources, strict=True)
        ]

    def _listed_elements(self, record: ListedRecord) -> Mapping[str, str]:
        """A listed record's element texts: a plain one read exactly now, held to its keys."""
        if not isinstance(record.source, bytes):
            return record.source
        try:
            elements = read_record(record.source, self._relations).elements
        except MalformedAnswer as malformed:
            reason = f"relation {record.id}: {malformed}"
        else:
            if elements.get(self._id) == record.id and (
                listed_number(elements.get(self._number)) == record.number or not self._number
            ):
                return elements
            reason = f"relation {record.id}: its ID or number is not a plain leaf of the record"
        answer = Answer(SERVICE, 200, record.source, self._redact)
        raise self._malformed(answer, "klanten", reason)

    def _listed_relation(self, elements: Mapping[str, str]) -> Relation:
        """The model of one listed relation; a refused value is a malformed answer."""
        try:
            return Relation.from_elements(elements, self.relation_fields, self._id)
        except ValidationError as refused:
            reason = f"relation {elements.get(self._id)}: {refused.field}: {refused.reason}"
        record = build(self.relation_fields.record, elements.items())
        raise self._malformed(Answer(SERVICE, 200, record, self._redact), "klanten", reason)

    def _relations_flow(self) -> Flow[list[Relation]]:
        return (yield from self._pages("klanten", (), self._read_relations))

    def _snapshot_flow(self) -> Flow[dict[str, str]]:
        read = functools.partial(self._read_page, numbers=False)
        pages = yield from self._pages("klanten", (), read)
        return {k: d for page in pages for k, d in zip(page.ids, page.digests, strict=True)}

    def _index_flow(self, fields: Iterable[str] | None) -> Flow[RelationIndex]:
        fingerprint = (
            self._fingerprint if fields is None else Fingerprinter(self.relation_fields, fields)
        )
        records = yield from self._pages("klanten", (), self._read_listing)
        return RelationIndex(
            records, fingerprint.fields, self._listed_elements, fingerprint, self._listed_relation
        )

    def _relation_flow(self, relation_id: int | str) -> Flow[Relation | None]:
        wanted = _key(relation_id, "relation_id", ID_LENGTH)
        # Assumption: "klanten&klanten_id=ID" reads one relation, as facturen_id does for invoices.
        try:
            answer = yield _Call("GET", "klanten", (("klanten_id", wanted),))
        except NotFoundError:
            return None
        return next((r for r in self._read_relations(answer) if r.id == wanted), None)

    def _numbers_flow(self, wanted: frozenset[str]) -> Flow[dict[str, Relation]]:
        """The relations with these (checked) numbers, from one listing; models only for them.

        DF documents no filter on ``klanten``: the numbers are looked up in the
        full list. A number listed twice gives its first relation.
        """
        index = yield from self._index_flow(())
        found = {}
        for entry in index.values():
            if entry.number in wanted and entry.number not in found:
                found[entry.number] = index.relation(entry.id)
        return found

    def _by_number_flow(self, number: int | str) -> Flow[Relation | None]:
        wanted = _key(number, "number", NUMBER_LENGTH)
        found = yield from self._numbers_flow(frozenset({wanted}))
        return found.get(wanted)

    def _create_flow(self, relation: Relation) -> Flow[Relation]:
        relation = _revalidated(relation)
        if relation.id:
            raise ValidationError("id", relation.id, "a relation to create has no ID yet")
        number = relation.number
        if not number:
            raise ValidationError(
                "number", number, "a relation needs a number: it finds a lost create"
            )
        call = _Call("POST", "klant_aanmaken", xml=self._relation_xml(relation), read=False)
        answer, trouble = yield from _attempt(call)
        if isinstance(trouble, TransportError):
            # Lost on the way: DF may have created it. Look before sending it again.
            found = yield from self._by_number_flow(number)
            if found is not None:
                logger.info("a lost klant_aanmaken had created the relation; not sent again")
                return found
            answer, trouble = yield from _attempt(call)
        if answer is not None:
            new_id, trouble = self._written_or_error(answer, call.action)
            if new_id is not None:
                return relation.model_copy(update={"id": new_id})
        # Lost or unreadable: whether DF created it is unknown. Look it up; never create again.
        found = yield from self._by_number_flow(number)
        if found is not None:
            logger.info("an unanswered klant_aanmaken had created the relation")
            return found
        if trouble is None:  # pragma: no cover (no ID comes with an error)
            raise AssertionError("a create without an ID and without an error")
        if isinstance(trouble, APIError):
            trouble.context["looked_up"] = "DF's list does not hold the number: not created"
        raise trouble

    def _written_or_error(
        self, answer: Answer, action: str
    ) -> tuple[str | None, MalformedResponseError | None]:
        try:
            return self._written_id(answer, action), None
        except MalformedResponseError as unreadable:
            return None, unreadable

    def _relation_xml(self, relation: Relation, *, unmapped: bool = False) -> str:
        elements = relation.to_elements(self.relation_fields)
        if unmapped:
            elements += self._unmapped(relation)
        return build(self.relation_fields.record, elements)

    def _unmapped(self, relation: Relation) -> list[tuple[str, str]]:
        """The elements read that the table does not map (`Relation.unknown`), to send back.

        Remote quirk: ``klant_updaten`` is taken to replace the whole record
        (omitted elements cleared, as the sandbox does), so an update that left
        them out would wipe fields no mapping covers. Only XML names are sent.
        """
        mapped = {"id", self._id, *(spec.element for spec in self.relation_fields)}
        elements = []
        for name, value in relation.unknown.items():
            if name in mapped:
                continue
            if not _XML_NAME.fullmatch(name):
                raise ValidationError("unknown", name, "is not an XML element name")
            elements.append((name, clean_text(value)))
        return elements

    def _update_flow(self, relation: Relation) -> Flow[None]:
        relation = _revalidated(relation)
        if not relation.id:
            raise ValidationError("id", relation.id, "updating needs the relation's DF ID")
        xml = self._relation_xml(relation, unmapped=True)
        call = _Call("POST", "klant_updaten", xml=xml, read=False)
        answer = yield call
        self._written_id(answer, call.action, expected=relation.id)

    def _update_fields_flow(
        self, relation_id: int | str, changes: Mapping[str, object], current: Relation | None
    ) -> Flow[Relation]:
        wanted = _key(relation_id, "relation_id", ID_LENGTH)
        changes = self._checked_changes(changes)
        if current is None:
            current = yield from self._relation_flow(wanted)
            if current is None:
                raise self._redact.scrub(
                    NotFoundError(f"DigitaleFactuur has no relation {wanted}", service=SERVICE)
                )
        elif not isinstance(current, Relation):
            raise ValidationError("current", type(current).__name__, "must be a Relation or None")
        elif current.id != wanted:
            raise ValidationError("current", current.id, f"is another relation than {wanted}")
        # DF replaces every element on klant_updaten: the current record, with only these changed.
        merged = Relation.model_validate({**current.model_dump(), **changes})
        table = self.relation_fields
        if merged.to_elements(table) == current.to_elements(table):
            return current  # nothing changes: nothing is written
        yield from self._update_flow(merged)
        return merged

    def _checked_changes(self, changes: Mapping[str, object]) -> dict[str, object]:
        """The changes by attribute; each one the table maps (never ``id`` or ``unknown``)."""
        if not isinstance(changes, Mapping):
            raise ValidationError(
                "changes", type(changes).__name__, "must map attributes to values"
            )
        known = [spec.attribute for spec in self.relation_fields]
        for name in changes:
            if name not in known:
                raise ValidationError(
                    name,
                    changes[name],
                    f"is not a mapped relation attribute; known: {', '.join(known)}",
                )
        return dict(changes)

    def _upsert_flow(self, relation: Relation) -> Flow[Relation]:
        relation = _revalidated(relation)
        if not relation.number:
            raise ValidationError("number", relation.number, "upserting goes by relation number")
        existing = yield from self._by_number_flow(relation.number)
        if existing is None:
            return (yield from self._create_flow(relation.model_copy(update={"id": None})))
        # The mapped fields are the caller's; elements no table maps stay as DF holds them.
        unknown = {**existing.unknown, **relation.unknown}
        updated = relation.model_copy(update={"id": existing.id, "unknown": unknown})
        yield from self._update_flow(updated)
        return updated

    def _delete_flow(self, relation_id: int | str) -> Flow[None]:
        wanted = _key(relation_id, "relation_id", ID_LENGTH)
        call = _Call("GET", "klant_verwijderen", (("klanten_id", wanted),), read=False)
        answer = yield call
        self._written_id(answer, call.action, expected=wanted)

    def _raw_flow(self, relation_id: int | str | None) -> Flow[str]:
        wanted = None if relation_id is None else _key(relation_id, "relation_id", ID_LENGTH)
        params = (("klanten_id", wanted),) if wanted else (("page", "1"),)
        answer = yield _Call("GET", "klanten", params)
        ids = [r.elements[self._id] for r in self._read(answer, self._relations, "klanten")]
        wanted = wanted or next(iter(ids), None)
        root = parse(answer.body)  # checked by _read: well-formed, no DTD
        # "{*}": ElementTree puts a default namespace in front of every tag; expat's read did not.
        record = next(
            (
                element
                for element in (root, *root)
                if element.tag.rsplit("}", 1)[-1] == self._relations.record
                and element.findtext(f"{{*}}{self._id}", "").strip() == wanted
            ),
            None,
        )
        if record is None:
            raise self._redact.scrub(
                NotFoundError("DigitaleFactuur has no relation to show", service=SERVICE)
            )
        ET.indent(record)
        return ET.tostring(record, encoding="unicode")

    # -- invoices -----------------------------------------------------------------

    def _read_invoices(self, answer: Answer) -> list[Invoice]:
        return [
            self._built(answer, "facturen", functools.partial(self._invoice, r))
            for r in self._read(answer, self._invoices, "facturen")
        ]

    def _invoice(self, record: Record) -> Invoice:
        by_element = self.invoice_fields.by_element
        values: dict[str, object] = {"id": record.elements[self._id]}
        unknown: dict[str, str] = {}
        for element, text in record.elements.items():
            if element in by_element:
                values[by_element[element]] = text
            elif element != self._id:
                unknown[element] = text
        lines_by = LINE_FIELDS.by_element
        lines = [
            InvoiceLine.model_validate({lines_by[k]: v for k, v in line.items() if k in lines_by})
            for line in record.lines
        ]
        return Invoice.model_validate({**values, "unknown": unknown, "lines": lines})

    def _invoices_flow(
        self, status: PaymentStatus | str | None, number: int | str | None
    ) -> Flow[list[Invoice]]:
        params: list[tuple[str, str]] = []
        if status is not None:
            params.append(("betaalstatus", _status(status).value))
        if number is not None:
            params.append(("factuurnummer", _key(number, "number", NUMBER_LENGTH)))
        return (yield from self._pages("facturen", tuple(params), self._read_invoices))

    def _invoice_flow(self, invoice_id: int | str) -> Flow[Invoice | None]:
        wanted = _key(invoice_id, "invoice_id", ID_LENGTH)
        try:
            answer = yield _Call("GET", "facturen", (("facturen_id", wanted),))
        except NotFoundError:
            return None
        return next((i for i in self._read_invoices(answer) if i.id == wanted), None)

    def _payment_flow(
        self, invoice_id: int | str, date: dt.date | None, amount: Decimal | str | int | None
    ) -> Flow[None]:
        wanted = _key(invoice_id, "invoice_id", ID_LENGTH)
        if date is not None and not isinstance(date, dt.date):
            raise ValidationError("date", date, "must be a datetime.date")
        elements = [("id", wanted), ("datum", (date or dt.date.today()).isoformat())]
        if amount is not None:  # a part payment
            elements += [("deelbetaling", "1"), ("voldaan", f"{_payment(amount):.2f}")]
        call = _Call(
            "POST", "factuur_betaling_verwerken", xml=build("factuur", elements), read=False
        )
        answer = yield call
        self._paid_invoice(answer, call.action, wanted)

    def _undo_payment_flow(self, invoice_id: int | str) -> Flow[None]:
        wanted = _key(invoice_id, "invoice_id", ID_LENGTH)
        xml = build("factuur", [("id", wanted)])
        call = _Call("POST", "factuur_betaling_ongedaan_maken", xml=xml, read=False)
        answer = yield call
        self._paid_invoice(answer, call.action, wanted)

    def _paid_invoice(self, answer: Answer, action: str, invoice_id: str) -> None:
        """A payment's answer must be the invoice. Assumption: DF's is undocumented."""
        records = self._read(answer, self._invoices, action)
        if not any(r.elements[self._id] == invoice_id for r in records):
            raise self._malformed(answer, action, f"the answer does not hold invoice {invoice_id}")


def _attempt(call: _Call) -> Flow[tuple[Answer | None, CrmConnectError | None]]:
    """Send a write; a lost or unreadable answer is returned, not raised (it needs a look-up)."""
    try:
        return (yield call), None
    except ConnectError:
        raise  # never sent: nothing to look up
    except (TransportError, MalformedResponseError) as error:
        return None, error


def _setting(value: str | None, name: str) -> str:
    found = value or os.environ.get(f"CRMCONNECT_DIGITALEFACTUUR_{name}")
    what = name.lower().replace("_", " ")
    if not found:
        raise ConfigurationError(
            f"no DigitaleFactuur {what}: pass it or set CRMCONNECT_DIGITALEFACTUUR_{name}"
        )
    if (
        not isinstance(found, str)
        or "/" in found
        or not found.strip()
        or clean_text(found) != found
    ):
        raise ConfigurationError(f"the DigitaleFactuur {what} is malformed")
    return found


def _api_root(url: str, redact: Redactor) -> str:
    """The base URL: DF's API root, which ends in ``/api`` (``…/api/{account}/{code}/{action}``).

    A URL without a path (``https://administratie.digitalefactuur.nl``, a
    sandbox's root) gets ``/api``: the documented URL pattern puts it right
    after the host. Any other path must end in ``/api``; credentials never go in it.
    """
    url = url.strip().rstrip("/")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        reason = "is not an http(s) URL"
    elif parsed.query or parsed.fragment:
        reason = "has a query or fragment"
    elif not parsed.path.strip("/"):
        return f"{url}/api"
    elif parsed.path.endswith("/api"):
        return url
    else:
        reason = "does not end in /api (the account id and access code are separate settings)"
    raise ConfigurationError(
        f"base_url {redact(url)!r} {reason}: it is DigitaleFactuur's API root, e.g. {DEFAULT_URL}"
    )


def _key(value: object, field: str, length: int) -> str:
    """An ID or number for the wire: an int or its text, visible, at most ``length`` long."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(field, value, "must be a number or its text")
    if isinstance(value, int) and value < 0:
        raise ValidationError(field, value, "is negative")
    text = clean_text(str(value)).strip()
    if not text:
        raise ValidationError(field, value, "holds no visible character")
    if len(text) > length:
        raise ValidationError(field, value, f"is {len(text)} characters long; at most {length} fit")
    return text


def _numbers(numbers: Iterable[int | str]) -> frozenset[str]:
    """Relation numbers for the wire, each checked (a bare text or int is refused: not many)."""
    if isinstance(numbers, str | int | bytes) or not isinstance(numbers, Iterable):
        raise ValidationError("numbers", numbers, "must be a collection of relation numbers")
    return frozenset(_key(number, "numbers", NUMBER_LENGTH) for number in numbers)


def _status(value: PaymentStatus | str) -> PaymentStatus:
    try:
        return PaymentStatus(value)
    except ValueError:
        known = ", ".join(status.value for status in PaymentStatus)
        error = ValidationError("status", value, f"must be one of {known}")
    raise error


def _payment(value: Decimal | str | int) -> Decimal:
    try:
        amount = Decimal(value) if isinstance(value, Decimal | str | int) else None
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite() or not 0 < amount < MAX_PAYMENT:
        raise ValidationError(
            "amount", value, f"must be an amount above 0 and below {MAX_PAYMENT:,}"
        )
    return amount


class _Page(NamedTuple):
    """The relations of one listing page, as columns (cheap for ten thousand)."""

    ids: list[str]
    numbers: list[str | None]
    digests: list[str]
    sources: Sequence[bytes | Mapping[str, str]]


def _listed_numbers(texts: list[str | None]) -> list[str | None]:
    """`listed_number` of each text; C loops only where every text is a plain number."""
    present = [text for text in texts if text]
    if all(map(str.isprintable, present)) and max(map(len, present), default=0) <= NUMBER_LENGTH:
        return [text or None for text in texts]
    return [listed_number(text) for text in texts]


def _elements_digest(elements: Mapping[str, str]) -> str:
    """The digest of a record read exactly (a page that was not plain), over its texts."""
    text = "".join(f"{name}\x1f{value}\x1e" for name, value in elements.items())
    return xxhash.xxh3_128_hexdigest(text.encode())


def _revalidated(relation: Relation) -> Relation:
    """The relation checked again: ``model_copy(update=...)`` skips validation."""
    if not isinstance(relation, Relation):
        raise ValidationError("relation", type(relation).__name__, "must be a Relation")
    return Relation.model_validate(relation.model_dump())


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
        base_url: DF's API root, ending in ``/api`` (``..._URL``; default
            `DEFAULT_URL`), e.g. ``http://127.0.0.1:8125/api`` for a sandbox. A URL
            without a path gets ``/api`` added; any other path must end in it. The
            credentials are never part of it: the client adds them.
        timeout: Seconds per request.
        max_retries: Retries of reads after transport or server errors.
        rate_limit: Requests per second at most; ``None`` for no limit; or a
            `RateLimiter` shared with other clients (and processes).
        relation_fields: The element names of relations (see `RELATION_FIELDS`).
        invoice_fields: The element names of invoices (see `INVOICE_FIELDS`).
        answer_elements: The root elements of DF's answers (see `ANSWER_ELEMENTS`).
        max_pages: Hard cap on pages of one listing.
        max_answer_bytes: The largest answer read; a larger one is a
            `MalformedResponseError` (16 MiB by default).
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
        rate_limit: float | RateLimiter | None = DEFAULT_RATE_LIMIT,
        relation_fields: FieldTable = RELATION_FIELDS,
        invoice_fields: FieldTable = INVOICE_FIELDS,
        answer_elements: FieldTable = ANSWER_ELEMENTS,
        max_pages: int = MAX_PAGES,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
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
            answer_elements=answer_elements,
            max_pages=max_pages,
            max_answer_bytes=max_answer_bytes,
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
                outcome = self._send(call)
                # Thrown outside any except block: nothing is chained to what the flow raises.
                if isinstance(outcome, CrmConnectError):
                    call = flow.throw(outcome)
                else:
                    call = flow.send(outcome)
        except StopIteration as done:
            result: _T = done.value
            return result

    def _send(self, call: _Call) -> Answer | CrmConnectError:
        """The answer to a call, or the error it met (handed to the flow, not raised)."""
        content, headers = self._form(call)
        try:
            response = self._http.request(
                call.method,
                self._path(call),
                content=content,
                headers=headers,
                idempotent=call.read,
            )
        except UnknownRouteError as unknown:
            return self._wrong_url(unknown, call.action)
        except CrmConnectError as error:
            return error
        return self._answer(response)

    def relations(self) -> list[Relation]:
        """Every relation (``klanten``), over all pages."""
        return self._run(self._relations_flow())

    def relations_snapshot(self) -> dict[str, str]:
        """``{DF id: fingerprint}`` of every relation, for change detection (no models built)."""
        return self._run(self._snapshot_flow())

    def relation(self, relation_id: int | str) -> Relation | None:
        """One relation by DF ID, or ``None``."""
        return self._run(self._relation_flow(relation_id))

    def relations_index(self, fields: Iterable[str] | None = None) -> RelationIndex:
        """Every relation as DF id, relation number and a fingerprint of ``fields`` only.

        One listing (``klanten``, every page), checked like any answer; no
        model built. ``index[id].fingerprint`` equals
        ``relation_fingerprint(relation, fields)`` for the relation as listed,
        so a sync engine compares what it wrote without reading it back.
        ``index.relation(id)`` builds the full relation from the same listing.

        Args:
            fields: The `Relation` attributes to fingerprint (the fields the
                caller owns); every mapped attribute when ``None`` (the
                `relations_snapshot` fingerprint).

        Raises:
            ValidationError: ``fields`` names an attribute the table does not map.
        """
        return self._run(self._index_flow(fields))

    def relation_by_number(self, number: int | str) -> Relation | None:
        """The relation with this relation number, or ``None``.

        Reads the whole list (DF has no filter): for many numbers use
        `relations_by_number`, or `relations_index` and its ``by_number()``.
        """
        return self._run(self._by_number_flow(number))

    def relations_by_number(self, numbers: Iterable[int | str]) -> dict[str, Relation]:
        """``{number: relation}`` for those of ``numbers`` DF holds, from one listing.

        A number DF does not hold is absent; one listed twice gives its first relation.

        Raises:
            ValidationError: A number that is not a relation number (named).
        """
        return self._run(self._numbers_flow(_numbers(numbers)))

    def create_relation(self, relation: Relation) -> Relation:
        """Create a relation (``klant_aanmaken``); returns it with its new DF ID.

        Never repeated blindly: when the answer is lost, the relation number
        is looked up first, and the create is sent again only when it is not there.

        Raises:
            ValidationError: The relation has an ID already, or no number.
        """
        return self._run(self._create_flow(relation))

    def update_relation(self, relation: Relation) -> None:
        """Replace a relation (``klant_updaten``) with this one.

        Every mapped element is sent, and the elements read that the table does
        not map (``relation.unknown``): DF is taken to replace the whole record,
        so a field left ``None`` here is cleared there. To change some fields
        only, use `update_relation_fields`.

        Raises:
            ValidationError: The relation has no DF ID.
        """
        self._run(self._update_flow(relation))

    def update_relation_fields(
        self,
        relation_id: int | str,
        changes: Mapping[str, object],
        current: Relation | None = None,
    ) -> Relation:
        """Change only some fields of a relation: read-modify-write, never wiping the others.

        DF replaces every element on ``klant_updaten``, so the current record is
        written back with only ``changes`` applied. ``current`` is that record as
        last read (e.g. ``index.relation(id)`` of a `relations_index` read this
        run, saving a call); when ``None`` it is read now. A change made at DF
        after ``current`` was read is overwritten: read it shortly before.
        Not retried (a write).

        Args:
            relation_id: The relation's DF ID.
            changes: Attribute → new value; ``None`` clears the field.
            current: The relation as DF holds it now, or ``None`` to read it.

        Returns:
            The relation as written (``current`` itself, unwritten, when the
            changes change nothing): fingerprint it to store what DF now holds.

        Raises:
            ValidationError: An attribute the table does not map, a value the
                model refuses (named), or a ``current`` of another relation.
            NotFoundError: DF holds no relation with this ID.
        """
        return self._run(self._update_fields_flow(relation_id, changes, current))

    def upsert_relation(self, relation: Relation) -> Relation:
        """Create or update by relation number; returns the relation with its DF ID.

        An update replaces every mapped field with the relation's (``None``
        clears); elements the table does not map keep what DF holds. Each call
        reads the whole list to find the number: for many relations read
        `relations_index` once, then `create_relation` or `update_relation_fields`.
        """
        return self._run(self._upsert_flow(relation))

    def delete_relation(self, relation_id: int | str) -> None:
        """Delete a relation (``klant_verwijderen``). Not retried."""
        self._run(self._delete_flow(relation_id))

    def raw_relation_xml(self, relation_id: int | str | None = None) -> str:
        """The XML of one relation as DF sends it (the first one when no ID is given).

        For checking the assumed element names against a live account.
        """
        return self._run(self._raw_flow(relation_id))

    def invoices(
        self, *, status: PaymentStatus | str | None = None, number: int | str | None = None
    ) -> list[Invoice]:
        """Invoices (``facturen``), over all pages, by payment status or invoice number."""
        return self._run(self._invoices_flow(status, number))

    def invoice(self, invoice_id: int | str) -> Invoice | None:
        """One invoice by DF ID, or ``None``."""
        return self._run(self._invoice_flow(invoice_id))

    def record_payment(
        self,
        invoice_id: int | str,
        *,
        date: dt.date | None = None,
        amount: Decimal | str | int | None = None,
    ) -> None:
        """Register a payment (``factuur_betaling_verwerken``): in full, or ``amount`` of it.

        Not retried: when the answer is lost, read the invoice before paying again.
        """
        self._run(self._payment_flow(invoice_id, date, amount))

    def undo_payment(self, invoice_id: int | str) -> None:
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
        rate_limit: float | RateLimiter | None = DEFAULT_RATE_LIMIT,
        relation_fields: FieldTable = RELATION_FIELDS,
        invoice_fields: FieldTable = INVOICE_FIELDS,
        answer_elements: FieldTable = ANSWER_ELEMENTS,
        max_pages: int = MAX_PAGES,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
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
            answer_elements=answer_elements,
            max_pages=max_pages,
            max_answer_bytes=max_answer_bytes,
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
                outcome = await self._send(call)
                if isinstance(outcome, CrmConnectError):
                    call = flow.throw(outcome)
                else:
                    call = flow.send(outcome)
        except StopIteration as done:
            result: _T = done.value
            return result

    async def _send(self, call: _Call) -> Answer | CrmConnectError:
        """The answer to a call, or the error it met (handed to the flow, not raised)."""
        content, headers = self._form(call)
        try:
            response = await self._http.request(
                call.method,
                self._path(call),
                content=content,
                headers=headers,
                idempotent=call.read,
            )
        except UnknownRouteError as unknown:
            return self._wrong_url(unknown, call.action)
        except CrmConnectError as error:
            return error
        return self._answer(response)

    async def relations(self) -> list[Relation]:
        """Every relation (see `DigitaleFactuurClient.relations`)."""
        return await self._run(self._relations_flow())

    async def relations_snapshot(self) -> dict[str, str]:
        """``{DF id: fingerprint}`` of every relation."""
        return await self._run(self._snapshot_flow())

    async def relation(self, relation_id: int | str) -> Relation | None:
        """One relation by DF ID, or ``None``."""
        return await self._run(self._relation_flow(relation_id))

    async def relations_index(self, fields: Iterable[str] | None = None) -> RelationIndex:
        """DF id, number and fingerprint of ``fields`` per relation (see the sync client)."""
        return await self._run(self._index_flow(fields))

    async def relation_by_number(self, number: int | str) -> Relation | None:
        """The relation with this relation number, or ``None`` (reads the list)."""
        return await self._run(self._by_number_flow(number))

    async def relations_by_number(self, numbers: Iterable[int | str]) -> dict[str, Relation]:
        """``{number: relation}`` for those of ``numbers`` DF holds, from one listing."""
        return await self._run(self._numbers_flow(_numbers(numbers)))

    async def create_relation(self, relation: Relation) -> Relation:
        """Create a relation, never twice (see `DigitaleFactuurClient.create_relation`)."""
        return await self._run(self._create_flow(relation))

    async def update_relation(self, relation: Relation) -> None:
        """Replace a relation with this one (see `DigitaleFactuurClient.update_relation`)."""
        await self._run(self._update_flow(relation))

    async def update_relation_fields(
        self,
        relation_id: int | str,
        changes: Mapping[str, object],
        current: Relation | None = None,
    ) -> Relation:
        """Change only some fields, read-modify-write (see `DigitaleFactuurClient`)."""
        return await self._run(self._update_fields_flow(relation_id, changes, current))

    async def upsert_relation(self, relation: Relation) -> Relation:
        """Create or update by relation number."""
        return await self._run(self._upsert_flow(relation))

    async def delete_relation(self, relation_id: int | str) -> None:
        """Delete a relation. Not retried."""
        await self._run(self._delete_flow(relation_id))

    async def raw_relation_xml(self, relation_id: int | str | None = None) -> str:
        """The XML of one relation as DF sends it."""
        return await self._run(self._raw_flow(relation_id))

    async def invoices(
        self, *, status: PaymentStatus | str | None = None, number: int | str | None = None
    ) -> list[Invoice]:
        """Invoices, over all pages, by payment status or invoice number."""
        return await self._run(self._invoices_flow(status, number))

    async def invoice(self, invoice_id: int | str) -> Invoice | None:
        """One invoice by DF ID, or ``None``."""
        return await self._run(self._invoice_flow(invoice_id))

    async def record_payment(
        self,
        invoice_id: int | str,
        *,
        date: dt.date | None = None,
        amount: Decimal | str | int | None = None,
    ) -> None:
        """Register a payment, in full or ``amount`` of it. Not retried."""
        await self._run(self._payment_flow(invoice_id, date, amount))

    async def undo_payment(self, invoice_id: int | str) -> None:
        """Undo the payments of an invoice."""
        await self._run(self._undo_payment_flow(invoice_id))
