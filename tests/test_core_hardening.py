"""The shared mechanisms every connector hardens on: answers, body cap, scrubbing, models."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from typing import Any

import httpx
import pydantic
import pytest

from crmconnect._answers import Answer, excerpt
from crmconnect._http import HTTPSettings, SyncHTTP
from crmconnect._model import Model, Text, key, text
from crmconnect._redact import Redactor
from crmconnect.errors import (
    APIError,
    CrmConnectError,
    MalformedResponseError,
    ServerError,
    TransportError,
    ValidationError,
    is_retriable,
)

SECRET = "s3cr3t-api-key-0123456789"


def chain_and_attributes(error: BaseException) -> list[str]:
    """Every text reachable from an exception: its args, attributes and chained exceptions."""
    seen: list[str] = []
    current: BaseException | None = error
    while current is not None:
        seen.append(repr(current.args))
        seen.extend(repr(value) for value in vars(current).values())
        seen.append(str(current))
        current = current.__cause__ or current.__context__
    return seen


def assert_no_secret(error: BaseException, secret: str = SECRET) -> None:
    leaks = [text for text in chain_and_attributes(error) if secret in text]
    assert not leaks, leaks


# -- Answer -------------------------------------------------------------------------------


def answer(body: bytes | str, status: int = 200) -> Answer:
    return Answer("kvk", status, body, Redactor([SECRET]))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html><h1>Onderhoud</h1></html>", "not JSON"),
        (b"", "not JSON"),
        (b'{"a": ', "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
    ],
)
def test_json_that_is_not_fails_typed_with_status_and_excerpt(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedResponseError) as caught:
        answer(body, 200).json()
    error = caught.value
    assert reason in str(error)
    assert error.service == "kvk"
    assert error.status_code == 200
    assert error.excerpt == excerpt(body, Redactor())
    assert error.__context__ is None
    assert is_retriable(error)


def test_excerpt_masks_an_echoed_secret_and_is_bounded() -> None:
    body = f'{{"fout": "key {SECRET} refused", "pad": "{"x" * 5000}"'.encode()
    with pytest.raises(MalformedResponseError) as caught:
        answer(body).json()
    assert_no_secret(caught.value)
    assert "***" in caught.value.excerpt
    assert len(caught.value.excerpt) == 200


@pytest.mark.parametrize("data", [[], None, [1], "x", 3, True])
def test_as_object_refuses_other_shapes(data: Any) -> None:
    with pytest.raises(MalformedResponseError, match="the relation should be an object"):
        answer(json.dumps(data)).as_object(data, "the relation")


def test_as_list_and_field() -> None:
    a = answer(b"{}")
    assert a.as_list([1, 2], "items") == [1, 2]
    with pytest.raises(MalformedResponseError, match="items should be a list, not an object"):
        a.as_list({}, "items")
    assert a.field({"id": 5}, "id", "the answer") == 5
    with pytest.raises(MalformedResponseError, match="the answer has no 'id'"):
        a.field({"id": ""}, "id", "the answer")


def test_decimal_amounts_stay_exact() -> None:
    assert answer(b'{"amount": 0.10}').json(parse_float=Decimal) == {"amount": Decimal("0.10")}


class _Wire(pydantic.BaseModel):
    id: int
    name: str


def test_model_failure_names_the_model_and_field() -> None:
    with pytest.raises(MalformedResponseError, match=r"_Wire\.id"):
        answer(b"{}").model(_Wire, {"id": "x", "name": "n"})
    assert answer(b"{}").model(_Wire, {"id": 1, "name": "n"}).id == 1


# -- the HTTP core: capped bodies, chains cut ------------------------------------------------


def _http(handler: Any, *, cap: int = 1000, secret: str = SECRET) -> SyncHTTP:
    settings = HTTPSettings(
        service="demo",
        base_url=f"https://example.test/api?key={secret}",
        error_parser=lambda response, redact: None,
        max_answer_bytes=cap,
    )
    return SyncHTTP(settings, Redactor([secret]), transport=httpx.MockTransport(handler))


def test_a_body_over_the_cap_is_refused_typed() -> None:
    http = _http(lambda request: httpx.Response(200, content=b"x" * 1001))
    with pytest.raises(MalformedResponseError, match="larger than max_answer_bytes"):
        http.request("GET", "/r", idempotent=True)


def test_a_body_at_the_cap_is_read_whole() -> None:
    http = _http(lambda request: httpx.Response(200, content=b"y" * 1000))
    assert http.request("GET", "/r", idempotent=True).content == b"y" * 1000


def test_a_compressed_bomb_is_capped_on_the_decoded_size() -> None:
    bomb = gzip.compress(b"0" * 50_000)  # about 100 bytes on the wire

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})

    with pytest.raises(MalformedResponseError):
        _http(handler).request("GET", "/r", idempotent=True)
    assert _http(handler, cap=60_000).request("GET", "/r", idempotent=True).content == (
        b"0" * 50_000
    )


def test_a_declared_length_over_the_cap_fails_before_reading() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"z", headers={"Content-Length": "999999"})

    with pytest.raises(MalformedResponseError):
        _http(handler).request("GET", "/r", idempotent=True)


def test_transport_errors_chain_nothing_that_holds_the_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError(f"reset while reading {request.url}", request=request)

    with pytest.raises(TransportError) as caught:
        _http(handler).request("GET", "/r", idempotent=True)
    assert caught.value.__context__ is None
    assert_no_secret(caught.value)


def test_errors_of_the_error_parser_are_scrubbed() -> None:
    def parser(response: httpx.Response, redact: Redactor) -> APIError | None:
        return ServerError(
            "boom",
            service="demo",
            remote_message=f"key {SECRET}",
            context={"url": str(response.request.url)},
        )

    settings = HTTPSettings(service="demo", base_url="https://example.test", error_parser=parser)
    http = SyncHTTP(
        settings,
        Redactor([SECRET]),
        transport=httpx.MockTransport(lambda r: httpx.Response(500)),
    )
    with pytest.raises(ServerError) as caught:
        http.request("GET", f"/r?key={SECRET}", idempotent=True)
    assert caught.value.remote_message == "key ***"
    assert_no_secret(caught.value)


def test_scrub_masks_nested_values_and_cuts_the_chain() -> None:
    try:
        try:
            raise KeyError(SECRET)
        except KeyError:
            raise APIError(
                f"failed for {SECRET}",
                service="demo",
                context={"urls": [f"https://x/?k={SECRET}"], "n": 3},
            ) from None
    except APIError as error:
        caught = error
    assert caught.__context__ is not None  # what `from None` leaves behind
    scrubbed = Redactor([SECRET]).scrub(caught)
    assert scrubbed is caught
    assert (scrubbed.__context__, scrubbed.__cause__) == (None, None)
    assert scrubbed.context == {"urls": ["https://x/?k=***"], "n": 3}
    assert_no_secret(scrubbed)


# -- Model and the text rules ------------------------------------------------------------------


class Settings(Model):
    model_config = pydantic.ConfigDict(extra="forbid", validate_assignment=True)

    token: pydantic.SecretStr
    retries: int = 2
    code: key(4) = "1"  # type: ignore[valid-type]
    name: Text = ""
    note: text(5) = ""  # type: ignore[valid-type]


class Outer(Model):
    inner: Settings
    more: list[Settings] = pydantic.Field(default_factory=list)


def test_model_raises_our_error_naming_field_and_value() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(token="t", retries="many")
    error = caught.value
    assert isinstance(error, CrmConnectError)
    assert (error.field, error.value) == ("retries", "many")
    assert error.__context__ is None


def test_model_masks_secret_inputs_everywhere() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(token=12345678901234567890, retries="x")  # a number is not a string
    assert caught.value.errors[0][:2] == ("token", "***")
    assert_no_secret(caught.value, "12345678901234567890")


def test_model_validate_assignment_and_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="city"):
        Settings.model_validate({"token": "t", "city": "Lollum"})
    settings = Settings(token="t")
    with pytest.raises(ValidationError, match="retries"):
        settings.retries = "x"  # type: ignore[assignment]


def test_nested_models_name_the_path() -> None:
    with pytest.raises(ValidationError) as caught:
        Outer(inner={"token": "t"}, more=[{"token": "t", "code": "12345"}])
    assert caught.value.field == "more.0.code"
    assert "at most 4" in caught.value.reason


def test_text_rules() -> None:
    settings = Settings(token="t", code=" 12\u200b ", name="a\x00b\x1bc\td", note="ab\x7f")
    assert (settings.code, settings.name, settings.note) == ("12", "abc\td", "ab")
    odd = Settings(token="t", name="x\ufffe\uffffy\ud800z\u00e9\U0001f600")
    assert odd.name == "xyz\u00e9\U0001f600"  # non-characters out, real characters kept
    for bad in ("\u200b", "", "\x00", "12345"):
        with pytest.raises(ValidationError, match="code"):
            Settings(token="t", code=bad)
    with pytest.raises(ValidationError, match="note"):
        Settings(token="t", note="123456")


class Private(Model):
    bsn: str = pydantic.Field(repr=False, max_length=9)


def test_fields_kept_out_of_reprs_are_kept_out_of_errors() -> None:
    with pytest.raises(ValidationError) as caught:
        Private(bsn="1112223334")
    assert caught.value.value == "***"
    assert_no_secret(caught.value, "1112223334")


def test_a_sandbox_stays_quiet_when_a_client_resets_its_connection(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket
    import struct
    import time
    import urllib.parse

    from crmconnect.sandbox import ViesSandbox

    with ViesSandbox().serve() as url:
        address = urllib.parse.urlsplit(url)
        for _ in range(3):
            client = socket.create_connection((address.hostname, address.port or 80))
            client.sendall(b"GET /check-status HTTP/1.1\r\nHost: x\r\n")  # unfinished
            # SO_LINGER 0: close with a reset, as a process killed mid-request does.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
        time.sleep(0.3)
        with httpx.Client() as http:  # and it still serves
            assert http.get(url + "/nothing-here").status_code in (400, 404)
    assert "Traceback" not in capsys.readouterr().err


def test_secrets_are_masked_in_the_forms_servers_echo_them() -> None:
    secret = "s3cr3t Acc&ss<Code>"
    redact = Redactor([secret])
    for echoed in (
        secret,
        "s3cr3t Acc&amp;ss&lt;Code&gt;",
        "s3cr3t%20Acc%26ss%3CCode%3E",
        "s3cr3t+Acc%26ss%3CCode%3E",
    ):
        assert redact(f"<error>code {echoed} refused</error>") == "<error>code *** refused</error>"


def test_model_validate_json_raises_our_error() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate_json('{"token": "t", "retries": "x"}')
    assert caught.value.field == "retries"
    with pytest.raises(ValidationError):
        Settings.model_validate_json("{bad")


def test_a_cache_file_that_cannot_be_used_is_a_configuration_error(tmp_path: Any) -> None:
    from crmconnect._cache import DiskCache
    from crmconnect.errors import ConfigurationError

    not_sqlite = tmp_path / "cache.sqlite"
    not_sqlite.write_bytes(b"this is not a database" * 100)
    for path in (tmp_path, not_sqlite):
        with pytest.raises(ConfigurationError, match="cannot be used as a cache"):
            DiskCache(path)
