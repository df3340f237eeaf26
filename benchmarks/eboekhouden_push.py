"""Push benchmark: N relations and N invoices to the e-Boekhouden sandbox on loopback.

The sandbox runs in its own process (``python -m crmconnect.sandbox eboekhouden``)
with 20 ms latency, once per backend (SOAP, REST). The script pushes the relations and invoices with the
client's bulk methods, then pushes the same data again (a rerun without
changes), and prints per run: remote calls per relation and per invoice,
sessions opened, writes, wall time and its ratio to the latency floor
(calls x 20 ms, the time the calls take one after another).

Goals: one session per run, at most 1.1 calls per record on the create path,
and a rerun that writes nothing.

Then ``--one-day`` invoices (2,000) all dated 2026-01-05 are pushed twice
to a fresh sandbox: more than GetMutaties' cap of 500 on one day, so the
SOAP look-up cannot be narrowed by date and falls back to one GetMutaties per
invoice. Printed per push: calls, bookings in the sandbox, wall time and the
look-up path. Goal: exactly one booking per invoice after both pushes.

Run ``python benchmarks/eboekhouden_push.py [--backend soap|rest|both]
[--records N] [--one-day N]`` (``--one-day 0`` skips that run).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import time
from decimal import Decimal

import httpx
import requests
from sandbox_process import start_sandbox

from crmconnect.eboekhouden import BooksClient, EBoekhoudenClient, Relation
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.mapping import VatTable
from crmconnect.models import Invoice, InvoiceLine, VatCategory

LATENCY = 0.02
TABLE = VatTable.from_toml(
    'required_categories = ["nl_high", "nl_low"]\n[sales]\n'
    'nl_high = { vat_code = "HOOG_VERK_21", ledger = "8000" }\n'
    'nl_low = { vat_code = "LAAG_VERK_9", ledger = "8010" }\n'
    '[sales.product_groups]\nconsultancy = "8011"\n'
)


def data(count: int) -> tuple[list[Relation], list[Invoice]]:
    relations = [
        Relation(code=f"{1000 + i}", company=f"Klant {i} B.V.", city="Utrecht")
        for i in range(count)
    ]
    invoices = [
        Invoice(
            number=f"F{i:05d}",
            relation_code=f"{1000 + i}",
            date=dt.date(2026, 1, 1) + dt.timedelta(days=i % 300),
            lines=[
                InvoiceLine(
                    description="Advies",
                    quantity=Decimal(3),
                    unit_price=Decimal("99.95"),
                    vat_category=VatCategory.NL_HIGH,
                    product_group="consultancy",
                ),
                InvoiceLine(
                    description="Boek",
                    quantity=Decimal(1),
                    unit_price=Decimal("12.50"),
                    vat_category=VatCategory.NL_LOW,
                ),
            ],
        )
        for i in range(count)
    ]
    return relations, invoices


def counting_session() -> tuple[requests.Session, collections.Counter[str]]:
    calls: collections.Counter[str] = collections.Counter()
    session = requests.Session()

    def count(response: requests.Response, *args: object, **kwargs: object) -> None:
        header = response.request.headers.get("SOAPAction", "")
        text = header.decode() if isinstance(header, bytes) else header
        action = text.strip('"').rsplit("/", 1)[-1]
        calls[action] += 1

    session.hooks["response"].append(count)
    return session, calls


SESSIONS = {"OpenSession", "OpenSessionSub", "POST /v1/session"}
WRITES = {"AddRelatie", "UpdateRelatie", "AddMutatie", "POST /v1/relation", "POST /v1/mutation"}
CLOSES = {"CloseSession", "DELETE /v1/session"}


def counting_rest_client() -> tuple[httpx.Client, collections.Counter[str]]:
    calls: collections.Counter[str] = collections.Counter()

    def count(response: httpx.Response) -> None:
        path = "/".join("{id}" if part.isdigit() else part for part in response.url.path.split("/"))
        calls[f"{response.request.method} {path}"] += 1

    return httpx.Client(event_hooks={"response": [count]}), calls


def client(backend: str, url: str) -> tuple[BooksClient, collections.Counter[str]]:
    if backend == "rest":
        http, calls = counting_rest_client()
        return EBoekhoudenRestClient("sandbox-api-token", base_url=url, http_client=http), calls
    session, calls = counting_session()
    soap = EBoekhoudenClient(
        "demo", "sandbox-code-1", "sandbox-code-2", base_url=f"{url}/soap.asmx", session=session
    )
    return soap, calls


def run(
    label: str, backend: str, url: str, relations: list[Relation], invoices: list[Invoice]
) -> None:
    books, calls = client(backend, url)
    started = time.perf_counter()
    with books:
        pushed_relations = books.push_relations(relations)
        relation_calls = sum(calls.values())
        pushed_invoices = books.push_invoices(invoices, TABLE)
    wall = time.perf_counter() - started
    total = sum(calls.values())
    invoice_calls = total - relation_calls - sum(calls[name] for name in CLOSES)
    writes = sum(calls[name] for name in WRITES) + calls["PATCH /v1/relation/{id}"]
    floor = total * LATENCY
    print(f"\n== {backend.upper()} {label} ({len(relations)} relations, {len(invoices)} invoices)")
    print(f"calls                {total:8d}  {dict(sorted(calls.items()))}")
    print(f"calls per relation   {relation_calls / len(relations):8.3f}")
    print(f"calls per invoice    {invoice_calls / len(invoices):8.3f}")
    print(f"sessions opened      {sum(calls[name] for name in SESSIONS):8d}")
    print(
        f"writes               {writes:8d}  (relations created {len(pushed_relations.created)}, "
        f"updated {len(pushed_relations.updated)}; invoices booked {len(pushed_invoices.created)}; "
        f"failed {len(pushed_relations.failed) + len(pushed_invoices.failed)})"
    )
    print(
        f"wall time            {wall:8.1f} s   latency floor {floor:.1f} s   ratio {wall / floor:.3f}"
    )


def one_day(backend: str, url: str, count: int) -> None:
    """Push ``count`` invoices of one day twice; print calls, bookings, time and look-up path."""
    _, invoices = data(count)
    relation = Relation(code="1000", company="Klant op een dag B.V.", city="Utrecht")
    same_day = [
        i.model_copy(update={"date": dt.date(2026, 1, 5), "relation_code": "1000"})
        for i in invoices
    ]
    print(f"\n== {backend.upper()} {count} invoices on 2026-01-05, pushed twice")
    for label in ("first push", "second push"):
        books, calls = client(backend, url)
        started = time.perf_counter()
        with books:
            result = books.push_invoices(same_day, TABLE, [relation])
        wall = time.perf_counter() - started
        lookup = result.lookup
        assert lookup is not None
        look_ups = calls["GetMutaties"] + calls["GET /v1/mutation"]
        print(
            f"{label:12s} calls {sum(calls.values()):6d} (look-ups {look_ups:5d})  "
            f"booked {len(result.created):5d}  unchanged {len(result.unchanged):5d}  "
            f"failed {len(result.failed):3d}  time {wall:6.1f} s  look-up path "
            f"{lookup.path.value} ({lookup.calls} calls, {lookup.windows} windows, "
            f"{lookup.per_invoice} per invoice, {len(lookup.unseen)} unseen)"
        )
    # Counted over REST (no cap) on the same sandbox, whichever backend pushed.
    with EBoekhoudenRestClient("sandbox-api-token", base_url=url) as rest:
        day = dt.date(2026, 1, 5)
        booked = len({m.invoice_number for m in rest.mutations(date_from=day, date_to=day)})
        total = len(rest.mutations(date_from=day, date_to=day))
    print(f"bookings on that day after both pushes: {total} ({booked} distinct invoice numbers)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--backend", choices=["soap", "rest", "both"], default="both")
    parser.add_argument("--one-day", type=int, default=2000)
    args = parser.parse_args()
    relations, invoices = data(args.records)
    for backend in ("soap", "rest") if args.backend == "both" else (args.backend,):
        process, url = start_sandbox(  # a fresh administration per backend
            "eboekhouden", "--latency", str(LATENCY), ready="/soap.asmx?wsdl"
        )
        try:
            run("first push", backend, url, relations, invoices)
            run("rerun without changes", backend, url, relations, invoices)
        finally:
            process.terminate()
            process.wait(timeout=10)
        if args.one_day:
            process, url = start_sandbox(
                "eboekhouden", "--latency", str(LATENCY), ready="/soap.asmx?wsdl"
            )
            try:
                one_day(backend, url, args.one_day)
            finally:
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
