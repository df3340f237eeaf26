"""``make demo`` (``crmconnect demo``): the whole story, offline, each step shown.

The demo is run once per module in a kept folder; what each side holds
afterwards (the CRM's file, the sandboxes' records) is checked, not only the
printed text. Another run, in a Python where zeep, requests and lxml cannot be
imported and no socket can connect, shows it needs neither the e-Boekhouden
extra nor a server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from crmconnect._demo import CONFLICT, CRM_EDIT, DF_EDIT, DemoStory, run_demo
from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.kvk import REGISTRATION_FIELD
from crmconnect.models import Organisation
from crmconnect.sync import Action, PaymentState, Role

STEPS = [
    "Step 1: The KvK, DigitaleFactuur and e-Boekhouden sandboxes start",
    "Step 2: The CRM is filled",
    "Step 3: Organisations without a KvK number: matched and enriched",
    "Step 4: Linked organisations checked against the register (the KvK flow)",
    "Step 5: First sync",
    "Step 6: Edits on both sides, invoices sent",
    "Step 7: Payments registered in e-Boekhouden",
    "Step 8: What the koppeling did",
]

BLOCKER = """
import socket, sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"zeep", "requests", "lxml"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

def _no_network(*args, **kwargs):
    raise OSError("the demo tried to use the network")

sys.meta_path.insert(0, _NotInstalled())
socket.socket.connect = _no_network
socket.create_connection = _no_network
"""


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoStory, str]:
    console = Console(record=True, width=160, force_terminal=False)
    done = run_demo(console, tmp_path_factory.mktemp("demo"))
    return done, console.export_text()


@pytest.fixture
def crm(story: tuple[DemoStory, str]) -> Iterator[SqliteCRM]:
    with SqliteCRM(story[0].crm_path) as crm:
        yield crm


def test_the_output_shows_every_step_in_order(story: tuple[DemoStory, str]) -> None:
    _, output = story
    places = [output.find(step) for step in STEPS]
    assert -1 not in places, [s for s, p in zip(STEPS, places, strict=True) if p == -1]
    assert places == sorted(places)
    for words in ("Spuiboulevard", "matched", "conflict", "paid", "partly_paid"):
        assert words in output


def test_the_crm_holds_about_fifty_relations_matched_and_checked(
    story: tuple[DemoStory, str], crm: SqliteCRM
) -> None:
    done, _ = story
    parties = crm.parties()
    assert 45 <= len(parties) <= 60
    assert any(not isinstance(p, Organisation) for p in parties), "persons too"
    matched = [r for r in done.matches if r.best is not None]
    assert matched and any(r.best is None for r in done.matches)
    for result in matched:  # the KvK number and the register's data are in the CRM now
        assert result.organisation.id is not None
        stored = crm.get(result.organisation.id)
        assert isinstance(stored, Organisation) and result.best is not None
        assert stored.kvk_number == result.best.kvk_number
        assert stored.legal_form is not None
    pending = {(u.host_id, u.field) for u in crm.pending_kvk_updates()}
    katrien = crm.find_by_number(Role.DEBTOR, "1003")
    assert katrien is not None and (katrien.id, REGISTRATION_FIELD) in pending
    grown = crm.find_by_number(Role.DEBTOR, "1004")
    # It grew: its head count is rejected below, its size class stays pending.
    assert grown is not None and (grown.id, "employee_class") in pending
    # Accepted: applied to the record; rejected: not proposed again by the later runs.
    conron = crm.find_by_number(Role.DEBTOR, "1002")
    assert isinstance(conron, Organisation) and conron.visiting_address is not None
    assert conron.visiting_address.street == "Spuiboulevard"
    assert done.accepted == (conron.id, "visiting_address") and done.accepted not in pending
    assert done.rejected == (grown.id, "employees_total") and done.rejected not in pending
    # The later runs' KvK checks propose only what changed since: the rename in step 6.
    news = [
        (row.host_id, row.fields)
        for run in done.runs
        for row in run
        if row.service == "kvk" and row.action is not Action.UNCHANGED
    ]
    renamed = crm.find_by_number(Role.DEBTOR, CRM_EDIT)
    assert renamed is not None and news == [(renamed.id, ("name",))]


def test_every_numbered_relation_is_once_in_each_service(
    story: tuple[DemoStory, str], crm: SqliteCRM
) -> None:
    done, _ = story
    df_numbers = sorted(r["relatienummer"] for r in done.df.relations)
    eb_codes = sorted(r.code for r in done.eb.relations)
    host_numbers = sorted(
        number for p in crm.parties() for number in (p.debtor_number, p.creditor_number) if number
    )
    assert df_numbers == host_numbers
    # e-Boekhouden takes every relation the CRM has, also those that came from DF.
    assert eb_codes == host_numbers
    created_in_host = [p for p in crm.parties() if p.debtor_number and p.debtor_number > "1100"]
    assert len(created_in_host) == 3


def test_the_edits_went_the_right_way(story: tuple[DemoStory, str], crm: SqliteCRM) -> None:
    done, _ = story
    df = {r["relatienummer"]: r for r in done.df.relations}
    eb = {r.code: r for r in done.eb.relations}
    # Changed on both sides: the CRM's e-mail is everywhere.
    party = crm.find_by_number(Role.DEBTOR, CONFLICT)
    assert party is not None and party.contact.email == "facturen@dagobert.example"
    assert df[CONFLICT]["contactpersoon_email"] == "facturen@dagobert.example"
    assert eb[CONFLICT].values["email"] == "facturen@dagobert.example"
    # Changed in DF only: the CRM's postal and invoice address, and e-Boekhouden, have it.
    moved = crm.find_by_number(Role.DEBTOR, DF_EDIT)
    assert isinstance(moved, Organisation)
    assert moved.invoice_address is not None and moved.postal_address is not None
    assert moved.invoice_address.street == moved.postal_address.street == "Oude Delft"
    assert eb[DF_EDIT].values["postcode"].replace(" ", "") == "2611CD"
    # Changed in the CRM only: both services have the new name.
    renamed = crm.find_by_number(Role.DEBTOR, CRM_EDIT)
    assert isinstance(renamed, Organisation) and renamed.name.endswith("(Holding)")
    assert df[CRM_EDIT]["naam"] == renamed.name and eb[CRM_EDIT].values["company"] == renamed.name


def test_invoices_booked_once_and_payments_back(
    story: tuple[DemoStory, str], crm: SqliteCRM
) -> None:
    done, _ = story
    sent = [m for m in done.eb.mutations if m.kind == "FactuurVerstuurd"]
    assert sorted(m.invoice_number or "" for m in sent) == ["F2026-001", "F2026-002"]
    assert crm.payment_state("F2026-001") is PaymentState.PAID
    assert crm.payment_state("F2026-002") is PaymentState.PARTLY_PAID
    assert str(crm.outstanding("F2026-002")) == "202.50"


def test_the_last_run_writes_nothing(story: tuple[DemoStory, str]) -> None:
    done, output = story
    last = done.runs[-1]
    assert (last.created, last.updated, last.conflicts, last.failed) == (0, 0, 0, 0)
    assert all(run.failed == 0 for run in done.runs)
    assert "A fourth run with nothing changed: 0 created, 0 updated" in output
    assert "; 0 writes sent to the services." in output


def test_it_runs_without_the_eboekhouden_extra_and_without_network(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "120"}
    code = """
        from rich.console import Console
        from crmconnect._demo import run_demo
        run_demo(Console(width=120))
        import sys
        assert "zeep" not in sys.modules and "requests" not in sys.modules
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,  # the bound for `make demo`
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Step 8: What the koppeling did" in done.stdout
