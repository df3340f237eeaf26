"""The sync engine under faults, end to end on loopback.

The DigitaleFactuur and e-Boekhouden (REST) sandboxes are served on loopback HTTP with
20 % of requests failing: 500, 503, timeouts, connections dropped before the request is
handled, and ambiguous writes (handled, the answer lost). Between runs both sides are
edited. After every run each relation and invoice exists at most once on each side; once
the faults stop, one run brings everything in: every relation and invoice exactly once on
each side, every conflict the way the policy says, every booked invoice's payment state
in the CRM.

The second half kills a sync process with SIGKILL at random points (a subprocess running
the engine against sandboxes served from this test process, with the CRM and the state
in files), starts it again, and checks the same.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector
from crmconnect.eboekhouden import BooksClient, EBoekhoudenClient, EBoekhoudenConnector
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.models import Invoice, InvoiceKind, InvoiceLine, Organisation
from crmconnect.sandbox import (
    DEMO_CREDENTIALS,
    DEMO_VAT_TABLE,
    DigitaleFactuurSandbox,
    EBoekhoudenSandbox,
    FaultKind,
)
from crmconnect.sync import ConflictPolicy, PaymentState, Role, SyncEngine

ACCOUNT, CODE = "98765", "s3cr3t-access-code-xyz"
FAULT_KINDS: tuple[FaultKind, ...] = ("500", "503", "timeout", "drop", "drop_after")
DF, EB = "digitalefactuur", "eboekhouden"
INVOICE_KIND = "FactuurVerstuurd"
TIMEOUT = 0.5
"""Client timeout: an injected timeout costs this; an honest answer on a busy machine is faster."""


def organisation(name: str, debtor: str | None, creditor: str | None = None) -> Organisation:
    return Organisation.model_validate(
        {
            "name": name,
            "contact": {"email": f"info@{debtor or creditor}.example"},
            "addresses": [
                {"kind": "invoice", "street": "Haagweg", "house_number": int(debtor or 1) % 97,
                 "postcode": "2311 AA", "city": "Leiden"},
            ],
            "debtor_number": debtor,
            "creditor_number": creditor,
        }
    )  # fmt: skip


def sales_invoice(number: str, relation_code: str, price: str) -> Invoice:
    return Invoice(
        number=number,
        relation_code=relation_code,
        date=dt.date(2026, 3, 1),
        kind=InvoiceKind.SALES,
        lines=[InvoiceLine(description="Advies", unit_price=price, vat_category="nl_high")],
    )


@contextlib.contextmanager
def served(
    df_sandbox: DigitaleFactuurSandbox, eb_sandbox: EBoekhoudenSandbox
) -> Iterator[tuple[str, str]]:
    with df_sandbox.serve() as df_url, eb_sandbox.serve() as eb_url:
        yield df_url, eb_url


def faulty(*sandboxes: DigitaleFactuurSandbox | EBoekhoudenSandbox, rate: float) -> None:
    for sandbox in sandboxes:
        sandbox.faults.error_kinds = FAULT_KINDS
        sandbox.faults.error_rate = rate


def df_numbers(sandbox: DigitaleFactuurSandbox) -> Counter[str]:
    return Counter(r["relatienummer"] for r in sandbox.relations)


def eb_codes(sandbox: EBoekhoudenSandbox) -> Counter[str]:
    return Counter(str(r.values.get("code")) for r in sandbox.relations)


def eb_invoices(sandbox: EBoekhoudenSandbox) -> Counter[tuple[str, str]]:
    return Counter(
        (str(m.relation_code), str(m.invoice_number))
        for m in sandbox.mutations
        if m.kind == INVOICE_KIND
    )


def assert_at_most_once(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, eb_sandbox: EBoekhoudenSandbox
) -> None:
    for counts in (df_numbers(df_sandbox), eb_codes(eb_sandbox), eb_invoices(eb_sandbox)):
        twice = {key: n for key, n in counts.items() if n > 1}
        assert not twice, f"written twice: {twice}"
    numbers = Counter(
        number
        for party in crm.parties()
        for number in (party.debtor_number, party.creditor_number)
        if number
    )
    assert not {n for n, count in numbers.items() if count > 1}, "a party twice in the CRM"


def rename(crm: SqliteCRM, number: str, name: str) -> str:
    party = crm.find_by_number(Role.DEBTOR, number)
    assert party is not None and party.id is not None
    crm.save(party.model_copy(update={"name": name}))
    return party.id


def df_id(sandbox: DigitaleFactuurSandbox, number: str) -> str:
    [record] = [r for r in sandbox.relations if r["relatienummer"] == number]
    return record["id"]


def eb_books(backend: str, url: str) -> BooksClient:
    """An e-Boekhouden client for the loopback sandbox, with a short timeout."""
    if backend == "soap":
        return EBoekhoudenClient(
            DEMO_CREDENTIALS.username,
            DEMO_CREDENTIALS.security_code_1,
            DEMO_CREDENTIALS.security_code_2,
            base_url=url + "/soap.asmx",
            timeout=TIMEOUT,
        )
    assert DEMO_CREDENTIALS.access_token is not None
    return EBoekhoudenRestClient(DEMO_CREDENTIALS.access_token, base_url=url, timeout=TIMEOUT)


@pytest.mark.parametrize("backend", ["rest", "soap"])
def test_repeated_runs_with_20_percent_faults_write_everything_exactly_once(
    tmp_path: Path, backend: str
) -> None:
    rng = random.Random(2026)
    df_sandbox = DigitaleFactuurSandbox(ACCOUNT, CODE)
    eb_sandbox = EBoekhoudenSandbox()
    debtors = [f"{1001 + i}" for i in range(16)]
    creditors = {"1003": "2003", "1007": "2007"}  # parties with both roles
    remote_only = [f"{1101 + i}" for i in range(6)]  # in DF, not yet in the CRM
    with SqliteCRM(tmp_path / "crm.db") as crm, served(df_sandbox, eb_sandbox) as urls:
        for number in debtors:
            crm.add(organisation(f"Klant {number}", number, creditors.get(number)))
        for number in remote_only:
            df_sandbox.add_relation(
                relatienummer=number, naam=f"DF-klant {number}", adres="Markt 1",
                postcode="3511 AA", plaats="Utrecht",
            )  # fmt: skip
        invoices = {
            f"F{i:03}": (rng.choice(debtors), f"{rng.randint(50, 500)}.00") for i in range(12)
        }
        for number, (code, price) in invoices.items():
            crm.add_invoice(sales_invoice(number, code, price))
        df_url, eb_url = urls
        with (
            DigitaleFactuurClient(
                ACCOUNT, CODE, base_url=df_url + "/api", timeout=TIMEOUT, rate_limit=None
            ) as df_client,
            eb_books(backend, eb_url) as eb_client,
            SyncEngine(
                crm,
                [
                    DigitaleFactuurConnector(df_client),
                    EBoekhoudenConnector(eb_client, DEMO_VAT_TABLE),
                ],
                state=tmp_path / "state.db",
                policy=ConflictPolicy.HOST_WINS,
            ) as engine,
        ):
            faulty(df_sandbox, eb_sandbox, rate=0.2)
            seed = rng.randint(0, 10**6)
            df_sandbox.faults._random.seed(seed)
            eb_sandbox.faults._random.seed(seed + 1)
            expected_names: dict[str, str] = {}
            expected_cities: dict[str, str] = {}
            paid: dict[str, str] = {}
            failures = 0
            for run in range(8):
                report = engine.run()
                failures += report.failed
                assert_at_most_once(crm, df_sandbox, eb_sandbox)
                # Edits between runs, on records that reached both sides already.
                in_df = [n for n in debtors if df_numbers(df_sandbox)[n] == 1]
                for number in rng.sample(in_df, min(2, len(in_df))):  # the CRM renames
                    expected_names[number] = f"Klant {number} run {run}"
                    rename(crm, number, expected_names[number])
                for number in rng.sample(in_df, min(2, len(in_df))):  # DF moves (city)
                    city = rng.choice(["Delft", "Gouda", "Zwolle"])
                    df_sandbox.edit_relation(df_id(df_sandbox, number), plaats=city)
                    expected_cities[number] = city
                if in_df:  # both change the name: the CRM wins
                    number = rng.choice(in_df)
                    expected_names[number] = f"CRM wint {number} run {run}"
                    df_sandbox.edit_relation(df_id(df_sandbox, number), naam=f"DF {run}")
                    rename(crm, number, expected_names[number])
                for invoice_number, (code, price) in invoices.items():
                    booked = eb_invoices(eb_sandbox)[(code, invoice_number)]
                    if booked and invoice_number not in paid and rng.random() < 0.3:
                        full = Decimal(price) * Decimal("1.21")
                        amount = full if rng.random() < 0.5 else Decimal("10.00")
                        eb_sandbox.pay(invoice_number, amount, relation_code=code)
                        paid[invoice_number] = "paid" if amount == full else "partly_paid"
            assert failures > 0  # the faults did bite
            injected = df_sandbox.stats.faults + eb_sandbox.stats.faults
            assert set(injected) == set(FAULT_KINDS), injected  # every kind bit

            faulty(df_sandbox, eb_sandbox, rate=0.0)
            for _ in range(3):  # a slow answer on a busy machine may still time out: next run
                final = engine.run()
                if not final.failed:
                    break
            assert final.failed == 0, final.failures
            again = engine.run()
            assert (again.created, again.updated, again.failed) == (0, 0, 0)

        assert_at_most_once(crm, df_sandbox, eb_sandbox)
        numbers = [*debtors, *remote_only]
        assert df_numbers(df_sandbox) == Counter(
            {**dict.fromkeys(numbers, 1), **dict.fromkeys(creditors.values(), 1)}
        )
        assert eb_codes(eb_sandbox) == df_numbers(df_sandbox)  # the DF-only ones reached e-B too
        assert eb_invoices(eb_sandbox) == Counter({(c, n): 1 for n, (c, _) in invoices.items()})
        for number, name in expected_names.items():
            party = crm.find_by_number(Role.DEBTOR, number)
            assert isinstance(party, Organisation) and party.name == name
            [record] = [r for r in df_sandbox.relations if r["relatienummer"] == number]
            assert record["naam"] == name
        for number, city in expected_cities.items():
            party = crm.find_by_number(Role.DEBTOR, number)
            assert isinstance(party, Organisation) and party.invoice_address is not None
            assert party.invoice_address.city == city
        for invoice_number in invoices:
            expected = PaymentState(paid.get(invoice_number, "open"))
            assert crm.payment_state(invoice_number) is expected, invoice_number


# -- SIGKILL at random points ------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys
    from crmconnect.contrib.sqlite_crm import SqliteCRM
    from crmconnect.digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector
    from crmconnect.eboekhouden import EBoekhoudenConnector
    from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
    from crmconnect.sandbox import DEMO_CREDENTIALS, DEMO_VAT_TABLE
    from crmconnect.sync import SyncEngine

    crm_path, state_path, df_url, eb_url, mode = sys.argv[1:]
    with (
        SqliteCRM(crm_path) as crm,
        DigitaleFactuurClient("98765", "s3cr3t-access-code-xyz", base_url=df_url + "/api",
                              rate_limit=None) as df,
        EBoekhoudenRestClient(DEMO_CREDENTIALS.access_token, base_url=eb_url) as eb,
        SyncEngine(crm, [DigitaleFactuurConnector(df), EBoekhoudenConnector(eb, DEMO_VAT_TABLE)],
                   state=state_path) as engine,
    ):
        print("ready", flush=True)
        while True:
            report = engine.run()
            print(f"run created={report.created} failed={report.failed}", flush=True)
            for row in report.failures:
                print("failure", *row, flush=True)
            if mode == "once":
                break
    """
)


def run_worker(tmp_path: Path, urls: tuple[str, str], mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(tmp_path / "crm.db"), str(tmp_path / "state.db"),
         *urls, mode],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def test_a_sync_killed_at_random_points_creates_no_duplicates_and_loses_nothing(
    tmp_path: Path,
) -> None:
    rng = random.Random(9)
    df_sandbox = DigitaleFactuurSandbox(ACCOUNT, CODE, latency=0.005)
    eb_sandbox = EBoekhoudenSandbox(latency=0.005)
    debtors = [f"{1001 + i}" for i in range(24)]
    remote_only = [f"{1201 + i}" for i in range(6)]
    invoices: dict[str, str] = {}
    names: dict[str, str] = {}
    with SqliteCRM(tmp_path / "crm.db") as crm, served(df_sandbox, eb_sandbox) as urls:
        for number in debtors:
            crm.add(organisation(f"Klant {number}", number))
        for number in remote_only:
            df_sandbox.add_relation(relatienummer=number, naam=f"DF {number}", plaats="Utrecht")
        kills = 0
        for cycle in range(8):
            code = rng.choice(debtors)
            invoices[f"K{cycle}"] = code
            crm.add_invoice(sales_invoice(f"K{cycle}", code, "80.00"))
            new = f"{1301 + cycle}"
            crm.add(organisation(f"Nieuw {new}", new))
            debtors.append(new)
            renamed = rng.choice(debtors[:24])
            names[renamed] = f"Hernoemd {renamed} {cycle}"
            rename(crm, renamed, names[renamed])
            worker = run_worker(tmp_path, urls, "loop")
            assert worker.stdout is not None
            assert worker.stdout.readline() == "ready\n"
            time.sleep(rng.uniform(0.0, 0.8))
            worker.send_signal(signal.SIGKILL)
            worker.stdout.read()
            worker.wait(timeout=10)
            worker.stdout.close()
            kills += worker.returncode == -signal.SIGKILL
            assert_at_most_once(crm, df_sandbox, eb_sandbox)
        assert kills >= 7  # killed mid-run, not after it ended of its own

        worker = run_worker(tmp_path, urls, "once")  # takes over the killed run's lease
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, out
        assert "failed=0" in out, out

        assert_at_most_once(crm, df_sandbox, eb_sandbox)
        everyone = Counter([*debtors, *remote_only])
        assert df_numbers(df_sandbox) == everyone
        assert eb_codes(eb_sandbox) == everyone
        assert eb_invoices(eb_sandbox) == Counter((c, n) for n, c in invoices.items())
        # No write was sent twice: one create request per relation, one booking per invoice.
        assert df_sandbox.stats.requests["klant_aanmaken"] == len(debtors)
        assert eb_sandbox.stats.requests["POST /v1/relation"] == len(everyone)
        assert eb_sandbox.stats.requests["POST /v1/mutation"] == len(invoices)
        for number, name in names.items():
            [record] = [r for r in df_sandbox.relations if r["relatienummer"] == number]
            assert record["naam"] == name
        for number in remote_only:
            assert crm.find_by_number(Role.DEBTOR, number) is not None
        for number in invoices:
            assert crm.booking_reference(EB, number) is not None
            assert crm.payment_state(number) is PaymentState.OPEN
