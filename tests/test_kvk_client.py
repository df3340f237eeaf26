"""The KvK client over httpx.MockTransport: parameters, errors, retries, secrets."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable

import httpx
import pytest

from crmconnect import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConnectError,
    NotFoundError,
    RateLimitError,
    RemoteDeprecationWarning,
    ServerError,
    TimeoutError,
    ValidationError,
)
from crmconnect._ratelimit import TokenBucket
from crmconnect._retry import RetryPolicy, set_testing
from crmconnect.errors import MalformedResponseError
from crmconnect.kvk import TEST_API_KEY, AsyncKvKClient, DiskCache, KvKClient

SECRET = "l7xx-secret-key-0123456789abcdef"

Handler = Callable[[httpx.Request], httpx.Response]


def fault(status: int, code: str, text: str = "fout", **headers: str) -> httpx.Response:
    body = {"fout": [{"code": code, "omschrijving": text}]}
    return httpx.Response(status, json=body, headers=headers)


def page(*names: str) -> httpx.Response:
    results = [
        {
            "kvkNummer": f"1000000{i}",
            "vestigingsnummer": f"00000000000{i}",
            "naam": n,
            "type": "hoofdvestiging",
        }
        for i, n in enumerate(names)
    ]
    return httpx.Response(
        200,
        json={
            "pagina": 1,
            "resultatenPerPagina": 10,
            "totaal": len(results),
            "resultaten": results,
        },
    )


class Recorder:
    """A MockTransport handler that answers from a list and keeps the requests."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(recorder: Recorder, **kwargs) -> KvKClient:
    return KvKClient(SECRET, transport=httpx.MockTransport(recorder), rate_limit=None, **kwargs)


def test_sends_api_key_header_and_only_known_parameters() -> None:
    recorder = Recorder(page("Bakkerij Jansen"))
    with client(recorder) as kvk:
        kvk.search(
            name="Bakkerij Jansen", postcode="1034 wl", house_number="17", types=["hoofdvestiging"]
        )
    sent = recorder.requests[0]
    assert sent.headers["apikey"] == SECRET
    assert sent.url.path == "/api/v2/zoeken"
    assert sorted(k for k, _ in sent.url.params.multi_items()) == sorted(
        ["naam", "postcode", "huisnummer", "type", "pagina", "resultatenPerPagina"]
    )
    assert sent.url.params["postcode"] == "1034WL", "no space, upper-case"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda k: k.basic_profile("1234567"), "kvk_number"),
        (lambda k: k.basic_profile("1234567a"), "kvk_number"),
        (lambda k: k.branch_profile("12345678901234"), "branch_number"),
        (lambda k: k.search(postcode="1034 SS", house_number=1), "postcode"),
        (lambda k: k.search(postcode="1034WL"), "postcode"),
        (
            lambda k: k.search(house_letter="M", postcode="1034WL", house_number=None, po_box=3),
            "house_letter",
        ),
        (lambda k: k.search(name="x", per_page=101), "per_page"),
        (lambda k: k.search(types=["filiaal"]), "types"),
        (lambda k: k.search(), "search"),
    ],
)
def test_bad_input_raises_before_any_request(call, field: str) -> None:
    recorder = Recorder(page())
    with client(recorder) as kvk, pytest.raises(ValidationError) as caught:
        call(kvk)
    assert caught.value.field == field
    assert recorder.requests == []


def test_environments_and_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMCONNECT_KVK_API_KEY", raising=False)
    monkeypatch.delenv("CRMCONNECT_KVK_BASE_URL", raising=False)
    test = KvKClient(environment="test")
    assert test.base_url == "https://api.kvk.nl/test/api"
    assert test._api_key == TEST_API_KEY
    with pytest.raises(ConfigurationError, match="CRMCONNECT_KVK_API_KEY"):
        KvKClient()
    with pytest.raises(ConfigurationError, match="environment"):
        KvKClient(SECRET, environment="staging")  # type: ignore[arg-type]
    monkeypatch.setenv("CRMCONNECT_KVK_API_KEY", SECRET)
    assert KvKClient().base_url == "https://api.kvk.nl/api"


@pytest.mark.parametrize(
    ("first", "retried"),
    [
        (fault(500, "IPD9999"), True),
        (fault(404, "IPD1003", "tijdelijk niet beschikbaar"), True),
        (fault(404, "IPD1002"), True),
        (fault(429, "", "te veel", **{"Retry-After": "2"}), True),
        (httpx.Response(502, text="<html>bad gateway</html>"), True),
        (fault(401, "", "Geen of onjuiste apikey"), False),
        (fault(404, "IPD0005"), False),
        (fault(400, "IPD1999", "ongeldige parameter"), False),
    ],
)
def test_retries_only_what_may_pass(first: httpx.Response, retried: bool) -> None:
    recorder = Recorder(first, httpx.Response(200, json={"kvkNummer": "69599084"}))
    with client(recorder) as kvk:
        if retried:
            assert kvk.basic_profile("69599084").kvk_number == "69599084"
        else:
            with pytest.raises(APIError):
                kvk.basic_profile("69599084")
    assert len(recorder.requests) == (2 if retried else 1)


@pytest.mark.parametrize(
    ("response", "error", "code"),
    [
        (fault(401, "", "Geen of onjuiste apikey"), AuthenticationError, None),
        (fault(403, "", "Niet geautoriseerd"), AuthenticationError, None),
        (fault(404, "IPD0005"), NotFoundError, "IPD0005"),
        (fault(404, "IPD0007"), NotFoundError, "IPD0007"),
        (fault(500, "IPD9999"), ServerError, "IPD9999"),
        (fault(429, "", **{"Retry-After": "7"}), RateLimitError, None),
        (
            httpx.Response(
                400, json={"meldingen": {"fout": [{"code": "IPD1999", "omschrijving": "x"}]}}
            ),
            APIError,
            "IPD1999",
        ),
    ],
)
def test_error_mapping(response: httpx.Response, error: type[APIError], code: str | None) -> None:
    with client(Recorder(response), max_retries=0) as kvk, pytest.raises(error) as caught:
        kvk.basic_profile("69599084")
    assert caught.value.code == (code or None)
    assert caught.value.service == "kvk"
    assert caught.value.status_code == response.status_code
    if isinstance(caught.value, RateLimitError):
        assert caught.value.retry_after == 7


def test_retry_after_is_honoured_and_capped() -> None:
    set_testing(False)
    try:
        policy = RetryPolicy()
        error = RateLimitError("slow down", service="kvk", retry_after=3)
        assert policy.wait_for(1, error) == 3
        assert policy.wait_for(1, RateLimitError("x", service="kvk", retry_after=9999)) == 120
        assert 0.5 <= policy.wait_for(1, ServerError("x", service="kvk")) <= 1.0
    finally:
        set_testing(True)


def test_malformed_json_is_api_error_with_context() -> None:
    with client(Recorder(httpx.Response(200, text="{not json"))) as kvk:
        with pytest.raises(APIError) as caught:
            kvk.basic_profile("69599084")
    assert caught.value.context["path"] == "v1/basisprofielen/69599084"
    assert "{not json" in caught.value.context["body"]


def test_unexpected_shape_is_api_error_not_key_error() -> None:
    bad = httpx.Response(200, json={"totaal": 1, "resultaten": [{"naam": "zonder nummer"}]})
    with client(Recorder(bad)) as kvk, pytest.raises(MalformedResponseError) as caught:
        kvk.search(name="x")
    assert "resultaten.0.kvkNummer" in str(caught.value)


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (httpx.ConnectError("refused"), ConnectError),
        (httpx.ReadTimeout("slow"), TimeoutError),
    ],
)
def test_transport_failures_are_retried_then_mapped(exc: Exception, error: type[Exception]) -> None:
    recorder = Recorder(exc)
    with client(recorder, max_retries=2) as kvk, pytest.raises(error) as caught:
        kvk.basic_profile("69599084")
    assert len(recorder.requests) == 3
    assert caught.value.__cause__ is None, "the raw httpx error (with its URL) is not chained"


def test_secrets_never_appear_in_repr_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="crmconnect")
    echo = httpx.Response(
        401, json={"fout": [{"code": "X", "omschrijving": f"key {SECRET} refused"}]}
    )
    recorder = Recorder(httpx.ConnectError(f"failed with {SECRET}"), echo)
    with client(recorder, max_retries=1) as kvk:
        assert SECRET not in repr(kvk)
        with pytest.raises(AuthenticationError) as caught:
            kvk.basic_profile("69599084")
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.args)
    assert SECRET not in caplog.text
    assert caplog.records, "requests are logged"


def test_deprecation_header_becomes_one_warning() -> None:
    text = '299 https://api.kvk.nl/api/v2/zoeken "Deze versie van de API is verouderd"'
    answer = httpx.Response(
        200, json={"pagina": 1, "totaal": 0, "resultaten": []}, headers={"warning": text}
    )
    with client(Recorder(answer)) as kvk:
        with pytest.warns(RemoteDeprecationWarning, match="verouderd"):
            kvk.search(name="a")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            kvk.search(name="b")  # the same warning is not repeated


def test_iter_search_pages_and_stops_at_total() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["pagina"])
        size = int(request.url.params["resultatenPerPagina"])
        items = [
            {"kvkNummer": f"{number:04d}{i:04d}", "naam": f"n{i}", "type": "rechtspersoon"}
            for i in range(size if number < 3 else 5)
        ]
        return httpx.Response(
            200,
            json={
                "pagina": number,
                "resultatenPerPagina": size,
                "totaal": 2 * size + 5,
                "resultaten": items,
            },
        )

    with KvKClient(SECRET, transport=httpx.MockTransport(handler), rate_limit=None) as kvk:
        hits = list(kvk.iter_search(name="n", per_page=100))
        assert len(hits) == 205
        assert kvk.usage.search_calls == 3


def test_iter_search_caps_at_1000_with_warning() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["pagina"])
        items = [{"kvkNummer": f"{number:04d}{i:04d}", "naam": "x"} for i in range(100)]
        return httpx.Response(
            200,
            json={
                "pagina": number,
                "resultatenPerPagina": 100,
                "totaal": 4321,
                "resultaten": items,
            },
        )

    with KvKClient(SECRET, transport=httpx.MockTransport(handler), rate_limit=None) as kvk:
        with pytest.warns(UserWarning, match="4321 results but shows only 1000"):
            hits = list(kvk.iter_search(name="x"))
    assert len(hits) == 1000
    assert kvk.usage.search_calls == 10


def test_profiles_are_cached_on_disk_across_clients(tmp_path) -> None:
    body = httpx.Response(200, json={"kvkNummer": "69599084", "naam": "Dagobert"})
    first = Recorder(body)
    cache = DiskCache(tmp_path / "kvk.sqlite")
    with client(first, cache=cache) as kvk:
        assert kvk.basic_profile("69599084").name == "Dagobert"
    second = Recorder(body)
    with client(second, cache=DiskCache(tmp_path / "kvk.sqlite")) as kvk:
        assert kvk.basic_profile("69599084").name == "Dagobert"
        assert kvk.usage.profile_calls == 0 and kvk.usage.cache_hits == 1
    assert len(first.requests) == 1 and second.requests == []


def test_closed_client_refuses_work() -> None:
    kvk = client(Recorder(page()))
    kvk.close()
    with pytest.raises(RuntimeError, match="closed"):
        kvk.search(name="x")


def test_token_bucket_spaces_reservations() -> None:
    bucket = TokenBucket(rate=10, burst=1)
    waits = [bucket.reserve() for _ in range(4)]
    assert waits[0] == 0
    assert waits[1:] == pytest.approx([0.1, 0.2, 0.3], abs=0.02)
    assert TokenBucket(None).reserve() == 0


@pytest.mark.anyio
async def test_async_client_search_and_errors() -> None:
    recorder = Recorder(fault(500, "IPD9999"), page("Test EMZ Dagobert"))
    async with AsyncKvKClient(
        SECRET, transport=httpx.MockTransport(recorder), rate_limit=None
    ) as kvk:
        found = await kvk.search(name="Dagobert")
        assert [r.name for r in found.results] == ["Test EMZ Dagobert"]
        with pytest.raises(ValidationError) as caught:
            await kvk.search(nam="typo")
        assert caught.value.field == "nam"
    assert len(recorder.requests) == 2


@pytest.mark.anyio
async def test_async_empty_search() -> None:
    recorder = Recorder(fault(404, "IPD5200", "Er zijn geen gegevens gevonden"))
    async with AsyncKvKClient(
        SECRET, transport=httpx.MockTransport(recorder), rate_limit=None
    ) as kvk:
        assert (await kvk.search(kvk_number="12345678")).results == []
        results = [r async for r in kvk.iter_search(kvk_number="12345678")]
    assert results == []
    assert json.loads(recorder.requests[0].url.params["kvkNummer"]) == 12345678
