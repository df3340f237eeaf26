r"""The REST API v1 of the e-Boekhouden sandbox (``/v1/...``), over the same books as SOAP.

`RestApi` answers what ``api.e-boekhouden.nl`` answers for the endpoints
crmconnect uses (eboekhouden.md §2): the session (``POST``/``DELETE
/v1/session``), relations, mutations, outstanding invoices, ledgers with
their balances, cost centres and administrations. Conventions reproduced:

* camelCase JSON, dates ``YYYY-MM-DD``, amounts as JSON numbers;
* paging by ``limit`` (1..2000, default 100) and ``offset``; lists are
  ``{"items": [...], "count": N}``;
* filters ``name=value`` and ``name[op]=value`` (``not_eq``, ``like``,
  ``not_like``, ``gt``, ``gte``, ``lt``, ``lte``, ``range``), one per parameter;
  ``%`` and ``?`` are the wildcards of ``like``, ``\`` escapes them;
* errors as ``{"type", "code", "title", "message", "propertyName", "status",
  "traceId"}`` with the REST codes (``REL_049``, ``MUT_020``, ``SECURITY_010``, ...);
* numeric IDs of ledgers and relations where SOAP takes codes; mutation list
  items without rows; a row carries one amount, the VAT is computed here.

Assumptions (the real behaviour is not documented): statuses 200 for reads
and creates, 204 for PATCH and DELETE, 400 for validation, 401 for
``SECURITY_010``, 403 for other security codes and 404 for records not found;
string filters compare case-insensitively; relation list items carry every
field of the relation; ``MUT_020`` refuses a second invoice booking of the same
relation and invoice number; the texts are the sandbox's own.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ._core import SandboxRequest, SandboxResponse
from ._eboekhouden_data import (
    VAT_CODES,
    Bookkeeping,
    InBandError,
    LedgerRecord,
    LineRecord,
    MutationRecord,
    RelationRecord,
)

if TYPE_CHECKING:
    from ._eboekhouden import EBoekhoudenSandbox

__all__ = ["REST_PREFIX", "RestApi"]

REST_PREFIX = "/v1/"
"""Where the REST API answers (as ``https://api.e-boekhouden.nl/v1/``)."""

_MAX_LIMIT = 2000
_MAX_AMOUNT = Decimal(10) ** 15
_SOURCE = re.compile(r"^[\w ]{1,10}$")

_RELATION_JSON: tuple[tuple[str, str], ...] = (
    ("code", "code"),
    ("type", "type"),
    ("name", "company"),
    ("contact", "contact_person"),
    ("gender", "gender"),
    ("salutation", "salutation"),
    ("address", "address"),
    ("postalCode", "postcode"),
    ("city", "city"),
    ("country", "country"),
    ("address2", "postal_address"),
    ("postalCode2", "postal_postcode"),
    ("city2", "postal_city"),
    ("country2", "postal_country"),
    ("phoneNumber", "phone"),
    ("mobilePhoneNumber", "mobile"),
    ("faxNumber", "fax"),
    ("emailAddress", "email"),
    ("website", "website"),
    ("note", "note"),
    ("vatNumber", "vat_number"),
    ("companyRegistrationNumber", "kvk_number"),
    ("iban", "iban"),
    ("bic", "bic"),
    *((f"freeText{n}", f"def{n}") for n in range(1, 11)),
)
"""REST JSON name → the books' field name (CreateRelation, eboekhouden.md §2.4)."""

_KINDS: Mapping[int, str] = {
    1: "FactuurOntvangen",
    2: "FactuurVerstuurd",
    3: "FactuurbetalingOntvangen",
    4: "FactuurbetalingVerstuurd",
    5: "GeldOntvangen",
    6: "GeldUitgegeven",
    7: "Memoriaal",
}
"""REST mutation ``type`` → SOAP ``Soort`` (the same seven, in order)."""
_TYPES = {kind: number for number, kind in _KINDS.items()}
_PAYMENT_TYPES = frozenset({3, 4})
_INVOICE_TYPES = frozenset({1, 2})

_PROPERTY_OF_CODE: Mapping[str, str] = {
    "REL_001": "type", "REL_002": "name", "REL_004": "gender", "REL_005": "code",
    "REL_006": "code", "REL_049": "code", "REL_048": "ledgerId", "MUT_001": "type",
    "MUTA_002": "type", "MUTA_009": "type", "MUT_002": "invoiceNumber", "MUT_003": "date",
    "MUT_004": "date", "MUTA_001": "ledgerId", "MUT_007": "ledgerId", "MUT_009": "ledgerId",
    "MUT_010": "ledgerId", "MUT_011": "ledgerId", "MUT_012": "relationId",
    "MUT_013": "relationId", "MUT_017": "inExVat", "MUT_026": "inExVat",
    "MUT_020": "invoiceNumber", "MUT_100": "rows", "MUT_104": "rows.ledgerId",
    "MUT_106": "rows.ledgerId", "MUT_107": "rows.ledgerId", "MUT_108": "rows.ledgerId",
    "MUT_109": "rows.vatCode", "MUT_110": "rows.vatCode", "MUT_111": "rows.vatCode",
    "MUT_115": "rows.invoiceNumber", "MUT_117": "rows.costCenterId",
    "MUT_120": "rows.invoiceNumber", "MUTA_006": "credDeb", "MUTA_007": "credDeb",
}  # fmt: skip
"""The property an error code refuses, sent as ``propertyName``."""

_REST_TEXTS: Mapping[str, str] = {
    "API_SESSION_001": "Source is missing.",
    "API_SESSION_002": "Source does not match pattern.",
    "API_SESSION_003": "Access token is missing or empty.",
    "SECURITY_010": "Not authenticated. Check your Authorization header.",
    "EP_001": "This endpoint is only available to accountants.",
    "PAGE_001": "Limit must be between 1 and 2000.",
    "PAGE_002": "Offset must be greater than or equal to 0.",
    "MUTA_002": "Type is missing",
    "MUTA_004": "Ledger ID for row is missing.",
    "MUTA_006": "Credit/Debit is missing.",
    "MUTA_007": "Credit/Debit must be 'C' or 'D'.",
    "MUTA_009": "Type is unknown.",
    "MUT_004": "Date is invalid.",
    "MUT_300": "Mutation not found.",
    "DATA_01": "No content body provided.",
    "ERR_001": "Something went wrong.",
}
"""Texts of the codes only the REST layer raises (the API description's wording)."""
_NOT_FOUND = frozenset({"REL_055", "MUT_300"})


class _Refusal(Exception):
    """An error answer of the REST API."""

    def __init__(self, code: str, text: str | None = None, *, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.text = text or _REST_TEXTS.get(code, code)
        self.status = status

    @classmethod
    def of(cls, error: InBandError) -> _Refusal:
        status = 404 if error.code in _NOT_FOUND else 400
        if error.code.startswith("SECURITY_"):
            status = 401 if error.code == "SECURITY_010" else 403
        # REST's own wording where it has one: the SOAP text of SECURITY_010
        # speaks of a username and security codes, which REST does not have.
        return cls(error.code, _REST_TEXTS.get(error.code, error.text), status=status)


def _error_body(refusal: _Refusal) -> dict[str, Any]:
    security = refusal.code.startswith(("SECURITY_", "API_SESSION_", "EP_"))
    body: dict[str, Any] = {
        "type": "security" if security else "validation",
        **({"code": refusal.code} if refusal.code else {}),
        "title": refusal.text,
        "status": refusal.status,
        "traceId": secrets.token_hex(8),
    }
    if refusal.code in _PROPERTY_OF_CODE:
        body["propertyName"] = _PROPERTY_OF_CODE[refusal.code]
    return body


def _number(amount: Decimal) -> float:
    """A cent amount as a JSON number (its shortest float text is the same decimal)."""
    return float(amount)


# --- filters and paging --------------------------------------------------------------------

_FILTER = re.compile(r"^(?P<name>[A-Za-z0-9]+)(?:\[(?P<op>[a-z_]+)\])?$")
_STRING_OPS = frozenset({"eq", "not_eq", "like", "not_like"})
_ORDERED_OPS = frozenset({"eq", "not_eq", "gt", "gte", "lt", "lte", "range"})


@attrs.frozen
class _Filter:
    name: str
    op: str
    value: str


def _filters(request: SandboxRequest, allowed: Mapping[str, str]) -> dict[str, _Filter]:
    """The filters of a listing by parameter; ``allowed``: name → ``"string"|"number"|"date"``."""
    found: dict[str, _Filter] = {}
    for key, value in request.query:
        match = _FILTER.match(key)
        if match is None or key in ("limit", "offset"):
            continue
        name, op = match["name"], match["op"] or "eq"
        kind = allowed.get(name)
        if kind is None:
            continue  # unknown parameters are ignored, as ASP.NET model binding does
        ops = _STRING_OPS if kind == "string" else _ORDERED_OPS
        if op not in ops or name in found:
            detail = f"only one filter per parameter; {op!r} for {name}"
            raise _Refusal("ERR_002", f"Your request contains an invalid value: {detail}.")
        found[name] = _Filter(name, op, value)
    return found


def _like(pattern: str) -> re.Pattern[str]:
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _matches_text(value: str | None, filter_: _Filter) -> bool:
    text = value or ""
    if filter_.op in ("like", "not_like"):
        hit = _like(filter_.value).fullmatch(text) is not None
        return hit if filter_.op == "like" else not hit
    same = text.casefold() == filter_.value.casefold()
    return same if filter_.op == "eq" else not same


def _ordered(raw: str, kind: str, name: str) -> Any:
    try:
        return dt.date.fromisoformat(raw) if kind == "date" else int(raw)
    except ValueError:
        raise _Refusal(
            "ERR_002", f"Your request contains an invalid value: {name}={raw!r}."
        ) from None


def _matches_ordered(value: Any, filter_: _Filter, kind: str) -> bool:
    if value is None:
        return filter_.op == "not_eq"
    if filter_.op == "range":
        low, _, high = filter_.value.partition(",")
        start, end = _ordered(low, kind, filter_.name), _ordered(high, kind, filter_.name)
        return bool(start <= value <= end)
    wanted = _ordered(filter_.value, kind, filter_.name)
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b,
        "not_eq": lambda a, b: a != b,
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return compare[filter_.op](value, wanted)


def _page(request: SandboxRequest, items: Sequence[dict[str, Any]]) -> SandboxResponse:
    limit = _int_param(request, "limit", 100)
    offset = _int_param(request, "offset", 0)
    if not 1 <= limit <= _MAX_LIMIT:
        raise _Refusal("PAGE_001")
    if offset < 0:
        raise _Refusal("PAGE_002")
    return _ok({"items": list(items[offset : offset + limit]), "count": len(items)})


def _int_param(request: SandboxRequest, name: str, default: int) -> int:
    values = request.params(name)
    if not values:
        return default
    try:
        return int(values[-1])
    except ValueError:
        raise _Refusal("ERR_002", f"Your request contains an invalid value: {name}.") from None


def _ok(data: Any, status: int = 200) -> SandboxResponse:
    return SandboxResponse.from_json(status, data, content_type="application/json; charset=utf-8")


def _no_content() -> SandboxResponse:
    return SandboxResponse(204)


# --- records as JSON ---------------------------------------------------------------------------


def _relation_json(relation: RelationRecord) -> dict[str, Any]:
    data: dict[str, Any] = {"id": relation.id, "date": relation.added.date().isoformat()}
    for json_name, field in _RELATION_JSON:
        value = relation.values.get(field)
        if value not in (None, ""):
            data[json_name] = value
    data.setdefault("type", "B")
    data["ledgerId"] = relation.ledger_id or None
    data["doNotReceiveNewsletters"] = bool(relation.no_newsletter)
    return data


def _ledger_json(ledger: LedgerRecord) -> dict[str, Any]:
    return {
        "id": ledger.id,
        "code": ledger.code,
        "description": ledger.description,
        "category": ledger.category,
        "group": ledger.group or None,
    }


@attrs.define
class _Body:
    """A JSON request body, read with the API's error codes."""

    data: dict[str, Any]

    @classmethod
    def read(cls, request: SandboxRequest) -> _Body:
        if not request.body.strip():
            raise _Refusal("DATA_01")
        try:
            data = json.loads(request.body, parse_float=Decimal)
        except (ValueError, RecursionError):  # not JSON, bad UTF-8, nested too deep
            raise _Refusal("ERR_002", "Your request contains an invalid value: not JSON.") from None
        if not isinstance(data, dict):
            raise _Refusal("ERR_002", "Your request contains an invalid value: not an object.")
        return cls(data)

    def text(self, name: str) -> str | None:
        value = self.data.get(name)
        return None if value is None else str(value)

    def int(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _Refusal("ERR_002", f"Your request contains an invalid value: {name}.")
        try:
            return int(value)
        except ValueError:
            raise _Refusal("ERR_002", f"Your request contains an invalid value: {name}.") from None


def _amount(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise _Refusal("ERR_002", f"Your request contains an invalid value: {name}.")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = Decimal("NaN")
    # Assumption: the service keeps amounts in a decimal column; far beyond any
    # booking (or not a number) is refused like any invalid value.
    if not amount.is_finite() or abs(amount) >= _MAX_AMOUNT:
        raise _Refusal("ERR_002", f"Your request contains an invalid value: {name}.")
    return amount


# --- the API -------------------------------------------------------------------------------------

_Route = Callable[["RestApi", SandboxRequest, Bookkeeping, str], SandboxResponse]


class RestApi:
    """The REST endpoints of one `EBoekhoudenSandbox`: same books, sessions and faults.

    Args:
        sandbox: The sandbox whose credentials, sessions and books are used.
    """

    def __init__(self, sandbox: EBoekhoudenSandbox) -> None:
        self.sandbox = sandbox

    def __call__(self, request: SandboxRequest) -> SandboxResponse:
        """Answer one request under ``/v1/``."""
        try:
            return self._answer(request)
        except _Refusal as refusal:
            return _ok(_error_body(refusal), refusal.status)
        except InBandError as error:
            refused = _Refusal.of(error)
            return _ok(_error_body(refused), refused.status)

    def _answer(self, request: SandboxRequest) -> SandboxResponse:
        path = request.path.rstrip("/")
        if path == "/v1/session":
            if request.method == "POST":
                return self._open_session(request)
            if request.method == "DELETE":
                self.sandbox._end_rest_session(_bearer(request))
                return _no_content()
        for pattern, method, route in _ROUTES:
            found = pattern.fullmatch(path)
            if found is not None and request.method == method:
                books = self.sandbox._rest_books(_bearer(request))
                with books.lock:
                    return route(self, request, books, found.groupdict().get("id") or "")
        if any(pattern.fullmatch(path) for pattern, _method, _route in _ROUTES):
            return _ok({"type": "validation", "title": "Method Not Allowed", "status": 405}, 405)
        return _ok({"type": "validation", "title": "Not Found", "status": 404}, 404)

    # -- session --------------------------------------------------------------------

    def _open_session(self, request: SandboxRequest) -> SandboxResponse:
        body = _Body.read(request)
        source = body.text("source")
        if not source:
            raise _Refusal("API_SESSION_001")
        if not _SOURCE.match(source):
            raise _Refusal("API_SESSION_002")
        token = body.text("accessToken") or ""
        if not token:
            raise _Refusal("API_SESSION_003")
        expected = self.sandbox.credentials.access_token or ""
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise _Refusal(
                "SECURITY_010", "Not authenticated. The access token is unknown.", status=401
            )
        session = self.sandbox._new_session(self.sandbox.books().info.guid.casefold(), "rest")
        ttl = self.sandbox.session_ttl
        return _ok({"token": session, "expiresIn": int(ttl) if ttl is not None else 3600})

    # -- relations ------------------------------------------------------------------

    def _list_relations(
        self, request: SandboxRequest, books: Bookkeeping, _: str
    ) -> SandboxResponse:
        names = {"code": "code", "name": "company", "contact": "contact_person", "city": "city"}
        filters = _filters(request, dict.fromkeys([*names, "email", "type"], "string"))
        fields = {**names, "email": "email", "type": "type"}
        found = [
            _relation_json(relation)
            for relation in books.relations
            if all(
                _matches_text(relation.values.get(fields[name]) or _default(name), f)
                for name, f in filters.items()
            )
        ]
        return _page(request, found)

    def _relation_values(self, body: _Body) -> dict[str, str]:
        values = {}
        for json_name, field in _RELATION_JSON:
            value = body.text(json_name)
            if value is not None:
                values[field] = value
        return values

    def _create_relation(
        self, request: SandboxRequest, books: Bookkeeping, _: str
    ) -> SandboxResponse:
        body = _Body.read(request)
        values = self._relation_values(body)
        if not values.get("code"):  # REST makes up a code when none is given
            values["code"] = str(max((r.id for r in books.relations), default=100000) + 1)
        stored = books.add_relation(
            values,
            ledger_id=body.int("ledgerId") or 0,
            no_newsletter=1 if body.data.get("doNotReceiveNewsletters") else 0,
        )
        return _ok({"id": stored.id, "code": stored.code})

    def _get_relation(
        self, request: SandboxRequest, books: Bookkeeping, id_: str
    ) -> SandboxResponse:
        return _ok(_relation_json(self._relation(books, id_)))

    def _patch_relation(
        self, request: SandboxRequest, books: Bookkeeping, id_: str
    ) -> SandboxResponse:
        old = self._relation(books, id_)
        body = _Body.read(request)
        if not body.text("name"):
            raise InBandError.of("REL_002")  # name is required on PATCH too
        values = {**old.values, **self._relation_values(body)}
        ledger = body.int("ledgerId")
        newsletters = body.data.get("doNotReceiveNewsletters")
        books.update_relation(
            old.id,
            values,
            ledger_id=old.ledger_id if ledger is None else ledger,
            no_newsletter=old.no_newsletter if newsletters is None else int(bool(newsletters)),
            newsletter_groups=old.newsletter_groups,
        )
        return _no_content()

    @staticmethod
    def _relation(books: Bookkeeping, id_: str) -> RelationRecord:
        found = books.find_relations(relation_id=int(id_))
        if not found:
            raise InBandError.of("REL_055", id=id_)
        return found[0]

    # -- mutations ------------------------------------------------------------------

    def _create_mutation(
        self, request: SandboxRequest, books: Bookkeeping, _: str
    ) -> SandboxResponse:
        body = _Body.read(request)
        number = body.int("type")
        if number is None:
            raise _Refusal("MUTA_002")
        if number not in _KINDS:
            raise _Refusal("MUTA_009")
        date = self._date(body)
        header = self._ledger_by_id(books, body.int("ledgerId"), "MUTA_001", "MUT_007")
        relation = self._relation_code(books, body.int("relationId"))
        in_ex = body.text("inExVat")
        rows = body.data.get("rows")
        if not isinstance(rows, list) or not rows:
            raise InBandError.of("MUT_100")
        invoice = body.text("invoiceNumber")
        if number in _PAYMENT_TYPES:  # a payment names the invoice on its row
            invoice = invoice or next(
                (
                    str(r["invoiceNumber"])
                    for r in rows
                    if isinstance(r, dict) and r.get("invoiceNumber")
                ),
                None,
            )
            if not invoice:
                raise InBandError.of("MUT_120")
        lines = [
            self._line(books, row, n, in_ex, date, number, invoice, relation)
            for n, row in enumerate(rows, start=1)
        ]
        if number in _INVOICE_TYPES and invoice and self._booked(books, number, invoice, relation):
            raise InBandError.of("MUT_020", relation=relation, invoice=invoice)
        term = body.int("termOfPayment")
        draft = MutationRecord(
            0,
            _KINDS[number],
            date,
            ledger_code=header,
            relation_code=relation,
            invoice_number=invoice,
            document=body.text("entryNumber"),
            description=body.text("description"),
            payment_term=str(term) if term is not None else None,
            payment_reference=body.text("paymentReference"),
            in_ex_vat=in_ex,
            lines=lines,
        )
        return _ok({"id": books.book(draft).number})

    @staticmethod
    def _date(body: _Body) -> dt.date:
        raw = body.text("date")
        if not raw:
            raise InBandError.of("MUT_003")
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise _Refusal("MUT_004") from None

    @staticmethod
    def _ledger_by_id(books: Bookkeeping, ledger_id: int | None, missing: str, unknown: str) -> str:
        if not ledger_id:
            raise (_Refusal(missing) if missing in _REST_TEXTS else InBandError.of(missing))
        ledger = next((entry for entry in books.ledgers if entry.id == ledger_id), None)
        if ledger is None:
            raise InBandError.of(unknown, code=str(ledger_id), line="?")
        return ledger.code

    @staticmethod
    def _relation_code(books: Bookkeeping, relation_id: int | None) -> str | None:
        if not relation_id:
            return None
        found = books.find_relations(relation_id=relation_id)
        if not found:
            raise InBandError.of("MUT_013", code=str(relation_id))
        return found[0].code

    def _line(
        self,
        books: Bookkeeping,
        row: object,
        number: int,
        in_ex: str | None,
        date: dt.date,
        kind: int,
        invoice: str | None,
        relation: str | None,
    ) -> LineRecord:
        if not isinstance(row, dict):
            raise _Refusal("ERR_002", f"Your request contains an invalid value: rows[{number}].")
        row_body = _Body(row)
        if kind in _PAYMENT_TYPES and not row_body.int("ledgerId"):
            # Rows of payments need no ledger: they settle the invoice's debtor/creditor ledger.
            paid = self._invoice_ledger(books, invoice, relation)
            ledger = paid
        else:
            ledger = self._ledger_by_id(books, row_body.int("ledgerId"), "MUTA_004", "MUT_104")
        code = row_body.text("vatCode") or ""
        if code not in VAT_CODES:
            raise InBandError.of("MUT_109", code=code or "(leeg)", line=number)
        if "amount" not in row:
            raise _Refusal(
                "ERR_002", f"Your request contains an invalid value: rows[{number}].amount."
            )
        amount = _amount(row["amount"], f"rows[{number}].amount")
        mode: Literal["IN", "EX"] = "IN" if in_ex == "IN" else "EX"
        rate = None
        if code in ("AFW", "AFW_VERK") and row.get("vatAmount") is not None:
            vat = _amount(row["vatAmount"], f"rows[{number}].vatAmount")
            base = amount - vat if mode == "IN" else amount
            rate = (vat * 100 / base).quantize(Decimal("0.01")) if base else Decimal(0)
        centre = row_body.int("costCenterId") or 0
        return LineRecord.of(
            amount, code, ledger, in_ex=mode, rate=rate, date=date, cost_centre_id=centre
        )

    @staticmethod
    def _invoice_ledger(books: Bookkeeping, invoice: str | None, relation: str | None) -> str:
        for mutation in books.find_mutations(invoice_number=invoice, limit=10**9):
            if mutation.kind in ("FactuurVerstuurd", "FactuurOntvangen") and (
                relation is None or (mutation.relation_code or "").casefold() == relation.casefold()
            ):
                return mutation.ledger_code or ""
        raise InBandError.of("MUT_115", invoice=invoice, relation=relation)

    @staticmethod
    def _booked(books: Bookkeeping, kind: int, invoice: str, relation: str | None) -> bool:
        return any(
            m.kind == _KINDS[kind]
            and (m.relation_code or "").casefold() == (relation or "").casefold()
            for m in books.find_mutations(invoice_number=invoice, limit=10**9)
        )

    def _list_mutations(
        self, request: SandboxRequest, books: Bookkeeping, _: str
    ) -> SandboxResponse:
        kinds = {"type": "number", "id": "number", "date": "date"}
        filters = _filters(request, {**kinds, "description": "string", "invoiceNumber": "string"})
        ids = {ledger.code: ledger.id for ledger in books.ledgers}
        found = []
        for mutation in books.mutations:  # no cap of 500 on REST
            values = {"type": _TYPES[mutation.kind], "id": mutation.number, "date": mutation.date}
            texts = {"description": mutation.description, "invoiceNumber": mutation.invoice_number}
            if all(
                _matches_ordered(values[n], f, kinds[n])
                if n in kinds
                else _matches_text(texts[n], f)
                for n, f in filters.items()
            ):
                found.append(self._mutation_item(mutation, ids))
        return _page(request, found)

    @staticmethod
    def _mutation_item(mutation: MutationRecord, ids: Mapping[str, int]) -> dict[str, Any]:
        return {
            "id": mutation.number,
            "type": _TYPES[mutation.kind],
            "date": mutation.date.isoformat() if mutation.date else None,
            "invoiceNumber": mutation.invoice_number,
            "ledgerId": ids.get(mutation.ledger_code or ""),
            "amount": _number(mutation.total_incl),
            "entryNumber": mutation.document,
        }

    def _get_mutation(
        self, request: SandboxRequest, books: Bookkeeping, id_: str
    ) -> SandboxResponse:
        mutation = books.mutation(int(id_))
        if mutation is None or mutation.kind not in _TYPES:
            raise _Refusal("MUT_300", status=404)
        ids = {ledger.code: ledger.id for ledger in books.ledgers}
        relation = books.relation(mutation.relation_code or "")
        data = {
            **self._mutation_item(mutation, ids),
            "description": mutation.description,
            "termOfPayment": int(mutation.payment_term) if mutation.payment_term else None,
            "relationId": relation.id if relation else None,
            "inExVat": mutation.in_ex_vat,
            "rows": [self._row(mutation, line, ids) for line in mutation.lines],
        }
        del data["amount"]
        return _ok(data)

    @staticmethod
    def _row(mutation: MutationRecord, line: LineRecord, ids: Mapping[str, int]) -> dict[str, Any]:
        row: dict[str, Any] = {
            "ledgerId": ids.get(line.ledger_code),
            "vatCode": line.vat_code,
            "amount": _number(line.amount_entered),
        }
        if line.vat_code in ("AFW", "AFW_VERK"):
            row["vatAmount"] = _number(line.vat_amount)
        if line.cost_centre_id:
            row["costCenterId"] = line.cost_centre_id
        if _TYPES.get(mutation.kind) in _PAYMENT_TYPES:
            row["invoiceNumber"] = mutation.invoice_number
        return row

    def _outstanding(self, request: SandboxRequest, books: Bookkeeping, _: str) -> SandboxResponse:
        side = (request.params("credDeb") or [""])[-1]
        if not side:
            raise _Refusal("MUTA_006")
        if side not in ("C", "D"):
            raise _Refusal("MUTA_007")
        filters = _filters(request, {"invoiceNumber": "string"})
        kind = "Debiteuren" if side == "D" else "Crediteuren"
        found = []
        for item in books.open_items(kind):
            if not all(_matches_text(item.invoice_number, f) for f in filters.values()):
                continue
            relation = books.relation(item.relation_code)
            invoice = self._invoice_number_of(books, item.invoice_number, item.relation_code)
            found.append(
                {
                    "date": item.date.isoformat(),
                    "mutationId": invoice,
                    "invoiceNumber": item.invoice_number,
                    "relationId": relation.id if relation else None,
                    "relationCode": item.relation_code,
                    "company": item.relation_name,
                    "totalAmount": _number(item.amount),
                    "paidAmount": _number(item.paid),
                    "outstandingAmount": _number(item.outstanding),
                }
            )
        return _page(request, found)

    @staticmethod
    def _invoice_number_of(books: Bookkeeping, invoice: str, relation: str) -> int | None:
        return next(
            (
                m.number
                for m in books.find_mutations(invoice_number=invoice, limit=10**9)
                if m.kind in ("FactuurVerstuurd", "FactuurOntvangen")
                and (m.relation_code or "").casefold() == relation.casefold()
            ),
            None,
        )

    # -- ledgers, cost centres, administrations -------------------------------------

    def _list_ledgers(self, request: SandboxRequest, books: Bookkeeping, _: str) -> SandboxResponse:
        filters = _filters(request, {"code": "string", "category": "string"})
        found = [
            _ledger_json(ledger)
            for ledger in books.ledgers
            if all(_matches_text(getattr(ledger, name), f) for name, f in filters.items())
        ]
        return _page(request, found)

    def _get_ledger(self, request: SandboxRequest, books: Bookkeeping, id_: str) -> SandboxResponse:
        return _ok(_ledger_json(self._ledger(books, id_)))

    def _ledger_balance(
        self, request: SandboxRequest, books: Bookkeeping, id_: str
    ) -> SandboxResponse:
        ledger = self._ledger(books, id_)
        dates = {
            name: _ordered(v[-1], "date", name)
            for name in ("from", "to")
            if (v := request.params(name))
        }
        centre = _int_param(request, "costCenterId", 0)
        balance = books.balance(
            ledger.code, cost_centre_id=centre, date_from=dates.get("from"), date_to=dates.get("to")
        )
        return _ok({"code": ledger.code, "type": ledger.category, "balance": _number(balance)})

    @staticmethod
    def _ledger(books: Bookkeeping, id_: str) -> LedgerRecord:
        ledger = next((entry for entry in books.ledgers if entry.id == int(id_)), None)
        if ledger is None:
            # Assumption: the LEDG_* code of an unknown ledger is not public: no code.
            raise _Refusal("", "Ledger not found.", status=404)
        return ledger

    def _list_cost_centres(
        self, request: SandboxRequest, books: Bookkeeping, _: str
    ) -> SandboxResponse:
        filters = _filters(request, {"parentId": "number", "description": "string"})
        found = [
            {"id": c.id, "description": c.description, "parentId": c.parent_id, "active": True}
            for c in books.cost_centres
            if all(
                _matches_ordered(c.parent_id, f, "number")
                if name == "parentId"
                else _matches_text(c.description, f)
                for name, f in filters.items()
            )
        ]
        return _page(request, found)

    def _list_administrations(
        self, request: SandboxRequest, books: Bookkeeping, _: str
    ) -> SandboxResponse:
        # Assumption: a login with more than one administration is an accountant's.
        infos = self.sandbox.administrations
        if len(infos) < 2:
            raise _Refusal("EP_001", status=403)
        return _page(request, [{"name": i.company, "city": i.city, "guid": i.guid} for i in infos])


def _default(name: str) -> str | None:
    return "B" if name == "type" else None


def _bearer(request: SandboxRequest) -> str:
    # The Quick Start sends the bare token; a peer sends "Bearer <token>": both are taken.
    value = request.headers.get("Authorization", "").strip()
    return value[7:].strip() if value.lower().startswith("bearer ") else value


def _route(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("{id}", r"(?P<id>[0-9]{1,9})"))


_ROUTES: tuple[tuple[re.Pattern[str], str, _Route], ...] = (
    (_route("/v1/relation"), "GET", RestApi._list_relations),
    (_route("/v1/relation"), "POST", RestApi._create_relation),
    (_route("/v1/relation/{id}"), "GET", RestApi._get_relation),
    (_route("/v1/relation/{id}"), "PATCH", RestApi._patch_relation),
    (_route("/v1/mutation"), "GET", RestApi._list_mutations),
    (_route("/v1/mutation"), "POST", RestApi._create_mutation),
    (_route("/v1/mutation/invoice/outstanding"), "GET", RestApi._outstanding),
    (_route("/v1/mutation/{id}"), "GET", RestApi._get_mutation),
    (_route("/v1/ledger"), "GET", RestApi._list_ledgers),
    (_route("/v1/ledger/{id}"), "GET", RestApi._get_ledger),
    (_route("/v1/ledger/{id}/balance"), "GET", RestApi._ledger_balance),
    (_route("/v1/costcenter"), "GET", RestApi._list_cost_centres),
    (_route("/v1/administration"), "GET", RestApi._list_administrations),
)
"""(path, method, handler) of every emulated endpoint."""


def rest_route_path(request: SandboxRequest) -> str:
    """The path faults and counters see for a REST call: ``/v1/mutation/POST/``."""
    return f"{request.path.rstrip('/')}/{request.method}/"


def rest_family(path: str, default: Callable[[str], str]) -> str:
    """The counter of a REST route path: ``"POST /v1/mutation"``, ``"GET /v1/relation/{id}"``."""
    base, _, method = path.rstrip("/").rpartition("/")
    return f"{method} {default(base)}"


def rest_operation_prefix(operation: str) -> str:
    """``"POST /v1/mutation"`` → the route-path prefix of that call."""
    method, _, path = operation.partition(" ")
    return f"{path.rstrip('/')}/{method.upper()}/"


def iter_routes() -> Iterable[str]:
    """Every emulated endpoint as ``"METHOD /path"``."""
    for pattern, method, _route_fn in _ROUTES:
        yield f"{method} {pattern.pattern.replace('(?P<id>[0-9]{1,9})', '{id}')}"
