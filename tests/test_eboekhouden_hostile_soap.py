"""Hostile SOAP answers: a result or a typed crmconnect error, quickly, and no secret anywhere.

Every operation the client calls gets a sweep of bodies a broken or hostile
server could send (HTML with HTTP 200, cut-off XML, wrong envelopes, missing
result elements, bad values, deep nesting, entities, huge and trickling
bodies, faults and errors echoing the credentials). Each must end in a
result or a `crmconnect.errors.CrmConnectError` within bounded time, and
nothing reachable from the error (message, attributes, ``__cause__``,
``__context__``) may hold the username or a security code.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import requests.adapters
import requests.structures

from crmconnect.eboekhouden import EBoekhoudenClient, Relation
from crmconnect.errors import CrmConnectError, MalformedResponseError, ServerError, TimeoutError
from crmconnect.mapping import vat_breakdown
from crmconnect.models import Invoice, InvoiceKind, InvoiceLine
from crmconnect.sandbox import DEMO_VAT_TABLE, EBoekhoudenSandbox
from crmconnect.sandbox._eboekhouden import EBoekhoudenCredentials

USER = "ann.devries@bakkerij-jansen.nl"
CODE1 = "SC1-7f3a9c2e4b1d8a6f"
CODE2 = "SC2-0d5e8b7c6a4f3e21"
SECRETS = (USER, CODE1, CODE2)
LOGIN = EBoekhoudenCredentials(USER, CODE1, CODE2)

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS = 'xmlns="http://www.e-boekhouden.nl/soap"'
ECHO = f"Username={USER} SecurityCode1={CODE1} SecurityCode2={CODE2}"
CAP = 64 * 1024


def envelope(body: str, namespace: str = SOAP11) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{namespace}">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def response(operation: str, inner: str) -> bytes:
    return envelope(f"<{operation}Response {NS}><{operation}Result>{inner}</{operation}Result>"
                    f"</{operation}Response>")  # fmt: skip


def fault(code: str | None, text: str) -> bytes:
    code_element = f"<faultcode>{code}</faultcode>" if code else ""
    return envelope(f"<soap:Fault>{code_element}<faultstring>{text}</faultstring></soap:Fault>")


RESULT_FIELDS = {
    "OpenSession": "<SessionID>{}</SessionID>",
    "AddRelatie": "<Rel_ID>{}</Rel_ID>",
    "AddMutatie": "<Mutatienummer>{}</Mutatienummer>",
    "GetRelaties": "<Relaties><cRelatie><ID>{}</ID><Code>1</Code></cRelatie></Relaties>",
    "GetMutaties": (
        "<Mutaties><cMutatieList><MutatieNr>{}</MutatieNr><Soort>FactuurVerstuurd</Soort>"
        "<Datum>2026-01-05T00:00:00</Datum></cMutatieList></Mutaties>"
    ),
    "GetOpenPosten": "<Openposten><cOpenPost><MutDatum>{}</MutDatum></cOpenPost></Openposten>",
    "UpdateRelatie": "<LastErrorCode>{}</LastErrorCode>",
}


def generic_bodies(op: str) -> Iterator[tuple[str, int, bytes]]:
    """(name, status, body) for any operation."""
    valid = response(op, "<ErrorMsg/>" + RESULT_FIELDS[op].format("1"))
    yield "empty", 200, b""
    yield "blank", 200, b"   \n"
    yield "html", 200, b"<html><body><h1>Onderhoud</h1><p>Probeer het later.</p></body></html>"
    yield "html-doctype", 200, b"<!DOCTYPE html><html><head><title>502</title></head></html>"
    yield "json", 200, b'{"error": "maintenance"}'
    yield "null", 200, b"null"
    yield "text", 200, b"Service Unavailable"
    yield "empty-body", 200, envelope("")
    yield "no-result", 200, envelope(f"<{op}Response {NS}/>")
    yield "empty-result", 200, envelope(f"<{op}Response {NS}><{op}Result/></{op}Response>")
    yield "no-errormsg", 200, response(op, RESULT_FIELDS[op].format("1"))
    yield "wrong-envelope-ns", 200, envelope(f"<{op}Response {NS}/>", "http://example.com/e")
    yield (
        "soap12-envelope",
        200,
        envelope(f"<{op}Response {NS}/>", "http://www.w3.org/2003/05/soap-envelope"),
    )
    yield "other-operation", 200, response("CloseSession" if op != "CloseSession" else "X", "")
    yield "foreign-namespace", 200, envelope(f'<{op}Response xmlns="urn:x"><a/></{op}Response>')
    yield "unknown-element", 200, response(op, "<ErrorMsg/><Surprise>1</Surprise>")
    yield "no-namespace-envelope", 200, b"<Envelope><Body><x/></Body></Envelope>"
    for cut in (1, 10, 40, 80, 120, len(valid) // 2, len(valid) - 20, len(valid) - 1):
        yield f"cut-{cut}", 200, valid[:cut]
    yield "bad-utf8", 200, b"\xff\xfe\xfa" + valid
    yield "nul-byte", 200, valid.replace(b"<ErrorMsg/>", b"<ErrorMsg>\x00</ErrorMsg>")
    yield "utf16-declared", 200, valid.replace(b"utf-8", b"utf-16")
    yield "deep", 200, envelope("<a>" * 50_000 + "</a>" * 50_000)
    yield "billion-laughs", 200, (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>' + valid.split(b"?>", 1)[1]
    ).replace(b"<ErrorMsg/>", b"<ErrorMsg><LastErrorDescription>&c;</LastErrorDescription>"
              b"</ErrorMsg>")  # fmt: skip
    yield "xxe", 200, (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        + valid.split(b"?>", 1)[1]
    ).replace(b"<ErrorMsg/>", b"<ErrorMsg><LastErrorDescription>&e;</LastErrorDescription>"
              b"</ErrorMsg>")  # fmt: skip
    yield "fault-server", 500, fault("soap:Server", f"Server was unable to process. {ECHO}")
    yield "fault-client", 500, fault("soap:Client", f"Bad request {ECHO}")
    yield "fault-200", 200, fault("soap:Server", ECHO)
    yield "fault-no-code", 500, fault(None, ECHO)
    yield "fault-empty", 500, envelope("<soap:Fault/>")
    yield (
        "in-band-echo",
        200,
        response(
            op,
            f"<ErrorMsg><LastErrorCode>E1</LastErrorCode><LastErrorDescription>{ECHO}"
            "</LastErrorDescription></ErrorMsg>",
        ),
    )
    yield (
        "in-band-session",
        200,
        response(
            op, "<ErrorMsg><LastErrorDescription>Sessie verlopen</LastErrorDescription></ErrorMsg>"
        ),
    )
    for status in (500, 502, 503, 404, 401, 302):
        yield f"html-{status}", status, b"<html><body>" + ECHO.encode() + b"</body></html>"
        yield f"empty-{status}", status, b""
    yield "multipart-garbage", 200, b"--x\r\nnonsense"
    yield "huge", 200, valid[:-30] + b"<x>" + b"a" * (CAP * 2) + b"</x>" + valid[-30:]


def value_bodies(op: str) -> Iterator[tuple[str, int, bytes]]:
    """Answers whose shape is right but whose values are not."""
    for value in ("", "abc", "-1", "0", "99999999999999999999999", "1.5", ECHO, "&#0;"):
        inner = "<ErrorMsg/>" + RESULT_FIELDS[op].format(value)
        yield f"value-{value[:12]!r}", 200, response(op, inner)
    if op == "GetMutaties":
        for bad in ("<Soort>Bogus</Soort>", "<Datum>not-a-date</Datum>"):
            item = f"<cMutatieList><MutatieNr>1</MutatieNr>{bad}</cMutatieList>"
            yield f"item-{bad[:8]}", 200, response(op, f"<ErrorMsg/><Mutaties>{item}</Mutaties>")
        line = (
            "<cMutatieList><MutatieNr>1</MutatieNr><Soort>FactuurVerstuurd</Soort>"
            "<Datum>2026-01-05T00:00:00</Datum><MutatieRegels><cMutatieListRegel>"
            "<BedragInvoer>{}</BedragInvoer></cMutatieListRegel></MutatieRegels></cMutatieList>"
        )
        for amount in ("NaN", "1e999999", "x", "-INF"):
            body = response(op, f"<ErrorMsg/><Mutaties>{line.format(amount)}</Mutaties>")
            yield f"amount-{amount}", 200, body


class HostileAdapter(requests.adapters.BaseAdapter):
    """Answers one operation with a given body; every other call goes to the sandbox."""

    def __init__(self, inner: requests.adapters.BaseAdapter) -> None:
        super().__init__()
        self.inner = inner
        self.operation = ""
        self.status = 200
        self.body: bytes | io.RawIOBase = b""
        self.headers: dict[str, str] = {}
        self.write_first = False
        self.before: Callable[[], object] | None = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        action = str(request.headers.get("SOAPAction", "")).strip('"').rsplit("/", 1)[-1]
        if action == self.operation and self.before is not None:
            self.before()
            return self.inner.send(request, **kwargs)
        if action != self.operation:
            return self.inner.send(request, **kwargs)
        if self.write_first:  # the service does the write, then the answer is garbage
            self.inner.send(request, **kwargs)
        answer = requests.Response()
        answer.status_code = self.status
        answer.headers = requests.structures.CaseInsensitiveDict(
            {"Content-Type": "text/xml; charset=utf-8", **self.headers}
        )
        answer.raw = io.BytesIO(self.body) if isinstance(self.body, bytes) else self.body
        answer.url = request.url or ""
        answer.request = request
        return answer

    def close(self) -> None:
        """Nothing to release."""


def hostile_client(
    sandbox: EBoekhoudenSandbox, **kwargs: Any
) -> tuple[EBoekhoudenClient, HostileAdapter]:
    session = sandbox.requests_session()
    adapter = HostileAdapter(session.get_adapter("http://x"))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return new_client(session, **kwargs), adapter


def new_client(session: requests.Session, **kwargs: Any) -> EBoekhoudenClient:
    options: dict[str, Any] = {"max_retries": 0, "max_answer_bytes": CAP, "timeout": 2.0}
    return EBoekhoudenClient(USER, CODE1, CODE2, session=session, **{**options, **kwargs})


def open_session(books: EBoekhoudenClient) -> object:
    """OpenSession on a client of its own (the shared one's session stays open)."""
    with new_client(books._http) as fresh:
        return fresh.ledgers()


INVOICE = Invoice(
    number="F1",
    relation_code="1001",
    date=dt.date(2026, 1, 5),
    kind=InvoiceKind.SALES,
    lines=[InvoiceLine(description="Brood", unit_price="10.00", vat_category="nl_low")],
)


def calls(books: EBoekhoudenClient) -> dict[str, Callable[[], object]]:
    mutation = books.invoice_mutation(INVOICE, vat_breakdown(INVOICE, DEMO_VAT_TABLE))
    return {
        "OpenSession": lambda: open_session(books),
        "AddRelatie": lambda: books.add_relation(Relation(code="R1", company="Klant")),
        "UpdateRelatie": lambda: books.update_relation(Relation(id=1, code="R1", company="K")),
        "GetRelaties": lambda: books.relations(code="R1"),
        "AddMutatie": lambda: books._add_mutation(mutation),
        "GetMutaties": lambda: books.mutations(invoice_number="F1"),
        "GetOpenPosten": books.open_items,
    }


CASES = [
    (op, name, status, body)
    for op in RESULT_FIELDS
    for name, status, body in itertools.chain(generic_bodies(op), value_bodies(op))
]


def reachable(error: BaseException) -> Iterator[object]:
    """Everything an error reporter could see: the chain, args, attributes, nested values."""
    seen: set[int] = set()
    stack: list[object] = [error]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, BaseException):
            stack += [item.__cause__, item.__context__, *item.args, *vars(item).values()]
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple | set | frozenset):
            stack += list(item)


def assert_no_secret(error: BaseException) -> None:
    for item in reachable(error):
        text = (
            item
            if isinstance(item, str)
            else repr(item)
            if not isinstance(item, bytes)
            else item.decode("latin-1")
        )
        for secret in SECRETS:
            assert secret not in text, (
                f"{secret!r} reachable from {type(error).__name__}: {text[:300]}"
            )
        if isinstance(item, BaseException):
            assert isinstance(item, CrmConnectError), f"foreign exception reachable: {item!r}"


@pytest.fixture(scope="module")
def sandbox() -> EBoekhoudenSandbox:
    return EBoekhoudenSandbox(LOGIN)


@pytest.fixture(scope="module")
def hostile(sandbox: EBoekhoudenSandbox) -> Iterator[tuple[EBoekhoudenClient, HostileAdapter]]:
    books, adapter = hostile_client(sandbox)
    with books:
        sandbox.add_relation("1001", "Bakkerij")
        yield books, adapter


def test_the_sweep_is_large() -> None:
    assert len(CASES) >= 184


@pytest.mark.parametrize(
    ("op", "name", "status", "body"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_every_hostile_answer_gives_a_result_or_a_typed_error(
    hostile: tuple[EBoekhoudenClient, HostileAdapter], op: str, name: str, status: int, body: bytes
) -> None:
    books, adapter = hostile
    adapter.operation, adapter.status, adapter.body = op, status, body
    started = time.monotonic()
    try:
        calls(books)[op]()
    except CrmConnectError as error:
        assert_no_secret(error)
        for text in (str(error), repr(error)):
            assert all(secret not in text for secret in SECRETS)
    finally:
        adapter.operation = ""
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("op", ["OpenSession", "GetMutaties", "AddMutatie"])
def test_malformed_xml_with_http_200_is_a_malformed_response(
    hostile: tuple[EBoekhoudenClient, HostileAdapter], op: str
) -> None:
    books, adapter = hostile
    adapter.operation, adapter.status = op, 200
    try:
        for body in (b"<html><h1>Onderhoud</h1></html>", b"<soap:Envelope", b""):
            adapter.body = body
            with pytest.raises(MalformedResponseError) as caught:
                calls(books)[op]()
            assert caught.value.status_code == 200
            assert "HTTP 200" not in str(caught.value).split("(")[0]
    finally:
        adapter.operation = ""


def test_open_session_without_session_id_is_a_typed_error(
    hostile: tuple[EBoekhoudenClient, HostileAdapter],
) -> None:
    books, adapter = hostile
    adapter.operation, adapter.status = "OpenSession", 200
    adapter.body = response("OpenSession", "<ErrorMsg/>")
    try:
        with pytest.raises(MalformedResponseError, match="SessionID"):
            open_session(books)
    finally:
        adapter.operation = ""


def test_a_missing_result_is_never_read_as_an_empty_list(
    hostile: tuple[EBoekhoudenClient, HostileAdapter],
) -> None:
    books, adapter = hostile
    adapter.operation, adapter.status = "GetMutaties", 200
    try:
        for body in (envelope(f"<GetMutatiesResponse {NS}/>"), response("GetMutaties", "")):
            adapter.body = body
            with pytest.raises(MalformedResponseError):
                books.mutations(invoice_number="F1")
    finally:
        adapter.operation = ""


class Trickle(io.RawIOBase):
    """A body that never ends: one byte every 50 ms."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        time.sleep(0.05)
        buffer[0:1] = b"<"
        return 1


class Endless(io.RawIOBase):
    """A body that never ends, as fast as it can be read."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        buffer[: len(buffer)] = b"a" * len(buffer)
        return len(buffer)


def test_a_trickling_answer_times_out(sandbox: EBoekhoudenSandbox) -> None:
    books, adapter = hostile_client(sandbox, timeout=0.5)
    adapter.operation, adapter.body = "GetRelaties", Trickle()
    started = time.monotonic()
    with books, pytest.raises(TimeoutError):
        books.relations(code="1")
    assert time.monotonic() - started < 3


def test_an_endless_or_oversized_answer_is_refused_at_max_answer_bytes(
    sandbox: EBoekhoudenSandbox,
) -> None:
    books, adapter = hostile_client(sandbox)
    adapter.operation = "GetRelaties"
    with books:
        adapter.body = Endless()
        with pytest.raises(MalformedResponseError, match="max_answer_bytes"):
            books.relations(code="1")
        adapter.body, adapter.headers = b"<x/>", {"Content-Length": str(10**9)}
        with pytest.raises(MalformedResponseError, match="max_answer_bytes"):
            books.relations(code="1")


def test_a_read_retried_after_malformed_answers_chains_nothing(
    sandbox: EBoekhoudenSandbox,
) -> None:
    books, adapter = hostile_client(sandbox, max_retries=2)
    adapter.operation, adapter.body = "GetRelaties", fault("soap:Server", ECHO)
    with books, pytest.raises(ServerError) as caught:
        books.relations(code="1")
    assert_no_secret(caught.value)
    assert caught.value.__context__ is None and caught.value.__cause__ is None


# -- ambiguous writes: the write was done, the answer is garbage ------------------------


def test_a_garbled_answer_to_a_booking_is_looked_up_not_repeated(
    sandbox: EBoekhoudenSandbox,
) -> None:
    books, adapter = hostile_client(sandbox)
    before = len(sandbox.mutations)
    with books:
        books.upsert_relation(Relation(code="1001", company="Bakkerij"))
        adapter.operation, adapter.write_first, adapter.body = "AddMutatie", True, b"<html/>"
        invoice = INVOICE.model_copy(update={"number": "F-GARBLED"})
        booking = books.book_invoice(invoice, DEMO_VAT_TABLE)
        adapter.operation = ""
        again = books.book_invoice(invoice, DEMO_VAT_TABLE)
    assert booking.created and not again.created
    assert booking.mutation_number == again.mutation_number
    assert [m.invoice_number for m in sandbox.mutations[before:]] == ["F-GARBLED"]


def test_a_bulk_push_survives_garbled_answers_and_writes_nothing_twice(
    sandbox: EBoekhoudenSandbox,
) -> None:
    books, adapter = hostile_client(sandbox)
    relations = [Relation(code=f"G{n}", company=f"Klant {n}") for n in range(4)]
    invoices = [
        INVOICE.model_copy(update={"number": f"G-{n}", "relation_code": f"G{n % 4}"})
        for n in range(8)
    ]
    before = len(sandbox.mutations)
    with books:
        adapter.operation, adapter.write_first, adapter.body = "AddRelatie", True, b""
        first = books.push_relations(relations)
        adapter.operation = "AddMutatie"
        pushed = books.push_invoices(invoices, DEMO_VAT_TABLE)
    assert set(first.created) == {r.code for r in relations} and not first.failed
    assert len(pushed.created) == 8 and not pushed.failed
    assert sorted(r.code for r in sandbox.relations if r.code.startswith("G")) == [
        "G0", "G1", "G2", "G3"
    ]  # fmt: skip
    assert sorted(m.invoice_number or "" for m in sandbox.mutations[before:]) == [
        f"G-{n}" for n in range(8)
    ]


def test_a_relation_added_meanwhile_is_updated_not_added_twice(
    sandbox: EBoekhoudenSandbox,
) -> None:
    books, adapter = hostile_client(sandbox)
    adapter.operation = "AddRelatie"
    # Someone adds C1 after the push's listing, just before its AddRelatie: refused as taken.
    adapter.before = lambda: sandbox.add_relation("C1", "Added elsewhere")
    with books:
        result = books.push_relations([Relation(code="C1", company="Ours", city="Ede")])
    assert result.updated == ("C1",) and not result.failed
    [stored] = [r for r in sandbox.relations if r.code == "C1"]
    assert stored.get("city") == "Ede"


# -- the username is a secret too --------------------------------------------------------


def test_username_masked_in_repr_logs_and_faults(
    sandbox: EBoekhoudenSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    books, adapter = hostile_client(sandbox)
    with caplog.at_level(logging.DEBUG), books:
        books.ledgers()
        adapter.operation, adapter.status = "GetRelaties", 500
        adapter.body = fault("soap:Server", ECHO)
        with pytest.raises(ServerError) as caught:
            books.relations(code="x")
    for secret in SECRETS:
        assert secret not in repr(books)
        assert secret not in caplog.text
    assert "OpenSession" in caplog.text or "Username" in caplog.text, "zeep's bodies are logged"
    assert_no_secret(caught.value)


def test_upsert_after_a_lost_answer_or_a_race_adds_the_relation_once(
    sandbox: EBoekhoudenSandbox,
) -> None:
    books, adapter = hostile_client(sandbox)
    with books:
        adapter.operation, adapter.write_first, adapter.body = "AddRelatie", True, b"<html/>"
        lost = books.upsert_relation(Relation(code="U1", company="Verloren antwoord"))
        adapter.write_first, adapter.body = False, b""
        adapter.before = lambda: sandbox.add_relation("U2", "Elders toegevoegd")
        raced = books.upsert_relation(Relation(code="U2", company="Ons", city="Ede"))
    stored = {r.code: r for r in sandbox.relations if r.code in {"U1", "U2"}}
    assert lost.id == stored["U1"].id > 0
    assert raced.id == stored["U2"].id and stored["U2"].get("city") == "Ede"
    assert [r.code for r in sandbox.relations].count("U1") == 1


def test_a_trickling_answer_over_a_real_socket_times_out() -> None:
    # urllib3 waits for a full chunk on read(amt): the deadline must hold on a real socket.
    stop = threading.Event()

    class Trickler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n")
            while not stop.is_set():
                try:
                    self.request.sendall(b"<")
                except OSError:
                    return
                time.sleep(0.05)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Trickler) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        address = f"http://127.0.0.1:{server.server_address[1]}/soap.asmx"
        books = EBoekhoudenClient(USER, CODE1, CODE2, base_url=address, timeout=0.5)
        started = time.monotonic()
        try:
            with pytest.raises(TimeoutError) as caught:
                books.ledgers()
        finally:
            stop.set()
            books.close()
            server.shutdown()
    assert time.monotonic() - started < 3
    assert_no_secret(caught.value)
