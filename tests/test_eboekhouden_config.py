"""Choosing and configuring the e-Boekhouden backend: names, defaults, and no secret in errors."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from crmconnect.eboekhouden import EBoekhoudenClient, EBoekhoudenSettings, connect
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.errors import (
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    ValidationError,
)
from crmconnect.sandbox import DEMO_ACCESS_TOKEN, DEMO_CREDENTIALS, EBoekhoudenSandbox

from .sandbox_cli import serve_cli

SECRETS = ("tok-secret-0123456789", "jan-secret-user", "code-secret-one", "code-secret-two")


def reachable(error: BaseException) -> list[str]:
    """Every text reachable from an error: text, args, attributes (nested) and its chain."""
    texts: list[str] = []
    seen: set[int] = set()

    def visit(value: Any) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, BaseException):
            texts.extend([str(value), repr(value)])
            for item in (*value.args, *vars(value).values(), value.__cause__, value.__context__):
                visit(item)
        elif isinstance(value, dict):
            for item in value.items():
                visit(item)
        elif isinstance(value, list | tuple | set):
            for item in value:
                visit(item)
        elif value is not None:
            texts.append(repr(value))

    visit(error)
    return texts


def leaked(error: BaseException) -> list[str]:
    return [text for text in reachable(error) if any(secret in text for secret in SECRETS)]


def test_rest_is_the_default_backend() -> None:
    assert EBoekhoudenSettings().backend == "rest"
    with connect({"access_token": "tok-secret-0123456789"}) as books:
        assert isinstance(books, EBoekhoudenRestClient)
    soap = {"backend": "soap", "username": "jan", "security_code_1": "a", "security_code_2": "b"}
    with connect(soap) as books:
        assert isinstance(books, EBoekhoudenClient)


def test_base_url_like_every_client_and_url_deprecated() -> None:
    settings = EBoekhoudenSettings.from_mapping({"base_url": "http://127.0.0.1:9/"})
    assert settings.base_url == "http://127.0.0.1:9/"
    with pytest.warns(DeprecationWarning, match="'url' is now 'base_url'"):
        old = EBoekhoudenSettings.from_mapping({"url": "http://127.0.0.1:9/"})
    assert old.base_url == "http://127.0.0.1:9/"
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigurationError, match="base_url"):
        EBoekhoudenSettings.from_mapping(
            {"url": "http://a.example", "base_url": "http://b.example"}
        )
    with pytest.warns(DeprecationWarning):
        from_env = EBoekhoudenSettings.from_env({"CRMCONNECT_EBOEKHOUDEN_URL": "http://c.example"})
    assert from_env.base_url == "http://c.example"
    env = {"CRMCONNECT_EBOEKHOUDEN_BASE_URL": "http://d.example"}
    assert EBoekhoudenSettings.from_env(env).base_url == "http://d.example"
    with pytest.warns(DeprecationWarning, match="base_url"):
        books = EBoekhoudenRestClient("tok-secret-0123456789", url="http://e.example")
    assert books.base_url == "http://e.example"
    books.close()


@pytest.mark.parametrize("backend", ["rest", "soap"])
def test_max_answer_bytes_reaches_the_client(backend: str) -> None:
    process, url, _banner = serve_cli("eboekhouden")
    login = DEMO_CREDENTIALS
    settings: dict[str, Any] = {
        "rest": {"access_token": DEMO_ACCESS_TOKEN, "base_url": url},
        "soap": {
            "backend": "soap",
            "username": login.username,
            "security_code_1": login.security_code_1,
            "security_code_2": login.security_code_2,
            "base_url": f"{url}/soap.asmx",
        },
    }[backend]
    try:
        tiny = {**settings, "max_answer_bytes": 600}
        with (
            connect(tiny) as books,
            pytest.raises(MalformedResponseError, match="max_answer_bytes"),
        ):
            books.ledgers()  # the chart of accounts is far larger than 600 bytes
        with connect({**tiny, "max_answer_bytes": 10**6}) as books:
            assert any(ledger.code == "1300" for ledger in books.ledgers())
    finally:
        process.terminate()
        process.communicate(timeout=10)
    with pytest.raises(ConfigurationError, match="max_answer_bytes"):
        EBoekhoudenSettings.from_mapping({"max_answer_bytes": 0})


BAD_SETTINGS: list[dict[str, Any]] = [
    {"backend": "rest", "access_token": ["tok-secret-0123456789"], "timeout": -1},
    {"backend": "soap", "username": {"name": "jan-secret-user"}, "security_code_1": 5},
    {
        "backend": "sOAp",
        "security_code_1": "code-secret-one",
        "security_code_2": ["code-secret-two"],
    },
    {"acces_token": "tok-secret-0123456789"},
    {"access_token": "tok-secret-0123456789", "source": "x" * 11, "max_retries": "many"},
]


@pytest.mark.parametrize("values", BAD_SETTINGS)
def test_a_bad_configuration_never_shows_a_secret(values: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as from_mapping:
        EBoekhoudenSettings.from_mapping(values)
    with pytest.raises(ConfigurationError) as connecting:
        connect(values)
    with pytest.raises(ValidationError) as constructed:
        EBoekhoudenSettings(**values)
    for caught in (from_mapping, connecting, constructed):
        assert not leaked(caught.value), leaked(caught.value)
        assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert str(from_mapping.value).startswith("invalid e-Boekhouden settings: ")
    assert constructed.value.errors and all(field for field, _, _ in constructed.value.errors)


def test_secrets_and_the_username_are_masked_in_the_settings() -> None:
    settings = EBoekhoudenSettings(
        backend="soap",
        username="jan-secret-user",
        security_code_1="code-secret-one",
        security_code_2="code-secret-two",
        access_token="tok-secret-0123456789",
    )
    shown = repr(settings) + str(settings) + repr(settings.model_dump())
    assert not [secret for secret in SECRETS if secret in shown]


def test_a_missing_credential_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="access token"):
        connect({"backend": "rest"})


def test_the_refused_token_error_speaks_of_the_access_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # What the API answers to a wrong token (eboekhouden.md §2.1), echoing it back.
        body = {
            "type": "security",
            "code": "SECURITY_010",
            "title": f"Not authenticated ({request.content.decode()})",
            "status": 401,
        }
        return httpx.Response(401, json=body)

    books = EBoekhoudenRestClient("tok-secret-0123456789", transport=httpx.MockTransport(handler))
    with pytest.raises(AuthenticationError) as caught:
        books.ledgers()
    sandbox_books = EBoekhoudenRestClient(
        "tok-secret-0123456789", transport=EBoekhoudenSandbox().transport()
    )
    with pytest.raises(AuthenticationError) as from_sandbox:
        sandbox_books.ledgers()
    for error in (caught.value, from_sandbox.value):
        message = str(error)
        assert "access token" in message and "SECURITY_010" in message
        assert not re.search(
            r"username|gebruikersnaam|security ?code|beveiligingscode", message, re.I
        )
        assert not leaked(error)
        assert error.__context__ is None and error.__cause__ is None
