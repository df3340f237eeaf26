"""The KvK flow of the sync engine, against the KvK sandbox and the reference host CRM.

Every linked organisation (a host party with a KvK number) is checked; what
differs is stored in the host as pending for a person, a removal too; an
accepted update is applied, a rejected one is not proposed again until the
register changes it again; the flow keeps its own interval in `run_due`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator

import pytest

from crmconnect import Address, AddressKind, ConfigurationError, Organisation, Person
from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.kvk import (
    REGISTRATION_FIELD,
    KvKClient,
    KvKUpdates,
    UpdateService,
    apply_kvk_update,
)
from crmconnect.sandbox import KvKSandbox
from crmconnect.sync import (
    Action,
    Flow,
    KvKHost,
    SqliteStateStore,
    SyncEngine,
    SyncReport,
)

DAGOBERT, BOLDERBAST, KATRIEN = "69599084", "69599068", "68727720"
NEW_RSIN, LATER_RSIN = "857587973", "857575223"  # Dagobert, an eenmanszaak, has none


@pytest.fixture
def sandbox() -> KvKSandbox:
    return KvKSandbox()


@pytest.fixture
def kvk(sandbox: KvKSandbox) -> Iterator[KvKClient]:
    with KvKClient(environment="test", transport=sandbox.transport()) as client:
        yield client


@pytest.fixture
def crm() -> Iterator[SqliteCRM]:
    with SqliteCRM(":memory:") as host:
        yield host


@pytest.fixture
def linked(crm: SqliteCRM, kvk: KvKClient) -> dict[str, str]:
    """Host IDs by KvK number of organisations filled from the register (nothing differs)."""
    ids = {number: crm.add(kvk.organisation(number)) for number in (DAGOBERT, BOLDERBAST, KATRIEN)}
    crm.add(Organisation(name="Geen KvK BV"))  # not linked: not checked
    crm.add(Person(last_name="Jansen"))  # a person: not checked
    return ids


def engine(
    crm: SqliteCRM,
    kvk: KvKClient,
    interval: dt.timedelta = dt.timedelta(days=1),
    intervals: dict[str, dt.timedelta] | None = None,
) -> SyncEngine:
    flow = KvKUpdates(kvk, interval=interval)
    state = SqliteStateStore(":memory:")
    return SyncEngine(crm, [], state=state, kvk=flow, intervals=intervals)


def kvk_rows(
    report: SyncReport, action: Action | None = None
) -> list[tuple[str | None, tuple[str, ...]]]:
    return [
        (row.number, row.fields)
        for row in report
        if row.service == "kvk" and (action is None or row.action is action)
    ]


def pending(crm: SqliteCRM) -> list[tuple[str, str, object]]:
    return [(u.host_id, u.field, u.kvk_value) for u in crm.pending_kvk_updates()]


def test_the_reference_host_is_a_kvk_host_and_a_plain_host_is_refused(
    crm: SqliteCRM, kvk: KvKClient
) -> None:
    assert isinstance(crm, KvKHost)
    plain = type("Plain", (), {n: getattr(SqliteCRM, n) for n in (
        "changed_parties", "party", "find_by_number", "create_party", "save_party",
        "set_number", "flag_for_review", "invoices_to_book", "record_booking",
        "open_invoices", "record_payment",
    )})()  # fmt: skip
    assert not isinstance(plain, KvKHost)
    with pytest.raises(ConfigurationError, match="KvKHost"):
        SyncEngine(plain, [], state=SqliteStateStore(":memory:"), kvk=KvKUpdates(kvk))
    SyncEngine(plain, [], state=SqliteStateStore(":memory:"))  # without KvK it is a host


def test_a_register_change_becomes_one_pending_update(
    crm: SqliteCRM, kvk: KvKClient, sandbox: KvKSandbox, linked: dict[str, str]
) -> None:
    sync = engine(crm, kvk)
    first = sync.run()
    assert sorted(kvk_rows(first, Action.UNCHANGED)) == sorted((number, ()) for number in linked), (
        "every linked organisation checked, the others not"
    )
    assert pending(crm) == []

    sandbox.update(DAGOBERT, rsin=NEW_RSIN)
    second = sync.run()
    assert kvk_rows(second, Action.PENDING) == [(DAGOBERT, ("rsin",))]
    assert pending(crm) == [(linked[DAGOBERT], "rsin", NEW_RSIN)]
    assert (second.pending, second.created, second.failed) == (1, 0, 0)

    third = sync.run()
    assert kvk_rows(third, Action.PENDING) == [], "still pending: not proposed anew"
    assert third.pending == 0
    assert len(crm.pending_kvk_updates()) == 1


def test_accepting_applies_the_register_value(
    crm: SqliteCRM, kvk: KvKClient, sandbox: KvKSandbox, linked: dict[str, str]
) -> None:
    sync = engine(crm, kvk)
    sandbox.update(DAGOBERT, rsin=NEW_RSIN)
    sync.run()
    _, mark = crm.changed_parties(None)

    crm.accept_kvk_update(linked[DAGOBERT], "rsin")

    org = crm.get(linked[DAGOBERT])
    assert isinstance(org, Organisation) and org.rsin == NEW_RSIN
    assert [p.id for p in crm.changed_parties(mark)[0]] == [linked[DAGOBERT]], "sent on by sync"
    after = sync.run()
    assert pending(crm) == [] and kvk_rows(after, Action.PENDING) == []


def test_an_accepted_address_and_date_arrive_as_model_values(crm: SqliteCRM) -> None:
    host_id = crm.add(Organisation(name="A", kvk_number=DAGOBERT))
    address = Address(
        kind=AddressKind.VISITING, street="Hizzaarderlaan", house_number=3,
        postcode="8823SJ", city="Lollum",
    )  # fmt: skip
    crm.store_kvk_update(host_id, "visiting_address", None, address)
    crm.store_kvk_update(host_id, "registration_date", None, dt.date(2014, 2, 10))
    crm.accept_kvk_update(host_id, "visiting_address")
    crm.accept_kvk_update(host_id, "registration_date")
    org = crm.get(host_id)
    assert isinstance(org, Organisation)
    assert org.visiting_address == address
    assert org.registration_date == dt.date(2014, 2, 10)


def test_a_value_the_model_refuses_stays_pending(crm: SqliteCRM) -> None:
    from crmconnect import ValidationError

    host_id = crm.add(Organisation(name="A", kvk_number=DAGOBERT))
    crm.store_kvk_update(host_id, "rsin", None, "12")
    with pytest.raises(ValidationError) as refused:
        crm.accept_kvk_update(host_id, "rsin")
    assert refused.value.field == "rsin"
    assert pending(crm) == [(host_id, "rsin", "12")]
    with pytest.raises(ValidationError) as unknown:
        apply_kvk_update(Organisation(name="A"), "colour", "blue")
    assert (unknown.value.field, unknown.value.value) == ("field", "colour")


def test_a_rejected_change_is_not_proposed_again_until_kvk_changes_it(
    crm: SqliteCRM, kvk: KvKClient, sandbox: KvKSandbox, linked: dict[str, str]
) -> None:
    sync = engine(crm, kvk)
    sandbox.update(DAGOBERT, rsin=NEW_RSIN)
    sync.run()
    crm.reject_kvk_update(linked[DAGOBERT], "rsin")

    again = sync.run()
    assert pending(crm) == [] and kvk_rows(again, Action.PENDING) == []
    org = crm.get(linked[DAGOBERT])
    assert isinstance(org, Organisation) and org.rsin != NEW_RSIN, "rejected: not applied"

    sandbox.update(DAGOBERT, rsin=LATER_RSIN)
    changed = sync.run()
    assert kvk_rows(changed, Action.PENDING) == [(DAGOBERT, ("rsin",))]
    assert pending(crm) == [(linked[DAGOBERT], "rsin", LATER_RSIN)]


def test_deregistration_and_removal_become_pending_removals(
    crm: SqliteCRM, kvk: KvKClient, sandbox: KvKSandbox, linked: dict[str, str]
) -> None:
    sync = engine(crm, kvk)
    sandbox.deregister(BOLDERBAST, dt.date(2026, 1, 31))
    sandbox.remove(KATRIEN)

    report = sync.run()

    rows = dict(kvk_rows(report, Action.PENDING))
    assert rows == {BOLDERBAST: (REGISTRATION_FIELD,), KATRIEN: (REGISTRATION_FIELD,)}
    assert sorted(pending(crm)) == sorted([
        (linked[BOLDERBAST], REGISTRATION_FIELD, {"status": "ended", "end_date": "2026-01-31"}),
        (linked[KATRIEN], REGISTRATION_FIELD, {"status": "removed"}),
    ])  # fmt: skip
    assert kvk_rows(sync.run(), Action.PENDING) == [], "pending: not proposed anew"

    crm.accept_kvk_update(linked[BOLDERBAST], REGISTRATION_FIELD)
    ended = crm.get(linked[BOLDERBAST])
    assert isinstance(ended, Organisation) and ended.end_date == dt.date(2026, 1, 31)
    assert ended.kvk_number == BOLDERBAST, "an ended registration stays linked"
    later = sync.run()
    assert kvk_rows(later, Action.PENDING) == [] and len(kvk_rows(later)) == 3


def test_a_removal_accepted_unlinks_and_one_rejected_is_not_proposed_again(
    crm: SqliteCRM, kvk: KvKClient, sandbox: KvKSandbox, linked: dict[str, str]
) -> None:
    sync = engine(crm, kvk)
    sandbox.remove(KATRIEN)
    sandbox.remove(BOLDERBAST)
    sync.run()

    crm.reject_kvk_update(linked[KATRIEN], REGISTRATION_FIELD)  # a person keeps the link
    crm.accept_kvk_update(linked[BOLDERBAST], REGISTRATION_FIELD)

    unlinked = crm.get(linked[BOLDERBAST])
    assert isinstance(unlinked, Organisation) and unlinked.kvk_number is None
    later = sync.run()
    assert pending(crm) == [] and kvk_rows(later, Action.PENDING) == []
    assert {number for number, _ in kvk_rows(later)} == {DAGOBERT, KATRIEN}, "unlinked: not checked"


def test_a_kvk_failure_for_one_organisation_stops_no_other(
    crm: SqliteCRM, sandbox: KvKSandbox, linked: dict[str, str]
) -> None:
    secret = "kvk-secret-key-1234567890"
    sandbox.api_keys = frozenset({secret})
    kvk = KvKClient(api_key=secret, environment="test", transport=sandbox.transport())
    sync = engine(crm, kvk)
    sandbox.update(DAGOBERT, rsin=NEW_RSIN)
    sandbox.faults.fail_next(20, "503", path_prefix=f"/test/api/v1/basisprofielen/{BOLDERBAST}")

    report = sync.run()

    failed = [row for row in report if row.action is Action.FAILED]
    assert [(row.service, row.number, row.host_id) for row in failed] == [
        ("kvk", BOLDERBAST, linked[BOLDERBAST])
    ]
    assert "ServerError" in failed[0].reason
    assert secret not in failed[0].reason
    assert kvk_rows(report, Action.PENDING) == [(DAGOBERT, ("rsin",))]
    assert sync.state.runs()[-1].status == "failed", "the run says a record failed"
    sandbox.faults.clear()

    retried = sync.run()
    assert kvk_rows(retried, Action.FAILED) == [], "checked again next run"


@pytest.mark.parametrize(
    ("interval", "due_after"),
    [(dt.timedelta(hours=1), dt.timedelta(hours=1)), (dt.timedelta(days=1), dt.timedelta(days=1))],
)
def test_run_due_runs_the_kvk_flow_once_per_interval(
    crm: SqliteCRM,
    kvk: KvKClient,
    sandbox: KvKSandbox,
    linked: dict[str, str],
    interval: dt.timedelta,
    due_after: dt.timedelta,
) -> None:
    sync = engine(crm, kvk, interval=interval)
    now = dt.datetime.now(dt.UTC)

    assert len(kvk_rows(sync.run_due(now))) == len(linked)
    assert kvk_rows(sync.run_due(now + dt.timedelta(minutes=30))) == []
    if interval > dt.timedelta(hours=1):
        assert kvk_rows(sync.run_due(now + dt.timedelta(hours=2))) == [], "daily: not hourly"
    assert kvk_rows(sync.run_due(now + due_after - dt.timedelta(minutes=1))) == []
    assert len(kvk_rows(sync.run_due(now + due_after + dt.timedelta(minutes=1)))) == len(linked)


def test_the_engine_intervals_override_the_flows_own(
    crm: SqliteCRM, kvk: KvKClient, linked: dict[str, str]
) -> None:
    sync = engine(crm, kvk, interval=dt.timedelta(days=1), intervals={"kvk": dt.timedelta(hours=1)})
    assert sync.intervals[Flow.KVK] == dt.timedelta(hours=1)
    now = dt.datetime.now(dt.UTC)
    sync.run_due(now)
    assert len(kvk_rows(sync.run_due(now + dt.timedelta(minutes=61)))) == len(linked)


def test_without_a_kvk_flow_run_due_records_no_kvk_runs(crm: SqliteCRM) -> None:
    sync = SyncEngine(crm, [], state=SqliteStateStore(":memory:"))
    sync.run_due()
    assert "kvk" not in {run.flow for run in sync.state.runs()}


def test_kvk_updates_refuses_bad_settings(kvk: KvKClient) -> None:
    with pytest.raises(ConfigurationError, match="interval"):
        KvKUpdates(kvk, interval=dt.timedelta(0))
    with pytest.raises(ConfigurationError, match="workers"):
        KvKUpdates(kvk, workers=0)
    with pytest.raises(ConfigurationError, match="UpdateService or KvKClient"):
        KvKUpdates("kvk")  # type: ignore[arg-type]
    assert KvKUpdates(UpdateService(kvk)).interval == dt.timedelta(days=1)


class LockedForOne(SqliteCRM):
    """A host whose database refuses KvK updates of one party (a lock, a full disk)."""

    locked: str = ""

    def store_kvk_update(
        self, host_id: str, field: str, crm_value: object, kvk_value: object
    ) -> bool:
        if host_id == self.locked:
            raise sqlite3.OperationalError("database is locked")
        return super().store_kvk_update(host_id, field, crm_value, kvk_value)


def test_a_host_failure_for_one_organisation_stops_no_other(
    kvk: KvKClient, sandbox: KvKSandbox
) -> None:
    crm = LockedForOne(":memory:")
    with crm:
        ids = {number: crm.add(kvk.organisation(number)) for number in (DAGOBERT, KATRIEN)}
        crm.locked = ids[DAGOBERT]
        sandbox.update(DAGOBERT, rsin=NEW_RSIN)
        sandbox.remove(KATRIEN)

        report = engine(crm, kvk).run()

        assert kvk_rows(report, Action.PENDING) == [(KATRIEN, (REGISTRATION_FIELD,))]
        failed = [row for row in report if row.action is Action.FAILED]
        assert [row.number for row in failed] == [DAGOBERT]
        assert "database is locked" in failed[0].reason


def test_run_of_the_kvk_flow_alone_counts_for_run_due(
    crm: SqliteCRM, kvk: KvKClient, linked: dict[str, str]
) -> None:
    sync = engine(crm, kvk)
    assert len(kvk_rows(sync.run("kvk"))) == len(linked)
    assert [run.flow for run in sync.state.runs()] == ["kvk"]
    assert sync.plan("kvk").changes == (), "a dry run asks KvK nothing"
    assert kvk_rows(sync.run_due()) == [], "checked just now"
