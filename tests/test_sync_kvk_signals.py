"""The KvK flow of the sync engine on Mutatieservice signals, against the KvK sandbox.

The first run checks every linked organisation and starts a signal bookmark in
the engine's state store; later runs read the new signals and check only the
organisations they name (one paid call each), store a signalled end of
registration as a pending removal without a paid call, handle no signal twice,
and pick up where the last run stopped, also from another engine on the same
state file.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from crmconnect import ConfigurationError, Organisation
from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.kvk import (
    REGISTRATION_FIELD,
    SIGNAL_BOOKMARK,
    KvKClient,
    KvKUpdates,
    SignalBookmark,
    SignalUpdateService,
    apply_kvk_update,
)
from crmconnect.sandbox import TEST_API_KEY, KvKSandbox, SignalFeed
from crmconnect.sync import Action, SqliteStateStore, SyncEngine, SyncReport
from tests.conftest import Clock

DAGOBERT, BOLDERBAST, KATRIEN = "69599084", "69599068", "68727720"
NEW_RSIN = "857587973"
T0 = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
SUBSCRIPTION = SignalFeed.subscription_id(TEST_API_KEY)
BOOKMARK = f"{SIGNAL_BOOKMARK}:{SUBSCRIPTION}"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def sandbox(clock: Clock) -> KvKSandbox:
    sandbox = KvKSandbox()
    sandbox.signals.clock = clock
    return sandbox


@pytest.fixture
def kvk(sandbox: KvKSandbox) -> Iterator[KvKClient]:
    with KvKClient(environment="test", transport=sandbox.transport(), max_retries=0) as client:
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
    kvk.usage.profile_calls = 0
    return ids


def on_signals(kvk: KvKClient, clock: Clock) -> KvKUpdates:
    return KvKUpdates(kvk, signals=SignalUpdateService(kvk, clock=clock))


def engine(
    crm: SqliteCRM, kvk: KvKClient, clock: Clock, state: str | Path = ":memory:"
) -> SyncEngine:
    return SyncEngine(crm, [], state=SqliteStateStore(state), kvk=on_signals(kvk, clock))


def kvk_rows(report: SyncReport) -> list[tuple[str | None, Action, tuple[str, ...]]]:
    return sorted((row.number, row.action, row.fields) for row in report if row.service == "kvk")


def paid(kvk: KvKClient) -> int:
    """The paid calls since the last look (the counter is reset)."""
    calls, kvk.usage.profile_calls = kvk.usage.profile_calls, 0
    return calls


def test_the_first_run_checks_all_and_the_next_only_what_a_signal_names(
    crm: SqliteCRM, kvk: KvKClient, sandbox: KvKSandbox, clock: Clock, linked: dict[str, str]
) -> None:
    sync = engine(crm, kvk, clock)
    first = sync.run("kvk")
    assert kvk_rows(first) == sorted((n, Action.UNCHANGED, ()) for n in linked)
    assert paid(kvk) == 3, "no bookmark yet: every linked organisation checked"
    stored = sync.state.bookmark(BOOKMARK)
    assert stored is not None and SignalBookmark.loads(stored).until == T0

    clock.tick(hours=3)
    sandbox.update(DAGOBERT, rsin=NEW_RSIN)
    clock.tick(hours=21)
    second = sync.run("kvk")
    assert kvk_rows(second) == [(DAGOBERT, Action.PENDING, ("rsin",))], "only the signalled one"
    assert paid(kvk) == 1, "one Basisprofiel: the changed organisation's"
    assert [(u.host_id, u.field, u.kvk_value) for u in crm.pending_kvk_updates()] == [
        (linked[DAGOBERT], "rsin", NEW_RSIN)
    ]

    clock.tick(minutes=10)  # the next window overlaps the last: its signal is read again
    third = sync.run("kvk")
    assert kvk_rows(third) == [] and paid(kvk) == 0, "no signal handled twice"
    assert sync.state.runs()[-1].status == "ok"


def test_a_signalled_deregistration_is_a_pending_removal_without_a_paid_call(
    crm: SqliteCRM, kvk: KvKClient, sandbox: KvKSandbox, clock: Clock, linked: dict[str, str]
) -> None:
    sync = engine(crm, kvk, clock)
    sync.run("kvk")
    paid(kvk)
    clock.tick(hours=1)
    sandbox.deregister(BOLDERBAST, dt.date(2026, 3, 1))
    clock.tick(hours=1)

    report = sync.run("kvk")

    assert kvk_rows(report) == [(BOLDERBAST, Action.PENDING, (REGISTRATION_FIELD,))]
    (row,) = [row for row in report if row.service == "kvk"]
    assert "SignaalBeeindiging" in row.reason
    assert paid(kvk) == 0
    (update,) = crm.pending_kvk_updates()
    assert (update.host_id, update.field) == (linked[BOLDERBAST], REGISTRATION_FIELD)
    assert update.kvk_value == {"status": "ended"}, "a signal gives no end date"
    assert kvk_rows(sync.run("kvk")) == [], "handled once"

    crm.accept_kvk_update(linked[BOLDERBAST], REGISTRATION_FIELD)
    accepted = crm.get(linked[BOLDERBAST])
    assert isinstance(accepted, Organisation) and accepted.kvk_number == BOLDERBAST
    assert crm.pending_kvk_updates() == []


def test_a_dateless_removal_keeps_the_end_date_a_record_has() -> None:
    org = Organisation(name="A", kvk_number=BOLDERBAST, end_date=dt.date(2026, 1, 31))
    assert apply_kvk_update(org, REGISTRATION_FIELD, {"status": "ended"}) == org
    dated = apply_kvk_update(org, REGISTRATION_FIELD, {"status": "ended", "end_date": "2026-02-28"})
    assert dated.end_date == dt.date(2026, 2, 28)


def test_the_bookmark_outlives_the_engine_in_a_state_file(
    crm: SqliteCRM,
    kvk: KvKClient,
    sandbox: KvKSandbox,
    clock: Clock,
    linked: dict[str, str],
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite"
    first = engine(crm, kvk, clock, path)
    first.run("kvk")
    first.state.close()
    assert paid(kvk) == 3
    clock.tick(hours=2)
    sandbox.update(KATRIEN, rsin=NEW_RSIN)
    clock.tick(hours=22)

    later = engine(crm, kvk, clock, path)  # another process, the next day
    report = later.run("kvk")
    assert kvk_rows(report) == [(KATRIEN, Action.PENDING, ("rsin",))]
    assert paid(kvk) == 1, "the stored bookmark: no full check again"
    stored = later.state.bookmark(BOOKMARK)
    assert stored is not None and SignalBookmark.loads(stored).until > T0 + dt.timedelta(hours=23)
    later.state.close()


def test_a_subscription_id_alone_drives_the_flow(
    crm: SqliteCRM, kvk: KvKClient, sandbox: KvKSandbox, linked: dict[str, str]
) -> None:
    sandbox.signals.clock = lambda: dt.datetime.now(dt.UTC)  # the flow's own clock: now
    flow = KvKUpdates(kvk, signals=SUBSCRIPTION)
    assert flow.signal_bookmark_name == BOOKMARK
    sync = SyncEngine(crm, [], state=SqliteStateStore(":memory:"), kvk=flow)
    sync.run("kvk")
    sandbox.update(DAGOBERT, rsin=NEW_RSIN)
    paid(kvk)
    assert kvk_rows(sync.run("kvk")) == [(DAGOBERT, Action.PENDING, ("rsin",))]
    assert paid(kvk) == 1


class LockedForOne(SqliteCRM):
    """A host whose database refuses KvK updates of one party for a while."""

    locked: str = ""

    def store_kvk_update(
        self, host_id: str, field: str, crm_value: object, kvk_value: object
    ) -> bool:
        if host_id == self.locked:
            raise sqlite3.OperationalError("database is locked")
        return super().store_kvk_update(host_id, field, crm_value, kvk_value)


def test_a_record_the_host_could_not_store_is_checked_again_next_run(
    kvk: KvKClient, sandbox: KvKSandbox, clock: Clock
) -> None:
    crm = LockedForOne(":memory:")
    with crm:
        ids = {number: crm.add(kvk.organisation(number)) for number in (DAGOBERT, KATRIEN)}
        sync = engine(crm, kvk, clock)
        sync.run("kvk")
        clock.tick(hours=1)
        sandbox.update(DAGOBERT, rsin=NEW_RSIN)
        crm.locked = ids[DAGOBERT]
        clock.tick(hours=1)

        failed = sync.run("kvk")
        assert kvk_rows(failed) == [(DAGOBERT, Action.FAILED, ())]
        assert "database is locked" in next(r.reason for r in failed if r.service == "kvk")

        crm.locked = ""
        clock.tick(hours=5)  # past the overlap: the signal is not read again, the retry is
        retried = sync.run("kvk")
        assert kvk_rows(retried) == [(DAGOBERT, Action.PENDING, ("rsin",))]
        assert kvk_rows(sync.run("kvk")) == [], "retried once"


def test_a_flow_written_without_state_still_runs(crm: SqliteCRM, kvk: KvKClient) -> None:
    class OldFlow:
        service = "kvk"
        interval = dt.timedelta(days=1)
        ran = 0

        def run(self, host: object, report: SyncReport) -> None:
            self.ran += 1

    old = OldFlow()
    state = SqliteStateStore(":memory:")
    SyncEngine(crm, [], state=state, kvk=old).run("kvk")  # type: ignore[arg-type]  # old shape
    assert old.ran == 1


def test_signals_need_a_state_store_and_a_subscription(
    crm: SqliteCRM, kvk: KvKClient, clock: Clock
) -> None:
    flow = on_signals(kvk, clock)
    with pytest.raises(ConfigurationError, match="state store"):
        flow.run(crm, SyncReport())
    for wrong in ("", 42):
        with pytest.raises(ConfigurationError, match="subscription id or a SignalUpdateService"):
            KvKUpdates(kvk, signals=wrong)  # type: ignore[arg-type]
    assert KvKUpdates(kvk).signal_bookmark_name is None
    assert "signals=SignalUpdateService(" in repr(flow)
