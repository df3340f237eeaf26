"""SignalUpdateService across runs: the same reports as polling, at a fraction of the calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs
import httpx
import pytest

from crmconnect import ConfigurationError, Organisation, ValidationError
from crmconnect.kvk import (
    SIGNAL_NAMES,
    KvKClient,
    RegistrationStatus,
    SignalBookmark,
    SignalKind,
    SignalUpdateService,
    UpdateService,
)
from crmconnect.sandbox import KvKSandbox, generate_companies
from tests.conftest import Clock

T0 = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def sandbox(clock: Clock) -> KvKSandbox:
    sandbox = KvKSandbox(generate_companies(40, seed=3))
    sandbox.signals.clock = clock
    return sandbox


@pytest.fixture
def kvk(sandbox: KvKSandbox) -> Iterator[KvKClient]:
    with KvKClient(
        environment="test", transport=sandbox.transport(), rate_limit=None, max_retries=0
    ) as client:
        yield client


@pytest.fixture
def crm(sandbox: KvKSandbox, kvk: KvKClient) -> list[Organisation]:
    """The CRM as enriched today: 20 active registrations, as the register has them."""
    active = [c for c in sandbox.register if c.active and c.branches][:20]
    records = [
        kvk.organisation(c.kvk_number).model_copy(update={"id": f"R{i}"})
        for i, c in enumerate(active)
    ]
    kvk.usage.profile_calls = 0
    return records


def change_employees(sandbox: KvKSandbox, kvk_number: str, branch_index: int = 0) -> str:
    company = sandbox.get(kvk_number)
    assert company is not None
    branches = list(company.branches)
    old = branches[branch_index]
    branches[branch_index] = attrs.evolve(old, full_time_employees=old.full_time_employees + 7)
    sandbox.update(kvk_number, branches=branches)
    return old.number


def outcome(reports: object) -> dict[str, object]:
    """What a person would see: removal, or the changed fields, per record."""
    return {
        str(r.organisation.id): "removed" if r.is_removed else tuple(r.fields)
        for r in reports  # type: ignore[attr-defined]
        if r.is_removed or r.has_updates
    }


def test_signals_find_the_changes_polling_finds_with_far_fewer_paid_calls(
    sandbox: KvKSandbox, kvk: KvKClient, crm: list[Organisation], clock: Clock
) -> None:
    service = SignalUpdateService(kvk, clock=clock)
    bookmark = service.start()
    clock.tick(hours=2)
    change_employees(sandbox, crm[0].kvk_number or "")
    sandbox.update(crm[1].kvk_number or "", non_mailing=not crm[1].non_mailing)
    sandbox.deregister(crm[2].kvk_number or "", "20260302")
    sandbox.remove(crm[3].kvk_number or "")
    linked = {org.kvk_number for org in crm}
    unlinked = next(c for c in sandbox.register if c.kvk_number not in linked)
    sandbox.update(unlinked.kvk_number, name="Niet in het CRM")  # the CRM does not hold it
    clock.tick(hours=20)

    result = service.check_updates(crm, bookmark)
    by_signals = kvk.usage.profile_calls
    assert result.fetched == 2 and by_signals == 2  # two records, one Basisprofiel each
    assert len(result.signals) == 5

    polled = UpdateService(kvk).check_updates_many(crm)
    assert outcome(result) == outcome(polled.reports)
    assert outcome(result) == {
        "R0": ("employees_total", "employee_class"),  # the split is not asked for
        "R1": ("non_mailing",),
        "R2": "removed",
        "R3": "removed",
    }


def test_end_of_registration_is_a_removal_without_a_paid_call(
    sandbox: KvKSandbox, kvk: KvKClient, crm: list[Organisation], clock: Clock
) -> None:
    service = SignalUpdateService(kvk, clock=clock)
    bookmark = service.start()
    sandbox.deregister(crm[0].kvk_number or "", "20260302")
    clock.tick(hours=1)
    result = service.check_updates(crm, bookmark)
    (report,) = result.reports
    assert report.organisation is crm[0] and report.status is RegistrationStatus.ENDED
    assert report.register is None and "SignaalBeeindiging" in (report.reason or "")
    assert kvk.usage.profile_calls == 0 and result.fetched == 0


def test_no_signal_is_handled_twice_across_runs(
    sandbox: KvKSandbox, kvk: KvKClient, crm: list[Organisation], clock: Clock
) -> None:
    service = SignalUpdateService(kvk, clock=clock, overlap=dt.timedelta(hours=1))
    bookmark = service.start()
    clock.tick(minutes=30)
    change_employees(sandbox, crm[0].kvk_number or "")
    clock.tick(minutes=10)
    first = service.check_updates(crm, bookmark)
    assert [r.organisation.id for r in first] == ["R0"]
    clock.tick(minutes=20)  # the next window reaches back over the first signal
    second = service.check_updates(crm, first.bookmark)
    assert second.since < first.signals[0].timestamp < second.until
    assert second.reports == () and second.signals == ()
    assert SignalBookmark.loads(second.bookmark).seen == {first.signals[0].id}


def test_a_signal_published_late_is_found_by_the_overlap(
    sandbox: KvKSandbox, kvk: KvKClient, crm: list[Organisation], clock: Clock
) -> None:
    sandbox.signals.delay = dt.timedelta(minutes=15)  # KvK: within 15 minutes
    service = SignalUpdateService(kvk, clock=clock, overlap=dt.timedelta(minutes=30))
    bookmark = service.start()
    clock.tick(hours=1)
    change_employees(sandbox, crm[0].kvk_number or "")
    clock.tick(minutes=5)  # the change is made but not yet published
    first = service.check_updates(crm, bookmark)
    assert first.reports == ()
    clock.tick(hours=1)
    second = service.check_updates(crm, first.bookmark)
    assert [r.organisation.id for r in second] == ["R0"]

    # Without the overlap the same late signal would have been missed.
    blind = SignalUpdateService(kvk, clock=clock, overlap=dt.timedelta(0))
    clock.tick(hours=1)
    start = blind.start()
    change_employees(sandbox, crm[1].kvk_number or "")
    clock.tick(minutes=5)
    missed = blind.check_updates(crm, start)
    clock.tick(hours=1)
    assert blind.check_updates(crm, missed.bookmark).reports == ()


def test_a_branch_signal_checks_that_branch_and_whole_registration_records(
    sandbox: KvKSandbox, kvk: KvKClient, crm: list[Organisation], clock: Clock
) -> None:
    company = next(c for c in sandbox.register if c.active and len(c.branches) >= 2)
    main = next(b for b in company.branches if b.is_main)
    other = next(b for b in company.branches if not b.is_main)
    records = [
        kvk.organisation(company.kvk_number).model_copy(update={"id": "main"}),
        kvk.organisation(company.kvk_number, other.number).model_copy(update={"id": "other"}),
    ]
    service = SignalUpdateService(kvk, clock=clock)
    bookmark = service.start()
    change_employees(sandbox, company.kvk_number, list(company.branches).index(main))
    clock.tick(hours=1)
    result = service.check_updates(records, bookmark)
    assert result.fetched == 1 and [r.organisation.id for r in result] == ["main"]
    change_employees(sandbox, company.kvk_number, list(company.branches).index(other))
    clock.tick(hours=1)
    again = service.check_updates(records, result.bookmark)
    assert again.fetched == 2  # the branch's record, and the company's (its totals changed)
    assert {r.organisation.id for r in again if r.has_updates} == {"main", "other"}


def test_a_failed_check_is_retried_on_the_next_run(
    sandbox: KvKSandbox, kvk: KvKClient, crm: list[Organisation], clock: Clock
) -> None:
    service = SignalUpdateService(kvk, clock=clock)
    bookmark = service.start()
    change_employees(sandbox, crm[0].kvk_number or "")
    clock.tick(hours=1)
    sandbox.faults.fail_next(1, "503", path_prefix="/test/api/v1/basisprofielen")
    failed = service.check_updates(crm, bookmark)
    assert failed.reports[0].error is not None
    assert SignalBookmark.loads(failed.bookmark).retry == (
        (crm[0].kvk_number, crm[0].branch_number),
    )
    clock.tick(hours=1)
    retried = service.check_updates(crm, failed.bookmark)  # no new signal for it
    assert retried.signals == () and retried.reports[0].has_updates
    assert SignalBookmark.loads(retried.bookmark).retry == ()


def test_the_bookmark_is_small_json_text(kvk: KvKClient, clock: Clock) -> None:
    service = SignalUpdateService(kvk, clock=clock)
    text = service.start()
    mark = SignalBookmark.loads(text)
    assert mark.until == T0 and mark.subscription_id == service.subscription_id
    assert len(text) < 200 and SignalBookmark.loads(mark.dumps()) == mark


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"kind": "other"}',
        '{"kind": "kvk-signals", "version": 99}',
        '{"kind": "kvk-signals", "version": 1, "subscription": "s", "until": "2026-03-02T06:00:00",'
        ' "seen": [], "retry": []}',
        '{"kind": "kvk-signals", "version": 1, "subscription": "s", "until": "2026-03-02T06:00:00Z",'
        ' "seen": [], "retry": [["123", null]]}',
    ],
)
def test_a_bad_bookmark_is_refused(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SignalBookmark.loads(text)
    assert caught.value.field == "bookmark"


def test_a_bookmark_of_another_subscription_is_refused(
    kvk: KvKClient, crm: list[Organisation], clock: Clock
) -> None:
    other = SignalBookmark("another-subscription", T0).dumps()
    with pytest.raises(ValidationError, match="another subscription"):
        SignalUpdateService(kvk, clock=clock).check_updates(crm, other)


def test_the_subscription_must_be_clear() -> None:
    body = {"abonnementen": [{"id": "a", "actief": True}, {"id": "b", "actief": True}]}
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=body))
    with KvKClient(environment="test", transport=transport, rate_limit=None) as kvk:
        with pytest.raises(ConfigurationError, match="several"):
            _ = SignalUpdateService(kvk).subscription_id
        assert SignalUpdateService(kvk, "b").subscription_id == "b"
    with pytest.raises(ConfigurationError):
        SignalUpdateService("not a client")  # type: ignore[arg-type]


def test_an_unreadable_signal_never_blocks_the_service_or_its_bookmark(clock: Clock) -> None:
    good = {"id": "g1", "kvknummer": "69599084", "signaalType": "SignaalGewijzigdeInschrijving"}
    bad = {**good, "id": "b1", "kvknummer": "6959908"}  # 7 digits: cannot be read
    stamp = (T0 + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    page = {"totaalPaginas": 1, "signalen": [{**s, "timestamp": stamp} for s in (good, bad)]}

    def answers(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/abonnementen"):
            return httpx.Response(200, json={"abonnementen": [{"id": "abc", "actief": True}]})
        return httpx.Response(200, json=page)

    kvk = KvKClient("key", transport=httpx.MockTransport(answers), rate_limit=None)
    service = SignalUpdateService(kvk, clock=clock)
    bookmark = service.start()
    clock.tick(minutes=10)
    first = service.check_updates([], bookmark)
    assert [s.id for s in first.signals] == ["g1"]
    assert [(u.id, u.raw["kvknummer"]) for u in first.unreadable] == [("b1", "6959908")]
    assert SignalBookmark.loads(first.bookmark).until > SignalBookmark.loads(bookmark).until
    clock.tick(minutes=10)  # the overlap reads it again: reported once
    second = service.check_updates([], first.bookmark)
    assert second.unreadable == () and second.signals == ()


def test_a_removal_signal_is_removed_as_polling_reports_it(
    sandbox: KvKSandbox, kvk: KvKClient, crm: list[Organisation], clock: Clock
) -> None:
    # No source names KvK's removal signal: a host maps one; here the sandbox's.
    names = SIGNAL_NAMES.override(types={"SignaalBeeindiging": SignalKind.REGISTRATION_REMOVED})
    service = SignalUpdateService(kvk, clock=clock, names=names)
    bookmark = service.start()
    sandbox.remove(crm[1].kvk_number or "")
    clock.tick(hours=1)
    (report,) = service.check_updates(crm, bookmark).reports
    polled = UpdateService(kvk).check_updates(crm[1])
    assert report.status is polled.status is RegistrationStatus.REMOVED
    assert report.is_removed and "removal" in (report.reason or "")
