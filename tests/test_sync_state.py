"""The state store: a conformance suite any `StateStore` must pass, and SQLite's own checks.

`StateStoreContract` is the suite. A store implementation runs it by
subclassing it with an ``open_store`` fixture that returns a factory: each
call opens a new handle on one fresh, empty store (the same store on every
call when ``SHARED`` is true), e.g. for a PostgreSQL store::

    class TestPostgresStateStore(StateStoreContract):
        @pytest.fixture
        def open_store(self, postgres_url):
            return lambda: PostgresStateStore(postgres_url)

Below it runs against `SqliteStateStore` on a file and in memory, then the
SQLite specifics: WAL, the schema version, SIGKILL between intent and link,
and two processes writing at once.
"""

from __future__ import annotations

import datetime as dt
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from crmconnect.errors import ConfigurationError, CrmConnectError, SyncError, ValidationError
from crmconnect.sync import Intent, Link, Role, RunRecord, SqliteStateStore, StateStore
from crmconnect.sync._state import SCHEMA_VERSION
from tests.test_sync_report import docstring_example, run

OpenStore = Callable[[], StateStore]

DF = "digitalefactuur"
EB = "eboekhouden"
SYNCED = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)


def a_link(
    host_id: str = "42", *, service: str = DF, role: Role = Role.DEBTOR, **changes: Any
) -> Link:
    fields: dict[str, Any] = {
        "remote_id": f"r{host_id}",
        "number": "1001",
        "host_values": {"name": "Bakkerij de Korenbloem", "city": "Lollum", "email": None},
        "remote_values": {"name": "Bakkerij de Korenbloem", "city": "LOLLUM", "email": None},
        "synced_at": SYNCED,
    }
    fields.update(changes)
    return Link(host_id, service, role, **fields)


class StateStoreContract:
    """What every `StateStore` does; subclass with an ``open_store`` fixture."""

    SHARED = True
    """Whether two handles from ``open_store`` see one store (not so for ``:memory:``)."""

    @pytest.fixture
    def store(self, open_store: OpenStore) -> Iterator[StateStore]:
        store = open_store()
        yield store
        store.close()

    def second_handle(self, open_store: OpenStore) -> StateStore:
        if not self.SHARED:
            pytest.skip("each handle of this store is a store of its own")
        return open_store()

    # -- the protocol --------------------------------------------------------------------

    def test_is_a_state_store(self, store: StateStore) -> None:
        assert isinstance(store, StateStore)

    def test_a_fresh_store_is_empty(self, store: StateStore) -> None:
        assert store.link("42", DF, Role.DEBTOR) is None
        assert store.link_by_remote(DF, Role.DEBTOR, "r42") is None
        assert list(store.links(DF)) == []
        assert store.bookmark("host") is None
        assert list(store.intents(DF)) == []
        assert list(store.runs()) == []

    # -- links ---------------------------------------------------------------------------

    def test_a_saved_link_reads_back_whole(self, store: StateStore) -> None:
        link = a_link()
        store.save_link(link)
        assert store.link("42", DF, Role.DEBTOR) == link
        assert store.link_by_remote(DF, Role.DEBTOR, "r42") == link
        assert list(store.links(DF)) == [link]

    def test_values_keep_none_empty_and_any_text(self, store: StateStore) -> None:
        values = {"name": "Café “Zuid” — 's-Hertogenbosch", "city": None, "fax": "", "x": "a\nb"}
        store.save_link(a_link(host_values=values, remote_values={}))
        found = store.link("42", DF, Role.DEBTOR)
        assert found is not None
        assert dict(found.host_values) == values
        assert dict(found.remote_values) == {}

    def test_synced_at_defaults_to_the_time_of_saving(self, store: StateStore) -> None:
        before = dt.datetime.now(dt.UTC)
        store.save_link(a_link(synced_at=None))
        found = store.link("42", DF, Role.DEBTOR)
        assert found is not None and found.synced_at is not None
        assert before <= found.synced_at <= dt.datetime.now(dt.UTC)

    def test_synced_at_in_another_zone_is_the_same_moment(self, store: StateStore) -> None:
        amsterdam = dt.timezone(dt.timedelta(hours=2))
        synced = dt.datetime(2026, 6, 1, 14, 0, tzinfo=amsterdam)
        store.save_link(a_link(synced_at=synced))
        found = store.link("42", DF, Role.DEBTOR)
        assert found is not None and found.synced_at == synced

    def test_saving_again_replaces_the_link(self, store: StateStore) -> None:
        store.save_link(a_link())
        newer = a_link(number="1009", remote_values={"name": "Korenbloem BV"})
        store.save_link(newer)
        found = store.link("42", DF, Role.DEBTOR)
        assert found is not None
        assert (found.number, dict(found.remote_values)) == ("1009", {"name": "Korenbloem BV"})
        assert len(store.links(DF)) == 1

    def test_links_are_per_host_record_service_and_role(self, store: StateStore) -> None:
        debtor = a_link("42", role=Role.DEBTOR, remote_id="7", number="1001")
        creditor = a_link("42", role=Role.CREDITOR, remote_id="8", number="2001")
        elsewhere = a_link("42", service=EB, remote_id="7", number="1001")
        for link in (debtor, creditor, elsewhere):
            store.save_link(link)
        assert store.link("42", DF, Role.DEBTOR) == debtor
        assert store.link("42", DF, Role.CREDITOR) == creditor
        assert store.link("42", EB, Role.DEBTOR) == elsewhere
        assert store.link_by_remote(DF, Role.CREDITOR, "8") == creditor
        assert store.link_by_remote(DF, Role.CREDITOR, "7") is None
        assert sorted(link.role for link in store.links(DF)) == [Role.CREDITOR, Role.DEBTOR]
        assert list(store.links(EB)) == [elsewhere]

    def test_a_link_without_remote_id_is_not_found_by_remote(self, store: StateStore) -> None:
        store.save_link(a_link("42", remote_id=None))
        store.save_link(a_link("43", remote_id=None))
        assert len(store.links(DF)) == 2
        assert store.link_by_remote(DF, Role.DEBTOR, "None") is None

    def test_one_remote_record_links_to_one_host_record(self, store: StateStore) -> None:
        store.save_link(a_link("42", remote_id="7"))
        with pytest.raises(ValidationError) as caught:
            store.save_link(a_link("43", remote_id="7"))
        assert caught.value.field == "remote_id"
        assert caught.value.value == "7"
        assert "42" in caught.value.reason
        assert store.link("43", DF, Role.DEBTOR) is None
        found = store.link_by_remote(DF, Role.DEBTOR, "7")
        assert found is not None and found.host_id == "42"

    def test_remote_digests_are_stored_for_the_links_as_read(self, store: StateStore) -> None:
        first, second, third = a_link("1"), a_link("2"), a_link("3", remote_digest="old")
        for link in (first, second, third):
            store.save_link(link)
        rewritten = attrs.evolve(second, remote_values={"name": "Nieuw"}, synced_at=None)
        store.save_link(rewritten)  # written since it was read: its digest is not set
        store.set_remote_digests([(first, "d1"), (second, "d2"), (third, "d3")])
        digests = {link.host_id: link.remote_digest for link in store.links(DF)}
        assert digests == {"1": "d1", "2": None, "3": "d3"}
        assert store.link("1", DF, Role.DEBTOR) == attrs.evolve(first, remote_digest="d1")
        store.save_link(attrs.evolve(first, remote_values={"name": "Anders"}))
        saved = store.link("1", DF, Role.DEBTOR)
        assert saved is not None and saved.remote_digest is None  # a save says what it knows

    def test_remove_link(self, store: StateStore) -> None:
        store.save_link(a_link("42"))
        store.save_link(a_link("42", role=Role.CREDITOR, remote_id="c42"))
        store.remove_link("42", DF, Role.DEBTOR)
        store.remove_link("42", DF, Role.DEBTOR)  # gone already: no error
        assert store.link("42", DF, Role.DEBTOR) is None
        assert store.link_by_remote(DF, Role.DEBTOR, "r42") is None
        assert store.link("42", DF, Role.CREDITOR) is not None

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"host_values": {"name": 5}}, "host_values.name"),
            ({"remote_values": {"iban": b"NL91"}}, "remote_values.iban"),
            ({"synced_at": dt.datetime(2026, 1, 1)}, "synced_at"),
            ({"number": ""}, "number"),
        ],
    )
    def test_a_bad_link_is_refused_naming_the_field(
        self, store: StateStore, changes: dict[str, Any], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            store.save_link(a_link(**changes))
        assert caught.value.field == field
        assert store.link("42", DF, Role.DEBTOR) is None

    def test_an_unknown_role_is_refused(self, store: StateStore) -> None:
        with pytest.raises(ValidationError) as caught:
            store.save_link(Link("42", DF, "customer", "r42", "1001"))  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.value) == ("role", "customer")

    # -- bookmarks -----------------------------------------------------------------------

    def test_bookmarks(self, store: StateStore) -> None:
        store.set_bookmark("host", "2026-03-01T12:00:00")
        store.set_bookmark("other", "")
        store.set_bookmark("host", "2026-03-02T08:00:00")
        assert store.bookmark("host") == "2026-03-02T08:00:00"
        assert store.bookmark("other") == ""
        assert store.bookmark("missing") is None

    # -- marks ---------------------------------------------------------------------------

    def test_marks_are_kept_per_kind_and_key(self, store: StateStore) -> None:
        store.set_mark("retry", "df/42", "")
        store.set_mark("removed", "df/42", "1001")
        store.set_mark("removed", "df/42", "1002")
        assert store.mark("retry", "df/42") == ""
        assert store.mark("removed", "df/42") == "1002"
        assert store.mark("removed", "df/43") is None
        assert store.mark("payment", "df/42") is None

    def test_marks_list_by_prefix_and_none_removes(self, store: StateStore) -> None:
        store.set_marks("retry", {"df/1": "", "df/2": "", "dfx/3": "", "eb/1": ""})
        assert dict(store.marks("retry", "df/")) == {"df/1": "", "df/2": ""}
        assert set(store.marks("retry")) == {"df/1", "df/2", "dfx/3", "eb/1"}
        store.set_marks("retry", {"df/1": None, "df/9": None, "eb/2": ""})
        assert set(store.marks("retry")) == {"df/2", "dfx/3", "eb/1", "eb/2"}
        assert dict(store.marks("other")) == {}

    def test_marks_keep_any_text(self, store: StateStore) -> None:
        store.set_mark("payment", "df/1001/F%_1", "partly_paid|12.50 ✓")
        assert dict(store.marks("payment", "df/1001/F%")) == {"df/1001/F%_1": "partly_paid|12.50 ✓"}
        assert dict(store.marks("payment", "df/1001/Fx")) == {}

    @pytest.mark.parametrize(("kind", "key", "value", "field"), [
        ("", "k", "v", "kind"), ("retry", "", "v", "key"), ("retry", "k", 3, "marks.k"),
    ])  # fmt: skip
    def test_a_bad_mark_is_refused_naming_the_field(
        self, store: StateStore, kind: str, key: str, value: Any, field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            store.set_mark(kind, key, value)
        assert caught.value.field == field
        assert dict(store.marks("retry")) == {}

    # -- the lease -----------------------------------------------------------------------

    def test_one_owner_holds_the_lease_until_released(self, store: StateStore) -> None:
        ttl = dt.timedelta(minutes=5)
        assert store.acquire_lease("a", ttl)
        assert store.acquire_lease("a", ttl)  # renewed
        assert not store.acquire_lease("b", ttl)
        store.release_lease("b")  # not b's: nothing happens
        assert not store.acquire_lease("b", ttl)
        store.release_lease("a")
        assert store.acquire_lease("b", ttl)
        assert not store.acquire_lease("a", ttl)

    def test_the_lease_holder_is_known_until_released_or_expired(self, store: StateStore) -> None:
        assert store.lease_holder() is None
        assert store.acquire_lease("a", dt.timedelta(minutes=5))
        assert store.lease_holder() == "a"
        store.release_lease("a")
        assert store.lease_holder() is None
        assert store.acquire_lease("b", dt.timedelta(milliseconds=50))
        time.sleep(0.1)
        assert store.lease_holder() is None

    def test_an_expired_lease_is_taken_over(self, store: StateStore) -> None:
        assert store.acquire_lease("dead", dt.timedelta(milliseconds=50))
        time.sleep(0.1)
        assert store.acquire_lease("b", dt.timedelta(minutes=5))
        assert not store.acquire_lease("dead", dt.timedelta(minutes=5))

    def test_the_lease_holds_across_handles(self, store: StateStore, open_store: OpenStore) -> None:
        other = self.second_handle(open_store)
        try:
            assert store.acquire_lease("a", dt.timedelta(minutes=5))
            assert not other.acquire_lease("b", dt.timedelta(minutes=5))
            store.release_lease("a")
            assert other.acquire_lease("b", dt.timedelta(minutes=5))
        finally:
            other.close()

    def test_a_bad_lease_is_refused(self, store: StateStore) -> None:
        with pytest.raises(ValidationError) as caught:
            store.acquire_lease("a", dt.timedelta(0))
        assert caught.value.field == "ttl"
        with pytest.raises(ValidationError) as caught:
            store.acquire_lease("", dt.timedelta(minutes=1))
        assert caught.value.field == "owner"

    # -- intents -------------------------------------------------------------------------

    def test_an_intent_is_kept_until_finished(self, store: StateStore) -> None:
        before = dt.datetime.now(dt.UTC)
        intent = store.add_intent(DF, "create_relation", "1001", host_id="42", role=Role.DEBTOR)
        assert (intent.service, intent.kind, intent.key) == (DF, "create_relation", "1001")
        assert (intent.host_id, intent.role) == ("42", Role.DEBTOR)
        assert before <= intent.created_at <= dt.datetime.now(dt.UTC)
        assert list(store.intents(DF)) == [intent]
        assert list(store.intents(EB)) == []

    def test_intents_come_oldest_first(self, store: StateStore) -> None:
        keys = ["1003", "1001", "F2026-7", "1002"]
        for key in keys:
            store.add_intent(DF, "create_relation", key, host_id=None, role=None)
        store.add_intent(EB, "book_invoice", "F2026-1", host_id=None, role=None)
        found = store.intents(DF)
        assert [intent.key for intent in found] == keys
        assert len({intent.intent_id for intent in found}) == len(keys)

    def test_finish_intent_drops_it_and_saves_the_link(self, store: StateStore) -> None:
        intent = store.add_intent(DF, "create_relation", "1001", host_id="42", role=Role.DEBTOR)
        other = store.add_intent(DF, "create_relation", "1002", host_id="43", role=Role.DEBTOR)
        link = a_link("42")
        store.finish_intent(intent.intent_id, link)
        assert list(store.intents(DF)) == [other]
        assert store.link("42", DF, Role.DEBTOR) == store.link_by_remote(DF, Role.DEBTOR, "r42")
        found = store.link("42", DF, Role.DEBTOR)
        assert found is not None and found.remote_values == link.remote_values

    def test_finish_intent_without_link(self, store: StateStore) -> None:
        intent = store.add_intent(EB, "book_invoice", "F2026-1", host_id=None, role=None)
        store.finish_intent(intent.intent_id)
        assert list(store.intents(EB)) == []
        assert list(store.links(EB)) == []

    def test_finishing_an_unknown_intent_saves_nothing(self, store: StateStore) -> None:
        intent = store.add_intent(DF, "create_relation", "1001", host_id="42", role=Role.DEBTOR)
        store.finish_intent(intent.intent_id, a_link("42"))
        with pytest.raises(ValidationError) as caught:
            store.finish_intent(intent.intent_id, a_link("43", remote_id="r43"))
        assert (caught.value.field, caught.value.value) == ("intent_id", intent.intent_id)
        assert store.link("43", DF, Role.DEBTOR) is None

    def test_a_refused_link_leaves_the_intent(self, store: StateStore) -> None:
        # One transaction: when the link cannot be saved, the intent is not dropped either.
        store.save_link(a_link("42", remote_id="7"))
        intent = store.add_intent(DF, "create_relation", "1002", host_id="43", role=Role.DEBTOR)
        with pytest.raises(ValidationError):
            store.finish_intent(intent.intent_id, a_link("43", remote_id="7"))
        assert list(store.intents(DF)) == [intent]
        assert store.link("43", DF, Role.DEBTOR) is None

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("service", ""),
            ("kind", ""),
            ("key", ""),
            ("host_id", ""),
            ("host_id", 42),
            ("role", "klant"),
        ],
    )
    def test_a_bad_intent_is_refused_naming_the_field(
        self, store: StateStore, field: str, value: Any
    ) -> None:
        given: dict[str, Any] = {
            "service": DF,
            "kind": "create_relation",
            "key": "1001",
            "host_id": None,
            "role": None,
        }
        with pytest.raises(ValidationError) as caught:
            store.add_intent(**given | {field: value})
        assert (caught.value.field, caught.value.value) == (field, value)
        assert list(store.intents(DF)) == []

    # -- runs ----------------------------------------------------------------------------

    def test_a_run_is_recorded_from_start_to_end(self, store: StateStore) -> None:
        run = store.start_run("relations")
        assert (run.flow, run.status, run.ended) == ("relations", "running", None)
        assert list(store.runs()) == [run]
        counts = {"created": 3, "updated": 1, "failed": 1}
        failures = [("digitalefactuur/debtor/1004", "HTTP 503 Service Unavailable")]
        store.end_run(run.run_id, "failed", counts, failures)
        (ended,) = store.runs()
        assert (ended.run_id, ended.flow, ended.started) == (run.run_id, "relations", run.started)
        assert ended.ended is not None and ended.ended >= run.started
        assert (ended.status, dict(ended.counts)) == ("failed", counts)
        assert [tuple(failure) for failure in ended.failures] == failures

    def test_starting_a_run_abandons_those_left_running(self, store: StateStore) -> None:
        crashed = store.start_run("relations")
        finished = store.start_run("payments")
        store.end_run(finished.run_id, "ok", {}, [])
        current = store.start_run("relations")
        statuses = {run.run_id: (run.status, run.ended) for run in store.runs()}
        assert statuses[crashed.run_id] == ("abandoned", None)
        assert statuses[finished.run_id][0] == "ok"
        assert statuses[current.run_id] == ("running", None)
        assert [run.run_id for run in store.runs()] == [
            crashed.run_id,
            finished.run_id,
            current.run_id,
        ]

    def test_runs_since(self, store: StateStore) -> None:
        first = store.start_run("all")
        time.sleep(0.002)
        middle = dt.datetime.now(dt.UTC)
        time.sleep(0.002)
        second = store.start_run("all")
        assert [run.run_id for run in store.runs(since=middle)] == [second.run_id]
        in_amsterdam = middle.astimezone(dt.timezone(dt.timedelta(hours=1)))
        assert [run.run_id for run in store.runs(since=in_amsterdam)] == [second.run_id]
        assert [run.run_id for run in store.runs(since=first.started)] == [
            first.run_id,
            second.run_id,
        ]

    def test_runs_since_a_time_without_zone_is_refused(self, store: StateStore) -> None:
        with pytest.raises(ValidationError) as caught:
            store.runs(since=dt.datetime(2026, 1, 1))
        assert caught.value.field == "since"

    @pytest.mark.parametrize(
        ("run_id", "status", "counts", "field"),
        [
            (None, "done", {}, "status"),
            (None, "running", {}, "status"),
            (None, "ok", {"created": "3"}, "counts.created"),
            (None, "ok", {"created": 2.5}, "counts.created"),
            (999_999, "ok", {}, "run_id"),
        ],
    )
    def test_a_bad_end_of_run_is_refused(
        self,
        store: StateStore,
        run_id: int | None,
        status: str,
        counts: dict[str, object],
        field: str,
    ) -> None:
        run = store.start_run("all")
        with pytest.raises(ValidationError) as caught:
            store.end_run(run_id or run.run_id, status, counts, [])  # type: ignore[arg-type]
        assert caught.value.field == field
        assert [r.status for r in store.runs()] == ["running"]

    # -- lifetime ------------------------------------------------------------------------

    def test_a_closed_store_says_so(self, open_store: OpenStore) -> None:
        store = open_store()
        store.close()
        store.close()  # again: harmless
        with pytest.raises(CrmConnectError, match="closed"):
            store.link("42", DF, Role.DEBTOR)
        with pytest.raises(CrmConnectError, match="closed"):
            store.save_link(a_link())

    # -- two handles on one store (another process, another thread) ----------------------

    def test_a_second_handle_sees_every_write(self, store: StateStore, open_store: OpenStore):
        other = self.second_handle(open_store)
        try:
            intent = store.add_intent(DF, "create_relation", "1001", host_id="42", role=None)
            store.save_link(a_link("7"))
            store.set_bookmark("host", "v1")
            run = store.start_run("all")
            assert list(other.intents(DF)) == [intent]
            other.finish_intent(intent.intent_id, a_link("42"))
            assert store.link("42", DF, Role.DEBTOR) == other.link("42", DF, Role.DEBTOR)
            assert other.link("7", DF, Role.DEBTOR) is not None
            assert other.bookmark("host") == "v1"
            other.start_run("all")
            assert [r.status for r in store.runs()] == ["abandoned", "running"]
            assert store.runs()[0].run_id == run.run_id
        finally:
            other.close()

    def test_data_outlives_the_handle(self, open_store: OpenStore) -> None:
        if not self.SHARED:
            pytest.skip("each handle of this store is a store of its own")
        with_intent = open_store()
        intent = with_intent.add_intent(DF, "create_relation", "1001", host_id="42", role=None)
        link = a_link("7")
        with_intent.save_link(link)
        with_intent.close()
        reopened = open_store()
        try:
            assert list(reopened.intents(DF)) == [intent]
            assert reopened.link("7", DF, Role.DEBTOR) == link
        finally:
            reopened.close()


# -- SqliteStateStore runs the suite ---------------------------------------------------------


class TestSqliteStateStoreOnFile(StateStoreContract):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> OpenStore:
        return lambda: SqliteStateStore(tmp_path / "state.db")


class TestSqliteStateStoreInMemory(StateStoreContract):
    SHARED = False

    @pytest.fixture
    def open_store(self) -> OpenStore:
        return lambda: SqliteStateStore(":memory:")


# -- SQLite specifics --------------------------------------------------------------------------


def test_the_file_is_in_wal_mode_with_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path) as store:
        assert store.path == str(path)
        assert "open" in repr(store)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT version FROM sync_schema_version").fetchall() == [
            (SCHEMA_VERSION,)
        ]
    db.close()


def test_a_version_1_store_is_upgraded_and_its_marks_move_out_of_the_bookmarks(
    tmp_path: Path,
) -> None:
    # Version 1 kept removal marks, retry sets and payment states as bookmarks.
    path = tmp_path / "state.db"
    SqliteStateStore(path).close()
    db = sqlite3.connect(path)
    with db:
        db.execute("DROP TABLE sync_marks")
        db.execute("DROP TABLE sync_lease")
        db.execute("ALTER TABLE sync_links DROP COLUMN remote_digest")
        db.execute("UPDATE sync_schema_version SET version = 1")
        db.executemany(
            "INSERT INTO sync_bookmarks (name, value) VALUES (?, ?)",
            [
                ("host-changes/df", "17"),
                ("removed/df/debtor/42", "1001"),
                ("retry/df", '["7", "9"]'),
                ("payment/eb/1001/F1", "paid|0.00"),
            ],
        )
    db.close()
    with SqliteStateStore(path) as store:
        assert store.bookmark("host-changes/df") == "17"
        assert store.bookmark("retry/df") is None
        assert dict(store.marks("removed")) == {"df/debtor/42": "1001"}
        assert dict(store.marks("retry")) == {"df/7": "", "df/9": ""}
        assert dict(store.marks("payment")) == {"eb/1001/F1": "paid|0.00"}
        assert store.acquire_lease("a", dt.timedelta(minutes=1))
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM sync_schema_version").fetchall() == [(SCHEMA_VERSION,)]
    db.close()


def test_a_version_2_store_gets_the_remote_digest_and_keeps_its_links(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path) as store:
        store.save_link(a_link("7"))
    db = sqlite3.connect(path)
    with db:
        db.execute("ALTER TABLE sync_links DROP COLUMN remote_digest")
        db.execute("UPDATE sync_schema_version SET version = 2")
    db.close()
    with SqliteStateStore(path) as store:
        assert store.links(DF) == [a_link("7")]
        store.set_remote_digests([(a_link("7"), "d7")])
        assert [link.remote_digest for link in store.links(DF)] == ["d7"]


def test_a_newer_schema_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStateStore(path).close()
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE sync_schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(ConfigurationError) as caught:
        SqliteStateStore(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"({SCHEMA_VERSION})" in message and "upgrade crmconnect" in message


def test_the_store_shares_a_file_with_other_tables(tmp_path: Path) -> None:
    # A host may keep its own tables (even a schema_version of its own) in the same file.
    path = tmp_path / "crm.db"
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE schema_version (app TEXT, version TEXT)")
        db.execute("INSERT INTO schema_version VALUES ('crm', '7.1')")
        db.execute("CREATE TABLE parties (id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    with SqliteStateStore(path) as store:
        store.save_link(a_link())
    with SqliteStateStore(path) as store:
        assert store.link("42", DF, Role.DEBTOR) is not None
    db = sqlite3.connect(path)
    assert db.execute("SELECT * FROM schema_version").fetchall() == [("crm", "7.1")]
    db.close()


@pytest.mark.parametrize("content", [b"not a database, just text\n" * 40, b"\x00" * 4096])
def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError, match="notes.txt"):
        SqliteStateStore(path)
    assert path.read_bytes() == content


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=str(tmp_path)):
        SqliteStateStore(tmp_path)


def test_a_damaged_version_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStateStore(path).close()
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM sync_schema_version")
    db.close()
    with pytest.raises(ConfigurationError, match="schema version is None"):
        SqliteStateStore(path)


def test_a_writer_held_too_long_gives_a_sync_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path, busy_timeout=0.2) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            with pytest.raises(SyncError, match="locked"):
                store.set_bookmark("host", "v1")
            assert time.monotonic() - started >= 0.15
            assert store.bookmark("host") is None  # reads go on beside a writer (WAL)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        store.set_bookmark("host", "v1")
        assert store.bookmark("host") == "v1"


def test_threads_share_one_store(tmp_path: Path) -> None:
    with SqliteStateStore(tmp_path / "state.db") as store:

        def work(thread: int) -> None:
            for n in range(50):
                intent = store.add_intent(
                    DF, "create_relation", f"{thread}-{n}", host_id=None, role=None
                )
                store.finish_intent(intent.intent_id, a_link(f"{thread}-{n}"))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store.links(DF)) == 200
        assert list(store.intents(DF)) == []


# -- other processes: SIGKILL and two writers -----------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys
    from crmconnect.sync import Link, Role, SqliteStateStore

    path, name, count, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = SqliteStateStore(path)
    print("open", flush=True)
    if mode == "hang":
        store.add_intent("df", "create_relation", "1001", host_id="42", role=Role.DEBTOR)
        print("intent", flush=True)
        sys.stdin.read()  # killed here, before finish_intent
        raise SystemExit("not killed")
    if mode == "wait":
        sys.stdin.readline()  # start together with the other writer
    for n in range(count):
        key = f"{name}-{n}"
        intent = store.add_intent("df", "create_relation", key, host_id=key, role=Role.DEBTOR)
        if mode == "go":
            print(n, flush=True)  # the intent is committed
        values = {"name": key, "city": None}
        link = Link(key, "df", Role.DEBTOR, f"r-{key}", key, values, values)
        store.finish_intent(intent.intent_id, link)
        store.set_bookmark(name, str(n))
    store.close()
    print("done", flush=True)
    """
)


def start_worker(path: Path, name: str, count: int, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), name, str(count), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_sigkill_between_intent_and_link_leaves_the_intent(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    worker = start_worker(path, "a", 0, "hang")
    assert worker.stdout is not None
    assert worker.stdout.readline() == "open\n"
    assert worker.stdout.readline() == "intent\n"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    worker.stdout.close()
    worker.stdin.close()  # type: ignore[union-attr]
    assert worker.returncode == -signal.SIGKILL
    with SqliteStateStore(path) as store:
        (intent,) = store.intents("df")
        assert (intent.kind, intent.key, intent.host_id) == ("create_relation", "1001", "42")
        assert store.link("42", "df", Role.DEBTOR) is None
        store.finish_intent(intent.intent_id, Link("42", "df", Role.DEBTOR, "7", "1001"))
        assert list(store.intents("df")) == []


def test_sigkill_at_random_points_leaves_intent_or_link_never_both_nor_neither(
    tmp_path: Path,
) -> None:
    # Each worker step is add_intent (then it prints the number) and finish_intent(link):
    # after a kill at any moment, every intent it saw committed has an intent or a link.
    rng = random.Random(10)
    for attempt in range(6):
        path = tmp_path / f"state{attempt}.db"
        worker = start_worker(path, "k", 100_000, "go")
        assert worker.stdout is not None and worker.stdin is not None
        assert worker.stdout.readline() == "open\n"
        first = worker.stdout.readline()  # the first intent is in: kill from here on
        time.sleep(rng.uniform(0.0, 0.3))
        worker.send_signal(signal.SIGKILL)
        out = worker.stdout.read()  # not communicate(): it would skip what readline buffered
        worker.wait(timeout=10)
        worker.stdout.close()
        worker.stdin.close()
        announced = {int(line) for line in (first + out).split()}
        with SqliteStateStore(path) as store:
            linked = {int(link.host_id.split("-")[1]) for link in store.links("df")}
            pending = {int(intent.key.split("-")[1]) for intent in store.intents("df")}
        state = f"announced up to {max(announced)}, linked {len(linked)}, pending {pending}"
        assert len(pending) <= 1, state
        assert not linked & pending, state
        assert announced <= linked | pending, state
        assert linked | pending <= announced | {max(announced) + 1}, state


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"  # both open it fresh: the first open races too
    count = 150
    workers = [start_worker(path, name, count, "wait") for name in ("a", "b")]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline() == "open\n"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0 and out == "done\n"
    with SqliteStateStore(path) as store:
        links = store.links("df")
        assert sorted(link.host_id for link in links) == sorted(
            f"{name}-{n}" for name in ("a", "b") for n in range(count)
        )
        assert all(link.remote_values == {"name": link.host_id, "city": None} for link in links)
        assert list(store.intents("df")) == []
        assert (store.bookmark("a"), store.bookmark("b")) == (str(count - 1), str(count - 1))
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


def test_intent_ids_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path) as store:
        first = store.add_intent(DF, "create_relation", "1001", host_id=None, role=None)
        store.finish_intent(first.intent_id)
    with SqliteStateStore(path) as store:
        second = store.add_intent(DF, "create_relation", "1001", host_id=None, role=None)
        assert second.intent_id > first.intent_id


def test_values_types_round_trip_as_protocol_types(tmp_path: Path) -> None:
    with SqliteStateStore(tmp_path / "state.db") as store:
        intent = store.add_intent(DF, "update_relation", "1001", host_id="42", role=Role.DEBTOR)
        run = store.start_run("all")
        (found,) = store.intents(DF)
        (recorded,) = store.runs()
    assert isinstance(found, Intent) and found == intent and found.role is Role.DEBTOR
    assert isinstance(recorded, RunRecord) and recorded == run


def test_the_docstring_example_holds() -> None:
    code, expected = docstring_example(SqliteStateStore.__doc__ or "")
    assert run(code) == expected
