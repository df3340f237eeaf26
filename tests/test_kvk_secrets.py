"""The KvK API key, echoed by a server in every place it could echo it, reaches no error.

Not the message, not ``remote_message``, ``code``, ``context`` or
``excerpt``, not the traceback, and nothing chained (error reporters such as
Sentry walk ``__cause__`` and ``__context__``).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from crmconnect.errors import (
    APIError,
    CrmConnectError,
    MalformedResponseError,
    TransportError,
)
from crmconnect.kvk import KvKClient, Matcher, UpdateService
from crmconnect.models import Organisation
from tests.test_kvk_hostile import reachable_text

SECRET = "l7xx-echoed-secret-key-9b8c7d6e5f"


def fault(code: str, text: str) -> str:
    return '{"fout": [{"code": "' + code + '", "omschrijving": "' + text + '"}]}'


ECHOES: dict[str, Callable[[httpx.Request], httpx.Response]] = {
    "malformed 200, key at the start": lambda r: httpx.Response(200, text=f"<p>{SECRET}</p>"),
    "malformed 200, key across the 200th character": lambda r: httpx.Response(
        200, text="x" * 190 + SECRET + "y" * 100
    ),
    "JSON of the wrong shape": lambda r: httpx.Response(200, json={"kvkNummer": SECRET}),
    "error text": lambda r: httpx.Response(400, text=fault("IPD1999", f"ongeldig: {SECRET}")),
    "error code": lambda r: httpx.Response(400, text=fault(SECRET, "fout")),
    "plain-text error": lambda r: httpx.Response(403, text=f"Invalid apikey {SECRET}"),
    "not found": lambda r: httpx.Response(404, text=fault("IPD0005", f"{SECRET} onbekend")),
    "rate limit": lambda r: httpx.Response(
        429, text=f"slow down {SECRET}", headers={"Retry-After": SECRET}
    ),
    "server error": lambda r: httpx.Response(500, text=fault("IPD9999", SECRET)),
    "error text across the 200th character": lambda r: httpx.Response(403, text="z" * 190 + SECRET),
    "HTML page with an error status": lambda r: httpx.Response(
        502, text=f"<html><body>Gateway {SECRET}</body></html>"
    ),
}


def connection_refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError(f"refused for apikey={SECRET}", request=request)


ECHOES["connection error"] = connection_refused


def client(handler: Callable[[httpx.Request], httpx.Response]) -> KvKClient:
    return KvKClient(SECRET, transport=httpx.MockTransport(handler), rate_limit=None, max_retries=0)


def assert_clean(error: BaseException) -> None:
    assert isinstance(error, CrmConnectError)
    assert error.__cause__ is None and error.__context__ is None
    pieces = [SECRET[i : i + 8] for i in range(len(SECRET) - 7)]
    for text in reachable_text(error):
        assert not any(piece in text for piece in pieces), "not even a piece of the key"


@pytest.mark.parametrize("echo", sorted(ECHOES))
@pytest.mark.parametrize("endpoint", ["search", "basisprofiel", "vestigingsprofiel", "naamgeving"])
def test_an_echoed_key_reaches_no_attribute_of_any_error(echo: str, endpoint: str) -> None:
    calls: dict[str, Callable[[KvKClient], object]] = {
        "search": lambda k: k.search(name="x"),
        "basisprofiel": lambda k: k.basic_profile("69599084"),
        "vestigingsprofiel": lambda k: k.branch_profile("000037178598"),
        "naamgeving": lambda k: k.naming("69599084"),
    }
    with client(ECHOES[echo]) as kvk, pytest.raises(CrmConnectError) as caught:
        calls[endpoint](kvk)
    assert_clean(caught.value)


def test_the_malformed_body_excerpt_is_masked_and_bounded() -> None:
    with client(ECHOES["malformed 200, key across the 200th character"]) as kvk:
        with pytest.raises(MalformedResponseError) as caught:
            kvk.basic_profile("69599084")
    error = caught.value
    assert error.excerpt.startswith("x" * 190 + "***")
    assert len(error.excerpt) <= 200
    assert error.context["body"] == error.excerpt


def test_remote_message_is_masked() -> None:
    with client(ECHOES["error text"]) as kvk, pytest.raises(APIError) as caught:
        kvk.search(name="x")
    assert caught.value.remote_message == "ongeldig: ***"
    assert caught.value.code == "IPD1999"


def test_errors_kept_in_match_and_update_results_are_masked_too() -> None:
    record = Organisation(name="Jansen", kvk_number="69599084")
    with client(ECHOES["server error"]) as kvk:
        match = Matcher(kvk).match(record)
        summary = UpdateService(kvk).check_updates_many([record])
    assert match.error is not None and summary.reports[0].error is not None
    assert_clean(match.error)
    assert_clean(summary.reports[0].error)
    with client(ECHOES["not found"]) as kvk:
        removed = UpdateService(kvk).check_updates(record)
    assert removed.reason is not None and SECRET not in removed.reason


def test_a_connection_error_is_masked() -> None:
    with client(connection_refused) as kvk, pytest.raises(TransportError) as caught:
        kvk.search(name="x")
    assert_clean(caught.value)


def test_a_password_in_a_gateway_url_is_masked_too() -> None:
    from crmconnect.vies import ViesClient

    password = "gateway-pass-7f6e5d4c3b"
    url = f"https://crm:{password}@gateway.example/kvk/api"

    def gateway_down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text=f"bad gateway for {request.url}")

    transport = httpx.MockTransport(gateway_down)
    with KvKClient(SECRET, base_url=url, transport=transport, max_retries=0) as kvk:
        assert password not in repr(kvk)
        with pytest.raises(APIError) as caught:
            kvk.search(name="x")
    assert all(password not in text for text in reachable_text(caught.value))
    with ViesClient(base_url=url, transport=transport, max_retries=0, rate_limit=None) as vies:
        assert password not in repr(vies)
        with pytest.raises(APIError) as caught:
            vies.check("NL004495445B01")
    assert all(password not in text for text in reachable_text(caught.value))
