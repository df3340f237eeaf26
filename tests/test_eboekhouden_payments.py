"""Payment state by relation and invoice number, on both backends (SOAP and REST).

An invoice number is unique per relation, not per administration: invoice X1
paid by relation 1001 must not read as open because X1 of relation 1002 is.
`payment_states` matches on both, with one open-items call for all invoices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from crmconnect import ServerError
from crmconnect.eboekhouden import (
    BooksClient,
    EBoekhoudenClient,
    PaymentState,
    Relation,
)
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.models import Invoice, InvoiceKind, InvoiceLine
from crmconnect.sandbox import DEMO_CREDENTIALS, DEMO_VAT_TABLE, EBoekhoudenSandbox

OPEN_ITEMS = {"soap": "GetOpenPosten", "rest": "GET /v1/mutation/invoice/outstanding"}
BOOKINGS = {"soap": "GetMutaties", "rest": "GET /v1/mutation"}
SECRETS = [
    DEMO_CREDENTIALS.security_code_1,
    DEMO_CREDENTIALS.security_code_2,
    DEMO_CREDENTIALS.access_token or "?",
]
RELATIONS = [
    Relation(code="1001", company="Bakkerij Jansen B.V."),
    Relation(code="1002", company="Garage De Vries"),
]


def make_client(backend: str, sandbox: EBoekhoudenSandbox, retries: int = 2) -> BooksClient:
    if backend == "soap":
        return EBoekhoudenClient(
            DEMO_CREDENTIALS.username,
            DEMO_CREDENTIALS.security_code_1,
            DEMO_CREDENTIALS.security_code_2,
            session=sandbox.requests_session(),
            max_retries=retries,
        )
    return EBoekhoudenRestClient(
        DEMO_CREDENTIALS.access_token, transport=sandbox.transport(), max_retries=retries
    )


def invoice(number: str, relation_code: str, price: str = "100.00") -> Invoice:
    """A sales invoice of ``price`` plus 21 % VAT."""
    return Invoice(
        number=number,
        relation_code=relation_code,
        date=dt.date(2026, 3, 1),
        kind=InvoiceKind.SALES,
        lines=[InvoiceLine(description="Advies", unit_price=price, vat_category="nl_high")],
    )


@pytest.fixture(params=["soap", "rest"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sandbox() -> EBoekhoudenSandbox:
    return EBoekhoudenSandbox()


@pytest.fixture
def books(backend: str, sandbox: EBoekhoudenSandbox) -> Iterator[BooksClient]:
    with make_client(backend, sandbox) as client:
        client.push_invoices(
            [invoice("X1", "1001"), invoice("X1", "1002"), invoice("X2", "1001", "200.00")],
            DEMO_VAT_TABLE,
            RELATIONS,
        )
        yield client


def test_the_same_number_paid_by_one_relation_and_open_for_another(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    sandbox.pay("X1", "121.00", relation_code="1001")
    states = books.payment_states([("1001", "X1"), ("1002", "X1")])
    paid, still_open = states[("1001", "X1")], states[("1002", "X1")]
    assert (paid.state, paid.relation_code, paid.outstanding) == (
        PaymentState.PAID,
        "1001",
        Decimal("0.00"),
    )
    assert (still_open.state, still_open.relation_code, still_open.outstanding) == (
        PaymentState.OPEN,
        "1002",
        Decimal("121.00"),
    )


def test_partly_paid_open_and_unknown(books: BooksClient, sandbox: EBoekhoudenSandbox) -> None:
    sandbox.pay("X2", "42.00", relation_code="1001")
    states = books.payment_states([("1001", "X2"), ("1002", "X1"), ("1001", "NOPE")])
    partly, unknown = states[("1001", "X2")], states[("1001", "NOPE")]
    assert (partly.state, partly.amount, partly.paid, partly.outstanding) == (
        PaymentState.PARTLY_PAID,
        Decimal("242.00"),
        Decimal("42.00"),
        Decimal("200.00"),
    )
    assert states[("1002", "X1")].state is PaymentState.OPEN
    assert (unknown.state, unknown.error) == (PaymentState.UNKNOWN, None)
    assert list(states) == [("1001", "X2"), ("1002", "X1"), ("1001", "NOPE")]


def test_a_number_booked_for_another_relation_only_is_unknown(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    sandbox.pay("X2", "242.00", relation_code="1001")
    states = books.payment_states([("1001", "X2"), ("1002", "X2")])
    assert states[("1001", "X2")].state is PaymentState.PAID
    assert states[("1001", "X2")].amount == Decimal("242.00")
    assert states[("1002", "X2")].state is PaymentState.UNKNOWN


def test_one_open_items_call_and_no_look_up_for_invoices_known_booked(
    backend: str, books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    sandbox.pay("X1", "121.00", relation_code="1001")
    before = sandbox.stats.requests
    pairs = [("1001", "X1"), ("1002", "X1"), ("1001", "X2")]
    states = books.payment_states(pairs, booked=pairs)
    after = sandbox.stats.requests
    assert after[OPEN_ITEMS[backend]] - before[OPEN_ITEMS[backend]] == 1
    assert sandbox.stats.total - sum(before.values()) == 1  # nothing else was asked
    assert [states[pair].state for pair in pairs] == [
        PaymentState.PAID,
        PaymentState.OPEN,
        PaymentState.OPEN,
    ]


def test_a_failed_look_up_is_reported_per_invoice_and_the_others_are_answered(
    backend: str, sandbox: EBoekhoudenSandbox
) -> None:
    with make_client(backend, sandbox, retries=0) as books:
        books.push_invoices(
            [invoice("X1", "1001"), invoice("X1", "1002")], DEMO_VAT_TABLE, RELATIONS
        )
        sandbox.pay("X1", "121.00", relation_code="1001")
        sandbox.fail_next(1, "500", BOOKINGS[backend])
        states = books.payment_states([("1001", "X1"), ("1002", "X1")])
        again = books.payment_states([("1001", "X1")])
    failed = states[("1001", "X1")]
    assert failed.state is PaymentState.UNKNOWN and isinstance(failed.error, ServerError)
    assert failed.error.__context__ is None and failed.error.__cause__ is None
    shown = repr(states) + str(vars(failed.error))
    assert not [secret for secret in SECRETS if secret in shown]
    assert states[("1002", "X1")].state is PaymentState.OPEN
    assert again[("1001", "X1")].state is PaymentState.PAID  # asked again later: answered


def test_creditors_are_matched_by_relation_too(backend: str, sandbox: EBoekhoudenSandbox) -> None:
    purchase = invoice("INK-7", "2001").model_copy(update={"kind": InvoiceKind.PURCHASE})
    supplier = Relation(code="2001", company="Groothandel Peters")
    with make_client(backend, sandbox) as books:
        books.push_invoices([purchase], DEMO_VAT_TABLE, [supplier])
        states = books.payment_states([("2001", "INK-7"), ("2002", "INK-7")], "Crediteuren")
    assert states[("2001", "INK-7")].state is PaymentState.OPEN
    assert states[("2002", "INK-7")].state is PaymentState.UNKNOWN


def test_payment_status_by_number_alone_keeps_working(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    sandbox.pay("X2", "42.00", relation_code="1001")
    status = books.payment_status(["X2", "NOPE"])
    assert status["X2"].state is PaymentState.PARTLY_PAID
    assert status["X2"].relation_code == "1001"
    assert status["NOPE"].state is PaymentState.UNKNOWN
