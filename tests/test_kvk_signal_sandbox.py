"""The KvK sandbox's Mutatieservice: a signal per change, KvK's paths, windows, paging, errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs
import httpx
import pytest

from crmconnect.kvk import KvKClient, SignalKind
from crmconnect.sandbox import TEST_API_KEY, KvKSandbox, generate_companies
from tests.conftest import Clock

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SUBSCRIPTION = "1365acf9-0b63-3ed4-9e68-a8c37425080b"  # the public test key's


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def sandbox(clock: Clock) -> KvKSandbox:
    sandbox = KvKSandbox()
    sandbox.signals.clock = clock
    return sandbox


@pytest.fixture
def http(sandbox: KvKSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=sandbox.transport(),
        base_url="https://api.kvk.nl/test/api/v1/abonnementen",
        headers={"apikey": TEST_API_KEY},
    ) as client:
        yield client


def kinds(sandbox: KvKSandbox) -> list[tuple[str, str, str | None]]:
    return [(s.type, s.kvk_number, s.branch_number) for s in sandbox.signals.signals]


def test_every_change_through_the_sandbox_is_signalled(sandbox: KvKSandbox) -> None:
    new = generate_companies(1, seed=7)[0]
    sandbox.add(new)
    sandbox.update("69599084", name="Test EMZ Dagobert en Zonen")
    main = sandbox.get("68750110").branches[0]  # type: ignore[union-attr]
    moved = attrs.evolve(main, full_time_employees=main.full_time_employees + 3)
    sandbox.update("68750110", branches=[moved, *sandbox.get("68750110").branches[1:]])  # type: ignore[union-attr]
    sandbox.update("90004760", legal_form="Besloten Vennootschap")
    sandbox.close_branch("000038509520", "20260301")
    sandbox.deregister("69599068", "20260301")
    sandbox.remove("90000749")
    sandbox.update("90004760", legal_form="Besloten Vennootschap")  # no change: no signal
    assert kinds(sandbox) == [
        ("SignaalNieuweInschrijving", new.kvk_number, None),
        ("SignaalGewijzigdeInschrijving", "69599084", None),
        ("SignaalGewijzigdeVestiging", "68750110", moved.number),
        ("SignaalRechtsvormwijziging", "90004760", None),
        ("SignaalGewijzigdeVestiging", "69599084", "000038509520"),
        ("SignaalBeeindiging", "69599068", None),  # one signal, though its branches closed too
        ("SignaalBeeindiging", "90000749", None),
    ]


def test_each_key_has_one_subscription(sandbox: KvKSandbox, http: httpx.Client) -> None:
    listed = http.get("").json()
    assert [s["id"] for s in listed["abonnementen"]] == [SUBSCRIPTION]
    other = http.get("", headers={"apikey": "sandbox"}).json()["abonnementen"][0]["id"]
    assert other != SUBSCRIPTION
    assert http.get(f"/{other}", params={"vanaf": "2026-01-01T00:00:00Z"}).status_code == 403
    answer = http.get("/00000000-0000-0000-0000-000000000000", params={"vanaf": "2026-01-01"})
    assert answer.status_code == 404 and answer.json()["status"] == 404


def test_windows_and_pages(sandbox: KvKSandbox, http: httpx.Client, clock: Clock) -> None:
    for _ in range(25):
        sandbox.signals.add("SignaalGewijzigdeInschrijving", "69599084")
        clock.tick(minutes=1)
    window = {"vanaf": "2026-03-02T09:05:00Z", "tot": "2026-03-02T09:20:00Z", "aantal": "10"}
    pages = [
        http.get(f"/{SUBSCRIPTION}", params={**window, "pagina": str(n)}).json() for n in (1, 2, 3)
    ]
    assert [(p["totaal"], p["totaalPaginas"], len(p["signalen"])) for p in pages] == [
        (15, 2, 10),
        (15, 2, 5),
        (15, 2, 0),
    ]
    times = [s["timestamp"] for p in pages for s in p["signalen"]]
    assert times[0] == "2026-03-02T09:05:00.000000Z"  # vanaf is inclusive
    assert times[-1] == "2026-03-02T09:19:00.000000Z"  # tot is exclusive
    assert "volgende" in pages[0] and "vorige" in pages[1] and "volgende" not in pages[1]
    first = pages[0]["signalen"][0]
    assert set(first) == {"id", "timestamp", "kvknummer", "signaalType", "links"}


def test_hal_flavour(sandbox: KvKSandbox, http: httpx.Client) -> None:
    sandbox.close_branch("000038509520", "20260301")
    page = http.get(
        f"/{SUBSCRIPTION}",
        params={"vanaf": "2026-03-01T00:00:00Z"},
        headers={"Accept": "application/hal+json"},
    )
    assert page.headers["content-type"] == "application/hal+json"
    item = page.json()["signalen"][0]
    assert item["vestigingsnummer"] == "000038509520" and "href" in item["_links"]["signaal"]


def test_detail_of_a_signal(sandbox: KvKSandbox, http: httpx.Client) -> None:
    sandbox.close_branch("000038509520", "20260301")
    signal = sandbox.signals.signals[0]
    detail = http.get(f"/{SUBSCRIPTION}/signalen/{signal.id}").json()["signaal"]
    assert detail["berichtId"] == signal.id
    assert detail["heeftBetrekkingOp"]["kvkNummer"] == "69599084"
    assert detail["heeftGewijzigdeGegevens"]["gewijzigdeGegevens"] == ["Registratie"]


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({}, {}, 400),  # vanaf is required
        ({"vanaf": "gisteren"}, {}, 400),
        ({"vanaf": "2026-03-01T00:00:00Z", "aantal": "5"}, {}, 400),
        ({"vanaf": "2026-03-01T00:00:00Z", "page": "2"}, {}, 400),
        ({"vanaf": "2026-03-01T00:00:00Z", "tot": "2026-02-01T00:00:00Z"}, {}, 400),
        ({"vanaf": "2026-03-01T00:00:00Z"}, {"apikey": "wrong"}, 401),
        ({"vanaf": "2026-03-01T00:00:00Z"}, {"Accept": "text/html"}, 406),
    ],
)
def test_errors_are_problem_details(
    http: httpx.Client, params: dict[str, str], headers: dict[str, str], status: int
) -> None:
    answer = http.get(f"/{SUBSCRIPTION}", params=params, headers=headers)
    assert answer.status_code == status
    problem = answer.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert "fout" not in problem


def test_injected_faults_keep_the_problem_shape(sandbox: KvKSandbox, http: httpx.Client) -> None:
    sandbox.faults.fail_next(1, "503", path_prefix="/test/api/v1/abonnementen")
    answer = http.get("")
    assert answer.status_code == 503 and answer.json()["status"] == 503
    assert sandbox.stats.requests["mutatieservice"] == 1


def test_a_delayed_signal_appears_later_with_the_time_of_the_change(
    sandbox: KvKSandbox, http: httpx.Client, clock: Clock
) -> None:
    sandbox.signals.delay = dt.timedelta(minutes=15)
    sandbox.update("69599084", name="Later zichtbaar")
    window = {"vanaf": "2026-03-02T08:00:00Z"}
    clock.tick(minutes=10)
    assert http.get(f"/{SUBSCRIPTION}", params=window).json()["totaal"] == 0
    clock.tick(minutes=5)
    items = http.get(f"/{SUBSCRIPTION}", params=window).json()["signalen"]
    assert [i["timestamp"] for i in items] == ["2026-03-02T09:00:00.000000Z"]


def test_the_client_reads_the_sandbox_over_loopback(sandbox: KvKSandbox, clock: Clock) -> None:
    sandbox.deregister("68750110", "20260301")
    sandbox.signals.add("SignaalIetsNieuws_2030_01", "69599084")
    with sandbox.serve() as url:
        with KvKClient(environment="test", base_url=f"{url}/test/api", rate_limit=None) as kvk:
            (subscription,) = kvk.subscriptions()
            signals = list(kvk.signals(subscription.id, since=T0 - dt.timedelta(hours=1)))
            detail = kvk.signal(subscription.id, signals[0].id)
    assert [(s.kvk_number, s.kind) for s in signals] == [
        ("68750110", SignalKind.REGISTRATION_ENDED),
        ("69599084", SignalKind.UNKNOWN),
    ]
    assert detail.kvk_number == "68750110"
