"""Sync benchmark: the engine against the sandboxes on loopback at 20 ms, beside a naive loop.

Two scenarios, each with its sandbox in a process of its own (20 ms added to
every answer) and a fresh `SqliteCRM` and `SqliteStateStore` in files:

* **DigitaleFactuur, two-way**: 10,000 relations, half created in the CRM (pushed
  on the first run), half already in DigitaleFactuur (pulled into the CRM);
* **e-Boekhouden (REST)**: 2,000 relations and 2,000 sent invoices from the CRM
  (relations, bookings and payment states).

Each scenario runs three times: the first run, a rerun with no change, and a
rerun after 1 % of the relations changed on each side (DigitaleFactuur: 1 %
edited in the CRM, another 1 % edited in DigitaleFactuur; e-Boekhouden: 1 % of
the relations edited in the CRM and 1 % of the invoices paid in e-Boekhouden).
Printed per run: remote calls (and per record), remote writes, host writes,
wall time, engine time outside remote I/O (wall time minus the time spent in
HTTP calls; the CRM's and the state's SQLite work counts as engine time), and
the process's peak RSS so far. Beside it the same figures for a naive loop
against a second, identical sandbox: per record fetch the remote record and
write it (create when it is not there), every run.

Goals (issue 10): the no-change rerun writes nothing and spends under 1 s in
the engine; the 1 % rerun writes exactly the changed records; at most 1.1
remote calls per record on a first push; peak memory under 300 MB.

Run ``python benchmarks/sync_10k.py [--scale 1.0] [--latency 0.02] [--skip-naive]``;
``--scale 0.1`` runs a tenth of the records (1,000 and 200).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import datetime as dt
import multiprocessing
import pstats
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import attrs
import httpx

from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector
from crmconnect.digitalefactuur import Relation as DfRelation
from crmconnect.eboekhouden import EBoekhoudenConnector
from crmconnect.eboekhouden import Relation as EbRelation
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.mapping import DIGITALEFACTUUR_RELATIONS, EBOEKHOUDEN_RELATIONS
from crmconnect.models import Address, Invoice, InvoiceKind, InvoiceLine, Organisation
from crmconnect.sandbox import (
    DEMO_ACCESS_CODE,
    DEMO_ACCOUNT_ID,
    DEMO_CREDENTIALS,
    DEMO_VAT_TABLE,
    DigitaleFactuurSandbox,
    EBoekhoudenSandbox,
)
from crmconnect.sync import Action, Role, Side, SqliteStateStore, SyncEngine, SyncReport

PROFILE: set[str] = set()
"""Labels of the engine runs to profile (``--profile``); profiled runs print their top calls."""

RANGES = {Role.DEBTOR: (100_000, 199_999), Role.CREDITOR: (200_000, 299_999)}
"""Six-digit numbers: 10,000 relations do not fit the default 1xxx/2xxx ranges."""
DF_MAPPING = attrs.evolve(DIGITALEFACTUUR_RELATIONS, number_ranges=RANGES)
EB_MAPPING = attrs.evolve(EBOEKHOUDEN_RELATIONS, number_ranges=RANGES)
DF_WRITES = {"klant_aanmaken", "klant_updaten"}
EB_WRITES = {"POST /v1/relation", "PATCH /v1/relation/{id}", "POST /v1/mutation"}
CITIES = ("Utrecht", "Zwolle", "Leiden", "Delft", "Ede", "Breda", "Epe", "Venlo")


# -- the sandboxes, each in a process of its own ----------------------------------------------


def _serve(kind: str, latency: float, count: int, conn: Connection) -> None:
    """Child process: serve a sandbox on loopback; answer commands from the parent."""
    sandbox: Any
    if kind == "digitalefactuur":
        sandbox = DigitaleFactuurSandbox(latency=latency, relations=df_remote_relations(count))
    else:
        sandbox = EBoekhoudenSandbox(latency=latency)
    with sandbox.serve() as url:
        conn.send(url)
        while True:
            command, args = conn.recv()
            if command == "stop":
                return
            if command == "edit":  # as a person does in DF's screens
                ids = {r["relatienummer"]: r["id"] for r in sandbox.relations}
                for number, elements in args:
                    sandbox.edit_relation(ids[number], **elements)
                conn.send(len(args))
            elif command == "pay":
                for invoice_number, amount, code in args:
                    sandbox.pay(invoice_number, amount, relation_code=code)
                conn.send(len(args))
            elif command == "count":
                conn.send(len(sandbox.relations))


@contextmanager
def sandbox_process(kind: str, latency: float, count: int = 0) -> Iterator[tuple[str, Connection]]:
    """A sandbox in a process of its own: its URL and the pipe to command it."""
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(kind, latency, count, child), daemon=True
    )
    process.start()
    try:
        yield parent.recv(), parent
    finally:
        parent.send(("stop", None))
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()


class CountingTransport(httpx.HTTPTransport):
    """Counts the remote calls by action and the time spent in them (body read included)."""

    def __init__(self, namer: Callable[[httpx.Request], str]) -> None:
        super().__init__()
        self.namer = namer
        self.calls: collections.Counter[str] = collections.Counter()
        self.io = 0.0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        response.read()
        self.io += time.perf_counter() - started
        self.calls[self.namer(request)] += 1
        return response

    def take(self) -> tuple[collections.Counter[str], float]:
        calls, io = self.calls, self.io
        self.calls, self.io = collections.Counter(), 0.0
        return calls, io


def df_action(request: httpx.Request) -> str:
    return request.url.raw_path.decode().split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def eb_action(request: httpx.Request) -> str:
    path = "/".join("{id}" if p.isdigit() else p for p in request.url.path.split("/"))
    return f"{request.method} {path}"


# -- data -------------------------------------------------------------------------------------------


def df_remote_relations(count: int) -> list[dict[str, str]]:
    """The relations DigitaleFactuur holds before the first run (numbers 150000...)."""
    return [
        {
            "relatienummer": str(150_000 + n),
            "naam": f"Relatie uit DF {n} B.V.",
            "adres": f"Marktstraat {n % 300 + 1}",
            "postcode": f"{1000 + n % 8999} CD",
            "plaats": CITIES[n % len(CITIES)],
            "contactpersoon_email": f"info{n}@df.example",
        }
        for n in range(count)
    ]


def host_party(n: int) -> Organisation:
    """A CRM organisation numbered 100000 + n, with an invoice address."""
    return Organisation(
        name=f"Klant {n} B.V.",
        debtor_number=str(100_000 + n),
        addresses=[
            Address(
                kind="invoice",
                street="Dorpsstraat",
                house_number=n % 500 + 1,
                postcode=f"{1000 + n % 8999} AB",
                city=CITIES[n % len(CITIES)],
            )
        ],
        contact={"email": f"info{n}@klant.example"},
    )


def sales_invoice(n: int) -> Invoice:
    return Invoice(
        number=f"F{n:06d}",
        relation_code=str(100_000 + n),
        date=dt.date(2026, 1, 1) + dt.timedelta(days=n % 300),
        kind=InvoiceKind.SALES,
        lines=[
            InvoiceLine(description="Advies", unit_price=Decimal("100.00"), vat_category="nl_high")
        ],
    )


def edit_host(crm: SqliteCRM, numbers: list[str]) -> None:
    for number in numbers:
        party = crm.find_by_number(Role.DEBTOR, number)
        assert isinstance(party, Organisation)
        crm.save(party.model_copy(update={"name": f"{party.name} (gewijzigd)"}))


# -- measuring ---------------------------------------------------------------------------------------


@attrs.frozen
class Figures:
    label: str
    records: int
    calls: int
    writes_remote: int
    writes_host: int
    wall: float
    engine: float
    rss_mb: float
    expected: str = ""


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def host_writes(report: SyncReport) -> int:
    return sum(
        1
        for row in report
        if row.side is Side.HOST and row.action in (Action.CREATED, Action.UPDATED)
    )


def measured(
    label: str,
    records: int,
    transport: CountingTransport,
    writes: set[str],
    run: Callable[[], int],
    *,
    profiled: bool = True,
) -> Figures:
    transport.take()
    profiler = cProfile.Profile() if profiled and label in PROFILE else None
    started = time.perf_counter()
    host = profiler.runcall(run) if profiler is not None else run()
    wall = time.perf_counter() - started
    if profiler is not None:
        print(f"\n-- profile of {label} (times inflated by the profiler)")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
    calls, io = transport.take()
    return Figures(
        label,
        records,
        sum(calls.values()),
        sum(calls[name] for name in writes),
        host,
        wall,
        wall - io,
        rss_mb(),
    )


def show(title: str, engine: list[Figures], naive: list[Figures]) -> None:
    print(f"\n== {title}")
    print(
        f"{'run':24s} {'calls':>7s} {'/rec':>5s} {'writes':>7s} {'host w.':>7s} {'wall s':>7s}"
        f" {'engine s':>8s} {'RSS MB':>7s} {'calls/write':>11s} | {'naive calls':>11s} {'writes':>7s} {'wall s':>7s}"
        f" {'engine s':>8s}"
    )
    for i, fig in enumerate(engine):
        row = (
            f"{fig.label:24s} {fig.calls:7d} {fig.calls / fig.records:5.2f} {fig.writes_remote:7d}"
            f" {fig.writes_host:7d} {fig.wall:7.1f} {fig.engine:8.2f} {fig.rss_mb:7.0f}"
            f" {fig.calls / max(fig.writes_remote, 1):11.3f}"
        )
        if i < len(naive):
            n = naive[i]
            row += f" | {n.calls:11d} {n.writes_remote:7d} {n.wall:7.1f} {n.engine:8.2f}"
        print(row)
        if fig.expected:
            print(f"{'':24s} expected: {fig.expected}")


# -- DigitaleFactuur ----------------------------------------------------------------------------------


def digitalefactuur(count: int, latency: float, folder: Path, naive: bool) -> None:
    half = count // 2
    parties = [host_party(n) for n in range(half)]
    changed = max(1, count // 100)
    host_edits = [str(100_000 + n) for n in range(0, half, max(1, half // changed))][:changed]
    remote_edits = [str(150_000 + n) for n in range(0, half, max(1, half // changed))][:changed]
    figures: list[Figures] = []
    with sandbox_process("digitalefactuur", latency, half) as (url, sandbox):
        transport = CountingTransport(df_action)
        with (
            SqliteCRM(folder / "df-crm.sqlite") as crm,
            SqliteStateStore(folder / "df-state.sqlite") as state,
            DigitaleFactuurClient(
                DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE, base_url=f"{url}/api", rate_limit=None,
                transport=transport,
            ) as client,
        ):  # fmt: skip
            crm.add_many(parties)
            engine = SyncEngine(
                crm, [DigitaleFactuurConnector(client, mapping=DF_MAPPING)], state=state
            )

            def run() -> int:
                report = engine.run()
                assert report.failed == 0, report.failures[:3]
                return host_writes(report)

            figures.append(measured("first run", count, transport, DF_WRITES, run))
            figures[-1] = attrs.evolve(
                figures[-1], expected=f"{half} created remotely, {half} created in the host"
            )
            figures.append(measured("no-change rerun", count, transport, DF_WRITES, run))
            figures[-1] = attrs.evolve(figures[-1], expected="0 writes, engine < 1 s")
            edit_host(crm, host_edits)
            sandbox.send(("edit", [(n, {"plaats": "Gewijzigd"}) for n in remote_edits]))
            sandbox.recv()
            figures.append(measured("1 % changed each side", count, transport, DF_WRITES, run))
            figures[-1] = attrs.evolve(
                figures[-1],
                expected=f"{len(host_edits)} remote writes, {len(remote_edits)} host writes",
            )
            sandbox.send(("count", None))
            in_df = sandbox.recv()
            print(f"\nDigitaleFactuur holds {in_df} relations; the CRM {len(crm.parties())}")
    naive_figures = naive_df(count, latency, parties, host_edits) if naive else []
    show(
        f"DigitaleFactuur two-way, {count} relations, {latency * 1000:.0f} ms",
        figures,
        naive_figures,
    )


def naive_df(
    count: int, latency: float, parties: list[Organisation], edits: list[str]
) -> list[Figures]:
    """Per run: one listing for the IDs, then per record fetch it and write it (create if new)."""
    half = count // 2
    figures = []
    with sandbox_process("digitalefactuur", latency, half) as (url, _):
        transport = CountingTransport(df_action)
        with DigitaleFactuurClient(
            DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE, base_url=f"{url}/api", rate_limit=None,
            transport=transport,
        ) as client:  # fmt: skip
            current = list(parties)

            def run() -> int:
                ids = {r.number: r.id for r in client.relations() if r.id}
                for party in current:
                    relation = DfRelation(
                        number=party.debtor_number, name=party.name,
                        city=party.invoice_address.city if party.invoice_address else None,
                    )  # fmt: skip
                    known = ids.get(party.debtor_number)
                    if known is None:
                        client.create_relation(relation)
                        continue
                    client.relation(known)
                    client.update_relation(relation.model_copy(update={"id": known}))
                for number, remote_id in ids.items():  # the remote half, into a host
                    if number and int(number) >= 150_000:
                        client.relation(remote_id)
                return half

            labels = ("first run", "no-change rerun", "1 % changed each side")
            for n, label in enumerate(labels):
                if n == 2:
                    current = [
                        p.model_copy(update={"name": p.name + " (gewijzigd)"})
                        if p.debtor_number in edits else p
                        for p in current
                    ]  # fmt: skip
                figures.append(measured(label, count, transport, DF_WRITES, run, profiled=False))
    return figures


# -- e-Boekhouden ---------------------------------------------------------------------------------------


def eboekhouden(count: int, latency: float, folder: Path, naive: bool) -> None:
    parties = [host_party(n) for n in range(count)]
    invoices = [sales_invoice(n) for n in range(count)]
    changed = max(1, count // 100)
    step = max(1, count // changed)
    host_edits = [str(100_000 + n) for n in range(0, count, step)][:changed]
    payments = [(f"F{n:06d}", "121.00", str(100_000 + n)) for n in range(1, count, step)][:changed]
    figures: list[Figures] = []
    token = DEMO_CREDENTIALS.access_token or ""
    with sandbox_process("eboekhouden", latency) as (url, sandbox):
        transport = CountingTransport(eb_action)
        with (
            SqliteCRM(folder / "eb-crm.sqlite") as crm,
            SqliteStateStore(folder / "eb-state.sqlite") as state,
            EBoekhoudenRestClient(token, base_url=url, transport=transport) as books,
        ):
            crm.add_many(parties)
            for invoice in invoices:
                crm.add_invoice(invoice, sent=True)
            connector = EBoekhoudenConnector(books, DEMO_VAT_TABLE, mapping=EB_MAPPING)
            engine = SyncEngine(crm, [connector], state=state)

            def run() -> int:
                report = engine.run()
                assert report.failed == 0, report.failures[:3]
                return host_writes(report)

            records = 2 * count
            figures.append(measured("first run", records, transport, EB_WRITES, run))
            figures[-1] = attrs.evolve(
                figures[-1], expected=f"{count} relations created, {count} invoices booked"
            )
            figures.append(measured("no-change rerun", records, transport, EB_WRITES, run))
            figures[-1] = attrs.evolve(figures[-1], expected="0 writes, engine < 1 s")
            edit_host(crm, host_edits)
            sandbox.send(("pay", payments))
            sandbox.recv()
            figures.append(measured("1 % changed each side", records, transport, EB_WRITES, run))
            figures[-1] = attrs.evolve(
                figures[-1],
                expected=f"{len(host_edits)} remote writes, {len(payments)} payments into the host",
            )
    naive_figures = naive_eb(count, latency, parties, invoices, host_edits) if naive else []
    show(
        f"e-Boekhouden (REST), {count} relations + {count} invoices, {latency * 1000:.0f} ms",
        figures,
        naive_figures,
    )


def naive_eb(
    count: int,
    latency: float,
    parties: list[Organisation],
    invoices: list[Invoice],
    edits: list[str],
) -> list[Figures]:
    """Per run: per relation fetch it by code and write it; per invoice look it up and book it."""
    figures = []
    token = DEMO_CREDENTIALS.access_token or ""
    with sandbox_process("eboekhouden", latency) as (url, _):
        transport = CountingTransport(eb_action)
        with EBoekhoudenRestClient(token, base_url=url, transport=transport) as books:
            current = list(parties)

            def run() -> int:
                for party in current:
                    relation = EbRelation(code=party.debtor_number, company=party.name)
                    found = books.relations(code=party.debtor_number)
                    if found:
                        books.update_relation(relation.model_copy(update={"id": found[0].id}))
                    else:
                        books.add_relation(relation)
                for invoice in invoices:
                    if not books.invoice_bookings(invoice.number):
                        books.push_invoices([invoice], DEMO_VAT_TABLE)
                books.payment_states([(i.relation_code, i.number) for i in invoices])
                return count

            labels = ("first run", "no-change rerun", "1 % changed each side")
            for n, label in enumerate(labels):
                if n == 2:
                    current = [
                        p.model_copy(update={"name": p.name + " (gewijzigd)"})
                        if p.debtor_number in edits else p
                        for p in current
                    ]  # fmt: skip
                figures.append(
                    measured(label, 2 * count, transport, EB_WRITES, run, profiled=False)
                )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the full size")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per answer")
    parser.add_argument("--skip-naive", action="store_true", help="leave the naive loop out")
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        choices=["first run", "no-change rerun", "1 % changed each side"],
        help="profile this engine run (repeatable)",
    )
    parser.add_argument(
        "--only", choices=["digitalefactuur", "eboekhouden"], help="run one scenario"
    )
    args = parser.parse_args()
    PROFILE.update(args.profile)
    with tempfile.TemporaryDirectory() as folder:
        if args.only in (None, "digitalefactuur"):
            digitalefactuur(
                round(10_000 * args.scale), args.latency, Path(folder), not args.skip_naive
            )
        if args.only in (None, "eboekhouden"):
            eboekhouden(round(2_000 * args.scale), args.latency, Path(folder), not args.skip_naive)


if __name__ == "__main__":
    main()
