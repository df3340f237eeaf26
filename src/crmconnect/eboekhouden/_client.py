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
from collections.abc import Mapping, Sequence
from typing import Any

import requests
import tenacity
import zeep
import zeep.exceptions
import zeep.helpers

from .._redact import Redactor, mask_secret, protect_library_logs
from .._retry import RetryPolicy
from ..errors import (
    APIError,
    ConfigurationError,
    ConnectError,
    ServerError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from ..models import Invoice
from ._books import INVOICE_KINDS, BooksClient
from ._bulk import MUTATION_CAP, booked_by_date_windows
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
_BINDING = "{http://www.e-boekhouden.nl/soap}soapAppSoap"

logger = logging.getLogger("crmconnect.eboekhouden")


def _wsdl_path() -> str:
    return str(importlib.resources.files("crmconnect.eboekhouden") / "wsdl" / "soap.wsdl")


_ZEEP_LOGGERS = ("zeep", "zeep.transports", "zeep.wsdl.bindings.soap")
"""zeep logs whole SOAP bodies (codes included) at DEBUG on these loggers."""


class EBoekhoudenClient(BooksClient):
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
        protect_library_logs([self._code1, self._code2], _ZEEP_LOGGERS)
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

    # -- bookings and payments --------------------------------------------------------

    def _add_mutation(self, mutation: Mutation) -> int:
        result = self._call("AddMutatie", write=True, oMut=mutation.to_wire())
        return int(result["Mutatienummer"])

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
        filter_ = {
            "MutatieNr": number,
            "Factuurnummer": invoice_number,
            "DatumVan": date_from or _EARLIEST,
            "DatumTm": date_to or _LATEST,
        }
        result = self._call(
            "GetMutaties", cFilter={k: v for k, v in filter_.items() if v is not None}
        )
        return [Mutation.model_validate(i) for i in _items(result, "Mutaties", "cMutatieList")]

    def invoice_bookings(self, invoice_number: str) -> list[Mutation]:
        """The invoice bookings (sales or purchase) with this number (one GetMutaties)."""
        return [
            m
            for m in self.mutations(invoice_number=invoice_number)
            if m.kind in INVOICE_KINDS and m.invoice_number == invoice_number
        ]

    def booked_invoices(self, invoices: Sequence[Invoice]) -> set[tuple[str, str]]:
        """Pairs already booked: GetMutaties over the invoices' dates, split at the cap of 500."""
        return booked_by_date_windows(self, invoices)

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
