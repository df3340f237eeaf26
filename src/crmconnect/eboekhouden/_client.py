"""`EBoekhoudenClient`: e-Boekhouden's SOAP API through zeep.

One session per client: opened on the first call, reused for every call,
closed by `close()` or on leaving the ``with`` block, and reopened once
automatically when the service says the session expired.

The WSDL is the package's own (``wsdl/soap.wsdl``, written from the
documented API); nothing is fetched at import or construction time.
Reads are retried with the shared policy; writes never are, so an unsure
write is checked before it is repeated (see `book_invoice`).

Every answer yields a result or a typed `crmconnect.errors` exception: the
body is read up to ``max_answer_bytes`` within the timeout, and whatever zeep
cannot read (HTML or cut-off XML with HTTP 200, a wrong envelope, a result
without its required elements) is a `MalformedResponseError` with the status
and a masked excerpt. No error chains zeep's (whose fault holds the request,
codes included), and the username is masked like the codes.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import requests
import tenacity
import urllib3.exceptions
import urllib3.response
import zeep
import zeep.exceptions
import zeep.helpers

from .._answers import DEFAULT_MAX_ANSWER_BYTES, Answer, excerpt
from .._model import clean_text
from .._redact import Redactor, mask_secret, protect_library_logs
from .._retry import RetryPolicy
from ..errors import (
    APIError,
    ConfigurationError,
    ConnectError,
    CrmConnectError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from ..models import Invoice
from ._books import INVOICE_KINDS, BooksClient
from ._bulk import MUTATION_CAP, InvoiceLookup, lookup_by_date_windows
from ._errors import error_from_result, is_session_error
from ._models import (
    Administration,
    Balance,
    CostCentre,
    Ledger,
    Mutation,
    OpenItem,
    OpenItemKind,
    Relation,
)

__all__ = ["DEFAULT_URL", "EBoekhoudenClient"]

_EARLIEST = dt.date(1900, 1, 1)
_LATEST = dt.date(2200, 1, 1)
"""GetMutaties requires both dates; these mean "no date filter" (as peers send)."""


DEFAULT_URL = "https://soap.e-boekhouden.nl/soap.asmx"
_NAMESPACE = "http://www.e-boekhouden.nl/soap"
_BINDING = f"{{{_NAMESPACE}}}soapAppSoap"
_SERVICE = "eboekhouden"
_PIECE = 64 * 1024

logger = logging.getLogger("crmconnect.eboekhouden")


def _wsdl_path() -> str:
    return str(importlib.resources.files("crmconnect.eboekhouden") / "wsdl" / "soap.wsdl")


_SESSION_ELEMENT = re.compile(r"(<(?:\w+:)?SessionID>)[^<]*(</(?:\w+:)?SessionID>)")
"""A session ID in a logged SOAP body (a credential while the session lasts)."""

_ZEEP_LOGGERS = ("zeep", "zeep.transports", "zeep.wsdl.bindings.soap")
"""zeep logs whole SOAP bodies (username and codes included) at DEBUG on these loggers."""


class _CappedTransport(zeep.Transport):
    """zeep's transport, reading an answer up to ``max_answer_bytes`` within the timeout.

    zeep reads whole bodies (``response.content``) however large or slow; this
    one streams, refuses a body larger than the cap (declared or counted) and
    one still arriving after the timeout, and keeps the last answer of the
    calling thread for the excerpt of an error.
    """

    def __init__(
        self, session: requests.Session, timeout: float, max_answer_bytes: int, redact: Redactor
    ) -> None:
        super().__init__(session=session, timeout=timeout, operation_timeout=timeout)
        self.max_answer_bytes = max_answer_bytes
        self.redact = redact
        self._local = threading.local()

    @property
    def last_answer(self) -> Answer | None:
        """The answer of the calling thread's last call, if one arrived."""
        answer: Answer | None = getattr(self._local, "answer", None)
        return answer

    def forget(self) -> None:
        """Forget the last answer (before a new call)."""
        self._local.answer = None

    def post(self, address: str, message: bytes | str, headers: Mapping[str, str]) -> Any:
        """Post a SOAP request and read the answer with the cap (zeep's hook)."""
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("HTTP Post to %s:\n%s", address, self._masked(message))
        started = time.monotonic()
        response = self.session.post(
            address, data=message, headers=headers, timeout=self.operation_timeout, stream=True
        )
        try:
            body = self._read(response, started)
        finally:
            response.close()
        response._content = body  # what requests' own read stores
        response._content_consumed = True
        self._local.answer = Answer(_SERVICE, response.status_code, body, self.redact)
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(
                "HTTP Response from %s (status: %d):\n%s",
                address,
                response.status_code,
                self._masked(body),
            )
        return response

    def _masked(self, body: bytes | str, length: int = 10_000) -> str:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        # OpenSession's answer carries a session ID the redactor does not know yet.
        text = _SESSION_ELEMENT.sub(r"\1***\2", text[: length * 2])
        return self.redact(text)[:length]

    def _read(self, response: requests.Response, started: float) -> bytes:
        answer = Answer(_SERVICE, response.status_code, b"", self.redact)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_answer_bytes:
            answer.fail(f"the body is larger than max_answer_bytes ({self.max_answer_bytes:,})")
        chunks, size = [], 0
        for chunk in self._pieces(response.raw):
            size += len(chunk)
            if size > self.max_answer_bytes:
                answer.fail(f"the body is larger than max_answer_bytes ({self.max_answer_bytes:,})")
            if self._too_late(started):
                raise TimeoutError(
                    f"e-Boekhouden: the answer was still arriving after {self.operation_timeout} s",
                    service=_SERVICE,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _pieces(self, raw: Any) -> Iterator[bytes]:
        """The body as it arrives: what is there now, never waiting for a full chunk.

        urllib3's ``read(amt)`` waits for ``amt`` bytes, so a trickling server
        would pass the deadline unnoticed; ``read1`` returns what has come.
        """
        try:
            while True:
                if isinstance(raw, urllib3.response.BaseHTTPResponse):
                    piece = raw.read1(_PIECE, decode_content=True)
                else:  # an adapter's own body (a sandbox, a test)
                    piece = raw.read(_PIECE)
                if not piece:
                    return
                yield piece
        except urllib3.exceptions.ReadTimeoutError as exc:
            error: TransportError = TimeoutError(self._broke_off(exc), service=_SERVICE)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = TransportError(self._broke_off(exc), service=_SERVICE)
        raise error  # outside the except: urllib3's error is not chained

    def _broke_off(self, exc: Exception) -> str:
        return self.redact(f"e-Boekhouden: the answer broke off: {type(exc).__name__}: {exc}")

    def _too_late(self, started: float) -> bool:
        # requests' timeout bounds each socket read, not the whole body: a server
        # sending a byte now and then would hold the call for ever.
        timeout = self.operation_timeout
        return bool(timeout) and time.monotonic() - started > timeout


class _ShapeCheck(zeep.Plugin):
    """Checks an answer's elements before zeep reads it (zeep's ingress hook).

    zeep reads a missing ``<Operation>Result`` as ``None`` and an absent
    ``ErrorMsg`` like an empty one, so an answer that is not one would pass as
    "no relations" or "not booked". Every e-Boekhouden result holds
    ``ErrorMsg`` (empty on success); UpdateRelatie's result is a bare
    ``cError`` and CloseSession's answer is empty. Faults are left to zeep.
    """

    def __init__(self, transport: _CappedTransport) -> None:
        self.transport = transport

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> None:
        """Fail unless the body holds ``<Operation>Response/<Operation>Result/ErrorMsg``."""
        body = envelope.find(f"{{{envelope.nsmap.get(envelope.prefix)}}}Body")
        children = [child for child in (body if body is not None else ()) if _is_element(child)]
        if any(_local(child.tag) == "Fault" for child in children):
            return
        name = operation.name
        if not children or children[0].tag != f"{{{_NAMESPACE}}}{name}Response":
            self._fail(f"the SOAP body holds no {name}Response")
        if name == "CloseSession":
            return
        result = children[0].find(f"{{{_NAMESPACE}}}{name}Result")
        if result is None:
            self._fail(f"{name}Response has no {name}Result")
        if name != "UpdateRelatie" and result.find(f"{{{_NAMESPACE}}}ErrorMsg") is None:
            self._fail(f"{name}Result has no ErrorMsg")

    def _fail(self, reason: str) -> None:
        answer = self.transport.last_answer
        if answer is None:  # pragma: no cover - zeep reads only what the transport posted
            raise AssertionError(reason)
        answer.fail(reason)


def _is_element(node: Any) -> bool:
    return isinstance(node.tag, str)  # not a comment or processing instruction


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class EBoekhoudenClient(BooksClient):
    """Client for e-Boekhouden's SOAP API.

    Args:
        username: The login name. Falls back to ``CRMCONNECT_EBOEKHOUDEN_USERNAME``.
            It identifies the account: masked like the codes in reprs, logs and errors.
        security_code_1: Security code 1 (``..._SECURITY_CODE_1``).
        security_code_2: Security code 2 (``..._SECURITY_CODE_2``).
        source: A short name of the connecting application (max 10 characters).
        administration_guid: For accountants: open this administration
            (`OpenSessionSub`), from `administrations`.
        base_url: The service address, e.g. a sandbox on loopback
            (``CRMCONNECT_EBOEKHOUDEN_URL``; `DEFAULT_URL` when neither is set).
        timeout: Seconds per request, reading the answer included.
        max_retries: Retries of reads after transport or server errors.
        session: A `requests.Session` for zeep to use (borrowed, never closed here).
        debtors_ledger: The debtors ledger (category DEB) for sales invoices.
        creditors_ledger: The creditors ledger (category CRED) for purchase invoices.
        max_answer_bytes: The largest answer read; a larger one is a
            `MalformedResponseError` (16 MiB by default).
        url: Deprecated: the old name of ``base_url``.

    Example:
        ```python
        with EBoekhoudenClient("user", "code1", "code2") as books:
            relation = books.relation_by_code("1001")
        ```
    """

    def __init__(
        self,
        username: str | None = None,
        security_code_1: str | None = None,
        security_code_2: str | None = None,
        *,
        source: str = "crmconnect",
        administration_guid: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        session: requests.Session | None = None,
        debtors_ledger: str = "1300",
        creditors_ledger: str = "1600",
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        url: str | None = None,
    ) -> None:
        self._username = _setting(username, "USERNAME")
        self._code1 = _setting(security_code_1, "SECURITY_CODE_1")
        self._code2 = _setting(security_code_2, "SECURITY_CODE_2")
        if len(source) > 10:
            raise ConfigurationError(f"source must be at most 10 characters, got {source!r}")
        if max_answer_bytes < 1:
            raise ConfigurationError(f"max_answer_bytes must be positive, got {max_answer_bytes}")
        self.source = source
        self.administration_guid = administration_guid
        # Codes of e-Boekhouden's default chart; check them with `ledgers()`.
        self.debtors_ledger = debtors_ledger
        self.creditors_ledger = creditors_ledger
        self.mutation_cap = MUTATION_CAP
        """The most mutations GetMutaties returns; bulk look-ups split at it."""
        self.base_url = _base_url(base_url, url)
        secrets = [self._code1, self._code2, self._username]
        self._redact = Redactor(secrets)
        protect_library_logs(secrets, _ZEEP_LOGGERS)
        self._retry = RetryPolicy(max_attempts=max(1, max_retries + 1))
        self._owns_session = session is None
        self._http = session or requests.Session()
        self._transport = _CappedTransport(self._http, timeout, max_answer_bytes, self._redact)
        settings = zeep.Settings(strict=True, forbid_dtd=True)
        client = zeep.Client(
            _wsdl_path(),
            transport=self._transport,
            settings=settings,
            plugins=[_ShapeCheck(self._transport)],
        )
        self._service = client.create_service(_BINDING, self.base_url)
        self._session_id: str | None = None
        self._lock = threading.RLock()
        self._closed = False

    @property
    def url(self) -> str:
        """Deprecated: the service address; use `base_url`."""
        return self.base_url

    def __repr__(self) -> str:
        return (
            f"EBoekhoudenClient(username={mask_secret(self._username)!r}, "
            f"base_url={self.base_url!r}, "
            f"security_code_1={mask_secret(self._code1)!r}, "
            f"security_code_2={mask_secret(self._code2)!r})"
        )

    # -- session ----------------------------------------------------------------------

    @property
    def session_open(self) -> bool:
        """Whether a session is open now."""
        return self._session_id is not None

    def _open(self) -> str:
        credentials = {
            "Username": self._username,
            "SecurityCode1": self._code1,
            "SecurityCode2": self._code2,
            "Source": self.source,
        }
        if self.administration_guid:
            operation = "OpenSessionSub"
            result = self._send(
                operation, AdministratieGUID=self.administration_guid, **credentials
            )
        else:
            operation = "OpenSession"
            result = self._send(operation, **credentials)
        self._check(result, operation)
        self._session_id = str(self._field(result, "SessionID", operation))
        self._redact.add(self._session_id)  # a session is a credential while it lasts: never logged
        logger.info("e-Boekhouden session opened")
        return self._session_id

    def close(self) -> None:
        """Close the session (if one is open) and the HTTP session created here."""
        with self._lock:
            if self._session_id is not None:
                try:
                    self._send("CloseSession", SessionID=self._session_id)
                except CrmConnectError as exc:  # closing is best effort
                    logger.warning("closing the e-Boekhouden session failed: %s", exc)
                self._session_id = None
            if self._owns_session and not self._closed:
                self._http.close()
            self._closed = True

    # -- calls ------------------------------------------------------------------------

    def _send(self, operation: str, **arguments: Any) -> dict[str, Any]:
        """One SOAP call: its result, or a typed error with secrets masked and nothing chained."""
        self._transport.forget()
        try:
            raw = getattr(self._service, operation)(**arguments)
            result = zeep.helpers.serialize_object(raw, dict)
        except Exception as exc:  # every failure of zeep, requests and lxml is mapped here
            error = self._error_of(operation, exc)
        else:
            return self._result(operation, result)
        raise self._redact.scrub(error)  # outside the except: zeep's fault is not chained

    def _result(self, operation: str, result: Any) -> dict[str, Any]:
        """The ``<Operation>Result`` as a mapping (its elements were checked by `_ShapeCheck`)."""
        if operation == "CloseSession":
            return {}
        if not isinstance(result, dict):
            self._answer().fail(f"the answer has no {operation}Result")
        return result

    def _answer(self) -> Answer:
        return self._transport.last_answer or Answer(_SERVICE, None, b"", self._redact)

    def _field(self, result: Mapping[str, Any], name: str, operation: str) -> Any:
        return self._answer().field(result, name, f"{operation}Result")

    def _number(self, result: Mapping[str, Any], name: str, operation: str) -> int:
        value = self._field(result, name, operation)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self._answer().fail(f"{operation}Result.{name} is not a positive number: {value!r}")
        return int(value)

    def _error_of(self, operation: str, exc: Exception) -> CrmConnectError:
        """The typed error for a failed call (or re-raise what is a bug of ours)."""
        answer = self._transport.last_answer
        if isinstance(exc, CrmConnectError):
            return exc
        if isinstance(exc, requests.exceptions.RequestException):
            return self._transport_error(operation, exc)
        if isinstance(exc, zeep.exceptions.Fault):
            return self._fault(operation, exc, answer)
        if answer is None:  # nothing came back: the request could not be built
            # zeep refuses a missing required element, lxml a text XML cannot hold.
            if isinstance(exc, zeep.exceptions.ValidationError | ValueError):
                return ValidationError(operation, None, self._redact(str(exc)))
            raise exc
        if isinstance(exc, zeep.exceptions.TransportError) and answer.status not in (200, None):
            return _server_error(operation, answer)
        # What zeep could not read: HTML, cut-off XML, a wrong envelope or element.
        return answer.malformed(f"{operation}: {type(exc).__name__}: {_short(exc)}")

    def _fault(
        self, operation: str, fault: zeep.exceptions.Fault, answer: Answer | None
    ) -> APIError:
        if fault.code is None and answer is not None and answer.status is not None:
            if answer.status >= 500 or answer.status == 429:
                return _server_error(operation, answer)
            # zeep's "Unknown fault occured": an error status whose body is no SOAP fault.
            return answer.malformed(f"{operation}: HTTP {answer.status} without a SOAP fault")
        # ASP.NET answers an internal failure with HTTP 500 and a soap:Server fault.
        kind = ServerError if "server" in str(fault.code or "").casefold() else APIError
        return kind(
            self._redact(f"e-Boekhouden {operation}: SOAP fault {fault.code}: {fault.message}"),
            service=_SERVICE,
            code=str(fault.code) if fault.code else None,
            remote_message=self._redact(str(fault.message or "")),
            status_code=answer.status if answer else None,
        )

    def _transport_error(self, operation: str, exc: Exception) -> TransportError:
        message = self._redact(f"e-Boekhouden {operation}: {type(exc).__name__}: {exc}")
        if isinstance(exc, requests.exceptions.ConnectTimeout) or _not_sent(exc):
            return ConnectError(message, service=_SERVICE)  # never sent
        if isinstance(exc, requests.exceptions.Timeout):
            return TimeoutError(message, service=_SERVICE)
        return TransportError(message, service=_SERVICE)

    def _check(self, result: Mapping[str, Any], operation: str) -> None:
        error = error_from_result(result, operation=operation, redact=self._redact)
        if error is not None:
            raise self._redact.scrub(error)

    def _call(self, operation: str, *, write: bool = False, **arguments: Any) -> dict[str, Any]:
        """Call with the session; reopen it once when it expired; retry reads only."""
        if self._closed:
            raise RuntimeError("the e-Boekhouden client is closed")
        if write:
            return self._with_session(operation, arguments)
        for attempt in tenacity.Retrying(**self._retry.tenacity_kwargs()):
            with attempt:
                return self._with_session(operation, arguments)
        raise AssertionError("unreachable: tenacity re-raises")  # pragma: no cover

    def _with_session(self, operation: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            for reopened in (False, True):
                session_id = self._session_id or self._open()
                result = self._send(
                    operation, SessionID=session_id, SecurityCode2=self._code2, **arguments
                )
                error = error_from_result(result, operation=operation, redact=self._redact)
                if error is None:
                    return result
                if reopened or not is_session_error(error):
                    raise self._redact.scrub(error)
                # The service forgot the session: nothing was done, so one reopen is safe.
                logger.info("e-Boekhouden session expired; reopening once")
                self._session_id = None
        raise AssertionError("unreachable")  # pragma: no cover

    def _items(
        self, result: Mapping[str, Any], wrapper: str, element: str, model: type[Any]
    ) -> list[Any]:
        answer = self._answer()
        return [answer.model(model, item) for item in _items(result, wrapper, element)]

    # -- relations --------------------------------------------------------------------

    def add_relation(self, relation: Relation) -> int:
        """Add a relation; returns its new ID. Not retried (see `upsert_relation`).

        Raises:
            ConflictError: The code is taken (as far as the service's text says so).
        """
        result = self._call(
            "AddRelatie", write=True, oRel=relation.model_copy(update={"id": 0}).to_wire()
        )
        return self._number(result, "Rel_ID", "AddRelatie")

    def update_relation(self, relation: Relation) -> None:
        """Replace a relation (all fields: read, modify, write).

        A field left ``None`` is left out of the ``cRelatie``; whether
        UpdateRelatie then blanks or keeps it is unverified (eboekhouden.md
        §5), so set ``""`` to clear one: it is sent as an empty element.

        Raises:
            ValidationError: The relation has no ID (take it from `relation_by_code`).
        """
        if not relation.id:
            raise ValidationError("id", relation.id, "updating needs the relation's ID")
        self._call("UpdateRelatie", write=True, oRel=relation.to_wire())

    def relations(
        self, *, code: str | None = None, keyword: str | None = None, id: int = 0
    ) -> list[Relation]:
        """Find relations by code, keyword (code, name, city, contact, e-mail) or ID."""
        filter_ = {"Trefwoord": _clean(keyword), "Code": _clean(code), "ID": id}
        result = self._call(
            "GetRelaties", cFilter={k: v for k, v in filter_.items() if v is not None}
        )
        return self._items(result, "Relaties", "cRelatie", Relation)

    # -- bookings and payments --------------------------------------------------------

    def _add_mutation(self, mutation: Mutation) -> int:
        result = self._call("AddMutatie", write=True, oMut=mutation.to_wire())
        return self._number(result, "Mutatienummer", "AddMutatie")

    def mutations(
        self,
        *,
        invoice_number: str | None = None,
        number: int = 0,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> list[Mutation]:
        """Bookings (GetMutaties), filtered by invoice number or mutation number.

        The service returns at most the last 500 mutations and allows 5,000 calls
        a month: filter narrowly, never use it for bulk history.
        """
        return self._get_mutations(
            MutatieNr=number,
            Factuurnummer=_clean(invoice_number),
            DatumVan=date_from or _EARLIEST,
            DatumTm=date_to or _LATEST,
        )

    def mutations_numbered(self, first: int, last: int) -> list[Mutation]:
        """Mutations numbered ``first`` to ``last`` (GetMutaties' MutatieNrVan/MutatieNrTm)."""
        return self._get_mutations(
            MutatieNr=0, MutatieNrVan=first, MutatieNrTm=last, DatumVan=_EARLIEST, DatumTm=_LATEST
        )

    def _get_mutations(self, **filter_: Any) -> list[Mutation]:
        result = self._call(
            "GetMutaties", cFilter={k: v for k, v in filter_.items() if v is not None}
        )
        return self._items(result, "Mutaties", "cMutatieList", Mutation)

    def invoice_bookings(self, invoice_number: str) -> list[Mutation]:
        """The invoice bookings (sales or purchase) with this number (one GetMutaties)."""
        return [
            m
            for m in self.mutations(invoice_number=invoice_number)
            if m.kind in INVOICE_KINDS and m.invoice_number == invoice_number
        ]

    def invoice_lookup(self, invoices: Sequence[Invoice]) -> InvoiceLookup:
        """GetMutaties over the invoices' dates, never reading a capped answer as complete.

        See `lookup_by_date_windows`: windows split at the cap of 500, one
        call per invoice where a single day holds 500 or more mutations, and
        invoices the service cannot show reported as unseen.
        """
        return lookup_by_date_windows(self, invoices)

    def booked_invoices(self, invoices: Sequence[Invoice]) -> set[tuple[str, str]]:
        """Pairs already booked (see `invoice_lookup`).

        Raises:
            SyncError: Some invoices could not be seen (e.g. the service shows
                only the last 500 mutations of the administration).
        """
        lookup = self.invoice_lookup(invoices)
        error = lookup.unseen_error()
        if error is not None:
            raise error
        return set(lookup.booked)

    # -- reads ------------------------------------------------------------------------

    def open_items(self, kind: OpenItemKind | str = OpenItemKind.DEBTORS) -> list[OpenItem]:
        """Open items of debtors or creditors (GetOpenPosten)."""
        result = self._call("GetOpenPosten", OpSoort=OpenItemKind(kind).value)
        return self._items(result, "Openposten", "cOpenPost", OpenItem)

    def ledgers(self, *, code: str | None = None, category: str | None = None) -> list[Ledger]:
        """Ledger accounts (GetGrootboekrekeningen)."""
        filter_ = {"ID": 0, "Code": _clean(code), "Categorie": _clean(category)}
        result = self._call(
            "GetGrootboekrekeningen", cFilter={k: v for k, v in filter_.items() if v is not None}
        )
        return self._items(result, "Rekeningen", "cGrootboekrekening", Ledger)

    def cost_centres(self) -> list[CostCentre]:
        """Cost centres (GetKostenplaatsen)."""
        result = self._call("GetKostenplaatsen", cFilter={})
        return self._items(result, "Kostenplaatsen", "cKostenplaats", CostCentre)

    def administrations(self) -> list[Administration]:
        """Administrations this login may open (for `administration_guid`)."""
        result = self._call("GetAdministraties")
        return self._items(result, "Administraties", "cAdministratie", Administration)

    def balances(self, *, category: str | None = None) -> list[Balance]:
        """Balances of all ledgers (GetSaldi)."""
        filter_ = {
            "KostenPlaatsId": 0,
            "DatumVan": None,
            "DatumTot": None,
            "Categorie": _clean(category),
        }
        result = self._call("GetSaldi", cFilter=filter_)
        return self._items(result, "Saldi", "cSaldo", Balance)


def _base_url(base_url: str | None, url: str | None) -> str:
    if url is not None:
        warnings.warn(
            "EBoekhoudenClient(url=...) is deprecated: use base_url=",
            DeprecationWarning,
            stacklevel=3,
        )
        if base_url is not None and base_url != url:
            raise ConfigurationError("give base_url or url (deprecated), not both")
    return base_url or url or os.environ.get("CRMCONNECT_EBOEKHOUDEN_URL") or DEFAULT_URL


def _clean(value: str | None) -> str | None:
    """A filter text without control or invisible characters (lxml refuses NUL)."""
    return clean_text(value) if value is not None else None


def _setting(value: str | None, name: str) -> str:
    found = value or os.environ.get(f"CRMCONNECT_EBOEKHOUDEN_{name}")
    if not found:
        raise ConfigurationError(
            f"no e-Boekhouden {name.lower().replace('_', ' ')}: pass it or set "
            f"CRMCONNECT_EBOEKHOUDEN_{name}"
        )
    return found


def _items(result: Mapping[str, Any], wrapper: str, element: str) -> list[Mapping[str, Any]]:
    # Lists come as ArrayOf<T> wrappers; when nothing matches the wrapper is absent or None.
    outer = result.get(wrapper) or {}
    inner = outer.get(element) if isinstance(outer, Mapping) else outer
    if inner is None:
        return []
    items = list(inner) if isinstance(inner, list) else [inner]
    # An xsi:nil list item comes back from zeep as a dict of Nones: skip it.
    return [i for i in items if isinstance(i, Mapping) and any(v is not None for v in i.values())]


def _short(exc: Exception, length: int = 200) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:length]


def _not_sent(exc: Exception) -> bool:
    text = str(exc)
    return "Connection refused" in text or "Failed to establish" in text


def _server_error(operation: str, answer: Answer) -> APIError:
    status = answer.status
    if status == 429:  # a limit per account, as the REST API has: retried like its 429
        return RateLimitError(
            f"e-Boekhouden {operation}: HTTP 429 (too many requests)",
            service=_SERVICE,
            status_code=status,
        )
    kind = ServerError if status is None or status >= 500 else APIError
    return kind(
        f"e-Boekhouden {operation}: HTTP {status}",
        service=_SERVICE,
        status_code=status,
        context={"body": excerpt(answer.body, answer.redact)} if answer.body else None,
    )
