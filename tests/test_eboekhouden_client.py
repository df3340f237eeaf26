"""The e-Boekhouden client against the sandbox: sessions, relations, bookings, payments."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import pytest

from crmconnect import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    MappingError,
    NotFoundError,
)
from crmconnect.eboekhouden import EBoekhoudenClient, OpenItemKind, PaymentState, Relation
from crmconnect.mapping import VatTable
from crmconnect.models import Invoice, InvoiceKind, InvoiceLine, VatCategory
from crmconnect.sandbox import DEMO_VAT_TABLE, EBoekhoudenSandbox

USER, CODE1, CODE2 = "demo", "sandbox-code-1", "sandbox-code-2"

TABLE = DEMO_VAT_TABLE


@pytest.fixture
def sandbox() -> EBoekhoudenSandbox:
    return EBoekhoudenSandbox()


def client(sandbox: EBoekhoudenSandbox, **kwargs: object) -> EBoekhoudenClient:
    return EBoekhoudenClient(USER, CODE1, CODE2, session=sandbox.requests_session(), **kwargs)  # type: ignore[arg-type]


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
                description="Advies",
                quantity=Decimal("2"),
                unit_price=Decimal("100.00"),
                vat_category=VatCategory.NL_HIGH,
            ),
            InvoiceLine(
                description="Boek",
                quantity=Decimal("1"),
                unit_price=Decimal("10.00"),
                vat_category=VatCategory.NL_LOW,
            ),
        ],
    )


RELATION = Relation(
    code="1001", company="Bakkerij Jansen & Zn B.V.", city="Utrecht", iban="NL91ABNA0417164300"
)


def test_one_session_reused_and_closed(sandbox: EBoekhoudenSandbox) -> None:
    with client(sandbox) as books:
        assert sandbox.sessions_opened == 0, "opened lazily"
        books.ledgers()
        books.relations(keyword="x")
        books.open_items()
        assert books.session_open
    assert sandbox.sessions_opened == 1
    assert sandbox.open_sessions == 0, "closed on leaving the with block"


def test_expired_session_is_reopened_once(sandbox: EBoekhoudenSandbox) -> None:
    with client(sandbox) as books:
        books.ledgers()
        sandbox.expire_sessions()
        assert books.ledgers()
    assert sandbox.sessions_opened == 2


def test_wrong_codes_are_an_authentication_error_without_secrets() -> None:
    sandbox = EBoekhoudenSandbox()
    books = EBoekhoudenClient(
        USER, CODE1, "wrong-code-2-secret", session=sandbox.requests_session()
    )
    with pytest.raises(AuthenticationError) as caught:
        books.ledgers()
    assert "wrong-code-2-secret" not in str(caught.value)
    assert "wrong-code-2-secret" not in repr(books) and CODE1 not in repr(books)
    assert USER not in repr(books), "the username identifies the account: masked too"
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_base_url_and_the_deprecated_url(sandbox: EBoekhoudenSandbox) -> None:
    address = "https://soap.example.test/soap.asmx"
    with client(sandbox, base_url=address) as books:
        assert books.base_url == address and address in repr(books)
        assert books.ledgers(), "calls go to the base URL (answered by the sandbox)"
    with pytest.warns(DeprecationWarning, match="base_url"):
        old = client(sandbox, url=address)
    assert old.base_url == old.url == address
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigurationError, match="not both"):
        client(sandbox, base_url=address, url="https://other.test/soap.asmx")


def test_missing_credentials_are_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMCONNECT_EBOEKHOUDEN_USERNAME", raising=False)
    with pytest.raises(ConfigurationError, match="CRMCONNECT_EBOEKHOUDEN_USERNAME"):
        EBoekhoudenClient(None, CODE1, CODE2)


def test_relations_add_get_update_and_duplicate(sandbox: EBoekhoudenSandbox) -> None:
    with client(sandbox) as books:
        created = books.upsert_relation(RELATION)
        assert created.id > 0
        with pytest.raises(ConflictError):
            books.add_relation(RELATION)
        found = books.relation_by_code("1001")
        assert (
            found is not None
            and found.company == "Bakkerij Jansen & Zn B.V."
            and found.iban == "NL91ABNA0417164300"
        )
        books.upsert_relation(RELATION.model_copy(update={"city": "Zeist"}))
        again = books.relation_by_code("1001")
        assert again is not None and again.city == "Zeist" and again.id == created.id
        assert books.relation_by_code("9999") is None
    assert len(sandbox.relations) == 1


def test_book_invoice_lines_per_rate_and_idempotent(sandbox: EBoekhoudenSandbox) -> None:
    with client(sandbox) as books:
        first = books.book_invoice(invoice(), TABLE, relation=RELATION)
        again = books.book_invoice(invoice(), TABLE, relation=RELATION)
    assert first.created and not again.created and again.mutation_number == first.mutation_number
    [booked] = sandbox.mutations
    assert (booked.kind, booked.ledger_code, booked.invoice_number) == (
        "FactuurVerstuurd",
        "1300",
        "F2026-001",
    )
    lines = {line.vat_code: line for line in booked.lines}
    assert lines["HOOG_VERK_21"].amount_incl == Decimal("242.00")
    assert lines["LAAG_VERK_9"].amount_incl == Decimal("10.90")


def test_ambiguous_write_is_not_booked_twice(sandbox: EBoekhoudenSandbox) -> None:
    sandbox.fail_next(1, "drop_after", "AddMutatie")
    with client(sandbox) as books:
        booking = books.book_invoice(invoice("F2026-002"), TABLE, relation=RELATION)
        books.book_invoice(invoice("F2026-002"), TABLE, relation=RELATION)
    assert booking.created
    assert len(sandbox.mutations) == 1


def test_uncovered_category_writes_nothing(sandbox: EBoekhoudenSandbox) -> None:
    table = VatTable.from_toml(
        'required_categories = ["nl_high"]\n[sales]\nnl_high = { vat_code = "HOOG_VERK_21", ledger = "8000" }'
    )
    line = InvoiceLine(
        description="Boek",
        quantity=Decimal("1"),
        unit_price=Decimal("10"),
        vat_category=VatCategory.NL_LOW,
    )
    with client(sandbox) as books, pytest.raises(MappingError):
        books.book_invoice(invoice("F3", line), table, relation=RELATION)
    assert sandbox.relations == [] and sandbox.mutations == []


def test_unknown_relation_without_data_is_not_found(sandbox: EBoekhoudenSandbox) -> None:
    with client(sandbox) as books, pytest.raises(NotFoundError):
        books.book_invoice(invoice("F4"), TABLE)


def test_payment_status_open_partly_paid_paid(sandbox: EBoekhoudenSandbox) -> None:
    with client(sandbox) as books:
        books.book_invoice(invoice("F10"), TABLE, relation=RELATION)
        assert books.payment_status(["F10"])["F10"].state is PaymentState.OPEN
        sandbox.pay("F10", Decimal("100.00"))
        partly = books.payment_status(["F10"])["F10"]
        assert partly.state is PaymentState.PARTLY_PAID and partly.outstanding == Decimal("152.90")
        sandbox.pay("F10", Decimal("152.90"))
        statuses = books.payment_status(["F10", "NOPE"])
        assert statuses["F10"].state is PaymentState.PAID
        assert statuses["NOPE"].state is PaymentState.UNKNOWN
        assert all(
            isinstance(i.outstanding, Decimal) for i in books.open_items(OpenItemKind.DEBTORS)
        )


def test_reads_ledgers_cost_centres_administrations_balances(sandbox: EBoekhoudenSandbox) -> None:
    with client(sandbox) as books:
        codes = {ledger.code for ledger in books.ledgers()}
        assert {"1300", "8000"} <= codes
        assert {ledger.code for ledger in books.ledgers(category="DEB")} == {"1300"}
        assert books.administrations()[0].guid
        assert isinstance(books.cost_centres(), list)
        assert all(isinstance(b.balance, Decimal) for b in books.balances())


def test_security_codes_never_logged(
    sandbox: EBoekhoudenSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with client(sandbox) as books:
        books.ledgers()
        session_id = books._session_id
    assert caplog.records and session_id
    assert CODE1 not in caplog.text and CODE2 not in caplog.text
    assert session_id not in caplog.text  # the session stands for the codes while it lasts


def test_credit_note_and_the_six_percent_rule_reach_the_wire(sandbox: EBoekhoudenSandbox) -> None:
    low = InvoiceLine(
        description="Boek",
        quantity=Decimal("-3"),
        unit_price=Decimal("0.01"),
        vat_category=VatCategory.NL_LOW,
    )
    credit = invoice("C2018-1", low).model_copy(
        update={"date": dt.date(2018, 12, 31), "due_date": None}
    )
    with client(sandbox) as books:
        books.book_invoice(credit, TABLE, relation=RELATION)
    [booked] = sandbox.mutations
    [line] = booked.lines
    assert line.vat_code == "LAAG_VERK"
    assert (line.amount_excl, line.vat_amount, line.amount_incl) == (
        Decimal("-0.03"),
        Decimal("0.00"),
        Decimal("-0.03"),
    )


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_failures_on_reads_are_retried(sandbox: EBoekhoudenSandbox, kind: str) -> None:
    with client(sandbox) as books:
        books.ledgers()
        sandbox.fail_next(1, kind, "GetGrootboekrekeningen")  # type: ignore[arg-type]
        assert books.ledgers()
    assert sandbox.stats.requests["GetGrootboekrekeningen"] == 3


def test_a_429_is_a_rate_limit_error_which_reads_retry(
    sandbox: EBoekhoudenSandbox,
) -> None:
    from crmconnect.errors import RateLimitError, is_retriable

    with client(sandbox, max_retries=0) as books:
        books.ledgers()
        sandbox.faults.rate_limit = 0.2  # one request per five seconds
        books.ledgers()  # the bucket's one token
        with pytest.raises(RateLimitError) as limited:
            books.ledgers()
        assert limited.value.status_code == 429 and USER not in str(limited.value)
        sandbox.faults.rate_limit = None
    assert is_retriable(limited.value)  # a read that meets it is tried again after a wait


def test_writes_are_not_retried_blindly(sandbox: EBoekhoudenSandbox) -> None:
    from crmconnect import ServerError

    with client(sandbox) as books:
        books.upsert_relation(RELATION)
        sandbox.fail_next(1, "500", "AddMutatie")
        with pytest.raises(ServerError):
            books.book_invoice(invoice("F20"), TABLE)
    assert sandbox.stats.requests["AddMutatie"] == 1


def relations_for(count: int) -> list[Relation]:
    return [
        Relation(code=f"1{i:03d}", company=f"Klant {i} B.V.", city="Utrecht") for i in range(count)
    ]


def invoices_for(count: int, day_step: int = 1) -> list[Invoice]:
    line = InvoiceLine(
        description="Advies",
        quantity=Decimal("1"),
        unit_price=Decimal("50.00"),
        vat_category=VatCategory.NL_HIGH,
    )
    return [
        Invoice(
            number=f"B{i:04d}",
            relation_code=f"1{i % 3:03d}",
            date=dt.date(2026, 1, 1) + dt.timedelta(days=i * day_step),
            lines=[line],
        )
        for i in range(count)
    ]


def test_push_relations_writes_only_what_changed(sandbox: EBoekhoudenSandbox) -> None:
    with client(sandbox) as books:
        first = books.push_relations(relations_for(3))
        writes = sandbox.stats.requests["AddRelatie"] + sandbox.stats.requests["UpdateRelatie"]
        again = books.push_relations(relations_for(3))
        assert (
            sandbox.stats.requests["AddRelatie"] + sandbox.stats.requests["UpdateRelatie"] == writes
        )
        changed = relations_for(3)
        changed[1] = changed[1].model_copy(update={"city": "Zeist"})
        third = books.push_relations(changed)
    assert (len(first.created), len(again.unchanged), third.updated) == (3, 3, ("1001",))
    assert {r.values.get("code"): r.values.get("city") for r in sandbox.relations}[
        "1001"
    ] == "Zeist"


def test_push_invoices_books_each_once_with_bulk_lookups(sandbox: EBoekhoudenSandbox) -> None:
    with client(sandbox) as books:
        result = books.push_invoices(invoices_for(6), TABLE, relations_for(3))
        calls = sandbox.stats.total
        rerun = books.push_invoices(invoices_for(6), TABLE)
    assert len(result.created) == 6 and not result.failed
    assert len(rerun.unchanged) == 6 and rerun.writes == 0
    assert sandbox.stats.total - calls <= 2, "the rerun only looks up, in bulk"
    assert len(sandbox.mutations) == 6


def test_bulk_lookup_splits_windows_at_the_cap() -> None:
    sandbox = EBoekhoudenSandbox(mutation_limit=3)
    with client(sandbox) as books:
        books.mutation_cap = 3
        books.push_invoices(invoices_for(10, day_step=3), TABLE, relations_for(3))
        rerun = books.push_invoices(invoices_for(10, day_step=3), TABLE)
    assert len(rerun.unchanged) == 10
    assert len(sandbox.mutations) == 10


def test_push_reports_failures_and_goes_on(sandbox: EBoekhoudenSandbox) -> None:
    orphan = invoices_for(1)[0].model_copy(update={"number": "X1", "relation_code": "9999"})
    with client(sandbox) as books:
        result = books.push_invoices([orphan, *invoices_for(2)], TABLE, relations_for(3))
    assert [key for key, _ in result.failed] == ["X1"]
    assert set(result.created) == {"B0000", "B0001"}
