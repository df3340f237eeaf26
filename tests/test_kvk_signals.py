"""The Mutatieservice client: replayed on answers written from KvK's documented shapes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest

from crmconnect import (
    APIError,
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    RemoteValidationError,
    ServerError,
    ValidationError,
)
from crmconnect.kvk import (
    SIGNAL_NAMES,
    AsyncKvKClient,
    KvKClient,
    SignalKind,
    SignalType,
    UnreadableSignal,
)

FIXTURES = Path(__file__).parent / "fixtures" / "kvk_mutatieservice"
SUBSCRIPTION = "1365acf9-0b63-3ed4-9e68-a8c37425080b"
SINCE = dt.datetime(2025, 7, 17, 13, 0, tzinfo=dt.UTC)
UNTIL = dt.datetime(2025, 7, 17, 14, 0, tzinfo=dt.UTC)


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def answers(request: httpx.Request) -> httpx.Response:
    """KvK's Mutatieservice, answering from the hand-written bodies by path and page."""
    path = request.url.path.removeprefix("/test/api/v1/abonnementen")
    if path == "":
        return httpx.Response(200, content=body("abonnementen.json"))
    if path == f"/{SUBSCRIPTION}":
        page = request.url.params["pagina"]
        return httpx.Response(200, content=body(f"signalen_pagina_{page}.json"))
    if path.startswith(f"/{SUBSCRIPTION}/signalen/"):
        return httpx.Response(200, content=body("signaal.json"))
    return httpx.Response(403, content=body("problem_403.json"))


def client(handler: Callable[[httpx.Request], httpx.Response] = answers) -> KvKClient:
    return KvKClient(
        environment="test", transport=httpx.MockTransport(handler), rate_limit=None, max_retries=1
    )


def test_subscriptions_are_listed_with_their_ids() -> None:
    with client() as kvk:
        subscriptions = kvk.subscriptions()
    assert [(s.id, s.active) for s in subscriptions] == [
        (SUBSCRIPTION, True),
        ("0b5e7d3c-9a1f-4e2b-8d6c-5a4b3c2d1e0f", False),
    ]
    assert subscriptions[0].contract_id == "8a2b6c1d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
    assert subscriptions[1].end_date == "2024-05-13"
    assert kvk.usage.signal_calls == 1 and kvk.usage.profile_calls == 0


def test_signals_walk_every_page_of_the_window() -> None:
    sent: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answers(request)

    with client(recording) as kvk:
        signals = list(kvk.signals(SUBSCRIPTION, since=SINCE, until=UNTIL, per_page=10))
    assert len(signals) == 13 and len({s.id for s in signals}) == 13
    assert [dict(r.url.params) for r in sent] == [
        {"vanaf": "2025-07-17T13:00:00Z", "tot": "2025-07-17T14:00:00Z", "pagina": str(n),
         "aantal": "10"}
        for n in (1, 2)
    ]  # fmt: skip
    first = signals[0]
    assert first.kvk_number == "90003403" and first.branch_number is None
    assert first.timestamp == dt.datetime(2025, 7, 17, 13, 16, 1, 866920, tzinfo=dt.UTC)
    assert first.type is SignalType.REGISTRATION_CHANGED
    assert signals[1].branch_number == "000038509520"
    assert signals[1].kind is SignalKind.BRANCH_CHANGED


def test_signal_types_are_an_open_enum() -> None:
    with client() as kvk:
        by_kvk = {s.kvk_number: s for s in kvk.signals(SUBSCRIPTION, since=SINCE, per_page=10)}
    unknown = by_kvk["90001745"]
    assert unknown.type == "SignaalToekomstigType_2027_03"
    assert not isinstance(unknown.type, SignalType) and unknown.kind is SignalKind.UNKNOWN
    versioned = by_kvk["90000749"]  # SignaalBeeindiging_2025_01
    assert versioned.type is SignalType.REGISTRATION_ENDED_2025
    assert versioned.kind is SignalKind.REGISTRATION_ENDED
    assert by_kvk["68750110"].kind is SignalKind.REGISTRATION_ENDED
    assert by_kvk["55505201"].kind is SignalKind.REGISTRATION_CHANGED  # voortzetting


def test_a_signal_type_can_be_corrected_without_a_release(tmp_path: Path) -> None:
    names = SIGNAL_NAMES.override(types={"SignaalToekomstigType": "registration_ended"})
    assert "SignaalToekomstigType" not in names.assumed_types
    with client() as kvk:
        signals = list(kvk.signals(SUBSCRIPTION, since=SINCE, per_page=10, names=names))
    assert {s.kvk_number for s in signals if s.kind is SignalKind.REGISTRATION_ENDED} == {
        "68750110",
        "90000749",
        "90001745",  # its versioned name falls back to the corrected base name
    }
    toml = tmp_path / "kvk.toml"
    toml.write_text('[mutatieservice]\nbranch_number = ["vestiging"]\nmax_per_page = 1000\n')
    corrected = SIGNAL_NAMES.override_from_toml(toml)
    assert corrected.branch_number == ("vestiging",) and corrected.max_per_page == 1000


def test_a_renamed_branch_field_is_read_through_the_names() -> None:
    def renamed(request: httpx.Request) -> httpx.Response:
        data = json.loads(answers(request).content)
        for item in data.get("signalen", []):
            if "vestigingsnummer" in item:
                item["vestigingNummer"] = item.pop("vestigingsnummer")
        return httpx.Response(200, json=data)

    with client(renamed) as kvk:
        default = list(kvk.signals(SUBSCRIPTION, since=SINCE, per_page=10))
        names = SIGNAL_NAMES.override(branch_number=("vestigingsnummer", "vestigingNummer"))
        corrected = list(kvk.signals(SUBSCRIPTION, since=SINCE, per_page=10, names=names))
    assert all(s.branch_number is None for s in default)
    assert [s.branch_number for s in corrected if s.branch_number] == [
        "000038509520",
        "990000246858",
        "000038509474",
    ]


def test_hal_pages_and_an_empty_window() -> None:
    pages = iter(["signalen_hal.json", "signalen_leeg.json"])

    def hal(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body(next(pages)))

    with client(hal) as kvk:
        signals = list(kvk.signals(SUBSCRIPTION, since=SINCE))
        assert [s.links["signaal"].rsplit("/", 1)[1] for s in signals] == [s.id for s in signals]
        assert list(kvk.signals(SUBSCRIPTION, since=SINCE)) == []


def test_a_page_of_repeats_ends_the_walk() -> None:
    # A server that ignores pagina and claims a million pages: one repeated page stops it.
    def stuck(request: httpx.Request) -> httpx.Response:
        data = json.loads(body("signalen_pagina_1.json"))
        data["totaalPaginas"] = 1_000_000
        return httpx.Response(200, json=data)

    with client(stuck) as kvk:
        assert len(list(kvk.signals(SUBSCRIPTION, since=SINCE, per_page=10))) == 10
        assert kvk.usage.signal_calls == 2


def test_one_signals_detail() -> None:
    with client() as kvk:
        detail = kvk.signal(SUBSCRIPTION, "ed6b886b-39e2-46d9-8175-85a48f200001")
    assert detail.type is SignalType.BRANCH_CHANGED and detail.correction is False
    assert detail.kvk_number == "69599084"
    assert detail.branch_numbers == ["000038509504", "000038509520"]
    assert detail.registered_at == dt.datetime(2025, 7, 17, 13, 17, 1, 866920, tzinfo=dt.UTC)
    assert detail.changed["gewijzigdeGegevens"] == ["Adresgegevens"]


def test_a_versioned_detail_keeps_its_own_blocks() -> None:
    with client(lambda r: httpx.Response(200, content=body("signaal_voortzetting.json"))) as kvk:
        detail = kvk.signal(SUBSCRIPTION, "ed6b886b-39e2-46d9-8175-85a48f200005")
    assert detail.type is SignalType.CONTINUED_OR_TRANSFERRED_2025
    kept = detail.model_extra or {}
    assert kept["voortzettingEnOverdracht"]["rolBijVoortzettingOverdracht"]["code"] == "VG"


@pytest.mark.parametrize(
    ("status", "name", "error"),
    [
        (401, "problem_401.json", AuthenticationError),
        (403, "problem_403.json", AuthenticationError),
        (404, "fout_404.json", NotFoundError),
    ],
)
def test_both_error_shapes_map_onto_the_error_tree(
    status: int, name: str, error: type[APIError]
) -> None:
    with client(lambda r: httpx.Response(status, content=body(name))) as kvk:
        with pytest.raises(error) as caught:
            kvk.subscriptions()
    expected = json.loads(body(name))
    text = expected.get("detail") or expected["fout"][0]["omschrijving"]
    assert caught.value.remote_message is not None and text in caught.value.remote_message
    assert caught.value.status_code == status


def test_problem_details_of_other_statuses() -> None:
    def problem(status: int) -> Callable[[httpx.Request], httpx.Response]:
        data = {"type": "about:blank", "title": "T", "status": status, "detail": "vanaf ontbreekt"}
        return lambda r: httpx.Response(status, json=data, headers={"Retry-After": "0"})

    for status, error in [
        (400, RemoteValidationError),
        (429, RateLimitError),
        (503, ServerError),
    ]:
        with client(problem(status)) as kvk, pytest.raises(error):
            kvk.subscriptions()


def test_the_api_key_never_reaches_an_error() -> None:
    key = "l7xxSECRETSECRETSECRETSECRET0000"
    data = {"title": "Unauthorized", "status": 401, "detail": f"key {key} is not valid"}
    transport = httpx.MockTransport(lambda r: httpx.Response(401, json=data))
    with KvKClient(key, transport=transport, rate_limit=None) as kvk:
        with pytest.raises(AuthenticationError) as caught:
            kvk.subscriptions()
    assert key not in str(caught.value) and key not in (caught.value.remote_message or "")


def test_a_malformed_page_is_a_typed_error() -> None:
    # A bad item is only unreadable (below); a page whose list is no list is an error.
    broken = {"pagina": 1, "signalen": {"id": "x", "timestamp": "gisteren", "kvknummer": "1"}}
    with client(lambda r: httpx.Response(200, json=broken)) as kvk:
        with pytest.raises(MalformedResponseError) as caught:
            list(kvk.signals(SUBSCRIPTION, since=SINCE))
    assert "Signal" in str(caught.value) and caught.value.context["path"].startswith("v1/abon")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"since": dt.datetime(2025, 7, 17)}, "since"),  # no time zone
        ({"since": SINCE, "until": SINCE}, "until"),
        ({"since": SINCE, "per_page": 5}, "per_page"),
        ({"since": SINCE, "per_page": 501}, "per_page"),
    ],
)
def test_bad_windows_are_refused_before_sending(kwargs: dict[str, object], field: str) -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    with client(never) as kvk, pytest.raises(ValidationError) as caught:
        list(kvk.signals(SUBSCRIPTION, **kwargs))  # type: ignore[arg-type]
    assert caught.value.field == field


def test_ids_in_the_path_are_checked() -> None:
    with client() as kvk, pytest.raises(ValidationError) as caught:
        kvk.signal(SUBSCRIPTION, "../../basisprofielen/69599084")
    assert caught.value.field == "signal_id"


@pytest.mark.anyio
async def test_the_async_client_reads_the_same_answers() -> None:
    async with AsyncKvKClient(
        environment="test", transport=httpx.MockTransport(answers), rate_limit=None
    ) as kvk:
        subscriptions = await kvk.subscriptions()
        signals = [s async for s in kvk.signals(SUBSCRIPTION, since=SINCE, per_page=10)]
        detail = await kvk.signal(SUBSCRIPTION, signals[1].id)
    assert subscriptions[0].id == SUBSCRIPTION
    assert len(signals) == 13 and detail.kvk_number == "69599084"
    assert kvk.usage.signal_calls == 4


GOOD_ITEM = {
    "id": "g1",
    "timestamp": "2025-07-17T13:10:00Z",
    "kvknummer": "01234567",
    "signaalType": "SignaalGewijzigdeInschrijving",
}


def one_page(*items: object) -> Callable[[httpx.Request], httpx.Response]:
    page = {"pagina": 1, "totaal": len(items), "totaalPaginas": 1, "signalen": list(items)}
    return lambda request: httpx.Response(200, json=page)


@pytest.mark.parametrize(
    ("changes", "kvk_number", "branch", "kind"),
    [
        ({"vestigingsnummer": ""}, "01234567", None, SignalKind.REGISTRATION_CHANGED),
        ({"signaalType": None}, "01234567", None, SignalKind.UNKNOWN),
        ({"signaalType": ...}, "01234567", None, SignalKind.UNKNOWN),
        ({"kvknummer": 1234567}, "01234567", None, SignalKind.REGISTRATION_CHANGED),
        (
            {"vestigingsnummer": 12345678},
            "01234567",
            "000012345678",
            SignalKind.REGISTRATION_CHANGED,
        ),
    ],
)
def test_an_odd_item_is_normalised_not_failed(
    changes: dict[str, object], kvk_number: str, branch: str | None, kind: SignalKind
) -> None:
    item = {**GOOD_ITEM, "id": "x1", **changes}
    item = {k: v for k, v in item.items() if v is not ...}
    with client(one_page(GOOD_ITEM, item)) as kvk:
        signals = list(kvk.signals(SUBSCRIPTION, since=SINCE))
    odd = signals[1]
    assert [s.id for s in signals] == ["g1", "x1"]
    assert (odd.kvk_number, odd.branch_number, odd.kind) == (kvk_number, branch, kind)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kvknummer": "1234567"}, "kvk_number"),  # text is not guessed at
        ({"kvknummer": None}, "kvk_number"),
        ({"vestigingsnummer": "12-3"}, "branch_number"),
        ({"timestamp": "gisteren"}, "timestamp"),
    ],
)
def test_an_unreadable_item_is_kept_apart_and_never_fails_the_window(
    changes: dict[str, object], field: str, caplog: pytest.LogCaptureFixture
) -> None:
    item = {**GOOD_ITEM, "id": "x1", **changes}
    told: list[UnreadableSignal] = []
    with client(one_page(item, GOOD_ITEM)) as kvk:
        signals = list(kvk.signals(SUBSCRIPTION, since=SINCE, on_unreadable=told.append))
        logged = list(kvk.signals(SUBSCRIPTION, since=SINCE))
    assert [s.id for s in signals] == [s.id for s in logged] == ["g1"]
    (unreadable,) = told
    assert unreadable.id == "x1" and unreadable.raw == item and field in unreadable.reason
    assert "KvK signal x1 cannot be read" in caplog.text


def test_an_item_without_an_id_or_not_an_object_is_unreadable() -> None:
    told: list[UnreadableSignal] = []
    with client(one_page("nonsense", {k: v for k, v in GOOD_ITEM.items() if k != "id"})) as kvk:
        assert list(kvk.signals(SUBSCRIPTION, since=SINCE, on_unreadable=told.append)) == []
    assert [u.id for u in told] == [None, None] and told[0].raw == "nonsense"


def test_paging_follows_the_total_past_an_empty_page() -> None:
    asked: list[int] = []

    def gap(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["pagina"])
        asked.append(number)
        items = [] if number == 2 else [{**GOOD_ITEM, "id": f"p{number}-{i}"} for i in range(10)]
        page = {"pagina": number, "totaal": 30, "totaalPaginas": 3, "signalen": items}
        return httpx.Response(200, json=page)

    with client(gap) as kvk:
        assert len(list(kvk.signals(SUBSCRIPTION, since=SINCE, per_page=10))) == 20
    assert asked == [1, 2, 3]


def test_two_empty_pages_end_a_walk_whose_total_never_comes() -> None:
    def empty(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"totaalPaginas": 1_000_000, "signalen": []})

    with client(empty) as kvk:
        assert list(kvk.signals(SUBSCRIPTION, since=SINCE, per_page=10)) == []
        assert kvk.usage.signal_calls == 2


def test_an_empty_page_without_a_total_ends_the_walk() -> None:
    page: dict[str, list[object]] = {"signalen": []}
    with client(lambda r: httpx.Response(200, json=page)) as kvk:
        assert list(kvk.signals(SUBSCRIPTION, since=SINCE)) == []
        assert kvk.usage.signal_calls == 1
        assert list(kvk.signals(SUBSCRIPTION, since=SINCE)) == []


@pytest.mark.parametrize(
    "answer",
    [
        {"fout": [{"code": "IPD5200", "omschrijving": "Er zijn geen gegevens gevonden"}]},
        {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "No results"},
    ],
)
def test_a_404_saying_no_results_is_an_empty_window(answer: dict[str, object]) -> None:
    with client(lambda r: httpx.Response(404, json=answer)) as kvk:
        assert list(kvk.signals(SUBSCRIPTION, since=SINCE)) == []
        assert kvk.usage.signal_calls == 1


def test_an_async_404_saying_no_results_is_an_empty_window() -> None:
    answer = {"fout": [{"code": "IPD5200", "omschrijving": "Er zijn geen gegevens gevonden"}]}
    transport = httpx.MockTransport(lambda r: httpx.Response(404, json=answer))

    async def read() -> list[object]:
        async with AsyncKvKClient(environment="test", transport=transport) as kvk:
            return [s async for s in kvk.signals(SUBSCRIPTION, since=SINCE)]

    assert anyio.run(read) == []


def test_another_404_on_the_window_is_still_not_found() -> None:
    with client(lambda r: httpx.Response(404, content=body("fout_404.json"))) as kvk:
        with pytest.raises(NotFoundError):
            list(kvk.signals(SUBSCRIPTION, since=SINCE))
