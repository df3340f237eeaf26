"""`DigitaleFactuurSandbox`: an offline DigitaleFactuur XML API (``/api/{account}/{code}/…``).

It speaks DF's wire format as far as it is known (digitalefactuur.md §1):
both credentials as path segments; reads as ``GET`` with parameters glued on
with ``&`` (a ``?`` query is taken too); writes as ``POST`` with one form field
``xml``; answers in XML; errors as a plain-text body that starts with a
three-digit code. Relations get debtor numbers 1xxx and creditor numbers 2xxx
when none is given; invoices carry a payment status that payments change.

Assumptions, where DF documents nothing (each marked in the code):
error codes follow HTTP's numbers and come with HTTP 200; ``klanten`` pages
hold 100 relations (``&page=N``) and ``klanten&klanten_id=ID`` reads one;
answers are ``<klanten><klant>…`` and ``<facturen><factuur>…``; a create answers
``<klant><id>N</id></klant>``; ``klant_updaten`` replaces every element
(omitted ones are cleared); relation numbers are unique; every relation
carries an ``aanmaakdatum`` element, which no client maps.

Requests are parsed with defusedxml: DTDs are refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import random
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

import attrs
import defusedxml
import defusedxml.ElementTree

from ._control import OneAccount
from ._core import (
    FaultKind,
    Faults,
    SandboxRequest,
    SandboxResponse,
    SandboxStats,
    SandboxTransport,
    serve,
)

__all__ = [
    "DEMO_ACCESS_CODE",
    "DEMO_ACCOUNT_ID",
    "RELATION_ELEMENTS",
    "DigitaleFactuurSandbox",
    "InvoiceRecord",
    "generate_relations",
]

DEMO_ACCOUNT_ID = "10001"
"""The account id the sandbox accepts when none is given (documented, not secret)."""

DEMO_ACCESS_CODE = "sandbox-access-code"
"""The access code ("toegangscode") of the demo account."""

PAGE_SIZE = 100
"""Relations and invoices per page. Assumption: DF's page size is not documented."""

RELATION_ELEMENTS = (
    "relatienummer",
    "type",
    "naam",
    "contactpersoon_naam",
    "contactpersoon_afdeling",
    "contactpersoon_email",
    "telefoonnummer",
    "adres",
    "postcode",
    "plaats",
    "land",
    "faxnummer",
    "rekeningnummer",
    "tenaamstelling",
    "bic",
    "kvk_nummer",
    "btw_nummer",
)
"""The elements of a ``<klant>`` the sandbox stores: DF's example and crmconnect's assumptions."""

_KINDS = {"debiteur": 1000, "crediteur": 2000}
"""Relation type → first number of its range (debtors 1xxx, creditors 2xxx)."""
_CENT = Decimal("0.01")


class _Refused(Exception):
    """A three-digit error answer."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


@attrs.define
class InvoiceRecord:
    """An invoice of the sandbox.

    Attributes:
        id: DF's internal ID.
        number: ``factuurnummer``.
        relation_id: ``klant_id``: the relation's ID.
        date: ``factuurdatum``.
        due_date: ``vervaldatum``.
        total: The total including VAT.
        paid: What was paid so far.
        lines: ``(description, quantity, price, vat fraction)`` per line.
    """

    id: str
    number: str
    relation_id: str
    date: dt.date
    due_date: dt.date
    total: Decimal
    paid: Decimal = Decimal("0.00")
    lines: list[tuple[str, Decimal, Decimal, Decimal]] = attrs.field(factory=list)

    @property
    def status(self) -> Literal["openstaand", "betaald"]:
        """``betaalstatus``: paid once the payments reach the total."""
        return "betaald" if self.paid >= self.total else "openstaand"


def generate_relations(count: int, *, seed: int = 0) -> list[dict[str, str]]:
    """``count`` synthetic relations (elements by name), three debtors to one creditor."""
    rng = random.Random(seed)
    cities = ["Utrecht", "Amsterdam", "Zwolle", "Ede", "Breda", "Leiden", "Delft", "Epe"]
    found = []
    for n in range(count):
        kind = "crediteur" if n % 4 == 3 else "debiteur"
        city = rng.choice(cities)
        found.append(
            {
                "type": kind,
                "naam": f"Relatie {n} & Zn B.V.",
                "contactpersoon_naam": f"Contact {n}",
                "contactpersoon_email": f"info{n}@relatie.example",
                "adres": f"Hoofdstraat {n % 200 + 1}",
                "postcode": f"{1000 + n % 8999} AB",
                "plaats": city,
                "land": "NL",
                "rekeningnummer": "NL91ABNA0417164300",
            }
        )
    return found


class DigitaleFactuurSandbox:
    """An offline DigitaleFactuur: relations and invoices behind its URL scheme and wire format.

    Args:
        account_id: The accepted account id; `DEMO_ACCOUNT_ID` when omitted.
        access_code: The accepted access code; `DEMO_ACCESS_CODE` when omitted.
        latency: Seconds added to every answer.
        rate_limit: Requests per second before 429 answers; none when ``None``.
        relations: Relations to start with (elements by name, see `generate_relations`).

    Attributes:
        faults: Latency, rate limit and injected faults (`fail_next`).
        stats: Counters per action (e.g. ``stats.requests["klant_aanmaken"]``).

    Example:
        ```python
        sandbox = DigitaleFactuurSandbox()
        sandbox.fail_next(1, "drop_after", "klant_aanmaken")  # created, answer lost
        with sandbox.serve() as url:
            print(f"API at {url}/api/{DEMO_ACCOUNT_ID}/{DEMO_ACCESS_CODE}/klanten")
        ```
    """

    def __init__(
        self,
        account_id: str = DEMO_ACCOUNT_ID,
        access_code: str = DEMO_ACCESS_CODE,
        *,
        latency: float = 0.0,
        rate_limit: float | None = None,
        relations: Iterable[Mapping[str, str]] = (),
    ) -> None:
        self.account_id = account_id
        self.access_code = access_code
        self.faults = Faults(latency=latency, rate_limit=rate_limit)
        self.stats = SandboxStats()
        self._lock = threading.RLock()
        self._relations: dict[str, dict[str, str]] = {}
        self._invoices: dict[str, InvoiceRecord] = {}
        self._numbers: dict[str, str] = {}  # relatienummer → id
        self._next_free = dict(_KINDS)
        self._next_id = 5001
        for values in relations:
            self.add_relation(**values)

    def __repr__(self) -> str:
        return (
            f"DigitaleFactuurSandbox(relations={len(self._relations)}, "
            f"invoices={len(self._invoices)}, faults={self.faults!r})"
        )

    # --- running it ----------------------------------------------------------------

    def transport(self) -> SandboxTransport:
        """An httpx transport (sync and async) answering from this sandbox."""
        return SandboxTransport(self, self.faults, self.stats)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False
    ) -> contextlib.AbstractContextManager[str]:
        """Serve over loopback HTTP in a ``with`` block; yields the root URL (API at ``/api``).

        The control endpoint ``/_control/`` is served too (loopback clients only).
        """
        from ._digitalefactuur_accounts import DigitaleFactuurControl  # builds on this module

        control = DigitaleFactuurControl(OneAccount(self, self.account_id))
        return serve(
            self, self.faults, host, port, stats=self.stats, allow_remote=allow_remote,
            control=control,
        )  # fmt: skip

    def fail_next(self, count: int = 1, kind: FaultKind = "500", action: str | None = None) -> None:
        """Queue faults for the next ``count`` requests (of one action, e.g. ``klant_aanmaken``)."""
        self.faults.fail_next(count, kind, path_prefix=f"/api/{action}/" if action else None)

    # --- the data ------------------------------------------------------------------

    @property
    def relations(self) -> list[dict[str, str]]:
        """Every relation (elements by name, ``id`` included), in ID order."""
        with self._lock:
            return [{"id": key, **values} for key, values in self._relations.items()]

    @property
    def invoices(self) -> list[InvoiceRecord]:
        """Every invoice, in ID order."""
        with self._lock:
            return list(self._invoices.values())

    def add_relation(self, **elements: str) -> dict[str, str]:
        """Add a relation as ``klant_aanmaken`` would; returns it with its ``id``.

        Raises:
            ValueError: For what ``klant_aanmaken`` refuses (its text).
        """
        try:
            with self._lock:
                new_id = self._create(dict(elements))
                return {"id": new_id, **self._relations[new_id]}
        except _Refused as refused:
            raise ValueError(str(refused)) from None

    def edit_relation(self, relation_id: str, **elements: str) -> dict[str, str]:
        """Change some elements of a relation, as a person does in DF's screens; the rest stay.

        Raises:
            KeyError: No relation has this ID.
            ValueError: An element the sandbox does not store, or a value
                ``klant_updaten`` refuses (its text).
        """
        unknown = sorted(set(elements) - set(RELATION_ELEMENTS))
        if unknown:
            raise ValueError(f"elements the sandbox does not store: {', '.join(unknown)}")
        try:
            with self._lock:
                values = {**self._relations[relation_id], **elements}
                self._store(relation_id, self._checked(values, own_id=relation_id))
                return {"id": relation_id, **self._relations[relation_id]}
        except _Refused as refused:
            raise ValueError(str(refused)) from None

    def add_invoice(
        self,
        relation_id: str,
        number: str,
        lines: Iterable[tuple[str, Decimal | str | int, Decimal | str | int, Decimal | str]],
        *,
        date: dt.date | None = None,
        due_date: dt.date | None = None,
    ) -> InvoiceRecord:
        """Add an invoice of a relation: lines of (description, quantity, price, VAT fraction).

        The total is the sum over the lines of quantity x price x (1 + VAT), in cents.
        """
        with self._lock:
            if relation_id not in self._relations:
                raise KeyError(relation_id)
            rows = [(d, Decimal(q), Decimal(p), Decimal(v)) for d, q, p, v in lines]
            total = sum(
                ((q * p * (1 + v)).quantize(_CENT, ROUND_HALF_UP) for _d, q, p, v in rows),
                Decimal("0.00"),
            )
            day = date or dt.date.today()
            invoice = InvoiceRecord(
                self._new_id(), number, relation_id, day, due_date or day + dt.timedelta(30),
                total, lines=rows,
            )  # fmt: skip
            self._invoices[invoice.id] = invoice
            return invoice

    def pay(self, invoice_id: str, amount: Decimal | str | int | None = None) -> InvoiceRecord:
        """Register a payment, as ``factuur_betaling_verwerken`` does.

        Args:
            invoice_id: The invoice's ID.
            amount: A part paid (``deelbetaling``); the invoice is paid in full when omitted.

        Returns:
            The invoice, its ``paid`` and ``status`` changed.

        Raises:
            KeyError: No invoice has this ID.
        """
        with self._lock:
            invoice = self._invoices[invoice_id]
            if amount is None:
                invoice.paid = invoice.total
            else:
                invoice.paid = (invoice.paid + Decimal(amount)).quantize(_CENT)
            return invoice

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    # --- the Handler protocol ------------------------------------------------------

    def __call__(self, request: SandboxRequest) -> SandboxResponse:
        """Answer one request as DigitaleFactuur would."""
        try:
            action, params = self._read_path(request)
            with self._lock:
                body = self._answer(request, action, params)
            return SandboxResponse(
                200, [("Content-Type", "text/xml; charset=utf-8")], body.encode()
            )
        except _Refused as refused:
            return _text(200, f"{refused.code} {refused.text}")

    def render_error(
        self, request: SandboxRequest, status: int, retry_after: int | None = None
    ) -> SandboxResponse:
        """Injected errors: the HTTP status, with a coded plain-text body."""
        texts = {429: "Te veel verzoeken", 500: "Interne fout", 503: "Dienst niet beschikbaar"}
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        return _text(status, f"{status} {texts.get(status, 'Fout')}", headers)

    def route_path(self, request: SandboxRequest) -> str:
        """``/api/<action>/``: what faults and counters see, with no credentials in it."""
        parts = request.encoded_path.split("/", 4)
        action = parts[4].split("&", 1)[0] if len(parts) == 5 else ""
        return f"/api/{action}/"

    def path_family(self, path: str) -> str:
        """The counter of a route path: the action, e.g. ``"klanten"``."""
        return path.strip("/").removeprefix("api/") or "api"

    # --- answering -----------------------------------------------------------------

    def _read_path(self, request: SandboxRequest) -> tuple[str, dict[str, str]]:
        parts = request.encoded_path.split("/", 4)
        if len(parts) != 5 or parts[0] or parts[1] != "api":
            # The client reads "404 Onbekende URL" (and "Onbekende actie") as a wrong base_url.
            raise _Refused(404, "Onbekende URL")
        account, code = (urllib.parse.unquote(p) for p in parts[2:4])
        good = hmac.compare_digest(account.encode(), self.account_id.encode())
        good &= hmac.compare_digest(code.encode(), self.access_code.encode())
        if not good:
            raise _Refused(401, "Ongeldig account of ongeldige toegangscode")
        action, *pairs = parts[4].split("&")
        params = dict(request.query)  # Assumption: a "?" query is taken as well
        for pair in pairs:
            name, _, value = pair.partition("=")
            params[urllib.parse.unquote_plus(name)] = urllib.parse.unquote_plus(value)
        return action, params

    def _answer(self, request: SandboxRequest, action: str, params: dict[str, str]) -> str:
        reads = {"klanten": self._klanten, "facturen": self._facturen}
        deletes = {"klant_verwijderen": self._klant_verwijderen}
        writes = {
            "klant_aanmaken": self._klant_aanmaken,
            "klant_updaten": self._klant_updaten,
            "factuur_betaling_verwerken": self._betaling_verwerken,
            "factuur_betaling_ongedaan_maken": self._betaling_ongedaan_maken,
        }
        if action in reads or action in deletes:
            if request.method != "GET":
                raise _Refused(405, f"{action} gaat met GET")
            return (reads | deletes)[action](params)
        if action in writes:
            if request.method != "POST":
                raise _Refused(405, f"{action} gaat met POST")
            return writes[action](_posted_xml(request.body))
        raise _Refused(404, f"Onbekende actie {action}")

    # --- relations -----------------------------------------------------------------

    def _klanten(self, params: dict[str, str]) -> str:
        if "klanten_id" in params:
            found = self._relations.get(params["klanten_id"])
            if found is None:
                raise _Refused(404, "Klant niet gevonden")
            return _document("klanten", "klant", [{"id": params["klanten_id"], **found}])
        page = _page(params)
        keys = list(self._relations)[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return _document("klanten", "klant", [{"id": k, **self._relations[k]} for k in keys])

    def _klant_aanmaken(self, root: ET.Element) -> str:
        _expect(root, "klant")
        values = {child.tag: (child.text or "").strip() for child in root if not len(child)}
        new_id = self._create(values)
        return _document(None, "klant", [{"id": new_id}])

    def _create(self, values: dict[str, str]) -> str:
        stored = self._checked(values, own_id=None)
        new_id = self._new_id()
        self._store(new_id, stored)
        return new_id

    def _store(self, relation_id: str, stored: dict[str, str]) -> None:
        old = self._relations.get(relation_id)
        if old is not None:
            self._numbers.pop(old["relatienummer"], None)
        self._relations[relation_id] = stored
        self._numbers[stored["relatienummer"]] = relation_id

    def _checked(self, values: Mapping[str, str], own_id: str | None) -> dict[str, str]:
        kind = values.get("type") or "debiteur"
        if kind not in _KINDS:
            raise _Refused(422, f"Ongeldig type {kind!r}: debiteur of crediteur")
        if not values.get("naam"):
            raise _Refused(422, "Ongeldige invoer: naam ontbreekt")
        number = values.get("relatienummer") or self._next_number(kind)
        taken = self._numbers.get(number)
        if taken is not None and taken != own_id:
            raise _Refused(409, f"relatienummer {number} bestaat al")
        stored = {name: values.get(name, "") for name in RELATION_ELEMENTS}
        stored.update(relatienummer=number, type=kind)
        old = self._relations.get(own_id or "")
        stored["aanmaakdatum"] = old["aanmaakdatum"] if old else dt.date.today().isoformat()
        return stored

    def _next_number(self, kind: str) -> str:
        number = self._next_free[kind]
        while str(number) in self._numbers:
            number += 1
        self._next_free[kind] = number + 1
        return str(number)

    def _klant_updaten(self, root: ET.Element) -> str:
        _expect(root, "klant")
        values = {child.tag: (child.text or "").strip() for child in root if not len(child)}
        relation_id = values.get("id", "")
        if not relation_id:
            raise _Refused(422, "Ongeldige invoer: id ontbreekt")
        if relation_id not in self._relations:
            raise _Refused(404, "Klant niet gevonden")
        self._store(relation_id, self._checked(values, own_id=relation_id))
        return _document(None, "klant", [{"id": relation_id}])

    def _klant_verwijderen(self, params: dict[str, str]) -> str:
        relation_id = params.get("klanten_id", "")
        removed = self._relations.pop(relation_id, None)
        if removed is None:
            raise _Refused(404, "Klant niet gevonden")
        self._numbers.pop(removed["relatienummer"], None)
        return _document(None, "klant", [{"id": relation_id, "verwijderd": "ja"}])

    # --- invoices ------------------------------------------------------------------

    def _facturen(self, params: dict[str, str]) -> str:
        found = list(self._invoices.values())
        if "facturen_id" in params:
            found = [i for i in found if i.id == params["facturen_id"]]
            if not found:
                raise _Refused(404, "Factuur niet gevonden")
        if "betaalstatus" in params:
            if params["betaalstatus"] not in ("openstaand", "betaald"):
                raise _Refused(422, "Ongeldige betaalstatus: openstaand of betaald")
            found = [i for i in found if i.status == params["betaalstatus"]]
        if "factuurnummer" in params:
            found = [i for i in found if i.number == params["factuurnummer"]]
        page = _page(params)
        return _invoices_document(found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])

    def _invoice_of(self, root: ET.Element) -> InvoiceRecord:
        _expect(root, "factuur")
        invoice_id = (root.findtext("id") or "").strip()
        invoice = self._invoices.get(invoice_id)
        if invoice is None:
            raise _Refused(404, "Factuur niet gevonden")
        return invoice

    def _betaling_verwerken(self, root: ET.Element) -> str:
        invoice = self._invoice_of(root)
        try:
            dt.date.fromisoformat((root.findtext("datum") or "").strip())
        except ValueError:
            raise _Refused(422, "Ongeldige datum: jjjj-mm-dd") from None
        if (root.findtext("deelbetaling") or "").strip() == "1":
            try:
                part = Decimal((root.findtext("voldaan") or "").strip())
            except InvalidOperation:
                raise _Refused(422, "Ongeldig bedrag voor voldaan") from None
            invoice.paid = (invoice.paid + part).quantize(_CENT)
        else:
            invoice.paid = invoice.total
        return _invoices_document([invoice])

    def _betaling_ongedaan_maken(self, root: ET.Element) -> str:
        invoice = self._invoice_of(root)
        invoice.paid = Decimal("0.00")
        return _invoices_document([invoice])


def _text(status: int, text: str, headers: Iterable[tuple[str, str]] = ()) -> SandboxResponse:
    return SandboxResponse(
        status, [("Content-Type", "text/plain; charset=utf-8"), *headers], text.encode("utf-8")
    )


def _page(params: Mapping[str, str]) -> int:
    try:
        page = int(params.get("page", "1"))
    except ValueError:
        raise _Refused(422, "Ongeldige pagina") from None
    if page < 1:
        raise _Refused(422, "Ongeldige pagina")
    return page


def _posted_xml(body: bytes) -> ET.Element:
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    if not form.get("xml"):
        raise _Refused(422, "Geen xml ontvangen (formulierveld xml)")
    try:
        return defusedxml.ElementTree.fromstring(form["xml"][0], forbid_dtd=True)
    except defusedxml.DefusedXmlException:
        raise _Refused(422, "XML met DTD of entiteiten wordt geweigerd") from None
    except ET.ParseError:
        raise _Refused(422, "Ongeldige XML") from None


def _expect(root: ET.Element, tag: str) -> None:
    if root.tag != tag:
        raise _Refused(422, f"Ongeldige XML: <{tag}> verwacht, <{root.tag}> ontvangen")


def _document(root: str | None, record: str, rows: Iterable[Mapping[str, str]]) -> str:
    """``<root><record>…</record>…</root>``, or a lone ``<record>`` when ``root`` is ``None``."""
    items = []
    for row in rows:
        element = ET.Element(record)
        for name, value in row.items():
            ET.SubElement(element, name).text = value
        items.append(element)
    if root is None:
        top = items[0]
    else:
        top = ET.Element(root)
        top.extend(items)
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(top, encoding="unicode")


def _invoices_document(invoices: Iterable[InvoiceRecord]) -> str:
    top = ET.Element("facturen")
    for invoice in invoices:
        element = ET.SubElement(top, "factuur")
        fields = {
            "id": invoice.id,
            "factuurnummer": invoice.number,
            "klant_id": invoice.relation_id,
            # DF writes dates both ways (digitalefactuur.md §1.3): so does the sandbox.
            "factuurdatum": invoice.date.strftime("%d-%m-%Y"),
            "vervaldatum": invoice.due_date.isoformat(),
            "betaalstatus": invoice.status,
            "totaal": f"{invoice.total:.2f}",
            "voldaan": f"{invoice.paid:.2f}",
        }
        for name, value in fields.items():
            ET.SubElement(element, name).text = value
        rows = ET.SubElement(element, "factuurregels")
        for description, quantity, price, vat in invoice.lines:
            row = ET.SubElement(rows, "factuurregel")
            for name, value in (
                ("aantal", f"{quantity}"),
                ("omschrijving", description),
                ("prijs", f"{price:.3f}"),
                ("btw", f"{vat:.3f}"),
            ):
                ET.SubElement(row, name).text = value
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(top, encoding="unicode")
