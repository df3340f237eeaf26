"""`EBoekhoudenSandbox`: an offline e-Boekhouden, SOAP (``/soap.asmx``) and REST (``/v1/``).

The REST API lives in `crmconnect.sandbox._eboekhouden_rest`, on the same
books, credentials, sessions and faults; this module is the SOAP side.

The handler speaks SOAP 1.1 (and 1.2), document/literal, in the namespace
``http://www.e-boekhouden.nl/soap``, and answers with exactly the element
names, order and wrappers of the real WSDL's response types, so that zeep
built from the real WSDL parses its answers. The data lives in
`crmconnect.sandbox._eboekhouden_data`.

e-Boekhouden quirks reproduced here:

* errors are answered in-band, HTTP 200, in ``ErrorMsg{LastErrorCode,
  LastErrorDescription}`` (a bare ``cError`` for UpdateRelatie); SOAP faults
  only when the request cannot be read;
* every call but OpenSession(Sub)/CloseSession needs ``SessionID`` and
  ``SecurityCode2``; CloseSession answers an empty element whatever happens;
* GetMutaties returns at most the last 500 matching mutations;
* the service is ASP.NET: elements outside its namespace are ignored as if
  absent, a missing value-type element gets .NET's default (0, the first enum
  value, ``DateTime.MinValue``), and an invalid enum, number or date fails
  the whole request with a ``soap:Client`` fault.

Requests are parsed with the standard library's expat, with every DTD refused
before it is read: no entity is ever expanded, nothing is fetched.
The sandbox logs nothing and never echoes a security code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import io
import re
import secrets
import threading
import time
import urllib.parse
import xml.parsers.expat
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from xml.sax.saxutils import escape

import attrs

from ..errors import ConfigurationError
from ._control import OneAccount
from ._core import (
    FaultKind,
    Faults,
    SandboxRequest,
    SandboxResponse,
    SandboxStats,
    SandboxTransport,
    _Pipeline,
    default_path_family,
    serve,
)
from ._eboekhouden_data import (
    MUTATION_KINDS,
    MUTATION_LIMIT,
    OPEN_ITEM_KINDS,
    RELATION_FIELDS,
    AdministrationRecord,
    Bookkeeping,
    CostCentreRecord,
    InBandError,
    LedgerRecord,
    LineRecord,
    MutationRecord,
    OpenItemRecord,
    RelationRecord,
)
from ._eboekhouden_rest import (
    REST_PREFIX,
    RestApi,
    iter_routes,
    rest_family,
    rest_operation_prefix,
    rest_route_path,
)

if TYPE_CHECKING:
    import requests

__all__ = [
    "DEMO_ACCESS_TOKEN",
    "DEMO_ADMINISTRATION",
    "DEMO_CREDENTIALS",
    "DEMO_SECURITY_CODE_1",
    "DEMO_SECURITY_CODE_2",
    "DEMO_USERNAME",
    "REST_PREFIX",
    "SOAP_NAMESPACE",
    "SOAP_PATH",
    "EBoekhoudenCredentials",
    "EBoekhoudenSandbox",
]

SOAP_NAMESPACE = "http://www.e-boekhouden.nl/soap"
"""The target namespace of e-Boekhouden's WSDL; SOAPAction is ``<namespace>/<operation>``."""

SOAP_PATH = "/soap.asmx"
"""Where the service answers SOAP (as ``https://soap.e-boekhouden.nl/soap.asmx``)."""

DEMO_USERNAME = "demo"
"""The username the sandbox accepts when no credentials are given."""

DEMO_SECURITY_CODE_1 = "sandbox-code-1"
"""Security code 1 ("Beveiligingscode 1") of the demo credentials."""

DEMO_SECURITY_CODE_2 = "sandbox-code-2"
"""Security code 2 ("Beveiligingscode 2") of the demo credentials."""

DEMO_ACCESS_TOKEN = "sandbox-api-token"
"""The REST access token of the demo credentials."""

DEMO_ADMINISTRATION = AdministrationRecord(
    "Demo B.V.", "Utrecht", "3F2504E0-4F89-41D3-9A0C-0305E82C3301", "2020"
)
"""The administration OpenSession opens unless others are given.

Assumption: GUIDs are upper-case with hyphens (the format is undocumented).
"""

_ENV11 = "http://schemas.xmlsoap.org/soap/envelope/"
_ENV12 = "http://www.w3.org/2003/05/soap-envelope"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSD = "http://www.w3.org/2001/XMLSchema"
_NIL = f"{{{_XSI}}}nil"
_CONTENT_TYPES = {"1.1": "text/xml; charset=utf-8", "1.2": "application/soap+xml; charset=utf-8"}

MAX_BODY = 4 * 1024 * 1024
"""Largest request body read: ASP.NET's default ``maxRequestLength`` (4 MB)."""
_MAX_DEPTH = 32
_INT64 = 2**63

SoapVersion = Literal["1.1", "1.2"]


def _mask(secret: str) -> str:
    return "***" if secret else "''"


@attrs.frozen(repr=False)
class EBoekhoudenCredentials:
    """The logins the sandbox accepts: SOAP's username and codes, REST's access token.

    The ``repr`` masks the username (it identifies the account), the codes and the token.

    Attributes:
        username: The SOAP login name.
        security_code_1: "Beveiligingscode 1".
        security_code_2: "Beveiligingscode 2", sent again on every SOAP call.
        access_token: The REST API token (``POST /v1/session``); ``None``
            refuses every REST session.
    """

    username: str
    security_code_1: str
    security_code_2: str
    access_token: str | None = None

    def __repr__(self) -> str:
        return (
            f"EBoekhoudenCredentials(username={_mask(self.username)!r}, "
            f"security_code_1={_mask(self.security_code_1)!r}, "
            f"security_code_2={_mask(self.security_code_2)!r}, "
            f"access_token={_mask(self.access_token or '')!r})"
        )


DEMO_CREDENTIALS = EBoekhoudenCredentials(
    DEMO_USERNAME, DEMO_SECURITY_CODE_1, DEMO_SECURITY_CODE_2, DEMO_ACCESS_TOKEN
)
"""What the sandbox accepts when no credentials are given (documented, not secret)."""


# --- reading requests ---------------------------------------------------------------------


class _SoapFault(Exception):
    """A request the service cannot read: answered with a SOAP fault."""

    def __init__(self, text: str, *, sender: bool = True, version: SoapVersion = "1.1") -> None:
        super().__init__(text)
        self.text = text
        self.sender = sender
        self.version = version


def _read_error(detail: str) -> _SoapFault:
    """ASP.NET's wording when XmlSerializer fails on the request."""
    return _SoapFault(
        "Server was unable to read request. ---> There is an error in XML document. ---> " + detail
    )


@attrs.define
class _Node:
    """A parsed XML element: ``{namespace}local`` tag, attributes, children, text."""

    tag: str
    attrib: dict[str, str]
    children: list[_Node] = attrs.field(factory=list)
    parts: list[str] = attrs.field(factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def nil(self) -> bool:
        return self.attrib.get(_NIL, "").strip() in ("true", "1")

    @property
    def local(self) -> str:
        return self.tag.rpartition("}")[2]

    def child(self, name: str) -> _Node | None:
        """The first child ``name`` in e-Boekhouden's namespace.

        ASP.NET ignores elements in another namespace (or none): they count as absent.
        """
        tag = f"{{{SOAP_NAMESPACE}}}{name}"
        return next((node for node in self.children if node.tag == tag), None)

    def all(self, name: str) -> list[_Node]:
        tag = f"{{{SOAP_NAMESPACE}}}{name}"
        return [node for node in self.children if node.tag == tag]


class _Refused(Exception):
    """Raised inside expat handlers to stop parsing at once."""


def _parse_xml(body: bytes) -> _Node:
    """Parse a request safely: no DTD (so no entities), bounded size and depth.

    Raises:
        _SoapFault: For malformed XML, a DTD, or a body too large or too deep.
    """
    if len(body) > MAX_BODY:
        raise _SoapFault("Maximum request length exceeded.")
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    # Never read external parameter entities (the DTD handler refuses first anyway).
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Node] = []
    roots: list[_Node] = []

    def qualified(name: str) -> str:
        namespace, _, local = name.rpartition(" ")
        return f"{{{namespace}}}{local}" if namespace else local

    def start(name: str, attributes: dict[str, str]) -> None:
        if len(stack) >= _MAX_DEPTH:
            raise _Refused("The XML document is nested too deeply.")
        node = _Node(qualified(name), {qualified(k): v for k, v in attributes.items()})
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(name: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            stack[-1].parts.append(data)

    def refuse_dtd(*args: object) -> None:
        # .NET's XmlReader: "For security reasons DTD is prohibited in this XML document."
        raise _Refused("For security reasons DTD is prohibited in this XML document.")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = refuse_dtd  # type: ignore[assignment]
    try:
        parser.Parse(body, True)
    except _Refused as refused:
        raise _read_error(str(refused)) from None
    except xml.parsers.expat.ExpatError as error:
        raise _read_error(
            f"{xml.parsers.expat.ErrorString(error.code)} (line {error.lineno})."
        ) from None
    if not roots:
        raise _read_error("Root element is missing.")
    return roots[0]


_LONG = re.compile(r"\s*[+-]?[0-9]+\s*")
_DECIMAL = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*")

try:
    import zoneinfo

    _LOCAL: dt.tzinfo = zoneinfo.ZoneInfo("Europe/Amsterdam")
except Exception:  # pragma: no cover - no time zone data on this system
    _LOCAL = dt.timezone(dt.timedelta(hours=1))


def _string(parent: _Node | None, name: str) -> str | None:
    node = parent.child(name) if parent is not None else None
    return None if node is None or node.nil else node.text


def _long(parent: _Node | None, name: str) -> int:
    """An ``xsd:long``; .NET's 0 when absent."""
    text = _string(parent, name)
    if text is None:
        return 0
    if not _LONG.fullmatch(text) or not -_INT64 <= int(text) < _INT64:
        raise _read_error(f"Input string '{text}' was not in a correct format ({name}).")
    return int(text)


def _decimal(parent: _Node | None, name: str) -> Decimal:
    """An ``xsd:decimal``; 0 when absent. .NET refuses exponents (``1E+2``)."""
    text = _string(parent, name)
    if text is None:
        return Decimal("0")
    if not _DECIMAL.fullmatch(text):
        raise _read_error(f"Input string '{text}' was not in a correct format ({name}).")
    return Decimal(text.strip())


def _datetime(parent: _Node | None, name: str) -> dt.datetime | None:
    """An ``xsd:dateTime`` (a bare date is accepted too); ``None`` when absent or nil.

    .NET turns a value with an offset into the server's local time, which can
    move the date: ``2024-03-01T00:00:00+02:00`` is 29 February, 23:00 in
    Amsterdam. Assumption: the servers run on Dutch time.
    """
    text = _string(parent, name)
    if text is None:
        return None
    value = text.strip()
    try:
        parsed = (
            dt.datetime.fromisoformat(value)
            if "T" in value
            else dt.datetime.combine(dt.date.fromisoformat(value), dt.time())
        )
    except ValueError:
        raise _read_error(f"The string '{value}' is not a valid AllXsd value ({name}).") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(_LOCAL).replace(tzinfo=None)
    return parsed


def _date(parent: _Node | None, name: str) -> dt.date | None:
    value = _datetime(parent, name)
    return value.date() if value is not None else None


def _enum(parent: _Node | None, name: str, values: Sequence[str], type_name: str) -> str:
    """An enumeration value; .NET's default (the first value) when absent.

    Assumption: as with .NET's XmlSerializer, an unknown value fails the whole
    request (a ``soap:Client`` fault) rather than answering in-band.
    """
    text = _string(parent, name)
    if text is None:
        return values[0]
    if text not in values:
        raise _read_error(
            f"Instance validation error: '{text}' is not a valid value for {type_name}."
        )
    return text


# --- writing answers ----------------------------------------------------------------------


@attrs.frozen
class _Items:
    """An ``ArrayOf<T>``: one ``item`` element per entry; left out when empty."""

    item: str
    entries: list[list[tuple[str, Any]]]


_Fields = list[tuple[str, Any]]


def _value_text(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _render(fields: _Fields, out: list[str]) -> None:
    """Elements in the given order; ``None`` left out, ``""`` as an empty element."""
    for name, value in fields:
        if value is None:
            continue
        if isinstance(value, _Items):
            if not value.entries:
                continue  # Assumption: an empty list comes back without its wrapper
            out.append(f"<{name}>")
            for entry in value.entries:
                out.append(f"<{value.item}>")
                _render(entry, out)
                out.append(f"</{value.item}>")
            out.append(f"</{name}>")
        elif isinstance(value, list):
            out.append(f"<{name}>")
            _render(value, out)
            out.append(f"</{name}>")
        else:
            text = _value_text(value)
            out.append(f"<{name}>{escape(text)}</{name}>" if text else f"<{name} />")


def _envelope(version: SoapVersion, body: str) -> bytes:
    namespace = _ENV11 if version == "1.1" else _ENV12
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{namespace}" xmlns:xsi="{_XSI}" xmlns:xsd="{_XSD}">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def _fault_response(fault: _SoapFault) -> SandboxResponse:
    text = escape(fault.text)
    if fault.version == "1.1":
        code = "soap:Client" if fault.sender else "soap:Server"
        body = (
            f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{text}</faultstring>"
            "<detail /></soap:Fault>"
        )
        status = 500  # ASP.NET answers every SOAP 1.1 fault with 500
    else:
        code = "soap:Sender" if fault.sender else "soap:Receiver"
        body = (
            f"<soap:Fault><soap:Code><soap:Value>{code}</soap:Value></soap:Code>"
            f'<soap:Reason><soap:Text xml:lang="en">{text}</soap:Text></soap:Reason>'
            "<soap:Detail /></soap:Fault>"
        )
        status = 400 if fault.sender else 500
    headers = [("Content-Type", _CONTENT_TYPES[fault.version])]
    return SandboxResponse(status, headers, _envelope(fault.version, body))


def _plain(
    status: int, text: str | None = None, headers: Iterable[tuple[str, str]] = ()
) -> SandboxResponse:
    """An HTTP.sys/IIS error page: HTML that is not XML, so zeep reports the status."""
    phrase = escape(HTTPStatus(status).phrase)
    detail = escape(text or f"HTTP Error {status}. {HTTPStatus(status).description}")
    body = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">'
        f"\r\n<HTML><HEAD><TITLE>{phrase}</TITLE>\r\n"
        '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
        f"<BODY><h2>{phrase}</h2>\r\n<hr><p>{detail}</p>\r\n</BODY></HTML>\r\n"
    )
    return SandboxResponse(
        status, [("Content-Type", "text/html; charset=us-ascii"), *headers], body.encode()
    )


def _error_fields(error: InBandError | None) -> _Fields:
    if error is None:
        return [("LastErrorCode", ""), ("LastErrorDescription", "")]
    return [("LastErrorCode", error.code), ("LastErrorDescription", error.text)]


def _relation_fields(relation: RelationRecord) -> _Fields:
    return [
        ("ID", relation.id),
        ("AddDatum", relation.added),
        *((wire, relation.values.get(name, "")) for name, wire in RELATION_FIELDS),
        ("Gb_ID", relation.ledger_id),
        ("GeenEmail", relation.no_newsletter),
        ("NieuwsbriefgroepenCount", relation.newsletter_groups),
    ]


def _mutation_fields(mutation: MutationRecord) -> _Fields:
    # cMutatieList: cMutatie minus Betalingskenmerk; its lines (cMutatieListRegel)
    # carry Factuurnummer, before TegenrekeningCode.
    # Assumption: every line repeats the header's invoice number.
    lines = [
        [
            ("BedragInvoer", line.amount_entered),
            ("BedragExclBTW", line.amount_excl),
            ("BedragBTW", line.vat_amount),
            ("BedragInclBTW", line.amount_incl),
            ("BTWCode", line.vat_code),
            ("BTWPercentage", line.vat_percentage),
            ("Factuurnummer", mutation.invoice_number or ""),
            ("TegenrekeningCode", line.ledger_code),
            ("KostenplaatsID", line.cost_centre_id),
        ]
        for line in mutation.lines
    ]
    return [
        ("MutatieNr", mutation.number),
        ("Soort", mutation.kind),
        ("Datum", mutation.date),
        ("Rekening", mutation.ledger_code or ""),
        ("RelatieCode", mutation.relation_code or ""),
        ("Factuurnummer", mutation.invoice_number or ""),
        ("Boekstuk", mutation.document or ""),
        ("Omschrijving", mutation.description or ""),
        ("Betalingstermijn", mutation.payment_term or ""),
        ("InExBTW", mutation.in_ex_vat or ""),
        ("MutatieRegels", _Items("cMutatieListRegel", lines)),
    ]


def _open_item_fields(item: OpenItemRecord) -> _Fields:
    return [
        ("MutDatum", item.date),
        ("MutFactuur", item.invoice_number),
        ("RelCode", item.relation_code),
        ("RelBedrijf", item.relation_name),
        ("Bedrag", item.amount),  # xsd:double on the wire
        ("Voldaan", item.paid),
        ("Openstaand", item.outstanding),
    ]


# --- operations ---------------------------------------------------------------------------

_Operation = Callable[["EBoekhoudenSandbox", _Node, Bookkeeping], _Fields]


@attrs.frozen
class _OperationSpec:
    method: str | None  # None: not emulated (answered with SANDBOX_001)
    session: bool = True
    error_tail: tuple[tuple[str, Any], ...] = ()
    bare_error: bool = False  # the result is a cError itself


_OPERATIONS: dict[str, _OperationSpec] = {
    "OpenSession": _OperationSpec("_open_session", session=False),
    "OpenSessionSub": _OperationSpec("_open_session_sub", session=False),
    "CloseSession": _OperationSpec("_close_session", session=False),
    "GetAdministraties": _OperationSpec("_get_administraties"),
    "AddRelatie": _OperationSpec("_add_relatie", error_tail=(("Rel_ID", 0),)),
    "UpdateRelatie": _OperationSpec("_update_relatie", bare_error=True),
    "GetRelaties": _OperationSpec("_get_relaties"),
    "AddMutatie": _OperationSpec("_add_mutatie", error_tail=(("Mutatienummer", 0),)),
    "GetMutaties": _OperationSpec("_get_mutaties"),
    "GetOpenPosten": _OperationSpec("_get_open_posten"),
    "GetGrootboekrekeningen": _OperationSpec("_get_grootboekrekeningen"),
    "GetKostenplaatsen": _OperationSpec("_get_kostenplaatsen"),
    "GetSaldo": _OperationSpec("_get_saldo", error_tail=(("Saldo", 0),)),
    "GetSaldi": _OperationSpec("_get_saldi"),
    # In the WSDL, not emulated: answered in-band with SANDBOX_001.
    "AutoLogin": _OperationSpec(None),
    "AddFactuur": _OperationSpec(None),
    "GetFacturen": _OperationSpec(None),
    "AddGrootboekrekening": _OperationSpec(None, error_tail=(("Gb_ID", 0),)),
    "UpdateGrootboekrekening": _OperationSpec(None, bare_error=True),
    "GetArtikelen": _OperationSpec(None),
}
"""Every operation of the WSDL: how the sandbox answers it."""


@attrs.define
class _Session:
    guid: str
    last_used: float
    kind: Literal["soap", "rest"] = "soap"


def _action(request: SandboxRequest) -> str | None:
    """The operation named by ``SOAPAction`` (1.1) or the ``action`` parameter (1.2)."""
    action = request.headers.get("SOAPAction")
    if action is None:
        content_type = request.headers.get("Content-Type", "")
        found = re.search(r'action\s*=\s*"?([^";]+)"?', content_type)
        action = found.group(1) if found else None
    if action is None:
        return None
    action = action.strip().strip('"')
    prefix = SOAP_NAMESPACE + "/"
    return action[len(prefix) :] if action.startswith(prefix) else action


def operation_prefix(operation: str | None) -> str | None:
    """The route-path prefix of a SOAP operation or REST endpoint (``"METHOD /v1/path"``).

    Raises:
        ValueError: For an unknown operation.
    """
    if operation is None:
        return None
    if operation in _OPERATIONS:
        return f"{SOAP_PATH}/{operation}/"
    if operation not in set(iter_routes()):
        raise ValueError(f"unknown operation {operation!r}")
    return rest_operation_prefix(operation)


def _own_wsdl() -> Path:
    # The package's own WSDL (written from the documentation), if installed;
    # read from disk so that `crmconnect.eboekhouden` (and zeep) is not imported.
    return Path(__file__).resolve().parent.parent / "eboekhouden" / "wsdl" / "soap.wsdl"


class EBoekhoudenSandbox:
    """An offline e-Boekhouden: SOAP at ``/soap.asmx`` and REST under ``/v1/``, one set of books.

    Checks the login and the session on every call, answers errors in-band
    (HTTP 200, ``ErrorMsg``) as the SOAP service does and as JSON error
    bodies with REST's codes on ``/v1/``, keeps GetMutaties' limit of
    500 mutations, and injects faults on request (`faults`, `fail_next`):
    latency, 500s, 503s, rate limits, and an "ambiguous write" (``"drop_after"``:
    the write is done, then the connection drops).

    Args:
        credentials: The accepted login; `DEMO_CREDENTIALS` when omitted.
        administrations: The administrations, each with its own books; the
            first is the one OpenSession opens, all are listed by
            GetAdministraties and can be opened with OpenSessionSub.
            `DEMO_ADMINISTRATION` when omitted.
        latency: Seconds added to every answer.
        rate_limit: Requests per second before 429 answers; none when ``None``.
        session_ttl: Seconds a session may stay idle before it expires; never
            when ``None``. Assumption: e-Boekhouden documents no lifetime.
        mutation_limit: The most mutations GetMutaties returns (500).
        limit_before_filter: Apply that limit to the whole administration before
            filtering (older mutations cannot be found at all), instead of to
            the matching mutations.
        reject_duplicate_invoices: Refuse a second invoice booking with the same
            relation and invoice number (``MUT_020``); off by default.
        clock: Monotonic clock in seconds (for session expiry in tests).

    Attributes:
        faults: Latency, rate limit and injected faults; change them any time.
        stats: Counters per operation (e.g. ``stats.requests["AddMutatie"]``).

    Example:
        ```python
        sandbox = EBoekhoudenSandbox()
        with sandbox.serve() as url:
            client = zeep.Client(wsdl_path)
            service = client.create_service(
                "{http://www.e-boekhouden.nl/soap}soapAppSoap", url + "/soap.asmx"
            )
            session = service.OpenSession("demo", "sandbox-code-1", "sandbox-code-2", "crm")
        ```
    """

    def __init__(
        self,
        credentials: EBoekhoudenCredentials | None = None,
        *,
        administrations: Iterable[AdministrationRecord] | None = None,
        latency: float = 0.0,
        rate_limit: float | None = None,
        session_ttl: float | None = None,
        mutation_limit: int = MUTATION_LIMIT,
        limit_before_filter: bool = False,
        reject_duplicate_invoices: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials or DEMO_CREDENTIALS
        infos = list(administrations) if administrations is not None else [DEMO_ADMINISTRATION]
        if not infos:
            raise ValueError("at least one administration is needed")
        self._books = {
            info.guid.casefold(): Bookkeeping(
                info, reject_duplicate_invoices=reject_duplicate_invoices
            )
            for info in infos
        }
        if len(self._books) != len(infos):
            raise ValueError("administration GUIDs must be unique")
        self._main = infos[0].guid.casefold()
        self.faults = Faults(latency=latency, rate_limit=rate_limit)
        self.stats = SandboxStats()
        self.session_ttl = session_ttl
        self.mutation_limit = mutation_limit
        self.limit_before_filter = limit_before_filter
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._sessions_opened = 0
        self._rest = RestApi(self)

    def __repr__(self) -> str:
        return (
            f"EBoekhoudenSandbox(credentials={self.credentials!r}, "
            f"administrations={len(self._books)}, faults={self.faults!r})"
        )

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
            A context manager yielding the root URL; SOAP is at ``<url>/soap.asmx``.
            The control endpoint ``/_control/`` is served too (loopback clients only).
        """
        from ._eboekhouden_accounts import EBoekhoudenControl  # builds on this module

        login = self.credentials
        directory = OneAccount(self, login.username, aliases=[login.access_token], fold=True)
        control = EBoekhoudenControl(directory)
        return serve(
            self, self.faults, host, port, stats=self.stats, allow_remote=allow_remote,
            control=control,
        )  # fmt: skip

    def requests_session(self) -> requests.Session:
        """A `requests.Session` answered in-process by this sandbox (for zeep's Transport).

        Every ``http://`` and ``https://`` URL goes to the sandbox, with the same
        faults and counters as `serve`: ``"drop"``/``"drop_after"`` raise
        `requests.ConnectionError` ("Remote end closed connection without
        response"), ``"timeout"`` raises `requests.ReadTimeout`.
        Needs ``requests``, which comes with the SOAP extra
        (``pip install 'crmconnect[eboekhouden]'``).

        Example:
            ```python
            transport = zeep.Transport(session=sandbox.requests_session())
            client = zeep.Client(wsdl_path, transport=transport)
            ```

        Raises:
            ConfigurationError: ``requests`` is not installed.
        """
        try:
            import requests
        except ImportError:
            missing = True
        else:
            missing = False
        if missing:  # raised outside the except: no ImportError chained
            raise ConfigurationError(
                "EBoekhoudenSandbox.requests_session() needs requests: "
                "pip install 'crmconnect[eboekhouden]' (the SOAP extra brings it)"
            )
        session = requests.Session()
        adapter = _requests_adapter(_Pipeline(self, self.faults, self.stats))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def fail_next(
        self, count: int = 1, kind: FaultKind = "500", operation: str | None = None
    ) -> None:
        """Queue faults for the next ``count`` calls (of one operation, if given).

        Example: ``sandbox.fail_next(1, "drop_after", "AddMutatie")``: the next
        AddMutatie is booked, but the client sees the connection drop; the same
        over REST: ``sandbox.fail_next(1, "drop_after", "POST /v1/mutation")``.

        Args:
            count: How many calls fail.
            kind: ``"500"``, ``"503"``, ``"timeout"``, ``"drop"`` or ``"drop_after"``.
            operation: Only calls of this SOAP operation, or of this REST
                endpoint (``"METHOD /v1/path"``); any request when ``None``.

        Raises:
            ValueError: For an unknown operation, a count below 1 or an unknown kind.
        """
        self.faults.fail_next(count, kind, path_prefix=operation_prefix(operation))

    # --- the data ------------------------------------------------------------------

    @property
    def administrations(self) -> list[AdministrationRecord]:
        """The administrations, the one OpenSession opens first."""
        return [books.info for books in self._books.values()]

    def books(self, guid: str | None = None) -> Bookkeeping:
        """The books of an administration (by GUID); the main one when omitted.

        Raises:
            KeyError: For an unknown GUID.
        """
        return self._books[guid.casefold() if guid else self._main]

    @property
    def relations(self) -> list[RelationRecord]:
        """The relations of the main administration."""
        return self.books().relations

    @property
    def mutations(self) -> list[MutationRecord]:
        """The mutations of the main administration, by number."""
        return self.books().mutations

    @property
    def ledgers(self) -> list[LedgerRecord]:
        """The chart of ledgers of the main administration."""
        return self.books().ledgers

    @property
    def cost_centres(self) -> list[CostCentreRecord]:
        """The cost centres of the main administration."""
        return self.books().cost_centres

    def open_items(
        self, kind: str = "Debiteuren", *, include_settled: bool = False, guid: str | None = None
    ) -> list[OpenItemRecord]:
        """Invoices minus payments, as GetOpenPosten computes them.

        Args:
            kind: ``"Debiteuren"`` or ``"Crediteuren"``.
            include_settled: Also list invoices paid in full.
            guid: The administration; the main one when omitted.
        """
        return self.books(guid).open_items(kind, include_settled=include_settled)

    def add_relation(
        self, code: str, company: str, *, guid: str | None = None, **values: str
    ) -> RelationRecord:
        """Add a relation directly (as AddRelatie would).

        Args:
            code: The unique relation code.
            company: The name (``Bedrijf``).
            guid: The administration; the main one when omitted.
            **values: Further fields by English name, e.g. ``city="Utrecht"``
                (see `RELATION_FIELDS`).

        Raises:
            InBandError: For what AddRelatie refuses (e.g. a taken code).
        """
        return self.books(guid).add_relation({"code": code, "company": company, **values})

    def add_mutation(
        self,
        kind: str,
        date: dt.date | None = None,
        *,
        lines: Iterable[LineRecord],
        ledger_code: str | None = None,
        relation_code: str | None = None,
        invoice_number: str | None = None,
        description: str | None = None,
        document: str | None = None,
        payment_term: str | None = None,
        payment_reference: str | None = None,
        in_ex_vat: str | None = "EX",
        guid: str | None = None,
    ) -> MutationRecord:
        """Book a mutation directly, with the checks of AddMutatie.

        Example:
            ```python
            sandbox.add_mutation(
                "FactuurVerstuurd", ledger_code="1300", relation_code="R1",
                invoice_number="F1", lines=[LineRecord.of("100", "HOOG_VERK_21", "8000")],
            )
            ```

        Args:
            kind: ``Soort``, e.g. ``"FactuurVerstuurd"``.
            date: The booking date; today when omitted.
            lines: The lines (see `LineRecord.of`).
            ledger_code: ``Rekening``: debtors, creditors or bank ledger.
            relation_code: ``RelatieCode``.
            invoice_number: ``Factuurnummer``.
            description: ``Omschrijving``.
            document: ``Boekstuk``.
            payment_term: ``Betalingstermijn`` (days).
            payment_reference: ``Betalingskenmerk``.
            in_ex_vat: ``"IN"``, ``"EX"`` or ``None``.
            guid: The administration; the main one when omitted.

        Returns:
            The booked mutation, with its number.

        Raises:
            InBandError: For what AddMutatie refuses.
        """
        draft = MutationRecord(
            0,
            kind,
            date or dt.date.today(),
            ledger_code=ledger_code,
            relation_code=relation_code,
            invoice_number=invoice_number,
            document=document,
            description=description,
            payment_term=payment_term,
            payment_reference=payment_reference,
            in_ex_vat=in_ex_vat,
            lines=tuple(lines),
        )
        return self.books(guid).book(draft)

    def pay(
        self,
        invoice_number: str,
        amount: Decimal | str | int,
        date: dt.date | None = None,
        relation_code: str | None = None,
        *,
        guid: str | None = None,
    ) -> MutationRecord:
        """Register a payment on an invoice, so it turns partly paid or paid.

        Books ``FactuurbetalingOntvangen`` (sales) or ``FactuurbetalingVerstuurd``
        (purchases) from the bank ledger, as a bank import would.

        Args:
            invoice_number: The invoice paid.
            amount: The amount paid, incl. VAT.
            date: The payment date; today when omitted.
            relation_code: Needed only when several relations have this invoice number.
            guid: The administration; the main one when omitted.

        Returns:
            The payment mutation.

        Raises:
            KeyError: No such invoice.
            ValueError: The invoice number is ambiguous without ``relation_code``.
        """
        return self.books(guid).pay(invoice_number, amount, date, relation_code)

    # --- sessions ------------------------------------------------------------------

    @property
    def open_sessions(self) -> int:
        """Sessions open now (not closed, not expired)."""
        with self._lock:
            self._drop_expired()
            return len(self._sessions)

    @property
    def sessions_opened(self) -> int:
        """Sessions opened since the start (OpenSession and OpenSessionSub)."""
        with self._lock:
            return self._sessions_opened

    def expire_sessions(self) -> int:
        """End every open session, as if it timed out; returns how many.

        The next call with one of them gets the in-band session error
        (``SECURITY_002``); a client should open a new session and go on.
        """
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
            return count

    def _drop_expired(self) -> None:
        if self.session_ttl is None:
            return
        now = self._clock()
        for session_id, session in list(self._sessions.items()):
            if now - session.last_used > self.session_ttl:
                del self._sessions[session_id]

    def _new_session(self, guid: str, kind: Literal["soap", "rest"] = "soap") -> str:
        session_id = secrets.token_hex(16).upper() if kind == "soap" else secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session_id] = _Session(guid, self._clock(), kind)
            self._sessions_opened += 1
        return session_id

    def _holds_session(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._sessions

    def _rest_books(self, token: str) -> Bookkeeping:
        """The books of a REST session token; ``SECURITY_010`` when unknown or expired."""
        with self._lock:
            self._drop_expired()
            session = self._sessions.get(token) if token else None
            if session is None or session.kind != "rest":
                raise InBandError.of("SECURITY_010")
            session.last_used = self._clock()
            return self._books[session.guid]

    def _end_rest_session(self, token: str) -> None:
        with self._lock:
            session = self._sessions.get(token)
            if session is not None and session.kind == "rest":
                del self._sessions[token]

    def _login(self, args: _Node) -> None:
        """Check username and both security codes (constant-time for the codes).

        Assumption: the username is compared case-insensitively, the codes exactly.
        """
        expected = self.credentials
        given_user = (_string(args, "Username") or "").strip()
        given_1 = (_string(args, "SecurityCode1") or "").encode()
        given_2 = (_string(args, "SecurityCode2") or "").encode()
        good = [
            given_user.casefold() == expected.username.casefold(),
            hmac.compare_digest(given_1, expected.security_code_1.encode()),
            hmac.compare_digest(given_2, expected.security_code_2.encode()),
        ]
        if not all(good):
            raise InBandError.of("SECURITY_010")

    def _session_books(self, args: _Node) -> Bookkeeping:
        session_id = _string(args, "SessionID") or ""
        with self._lock:
            self._drop_expired()
            session = self._sessions.get(session_id)
            if session is None or session.kind != "soap":
                raise InBandError.of("SECURITY_002")
            session.last_used = self._clock()
        code_2 = (_string(args, "SecurityCode2") or "").encode()
        if not hmac.compare_digest(code_2, self.credentials.security_code_2.encode()):
            raise InBandError.of("SECURITY_001")
        return self._books[session.guid]

    # --- the Handler protocol ------------------------------------------------------

    def __call__(self, request: SandboxRequest) -> SandboxResponse:
        """Answer one request as e-Boekhouden's SOAP service would."""
        try:
            return self._answer(request)
        except _SoapFault as fault:
            return _fault_response(fault)
        except Exception as error:  # a sandbox bug: answer as ASP.NET would
            version: SoapVersion = (
                "1.2" if "soap+xml" in request.headers.get("Content-Type", "") else "1.1"
            )
            text = f"Server was unable to process request. ---> {type(error).__name__}"
            return _fault_response(_SoapFault(text, sender=False, version=version))

    def render_error(
        self, request: SandboxRequest, status: int, retry_after: int | None = None
    ) -> SandboxResponse:
        """Answer an injected error: REST's JSON error, a SOAP fault for 500, else IIS's page."""
        if request.path.startswith(REST_PREFIX):
            body: dict[str, object] = {"type": "error", "title": HTTPStatus(status).phrase}
            if status == 500:
                body.update(code="ERR_001", title="Something went wrong.")
            headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
            return SandboxResponse.from_json(status, {**body, "status": status}, headers=headers)
        if status == 500 and request.method == "POST":
            version: SoapVersion = (
                "1.2" if "soap+xml" in request.headers.get("Content-Type", "") else "1.1"
            )
            text = "Server was unable to process request. ---> Er is een interne fout opgetreden."
            return _fault_response(_SoapFault(text, sender=False, version=version))
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        return _plain(status, headers=headers)

    def route_path(self, request: SandboxRequest) -> str:
        """The path faults and counters see: ``/soap.asmx/<Operation>/`` for SOAP calls.

        REST calls: ``<path>/<METHOD>/``, e.g. ``/v1/mutation/POST/``.
        """
        if request.path.startswith(REST_PREFIX):
            return rest_route_path(request)
        if request.method == "POST" and request.path.lower() == SOAP_PATH:
            operation = _action(request)
            if operation:
                return f"{SOAP_PATH}/{operation}/"
        return request.path

    def path_family(self, path: str) -> str:
        """Name the counter of a (route) path: the SOAP operation, e.g. ``"AddMutatie"``.

        REST calls are counted as ``"POST /v1/mutation"``, ``"GET /v1/relation/{id}"``.
        """
        if path.startswith(REST_PREFIX):
            return rest_family(path, default_path_family)
        if path.startswith(SOAP_PATH + "/"):
            return path[len(SOAP_PATH) + 1 :].strip("/") or "soap"
        if path.lower() == SOAP_PATH:
            return "soap"
        return default_path_family(path)

    # --- answering -----------------------------------------------------------------

    def _answer(self, request: SandboxRequest) -> SandboxResponse:
        if request.path.startswith(REST_PREFIX):
            return self._rest(request)
        if request.path.lower() != SOAP_PATH:
            return _plain(404, "The resource cannot be found.")
        if request.method == "GET" and any(k.lower() == "wsdl" for k, _ in request.query):
            return self._wsdl(request)
        if request.method != "POST":
            return _plain(405, headers=[("Allow", "POST")])
        content_type = request.headers.get("Content-Type", "").lower()
        if content_type.startswith("text/xml"):
            version: SoapVersion = "1.1"
        elif content_type.startswith("application/soap+xml"):
            version = "1.2"
        else:
            return _plain(415)
        try:
            operation, args = self._read(request, version)
            if operation == "CloseSession":
                self._close_session(args)
                body = f'<CloseSessionResponse xmlns="{SOAP_NAMESPACE}" />'
            else:
                body = self._result(operation, _OPERATIONS[operation], args)
        except _SoapFault as fault:
            fault.version = version  # answer in the request's SOAP version
            raise
        headers = [("Content-Type", _CONTENT_TYPES[version]), ("Cache-Control", "private")]
        return SandboxResponse(200, headers, _envelope(version, body))

    def _read(self, request: SandboxRequest, version: SoapVersion) -> tuple[str, _Node]:
        root = _parse_xml(request.body)
        envelope = _ENV11 if version == "1.1" else _ENV12
        if root.tag not in (f"{{{_ENV11}}}Envelope", f"{{{_ENV12}}}Envelope"):
            raise _read_error("The root element is not a SOAP envelope.")
        if root.tag != f"{{{envelope}}}Envelope":
            raise _SoapFault("Possible SOAP version mismatch: Envelope namespace was unexpected.")
        body = next((n for n in root.children if n.tag == f"{{{envelope}}}Body"), None)
        call = body.children[0] if body is not None and body.children else None
        if call is None or not call.tag.startswith(f"{{{SOAP_NAMESPACE}}}"):
            raise _read_error("The SOAP body has no element of the e-Boekhouden namespace.")
        action = _action(request)
        if action is None and version == "1.2":
            action = call.local  # SOAP 1.2 may leave the action out
        if action not in _OPERATIONS:
            raise _SoapFault(
                f"Server did not recognize the value of HTTP Header SOAPAction: {action or ''}."
            )
        if call.local != action:
            raise _read_error(f"<{call.local} xmlns='{SOAP_NAMESPACE}'> was not expected.")
        return action, call

    def _result(self, operation: str, spec: _OperationSpec, args: _Node) -> str:
        error: InBandError | None = None
        fields: _Fields = []
        try:
            if spec.method is None:
                raise InBandError.of("SANDBOX_001", operation=operation)
            books = self._session_books(args) if spec.session else self.books()
            method: _Operation = getattr(type(self), spec.method)
            fields = method(self, args, books)
        except InBandError as refused:
            error, fields = refused, list(spec.error_tail)
        out = [f'<{operation}Response xmlns="{SOAP_NAMESPACE}">']
        result = (
            _error_fields(error)
            if spec.bare_error
            else [("ErrorMsg", _error_fields(error)), *fields]
        )
        _render([(f"{operation}Result", result)], out)
        out.append(f"</{operation}Response>")
        return "".join(out)

    def _wsdl(self, request: SandboxRequest) -> SandboxResponse:
        """The package's own WSDL with its address pointed here (404 when not installed)."""
        path = _own_wsdl()
        if not path.is_file():
            return _plain(404, "The resource cannot be found.")
        text = path.read_text("utf-8")
        text = re.sub(
            r'(<[\w.-]+:address\s+location=")[^"]*(")',
            lambda m: f"{m.group(1)}{request.base_url}{SOAP_PATH}{m.group(2)}",
            text,
        )
        return SandboxResponse(
            200, [("Content-Type", "text/xml; charset=utf-8")], text.encode("utf-8")
        )

    # --- operations (args: the request element; books: the session's administration) ---

    def _open_session(self, args: _Node, books: Bookkeeping) -> _Fields:
        self._login(args)
        return [("SessionID", self._new_session(self._main))]

    def _open_session_sub(self, args: _Node, books: Bookkeeping) -> _Fields:
        self._login(args)
        guid = (_string(args, "AdministratieGUID") or "").strip().casefold()
        if guid not in self._books:
            raise InBandError.of("SECURITY_003", guid=_string(args, "AdministratieGUID") or "")
        return [("SessionID", self._new_session(guid))]

    def _close_session(self, args: _Node) -> None:
        # CloseSessionResponse is empty: an unknown session cannot even be reported.
        with self._lock:
            self._sessions.pop(_string(args, "SessionID") or "", None)

    def _get_administraties(self, args: _Node, books: Bookkeeping) -> _Fields:
        entries = [
            [
                ("Bedrijf", info.company),
                ("Plaats", info.city),
                ("Guid", info.guid),
                ("StartBoekjaar", info.first_year),
            ]
            for info in self.administrations
        ]
        return [("Administraties", _Items("cAdministratie", entries))]

    def _relation_input(self, args: _Node) -> tuple[_Node, dict[str, str]]:
        relation = args.child("oRel")
        if relation is None or relation.nil:
            raise InBandError.of("ERR_002", detail="oRel ontbreekt")
        values = {}
        for name, wire in RELATION_FIELDS:
            value = _string(relation, wire)
            if value is not None:
                values[name] = value
        return relation, values

    def _add_relatie(self, args: _Node, books: Bookkeeping) -> _Fields:
        relation, values = self._relation_input(args)
        added = _datetime(relation, "AddDatum")
        stored = books.add_relation(
            values,
            # .NET: a missing AddDatum is DateTime.MinValue.
            # Assumption: the service then stores today.
            added=added if added is not None and added.year > 1 else None,
            ledger_id=_long(relation, "Gb_ID"),
            no_newsletter=_long(relation, "GeenEmail"),
            newsletter_groups=_long(relation, "NieuwsbriefgroepenCount"),
        )
        return [("Rel_ID", stored.id)]

    def _update_relatie(self, args: _Node, books: Bookkeeping) -> _Fields:
        relation, values = self._relation_input(args)
        books.update_relation(
            _long(relation, "ID"),
            values,
            ledger_id=_long(relation, "Gb_ID"),
            no_newsletter=_long(relation, "GeenEmail"),
            newsletter_groups=_long(relation, "NieuwsbriefgroepenCount"),
        )
        return []

    def _get_relaties(self, args: _Node, books: Bookkeeping) -> _Fields:
        search = args.child("cFilter")
        found = books.find_relations(
            keyword=_string(search, "Trefwoord"),
            code=_string(search, "Code"),
            relation_id=_long(search, "ID"),
        )
        return [("Relaties", _Items("cRelatie", [_relation_fields(r) for r in found]))]

    def _add_mutatie(self, args: _Node, books: Bookkeeping) -> _Fields:
        mutation = args.child("oMut")
        if mutation is None or mutation.nil:
            raise InBandError.of("ERR_002", detail="oMut ontbreekt")
        rows = mutation.child("MutatieRegels")
        lines = [
            LineRecord(
                amount_entered=_decimal(row, "BedragInvoer"),
                amount_excl=_decimal(row, "BedragExclBTW"),
                vat_amount=_decimal(row, "BedragBTW"),
                amount_incl=_decimal(row, "BedragInclBTW"),
                vat_code=_string(row, "BTWCode") or "",
                vat_percentage=_decimal(row, "BTWPercentage"),
                ledger_code=_string(row, "TegenrekeningCode") or "",
                cost_centre_id=_long(row, "KostenplaatsID"),
            )
            for row in (rows.all("cMutatieRegel") if rows is not None else [])
            if not row.nil
        ]
        draft = MutationRecord(
            0,  # MutatieNr is ignored on input (peers send 0 or 99999)
            # A missing Soort is .NET's default: the first value, OpeningsSaldo.
            _enum(mutation, "Soort", MUTATION_KINDS, "enMutatieSoorten"),
            _date(mutation, "Datum"),
            ledger_code=_string(mutation, "Rekening") or None,
            relation_code=_string(mutation, "RelatieCode") or None,
            invoice_number=_string(mutation, "Factuurnummer") or None,
            document=_string(mutation, "Boekstuk") or None,
            description=_string(mutation, "Omschrijving") or None,
            payment_term=_string(mutation, "Betalingstermijn") or None,
            payment_reference=_string(mutation, "Betalingskenmerk") or None,
            in_ex_vat=_string(mutation, "InExBTW") or None,
            lines=lines,
        )
        return [("Mutatienummer", books.book(draft).number)]

    def _get_mutaties(self, args: _Node, books: Bookkeeping) -> _Fields:
        search = args.child("cFilter")
        # Absent numbers are .NET's 0 and absent dates DateTime.MinValue: no filter.
        found = books.find_mutations(
            number=_long(search, "MutatieNr"),
            number_from=_long(search, "MutatieNrVan") or None,
            number_to=_long(search, "MutatieNrTm") or None,
            invoice_number=_string(search, "Factuurnummer") or None,
            date_from=_date(search, "DatumVan"),
            date_to=_date(search, "DatumTm"),
            limit=self.mutation_limit,
            limit_before_filter=self.limit_before_filter,
        )
        return [("Mutaties", _Items("cMutatieList", [_mutation_fields(m) for m in found]))]

    def _get_open_posten(self, args: _Node, books: Bookkeeping) -> _Fields:
        kind = _enum(args, "OpSoort", OPEN_ITEM_KINDS, "enOpenpostenSoort")
        items = [_open_item_fields(item) for item in books.open_items(kind)]
        return [("Openposten", _Items("cOpenPost", items))]

    def _get_grootboekrekeningen(self, args: _Node, books: Bookkeeping) -> _Fields:
        search = args.child("cFilter")
        ledger_id = _long(search, "ID")
        code = _string(search, "Code")
        category = (_string(search, "Categorie") or "").casefold()
        entries = [
            [
                ("ID", ledger.id),
                ("Code", ledger.code),
                ("Omschrijving", ledger.description),
                ("Categorie", ledger.category),
                ("Groep", ledger.group),
            ]
            for ledger in books.ledgers
            if (not ledger_id or ledger.id == ledger_id)
            and (not code or ledger.code == code)
            and (not category or ledger.category.casefold() == category)
        ]
        return [("Rekeningen", _Items("cGrootboekrekening", entries))]

    def _get_kostenplaatsen(self, args: _Node, books: Bookkeeping) -> _Fields:
        # Assumption: 0 (or absent) means "any" for both IDs; Omschrijving matches a part.
        search = args.child("cFilter")
        centre_id = _long(search, "KostenplaatsID")
        parent_id = _long(search, "KostenplaatsParentID")
        text = (_string(search, "Omschrijving") or "").casefold()
        entries = [
            [
                ("KostenplaatsId", centre.id),
                ("Omschrijving", centre.description),
                ("KostenplaatsParentId", centre.parent_id),
            ]
            for centre in books.cost_centres
            if (not centre_id or centre.id == centre_id)
            and (not parent_id or centre.parent_id == parent_id)
            and text in centre.description.casefold()
        ]
        return [("Kostenplaatsen", _Items("cKostenplaats", entries))]

    def _get_saldo(self, args: _Node, books: Bookkeeping) -> _Fields:
        search = args.child("cFilter")
        balance = books.balance(
            _string(search, "GbCode") or "",
            cost_centre_id=_long(search, "KostenPlaatsId"),
            date_from=_date(search, "DatumVan"),
            date_to=_date(search, "DatumTot"),
        )
        return [("Saldo", balance)]  # xsd:double on the wire

    def _get_saldi(self, args: _Node, books: Bookkeeping) -> _Fields:
        search = args.child("cFilter")
        balances = books.balances(
            category=_string(search, "Categorie") or None,
            cost_centre_id=_long(search, "KostenPlaatsId"),
            date_from=_date(search, "DatumVan"),
            date_to=_date(search, "DatumTot"),
        )
        entries = [
            [
                ("ID", ledger.id),
                ("Code", ledger.code),
                ("Categorie", ledger.category),
                ("Saldo", amount),
            ]
            for ledger, amount in balances
        ]
        return [("Saldi", _Items("cSaldo", entries))]


# --- requests (zeep's HTTP library) -------------------------------------------------------


def _requests_adapter(pipeline: _Pipeline) -> requests.adapters.BaseAdapter:
    """A requests transport adapter that answers through the sandbox pipeline."""
    import http.client

    import requests
    import requests.adapters
    import requests.structures
    import requests.utils
    import urllib3.exceptions

    class SandboxAdapter(requests.adapters.BaseAdapter):
        def send(
            self,
            request: requests.PreparedRequest,
            stream: bool = False,
            timeout: Any = None,
            verify: Any = True,
            cert: Any = None,
            proxies: Any = None,
        ) -> requests.Response:
            split = urllib.parse.urlsplit(request.url or "")
            body = request.body or b""
            if not isinstance(body, str | bytes):
                raise TypeError("the e-Boekhouden sandbox takes request bodies as bytes or str")
            outcome = pipeline.process(
                SandboxRequest(
                    method=(request.method or "GET").upper(),
                    path=urllib.parse.unquote(split.path) or "/",
                    query=urllib.parse.parse_qsl(split.query, keep_blank_values=True),
                    headers=[
                        (name, value.decode("latin-1") if isinstance(value, bytes) else value)
                        for name, value in request.headers.items()
                    ],
                    body=body.encode() if isinstance(body, str) else body,
                    scheme=split.scheme or "http",
                    host=split.netloc,
                )
            )
            if outcome.delay > 0:
                time.sleep(outcome.delay)
            if outcome.failure == "timeout":
                raise requests.exceptions.ReadTimeout(
                    "sandbox: injected read timeout", request=request
                )
            if outcome.failure == "drop":
                reason = http.client.RemoteDisconnected(
                    "Remote end closed connection without response"
                )
                raise requests.exceptions.ConnectionError(
                    urllib3.exceptions.ProtocolError("Connection aborted.", reason),
                    request=request,
                )
            assert outcome.response is not None
            answer = outcome.response
            response = requests.Response()
            response.status_code = answer.status
            response.reason = HTTPStatus(answer.status).phrase
            response.headers = requests.structures.CaseInsensitiveDict(answer.headers.raw)
            response.encoding = requests.utils.get_encoding_from_headers(response.headers)
            response.raw = io.BytesIO(answer.body)
            response.url = request.url or ""
            response.request = request
            response._content = answer.body
            return response

        def close(self) -> None:
            """Nothing to release."""

    return SandboxAdapter()
