"""Bulk pushes past GetMutaties' cap of 500: every invoice booked exactly once.

SOAP's GetMutaties answers at most 500 mutations; the bulk look-up must never
read a capped answer as "not booked". These run on both backends where the
case means something for both (REST has no cap: the same push must give the
same books), and the crash test kills a real pusher process with ``kill -9``.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import requests.adapters

from crmconnect import ServerError, SyncError
from crmconnect.eboekhouden import (
    BooksClient,
    EBoekhoudenClient,
    Relation,
)
from crmconnect.eboekhouden._bulk import LookupPath
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.models import Invoice, InvoiceKind, InvoiceLine
from crmconnect.sandbox import DEMO_CREDENTIALS, DEMO_VAT_TABLE, EBoekhoudenSandbox

ROOT = Path(__file__).resolve().parents[1]
RELATION = Relation(code="1001", company="Bakkerij Jansen B.V.", city="Utrecht")
JAN_5 = dt.date(2026, 1, 5)


def invoices(count: int, *, days: int = 1, start: dt.date = JAN_5) -> list[Invoice]:
    """``count`` sales invoices for relation 1001, spread over ``days`` days."""
    return [
        Invoice(
            number=f"F{n:05d}",
            relation_code="1001",
            date=start + dt.timedelta(days=n % days),
            kind=InvoiceKind.SALES,
            lines=[InvoiceLine(description="Brood", unit_price="10.00", vat_category="nl_low")],
        )
        for n in range(count)
    ]


def make_client(backend: str, sandbox: EBoekhoudenSandbox) -> BooksClient:
    if backend == "soap":
        return EBoekhoudenClient(
            DEMO_CREDENTIALS.username,
            DEMO_CREDENTIALS.security_code_1,
            DEMO_CREDENTIALS.security_code_2,
            session=sandbox.requests_session(),
        )
    return EBoekhoudenRestClient(DEMO_CREDENTIALS.access_token, transport=sandbox.transport())


def invoice_bookings(sandbox: EBoekhoudenSandbox) -> list[str]:
    return [m.invoice_number or "" for m in sandbox.mutations if m.kind == "FactuurVerstuurd"]


def sandbox_numbers(sandbox: EBoekhoudenSandbox) -> dict[tuple[str, str], int]:
    """(relation code, invoice number) → mutation number of every invoice booking in the sandbox."""
    return {
        (m.relation_code or "", m.invoice_number or ""): m.number
        for m in sandbox.mutations
        if m.kind in ("FactuurVerstuurd", "FactuurOntvangen")
    }


@pytest.fixture(params=["soap", "rest"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_600_invoices_on_one_day_pushed_twice_are_booked_600_times(backend: str) -> None:
    sandbox = EBoekhoudenSandbox()
    batch = invoices(600)
    with make_client(backend, sandbox) as books:
        first = books.push_invoices(batch, DEMO_VAT_TABLE, [RELATION])
        again = books.push_invoices(batch, DEMO_VAT_TABLE)
    booked = invoice_bookings(sandbox)
    assert len(booked) == 600 and len(set(booked)) == 600
    assert (len(first.created), len(again.created), len(again.unchanged)) == (600, 0, 600)
    assert not first.failed and not again.failed
    assert again.lookup is not None and not again.lookup.unseen
    # Past the cap too, every booking is reported with its mutation number.
    assert first.mutation_numbers == again.mutation_numbers == sandbox_numbers(sandbox)


def test_a_day_at_the_cap_falls_back_to_one_look_up_per_invoice() -> None:
    sandbox = EBoekhoudenSandbox(mutation_limit=20)
    batch = invoices(100)
    with make_client("soap", sandbox) as books:
        books.mutation_cap = 20
        books.push_invoices(batch, DEMO_VAT_TABLE, [RELATION])
        again = books.push_invoices(batch, DEMO_VAT_TABLE)
    assert len(invoice_bookings(sandbox)) == 100 and len(again.unchanged) == 100
    assert again.lookup is not None and again.lookup.path is LookupPath.PER_INVOICE
    # The last 20, the 20 numbered below them, one capped day: 60 left, one call each.
    assert (again.lookup.per_invoice, again.lookup.calls) == (60, 63)


def test_limit_before_filter_1000_invoices_over_60_days_pushed_twice(backend: str) -> None:
    # The real service may keep "the last 500 of the administration" before filtering:
    # then no filter shows older bookings, and they must not be booked again.
    sandbox = EBoekhoudenSandbox(limit_before_filter=True)
    batch = invoices(1000, days=60)
    with make_client(backend, sandbox) as books:
        first = books.push_invoices(batch, DEMO_VAT_TABLE, [RELATION])
        again = books.push_invoices(batch, DEMO_VAT_TABLE)
    assert len(first.created) == 1000
    assert len(invoice_bookings(sandbox)) == 1000
    assert again.created == ()
    assert again.lookup is not None
    if backend == "soap":
        assert again.lookup.path is LookupPath.RECENT_ONLY
        assert len(again.unchanged) == 500, "the last 500 are seen"
        assert len(again.failed) == 500 == len(again.lookup.unseen)
        assert all(isinstance(error, SyncError) for _, error in again.failed)
        assert "last 500" in str(again.failed[0][1])
    else:
        assert len(again.unchanged) == 1000


def test_soap_booked_invoices_refuses_to_answer_for_what_it_cannot_see() -> None:
    sandbox = EBoekhoudenSandbox(limit_before_filter=True)
    batch = invoices(600, days=10)
    with make_client("soap", sandbox) as books:
        books.push_invoices(batch, DEMO_VAT_TABLE, [RELATION])
        with pytest.raises(SyncError, match="cannot tell whether 100 invoice"):
            books.booked_invoices(batch)
        assert len(books.booked_invoices(batch[-10:])) == 10


def test_one_invoice_booked_alone_is_never_booked_again_behind_the_cap(backend: str) -> None:
    sandbox = EBoekhoudenSandbox(limit_before_filter=True)
    batch = invoices(600, days=60)
    with make_client(backend, sandbox) as books:
        books.push_invoices(batch, DEMO_VAT_TABLE, [RELATION])
        numbers = sandbox_numbers(sandbox)
        for invoice in (batch[0], batch[1], batch[-1]):
            pair = (invoice.relation_code, invoice.number)
            if backend == "soap" and numbers[pair] <= 100:  # behind the last 500
                with pytest.raises(SyncError, match="cannot tell whether 1 invoice"):
                    books.book_invoice(invoice, DEMO_VAT_TABLE)
            else:
                booking = books.book_invoice(invoice, DEMO_VAT_TABLE)
                assert (booking.created, booking.mutation_number) == (False, numbers[pair])
    assert len(invoice_bookings(sandbox)) == 600


def test_the_path_says_per_invoice_only_when_invoices_were_looked_up_one_by_one() -> None:
    sandbox = EBoekhoudenSandbox(mutation_limit=20)
    batch = invoices(60, days=3)  # 20 a day: each day answers the cap, and shows them all
    with make_client("soap", sandbox) as books:
        books.mutation_cap = 20
        books.push_invoices(batch, DEMO_VAT_TABLE, [RELATION])
        lookup = books.invoice_lookup(batch)
    assert len(lookup.booked) == 60 and not lookup.unseen
    assert (lookup.path, lookup.per_invoice) == (LookupPath.DATE_WINDOWS, 0)


def test_a_small_administration_is_looked_up_in_one_call() -> None:
    sandbox = EBoekhoudenSandbox()
    batch = invoices(40, days=30)
    with make_client("soap", sandbox) as books:
        books.push_invoices(batch, DEMO_VAT_TABLE, [RELATION])
        again = books.push_invoices(batch, DEMO_VAT_TABLE)
    assert again.lookup is not None
    assert (again.lookup.path, again.lookup.calls) == (LookupPath.COMPLETE, 1)


def test_windows_split_while_capped_and_skip_days_without_invoices() -> None:
    sandbox = EBoekhoudenSandbox(mutation_limit=20)
    batch = invoices(100, days=50)
    with make_client("soap", sandbox) as books:
        books.mutation_cap = 20
        books.push_invoices(batch, DEMO_VAT_TABLE, [RELATION])
        again = books.push_invoices(batch[:30], DEMO_VAT_TABLE)
    assert again.lookup is not None
    assert again.lookup.path is LookupPath.DATE_WINDOWS and again.lookup.per_invoice == 0
    assert len(again.unchanged) == 30 and len(invoice_bookings(sandbox)) == 100


def test_a_failed_look_up_books_nothing(backend: str) -> None:
    sandbox = EBoekhoudenSandbox()
    batch = invoices(5)
    with make_client(backend, sandbox) as books:
        books.push_invoices(batch, DEMO_VAT_TABLE, [RELATION])
        read = "GetMutaties" if backend == "soap" else "GET /v1/mutation"
        # Every attempt fails (the read is retried), then the rest is asked too.
        sandbox.fail_next(20, "500", read)
        again = books.push_invoices(batch, DEMO_VAT_TABLE)
    assert len(invoice_bookings(sandbox)) == 5
    assert again.created == ()
    if backend == "soap":
        assert len(again.failed) == 5 and isinstance(again.failed[0][1], ServerError)


def test_the_same_invoice_twice_in_one_push_is_booked_once(backend: str) -> None:
    sandbox = EBoekhoudenSandbox()
    batch = invoices(3)
    with make_client(backend, sandbox) as books:
        result = books.push_invoices([*batch, batch[0]], DEMO_VAT_TABLE, [RELATION])
    assert sorted(invoice_bookings(sandbox)) == ["F00000", "F00001", "F00002"]
    assert len(result.created) == 3 and result.unchanged == ("F00000",)


def test_push_result_carries_the_mutation_numbers_of_new_and_earlier_bookings(
    backend: str,
) -> None:
    sandbox = EBoekhoudenSandbox()
    other = Relation(code="1002", company="Garage De Vries")
    batch = [*invoices(3), invoices(1)[0].model_copy(update={"relation_code": "1002"})]
    with make_client(backend, sandbox) as books:
        first = books.push_invoices(batch, DEMO_VAT_TABLE, [RELATION, other])
        sandbox.pay("F00001", "10.90", relation_code="1001")  # paid: no longer open
        again = books.push_invoices(batch, DEMO_VAT_TABLE)
        single = books.book_invoice(batch[3], DEMO_VAT_TABLE)
    numbers = sandbox_numbers(sandbox)
    assert len(numbers) == 4  # F00000 is booked for 1001 and for 1002: two numbers
    assert first.mutation_numbers == numbers and all(b.created for b in first.bookings)
    assert again.mutation_numbers == numbers and not any(b.created for b in again.bookings)
    assert [(b.relation_code, b.invoice_number) for b in first.bookings] == [
        (i.relation_code, i.number) for i in batch
    ]
    assert (single.relation_code, single.mutation_number) == ("1002", numbers[("1002", "F00000")])


def test_an_invoice_given_twice_is_one_booking_in_the_result(backend: str) -> None:
    sandbox = EBoekhoudenSandbox()
    batch = invoices(2)
    with make_client(backend, sandbox) as books:
        books.push_invoices(batch[:1], DEMO_VAT_TABLE, [RELATION])
        result = books.push_invoices([*batch, *batch], DEMO_VAT_TABLE)
    assert [(b.invoice_number, b.created) for b in result.bookings] == [
        ("F00000", False),
        ("F00001", True),
    ]
    assert result.mutation_numbers == sandbox_numbers(sandbox)


# -- kill -9 in the middle of a push --------------------------------------------------

PUSHER = """
import sys
from crmconnect.eboekhouden import EBoekhoudenClient
from crmconnect.sandbox import DEMO_VAT_TABLE
from tests.test_eboekhouden_bulk import RELATION, invoices

with EBoekhoudenClient("demo", "sandbox-code-1", "sandbox-code-2", base_url=sys.argv[1]) as b:
    result = b.push_invoices(invoices(1000), DEMO_VAT_TABLE, [RELATION])
print(len(result.created), len(result.unchanged), len(result.failed), result.lookup.path)
"""


def start_pusher(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", PUSHER, url + "/soap.asmx"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when_booked(pusher: subprocess.Popen[str], sandbox: EBoekhoudenSandbox, at: int) -> None:
    deadline = time.monotonic() + 120
    while len(sandbox.mutations) < at:
        assert pusher.poll() is None, pusher.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the pusher is too slow"
        time.sleep(0.005)
    os.kill(pusher.pid, signal.SIGKILL)
    pusher.communicate(timeout=30)  # reaps it and closes its pipes
    assert pusher.returncode == -signal.SIGKILL


def run_pusher(url: str) -> list[str]:
    pusher = start_pusher(url)
    out, err = pusher.communicate(timeout=300)
    assert pusher.returncode == 0, err[-2000:]
    return out.split()


@pytest.fixture
def served() -> Iterator[tuple[EBoekhoudenSandbox, str]]:
    sandbox = EBoekhoudenSandbox()
    with sandbox.serve() as url:
        yield sandbox, url


def test_pushes_killed_midway_settle_at_exactly_one_booking_each(
    served: tuple[EBoekhoudenSandbox, str],
) -> None:
    sandbox, url = served
    for at in (300, 650):  # below the cap, then past it
        kill_when_booked(start_pusher(url), sandbox, at)
    assert 650 <= len(invoice_bookings(sandbox)) < 1000
    created, _, failed, path = run_pusher(url)
    assert failed == "0" and path == LookupPath.PER_INVOICE
    assert int(created) == 1000 - 650 or 0 < int(created) < 350  # killed after a write
    settled = run_pusher(url)
    booked = invoice_bookings(sandbox)
    assert len(booked) == 1000 and len(set(booked)) == 1000
    assert settled[:3] == ["0", "1000", "0"]


# -- ambiguous writes in a bulk push: the write is done, the answer is garbage ----------


class GarblingTransport(httpx.BaseTransport):
    """REST: every other answer to ``POST <path>`` is replaced after the write was done."""

    def __init__(self, inner: httpx.BaseTransport, bodies: dict[str, bytes]) -> None:
        self.inner, self.bodies, self.seen = inner, bodies, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = self.bodies.get(request.url.path) if request.method == "POST" else None
        if body is None:
            return response
        self.seen += 1
        if self.seen % 2:
            return response
        response.read()
        return httpx.Response(200, content=body, request=request)


class GarblingAdapter(requests.adapters.BaseAdapter):
    """SOAP: every other answer to these operations is replaced after the write was done."""

    def __init__(self, inner: requests.adapters.BaseAdapter, bodies: dict[str, bytes]) -> None:
        super().__init__()
        self.inner, self.bodies, self.seen = inner, bodies, 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = self.inner.send(request, **kwargs)
        action = str(request.headers.get("SOAPAction", "")).strip('"').rsplit("/", 1)[-1]
        body = self.bodies.get(action)
        if body is None:
            return response
        self.seen += 1
        if self.seen % 2:
            return response
        response._content, response.raw = body, io.BytesIO(body)
        return response

    def close(self) -> None:
        """Nothing to release."""


def garbling_client(backend: str, sandbox: EBoekhoudenSandbox) -> BooksClient:
    if backend == "rest":
        bodies = {"/v1/relation": b"{}", "/v1/mutation": b""}
        transport = GarblingTransport(sandbox.transport(), bodies)
        return EBoekhoudenRestClient(DEMO_CREDENTIALS.access_token, transport=transport)
    session = sandbox.requests_session()
    adapter = GarblingAdapter(
        session.get_adapter("http://x"), {"AddRelatie": b"{}", "AddMutatie": b""}
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return EBoekhoudenClient(
        DEMO_CREDENTIALS.username,
        DEMO_CREDENTIALS.security_code_1,
        DEMO_CREDENTIALS.security_code_2,
        session=session,
    )


def test_garbled_answers_to_writes_are_looked_up_and_nothing_is_written_twice(
    backend: str,
) -> None:
    sandbox = EBoekhoudenSandbox()
    relations = [Relation(code=f"R{n}", company=f"Klant {n}") for n in range(6)]
    batch = [
        i.model_copy(update={"relation_code": f"R{n % 6}"}) for n, i in enumerate(invoices(12))
    ]
    with garbling_client(backend, sandbox) as books:
        pushed = books.push_relations(relations)
        booked = books.push_invoices(batch, DEMO_VAT_TABLE)
        rerun = books.push_invoices(batch, DEMO_VAT_TABLE, relations)
    assert sorted(pushed.created) == [f"R{n}" for n in range(6)] and not pushed.failed
    assert len(booked.created) == 12 and not booked.failed
    assert rerun.writes == 0 and len(rerun.unchanged) == 12
    assert sorted(r.code for r in sandbox.relations) == [f"R{n}" for n in range(6)]
    assert sorted(invoice_bookings(sandbox)) == sorted(i.number for i in batch)
