"""Many accounts in one sandbox process: DigitaleFactuur and e-Boekhouden (SOAP and REST).

Each test serves one multi-account sandbox on loopback (or in-process) and
drives it with crmconnect's own clients, as tenants of a CRM vendor would.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from crmconnect.digitalefactuur import DigitaleFactuurClient
from crmconnect.digitalefactuur import Relation as DfRelation
from crmconnect.eboekhouden import EBoekhoudenClient, Relation
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.errors import APIError, AuthenticationError
from crmconnect.sandbox import (
    DEMO_CREDENTIALS,
    DigitaleFactuurMultiSandbox,
    EBoekhoudenCredentials,
    EBoekhoudenMultiSandbox,
    LineRecord,
    SandboxControl,
)

from .sandbox_cli import serve_cli

TENANTS = 8


def df_code(account_id: str) -> str:
    return f"access-{account_id}-code"


def login(n: int) -> EBoekhoudenCredentials:
    return EBoekhoudenCredentials(f"tenant-{n:02d}", f"code1-{n:04d}", f"code2-{n:04d}")


def codes(credentials: EBoekhoudenCredentials) -> tuple[str, str, str]:
    return credentials.username, credentials.security_code_1, credentials.security_code_2


def soap(url: str, credentials: EBoekhoudenCredentials) -> EBoekhoudenClient:
    return EBoekhoudenClient(*codes(credentials), base_url=f"{url}/soap.asmx", max_retries=0)


# --- DigitaleFactuur -------------------------------------------------------------------------


@pytest.fixture
def df_url() -> Iterator[tuple[DigitaleFactuurMultiSandbox, str]]:
    sandbox = DigitaleFactuurMultiSandbox(any_account=True)
    with sandbox.serve() as url:
        yield sandbox, url


def test_one_digitalefactuur_process_keeps_the_books_of_many_accounts_apart(
    df_url: tuple[DigitaleFactuurMultiSandbox, str],
) -> None:
    sandbox, url = df_url
    accounts = [str(30001 + n) for n in range(TENANTS)]
    for account in accounts:
        with DigitaleFactuurClient(account, df_code(account), base_url=url) as df:
            df.create_relation(DfRelation(number="1001", name=f"Klant van {account}"))
    seen = {}
    for account in accounts:
        with DigitaleFactuurClient(account, df_code(account), base_url=url) as df:
            seen[account] = [relation.name for relation in df.relations()]
    assert seen == {account: [f"Klant van {account}"] for account in accounts}
    assert len(sandbox.accounts) == TENANTS
    assert sandbox.account(accounts[3]).stats.requests["klant_aanmaken"] == 1
    assert sandbox.stats.total == sum(account.stats.total for account in sandbox.accounts)


def test_a_wrong_code_for_a_known_account_is_refused_and_malformed_ones_open_nothing(
    df_url: tuple[DigitaleFactuurMultiSandbox, str],
) -> None:
    sandbox, url = df_url
    with DigitaleFactuurClient("30001", df_code("30001"), base_url=url) as df:
        df.relations()  # opens the account with this code
    refused = [("30001", df_code("30002")), ("not-a-number", df_code("1")), ("30009", "short")]
    for account, code in refused:
        with DigitaleFactuurClient(account, code, base_url=url, max_retries=0) as df:
            with pytest.raises(AuthenticationError, match="401 Ongeldig account"):
                df.relations()
    assert [s.account_id for s in sandbox.accounts] == ["30001"]
    assert sandbox.account("30001").stats.statuses == {200: 2}  # DF refuses with HTTP 200


def test_a_listed_digitalefactuur_refuses_accounts_not_on_its_list() -> None:
    sandbox = DigitaleFactuurMultiSandbox([("40001", df_code("40001"))])
    with httpx.Client(transport=sandbox.transport(), base_url="https://df.example") as http:
        listed = http.get(f"/api/40001/{df_code('40001')}/klanten")
        other = http.get(f"/api/40002/{df_code('40002')}/klanten")
    assert listed.text.startswith("<?xml") and other.text.startswith("401 ")
    assert [s.account_id for s in sandbox.accounts] == ["40001"]


def test_the_rate_limit_counts_per_account_and_one_shot_faults_stay_in_their_account() -> None:
    sandbox = DigitaleFactuurMultiSandbox(any_account=True, rate_limit=1)
    first, second = (f"/api/{a}/{df_code(a)}/klanten" for a in ("50001", "50002"))
    with httpx.Client(transport=sandbox.transport(), base_url="https://df.example") as http:
        http.get(second)  # opens the account
        sandbox.account("50002").fail_next(1, "503")
        sandbox.account("50002").faults.rate_limit = None
        statuses = [http.get(path).status_code for path in (first, first, second, second)]
    assert statuses == [200, 429, 503, 200]  # 50001's limit, 50002's one-shot fault
    limited = [sandbox.account(a).stats.rate_limited for a in ("50001", "50002")]
    assert limited == [1, 0]
    assert sandbox.stats.rate_limited == 1 and sandbox.stats.faults == {"503": 1}


# --- e-Boekhouden ----------------------------------------------------------------------------


@pytest.fixture
def eb_url() -> Iterator[tuple[EBoekhoudenMultiSandbox, str]]:
    sandbox = EBoekhoudenMultiSandbox([DEMO_CREDENTIALS], any_account=True)
    with sandbox.serve() as url:
        yield sandbox, url


def test_one_eboekhouden_process_keeps_the_books_of_many_soap_logins_apart(
    eb_url: tuple[EBoekhoudenMultiSandbox, str],
) -> None:
    sandbox, url = eb_url
    for n in range(TENANTS):
        with soap(url, login(n)) as books:
            books.add_relation(Relation(code="R1", company=f"Klant van tenant {n}"))
    for n in range(TENANTS):
        with soap(url, login(n)) as books:
            assert [r.company for r in books.relations()] == [f"Klant van tenant {n}"]
    assert len(sandbox.accounts) == TENANTS + 1  # and the demo account
    assert sandbox.account("TENANT-03").relations[0].company == "Klant van tenant 3"
    assert sandbox.account("tenant-03").stats.requests["AddRelatie"] == 1


def test_eboekhouden_refuses_wrong_and_malformed_logins_as_unknown_ones(
    eb_url: tuple[EBoekhoudenMultiSandbox, str],
) -> None:
    sandbox, url = eb_url
    with soap(url, login(1)) as books:
        books.relations()
    wrong = EBoekhoudenCredentials("tenant-01", "code1-9999", "code2-0001")
    malformed = [
        EBoekhoudenCredentials("tenant 02", "code1-0002", "code2-0002"),  # a space
        EBoekhoudenCredentials("tenant-03", "short", "code2-0003"),
        EBoekhoudenCredentials("tenant-04", "code1-0004", "code<2>"),
    ]
    for credentials in [wrong, *malformed]:
        with (
            soap(url, credentials) as books,
            pytest.raises(AuthenticationError, match="SECURITY_010"),
        ):
            books.relations()
    assert len(sandbox.accounts) == 2  # the demo account and tenant-01


def test_a_session_of_one_account_reaches_no_other_books(
    eb_url: tuple[EBoekhoudenMultiSandbox, str],
) -> None:
    sandbox, url = eb_url
    envelope = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<{op} xmlns="http://www.e-boekhouden.nl/soap">{args}</{op}></soap:Body></soap:Envelope>'
    )

    def call(http: httpx.Client, op: str, **args: str) -> str:
        body = envelope.format(op=op, args="".join(f"<{k}>{v}</{k}>" for k, v in args.items()))
        headers = {"Content-Type": "text/xml; charset=utf-8",
                   "SOAPAction": f"http://www.e-boekhouden.nl/soap/{op}"}  # fmt: skip
        return http.post(f"{url}/soap.asmx", content=body, headers=headers).text

    a, b = login(1), login(2)
    with httpx.Client() as http:
        call(http, "OpenSession", Username=b.username, SecurityCode1=b.security_code_1,
             SecurityCode2=b.security_code_2, Source="test")  # fmt: skip
        opened = call(http, "OpenSession", Username=a.username, SecurityCode1=a.security_code_1,
                      SecurityCode2=a.security_code_2, Source="test")  # fmt: skip
        session = opened.split("<SessionID>")[1].split("<")[0]
        with_b_code = call(http, "GetRelaties", SessionID=session, SecurityCode2=b.security_code_2)
        with_a_code = call(http, "GetRelaties", SessionID=session, SecurityCode2=a.security_code_2)
    assert "SECURITY_001" in with_b_code and "<LastErrorCode />" in with_a_code
    assert sandbox.account(a.username).stats.requests["GetRelaties"] == 2


def test_rest_tokens_open_their_own_books_and_a_listed_account_shares_them_with_soap() -> None:
    both = EBoekhoudenCredentials("tenant-77", "code1-0077", "code2-0077", "token-of-tenant-77")
    sandbox = EBoekhoudenMultiSandbox([both], any_account=True)
    with sandbox.serve() as url:
        with soap(url, both) as books:
            books.add_relation(Relation(code="R77", company="Via SOAP"))
        with EBoekhoudenRestClient("token-of-tenant-77", base_url=url) as rest:
            shared = [r.company for r in rest.relations()]
        with EBoekhoudenRestClient("token-of-a-rest-tenant", base_url=url) as rest:
            rest.add_relation(Relation(code="R1", company="Via REST"))
            own = [r.company for r in rest.relations()]
        with EBoekhoudenRestClient("bad token!", base_url=url, max_retries=0) as rest:
            with pytest.raises(AuthenticationError, match="SECURITY_010"):
                rest.relations()
    assert shared == ["Via SOAP"] and own == ["Via REST"]
    assert sandbox.account("token-of-a-rest-tenant").relations[0].company == "Via REST"
    assert len(sandbox.accounts) == 2


def test_a_listed_eboekhouden_refuses_tokens_not_on_its_list() -> None:
    sandbox = EBoekhoudenMultiSandbox([EBoekhoudenCredentials("", "", "", "listed-token-1")])
    with httpx.Client(transport=sandbox.transport(), base_url="https://api.example") as http:

        def open_session(token: str) -> int:
            body = {"accessToken": token, "source": "test"}
            return http.post("/v1/session", json=body).status_code

        assert [open_session("listed-token-1"), open_session("other-token-2")] == [200, 401]


def test_a_multi_account_eboekhouden_answers_zeep_in_process() -> None:
    sandbox = EBoekhoudenMultiSandbox(any_account=True)
    session = sandbox.requests_session()
    try:
        for n in (1, 2):
            with EBoekhoudenClient(*codes(login(n)), session=session) as books:
                books.add_relation(Relation(code=f"R{n}", company=f"Klant {n}"))
    finally:
        session.close()
    assert [[r.code for r in s.relations] for s in sandbox.accounts] == [["R1"], ["R2"]]


def test_an_eboekhouden_rate_limit_per_account_reaches_each_tenant_alone() -> None:
    sandbox = EBoekhoudenMultiSandbox(any_account=True, rate_limit=2)
    session = sandbox.requests_session()
    first, second = (
        EBoekhoudenClient(*codes(login(n)), session=session, max_retries=0) for n in (1, 2)
    )
    try:
        first.relations()  # OpenSession and GetRelaties: account 1's two requests this second
        with pytest.raises(APIError) as limited:  # the SOAP client has no RateLimitError
            first.relations()
        second.relations()  # account 2's own two
    finally:
        session.close()
    assert limited.value.status_code == 429
    assert [s.stats.rate_limited for s in sandbox.accounts] == [1, 0]


# --- the command line ------------------------------------------------------------------------


def test_the_cli_serves_listed_and_any_accounts_and_its_control_answers_another_process(
    tmp_path: Path,
) -> None:
    listed = tmp_path / "accounts.json"
    listed.write_text(json.dumps([{"account_id": "60001", "access_code": df_code("60001")}]))
    process, url, banner = serve_cli("digitalefactuur", "--any-account", "--accounts", str(listed))
    try:
        with DigitaleFactuurClient("60001", df_code("60001"), base_url=url) as df:
            created = df.create_relation(DfRelation(number="1001", name="Bakkerij Jansen"))
        with DigitaleFactuurClient("60002", df_code("60002"), base_url=url) as df:
            assert df.relations() == []
        with SandboxControl(url) as control:
            control.edit_relation(str(created.id), plaats="Utrecht", account="60001")
            counts = control.stats()
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert [a["total"] for a in counts["accounts"]] == [1, 1]
    assert df_code("60001") not in banner + output and "60001" not in banner
    assert "1 listed" in banner and "/_control/" in banner


def test_the_cli_reads_a_toml_list_of_eboekhouden_accounts(tmp_path: Path) -> None:
    listed = tmp_path / "accounts.toml"
    listed.write_text(
        '[[accounts]]\nusername = "tenant-88"\nsecurity_code_1 = "code1-0088"\n'
        'security_code_2 = "code2-0088"\naccess_token = "token-of-tenant-88"\n'
    )
    process, url, banner = serve_cli("eboekhouden", "--accounts", str(listed), "--rate-limit", "50")
    try:
        with soap(url, EBoekhoudenCredentials("tenant-88", "code1-0088", "code2-0088")) as books:
            books.add_relation(Relation(code="R88", company="Bakkerij"))
        with EBoekhoudenRestClient("token-of-tenant-88", base_url=url) as rest:
            companies = [r.company for r in rest.relations()]
        with soap(url, DEMO_CREDENTIALS) as books, pytest.raises(AuthenticationError):
            books.relations()  # a list without the demo login
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert companies == ["Bakkerij"]
    assert "code1-0088" not in banner + output and "tenant-88" not in banner
    assert "50 requests/s per account" in banner


def test_payments_registered_in_one_account_show_in_that_account_only() -> None:
    sandbox = EBoekhoudenMultiSandbox(any_account=True)
    for n in (1, 2):
        books = sandbox.add_account(login(n))
        books.add_relation("R1", "Klant")
        books.add_mutation(
            "FactuurVerstuurd", dt.date(2026, 3, 1), ledger_code="1300", relation_code="R1",
            invoice_number="F1", lines=[LineRecord.of("100", "HOOG_VERK_21", "8000")],
        )  # fmt: skip
    sandbox.account("tenant-01").pay("F1", "60.50")
    paid = [s.open_items()[0].paid for s in sandbox.accounts]
    assert paid == [Decimal("60.50"), Decimal("0.00")]
