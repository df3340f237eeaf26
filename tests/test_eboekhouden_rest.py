"""The REST backend and the sandbox's REST API: wire format, paging, errors, sessions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from crmconnect import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    RemoteValidationError,
    ServerError,
    ValidationError,
)
from crmconnect._redact import Redactor
from crmconnect.eboekhouden import EBoekhoudenSettings, Relation
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient, parse_rest_error
from crmconnect.errors import MalformedResponseError
from crmconnect.sandbox import (
    DEMO_ACCESS_TOKEN,
    AdministrationRecord,
    EBoekhoudenSandbox,
    LineRecord,
)

from .sandbox_cli import serve_cli

BASE = "https://api.e-boekhouden.nl"


@pytest.fixture
def sandbox() -> EBoekhoudenSandbox:
    return EBoekhoudenSandbox()


@pytest.fixture
def api(sandbox: EBoekhoudenSandbox) -> Iterator[httpx.Client]:
    """A raw HTTP client on the sandbox with an open REST session."""
    with httpx.Client(transport=sandbox.transport(), base_url=BASE) as client:
        token = client.post(
            "/v1/session", json={"accessToken": DEMO_ACCESS_TOKEN, "source": "tests"}
        ).json()["token"]
        client.headers["Authorization"] = token
        yield client


def client(sandbox: EBoekhoudenSandbox, **kwargs: Any) -> EBoekhoudenRestClient:
    return EBoekhoudenRestClient(DEMO_ACCESS_TOKEN, transport=sandbox.transport(), **kwargs)


# -- the sandbox's REST API -----------------------------------------------------------------


def test_session_needs_source_and_token(sandbox: EBoekhoudenSandbox) -> None:
    with httpx.Client(transport=sandbox.transport(), base_url=BASE) as raw:
        codes = [
            raw.post("/v1/session", json=body).json()["code"]
            for body in (
                {"accessToken": DEMO_ACCESS_TOKEN},
                {"accessToken": DEMO_ACCESS_TOKEN, "source": "crm-connect"},
                {"source": "crm"},
                {"accessToken": "nope", "source": "crm"},
            )
        ]
        unauthenticated = raw.get("/v1/relation")
    assert codes == ["API_SESSION_001", "API_SESSION_002", "API_SESSION_003", "SECURITY_010"]
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["type"] == "security"


def test_bearer_form_and_delete_session(sandbox: EBoekhoudenSandbox, api: httpx.Client) -> None:
    token = api.headers["Authorization"]
    bearer = api.get("/v1/ledger", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200 and bearer.json()["count"] == len(sandbox.ledgers)
    assert api.delete("/v1/session").status_code == 204
    assert api.get("/v1/ledger").json()["code"] == "SECURITY_010"


def test_soap_session_ids_are_not_rest_tokens(sandbox: EBoekhoudenSandbox) -> None:
    soap_id = sandbox._new_session(sandbox.books().info.guid.casefold(), "soap")
    with httpx.Client(transport=sandbox.transport(), base_url=BASE) as raw:
        answer = raw.get("/v1/relation", headers={"Authorization": soap_id})
    assert answer.json()["code"] == "SECURITY_010"


def test_paging_limits_and_count(sandbox: EBoekhoudenSandbox, api: httpx.Client) -> None:
    for n in range(5):
        sandbox.add_relation(f"R{n}", f"Klant {n}")
    page = api.get("/v1/relation", params={"limit": 2, "offset": 4}).json()
    assert (page["count"], [item["code"] for item in page["items"]]) == (5, ["R4"])
    assert api.get("/v1/relation", params={"limit": 2001}).json()["code"] == "PAGE_001"
    assert api.get("/v1/relation", params={"offset": -1}).json()["code"] == "PAGE_002"


def test_filters_like_escape_range_and_one_per_parameter(
    sandbox: EBoekhoudenSandbox, api: httpx.Client
) -> None:
    sandbox.add_relation("A1", "100% Bio", city="Utrecht")
    sandbox.add_relation("A2", "1000 Bloemen", city="utrecht")
    sandbox.add_relation("A3", "Bakker", city="Zeist")

    def codes(**params: str) -> list[str]:
        return [item["code"] for item in api.get("/v1/relation", params=params).json()["items"]]

    assert codes(city="UTRECHT") == ["A1", "A2"]
    assert codes(**{"name[like]": "100%"}) == ["A1", "A2"]
    assert codes(**{"name[like]": "100\\%%"}) == ["A1"]
    assert codes(**{"name[not_like]": "%B%"}) == []
    assert codes(**{"code[not_eq]": "A3"}) == ["A1", "A2"]
    both = api.get("/v1/relation", params=[("name", "Bakker"), ("name[like]", "B%")]).json()
    assert both["code"] == "ERR_002"
    for n in (1, 2, 3):
        sandbox.add_mutation(
            "GeldOntvangen",
            dt.date(2026, n, 1),
            ledger_code="1100",
            lines=[LineRecord.of("10", "GEEN", "8000")],
        )
    ranged = api.get("/v1/mutation", params={"date[range]": "2026-02-01,2026-03-31"}).json()
    assert [item["id"] for item in ranged["items"]] == [2, 3]
    assert api.get("/v1/mutation", params={"id[gt]": "2"}).json()["count"] == 1


def test_relation_create_patch_and_errors(sandbox: EBoekhoudenSandbox, api: httpx.Client) -> None:
    created = api.post("/v1/relation", json={"name": "Zonder Code BV", "city": "Ede"}).json()
    assert created["code"] and created["id"] > 0  # REST makes up a code
    taken = api.post("/v1/relation", json={"name": "Twee", "code": created["code"]})
    assert (taken.status_code, taken.json()["code"], taken.json()["propertyName"]) == (
        400,
        "REL_049",
        "code",
    )
    patch = api.patch(f"/v1/relation/{created['id']}", json={"name": "Met Naam BV", "iban": "X"})
    assert patch.status_code == 204 and patch.content == b""
    got = api.get(f"/v1/relation/{created['id']}").json()
    assert (got["name"], got["city"], got["iban"]) == ("Met Naam BV", "Ede", "X")
    assert (
        api.patch(f"/v1/relation/{created['id']}", json={"city": "X"}).json()["code"] == "REL_002"
    )
    missing = api.get("/v1/relation/424242")
    assert (missing.status_code, missing.json()["code"]) == (404, "REL_055")


def test_mutation_by_ids_vat_computed_and_duplicates_refused(
    sandbox: EBoekhoudenSandbox, api: httpx.Client
) -> None:
    relation = sandbox.add_relation("1001", "Bakkerij")
    ids = {ledger.code: ledger.id for ledger in sandbox.ledgers}
    body = {
        "type": 2,
        "date": "2026-03-01",
        "ledgerId": ids["1300"],
        "relationId": relation.id,
        "invoiceNumber": "F1",
        "inExVat": "EX",
        "rows": [{"ledgerId": ids["8000"], "vatCode": "HOOG_VERK_21", "amount": 100.1}],
    }
    booked = api.post("/v1/mutation", json=body).json()
    assert booked["id"] == 1
    [line] = sandbox.mutations[0].lines
    assert (line.amount_excl, line.vat_amount, line.amount_incl) == (
        Decimal("100.10"),
        Decimal("21.02"),
        Decimal("121.12"),
    )
    again = api.post("/v1/mutation", json=body).json()
    assert again["code"] == "MUT_020"
    detail = api.get(f"/v1/mutation/{booked['id']}").json()
    assert (detail["relationId"], detail["rows"][0]["ledgerId"], detail["type"]) == (
        relation.id,
        ids["8000"],
        2,
    )
    listed = api.get("/v1/mutation", params={"invoiceNumber": "F1"}).json()["items"]
    assert "rows" not in listed[0] and listed[0]["amount"] == 121.12
    unknown_ledger = api.post("/v1/mutation", json={**body, "ledgerId": 1}).json()
    assert unknown_ledger["code"] == "MUT_007"
    assert api.post("/v1/mutation", json={**body, "type": 9}).json()["code"] == "MUTA_009"
    assert api.get("/v1/mutation/999").json()["code"] == "MUT_300"


def test_payment_row_names_the_invoice(sandbox: EBoekhoudenSandbox, api: httpx.Client) -> None:
    relation = sandbox.add_relation("1001", "Bakkerij")
    sandbox.add_mutation(
        "FactuurVerstuurd",
        dt.date(2026, 3, 1),
        ledger_code="1300",
        relation_code="1001",
        invoice_number="F1",
        lines=[LineRecord.of("100", "HOOG_VERK_21", "8000")],
    )
    bank = next(ledger.id for ledger in sandbox.ledgers if ledger.code == "1100")
    payment = {
        "type": 3,
        "date": "2026-03-15",
        "ledgerId": bank,
        "relationId": relation.id,
        "inExVat": "EX",
        "rows": [{"vatCode": "GEEN", "amount": 21, "invoiceNumber": "F1"}],
    }
    assert api.post("/v1/mutation", json=payment).status_code == 200
    [item] = api.get("/v1/mutation/invoice/outstanding", params={"credDeb": "D"}).json()["items"]
    assert (item["invoiceNumber"], item["paidAmount"], item["outstandingAmount"]) == (
        "F1",
        21.0,
        100.0,
    )
    assert item["mutationId"] == 1 and item["relationCode"] == "1001"
    assert api.get("/v1/mutation/invoice/outstanding").json()["code"] == "MUTA_006"
    assert (
        api.get("/v1/mutation/invoice/outstanding", params={"credDeb": "X"}).json()["code"]
        == "MUTA_007"
    )


def test_balance_cost_centres_and_administrations(
    sandbox: EBoekhoudenSandbox, api: httpx.Client
) -> None:
    sandbox.add_relation("1001", "Bakkerij")
    sandbox.add_mutation(
        "FactuurVerstuurd",
        dt.date(2026, 3, 1),
        ledger_code="1300",
        relation_code="1001",
        invoice_number="F1",
        lines=[LineRecord.of("100", "HOOG_VERK_21", "8000")],
    )
    debtors = next(ledger.id for ledger in sandbox.ledgers if ledger.code == "1300")
    assert api.get(f"/v1/ledger/{debtors}/balance").json() == {
        "code": "1300",
        "type": "DEB",
        "balance": 121.0,
    }
    before = api.get(f"/v1/ledger/{debtors}/balance", params={"to": "2026-02-28"}).json()
    assert before["balance"] == 0
    centres = api.get("/v1/costcenter").json()["items"]
    assert {"id", "description", "parentId", "active"} <= set(centres[0])
    assert api.get("/v1/administration").json()["code"] == "EP_001"
    accountant = EBoekhoudenSandbox(
        administrations=[
            AdministrationRecord("Kantoor", "Ede", "A-1"),
            AdministrationRecord("Klant", "Epe", "B-2"),
        ]
    )
    with EBoekhoudenRestClient(DEMO_ACCESS_TOKEN, transport=accountant.transport()) as books:
        assert [a.guid for a in books.administrations()] == ["A-1", "B-2"]


# -- the REST client -------------------------------------------------------------------------


def test_source_and_page_size_checked_before_any_call() -> None:
    with pytest.raises(ConfigurationError, match="source"):
        EBoekhoudenRestClient("token", source="crm-connect")
    with pytest.raises(ConfigurationError, match="page_size"):
        EBoekhoudenRestClient("token", page_size=2001)


def test_listing_follows_every_page(sandbox: EBoekhoudenSandbox) -> None:
    for n in range(5):
        sandbox.add_relation(f"R{n}", f"Klant {n}")
    with client(sandbox, page_size=2) as books:
        assert [r.code for r in books.relations()] == [f"R{n}" for n in range(5)]
    assert sandbox.stats.requests["GET /v1/relation"] == 3


def test_a_repeated_page_is_malformed_not_an_endless_loop() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/v1/session":
            return httpx.Response(200, json={"token": "t0k3n-abcdefghijkl", "expiresIn": 3600})
        # A broken server that ignores ``offset`` and claims there is more.
        return httpx.Response(
            200, json={"items": [{"id": 1, "code": "A"}, {"id": 2, "code": "B"}], "count": 99}
        )

    transport = httpx.MockTransport(handler)
    with EBoekhoudenRestClient("token-1234567890", transport=transport, page_size=2) as books:
        with pytest.raises(MalformedResponseError, match="offset 2 gave an earlier page"):
            books.relations()
    assert calls.count("/v1/relation") == 2


def test_amounts_are_decimals_and_sent_exactly() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/session":
            return httpx.Response(200, json={"token": "t0k3n-abcdefghijkl", "expiresIn": 3600})
        if request.url.path == "/v1/mutation/invoice/outstanding":
            body = b'{"items":[{"invoiceNumber":"F1","totalAmount":0.30000000000000004,"paidAmount":0.1,"outstandingAmount":0.2}],"count":1}'
            return httpx.Response(200, content=body)
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"id": 7, "code": "X"})

    with EBoekhoudenRestClient("t", transport=httpx.MockTransport(handler)) as books:
        [item] = books.open_items()
        books.add_relation(Relation(code="X", company='Ümlaut & <Co> "BV"'))
    assert (item.amount, item.paid, item.outstanding) == (
        Decimal("0.30"),
        Decimal("0.10"),
        Decimal("0.20"),
    )
    assert sent[0]["name"] == 'Ümlaut & <Co> "BV"'


def test_error_bodies_map_onto_the_tree() -> None:
    redact = Redactor(["s3cr3t-token"])

    def error(
        status: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> APIError | None:
        request = httpx.Request("GET", f"{BASE}/v1/relation?x=s3cr3t-token")
        content = json.dumps(body).encode() if body is not None else b"<html>Bad gateway</html>"
        return parse_rest_error(
            httpx.Response(status, content=content, headers=headers, request=request), redact
        )

    assert error(200, {}) is None
    limited = error(429, {"type": "security", "title": "Too many"}, {"Retry-After": "3"})
    assert isinstance(limited, RateLimitError) and limited.retry_after == 3
    assert isinstance(error(502), ServerError)
    assert isinstance(
        error(400, {"type": "validation", "code": "MUT_020", "title": "x", "status": 400}),
        ConflictError,
    )
    iban = error(
        400,
        {
            "type": "validation",
            "code": "REL_007",
            "title": "Iban is invalid.",
            "propertyName": "iban",
        },
    )
    assert isinstance(iban, RemoteValidationError) and iban.field == "iban"
    email = error(
        400, {"type": "validation", "code": "ERR_002", "title": "x", "propertyName": "emailAddress"}
    )
    assert isinstance(email, RemoteValidationError) and email.field == "email"
    assert isinstance(
        error(401, {"type": "security", "code": "SECURITY_010", "title": "x"}), AuthenticationError
    )
    assert isinstance(error(404, {"type": "validation", "title": "Not Found"}), NotFoundError)
    unknown = error(
        400, {"type": "validation", "code": "XYZ_001", "title": "Odd", "traceId": "t-1"}
    )
    assert (
        type(unknown) is APIError and unknown is not None and unknown.context["trace_id"] == "t-1"
    )
    assert all("s3cr3t-token" not in str(e) for e in (limited, iban, unknown))


def test_settings_mask_secrets_and_name_bad_keys() -> None:
    settings = EBoekhoudenSettings.from_mapping({"backend": "rest", "access_token": "s3cr3t-token"})
    assert "s3cr3t-token" not in repr(settings) and "s3cr3t-token" not in str(settings)
    with pytest.raises(ConfigurationError, match="acces_token"):
        EBoekhoudenSettings.from_mapping({"backend": "rest", "acces_token": "x"})
    with pytest.raises(ConfigurationError, match="backend"):
        EBoekhoudenSettings.from_mapping({"backend": "ftp"})
    env = {"CRMCONNECT_EBOEKHOUDEN_BACKEND": "rest", "CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN": "t"}
    assert EBoekhoudenSettings.from_env(env).backend == "rest"


def test_update_needs_the_name_before_any_call(sandbox: EBoekhoudenSandbox) -> None:
    with client(sandbox) as books:
        stored = books.upsert_relation(Relation(code="1001", company="Bakkerij", city="Ede"))
        books.update_relation(stored.model_copy(update={"city": "Epe"}))
        calls = sandbox.stats.total
        with pytest.raises(ValidationError) as caught:
            books.update_relation(stored.model_copy(update={"company": None}))
        assert sandbox.stats.total == calls
        found = books.relation_by_code("1001")
    assert caught.value.field == "company"
    assert found is not None and (found.company, found.city) == ("Bakkerij", "Epe")


@pytest.mark.parametrize("with_token", [True, False])
def test_cli_access_token_accepted_and_never_shown(with_token: bool) -> None:
    secret = "cli-secret-access-token"
    login = ["--username", "jan", "--security-code-1", "c-one-x", "--security-code-2", "c-two-x"]
    process, url, banner = serve_cli(
        "eboekhouden", *login, *(["--access-token", secret] if with_token else [])
    )
    try:
        with httpx.Client(base_url=url) as raw:
            opened = raw.post("/v1/session", json={"accessToken": secret, "source": "cli"})
            demo = raw.post("/v1/session", json={"accessToken": DEMO_ACCESS_TOKEN, "source": "cli"})
    finally:
        process.terminate()
        output, errors = process.communicate(timeout=10)
    assert (opened.status_code == 200) is with_token
    assert demo.json()["code"] == "SECURITY_010"  # custom logins never take the demo token
    shown = banner + output + errors
    assert secret not in shown and "c-one-x" not in shown and "/v1/" in banner


def test_cli_demo_login_serves_rest_with_the_demo_token() -> None:
    process, url, banner = serve_cli("eboekhouden")
    try:
        with EBoekhoudenRestClient(DEMO_ACCESS_TOKEN, base_url=url) as books:
            codes = [ledger.code for ledger in books.ledgers(category="DEB")]
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert codes == ["1300"] and DEMO_ACCESS_TOKEN in banner


def test_session_renewed_before_it_expires(
    sandbox: EBoekhoudenSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr("crmconnect.eboekhouden.rest._client.time.monotonic", lambda: now[0])
    sandbox.session_ttl = 600  # expiresIn: 600 s
    with client(sandbox) as books:
        books.ledgers()
        now[0] += 560  # 40 s left: still used
        books.ledgers()
        assert books.sessions_opened == 1
        now[0] += 20  # 20 s left: renewed before the call
        books.ledgers()
        assert books.sessions_opened == 2
    assert sandbox.sessions_opened == 2


def test_closing_never_opens_a_session(sandbox: EBoekhoudenSandbox) -> None:
    books = client(sandbox)
    books.ledgers()
    sandbox.expire_sessions()
    books.close()  # DELETE with the expired token answers SECURITY_010: logged, not raised
    assert sandbox.sessions_opened == 1 and not books.session_open
    never = client(sandbox)
    never.close()
    assert sandbox.sessions_opened == 1 and sandbox.stats.requests["DELETE /v1/session"] == 1


def test_the_sandbox_refuses_hostile_requests_with_an_error_answer(
    sandbox: EBoekhoudenSandbox, api: httpx.Client
) -> None:
    sandbox.add_relation("1001", "Bakkerij")
    ids = {ledger.code: ledger.id for ledger in sandbox.ledgers}
    row = {"ledgerId": ids["8000"], "vatCode": "HOOG_VERK_21"}
    base = {"type": 2, "date": "2026-03-01", "ledgerId": ids["1300"], "inExVat": "EX"}
    deep = b"[" * 100_000 + b"]" * 100_000
    answers = [
        api.post("/v1/relation", content=deep),
        api.post("/v1/mutation", json={**base, "rows": [{**row, "amount": "1e999999"}]}),
        api.post("/v1/mutation", json={**base, "rows": [{**row, "amount": "NaN"}]}),
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(400, "ERR_002")] * 3
    assert sandbox.mutations == []
