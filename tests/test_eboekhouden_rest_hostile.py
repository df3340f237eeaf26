"""Hostile answers to the REST client: a result or a typed error, never a bare exception or a hang.

Every endpoint the client reads gets each hostile body in turn (HTTP 200)
while the other endpoints answer normally. What comes back must be a result
or a `crmconnect.errors.CrmConnectError` (never ``TypeError``, ``KeyError``,
``AttributeError``, ``RecursionError``, ``decimal.InvalidOperation``), the
error must name the service and hold no secret, and no call may hang (a
watchdog stops one after a generous bound; the figures are in
``benchmarks/eboekhouden_rest_hostile.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest

from crmconnect.eboekhouden import Mutation, MutationKind, MutationLine, Relation
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.errors import CrmConnectError, MalformedResponseError
from crmconnect.models import Invoice, InvoiceKind, InvoiceLine
from crmconnect.sandbox import DEMO_ACCESS_TOKEN, DEMO_VAT_TABLE, EBoekhoudenSandbox

ACCESS_TOKEN = "access-token-0123456789abcdef"
SESSION = "session-token-fedcba9876543210"
WATCHDOG_SECONDS = 20

HEALTHY: dict[tuple[str, str], Any] = {
    ("POST", "/v1/session"): {"token": SESSION, "expiresIn": 3600},
    ("GET", "/v1/ledger"): {
        "items": [
            {"id": 11, "code": "1300", "category": "DEB"},
            {"id": 12, "code": "8000", "category": "VW"},
        ],
        "count": 2,
    },
    ("GET", "/v1/ledger/11/balance"): {"code": "1300", "type": "DEB", "balance": 121.0},
    ("GET", "/v1/ledger/12/balance"): {"code": "8000", "type": "VW", "balance": -100.0},
    ("GET", "/v1/relation"): {"items": [{"id": 5, "code": "1001", "name": "Bakkerij"}], "count": 1},
    ("GET", "/v1/relation/5"): {"id": 5, "code": "1001", "name": "Bakkerij"},
    ("POST", "/v1/relation"): {"id": 6, "code": "1002"},
    ("GET", "/v1/mutation"): {
        "items": [{"id": 3, "type": 2, "date": "2026-03-01", "invoiceNumber": "F1"}],
        "count": 1,
    },
    ("GET", "/v1/mutation/3"): {
        "id": 3,
        "type": 2,
        "date": "2026-03-01",
        "invoiceNumber": "F1",
        "relationId": 5,
        "ledgerId": 11,
        "inExVat": "EX",
        "rows": [{"ledgerId": 12, "vatCode": "HOOG_VERK_21", "amount": 100.0}],
    },
    ("POST", "/v1/mutation"): {"id": 4},
    ("GET", "/v1/mutation/invoice/outstanding"): {
        "items": [
            {
                "invoiceNumber": "F1",
                "relationCode": "1001",
                "totalAmount": 121.0,
                "paidAmount": 0,
                "outstandingAmount": 121.0,
            }
        ],
        "count": 1,
    },
    ("GET", "/v1/costcenter"): {"items": [{"id": 1, "description": "Winkel"}], "count": 1},
    ("GET", "/v1/administration"): {"items": [{"name": "Klant", "guid": "G-1"}], "count": 1},
}

MUTATION = Mutation(
    kind=MutationKind.SALES_INVOICE,
    date=dt.date(2026, 3, 1),
    ledger_code="1300",
    relation_code="1001",
    invoice_number="F2",
    lines=[
        MutationLine(
            amount_entered=Decimal("100"),
            amount_excl=Decimal("100"),
            vat_amount=Decimal("21"),
            amount_incl=Decimal("121"),
            vat_code="HOOG_VERK_21",
            vat_percentage=Decimal("21"),
            ledger_code="8000",
        )
    ],
)

CALLS: dict[tuple[str, str], Callable[[EBoekhoudenRestClient], object]] = {
    ("POST", "/v1/session"): lambda books: books.cost_centres(),
    ("GET", "/v1/ledger"): lambda books: books.ledgers(),
    ("GET", "/v1/ledger/11/balance"): lambda books: books.balances(),
    ("GET", "/v1/relation"): lambda books: books.relations(),
    ("GET", "/v1/relation/5"): lambda books: books.relations(id=5),
    ("POST", "/v1/relation"): lambda books: books.add_relation(Relation(code="1002", company="B")),
    ("GET", "/v1/mutation"): lambda books: books.mutations(invoice_number="F1"),
    ("GET", "/v1/mutation/3"): lambda books: books.mutation(3),
    ("POST", "/v1/mutation"): lambda books: books._add_mutation(MUTATION),
    ("GET", "/v1/mutation/invoice/outstanding"): lambda books: books.open_items(),
    ("GET", "/v1/costcenter"): lambda books: books.cost_centres(),
    ("GET", "/v1/administration"): lambda books: books.administrations(),
}
"""A client call that reads each endpoint."""

LISTINGS = {path for (method, path), body in HEALTHY.items() if "items" in body}

DEEP = 100_000


def raw_bodies() -> dict[str, bytes]:
    """Bodies that are not the expected JSON at all, for every endpoint."""
    return {
        "empty": b"",
        "blank": b"  \n ",
        "null": b"null",
        "empty list": b"[]",
        "list of a number": b"[1]",
        "empty object": b"{}",
        "string": b'"ok"',
        "number": b"42",
        "float": b"4.2e1",
        "true": b"true",
        "html": b"<html><body><h1>Onderhoud</h1></body></html>",
        "cut off": b'{"items": [{"id": 1, "code": "A"',
        "bad utf-8": b'{"id": 1, "code": "\xff\xfe"}',
        "utf-16": '{"id": 1}'.encode("utf-16"),
        "bom": b'\xef\xbb\xbf{"id": 1}',
        "deep lists": b"[" * DEEP + b"]" * DEEP,
        "deep objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        "nan": b'{"id": NaN, "balance": NaN, "items": NaN}',
        "infinity": b'{"id": Infinity, "balance": -Infinity}',
        "huge integer": b'{"id": ' + b"9" * 5000 + b"}",
        "huge exponent": b'{"id": 1e999999, "balance": 1e999999, "expiresIn": 1e999999}',
        "echoed secrets": json.dumps(
            {"message": f"token {ACCESS_TOKEN} session {SESSION}", "items": "x"}
        ).encode(),
        "trailing garbage": b'{"id": 1} x',
        "nul": b'{"id": 1, "code": "\\u0000"}\x00',
    }


def object_variants() -> dict[str, Any]:
    """Objects of the right outer shape whose members have the wrong type or none."""
    wrong_values: list[Any] = [None, [], {}, [1], "", "x", True, -1, 1.5, "1e5", 2**80]
    variants: dict[str, Any] = {}
    members = (
        "id",
        "code",
        "name",
        "token",
        "expiresIn",
        "balance",
        "type",
        "date",
        "rows",
        "relationId",
        "ledgerId",
        "invoiceNumber",
        "totalAmount",
        "outstandingAmount",
        "description",
        "parentId",
        "guid",
        "inExVat",
        "termOfPayment",
        "doNotReceiveNewsletters",
    )
    for member in members:
        for value in wrong_values:
            variants[f"{member}={value!r}"[:40]] = {"id": 1, "token": SESSION, member: value}
    variants["rows of numbers"] = {"id": 3, "type": 2, "rows": [1, 2, 3]}
    variants["rows of nulls"] = {"id": 3, "type": 2, "rows": [None]}
    variants["row amount text"] = {"id": 3, "type": 2, "rows": [{"amount": "veel"}]}
    variants["row amount huge"] = {"id": 3, "type": 2, "rows": [{"amount": 1e300}]}
    variants["row vat list"] = {"id": 3, "type": 2, "rows": [{"amount": 1, "vatCode": []}]}
    variants["date not a date"] = {"id": 3, "type": 2, "date": "2026-13-45"}
    variants["type unknown"] = {"id": 3, "type": 99}
    return variants


def page_variants() -> dict[str, Any]:
    """Pages whose ``items`` or ``count`` are wrong."""
    pages: dict[str, Any] = {
        "items null": {"items": None, "count": 1},
        "items object": {"items": {"id": 1}, "count": 1},
        "items string": {"items": "abc", "count": 1},
        "items of null": {"items": [None], "count": 1},
        "items of numbers": {"items": [1, 2], "count": 2},
        "items of lists": {"items": [[1]], "count": 1},
        "count text": {"items": [], "count": "many"},
        "count list": {"items": [], "count": []},
        "count negative": {"items": [{"id": 1, "code": "A", "guid": "G"}], "count": -1},
        "no items": {"count": 3},
    }
    for name, variant in object_variants().items():
        pages[f"item {name}"] = {"items": [variant], "count": 1}
    return pages


def bodies_for(endpoint: tuple[str, str]) -> Iterator[tuple[str, bytes]]:
    """Every hostile body for one endpoint (pages for listings, objects for the rest)."""
    yield from raw_bodies().items()
    variants = page_variants() if endpoint[1] in LISTINGS else object_variants()
    for name, variant in variants.items():
        yield name, json.dumps(variant).encode()


def hostile_transport(endpoint: tuple[str, str], body: bytes) -> httpx.MockTransport:
    """Healthy answers, except ``body`` (HTTP 200) at ``endpoint``."""

    def handler(request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        if key == endpoint:
            return httpx.Response(200, content=body)
        if request.method in ("PATCH", "DELETE"):
            return httpx.Response(204)
        if key not in HEALTHY:  # e.g. an ID the hostile body made up
            return httpx.Response(404, json={"type": "validation", "title": "Not found"})
        return httpx.Response(200, json=HEALTHY[key])

    return httpx.MockTransport(handler)


class Hung(BaseException):
    """Raised by the watchdog; a BaseException, so no ``except Exception`` swallows it."""


@contextmanager
def watchdog(seconds: int) -> Iterator[None]:
    """Stop the block after ``seconds`` (a hang guard, not a speed measurement)."""

    def stop(signum: int, frame: object) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def secrets_in(
    error: BaseException, secrets: tuple[str, ...] = (ACCESS_TOKEN, SESSION)
) -> list[str]:
    """Where a secret shows in an error: its text, repr, args, attributes and chain."""
    found = []
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts = [str(current), repr(current), repr(current.args), repr(vars(current))]
        found += [text for text in texts if any(secret in text for secret in secrets)]
        pending += [current.__cause__, current.__context__]
    return found


ENDPOINTS = sorted(CALLS)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=" ".join)
def test_every_hostile_body_gives_a_result_or_a_typed_error(endpoint: tuple[str, str]) -> None:
    outcomes: dict[str, str] = {}
    for name, body in bodies_for(endpoint):
        transport = hostile_transport(endpoint, body)
        books = EBoekhoudenRestClient(ACCESS_TOKEN, transport=transport, max_retries=0)
        try:
            with watchdog(WATCHDOG_SECONDS):
                CALLS[endpoint](books)
        except CrmConnectError as error:
            assert getattr(error, "service", "eboekhouden") == "eboekhouden", name
            # The session token is a secret once the client holds it (not in its own answer).
            known = (
                (ACCESS_TOKEN,) if endpoint == ("POST", "/v1/session") else (ACCESS_TOKEN, SESSION)
            )
            assert not secrets_in(error, known), (name, secrets_in(error, known))
            outcomes[name] = type(error).__name__
        else:
            outcomes[name] = "result"
        finally:
            books.close()
    # The sweep covers the bodies that must fail, and they fail as malformed answers.
    for name in ("empty object", "null", "empty list", "html", "deep lists", "deep objects"):
        assert outcomes[name] == "MalformedResponseError", (name, outcomes[name])
    assert len(outcomes) >= 200


def test_the_sweep_is_as_wide_as_the_attack() -> None:
    bodies = sum(1 for endpoint in ENDPOINTS for _ in bodies_for(endpoint))
    assert bodies >= 220 * len(ENDPOINTS)


@pytest.mark.parametrize("body", [b"", b"{}", b"null", b'{"code": "1002"}', b'{"id": null}'])
@pytest.mark.parametrize("endpoint", [("POST", "/v1/relation"), ("POST", "/v1/mutation")])
def test_an_unreadable_answer_to_a_write_is_malformed(
    endpoint: tuple[str, str], body: bytes
) -> None:
    # The write may have taken effect: the bulk pushes look it up (a MalformedResponseError).
    with EBoekhoudenRestClient(ACCESS_TOKEN, transport=hostile_transport(endpoint, body)) as books:
        with pytest.raises(MalformedResponseError) as caught:
            CALLS[endpoint](books)
    assert caught.value.status_code == 200 and caught.value.service == "eboekhouden"
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_a_page_larger_than_asked_is_refused_before_it_is_read_item_by_item() -> None:
    # 10 MB, 1.2 million items: once the body is parsed, the count alone refuses it.
    body = b'{"items": [' + b",".join([b"1"] * 1_200_000) + b'], "count": 1200000}'
    endpoint = ("GET", "/v1/relation")
    with EBoekhoudenRestClient(ACCESS_TOKEN, transport=hostile_transport(endpoint, body)) as books:
        with watchdog(WATCHDOG_SECONDS), pytest.raises(MalformedResponseError) as caught:
            books.relations()
    assert "1200000 items; 2000 were asked" in str(caught.value)


def test_max_answer_bytes_caps_every_answer() -> None:
    endpoint = ("GET", "/v1/relation")
    body = json.dumps({"items": [{"id": 1, "code": "A", "note": "x" * 5000}], "count": 1})
    transport = hostile_transport(endpoint, body.encode())
    with EBoekhoudenRestClient(ACCESS_TOKEN, transport=transport, max_answer_bytes=4096) as books:
        with pytest.raises(MalformedResponseError, match="max_answer_bytes"):
            books.relations()
        assert [ledger.code for ledger in books.ledgers()] == ["1300", "8000"]


def test_rows_beyond_the_cap_are_refused() -> None:
    rows = [{"ledgerId": 12, "vatCode": "GEEN", "amount": 1}] * 5001
    body = json.dumps({**HEALTHY[("GET", "/v1/mutation/3")], "rows": rows}).encode()
    transport = hostile_transport(("GET", "/v1/mutation/3"), body)
    with EBoekhoudenRestClient(ACCESS_TOKEN, transport=transport) as books:
        with pytest.raises(MalformedResponseError, match="5001 items; at most 5000"):
            books.mutation(3)


def test_paging_stops_at_the_count_and_refuses_a_repeat() -> None:
    pages: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/session":
            return httpx.Response(200, json=HEALTHY[("POST", "/v1/session")])
        offset = int(request.url.params["offset"])
        pages.append(request.url.params["offset"])
        items = [{"id": offset + n + 1, "code": f"R{offset + n}"} for n in range(2)]
        return httpx.Response(200, json={"items": items, "count": 4})

    transport = httpx.MockTransport(handler)
    with EBoekhoudenRestClient(ACCESS_TOKEN, transport=transport, page_size=2) as books:
        assert [r.code for r in books.relations()] == ["R0", "R1", "R2", "R3"]
    assert pages == ["0", "2"]


def test_amounts_stay_decimal_and_odd_remote_values_are_read() -> None:
    body = json.dumps(
        {
            "id": 5,
            "code": "1001",
            "name": "Bakkerij\u0000 Jansen",
            "iban": "X",
            "companyRegistrationNumber": "12",
            "vatNumber": "onbekend",
            "postalCode": 1234,
        }
    ).encode()
    with EBoekhoudenRestClient(
        ACCESS_TOKEN, transport=hostile_transport(("GET", "/v1/relation/5"), body)
    ) as books:
        [relation] = books.relations(id=5)
        [balance, _] = books.balances()
    # The remote holds what it holds: read as it is, only invisible characters removed.
    assert (relation.company, relation.iban, relation.kvk_number, relation.postcode) == (
        "Bakkerij Jansen",
        "X",
        "12",
        "1234",
    )
    assert balance.balance == Decimal("121.00") and isinstance(balance.balance, Decimal)


@pytest.mark.parametrize("garbled", [b"", b"{}", b"null", b"<html>502</html>"])
def test_a_push_looks_up_a_write_whose_answer_was_unreadable(garbled: bytes) -> None:
    # The sandbox performs the write; the answer is lost on the way back.
    sandbox = EBoekhoudenSandbox()
    inner = sandbox.transport()
    spoiled: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        response = inner.handle_request(request)
        path = request.url.path
        writes = ("/v1/relation", "/v1/mutation")
        if request.method == "POST" and path in writes and path not in spoiled:
            spoiled.append(path)
            response.read()
            return httpx.Response(200, content=garbled)
        return response

    relations = [Relation(code="1001", company="Bakkerij"), Relation(code="1002", company="Slager")]
    invoices = [
        Invoice(
            number=f"F{n}",
            relation_code="1001",
            date=dt.date(2026, 3, 1),
            due_date=dt.date(2026, 3, 31),
            kind=InvoiceKind.SALES,
            lines=[InvoiceLine(description="Advies", unit_price="100.00", vat_category="nl_high")],
        )
        for n in (1, 2)
    ]
    transport = httpx.MockTransport(handler)
    with EBoekhoudenRestClient(DEMO_ACCESS_TOKEN, transport=transport) as books:
        for _ in range(2):  # a failed record is retried by the next run, never dropped
            books.push_relations(relations)
            books.push_invoices(invoices, DEMO_VAT_TABLE)
    assert spoiled == ["/v1/relation", "/v1/mutation"]
    assert sorted(r.code for r in sandbox.relations) == ["1001", "1002"]
    assert sorted(m.invoice_number or "" for m in sandbox.mutations) == ["F1", "F2"]


def error_bodies() -> dict[str, bytes]:
    """Error answers that are not the documented error object, or abuse its members."""
    error = {"type": "validation", "code": "REL_007", "title": "Iban is invalid.", "status": 400}
    abused = {
        "code object": {**error, "code": {"a": 1}},
        "code list": {**error, "code": ["REL_007"]},
        "code huge": {**error, "code": "X" * 100_000},
        "property list": {**error, "propertyName": ["iban"]},
        "property object": {**error, "propertyName": {"n": "iban"}},
        "title number": {**error, "code": None, "title": 42},
        "message huge": {**error, "message": "m" * 3_000_000},
        "trace object": {**error, "traceId": {"t": 1}},
        "secrets echoed": {**error, "message": f"{ACCESS_TOKEN} {SESSION}", "traceId": SESSION},
        "errors deep": {**error, "errors": [[[[[]]]]]},
    }
    return {
        **{name: json.dumps(body).encode() for name, body in abused.items()},
        "empty": b"",
        "html": b"<html>Bad gateway</html>",
        "list": b"[1, 2]",
        "deep": b"[" * DEEP + b"]" * DEEP,
        "deep object": b'{"code":' * DEEP + b"1" + b"}" * DEEP,
        "not utf-8": b"\xff\xfe\xfa",
        "secret cut at the excerpt": b" " * 190 + ACCESS_TOKEN.encode() * 3,
    }


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 429, 500, 502, 503])
def test_hostile_error_answers_map_onto_typed_errors(status: int) -> None:
    for name, body in error_bodies().items():

        def handler(request: httpx.Request, body: bytes = body) -> httpx.Response:
            if request.url.path == "/v1/session":
                return httpx.Response(200, json=HEALTHY[("POST", "/v1/session")])
            return httpx.Response(status, content=body, headers={"Retry-After": "0"})

        transport = httpx.MockTransport(handler)
        with EBoekhoudenRestClient(ACCESS_TOKEN, transport=transport, max_retries=0) as books:
            with watchdog(WATCHDOG_SECONDS), pytest.raises(CrmConnectError) as caught:
                books.ledgers()
        error = caught.value
        assert not secrets_in(error), (name, secrets_in(error))
        assert len(str(error)) < 2000, name
        assert getattr(error, "status_code", None) == status, name


def test_a_read_answered_by_a_maintenance_page_is_asked_again_a_write_is_not() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        seen.append(" ".join(key))
        if key == ("POST", "/v1/session"):
            return httpx.Response(200, json=HEALTHY[key])
        if seen.count(" ".join(key)) == 1:  # the first answer of each call is a maintenance page
            return httpx.Response(200, content=b"<html><h1>Onderhoud</h1></html>")
        return httpx.Response(200, json=HEALTHY[key])

    transport = httpx.MockTransport(handler)
    with EBoekhoudenRestClient(ACCESS_TOKEN, transport=transport, max_retries=1) as books:
        assert [ledger.code for ledger in books.ledgers()] == ["1300", "8000"]
        with pytest.raises(MalformedResponseError):
            books.add_relation(Relation(code="1002", company="B"))
    assert seen.count("GET /v1/ledger") == 2 and seen.count("POST /v1/relation") == 1
