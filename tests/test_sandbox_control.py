"""The control endpoint of served sandboxes (``/_control/``) and `SandboxControl`.

The sandboxes run on a loopback server in a thread; the tests talk to them
over real HTTP, as a test or demo in another process would.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from crmconnect.digitalefactuur import DigitaleFactuurClient
from crmconnect.eboekhouden import EBoekhoudenClient
from crmconnect.errors import (
    AuthenticationError,
    ConflictError,
    ConnectError,
    NotFoundError,
    RemoteValidationError,
    ServerError,
)
from crmconnect.sandbox import (
    DEMO_ACCESS_CODE,
    DEMO_ACCOUNT_ID,
    DEMO_CREDENTIALS,
    DigitaleFactuurMultiSandbox,
    DigitaleFactuurSandbox,
    EBoekhoudenCredentials,
    EBoekhoudenMultiSandbox,
    EBoekhoudenSandbox,
    KvKSandbox,
    LineRecord,
    SandboxControl,
    SandboxRequest,
)
from crmconnect.sandbox._control import ControlApi, OneAccount, is_loopback_peer
from crmconnect.sandbox._core import _from_httpx, _to_httpx
from crmconnect.sandbox._digitalefactuur_accounts import DigitaleFactuurControl


@pytest.fixture
def df() -> Iterator[tuple[DigitaleFactuurSandbox, str]]:
    sandbox = DigitaleFactuurSandbox()
    relation = sandbox.add_relation(naam="Bakkerij Jansen", plaats="Ede")
    sandbox.add_invoice(relation["id"], "F2026-001", [("Advies", 1, "100.00", "0.21")])
    with sandbox.serve() as url:
        yield sandbox, url


def df_client(url: str) -> DigitaleFactuurClient:
    return DigitaleFactuurClient(DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE, base_url=url, max_retries=0)


def test_a_payment_registered_through_the_control_reaches_the_client(
    df: tuple[DigitaleFactuurSandbox, str],
) -> None:
    _, url = df
    with SandboxControl(url) as control, df_client(url) as client:
        part = control.pay("F2026-001", "21.00")
        [open_] = client.invoices(number="F2026-001")
        full = control.pay("F2026-001")
        [paid] = client.invoices(number="F2026-001")
        with pytest.raises(NotFoundError):
            control.pay("F2026-999")
    assert (part["paid"], part["status"]) == ("21.00", "openstaand")
    assert (open_.paid, str(open_.payment_status)) == (Decimal("21.00"), "openstaand")
    assert (full["status"], str(paid.payment_status)) == ("betaald", "betaald")


def test_a_relation_edited_through_the_control_reaches_the_client(
    df: tuple[DigitaleFactuurSandbox, str],
) -> None:
    sandbox, url = df
    relation_id = sandbox.relations[0]["id"]
    with SandboxControl(url) as control, df_client(url) as client:
        control.edit_relation(relation_id, plaats="Utrecht")
        with pytest.raises(RemoteValidationError) as refused:
            control.edit_relation(relation_id, kleur="blauw")
        found = client.relation(relation_id)
    assert found is not None and (found.city, found.name) == ("Utrecht", "Bakkerij Jansen")
    assert refused.value.field == "elements" and "kleur" in str(refused.value)


def test_faults_injected_through_the_control_reach_clients_but_not_the_control(
    df: tuple[DigitaleFactuurSandbox, str],
) -> None:
    sandbox, url = df
    with SandboxControl(url) as control, df_client(url) as client:
        control.set_faults(error_rate=1.0, error_kinds=["503"])
        with pytest.raises(ServerError):
            client.relations()
        settings = control.faults()  # the control itself is never failed
        control.clear_faults()
        assert [r.name for r in client.relations()] == ["Bakkerij Jansen"]
        pending = control.fail_next(2, "500", "klant_aanmaken")
        counts = control.stats()
    assert settings["error_rate"] == 1.0 and sandbox.faults.error_rate == 0.0
    assert pending == 2 == sandbox.faults.pending
    assert counts["faults"] == {"503": 1} and counts["statuses"]["503"] == 1


def test_the_control_counts_per_account_and_never_shows_a_key() -> None:
    accounts = [("70001", "first-access-code"), ("70002", "second-access-code")]
    sandbox = DigitaleFactuurMultiSandbox(accounts)
    with sandbox.serve() as url, SandboxControl(url) as control:
        with DigitaleFactuurClient(*accounts[0], base_url=url) as client:
            client.relations()
        control.fail_next(1, "503", "klanten", account="70002")
        mine = control.stats(account="70001")
        everything = control.stats()
        listing = control.accounts()
        with pytest.raises(RemoteValidationError) as unnamed:
            control.pay("F1")  # which account's invoice?
        with pytest.raises(NotFoundError):
            control.stats(account="79999")
    shown = json.dumps([everything, listing])
    assert mine["requests"] == {"klanten": 1} and everything["total"] == 1
    assert [a["total"] for a in everything["accounts"]] == [1, 0]
    assert sandbox.account("70002").faults.pending == 1 and sandbox.faults.pending == 0
    assert unnamed.value.field == "account"
    assert not any(secret in shown for pair in accounts for secret in pair)


def test_the_control_sets_the_rate_limit_of_every_account_and_opens_accounts() -> None:
    sandbox = DigitaleFactuurMultiSandbox([("70001", "first-access-code")])
    with sandbox.serve() as url, SandboxControl(url) as control:
        control.set_faults(rate_limit=5)
        control.add_account(account_id="70002", access_code="second-access-code")
        with pytest.raises(ConflictError):
            control.add_account(account_id="70002", access_code="another-access-code")
        process = control.faults()
    assert [s.faults.rate_limit for s in sandbox.accounts] == [5.0, 5.0]
    assert process["rate_limit"] is None  # the services limit per account, not per process


def test_eboekhouden_payments_in_full_or_in_part_through_the_control() -> None:
    sandbox = EBoekhoudenSandbox()
    sandbox.add_relation("R1", "Bakkerij Jansen")
    sandbox.add_mutation(
        "FactuurVerstuurd", dt.date(2026, 3, 1), ledger_code="1300", relation_code="R1",
        invoice_number="F1", lines=[LineRecord.of("100", "HOOG_VERK_21", "8000")],
    )  # fmt: skip
    with sandbox.serve() as url, SandboxControl(url) as control:
        control.pay("F1", "21.00", date="2026-03-10")
        with EBoekhoudenClient(
            DEMO_CREDENTIALS.username, DEMO_CREDENTIALS.security_code_1,
            DEMO_CREDENTIALS.security_code_2, base_url=f"{url}/soap.asmx",
        ) as books:  # fmt: skip
            [item] = books.open_items()
        rest = control.pay("F1")
        with pytest.raises(ConflictError):
            control.pay("F1")  # nothing left
        items = control.call("open_items", include_settled=True)
        by_token = control.stats(account=str(DEMO_CREDENTIALS.access_token))
        with pytest.raises(NotFoundError):
            control.stats(account="someone-else")
    assert (item.paid, item.outstanding) == (Decimal("21.00"), Decimal("100.00"))
    assert rest["amount"] == "100.00" and items[0]["state"] == "paid"
    assert by_token["requests"]["GetOpenPosten"] == 1


def test_eboekhouden_accounts_are_named_by_username_or_token_in_control_calls() -> None:
    both = EBoekhoudenCredentials("tenant-01", "code1-0001", "code2-0001", "token-of-tenant-01")
    sandbox = EBoekhoudenMultiSandbox([both])
    with sandbox.serve() as url, SandboxControl(url) as control:
        control.call("add_relation", account="TENANT-01", code="R1", company="Via control")
        by_token = control.call("relations", account="token-of-tenant-01")
        control.add_account(access_token="token-of-a-rest-tenant")
        control.fail_next(1, "drop_after", "POST /v1/mutation", account="token-of-a-rest-tenant")
        with pytest.raises(RemoteValidationError):
            control.fail_next(1, "500", "NoSuchOperation", account="tenant-01")
        listing = control.accounts()
    assert [r["company"] for r in by_token] == ["Via control"]
    assert sandbox.account("token-of-a-rest-tenant").faults.pending == 1
    assert [a["account"] for a in listing] == ["***", "toke***"]  # short keys: no hint


# --- safety ----------------------------------------------------------------------------------


def control_request(host: str = "127.0.0.1:8125") -> SandboxRequest:
    headers = {"Host": host, "Content-Type": "application/json"}
    return SandboxRequest("POST", "/_control/stats", headers=headers, body=b"{}")


@pytest.mark.parametrize(
    ("peer", "answered"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
     ("192.0.2.10", False), ("10.0.0.1", False), ("::ffff:192.0.2.10", False), ("2001:db8::1", False),
     ("localhost", False)],
)  # fmt: skip
def test_the_control_answers_loopback_peers_only(peer: str, answered: bool) -> None:
    sandbox = DigitaleFactuurSandbox()
    control = DigitaleFactuurControl(OneAccount(sandbox, sandbox.account_id))
    answer = control.answer(control_request(), peer)
    assert is_loopback_peer(peer) is answered
    assert answer.status == (200 if answered else 403)


def test_the_control_refuses_foreign_host_names_and_form_posts() -> None:
    sandbox = KvKSandbox()
    control = ControlApi.plain(sandbox.faults, sandbox.stats)
    rebinding = control.answer(control_request(host="evil.example:8125"), "127.0.0.1")
    form = SandboxRequest(
        "POST", "/_control/set_faults", headers={"Host": "localhost:8125",
        "Content-Type": "application/x-www-form-urlencoded"}, body=b'{"latency": 5}',
    )  # fmt: skip
    assert rebinding.status == 403 and control.answer(form, "127.0.0.1").status == 415


def test_the_control_is_not_reachable_through_the_in_process_transports() -> None:
    df_sandbox, eb_sandbox = DigitaleFactuurSandbox(), EBoekhoudenSandbox()
    with httpx.Client(transport=df_sandbox.transport(), base_url="http://127.0.0.1") as http:
        df_answer = http.post("/_control/set_faults", json={"error_rate": 1})
    session = eb_sandbox.requests_session()
    try:
        eb_answer = session.post("http://127.0.0.1/_control/clear_faults", json={})
    finally:
        session.close()
    assert df_answer.text.startswith("404 Onbekende URL") and eb_answer.status_code == 404
    assert df_sandbox.stats.total == 1 and eb_sandbox.stats.total == 1  # counted as requests


def test_every_served_sandbox_has_the_generic_control() -> None:
    sandbox = KvKSandbox()
    with sandbox.serve() as url, SandboxControl(url) as control:
        info = control.info()
        control.fail_next(1, "503", "/test/api/v2/zoeken")
        answer = httpx.get(f"{url}/test/api/v2/zoeken?kvkNummer=69599084",
                           headers={"apikey": "sandbox"})  # fmt: skip
        counts = control.stats()
    assert info["many_accounts"] is False and "pay" not in info["calls"]
    assert answer.status_code == 503 and counts["faults"] == {"503": 1}


def test_sandbox_control_maps_refusals_to_crmconnect_errors(
    df: tuple[DigitaleFactuurSandbox, str],
) -> None:
    sandbox, url = df
    with SandboxControl(url) as control:
        with pytest.raises(NotFoundError, match="no control call"):
            control.call("no_such_call")
        with pytest.raises(RemoteValidationError) as unknown:
            control.call("stats", acount="10001")
        with pytest.raises(NotFoundError, match="no such relation"):
            control.call("add_invoice", relation_id="1", number="F9", lines=[])
        relation_id = sandbox.relations[0]["id"]
        control.call("add_invoice", relation_id=relation_id, number="F2026-001", lines=[])
        with pytest.raises(ConflictError, match="2 invoices"):
            control.pay("F2026-001")
    with SandboxControl(url, transport=_seen_from("192.0.2.10", sandbox)) as remote:
        with pytest.raises(AuthenticationError, match="loopback"):
            remote.stats()
    with pytest.raises(ConnectError), SandboxControl("http://127.0.0.1:9") as nobody:
        nobody.info()
    assert unknown.value.field == "acount"


def _seen_from(peer: str, sandbox: DigitaleFactuurSandbox) -> httpx.BaseTransport:
    """The sandbox's control as a client at ``peer`` reaches it (the server's own check)."""
    control = DigitaleFactuurControl(OneAccount(sandbox, sandbox.account_id))

    def answer(request: httpx.Request) -> httpx.Response:
        return _to_httpx(control.answer(_from_httpx(request, request.read()), peer), request)

    return httpx.MockTransport(answer)
