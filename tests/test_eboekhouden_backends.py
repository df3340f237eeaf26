"""Both e-Boekhouden backends (SOAP and REST) against the sandbox: the same behaviour.

Every test runs twice, once per backend, on a fresh sandbox: a host that
switches backend by configuration must see no difference.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest

from crmconnect import (
    AuthenticationError,
    ConflictError,
    MappingError,
    NotFoundError,
    RemoteValidationError,
    ServerError,
    ValidationError,
)
from crmconnect.eboekhouden import (
    BooksClient,
    EBoekhoudenClient,
    PaymentState,
    Relation,
    connect,
)
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.mapping import VatTable
from crmconnect.models import Invoice, InvoiceKind, InvoiceLine, VatCategory
from crmconnect.sandbox import (
    DEMO_CREDENTIALS,
    DEMO_VAT_TABLE,
    DEMO_VAT_TABLE_TOML,
    EBoekhoudenSandbox,
)

TABLE = DEMO_VAT_TABLE
WRITE = {"soap": "AddMutatie", "rest": "POST /v1/mutation"}
READ = {"soap": "GetOpenPosten", "rest": "GET /v1/mutation/invoice/outstanding"}
RELATION = Relation(
    code="1001", company="Bakkerij Jansen & Zn B.V.", city="Utrecht", iban="NL91ABNA0417164300"
)


def make_client(backend: str, sandbox: EBoekhoudenSandbox, **login: str) -> BooksClient:
    if backend == "soap":
        return EBoekhoudenClient(
            login.get("username", DEMO_CREDENTIALS.username),
            login.get("code1", DEMO_CREDENTIALS.security_code_1),
            login.get("code2", DEMO_CREDENTIALS.security_code_2),
            session=sandbox.requests_session(),
        )
    token = login.get("token", DEMO_CREDENTIALS.access_token or "")
    return EBoekhoudenRestClient(token, transport=sandbox.transport())


@pytest.fixture(params=["soap", "rest"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sandbox() -> EBoekhoudenSandbox:
    return EBoekhoudenSandbox()


@pytest.fixture
def books(backend: str, sandbox: EBoekhoudenSandbox) -> Iterator[BooksClient]:
    with make_client(backend, sandbox) as client:
        yield client


def invoice(number: str = "F2026-001", *lines: InvoiceLine, include: bool = False) -> Invoice:
    return Invoice(
        number=number,
        relation_code="1001",
        date=dt.date(2026, 3, 1),
        due_date=dt.date(2026, 3, 31),
        kind=InvoiceKind.SALES,
        amounts_include_vat=include,
        lines=list(lines)
        or [
            InvoiceLine(
                description="Advies", quantity="2", unit_price="100.00", vat_category="nl_high"
            ),
            InvoiceLine(description="Boek", unit_price="10.00", vat_category=VatCategory.NL_LOW),
        ],
    )


def test_upsert_creates_once_then_updates(books: BooksClient, sandbox: EBoekhoudenSandbox) -> None:
    created = books.upsert_relation(RELATION)
    updated = books.upsert_relation(RELATION.model_copy(update={"city": "Zeist"}))
    found = books.relation_by_code("1001")
    assert created.id == updated.id > 0
    assert found is not None and (found.city, found.iban) == ("Zeist", "NL91ABNA0417164300")
    assert [r.code for r in sandbox.relations] == ["1001"]
    assert sandbox.relations[0].get("city") == "Zeist"


def test_keyword_and_id_look_ups(books: BooksClient, sandbox: EBoekhoudenSandbox) -> None:
    sandbox.add_relation("2001", "Garage De Vries", city="Amersfoort")
    stored = sandbox.add_relation("2002", "Bakkerij 100% Vers", city="Utrecht")
    assert [r.code for r in books.relations(keyword="utrecht")] == ["2002"]
    assert [r.code for r in books.relations(keyword="100%")] == ["2002"]
    assert [r.code for r in books.relations(id=stored.id)] == ["2002"]
    assert books.relations(id=999999) == []
    assert books.relation_by_code("2003") is None


def test_invoice_booked_once_with_a_line_per_rate(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    first = books.book_invoice(invoice(), TABLE, relation=RELATION)
    again = books.book_invoice(invoice(), TABLE, relation=RELATION)
    assert first.created and not again.created
    assert again.mutation_number == first.mutation_number
    [booked] = sandbox.mutations
    lines = {line.vat_code: line for line in booked.lines}
    assert lines["HOOG_VERK_21"].amount_incl == Decimal("242.00")
    assert lines["LAAG_VERK_9"].vat_amount == Decimal("0.90")
    [read] = books.invoice_bookings("F2026-001")
    assert (read.relation_code, read.ledger_code, read.total_incl) == (
        "1001",
        "1300",
        Decimal("252.90"),
    )


def test_amounts_including_vat_are_booked_as_entered(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    line = InvoiceLine(description="Taart", unit_price="12.10", vat_category="nl_high")
    books.book_invoice(invoice("F-IN", line, include=True), TABLE, relation=RELATION)
    [booked] = sandbox.mutations
    assert booked.in_ex_vat == "IN"
    assert [(x.amount_excl, x.vat_amount, x.amount_incl) for x in booked.lines] == [
        (Decimal("10.00"), Decimal("2.10"), Decimal("12.10"))
    ]


def test_credit_note_with_negative_amounts(books: BooksClient, sandbox: EBoekhoudenSandbox) -> None:
    credit = InvoiceLine(
        description="Retour", quantity="-1", unit_price="100.00", vat_category="nl_high"
    )
    books.book_invoice(invoice("C-1", credit), TABLE, relation=RELATION)
    [booked] = sandbox.mutations
    assert booked.total_incl == Decimal("-121.00")
    assert books.payment_status(["C-1"])["C-1"].outstanding == Decimal("-121.00")


def test_ambiguous_write_is_found_not_repeated(
    backend: str, books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    books.upsert_relation(RELATION)
    sandbox.fail_next(1, "drop_after", WRITE[backend])  # booked, then the connection drops
    booking = books.book_invoice(invoice(), TABLE)
    assert booking.created and booking.mutation_number == 1
    assert len(sandbox.mutations) == 1
    assert sandbox.stats.faults["drop_after"] == 1


def test_server_error_on_a_write_is_raised_not_retried(
    backend: str, books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    books.upsert_relation(RELATION)
    sandbox.fail_next(1, "500", WRITE[backend])
    with pytest.raises(ServerError):
        books.book_invoice(invoice(), TABLE)
    assert sandbox.mutations == []
    assert books.book_invoice(invoice(), TABLE).created  # the host retries later: once


def test_reads_are_retried(backend: str, books: BooksClient, sandbox: EBoekhoudenSandbox) -> None:
    books.book_invoice(invoice(), TABLE, relation=RELATION)
    sandbox.fail_next(2, "503", READ[backend])
    status = books.payment_status(["F2026-001"])["F2026-001"]
    assert status.state is PaymentState.OPEN
    assert sandbox.stats.faults["503"] == 2


def test_payment_status_open_partly_paid_paid(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    books.book_invoice(invoice(), TABLE, relation=RELATION)
    opened = books.payment_status(["F2026-001", "F-UNKNOWN"])
    sandbox.pay("F2026-001", "100.00")
    partly = books.payment_status(["F2026-001"])["F2026-001"]
    sandbox.pay("F2026-001", "152.90")
    paid = books.payment_status(["F2026-001"])["F2026-001"]
    assert opened["F2026-001"].state is PaymentState.OPEN
    assert opened["F-UNKNOWN"].state is PaymentState.UNKNOWN
    assert (partly.state, partly.outstanding) == (PaymentState.PARTLY_PAID, Decimal("152.90"))
    assert (paid.state, paid.amount, paid.outstanding) == (
        PaymentState.PAID,
        Decimal("252.90"),
        Decimal("0.00"),
    )


def test_one_session_reopened_once_when_expired(backend: str, sandbox: EBoekhoudenSandbox) -> None:
    with make_client(backend, sandbox) as books:
        books.ledgers()
        books.cost_centres()
        assert sandbox.sessions_opened == 1
        sandbox.expire_sessions()
        assert [ledger.code for ledger in books.ledgers(category="DEB")] == ["1300"]
        assert sandbox.sessions_opened == 2
    assert sandbox.open_sessions == 0


def test_taken_code_is_a_conflict(books: BooksClient) -> None:
    books.add_relation(RELATION)
    with pytest.raises(ConflictError) as caught:
        books.add_relation(RELATION)
    assert caught.value.code == "REL_049"


def test_refused_value_names_the_field(books: BooksClient) -> None:
    with pytest.raises(RemoteValidationError) as caught:
        books.add_relation(Relation(code="1002", company=""))
    assert isinstance(caught.value, ValidationError)
    assert (caught.value.field, caught.value.code) == ("company", "REL_002")


def test_uncovered_vat_category_writes_nothing(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    narrow = VatTable.from_toml(
        'required_categories = ["nl_high"]\n'
        '[sales]\nnl_high = { vat_code = "HOOG_VERK_21", ledger = "8000" }'
    )
    with pytest.raises(MappingError, match="line 2"):
        books.book_invoice(invoice(), narrow, relation=RELATION)
    assert sandbox.relations == [] and sandbox.mutations == []


def test_bad_credentials_never_show_the_secrets(
    backend: str, sandbox: EBoekhoudenSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = {
        "code1": "wrong-code-one-123",
        "code2": "wrong-code-two-456",
        "token": "wrong-token-789",
    }
    caplog.set_level(logging.DEBUG)
    client = make_client(backend, sandbox, **secrets)
    with client, pytest.raises(AuthenticationError) as caught:
        client.ledgers()
    shown = " ".join([str(caught.value), repr(caught.value), repr(client), caplog.text])
    assert not [secret for secret in secrets.values() if secret in shown]


def test_session_token_never_logged(
    sandbox: EBoekhoudenSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with make_client("rest", sandbox) as books:
        books.book_invoice(invoice(), TABLE, relation=RELATION)
        tokens = [token for token, session in sandbox._sessions.items() if session.kind == "rest"]
    assert tokens and not [t for t in tokens if t in caplog.text]
    assert (DEMO_CREDENTIALS.access_token or "?") not in caplog.text
    assert "POST" in caplog.text  # the calls are logged, the tokens are not


def test_bulk_push_then_a_rerun_writes_nothing(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    relations = [
        RELATION.model_copy(update={"code": f"R{n}", "company": f"Klant {n}"}) for n in range(5)
    ]
    invoices = [
        invoice(f"F{n}").model_copy(update={"relation_code": f"R{n % 5}"}) for n in range(12)
    ]
    first = books.push_invoices(invoices, TABLE, relations)
    sandbox.pay("F3", "252.90")  # a paid invoice is no longer open: still known as booked
    writes_before = writes(sandbox)
    again = books.push_invoices(invoices, TABLE, relations)
    assert len(first.created) == 12 and not first.failed
    assert again.writes == 0 and len(again.unchanged) == 12
    assert writes(sandbox) == writes_before
    assert len(sandbox.mutations) == 13  # 12 invoices and the payment


WRITES = {"AddMutatie", "AddRelatie", "UpdateRelatie", "POST /v1/mutation", "POST /v1/relation"}


def writes(sandbox: EBoekhoudenSandbox) -> int:
    counted = sandbox.stats.requests
    return sum(counted[name] for name in WRITES) + counted["PATCH /v1/relation/{id}"]


def test_failed_invoice_is_reported_and_the_rest_go_on(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    bad = invoice("F-BAD").model_copy(update={"relation_code": "NOPE"})
    result = books.push_invoices([invoice("F-OK"), bad], TABLE, [RELATION])
    assert result.created == ("F-OK",)
    [(key, error)] = result.failed
    assert key == "F-BAD" and isinstance(error, NotFoundError) and "NOPE" in str(error)


def test_connect_switches_backend(sandbox: EBoekhoudenSandbox) -> None:
    with sandbox.serve() as url:
        rest = connect(
            {"backend": "rest", "access_token": DEMO_CREDENTIALS.access_token, "base_url": url}
        )
        soap = connect(
            {
                "backend": "soap",
                "username": DEMO_CREDENTIALS.username,
                "security_code_1": DEMO_CREDENTIALS.security_code_1,
                "security_code_2": DEMO_CREDENTIALS.security_code_2,
                "base_url": url + "/soap.asmx",
            }
        )
        with rest, soap:
            rest.upsert_relation(RELATION)
            found = soap.relation_by_code("1001")
    assert isinstance(rest, EBoekhoudenRestClient) and isinstance(soap, EBoekhoudenClient)
    assert found is not None and found.company == RELATION.company


def test_purchase_invoice_is_booked_on_the_creditors_ledger(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    supplier = Relation(code="2001", company="Groothandel Smit", city="Ede")
    bill = invoice(
        "INK-7", InvoiceLine(description="Meel", unit_price="50.00", vat_category="nl_low")
    )
    bill = bill.model_copy(update={"kind": InvoiceKind.PURCHASE, "relation_code": "2001"})
    booking = books.book_invoice(bill, TABLE, relation=supplier)
    [booked] = sandbox.mutations
    assert booking.created and (booked.kind, booked.ledger_code) == ("FactuurOntvangen", "1600")
    assert [(line.vat_code, line.ledger_code, line.amount_incl) for line in booked.lines] == [
        ("LAAG_INK_9", "7000", Decimal("54.50"))
    ]
    status = books.payment_status(["INK-7"], "Crediteuren")["INK-7"]
    assert (status.state, status.outstanding) == (PaymentState.OPEN, Decimal("54.50"))


def test_demo_vat_table_fits_the_sandbox_chart(sandbox: EBoekhoudenSandbox) -> None:
    chart = {ledger.code: ledger for ledger in sandbox.ledgers}
    table = VatTable.from_toml(DEMO_VAT_TABLE_TOML, known_ledgers=chart)
    used = {row.ledger for row in table.rows} | {group.ledger for group in table.product_groups}
    assert {chart[code].category for code in used} == {"VW"}
    assert {(row.kind, row.category) for row in table.rows} == {
        (kind, category) for kind in InvoiceKind for category in VatCategory
    }


def test_vat_codes_the_sandbox_accepts(books: BooksClient, sandbox: EBoekhoudenSandbox) -> None:
    from crmconnect.sandbox import VAT_CODES

    codes = books.vat_codes()
    assert set(codes) <= set(VAT_CODES)
    assert codes["LAAG_VERK_9"].rate == Decimal(9) and codes["VERL_VERK"].reverse_charge


def test_unknown_vat_code_is_refused_before_sending(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    from crmconnect.eboekhouden import Mutation, MutationKind, MutationLine

    books.upsert_relation(RELATION)
    line = MutationLine(
        amount_entered="100", amount_excl="100", vat_amount="21", amount_incl="121",
        vat_code="HOOG_VERK_25", vat_percentage="21", ledger_code="8000",
    )  # fmt: skip
    mutation = Mutation(
        kind=MutationKind.SALES_INVOICE, date=dt.date(2026, 3, 1), ledger_code="1300",
        relation_code="1001", invoice_number="F-X", lines=[line],
    )  # fmt: skip
    calls = sandbox.stats.total
    with pytest.raises(ValidationError) as caught:
        books._add_mutation(mutation)
    assert caught.value.field == "lines[1].vat_code" and caught.value.value == "HOOG_VERK_25"
    assert sandbox.stats.total == calls and sandbox.mutations == []
