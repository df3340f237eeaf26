"""The sync engine end to end: `SqliteCRM` as the host, the real connectors against the
in-process DigitaleFactuur and e-Boekhouden sandboxes, a `SqliteStateStore` in memory.

What is checked is what each side holds afterwards (the sandbox's records, the CRM's
parties, invoices and flags, the state's links and intents) and the writes each sandbox
counted, not the engine's own bookkeeping.
"""

from __future__ import annotations

import datetime as dt
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crmconnect import ConfigurationError, SyncError, ValidationError
from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector
from crmconnect.eboekhouden import BooksClient, EBoekhoudenClient, EBoekhoudenConnector
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.errors import SyncBusyError
from crmconnect.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    Organisation,
    Person,
    RelationType,
)
from crmconnect.sandbox import (
    DEMO_CREDENTIALS,
    DEMO_VAT_TABLE,
    DigitaleFactuurSandbox,
    EBoekhoudenSandbox,
)
from crmconnect.sync import (
    Action,
    Capability,
    ConflictPolicy,
    HostRemoval,
    KvKHost,
    Link,
    PaymentState,
    ReviewFlagHost,
    Role,
    Side,
    SqliteStateStore,
    SyncEngine,
    TrialHost,
)

ACCOUNT, CODE = "98765", "s3cr3t-access-code-xyz"
DF_WRITES = ("klant_aanmaken", "klant_updaten", "klant_verwijderen")
EB_CREATES = ("POST /v1/relation", "AddRelatie")
EB_WRITES = (
    *EB_CREATES,
    "PATCH /v1/relation/{id}",
    "UpdateRelatie",
    "POST /v1/mutation",
    "AddMutatie",
)


def organisation(name: str, number: str | None = None, **data: object) -> Organisation:
    """An organisation with an invoice address in Leiden and a postal one elsewhere."""
    return Organisation.model_validate(
        {
            "name": name,
            "contact": {"email": "info@garage-devries.example"},
            "addresses": [
                {"kind": "invoice", "street": "Haagweg", "house_number": 4,
                 "postcode": "2311 AA", "city": "Leiden"},
                {"kind": "postal", "street": "Postbus", "house_number": 12,
                 "postcode": "2300 AA", "city": "Leiden"},
            ],
            "debtor_number": number,
            **data,
        }
    )  # fmt: skip


def sales_invoice(number: str, relation_code: str, price: str = "100.00") -> Invoice:
    """A sales invoice of ``price`` plus 21 % VAT."""
    return Invoice(
        number=number,
        relation_code=relation_code,
        date=dt.date(2026, 3, 1),
        kind=InvoiceKind.SALES,
        lines=[InvoiceLine(description="Advies", unit_price=price, vat_category="nl_high")],
    )


def df_writes(sandbox: DigitaleFactuurSandbox) -> int:
    return sum(sandbox.stats.requests[name] for name in DF_WRITES)


def eb_writes(sandbox: EBoekhoudenSandbox) -> int:
    return sum(sandbox.stats.requests[name] for name in EB_WRITES)


def df_record(sandbox: DigitaleFactuurSandbox, number: str) -> dict[str, str]:
    found = [r for r in sandbox.relations if r.get("relatienummer") == number]
    assert len(found) == 1, f"{len(found)} DF relations numbered {number}"
    return found[0]


@pytest.fixture
def crm() -> Iterator[SqliteCRM]:
    with SqliteCRM(":memory:") as crm:
        yield crm


@pytest.fixture
def state() -> Iterator[SqliteStateStore]:
    with SqliteStateStore(":memory:") as state:
        yield state


@pytest.fixture
def df_sandbox() -> DigitaleFactuurSandbox:
    return DigitaleFactuurSandbox(ACCOUNT, CODE)


@pytest.fixture
def df(df_sandbox: DigitaleFactuurSandbox) -> Iterator[DigitaleFactuurConnector]:
    with DigitaleFactuurClient(
        ACCOUNT, CODE, transport=df_sandbox.transport(), rate_limit=None
    ) as client:
        yield DigitaleFactuurConnector(client)


@pytest.fixture
def eb_sandbox() -> EBoekhoudenSandbox:
    return EBoekhoudenSandbox()


@pytest.fixture(params=["soap", "rest"])
def eb(
    request: pytest.FixtureRequest, eb_sandbox: EBoekhoudenSandbox
) -> Iterator[EBoekhoudenConnector]:
    books: BooksClient
    if request.param == "soap":
        books = EBoekhoudenClient(
            DEMO_CREDENTIALS.username,
            DEMO_CREDENTIALS.security_code_1,
            DEMO_CREDENTIALS.security_code_2,
            session=eb_sandbox.requests_session(),
        )
    else:
        assert DEMO_CREDENTIALS.access_token is not None
        books = EBoekhoudenRestClient(
            DEMO_CREDENTIALS.access_token, transport=eb_sandbox.transport()
        )
    with books:
        yield EBoekhoudenConnector(books, DEMO_VAT_TABLE)


@pytest.fixture
def engine(crm: SqliteCRM, df: DigitaleFactuurConnector, state: SqliteStateStore) -> SyncEngine:
    return SyncEngine(crm, [df], state=state)


# -- DigitaleFactuur both ways -------------------------------------------------------------------


def test_a_relation_created_in_df_arrives_in_the_host_as_a_debtor(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, engine: SyncEngine
) -> None:
    df_sandbox.add_relation(
        relatienummer="1001", naam="Bakkerij Jansen", adres="Hoofdstraat 1",
        postcode="3511 AA", plaats="Utrecht", contactpersoon_email="info@jansen.example",
    )  # fmt: skip
    df_sandbox.add_relation(relatienummer="2001", naam="Groothandel Smit", type="crediteur")

    report = engine.run()

    assert (report.created, report.failed) == (2, 0)
    debtor = crm.find_by_number(Role.DEBTOR, "1001")
    creditor = crm.find_by_number(Role.CREDITOR, "2001")
    assert isinstance(debtor, Organisation) and isinstance(creditor, Organisation)
    assert (debtor.name, debtor.debtor_number, debtor.creditor_number) == (
        "Bakkerij Jansen",
        "1001",
        None,
    )
    assert debtor.relation_type is RelationType.CUSTOMER
    assert creditor.relation_type is RelationType.SUPPLIER
    assert creditor.creditor_number == "2001"
    # DF's address goes to both the postal and the invoice address.
    assert debtor.invoice_address is not None and debtor.postal_address is not None
    assert debtor.invoice_address.city == debtor.postal_address.city == "Utrecht"
    assert df_writes(df_sandbox) == 0  # nothing went back: no echo

    again = engine.run()
    assert (again.created, again.updated, again.conflicts) == (0, 0, 0)
    assert again.unchanged == 2 and df_writes(df_sandbox) == 0
    assert len(crm.parties()) == 2


def test_unchanged_df_records_are_known_by_their_digest_from_the_second_run(
    crm: SqliteCRM,
    df_sandbox: DigitaleFactuurSandbox,
    state: SqliteStateStore,
    engine: SyncEngine,
) -> None:
    pulled = df_sandbox.add_relation(
        relatienummer="1001", naam="Bakkerij Jansen", postcode="3511 AA"
    )
    crm.add(organisation("Garage De Vries", "1002"))
    engine.run()
    digests = {link.number: link.remote_digest for link in state.links("digitalefactuur")}
    # Created in the host from the listing: its digest is known. Written by the engine: not yet.
    assert digests["1001"] is not None and digests["1002"] is None

    second = engine.run()
    assert (second.unchanged, second.updated, df_writes(df_sandbox)) == (2, 0, 1)
    listed = DigitaleFactuurConnector(df_sandbox_client(df_sandbox)).relations()
    now = {remote.number: remote.digest for remote in listed}
    stored = {link.number: link.remote_digest for link in state.links("digitalefactuur")}
    assert stored == now  # both known now: a third run reads no values

    df_sandbox.edit_relation(pulled["id"], postcode="3511aa")  # another spelling, the same value
    third = engine.run()
    assert (third.unchanged, third.updated, third.failed) == (2, 0, 0)
    [link] = [link for link in state.links("digitalefactuur") if link.number == "1001"]
    assert link.remote_digest not in (None, stored["1001"])  # the new spelling's digest


def test_a_linked_df_record_that_cannot_be_read_fails_alone_and_stays_linked(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, state: SqliteStateStore, engine: SyncEngine
) -> None:
    odd = df_sandbox.add_relation(relatienummer="1001", naam="Bakkerij Jansen")
    df_sandbox.add_relation(relatienummer="1002", naam="Garage De Vries")
    engine.run()
    df_sandbox.edit_relation(odd["id"], naam="x" * 300)  # typed into DF's screens: too long

    report = engine.run()
    [failed] = [row for row in report if row.action is Action.FAILED]
    assert (failed.number, failed.side) == ("1001", Side.HOST)
    assert "name" in failed.reason and odd["id"] in failed.reason
    assert report.unlinked == 0 and len(state.links("digitalefactuur")) == 2
    assert crm.find_by_number(Role.DEBTOR, "1001").name == "Bakkerij Jansen"  # type: ignore[union-attr]

    df_sandbox.edit_relation(odd["id"], naam="Bakkerij Jansen & Zn")
    fixed = engine.run()
    assert (fixed.failed, fixed.updated) == (0, 1)
    assert crm.find_by_number(Role.DEBTOR, "1001").name == "Bakkerij Jansen & Zn"  # type: ignore[union-attr]


def df_sandbox_client(sandbox: DigitaleFactuurSandbox) -> DigitaleFactuurClient:
    return DigitaleFactuurClient(ACCOUNT, CODE, transport=sandbox.transport(), rate_limit=None)


def test_a_host_party_with_a_debtor_number_reaches_df_and_a_rerun_writes_nothing(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, engine: SyncEngine
) -> None:
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    crm.add(organisation("Zonder Nummer"))  # no number: not synced

    report = engine.run()

    assert report.created == 1
    [row] = [row for row in report if row.action is Action.CREATED]
    assert (row.side, row.host_id, row.number) == (Side.REMOTE, host_id, "1002")
    stored = df_record(df_sandbox, "1002")
    assert (stored["naam"], stored["plaats"], stored["type"]) == (
        "Garage De Vries",
        "Leiden",
        "debiteur",
    )
    assert stored["adres"] == "Haagweg 4"  # the invoice address, not the postal one
    assert len(df_sandbox.relations) == 1
    writes = df_writes(df_sandbox)

    again = engine.run()
    assert (again.created, again.updated, again.failed) == (0, 0, 0)
    assert df_writes(df_sandbox) == writes


def test_changed_on_both_sides_the_crm_wins_and_different_fields_merge(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, engine: SyncEngine
) -> None:
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    engine.run()
    remote_id = df_record(df_sandbox, "1002")["id"]
    # DF: the name and the phone-free city; the CRM: the name and the e-mail address.
    df_sandbox.edit_relation(remote_id, naam="Garage de Vries (DF)", plaats="Oegstgeest")
    party = crm.get(host_id)
    assert party is not None
    crm.save(
        party.model_copy(
            update={
                "name": "Garage De Vries B.V.",
                "contact": party.contact.model_copy(update={"email": "new@devries.example"}),
            }
        )
    )

    report = engine.run()

    assert (report.conflicts, report.failed) == (1, 0)
    [conflict] = [row for row in report if row.action is Action.CONFLICT]
    assert conflict.fields == ("name",) and "host wins" in conflict.reason
    stored = df_record(df_sandbox, "1002")
    assert stored["naam"] == "Garage De Vries B.V."  # the CRM won the name
    assert stored["contactpersoon_email"] == "new@devries.example"  # the CRM's change
    after = crm.get(host_id)
    assert isinstance(after, Organisation) and after.invoice_address is not None
    assert after.name == "Garage De Vries B.V."
    assert after.invoice_address.city == "Oegstgeest"  # DF's change came in

    writes = df_writes(df_sandbox)
    again = engine.run()
    assert (again.created, again.updated, again.conflicts) == (0, 0, 0)
    assert df_writes(df_sandbox) == writes  # its own writes do not come back


def test_remote_wins_when_the_policy_says_so(
    crm: SqliteCRM, df: DigitaleFactuurConnector, df_sandbox: DigitaleFactuurSandbox
) -> None:
    with SqliteStateStore(":memory:") as state:
        engine = SyncEngine(crm, [df], state=state, policy=ConflictPolicy.REMOTE_WINS)
        host_id = crm.add(organisation("Garage De Vries", "1002"))
        engine.run()
        df_sandbox.edit_relation(df_record(df_sandbox, "1002")["id"], naam="Naam uit DF")
        party = crm.get(host_id)
        assert party is not None
        crm.save(party.model_copy(update={"name": "Naam uit de CRM"}))

        report = engine.run()

        assert report.conflicts == 1
        assert df_record(df_sandbox, "1002")["naam"] == "Naam uit DF"
        after = crm.get(host_id)
        assert isinstance(after, Organisation) and after.name == "Naam uit DF"


def test_review_writes_neither_side_flags_the_party_and_keeps_the_conflict(
    crm: SqliteCRM, df: DigitaleFactuurConnector, df_sandbox: DigitaleFactuurSandbox
) -> None:
    with SqliteStateStore(":memory:") as state:
        engine = SyncEngine(crm, [df], state=state, policy="review")
        host_id = crm.add(organisation("Garage De Vries", "1002"))
        engine.run()
        df_sandbox.edit_relation(df_record(df_sandbox, "1002")["id"], naam="Naam uit DF")
        party = crm.get(host_id)
        assert party is not None
        crm.save(party.model_copy(update={"name": "Naam uit de CRM"}))
        writes = df_writes(df_sandbox)

        for _ in range(2):  # still a conflict the next run: the base was kept
            report = engine.run()
            assert (report.conflicts, report.updated) == (1, 0)
        assert df_writes(df_sandbox) == writes
        assert df_record(df_sandbox, "1002")["naam"] == "Naam uit DF"
        after = crm.get(host_id)
        assert isinstance(after, Organisation) and after.name == "Naam uit de CRM"
        assert [(f.host_id, f.service) for f in crm.review_flags()] == [
            (host_id, "digitalefactuur")
        ]


def test_a_party_deleted_in_the_host_is_unlinked_by_the_next_run_and_left_in_df(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, state: SqliteStateStore, engine: SyncEngine
) -> None:
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    kept = crm.add(organisation("Bakkerij Jansen", "1003"))
    engine.run()
    crm.delete(host_id)  # SqliteCRM tells the engine (DeletionTrackingHost): no call needed

    report = engine.run()
    [row] = [row for row in report if row.action is Action.UNLINKED]
    assert (row.host_id, row.number) == (host_id, "1002")
    assert "deleted in the host" in row.reason and "left in digitalefactuur" in row.reason
    assert [link.host_id for link in state.links("digitalefactuur")] == [kept]
    assert len(df_sandbox.relations) == 2  # the default: left in DF
    again = engine.run()
    assert (again.created, again.unlinked, again.failed) == (0, 0, 0)
    assert [party.id for party in crm.parties()] == [kept]  # not pulled back into the host


def test_a_party_deleted_in_the_host_is_removed_from_df_when_the_setting_says_so(
    crm: SqliteCRM,
    df_sandbox: DigitaleFactuurSandbox,
    df: DigitaleFactuurConnector,
    state: SqliteStateStore,
) -> None:
    engine = SyncEngine(crm, [df], state=state, on_host_removal="remove")
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    engine.run()
    crm.delete(host_id)

    report = engine.run()
    [row] = [row for row in report if row.action is Action.UNLINKED]
    assert "removed from digitalefactuur" in row.reason
    assert df_sandbox.relations == [] and state.links("digitalefactuur") == []
    assert engine.run().failed == 0


def test_a_relation_removed_in_df_is_unlinked_flagged_and_not_created_again(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    engine: SyncEngine,
    state: SqliteStateStore,
) -> None:
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    engine.run()
    df.client.delete_relation(df_record(df_sandbox, "1002")["id"])

    report = engine.run()

    assert report.unlinked == 1 and report.created == 0
    assert state.link(host_id, "digitalefactuur", Role.DEBTOR) is None
    assert [flag.host_id for flag in crm.review_flags()] == [host_id]
    assert df_sandbox.relations == []

    crm_party = crm.get(host_id)
    assert crm_party is not None
    crm.save(crm_party.model_copy(update={"name": "Changed after removal"}))
    later = engine.run()
    assert (later.created, later.unlinked) == (0, 0)
    assert df_sandbox.relations == []  # not created again until a person re-links it

    # A person creates it again in DF under its number: linked, and in step from then on.
    df_sandbox.add_relation(relatienummer="1002", naam="Garage De Vries", plaats="Leiden")
    relinked = engine.run()
    assert relinked.failed == 0 and len(crm.parties()) == 1
    link = state.link(host_id, "digitalefactuur", Role.DEBTOR)
    assert link is not None and link.remote_id == df_record(df_sandbox, "1002")["id"]
    assert df_record(df_sandbox, "1002")["naam"] == "Changed after removal"  # the CRM wins


def test_plan_writes_nothing_and_apply_does_what_it_showed(
    crm: SqliteCRM,
    df_sandbox: DigitaleFactuurSandbox,
    engine: SyncEngine,
    state: SqliteStateStore,
) -> None:
    crm.add(organisation("Garage De Vries", "1002"))
    df_sandbox.add_relation(
        relatienummer="1001", naam="Bakkerij Jansen", plaats="Utrecht", land="NL"
    )
    parties, relations = crm.parties(), df_sandbox.relations

    plan = engine.plan()

    assert crm.parties() == parties and df_sandbox.relations == relations
    assert df_writes(df_sandbox) == 0
    assert state.links("digitalefactuur") == [] and state.intents("digitalefactuur") == []
    assert state.runs() == [] and state.bookmark("host-changes/digitalefactuur") is None
    shown = {(row.number, row.side, row.action) for row in plan.preview}
    assert shown == {("1001", Side.HOST, Action.CREATED), ("1002", Side.REMOTE, Action.CREATED)}
    assert "2 created" in str(plan) and "<table" in plan._repr_html_()

    report = engine.apply(plan)

    done = {(row.number, row.side, row.action) for row in report}
    assert done == shown
    twice = engine.apply(plan)  # a plan applied again creates nothing twice
    assert (twice.created, twice.failed, df_writes(df_sandbox)) == (0, 0, 1)
    assert {r["relatienummer"] for r in df_sandbox.relations} == {"1001", "1002"}
    assert len(crm.parties()) == 2 and len(state.links("digitalefactuur")) == 2
    assert [run.status for run in state.runs()] == ["ok", "ok"]
    rerun = engine.run()  # one row per record, also for the party the pull created
    assert (rerun.unchanged, len(rerun), df_writes(df_sandbox)) == (2, 2, 1)


def test_one_failing_record_stops_no_other_and_is_retried_next_run(
    crm: SqliteCRM,
    df_sandbox: DigitaleFactuurSandbox,
    engine: SyncEngine,
    state: SqliteStateStore,
) -> None:
    crm.add(organisation("Eerste", "1001"))
    crm.add(organisation("Tweede", "1002"))
    df_sandbox.fail_next(1, "500", "klant_aanmaken")

    report = engine.run()

    assert (report.created, report.failed) == (1, 1)
    [failed] = [row for row in report if row.action is Action.FAILED]
    assert failed.reason and CODE not in failed.reason  # the access code is never shown
    assert state.runs()[-1].status == "failed"
    assert len(df_sandbox.relations) == 1

    retry = engine.run()
    assert (retry.created, retry.failed) == (1, 0)
    assert {r["relatienummer"] for r in df_sandbox.relations} == {"1001", "1002"}


def test_an_intent_left_by_a_killed_run_resolves_without_a_duplicate(
    crm: SqliteCRM,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    # The killed run: the intent was recorded and the relation created, the link never saved.
    state.add_intent("eboekhouden", "create_relation", "1002", host_id=host_id, role=Role.DEBTOR)
    eb_sandbox.add_relation("1002", "Garage De Vries", city="Leiden")
    before = eb_writes(eb_sandbox)

    report = SyncEngine(crm, [eb], state=state).run()

    assert report.failed == 0
    assert [r.get("code") for r in eb_sandbox.relations].count("1002") == 1
    assert sum(eb_sandbox.stats.requests[name] for name in EB_CREATES) == 0  # not created again
    assert state.intents("eboekhouden") == []
    link = state.link(host_id, "eboekhouden", Role.DEBTOR)
    assert link is not None and link.number == "1002"
    assert eb_writes(eb_sandbox) - before <= 1  # at most the host's values written over it


def test_an_intent_resolves_through_the_pull_in_df_too(
    crm: SqliteCRM,
    df_sandbox: DigitaleFactuurSandbox,
    engine: SyncEngine,
    state: SqliteStateStore,
) -> None:
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    state.add_intent(
        "digitalefactuur", "create_relation", "1002", host_id=host_id, role=Role.DEBTOR
    )
    df_sandbox.add_relation(relatienummer="1002", naam="Garage De Vries", plaats="Leiden")

    report = engine.run()

    assert report.failed == 0 and report.created == 0
    assert len(df_sandbox.relations) == 1 and df_sandbox.stats.requests["klant_aanmaken"] == 0
    assert state.intents("digitalefactuur") == []
    assert state.link(host_id, "digitalefactuur", Role.DEBTOR) is not None
    assert len(crm.parties()) == 1


# -- e-Boekhouden: relations out, bookings, payment states --------------------------------------


def test_eboekhouden_relations_bookings_once_and_payment_states(
    crm: SqliteCRM,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    engine = SyncEngine(crm, [eb], state=state)
    crm.add(organisation("Garage De Vries", "1001"))
    crm.add_invoice(sales_invoice("F1", "1001"))
    crm.add_invoice(sales_invoice("F2", "1001", "200.00"))
    crm.add_invoice(sales_invoice("F3", "1001"), sent=False)

    report = engine.run()

    assert report.failed == 0
    assert [r.get("code") for r in eb_sandbox.relations].count("1001") == 1
    booked = [row for row in report if row.kind == "invoice" and row.action is Action.CREATED]
    assert sorted(str(row.number) for row in booked) == ["1001/F1", "1001/F2"]
    assert len(eb_sandbox.mutations) == 2
    assert crm.booking_reference("eboekhouden", "F1") is not None
    assert crm.booking_reference("eboekhouden", "F3") is None  # not sent: not booked

    eb_sandbox.pay("F1", "121.00", relation_code="1001")
    eb_sandbox.pay("F2", "42.00", relation_code="1001")
    writes = eb_writes(eb_sandbox)

    again = engine.run()

    assert (again.created, again.failed) == (0, 0)
    assert len(eb_sandbox.mutations) == 4  # the two payments; no invoice booked twice
    assert eb_writes(eb_sandbox) == writes
    assert crm.payment_state("F1") is PaymentState.PAID
    assert crm.payment_state("F2") is PaymentState.PARTLY_PAID
    assert crm.outstanding("F2") == Decimal("200.00")
    assert again.updated == 2  # the two payment states, nothing else

    crm.mark_sent("F3")
    third = engine.run()
    assert [row.number for row in third if row.action is Action.CREATED] == ["1001/F3"]
    # Only the new invoice's first state is recorded; F2's stays as it was: not reported.
    assert [row.number for row in third if row.action is Action.UPDATED] == ["1001/F3"]


def edit_in_eboekhouden(sandbox: EBoekhoudenSandbox, code: str, **values: str) -> None:
    """Change a relation as a person does in e-Boekhouden's screens."""
    books = sandbox.books()
    [record] = [record for record in books.relations if record.code == code]
    books.update_relation(record.id, {**record.values, **values})


def test_eboekhouden_changes_to_linked_relations_come_back_and_the_crm_wins_a_conflict(
    crm: SqliteCRM,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    engine = SyncEngine(crm, [eb], state=state)
    garage = crm.add(organisation("Garage De Vries", "1001"))
    bakery = crm.add(organisation("Bakkerij Jansen", "1002"))
    engine.run()
    edit_in_eboekhouden(eb_sandbox, "1001", email="boekhouding@garage.example")
    edit_in_eboekhouden(eb_sandbox, "1002", company="Bakkerij J.")  # both sides, one field
    party = crm.get(bakery)
    assert isinstance(party, Organisation)
    crm.save(party.model_copy(update={"name": "Bakkerij Jansen & Zn"}))
    eb_sandbox.add_relation("1003", "Alleen in e-Boekhouden")  # new there: not brought in

    report = engine.run()

    assert report.failed == 0
    assert crm.get(garage).contact.email == "boekhouding@garage.example"  # type: ignore[union-attr]
    assert crm.get(bakery).name == "Bakkerij Jansen & Zn"  # type: ignore[union-attr]
    [record] = [r for r in eb_sandbox.relations if r.code == "1002"]
    assert record.company == "Bakkerij Jansen & Zn"  # the CRM won the conflict
    assert crm.find_by_number(Role.DEBTOR, "1003") is None
    writes = eb_writes(eb_sandbox)
    again = engine.run()
    assert (again.updated, again.created, again.failed) == (0, 0, 0)
    assert eb_writes(eb_sandbox) == writes  # no echo either way

    kept = SyncEngine(
        crm,
        [EBoekhoudenConnector(eb.books, DEMO_VAT_TABLE, changes_from_remote=False)],
        state=state,
    )
    edit_in_eboekhouden(eb_sandbox, "1001", email="weer@garage.example")
    kept.run()
    assert crm.get(garage).contact.email == "boekhouding@garage.example"  # type: ignore[union-attr]


def test_push_relation_sends_one_party_now_and_a_cleared_field_is_cleared(
    crm: SqliteCRM,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    engine = SyncEngine(crm, [eb], state=state)
    host_id = crm.add(organisation("Garage De Vries", "1001"))

    created = engine.push_relation(host_id)

    assert created.created == 1 and eb_writes(eb_sandbox) == 1  # the names counted are right
    stored = next(r for r in eb_sandbox.relations if r.get("code") == "1001")
    assert stored.get("email") == "info@garage-devries.example"

    party = crm.get(host_id)
    assert party is not None
    crm.save(party.model_copy(update={"contact": party.contact.model_copy(update={"email": None})}))
    updated = engine.push_relation(host_id)

    assert updated.updated == 1
    [row] = [row for row in updated if row.action is Action.UPDATED]
    assert row.fields == ("email",)
    stored = next(r for r in eb_sandbox.relations if r.get("code") == "1001")
    assert not stored.get("email")  # cleared in e-Boekhouden too
    writes = eb_writes(eb_sandbox)
    assert engine.run().updated == 0 and eb_writes(eb_sandbox) == writes


def test_a_relation_arriving_from_df_reaches_eboekhouden_in_the_same_run(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    df_sandbox.add_relation(
        relatienummer="1001", naam="Bakkerij Jansen", plaats="Utrecht", land="NL"
    )

    report = SyncEngine(crm, [eb, df], state=state).run()  # e-Boekhouden listed first

    assert report.failed == 0
    assert {(row.service, row.side) for row in report if row.action is Action.CREATED} == {
        ("digitalefactuur", Side.HOST),
        ("eboekhouden", Side.REMOTE),
    }
    stored = next(r for r in eb_sandbox.relations if r.get("code") == "1001")
    assert stored.get("company") == "Bakkerij Jansen"


def test_run_due_runs_only_the_flows_whose_interval_passed(
    crm: SqliteCRM,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    engine = SyncEngine(crm, [eb], state=state, intervals={"payments": dt.timedelta(minutes=10)})
    crm.add(organisation("Garage De Vries", "1001"))
    now = dt.datetime.now(dt.UTC)

    first = engine.run_due(now)
    assert first.created == 1
    assert sorted(run.flow for run in state.runs()) == ["bookings", "payments", "relations"]

    assert len(engine.run_due(now + dt.timedelta(minutes=5))) == 0
    engine.run_due(now + dt.timedelta(minutes=20))
    flows = [run.flow for run in state.runs()]
    assert flows.count("payments") == 2 and flows.count("relations") == 1


def test_run_every_checks_the_schedule_each_round(
    crm: SqliteCRM, eb: EBoekhoudenConnector, state: SqliteStateStore
) -> None:
    engine = SyncEngine(crm, [eb], state=state)
    crm.add(organisation("Garage De Vries", "1001"))

    engine.run_every(0, rounds=2)

    flows = [run.flow for run in state.runs()]
    assert sorted(flows) == ["bookings", "payments", "relations"]  # the second round: none due


def test_a_service_whose_listing_fails_stops_no_other(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    crm.add(organisation("Garage De Vries", "1001"))
    df_sandbox.fail_next(50, "500", "klanten")

    report = SyncEngine(crm, [df, eb], state=state).run()

    [failed] = [row for row in report if row.action is Action.FAILED]
    assert failed.service == "digitalefactuur" and "listing" in failed.reason
    assert [row.service for row in report if row.action is Action.CREATED] == ["eboekhouden"]
    assert df_sandbox.relations == []
    assert [r.get("code") for r in eb_sandbox.relations].count("1001") == 1

    df_sandbox.faults.clear()
    retry = SyncEngine(crm, [df, eb], state=state).run()
    assert [row.service for row in retry if row.action is Action.CREATED] == ["digitalefactuur"]
    assert retry.failed == 0 and len(df_sandbox.relations) == 1


def test_a_run_that_breaks_off_is_recorded_as_failed(
    crm: SqliteCRM, engine: SyncEngine, state: SqliteStateStore
) -> None:
    state.set_bookmark("host-changes/digitalefactuur", "not a bookmark the CRM gave")

    with pytest.raises(ValidationError):
        engine.run()

    [run] = state.runs()
    assert run.status == "failed" and run.ended is not None
    assert [key for key, _ in run.failures] == ["all"]


def test_a_relation_already_in_eboekhouden_is_linked_by_code_and_gets_the_crms_values(
    crm: SqliteCRM,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    eb_sandbox.add_relation("1001", "Garage De Vries", city="Den Haag", email="old@example.org")
    host_id = crm.add(organisation("Garage De Vries", "1001"))

    report = SyncEngine(crm, [eb], state=state).run()

    assert (report.created, report.updated, report.failed) == (0, 1, 0)
    assert sum(eb_sandbox.stats.requests[name] for name in EB_CREATES) == 0
    stored = next(r for r in eb_sandbox.relations if r.get("code") == "1001")
    assert (stored.get("city"), stored.get("email")) == ("Leiden", "info@garage-devries.example")
    link = state.link(host_id, "eboekhouden", Role.DEBTOR)
    assert link is not None and link.remote_id == str(stored.id)


# -- two engines on one state file: one run at a time ---------------------------------------------


class GatedConnector:
    """A DigitaleFactuur connector whose creates wait for a gate (a write still in flight)."""

    def __init__(self, inner: DigitaleFactuurConnector) -> None:
        self.inner = inner
        self.service = inner.service
        self.capabilities = inner.capabilities
        self.sending = threading.Event()
        self.gate = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create_relation(self, role: Role, number: str, values: Any) -> Any:
        self.sending.set()
        assert self.gate.wait(10), "the gate was never opened"
        return self.inner.create_relation(role, number, values)


def test_a_run_does_not_resolve_the_intent_of_a_push_still_writing(
    tmp_path: Path, df: DigitaleFactuurConnector, df_sandbox: DigitaleFactuurSandbox
) -> None:
    # A web process's push_relation has recorded its intent and is still creating the
    # relation when the hourly run starts: the run must not look the number up, miss it,
    # and create a second one.
    with SqliteCRM(tmp_path / "crm.db") as crm:
        host_id = crm.add(organisation("Garage De Vries", "1002"))
        gated = GatedConnector(df)
        web = SyncEngine(crm, [gated], state=tmp_path / "state.db")
        hourly = SyncEngine(crm, [df], state=tmp_path / "state.db")
        pushed: list[Any] = []
        pushing = threading.Thread(target=lambda: pushed.append(web.push_relation(host_id)))
        pushing.start()
        try:
            assert gated.sending.wait(10)
            assert [i.key for i in hourly.state.intents("digitalefactuur")] == ["1002"]
            with pytest.raises(SyncError, match="another sync run holds the state"):
                hourly.run()
            assert df_sandbox.stats.requests["klant_aanmaken"] == 0
        finally:
            gated.gate.set()
            pushing.join(10)
        assert pushed[0].created == 1
        report = hourly.run()
        assert (report.created, report.failed) == (0, 0)
        assert [r["relatienummer"] for r in df_sandbox.relations] == ["1002"]
        assert df_sandbox.stats.requests["klant_aanmaken"] == 1
        web.close()
        hourly.close()


def test_one_engine_shared_by_threads_runs_one_at_a_time(
    tmp_path: Path, df: DigitaleFactuurConnector, df_sandbox: DigitaleFactuurSandbox
) -> None:
    # A scheduler thread's run and a web thread's push_relation on the same engine object.
    with SqliteCRM(tmp_path / "crm.db") as crm:
        host_id = crm.add(organisation("Garage De Vries", "1002"))
        gated = GatedConnector(df)
        engine = SyncEngine(crm, [gated], state=tmp_path / "state.db")
        ran: list[Any] = []
        running = threading.Thread(target=lambda: ran.append(engine.run()))
        running.start()
        try:
            assert gated.sending.wait(10)
            with pytest.raises(SyncError, match="another sync run holds the state"):
                engine.run()
            deferred = engine.push_relation(host_id)
            assert deferred.failed == 1 and "next run" in deferred.rows[0].reason
        finally:
            gated.gate.set()
            running.join(10)
        assert ran[0].created == 1
        assert engine.run().failed == 0
        assert [r["relatienummer"] for r in df_sandbox.relations] == ["1002"]
        assert df_sandbox.stats.requests["klant_aanmaken"] == 1
        engine.close()


def test_push_relation_during_a_run_is_left_for_the_next_run(
    tmp_path: Path, df: DigitaleFactuurConnector, df_sandbox: DigitaleFactuurSandbox
) -> None:
    with SqliteCRM(tmp_path / "crm.db") as crm, SqliteStateStore(tmp_path / "s.db") as state:
        engine = SyncEngine(crm, [df], state=state)
        host_id = crm.add(organisation("Garage De Vries", "1002"))
        engine.run()
        party = crm.get(host_id)
        assert party is not None
        crm.save(party.model_copy(update={"name": "Garage De Vries B.V."}))
        # Another process holds the store; then the host's save calls push_relation.
        assert state.acquire_lease("hourly-run", dt.timedelta(minutes=5))
        deferred = engine.push_relation(host_id)
        assert deferred.failed == 1 and "next run" in deferred.rows[0].reason
        assert df_record(df_sandbox, "1002")["naam"] == "Garage De Vries"
        state.release_lease("hourly-run")

        report = engine.run()
        assert (report.updated, report.failed) == (1, 0)
        assert df_record(df_sandbox, "1002")["naam"] == "Garage De Vries B.V."


def test_a_lease_left_by_a_killed_process_on_this_machine_is_taken_over_at_once(
    tmp_path: Path, crm: SqliteCRM, df: DigitaleFactuurConnector
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with SqliteStateStore(tmp_path / "s.db") as state:
            engine = SyncEngine(crm, [df], state=state)
            here = socket.gethostname()
            assert state.acquire_lease(f"{here}/{alive.pid}/x", dt.timedelta(minutes=10))
            with pytest.raises(SyncError, match="another sync run"):
                engine.run()  # a live holder is waited for
            state.release_lease(f"{here}/{alive.pid}/x")
            assert state.acquire_lease(f"elsewhere/{dead.pid}/x", dt.timedelta(minutes=10))
            with pytest.raises(SyncError, match="another sync run"):
                engine.run()  # another machine's process cannot be checked: waited for
            state.release_lease(f"elsewhere/{dead.pid}/x")
            assert state.acquire_lease(f"{here}/{dead.pid}/x", dt.timedelta(minutes=10))
            assert engine.run().failed == 0  # the dead holder's lease is not waited out
            assert state.runs()[-1].status == "ok"
    finally:
        alive.kill()
        alive.wait()


def test_a_run_waits_for_the_lease_up_to_lease_wait(
    tmp_path: Path, crm: SqliteCRM, df: DigitaleFactuurConnector
) -> None:
    with SqliteStateStore(tmp_path / "s.db") as state:
        assert state.acquire_lease("other", dt.timedelta(milliseconds=300))
        engine = SyncEngine(crm, [df], state=state, lease_wait=2.0)
        report = engine.run()  # the other lease expires while it waits
        assert report.failed == 0 and state.runs()[-1].status == "ok"
        assert state.acquire_lease("next", dt.timedelta(minutes=1))  # released after the run


# -- parties deleted, deactivated or renumbered in the host ---------------------------------------


def delete_party(crm_path: Path, host_id: str) -> None:
    """Delete a party behind SqliteCRM's back: as a host that does not track deletions."""
    db = sqlite3.connect(crm_path)
    with db:
        db.execute("DELETE FROM review_flags WHERE host_id = ?", (host_id,))
        db.execute("DELETE FROM parties WHERE id = ?", (host_id,))
    db.close()


class KeepingDF:
    """DigitaleFactuur's connector as a service that cannot remove relations."""

    def __init__(self, inner: DigitaleFactuurConnector) -> None:
        self.inner = inner
        self.service = inner.service
        self.capabilities = inner.capabilities - {Capability.RELATION_REMOVAL}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_party_deleted_in_the_host_is_unlinked_and_left_and_no_run_fails(
    tmp_path: Path, df: DigitaleFactuurConnector, df_sandbox: DigitaleFactuurSandbox
) -> None:
    with SqliteCRM(tmp_path / "crm.db") as crm, SqliteStateStore(":memory:") as state:
        engine = SyncEngine(crm, [df], state=state)
        host_id = crm.add(organisation("Garage De Vries", "1002"))
        crm.add(organisation("Bakkerij Jansen", "1003"))
        engine.run()
        delete_party(tmp_path / "crm.db", host_id)
        # DF changes it afterwards: before, every run failed on "host party is gone".
        df_sandbox.edit_relation(df_record(df_sandbox, "1002")["id"], plaats="Delft")

        report = engine.run()

        [row] = [row for row in report if row.action is Action.UNLINKED]
        assert (row.host_id, row.number, row.side) == (host_id, "1002", Side.REMOTE)
        assert "deleted in the host" in row.reason and "left in digitalefactuur" in row.reason
        assert report.failed == 0
        assert state.link(host_id, "digitalefactuur", Role.DEBTOR) is None
        assert df_record(df_sandbox, "1002")["plaats"] == "Delft"  # left as it is
        again = engine.run()
        assert (again.created, again.updated, again.failed) == (0, 0, 0)
        assert crm.find_by_number(Role.DEBTOR, "1002") is None  # not pulled back in
        assert len(crm.parties()) == 1


def test_a_party_deleted_in_the_host_is_removed_where_the_service_allows_it(
    tmp_path: Path, df: DigitaleFactuurConnector, df_sandbox: DigitaleFactuurSandbox
) -> None:
    with SqliteCRM(tmp_path / "crm.db") as crm, SqliteStateStore(":memory:") as state:
        engine = SyncEngine(crm, [df], state=state, on_host_removal="remove")
        host_id = crm.add(organisation("Garage De Vries", "1002"))
        engine.run()
        delete_party(tmp_path / "crm.db", host_id)

        report = engine.party_removed(host_id)  # the host's delete hook

        assert [row.action for row in report] == [Action.UNLINKED]
        assert "removed from digitalefactuur" in report.rows[0].reason
        assert df_sandbox.relations == []
        assert engine.run().failed == 0
        # Without the capability the setting falls back to leaving it, and says so.
        host_id = crm.add(organisation("Bakkerij Jansen", "1003"))
        keeping = KeepingDF(df)
        plain = SyncEngine(crm, [keeping], state=state, on_host_removal=HostRemoval.REMOVE)
        plain.run()
        delete_party(tmp_path / "crm.db", host_id)
        [row] = plain.party_removed(host_id).rows
        assert "cannot remove relations" in row.reason
        assert [r["relatienummer"] for r in df_sandbox.relations] == ["1003"]


def test_a_deactivated_person_is_left_remotely_and_no_longer_synced(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, engine: SyncEngine, state: SqliteStateStore
) -> None:
    host_id = crm.add(Person(initials="J.", last_name="Jansen", debtor_number="1005"))
    engine.run()
    person = crm.get(host_id)
    assert isinstance(person, Person)
    crm.save(person.model_copy(update={"active": False, "last_name": "Jansen-Smit"}))

    report = engine.run()

    [row] = [row for row in report if row.action is Action.UNLINKED]
    assert "deactivated in the host" in row.reason and report.failed == 0
    assert df_record(df_sandbox, "1005")["naam"] == "J. Jansen"  # not written any more
    assert state.link(host_id, "digitalefactuur", Role.DEBTOR) is None
    assert (engine.run().created, len(crm.parties())) == (0, 1)
    # Active again: linked by its number, and synced.
    crm.save(person.model_copy(update={"active": True, "last_name": "Jansen-Smit"}))
    back = engine.run()
    assert back.failed == 0 and df_record(df_sandbox, "1005")["naam"] == "J. Jansen-Smit"
    assert state.link(host_id, "digitalefactuur", Role.DEBTOR) is not None


def test_a_changed_debtor_number_re_links_under_the_new_number(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, engine: SyncEngine, state: SqliteStateStore
) -> None:
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    engine.run()
    party = crm.get(host_id)
    assert party is not None
    crm.save(party.model_copy(update={"debtor_number": "1009"}))

    report = engine.run()

    assert (report.created, report.failed) == (1, 0)
    [row] = [row for row in report if row.action is Action.CREATED]
    assert row.number == "1009" and "re-linked" in row.reason
    link = state.link(host_id, "digitalefactuur", Role.DEBTOR)
    assert link is not None and link.number == "1009"
    assert sorted(r["relatienummer"] for r in df_sandbox.relations) == ["1002", "1009"]
    [flag] = crm.review_flags()
    assert flag.host_id == host_id and "1002" in flag.reason
    # The old relation is not pulled back in as a new party, and a rerun is quiet.
    df_sandbox.edit_relation(df_record(df_sandbox, "1002")["id"], plaats="Delft")
    again = engine.run()
    assert (again.created, again.updated, again.failed) == (0, 0, 0)
    assert len(crm.parties()) == 1


def test_a_cleared_debtor_number_unlinks_the_role(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, engine: SyncEngine, state: SqliteStateStore
) -> None:
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    engine.run()
    party = crm.get(host_id)
    assert party is not None
    crm.save(party.model_copy(update={"debtor_number": None, "name": "Anders"}))

    report = engine.run()

    [row] = [row for row in report if row.action is Action.UNLINKED]
    assert "debtor number was cleared" in row.reason and report.failed == 0
    assert df_record(df_sandbox, "1002")["naam"] == "Garage De Vries"
    again = engine.run()
    assert (again.created, again.failed, len(crm.parties())) == (0, 0, 1)


def test_a_failed_party_deactivated_before_the_retry_is_not_sent_nor_kept_for_retry(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, engine: SyncEngine, state: SqliteStateStore
) -> None:
    host_id = crm.add(Person(initials="J.", last_name="Jansen", debtor_number="1005"))
    df_sandbox.fail_next(1, "500", action="klant_aanmaken")
    assert engine.run().failed == 1
    assert dict(state.marks("retry")) == {f"digitalefactuur/{host_id}": ""}
    person = crm.get(host_id)
    assert isinstance(person, Person)
    crm.save(person.model_copy(update={"active": False}))

    report = engine.run()

    assert (report.created, report.failed) == (0, 0)
    assert df_sandbox.relations == [] and dict(state.marks("retry")) == {}


def test_a_relation_gone_on_both_sides_is_unlinked_without_failing(
    tmp_path: Path, df: DigitaleFactuurConnector, df_sandbox: DigitaleFactuurSandbox
) -> None:
    with SqliteCRM(tmp_path / "crm.db") as crm, SqliteStateStore(":memory:") as state:
        engine = SyncEngine(crm, [df], state=state)
        host_id = crm.add(organisation("Garage De Vries", "1002"))
        engine.run()
        delete_party(tmp_path / "crm.db", host_id)
        df.client.delete_relation(df_record(df_sandbox, "1002")["id"])

        report = engine.run()

        [row] = [row for row in report if row.action is Action.UNLINKED]
        assert "deleted in the host" in row.reason and report.failed == 0
        assert state.links("digitalefactuur") == []
        assert engine.run().failed == 0


def test_push_relation_of_a_deactivated_person_applies_the_setting(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, engine: SyncEngine, state: SqliteStateStore
) -> None:
    host_id = crm.add(Person(initials="J.", last_name="Jansen", debtor_number="1005"))
    engine.run()
    person = crm.get(host_id)
    assert isinstance(person, Person)
    crm.save(person.model_copy(update={"active": False, "last_name": "Weg"}))

    report = engine.push_relation(host_id)

    assert [row.action for row in report] == [Action.UNLINKED]
    assert df_record(df_sandbox, "1005")["naam"] == "J. Jansen"
    assert state.link(host_id, "digitalefactuur", Role.DEBTOR) is None


def test_push_relation_of_a_renumbered_party_links_to_the_new_number_when_it_exists(
    crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox, engine: SyncEngine, state: SqliteStateStore
) -> None:
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    engine.run()
    df_sandbox.add_relation(relatienummer="1009", naam="Garage De Vries", plaats="Leiden")
    party = crm.get(host_id)
    assert party is not None
    crm.save(party.model_copy(update={"debtor_number": "1009"}))

    report = engine.push_relation(host_id)

    assert (report.created, report.failed) == (0, 0)
    assert df_sandbox.stats.requests["klant_aanmaken"] == 1  # only the first create
    link = state.link(host_id, "digitalefactuur", Role.DEBTOR)
    assert link is not None and link.number == "1009"
    assert link.remote_id == df_record(df_sandbox, "1009")["id"]
    assert engine.run().failed == 0 and len(crm.parties()) == 1


def test_exclusive_holds_the_state_across_runs_and_a_second_engine_finds_it_busy(
    crm: SqliteCRM, df: DigitaleFactuurConnector, tmp_path: Path
) -> None:
    with SqliteStateStore(tmp_path / "state.db") as state:
        first, second = SyncEngine(crm, [df], state=state), SyncEngine(crm, [df], state=state)
        host_id = crm.add(organisation("Garage De Vries", "1002"))
        with first.exclusive():
            first.run("relations")
            first.run(["bookings", "payments"])  # several flows at once, still held
            with pytest.raises(SyncBusyError):
                second.run()
            pushed = second.push_relation(host_id)
            assert pushed.deferred and pushed.failed == 1  # left to the next run, not lost
        assert [run.flow for run in state.runs()] == ["relations", "bookings+payments"]
        assert not second.run().deferred


# -- two services, one field ---------------------------------------------------------------------


def set_email(crm: SqliteCRM, host_id: str, email: str | None) -> None:
    party = crm.get(host_id)
    assert party is not None
    crm.save(
        party.model_copy(update={"contact": party.contact.model_copy(update={"email": email})})
    )


def test_one_field_changed_in_both_services_ends_the_run_alike_everywhere(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    engine = SyncEngine(crm, [df, eb], state=state)  # pulls in this order: e-Boekhouden last
    host_id = crm.add(organisation("Garage De Vries", "1001"))
    engine.run()
    df_sandbox.edit_relation(df_record(df_sandbox, "1001")["id"], contactpersoon_email="df@x.nl")
    edit_in_eboekhouden(eb_sandbox, "1001", email="eb@x.nl")

    report = engine.run()

    # The later pull's value is the CRM's, and the CRM then wins toward DF too.
    assert crm.get(host_id).contact.email == "eb@x.nl"  # type: ignore[union-attr]
    assert df_record(df_sandbox, "1001")["contactpersoon_email"] == "eb@x.nl"
    [record] = [r for r in eb_sandbox.relations if r.code == "1001"]
    assert record.values.get("email") == "eb@x.nl"
    rows = sorted((row.service, row.side.value, row.action.value, row.fields) for row in report)
    assert rows == [  # each record once per side: nothing reported twice
        ("digitalefactuur", "host", "updated", ("email",)),
        ("digitalefactuur", "remote", "updated", ("email",)),
        ("eboekhouden", "host", "updated", ("email",)),
    ]
    writes = df_writes(df_sandbox), eb_writes(eb_sandbox)
    again = engine.run()
    assert (again.updated, again.conflicts, again.unchanged) == (0, 0, 2)
    assert (df_writes(df_sandbox), eb_writes(eb_sandbox)) == writes


def test_different_fields_changed_in_two_services_each_reach_the_other_in_the_same_run(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    engine = SyncEngine(crm, [df, eb], state=state)
    host_id = crm.add(organisation("Garage De Vries", "1001"))
    engine.run()
    df_sandbox.edit_relation(df_record(df_sandbox, "1001")["id"], naam="Garage De Vries (DF)")
    edit_in_eboekhouden(eb_sandbox, "1001", email="eb@x.nl")

    assert engine.run().failed == 0

    party = crm.get(host_id)
    assert isinstance(party, Organisation)
    assert (party.name, party.contact.email) == ("Garage De Vries (DF)", "eb@x.nl")
    stored = df_record(df_sandbox, "1001")
    assert (stored["naam"], stored["contactpersoon_email"]) == ("Garage De Vries (DF)", "eb@x.nl")
    [record] = [r for r in eb_sandbox.relations if r.code == "1001"]
    assert (record.company, record.values.get("email")) == ("Garage De Vries (DF)", "eb@x.nl")
    again = engine.run()
    assert (again.updated, again.unchanged) == (0, 2)


def test_a_df_connection_relations_only_come_from_never_writes_to_df(
    crm: SqliteCRM, df: DigitaleFactuurConnector, df_sandbox: DigitaleFactuurSandbox
) -> None:
    pull_only = DigitaleFactuurConnector(df.client, to_remote=False)
    df_sandbox.add_relation(relatienummer="1001", naam="Bakkerij Jansen", plaats="Utrecht")
    with SqliteStateStore(":memory:") as state:
        engine = SyncEngine(crm, [pull_only], state=state)
        engine.run()
        [party] = crm.parties()
        crm.save(party.model_copy(update={"name": "Changed in the CRM"}))
        df_sandbox.edit_relation(df_record(df_sandbox, "1001")["id"], plaats="Zeist")
        writes = df_writes(df_sandbox)

        report = engine.run()

    assert df_writes(df_sandbox) == writes  # the CRM's change is not sent
    assert df_record(df_sandbox, "1001")["naam"] == "Bakkerij Jansen"
    assert [(row.side, row.action) for row in report] == [(Side.HOST, Action.UPDATED)]


# -- numbers in the other role's range -----------------------------------------------------------


def test_a_debtor_numbered_in_the_creditors_range_fails_before_any_write_never_a_duplicate(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    engine = SyncEngine(crm, [df, eb], state=state)
    host_id = crm.add(organisation("Bakkerij 2500", "2500"))
    fine = crm.add(organisation("Garage De Vries", "1001"))

    planned = engine.plan().preview
    for _ in range(2):
        report = engine.run()
        failed = {row.service: row.reason for row in report if row.action is Action.FAILED}
        assert set(failed) == {"digitalefactuur", "eboekhouden"}
        for reason in failed.values():
            assert "ValidationError: debtor_number: '2500'" in reason
            assert "creditor range 2000-2999" in reason and "1000-1999" in reason
        assert report.unlinked == 0

    assert planned.failed == 2  # the dry run tells it too
    assert [r["relatienummer"] for r in df_sandbox.relations] == ["1001"]
    assert [r.code for r in eb_sandbox.relations] == ["1001"]
    assert [p.id for p in crm.parties()] == [host_id, fine]  # no creditor party made
    assert crm.review_flags() == [] and state.intents("digitalefactuur") == []


def test_a_debtor_linked_before_numbers_were_checked_is_not_unlinked_nor_pulled_as_a_creditor(
    crm: SqliteCRM,
    df_sandbox: DigitaleFactuurSandbox,
    engine: SyncEngine,
    state: SqliteStateStore,
) -> None:
    host_id = crm.add(organisation("Bakkerij 2500", "2500"))
    remote = df_sandbox.add_relation(relatienummer="2500", naam="Bakkerij 2500", type="debiteur")
    state.save_link(Link(host_id, "digitalefactuur", Role.DEBTOR, remote["id"], "2500"))

    report = engine.run()

    [row] = [row for row in report if row.action is Action.FAILED]
    assert (row.host_id, row.number) == (host_id, "2500")
    assert "lists it as a creditor" in row.reason
    assert report.unlinked == 0 and report.created == 0
    assert [p.id for p in crm.parties()] == [host_id] and crm.review_flags() == []
    assert state.link(host_id, "digitalefactuur", Role.DEBTOR) is not None


# -- a relation removed remotely: linked or created again ----------------------------------------


def removed_in_df(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    engine: SyncEngine,
) -> str:
    """A party synced to DF, then removed there by a person: unlinked and flagged."""
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    engine.run()
    df.client.delete_relation(df_record(df_sandbox, "1002")["id"])
    assert engine.run().unlinked == 1
    assert engine.run().created == 0  # held back while flagged
    return host_id


def test_relink_lets_the_next_run_create_a_relation_removed_remotely(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    engine: SyncEngine,
) -> None:
    host_id = removed_in_df(crm, df, df_sandbox, engine)

    assert engine.relink(host_id) == 1
    report = engine.run()  # the flag is still set: the person's call is what counts

    assert report.created == 1 and df_record(df_sandbox, "1002")["naam"] == "Garage De Vries"
    assert engine.relink(host_id) == 0  # nothing held it back any more
    assert engine.run().created == 0
    with pytest.raises(SyncError, match="no party with ID '99'"):
        engine.relink("99")


def test_clearing_the_review_flag_lets_the_next_run_create_it_again(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    engine: SyncEngine,
) -> None:
    host_id = removed_in_df(crm, df, df_sandbox, engine)

    crm.clear_flags(host_id)
    report = engine.run()

    assert report.created == 1 and len(df_sandbox.relations) == 1
    assert engine.run().created == 0


def test_a_cleared_number_seen_by_a_run_then_set_again_is_created_again(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    engine: SyncEngine,
) -> None:
    host_id = removed_in_df(crm, df, df_sandbox, engine)
    party = crm.get(host_id)
    assert party is not None

    crm.save(party.model_copy(update={"debtor_number": None}))
    assert engine.run().created == 0
    crm.save(party.model_copy(update={"debtor_number": "1002"}))
    report = engine.run()

    assert report.created == 1 and [r["relatienummer"] for r in df_sandbox.relations] == ["1002"]
    assert [flag.host_id for flag in crm.review_flags()] == [host_id]  # the host's to clear


# -- settling a conflict left for review ---------------------------------------------------------


def reviewed_conflict(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    state: SqliteStateStore,
) -> tuple[SyncEngine, str]:
    engine = SyncEngine(crm, [df], state=state, policy=ConflictPolicy.REVIEW)
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    engine.run()
    set_email(crm, host_id, "crm@x.nl")
    df_sandbox.edit_relation(df_record(df_sandbox, "1002")["id"], contactpersoon_email="df@x.nl")
    assert engine.run().conflicts == 1
    return engine, host_id


@pytest.mark.parametrize(("keep", "email"), [("host", "crm@x.nl"), (Side.REMOTE, "df@x.nl")])
def test_resolve_settles_a_reviewed_conflict_once_the_way_a_person_chose(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    state: SqliteStateStore,
    keep: str,
    email: str,
) -> None:
    engine, host_id = reviewed_conflict(crm, df, df_sandbox, state)

    assert engine.resolve(host_id, keep=keep) == 1
    report = engine.run()

    [row] = [row for row in report if row.action is Action.CONFLICT]
    assert "settled by a person" in row.reason and row.fields == ("email",)
    assert crm.get(host_id).contact.email == email  # type: ignore[union-attr]
    assert df_record(df_sandbox, "1002")["contactpersoon_email"] == email
    assert (engine.run().conflicts, engine.run().updated) == (0, 0)  # settled for good

    # Once: a later conflict is left for review again.
    set_email(crm, host_id, "crm2@x.nl")
    df_sandbox.edit_relation(df_record(df_sandbox, "1002")["id"], contactpersoon_email="df2@x.nl")
    assert engine.run().conflicts == 1 and engine.run().conflicts == 1
    assert df_record(df_sandbox, "1002")["contactpersoon_email"] == "df2@x.nl"


def test_making_both_sides_equal_settles_a_reviewed_conflict(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    state: SqliteStateStore,
) -> None:
    engine, host_id = reviewed_conflict(crm, df, df_sandbox, state)

    set_email(crm, host_id, "df@x.nl")  # the person takes DF's value in the CRM
    report = engine.run()

    assert (report.conflicts, report.updated, report.failed) == (0, 0, 0)
    assert (engine.run().conflicts, engine.run().unchanged) == (0, 1)


def test_resolve_refuses_what_it_cannot_do(
    crm: SqliteCRM, eb: EBoekhoudenConnector, state: SqliteStateStore
) -> None:
    quiet = EBoekhoudenConnector(eb.books, DEMO_VAT_TABLE, changes_from_remote=False)
    engine = SyncEngine(crm, [quiet], state=state, policy=ConflictPolicy.REVIEW)
    host_id = crm.add(organisation("Garage De Vries", "1002"))
    with pytest.raises(ConfigurationError, match="keep must be 'host' or 'remote'"):
        engine.resolve(host_id, keep="crm")
    with pytest.raises(ConfigurationError, match="no relation changes come from eboekhouden"):
        engine.resolve(host_id, keep="remote")
    with pytest.raises(SyncError, match="no connector named 'df'"):
        engine.resolve(host_id, "df")
    with pytest.raises(SyncError, match="no party with ID '99'"):
        engine.resolve("99")
    assert state.marks("resolve") == {}


# -- a trial on a TrialHost ----------------------------------------------------------------------


def test_a_trial_host_keeps_every_write_in_memory_and_the_engine_reads_them_back(
    crm: SqliteCRM,
    df: DigitaleFactuurConnector,
    df_sandbox: DigitaleFactuurSandbox,
    eb: EBoekhoudenConnector,
    eb_sandbox: EBoekhoudenSandbox,
    state: SqliteStateStore,
) -> None:
    host_id = crm.add(organisation("Garage De Vries", "1001"))
    crm.add_invoice(sales_invoice("F1", "1001"))
    df_sandbox.add_relation(relatienummer="1005", naam="Alleen in DF", plaats="Ede", land="NL")
    before = (crm.changed_parties(None)[1], crm.parties(), crm.invoices_to_book("eboekhouden"))
    trial = TrialHost(crm)
    assert isinstance(trial, ReviewFlagHost) and isinstance(trial, KvKHost)

    report = SyncEngine(trial, [df, eb], state=state).run()

    assert report.failed == 0
    assert (crm.changed_parties(None)[1], crm.parties()) == before[:2]  # the host as it was
    assert crm.invoices_to_book("eboekhouden") == before[2]
    assert crm.booking_reference("eboekhouden", "F1") is None
    assert crm.payment_state("F1") is PaymentState.OPEN
    [(new_id, created)] = trial.created.items()  # from DF, pushed on to e-Boekhouden
    assert new_id == "trial-1" and created.debtor_number == "1005"
    assert {r.code for r in eb_sandbox.relations} == {"1001", "1005"}
    assert [(service, b.invoice_number) for service, b in trial.bookings] == [("eboekhouden", "F1")]
    assert trial.invoices_to_book("eboekhouden") == []  # booked in the trial: not again
    assert "1 party created" in trial.summary() and "1 booking" in trial.summary()
    assert trial.party(host_id) == crm.get(host_id)
