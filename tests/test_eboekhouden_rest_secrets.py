"""The REST access token and session token never show: reprs, logs, errors, their attributes and chains."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
import pytest

from crmconnect.eboekhouden import Relation
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.errors import CrmConnectError

from .test_eboekhouden_config import reachable

ACCESS_TOKEN = "access-token-0123456789abcdef"
SESSIONS = ["session-one-fedcba9876543210", "session-two-0011223344556677"]
SECRETS = (ACCESS_TOKEN, *SESSIONS)


def echoing_service() -> httpx.MockTransport:
    """A service that echoes every secret it is sent into its answers, errors included."""
    opened: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent = request.headers.get("Authorization", "") + " " + request.content.decode()
        path = request.url.path
        if path == "/v1/session" and request.method == "POST":
            opened.append(SESSIONS[len(opened) % 2])
            return httpx.Response(200, json={"token": opened[-1], "expiresIn": 3600})
        if path == "/v1/session":  # DELETE
            return httpx.Response(500, json={"type": "security", "title": f"kapot {sent}"})
        if path == "/v1/ledger" and len(opened) == 1:  # the first session "expires"
            body = {
                "type": "security",
                "code": "SECURITY_010",
                "title": f"Not authenticated {sent}",
            }
            return httpx.Response(401, json=body)
        if path == "/v1/ledger":
            return httpx.Response(200, json={"items": [{"id": 1, "code": "1300"}], "count": 1})
        if path == "/v1/relation" and request.method == "POST":
            return httpx.Response(200, content=f'{{"id": "{sent}"'.encode())  # cut off
        if path == "/v1/relation":
            body = {"type": "validation", "code": "REL_007", "title": f"IBAN {sent}"}
            return httpx.Response(400, json={**body, "propertyName": "iban", "traceId": sent})
        return httpx.Response(502, content=f"<html>proxy error {sent}</html>".encode())

    return httpx.MockTransport(handler)


def test_no_secret_in_reprs_logs_errors_or_their_chains(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[CrmConnectError] = []
    books = EBoekhoudenRestClient(ACCESS_TOKEN, transport=echoing_service(), max_retries=1)
    calls: list[Callable[[], object]] = [
        books.ledgers,  # session 1 refused as expired: a second session, then the listing
        books.relations,  # a validation error echoing both tokens
        lambda: books.add_relation(Relation(code="1", company="B")),  # a malformed answer
        books.cost_centres,  # a 502 HTML page, retried, echoing the session token
    ]
    for call in calls:
        try:
            call()
        except CrmConnectError as error:
            errors.append(error)
    shown = [repr(books), str(books)]
    books.close()  # DELETE fails with the token echoed: logged as a warning
    assert books.sessions_opened == 2 and len(errors) == 3
    texts = shown + [caplog.text] + [t for error in errors for t in reachable(error)]
    assert [secret for secret in SECRETS if any(secret in text for text in texts)] == []
    assert "closing the e-Boekhouden session failed" in caplog.text
    assert all(error.__context__ is None and error.__cause__ is None for error in errors)


@pytest.mark.parametrize(
    "body",
    [
        b'{"token": "session-one-fedcba9876543210", "expiresIn": "soon"',  # cut off
        b'{"token": "session-one-fedcba9876543210", "expiresIn": "soon"}',
        b'{"token": ["session-one-fedcba9876543210"]}',
        b'{"accessToken": "session-one-fedcba9876543210"}',
    ],
)
def test_a_malformed_session_answer_does_not_show_its_token(body: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    books = EBoekhoudenRestClient(ACCESS_TOKEN, transport=httpx.MockTransport(handler))
    with pytest.raises(CrmConnectError) as caught:
        books.ledgers()
    assert not [text for text in reachable(caught.value) if SESSIONS[0] in text]
    assert "session" in str(caught.value) or "JSON" in str(caught.value)


def test_the_client_repr_masks_the_token() -> None:
    books = EBoekhoudenRestClient(ACCESS_TOKEN)
    assert ACCESS_TOKEN not in repr(books) and "access-" not in repr(books)[:40]
    assert "base_url='https://api.e-boekhouden.nl'" in repr(books)
    books.close()
    assert json.dumps(SECRETS)  # the secrets used above are plain strings
