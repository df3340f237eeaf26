"""`EBoekhoudenClient`: e-Boekhouden's SOAP API through zeep.

One session per client: opened on the first call, reused for every call,
closed by `close()` or on leaving the ``with`` block, and reopened once
automatically when the service says the session expired.

The WSDL is the package's own (``wsdl/soap.wsdl``, written from the
documented API); nothing is fetched at import or construction time.
Reads are retried with the shared policy; writes never are, so an unsure
write is checked before it is repeated (see `book_invoice`).
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

import attrs
import requests
import tenacity
import zeep
import zeep.exceptions
import zeep.helpers

from .._redact import Redactor, mask_secret
from .._retry import RetryPolicy
from ..errors import (
    APIError,
    ConfigurationError,
    ConnectError,
    NotFoundError,
    ServerError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from ..mapping import BookingLine, VatTable, vat_breakdown
from ..models import Invoice, InvoiceKind
from ._bulk import MUTATION_CAP, PushResult, push_invoices, push_relations
from ._errors import error_from_result, is_session_error
from ._models import (
    Administration,
    Balance,
    CostCentre,
    InExVat,
    Ledger,
    Mutation,
    MutationKind,
    MutationLine,
    OpenItem,
    OpenItemKind,
    Relation,
)

__all__ = ["DEFAULT_URL", "Booking", "EBoekhoudenClient", "PaymentState", "PaymentStatus"]

_EARLIEST = dt.date(1900, 1, 1)
_LATEST = dt.date(2200, 1, 1)
"""GetMutaties requires both dates; these mean "no date filter" (as peers send)."""


@attrs.frozen
class Booking:
    """The booking of an invoice.

    Attributes:
        mutation_number: e-Boekhouden's number of the booking (``Mutatienummer``).
        invoice_number: The invoice number.
        created: ``False`` when the invoice had been booked before and nothing was written.
    """

    mutation_number: int
    invoice_number: str
    created: bool


class PaymentState(StrEnum):
    """Whether an invoice is paid."""

    PAID = "paid"
    OPEN = "open"
    PARTLY_PAID = "partly_paid"
    UNKNOWN = "unknown"
    """Not open and not booked: the bookkeeping does not know the invoice."""


@attrs.frozen
class PaymentStatus:
    """The payment state of one invoice.

    Attributes:
        invoice_number: The invoice number.
        state: Paid, open, partly paid or unknown.
        amount: The invoice total, when known.
        paid: What was paid, when known.
        outstanding: What is still to be paid, when known.
    """

    invoice_number: str
    state: PaymentState
    amount: Decimal | None = None
    paid: Decimal | None = None
    outstanding: Decimal | None = None

    @classmethod
    def from_open_item(cls, item: OpenItem) -> PaymentStatus:
        """The status an open item describes."""
        if item.outstanding == 0:
            state = PaymentState.PAID
        elif item.paid != 0:
            state = PaymentState.PARTLY_PAID
        else:
            state = PaymentState.OPEN
        number = item.invoice_number or ""
        return cls(number, state, item.amount, item.paid, item.outstanding)


DEFAULT_URL = "https://soap.e-boekhouden.nl/soap.asmx"
_BINDING = "{http://www.e-boekhouden.nl/soap}soapAppSoap"

logger = logging.getLogger("crmconnect.eboekhouden")


def _wsdl_path() -> str:
    return str(importlib.resources.files("crmconnect.eboekhouden") / "wsdl" / "soap.wsdl")


class _ZeepLogRedactor(logging.Filter):
    """zeep logs whole SOAP bodies at DEBUG: mask every client's codes in them."""

    redactor = Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = ()
        return True


_ZEEP_FILTER = _ZeepLogRedactor()
for _name in ("zeep", "zeep.transports", "zeep.wsdl.bindings.soap"):
    logging.getLogger(_name).addFilter(_ZEEP_FILTER)


class EBoekhoudenClient:
    """Client for e-Boekhouden's SOAP API.

    Args:
        username: The login name. Falls back to ``CRMCONNECT_EBOEKHOUDEN_USERNAME``.
        security_code_1: Security code 1 (``..._SECURITY_CODE_1``).
        security_code_2: Security code 2 (``..._SECURITY_CODE_2``).
        source: A short name of the connecting application (max 10 characters).
        administration_guid: For accountants: open this administration
            (`OpenSessionSub`), from `administrations`.
        url: The service address, e.g. a sandbox on loopback.
        timeout: Seconds per request.
        max_retries: Retries of reads after transport or server errors.
        session: A `requests.Session` for zeep to use (borrowed, never closed here).
        debtors_ledger: The debtors ledger (category DEB) for sales invoices.
        creditors_ledger: The creditors ledger (category CRED) for purchase invoices.

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
        url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        session: requests.Session | None = None,
        debtors_ledger: str = "1300",
        creditors_ledger: str = "1600",
    ) -> None:
        self._username = _setting(username, "USERNAME")
        self._code1 = _setting(security_code_1, "SECURITY_CODE_1")
        self._code2 = _setting(security_code_2, "SECURITY_CODE_2")
        if len(source) > 10:
            raise ConfigurationError(f"source must be at most 10 characters, got {source!r}")
        self.source = source
        self.administration_guid = administration_guid
        # Codes of e-Boekhouden's default chart; check them with `ledgers()`.
        self.debtors_ledger = debtors_ledger
        self.mutation_cap = MUTATION_CAP
        """The most mutations GetMutaties returns; bulk look-ups split at it."""
        self.creditors_ledger = creditors_ledger
        self.url = url or os.environ.get("CRMCONNECT_EBOEKHOUDEN_URL") or DEFAULT_URL
        self._redact = Redactor([self._code1, self._code2])
        for secret in (self._code1, self._code2):
            _ZEEP_FILTER.redactor.add(secret)
        self._retry = RetryPolicy(max_attempts=max(1, max_retries + 1))
        self._owns_session = session is None
        self._http = session or requests.Session()
        transport = zeep.Transport(session=self._http, timeout=timeout, operation_timeout=timeout)
        client = zeep.Client(_wsdl_path(), transport=transport, settings=zeep.Settings(strict=True))
        self._service = client.create_service(_BINDING, self.url)
        self._session_id: str | None = None
        self._lock = threading.RLock()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"EBoekhoudenClient(username={self._username!r}, url={self.url!r}, "
            f"security_code_1={mask_secret(self._code1)!r}, "
            f"security_code_2={mask_secret(self._code2)!r})"
        )

    def __enter__(self) -> EBoekhoudenClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
            result = self._send(
                "OpenSessionSub", AdministratieGUID=self.administration_guid, **credentials
            )
        else:
            result = self._send("OpenSession", **credentials)
        self._check(result, "OpenSession")
        self._session_id = str(result["SessionID"])
        logger.info("e-Boekhouden session opened")
        return self._session_id

    def close(self) -> None:
        """Close the session (if one is open) and the HTTP session created here."""
        with self._lock:
            if self._session_id is not None:
                try:
                    self._send("CloseSession", SessionID=self._session_id)
                except TransportError as exc:  # closing is best effort
                    logger.warning("closing the e-Boekhouden session failed: %s", exc)
                self._session_id = None
            if self._owns_session and not self._closed:
                self._http.close()
            self._closed = True

    # -- calls ------------------------------------------------------------------------

    def _send(self, operation: str, **arguments: Any) -> dict[str, Any]:
        """One SOAP call; transport failures mapped, secrets masked."""
        try:
            raw = getattr(self._service, operation)(**arguments)
        except requests.exceptions.RequestException as exc:
            raise self._transport_error(operation, exc) from None
        except zeep.exceptions.Fault as exc:
            # ASP.NET answers an internal failure with HTTP 500 and a soap:Server fault.
            kind = ServerError if "server" in str(exc.code or "").casefold() else APIError
            raise kind(
                self._redact(f"e-Boekhouden {operation}: SOAP fault {exc.code}: {exc.message}"),
                service="eboekhouden",
                code=str(exc.code) if exc.code else None,
            ) from None
        except zeep.exceptions.TransportError as exc:
            raise _server_error(operation, exc.status_code, self._redact) from None
        except zeep.exceptions.Error as exc:
            raise APIError(
                self._redact(f"e-Boekhouden {operation}: {exc}"), service="eboekhouden"
            ) from None
        result = zeep.helpers.serialize_object(raw, dict)
        return result if isinstance(result, dict) else {}

    def _transport_error(self, operation: str, exc: Exception) -> TransportError:
        message = self._redact(f"e-Boekhouden {operation}: {type(exc).__name__}: {exc}")
        if isinstance(exc, requests.exceptions.ConnectTimeout) or _not_sent(exc):
            return ConnectError(message, service="eboekhouden")  # never sent
        if isinstance(exc, requests.exceptions.Timeout):
            return TimeoutError(message, service="eboekhouden")
        return TransportError(message, service="eboekhouden")

    def _check(self, result: Mapping[str, Any], operation: str) -> None:
        error = error_from_result(result, operation=operation, redact=self._redact)
        if error is not None:
            raise error

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
                    raise error
                # The service forgot the session: nothing was done, so one reopen is safe.
                logger.info("e-Boekhouden session expired; reopening once")
                self._session_id = None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- relations --------------------------------------------------------------------

    def add_relation(self, relation: Relation) -> int:
        """Add a relation; returns its new ID. Not retried (see `upsert_relation`).

        Raises:
            ConflictError: The code is taken (as far as the service's text says so).
        """
        result = self._call(
            "AddRelatie", write=True, oRel=relation.model_copy(update={"id": 0}).to_wire()
        )
        return int(result["Rel_ID"])

    def update_relation(self, relation: Relation) -> None:
        """Replace a relation (all fields: read, modify, write).

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
        filter_ = {"Trefwoord": keyword, "Code": code, "ID": id}
        result = self._call(
            "GetRelaties", cFilter={k: v for k, v in filter_.items() if v is not None}
        )
        return [Relation.model_validate(item) for item in _items(result, "Relaties", "cRelatie")]

    def relation_by_code(self, code: str) -> Relation | None:
        """The relation with exactly this code, or ``None``."""
        return next((r for r in self.relations(code=code) if r.code == code), None)

    def upsert_relation(self, relation: Relation) -> Relation:
        """Create or update by code: look up first, so a relation is never added twice."""
        if not relation.code:
            raise ValidationError("code", relation.code, "a relation needs a code")
        existing = self.relation_by_code(relation.code)
        if existing is None:
            return relation.model_copy(update={"id": self.add_relation(relation)})
        updated = relation.model_copy(update={"id": existing.id, "added": existing.added})
        self.update_relation(updated)
        return updated

    # -- bookings and payments --------------------------------------------------------

    def book_invoice(
        self, invoice: Invoice, vat_table: VatTable, *, relation: Relation | None = None
    ) -> Booking:
        """Book a sales (FactuurVerstuurd) or purchase (FactuurOntvangen) invoice, once.

        The VAT table turns the invoice into one line per VAT rate and ledger
        before anything is written (an uncovered category raises `MappingError`).
        The relation is made sure of first: created or updated when ``relation``
        is given, else it must exist. When this invoice number was already
        booked for this relation, that booking is returned and nothing is
        written. A write whose answer was lost (timeout, dropped connection) is
        checked by invoice number before anyone would repeat it.

        Raises:
            MappingError: An invoice line's VAT category is not in the table.
            NotFoundError: No ``relation`` was given and its code is unknown.
        """
        vat_breakdown(invoice, vat_table)  # an uncovered category raises before any call
        self._ensure_relation(invoice.relation_code, relation)
        existing = self.find_invoice_booking(invoice.number, invoice.relation_code)
        if existing is not None:
            return Booking(existing.number, invoice.number, created=False)
        return self._book(invoice, vat_table)

    def _book(self, invoice: Invoice, vat_table: VatTable) -> Booking:
        """Write the booking; when the answer is lost, look it up before anything repeats it."""
        mutation = self._invoice_mutation(invoice, vat_breakdown(invoice, vat_table))
        try:
            result = self._call("AddMutatie", write=True, oMut=mutation.to_wire())
        except ConnectError:
            raise  # never sent: nothing to check
        except TransportError:
            # Ambiguous: the service may have booked it before the answer was lost.
            found = self.find_invoice_booking(invoice.number, invoice.relation_code)
            if found is None:
                raise
            return Booking(found.number, invoice.number, created=True)
        return Booking(int(result["Mutatienummer"]), invoice.number, created=True)

    def push_relations(self, relations: Iterable[Relation]) -> PushResult:
        """Create or update many relations by code with one look-up (see `push_relations`)."""
        return push_relations(self, relations)

    def push_invoices(
        self, invoices: Sequence[Invoice], vat_table: VatTable, relations: Iterable[Relation] = ()
    ) -> PushResult:
        """Book many invoices, each once, with bulk look-ups (see `push_invoices`)."""
        return push_invoices(self, invoices, vat_table, relations)

    def _ensure_relation(self, code: str, relation: Relation | None) -> None:
        if relation is not None:
            if relation.code != code:
                raise ValidationError(
                    "relation.code", relation.code, f"the invoice is for {code!r}"
                )
            self.upsert_relation(relation)
        elif self.relation_by_code(code) is None:
            raise NotFoundError(
                f"e-Boekhouden has no relation {code!r}; pass relation= to create it",
                service="eboekhouden",
            )

    def _invoice_mutation(self, invoice: Invoice, lines: list[BookingLine]) -> Mutation:
        sales = invoice.kind is InvoiceKind.SALES
        including = invoice.amounts_include_vat
        term = (invoice.due_date - invoice.date).days if invoice.due_date else None
        return Mutation(
            kind=MutationKind.SALES_INVOICE if sales else MutationKind.PURCHASE_INVOICE,
            date=invoice.date,
            ledger_code=self.debtors_ledger if sales else self.creditors_ledger,
            relation_code=invoice.relation_code,
            invoice_number=invoice.number,
            description=invoice.description or f"Factuur {invoice.number}",
            payment_term_days=str(term) if term is not None else None,
            in_ex_vat=InExVat.INCLUDING if including else InExVat.EXCLUDING,
            lines=[
                MutationLine(
                    amount_entered=line.amount_incl if including else line.amount_excl,
                    amount_excl=line.amount_excl,
                    vat_amount=line.vat_amount,
                    amount_incl=line.amount_incl,
                    vat_code=line.vat_code,
                    vat_percentage=line.rate,
                    ledger_code=line.ledger,
                )
                for line in lines
            ],
        )

    def mutations(
        self,
        *,
        invoice_number: str | None = None,
        number: int = 0,
        date_from: dt.date = _EARLIEST,
        date_to: dt.date = _LATEST,
    ) -> list[Mutation]:
        """Bookings (GetMutaties), filtered by invoice number or mutation number.

        The service returns at most the last 500 mutations and allows 5,000 calls
        a month: filter narrowly, never use it for bulk history.
        """
        filter_ = {
            "MutatieNr": number,
            "Factuurnummer": invoice_number,
            "DatumVan": date_from,
            "DatumTm": date_to,
        }
        result = self._call(
            "GetMutaties", cFilter={k: v for k, v in filter_.items() if v is not None}
        )
        return [Mutation.model_validate(i) for i in _items(result, "Mutaties", "cMutatieList")]

    def find_invoice_booking(self, invoice_number: str, relation_code: str) -> Mutation | None:
        """The invoice booking (sales or purchase) of this invoice number and relation, if any."""
        kinds = {MutationKind.SALES_INVOICE, MutationKind.PURCHASE_INVOICE}
        return next(
            (
                m
                for m in self.mutations(invoice_number=invoice_number)
                if m.kind in kinds
                and m.invoice_number == invoice_number
                and m.relation_code == relation_code
            ),
            None,
        )

    def payment_status(
        self, invoice_numbers: Iterable[str], kind: OpenItemKind | str = OpenItemKind.DEBTORS
    ) -> dict[str, PaymentStatus]:
        """Paid, open or partly paid, with the outstanding amount, per invoice number.

        Comes from GetOpenPosten (one call for all invoices). An invoice that is
        not open is paid if it was booked, and unknown if it was not.
        """
        open_by_number = {item.invoice_number: item for item in self.open_items(kind)}
        statuses = {}
        for number in invoice_numbers:
            item = open_by_number.get(number)
            statuses[number] = (
                PaymentStatus.from_open_item(item) if item else self._closed_status(number)
            )
        return statuses

    def _closed_status(self, invoice_number: str) -> PaymentStatus:
        booked = [m for m in self.mutations(invoice_number=invoice_number) if m.lines]
        invoices = [
            m
            for m in booked
            if m.kind in {MutationKind.SALES_INVOICE, MutationKind.PURCHASE_INVOICE}
        ]
        if not invoices:
            return PaymentStatus(invoice_number, PaymentState.UNKNOWN)
        amount = sum((m.total_incl for m in invoices), Decimal("0.00"))
        return PaymentStatus(invoice_number, PaymentState.PAID, amount, amount, Decimal("0.00"))

    # -- reads ------------------------------------------------------------------------

    def open_items(self, kind: OpenItemKind | str = OpenItemKind.DEBTORS) -> list[OpenItem]:
        """Open items of debtors or creditors (GetOpenPosten)."""
        result = self._call("GetOpenPosten", OpSoort=OpenItemKind(kind).value)
        return [OpenItem.model_validate(item) for item in _items(result, "Openposten", "cOpenPost")]

    def ledgers(self, *, code: str | None = None, category: str | None = None) -> list[Ledger]:
        """Ledger accounts (GetGrootboekrekeningen)."""
        filter_ = {"ID": 0, "Code": code, "Categorie": category}
        result = self._call(
            "GetGrootboekrekeningen", cFilter={k: v for k, v in filter_.items() if v is not None}
        )
        return [
            Ledger.model_validate(i) for i in _items(result, "Rekeningen", "cGrootboekrekening")
        ]

    def cost_centres(self) -> list[CostCentre]:
        """Cost centres (GetKostenplaatsen)."""
        result = self._call("GetKostenplaatsen", cFilter={})
        return [
            CostCentre.model_validate(i) for i in _items(result, "Kostenplaatsen", "cKostenplaats")
        ]

    def administrations(self) -> list[Administration]:
        """Administrations this login may open (for `administration_guid`)."""
        result = self._call("GetAdministraties")
        return [
            Administration.model_validate(i)
            for i in _items(result, "Administraties", "cAdministratie")
        ]

    def balances(self, *, category: str | None = None) -> list[Balance]:
        """Balances of all ledgers (GetSaldi)."""
        filter_ = {"KostenPlaatsId": 0, "DatumVan": None, "DatumTot": None, "Categorie": category}
        result = self._call("GetSaldi", cFilter=filter_)
        return [Balance.model_validate(i) for i in _items(result, "Saldi", "cSaldo")]


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


def _not_sent(exc: Exception) -> bool:
    text = str(exc)
    return "Connection refused" in text or "Failed to establish" in text


def _server_error(operation: str, status: int, redact: Redactor) -> APIError:
    return ServerError(
        redact(f"e-Boekhouden {operation}: HTTP {status}"),
        service="eboekhouden",
        status_code=status,
    )
