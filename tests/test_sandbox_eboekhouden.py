"""The e-Boekhouden sandbox, driven by zeep built from the REAL WSDL (../shared/reference).

Most tests run in-process (zeep's requests session mounted on the sandbox); the
loopback server is used where the socket matters (dropped connections, CLI).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import zeep
import zeep.exceptions

from crmconnect.errors import ConfigurationError
from crmconnect.mapping import vat_breakdown
from crmconnect.sandbox import (
    DEMO_CREDENTIALS,
    DEMO_SECURITY_CODE_1,
    DEMO_SECURITY_CODE_2,
    DEMO_USERNAME,
    MUTATION_LIMIT,
    SOAP_NAMESPACE,
    VAT_CODES,
    AdministrationRecord,
    EBoekhoudenCredentials,
    EBoekhoudenSandbox,
    InBandError,
    LineRecord,
)
from crmconnect.sandbox import _eboekhouden as eb_module

BINDING = f"{{{SOAP_NAMESPACE}}}soapAppSoap"
BINDING_12 = f"{{{SOAP_NAMESPACE}}}soapAppSoap12"
REMOTE_URL = "https://soap.e-boekhouden.nl/soap.asmx"
CODE_2 = DEMO_SECURITY_CODE_2
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2200, 1, 1)
INVOICE_DATE = dt.date(2024, 3, 1)


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wsdl(reference_dir: Path) -> str:
    path = reference_dir / "eboekhouden" / "soap.wsdl"
    if not path.is_file():
        pytest.skip(f"the real e-Boekhouden WSDL is missing at {path}")
    return str(path)


@pytest.fixture
def sandbox() -> EBoekhoudenSandbox:
    return EBoekhoudenSandbox()


@pytest.fixture
def http_sessions() -> Iterator[list[requests.Session]]:
    """requests sessions to close after the test (no ResourceWarning under -W error)."""
    opened: list[requests.Session] = []
    yield opened
    for session in opened:
        session.close()


class Soap:
    """zeep's service proxy from the real WSDL, plus the open session."""

    def __init__(self, service: Any) -> None:
        self.service = service
        result = service.OpenSession(DEMO_USERNAME, DEMO_SECURITY_CODE_1, CODE_2, "pytest")
        assert_ok(result)
        self.session_id: str = result.SessionID

    def __call__(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.service, operation)(self.session_id, CODE_2, *args, **kwargs)


ServiceFactory = Callable[..., Any]


@pytest.fixture
def make_service(wsdl: str, http_sessions: list[requests.Session]) -> ServiceFactory:
    def make(
        sandbox: EBoekhoudenSandbox,
        url: str = REMOTE_URL,
        *,
        binding: str = BINDING,
        in_process: bool = True,
    ) -> Any:
        session = sandbox.requests_session() if in_process else requests.Session()
        http_sessions.append(session)
        client = zeep.Client(wsdl, transport=zeep.Transport(session=session))
        return client.create_service(binding, url)

    return make


@pytest.fixture
def soap(sandbox: EBoekhoudenSandbox, make_service: ServiceFactory) -> Soap:
    return Soap(make_service(sandbox))


def assert_ok(result: Any) -> None:
    error = result.ErrorMsg if hasattr(result, "ErrorMsg") else result
    assert error.LastErrorCode is None and error.LastErrorDescription is None, error


def error_code(result: Any) -> str:
    error = result.ErrorMsg if hasattr(result, "ErrorMsg") else result
    assert error.LastErrorDescription, "an error must have a text"
    return str(error.LastErrorCode)


def items(result: Any, wrapper: str, element: str) -> list[Any]:
    outer = getattr(result, wrapper)
    return [] if outer is None else list(getattr(outer, element))


def relation(code: str, company: str = "Bakkerij Jansen B.V.", **fields: Any) -> dict[str, Any]:
    """A cRelatie with every minOccurs=1 element, as zeep insists."""
    base = {
        "ID": 0,
        "AddDatum": dt.date(2024, 1, 15),
        "Code": code,
        "Bedrijf": company,
        "Gb_ID": 0,
        "GeenEmail": 0,
        "NieuwsbriefgroepenCount": 0,
    }
    return base | fields


def line(
    excl: str,
    vat: str,
    vat_code: str,
    ledger: str = "8000",
    *,
    rate: str = "21",
    cost_centre: int = 0,
) -> dict[str, Any]:
    excl_amount, vat_amount = Decimal(excl), Decimal(vat)
    return {
        "BedragInvoer": excl_amount,
        "BedragExclBTW": excl_amount,
        "BedragBTW": vat_amount,
        "BedragInclBTW": excl_amount + vat_amount,
        "BTWCode": vat_code,
        "BTWPercentage": Decimal(rate),
        "TegenrekeningCode": ledger,
        "KostenplaatsID": cost_centre,
    }


def mutation(kind: str, lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    base = {
        "MutatieNr": 0,
        "Soort": kind,
        "Datum": INVOICE_DATE,
        "Rekening": "1300",
        "RelatieCode": "R1",
        "Factuurnummer": "F2024-001",
        "Omschrijving": "Factuur F2024-001",
        "Betalingstermijn": "30",
        "InExBTW": "EX",
        "MutatieRegels": {"cMutatieRegel": lines},
    }
    return base | fields


def sales_invoice(**fields: Any) -> dict[str, Any]:
    """100.00 at 21 % on 8000 and 50.00 at 9 % on 8010: 121.00 + 54.50 = 175.50."""
    lines = [
        line("100.00", "21.00", "HOOG_VERK_21"),
        line("50.00", "4.50", "LAAG_VERK_9", "8010", rate="9"),
    ]
    return mutation("FactuurVerstuurd", lines, **fields)


def all_mutations(**fields: Any) -> dict[str, Any]:
    return {"MutatieNr": 0, "DatumVan": EARLIEST, "DatumTm": LATEST} | fields


def post(
    sandbox: EBoekhoudenSandbox, body: bytes | str, action: str = "OpenSession", **headers: str
) -> httpx.Response:
    """A raw SOAP 1.1 POST through the sandbox's httpx transport."""
    with httpx.Client(
        transport=sandbox.transport(), base_url="https://soap.e-boekhouden.nl"
    ) as client:
        return client.post(
            "/soap.asmx",
            content=body,
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": f'"{SOAP_NAMESPACE}/{action}"',
                **headers,
            },
        )


def envelope(inner: str, prolog: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f"<soap:Body>{inner}</soap:Body></soap:Envelope>"
    )


def open_session_xml(username: str = DEMO_USERNAME) -> str:
    return envelope(
        f'<OpenSession xmlns="{SOAP_NAMESPACE}"><Username>{username}</Username>'
        f"<SecurityCode1>{DEMO_SECURITY_CODE_1}</SecurityCode1>"
        f"<SecurityCode2>{CODE_2}</SecurityCode2></OpenSession>"
    )


# --- sessions and credentials -------------------------------------------------------------


def test_session_lifecycle(sandbox: EBoekhoudenSandbox, soap: Soap) -> None:
    assert sandbox.sessions_opened == 1 and sandbox.open_sessions == 1
    assert re.fullmatch(r"[0-9A-F]{32}", soap.session_id)

    result = soap("GetAdministraties")
    assert_ok(result)
    [administration] = items(result, "Administraties", "cAdministratie")
    assert administration.Bedrijf == "Demo B.V."
    assert administration.Guid == sandbox.administrations[0].guid

    assert soap.service.CloseSession(soap.session_id) is None  # empty CloseSessionResponse
    assert sandbox.open_sessions == 0
    after = soap("GetAdministraties")
    assert error_code(after) == "SECURITY_002"
    assert "sessie" in after.ErrorMsg.LastErrorDescription.lower()
    assert after.Administraties is None
    # Closing twice is harmless: the response has nothing to report.
    assert soap.service.CloseSession(soap.session_id) is None
    assert sandbox.stats.requests["OpenSession"] == 1
    assert sandbox.stats.statuses == {200: sandbox.stats.total}


@pytest.mark.parametrize(
    ("username", "code_1", "code_2"),
    [
        ("someone", DEMO_SECURITY_CODE_1, DEMO_SECURITY_CODE_2),
        (DEMO_USERNAME, "wrong-code-1", DEMO_SECURITY_CODE_2),
        (DEMO_USERNAME, DEMO_SECURITY_CODE_1, "wrong-code-2"),
        (DEMO_USERNAME, None, None),
    ],
)
def test_bad_credentials_answer_in_band(
    sandbox: EBoekhoudenSandbox,
    make_service: ServiceFactory,
    username: str,
    code_1: str | None,
    code_2: str | None,
) -> None:
    service = make_service(sandbox)
    result = service.OpenSession(username, code_1, code_2, "pytest")
    assert error_code(result) == "SECURITY_010"
    assert result.SessionID is None
    text = result.ErrorMsg.LastErrorDescription
    assert "beveiligingscode" in text.lower()
    for secret in ("wrong-code", DEMO_SECURITY_CODE_1, DEMO_SECURITY_CODE_2):
        assert secret not in text
    assert sandbox.sessions_opened == 0


def test_username_is_case_insensitive_codes_are_not(
    sandbox: EBoekhoudenSandbox, make_service: ServiceFactory
) -> None:
    service = make_service(sandbox)
    assert_ok(service.OpenSession("DEMO", DEMO_SECURITY_CODE_1, CODE_2))
    upper = service.OpenSession(DEMO_USERNAME, DEMO_SECURITY_CODE_1.upper(), CODE_2)
    assert error_code(upper) == "SECURITY_010"


def test_custom_credentials(make_service: ServiceFactory) -> None:
    credentials = EBoekhoudenCredentials(
        "jan.jansen", "0123456789abcdef0123456789abcdef", "8C1F-GUID"
    )
    sandbox = EBoekhoudenSandbox(credentials)
    service = make_service(sandbox)
    assert (
        error_code(service.OpenSession(DEMO_USERNAME, DEMO_SECURITY_CODE_1, CODE_2))
        == "SECURITY_010"
    )
    assert_ok(
        service.OpenSession("jan.jansen", credentials.security_code_1, credentials.security_code_2)
    )
    for shown in (repr(credentials), repr(sandbox)):
        assert credentials.security_code_1 not in shown and credentials.security_code_2 not in shown
        assert "jan.jansen" not in shown


def test_wrong_security_code_2_on_a_call(soap: Soap) -> None:
    result = soap.service.GetAdministraties(soap.session_id, "not-the-code")
    assert error_code(result) == "SECURITY_001"


def test_expired_sessions(
    sandbox: EBoekhoudenSandbox, soap: Soap, make_service: ServiceFactory
) -> None:
    assert sandbox.expire_sessions() == 1
    assert error_code(soap("GetKostenplaatsen", {})) == "SECURITY_002"
    unknown = soap.service.GetKostenplaatsen("NO-SUCH-SESSION", CODE_2, {})
    assert error_code(unknown) == "SECURITY_002"

    # An idle timeout, on a clock the test moves.
    now = [0.0]
    timed = EBoekhoudenSandbox(session_ttl=60, clock=lambda: now[0])
    client = Soap(make_service(timed))
    now[0] = 59
    assert_ok(client("GetKostenplaatsen", {}))  # use refreshes the session
    now[0] = 118
    assert_ok(client("GetKostenplaatsen", {}))
    now[0] = 179
    assert error_code(client("GetKostenplaatsen", {})) == "SECURITY_002"
    assert timed.open_sessions == 0


def test_open_session_sub_per_administration(make_service: ServiceFactory) -> None:
    second = AdministrationRecord(
        "Klant Twee B.V.", "Zwolle", "11111111-2222-3333-4444-555555555555", "2023"
    )
    sandbox = EBoekhoudenSandbox(
        administrations=[AdministrationRecord("Kantoor B.V.", "Amersfoort", "AAAA-0001"), second]
    )
    service = make_service(sandbox)
    main = Soap(service)
    listed = items(main("GetAdministraties"), "Administraties", "cAdministratie")
    assert [(a.Bedrijf, a.Plaats, a.Guid, a.StartBoekjaar) for a in listed] == [
        ("Kantoor B.V.", "Amersfoort", "AAAA-0001", "2020"),
        ("Klant Twee B.V.", "Zwolle", second.guid, "2023"),
    ]

    sub = service.OpenSessionSub(
        DEMO_USERNAME, DEMO_SECURITY_CODE_1, CODE_2, "pytest", second.guid.lower()
    )
    assert_ok(sub)
    assert_ok(service.AddRelatie(sub.SessionID, CODE_2, relation("Z1", "Zwolse Zaak")))
    assert [r.code for r in sandbox.books(second.guid).relations] == ["Z1"]
    assert sandbox.relations == []  # the main administration is untouched
    assert items(main("GetRelaties", {"ID": 0}), "Relaties", "cRelatie") == []

    unknown = service.OpenSessionSub(DEMO_USERNAME, DEMO_SECURITY_CODE_1, CODE_2, "pytest", "nope")
    assert error_code(unknown) == "SECURITY_003"
    wrong = service.OpenSessionSub(DEMO_USERNAME, "x", CODE_2, "pytest", second.guid)
    assert error_code(wrong) == "SECURITY_010"


# --- relations ----------------------------------------------------------------------------


def test_relations_add_get_update(sandbox: EBoekhoudenSandbox, soap: Soap) -> None:
    full = relation(
        "R1",
        "Bakkerij Jansen & Zn B.V.",
        Contactpersoon="Jan Jansen",
        Geslacht="m",
        Adres="Dorpsstraat 1",
        Postcode="3511 AA",
        Plaats="Utrecht",
        Land="NL",
        Adres2="Postbus 12",
        Postcode2="3500 AA",
        Plaats2="Utrecht",
        Land2="NL",
        Email="info@jansen.example",
        BTWNummer="NL001234567B01",
        KvkNummer="69599084",
        IBAN="NL91ABNA0417164300",
        BIC="ABNANL2A",
        BP="B",
        Def1="klant sinds 2001",
        Def10="tien",
        LA="0",
        Gb_ID=sandbox.books().ledger("1300").id,  # type: ignore[union-attr]
    )
    added = soap("AddRelatie", full)
    assert_ok(added)
    assert added.Rel_ID == sandbox.relations[0].id > 0

    [found] = items(soap("GetRelaties", {"Code": "r1", "ID": 0}), "Relaties", "cRelatie")
    assert added.Rel_ID == found.ID
    assert found.AddDatum == dt.datetime(2024, 1, 15)
    for name, value in full.items():
        if name not in ("ID", "AddDatum"):
            assert getattr(found, name) == value, name
    assert found.Telefoon is None  # never set: an empty element

    # Duplicate code (also in another case): refused in-band, nothing added.
    duplicate = soap("AddRelatie", relation("r1", "Iemand anders"))
    assert error_code(duplicate) == "REL_049"
    assert "bestaat al" in duplicate.ErrorMsg.LastErrorDescription
    assert duplicate.Rel_ID == 0
    assert len(sandbox.relations) == 1

    assert_ok(soap("AddRelatie", relation("R2", "Fietsen Pietersen", Plaats="Zwolle", BP="P")))
    by_keyword = items(soap("GetRelaties", {"Trefwoord": "zwol", "ID": 0}), "Relaties", "cRelatie")
    assert [r.Code for r in by_keyword] == ["R2"]
    by_id = items(soap("GetRelaties", {"ID": added.Rel_ID}), "Relaties", "cRelatie")
    assert [r.Code for r in by_id] == ["R1"]
    assert len(items(soap("GetRelaties", {"ID": 0}), "Relaties", "cRelatie")) == 2
    assert soap("GetRelaties", {"Code": "NOPE", "ID": 0}).Relaties is None

    # UpdateRelatie answers a bare cError and overwrites every field.
    updated = soap(
        "UpdateRelatie",
        relation("R1", "Bakkerij Jansen B.V.", ID=added.Rel_ID, Plaats="Amersfoort"),
    )
    assert_ok(updated)
    stored = sandbox.books().relation("R1")
    assert stored is not None
    assert stored.get("city") == "Amersfoort" and stored.get("email") is None
    assert stored.added == dt.datetime(2024, 1, 15)

    taken = soap("UpdateRelatie", relation("R2", "Jansen", ID=added.Rel_ID))
    assert error_code(taken) == "REL_049"
    assert error_code(soap("UpdateRelatie", relation("R9", "X", ID=424242))) == "REL_055"
    assert error_code(soap("UpdateRelatie", relation("R9", "X"))) == "REL_054"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"Code": None}, "REL_005"),
        ({"Code": "X" * 16}, "REL_006"),
        ({"Bedrijf": None}, "REL_002"),
        ({"BP": "Z"}, "REL_001"),
        ({"Geslacht": "x"}, "REL_004"),
        ({"Gb_ID": 999}, "REL_048"),
    ],
)
def test_relation_input_errors(
    sandbox: EBoekhoudenSandbox, soap: Soap, fields: dict[str, Any], code: str
) -> None:
    result = soap("AddRelatie", relation("R1") | fields)
    assert error_code(result) == code
    assert sandbox.relations == []


# --- invoices, open items, payments -------------------------------------------------------


def test_sales_invoice_with_two_vat_rates_and_its_open_item(
    sandbox: EBoekhoudenSandbox, soap: Soap
) -> None:
    sandbox.add_relation("R1", "Bakkerij Jansen B.V.")
    booked = soap("AddMutatie", sales_invoice())
    assert_ok(booked)
    assert booked.Mutatienummer == 1

    [listed] = items(
        soap("GetMutaties", all_mutations(Factuurnummer="F2024-001")), "Mutaties", "cMutatieList"
    )
    assert (listed.MutatieNr, listed.Soort, listed.Datum) == (
        1,
        "FactuurVerstuurd",
        dt.datetime(2024, 3, 1),
    )
    assert (listed.Rekening, listed.RelatieCode, listed.InExBTW, listed.Betalingstermijn) == (
        "1300",
        "R1",
        "EX",
        "30",
    )
    rows = listed.MutatieRegels.cMutatieListRegel
    assert [
        (r.TegenrekeningCode, r.BTWCode, r.BedragExclBTW, r.BedragBTW, r.BedragInclBTW)
        for r in rows
    ] == [
        ("8000", "HOOG_VERK_21", Decimal("100.00"), Decimal("21.00"), Decimal("121.00")),
        ("8010", "LAAG_VERK_9", Decimal("50.00"), Decimal("4.50"), Decimal("54.50")),
    ]
    assert {r.Factuurnummer for r in rows} == {"F2024-001"}

    [item] = items(soap("GetOpenPosten", "Debiteuren"), "Openposten", "cOpenPost")
    assert (item.MutFactuur, item.RelCode, item.RelBedrijf) == (
        "F2024-001",
        "R1",
        "Bakkerij Jansen B.V.",
    )
    assert item.MutDatum == dt.datetime(2024, 3, 1)
    assert isinstance(item.Bedrag, float)  # xsd:double, as the real service sends
    assert (item.Bedrag, item.Voldaan, item.Openstaand) == (175.5, 0.0, 175.5)
    assert soap("GetOpenPosten", "Crediteuren").Openposten is None
    assert sandbox.open_items()[0].state == "open"


def test_payment_turns_invoice_partly_paid_then_paid(
    sandbox: EBoekhoudenSandbox, soap: Soap
) -> None:
    sandbox.add_relation("R1", "Bakkerij Jansen B.V.")
    assert_ok(soap("AddMutatie", sales_invoice()))

    payment = sandbox.pay("F2024-001", "75.50", dt.date(2024, 3, 20))
    assert (payment.kind, payment.ledger_code, payment.relation_code) == (
        "FactuurbetalingOntvangen",
        "1100",
        "R1",
    )
    [item] = items(soap("GetOpenPosten", "Debiteuren"), "Openposten", "cOpenPost")
    assert (item.Bedrag, item.Voldaan, item.Openstaand) == (175.5, 75.5, 100.0)
    assert sandbox.open_items()[0].state == "partly_paid"

    # The rest arrives as the client would book it: FactuurbetalingOntvangen over SOAP.
    rest = mutation(
        "FactuurbetalingOntvangen",
        [line("100.00", "0.00", "GEEN", "1300", rate="0")],
        Rekening="1100",
        Datum=dt.date(2024, 3, 28),
    )
    assert_ok(soap("AddMutatie", rest))
    assert soap("GetOpenPosten", "Debiteuren").Openposten is None  # settled items are not open
    [settled] = sandbox.open_items(include_settled=True)
    assert (settled.state, settled.amount, settled.paid, settled.outstanding) == (
        "paid",
        Decimal("175.50"),
        Decimal("175.50"),
        Decimal("0.00"),
    )
    kinds = [
        m.Soort
        for m in items(
            soap("GetMutaties", all_mutations(Factuurnummer="F2024-001")),
            "Mutaties",
            "cMutatieList",
        )
    ]
    assert kinds == ["FactuurVerstuurd", "FactuurbetalingOntvangen", "FactuurbetalingOntvangen"]

    with pytest.raises(KeyError):
        sandbox.pay("NO-SUCH-INVOICE", "1.00")


def test_payments_match_per_relation_and_invoice(sandbox: EBoekhoudenSandbox, soap: Soap) -> None:
    sandbox.add_relation("R1", "Een")
    sandbox.add_relation("R2", "Twee")
    assert_ok(soap("AddMutatie", sales_invoice(RelatieCode="R1", Factuurnummer="1001")))
    assert_ok(soap("AddMutatie", sales_invoice(RelatieCode="R2", Factuurnummer="1001")))
    with pytest.raises(ValueError, match="relation_code"):
        sandbox.pay("1001", "175.50")
    sandbox.pay("1001", "175.50", relation_code="R2")
    open_items = items(soap("GetOpenPosten", "Debiteuren"), "Openposten", "cOpenPost")
    assert [(i.RelCode, i.Openstaand) for i in open_items] == [("R1", 175.5)]


def test_purchase_invoice_is_a_creditors_item(sandbox: EBoekhoudenSandbox, soap: Soap) -> None:
    sandbox.add_relation("L1", "Leverancier B.V.")
    purchase = mutation(
        "FactuurOntvangen",
        [line("200.00", "42.00", "HOOG_INK_21", "4000")],
        Rekening="1600",
        RelatieCode="L1",
        Factuurnummer="INK-7",
    )
    assert_ok(soap("AddMutatie", purchase))
    [item] = items(soap("GetOpenPosten", "Crediteuren"), "Openposten", "cOpenPost")
    assert (item.MutFactuur, item.Openstaand) == ("INK-7", 242.0)
    payment = sandbox.pay("INK-7", "242.00")
    assert payment.kind == "FactuurbetalingVerstuurd"
    assert soap("GetOpenPosten", "Crediteuren").Openposten is None


# --- GetMutaties' limit -------------------------------------------------------------------


def _book_many(sandbox: EBoekhoudenSandbox, count: int) -> None:
    sandbox.add_relation("R1", "Bakkerij Jansen B.V.")
    lines = [LineRecord.of("10.00", "HOOG_VERK_21", "8000", date=INVOICE_DATE)]
    for number in range(1, count + 1):
        sandbox.add_mutation(
            "FactuurVerstuurd",
            INVOICE_DATE,
            ledger_code="1300",
            relation_code="R1",
            invoice_number=f"F{number}",
            lines=lines,
        )


def test_get_mutaties_returns_at_most_the_last_500(sandbox: EBoekhoudenSandbox, soap: Soap) -> None:
    _book_many(sandbox, 510)
    assert len(sandbox.mutations) == 510

    listed = items(soap("GetMutaties", all_mutations()), "Mutaties", "cMutatieList")
    assert len(listed) == MUTATION_LIMIT == 500
    assert [m.MutatieNr for m in listed] == list(range(11, 511))

    # The limit applies to the matching mutations: old ones are still found by filter.
    [old] = items(
        soap("GetMutaties", all_mutations(Factuurnummer="F5")), "Mutaties", "cMutatieList"
    )
    assert old.MutatieNr == 5
    [by_number] = items(soap("GetMutaties", all_mutations(MutatieNr=3)), "Mutaties", "cMutatieList")
    assert by_number.Factuurnummer == "F3"
    ranged = items(
        soap("GetMutaties", all_mutations(MutatieNrVan=1, MutatieNrTm=20)),
        "Mutaties",
        "cMutatieList",
    )
    assert [m.MutatieNr for m in ranged] == list(range(1, 21))
    outside = all_mutations(DatumVan=dt.date(2024, 3, 2))
    assert soap("GetMutaties", outside).Mutaties is None


def test_get_mutaties_limit_before_filter_hides_older_mutations(
    make_service: ServiceFactory,
) -> None:
    sandbox = EBoekhoudenSandbox(limit_before_filter=True)
    _book_many(sandbox, 510)
    client = Soap(make_service(sandbox))
    assert client("GetMutaties", all_mutations(Factuurnummer="F5")).Mutaties is None
    [recent] = items(
        client("GetMutaties", all_mutations(Factuurnummer="F505")), "Mutaties", "cMutatieList"
    )
    assert recent.MutatieNr == 505


# --- ledgers, cost centres, balances ------------------------------------------------------


def test_ledgers_cost_centres_and_balances(sandbox: EBoekhoudenSandbox, soap: Soap) -> None:
    ledgers = items(soap("GetGrootboekrekeningen", {"ID": 0}), "Rekeningen", "cGrootboekrekening")
    by_code = {ledger.Code: ledger for ledger in ledgers}
    expected = {
        "1000": "FIN", "1100": "FIN", "1300": "DEB", "1600": "CRED", "4000": "VW", "8000": "VW",
        "8010": "VW", "8020": "VW", "8100": "VW", "8200": "VW", "1500": "AF19", "1510": "AF6",
        "1520": "AFOVERIG", "1530": "VOOR", "1560": "BTWRC",
    }  # fmt: skip
    assert {code: by_code[code].Categorie for code in expected} == expected
    assert by_code["1300"].Omschrijving == "Debiteuren"
    fin = items(
        soap("GetGrootboekrekeningen", {"ID": 0, "Categorie": "FIN"}),
        "Rekeningen",
        "cGrootboekrekening",
    )
    assert [ledger.Code for ledger in fin] == ["1000", "1100"]
    [one] = items(
        soap("GetGrootboekrekeningen", {"ID": by_code["8000"].ID}),
        "Rekeningen",
        "cGrootboekrekening",
    )
    assert one.Code == "8000"

    centres = items(soap("GetKostenplaatsen", {}), "Kostenplaatsen", "cKostenplaats")
    assert [(c.KostenplaatsId, c.Omschrijving, c.KostenplaatsParentId) for c in centres] == [
        (101, "Algemeen", 0),
        (102, "Verkoop", 0),
        (103, "Verkoop Noord", 102),
    ]
    children = items(
        soap("GetKostenplaatsen", {"KostenplaatsParentID": 102}), "Kostenplaatsen", "cKostenplaats"
    )
    assert [c.KostenplaatsId for c in children] == [103]

    sandbox.add_relation("R1", "Bakkerij Jansen B.V.")
    invoice = sales_invoice()
    invoice["MutatieRegels"]["cMutatieRegel"][0]["KostenplaatsID"] = 102
    assert_ok(soap("AddMutatie", invoice))
    sandbox.pay("F2024-001", "100.00", dt.date(2024, 4, 2))

    def saldo(code: str, **fields: Any) -> float:
        result = soap(
            "GetSaldo",
            {"GbCode": code, "KostenPlaatsId": 0, "DatumVan": None, "DatumTot": None} | fields,
        )
        assert_ok(result)
        assert isinstance(result.Saldo, float)
        return float(result.Saldo)

    assert saldo("8000") == -100.0  # revenue is a credit
    assert saldo("8010") == -50.0
    assert saldo("1500") == -21.0 and saldo("1510") == -4.5  # VAT payable, high and low
    assert saldo("1300") == 75.5  # 175.50 invoiced, 100.00 paid
    assert saldo("1100") == 100.0
    assert saldo("1300", DatumTot=dt.date(2024, 3, 31)) == 175.5
    assert saldo("8000", KostenPlaatsId=102) == -100.0
    assert saldo("8010", KostenPlaatsId=102) == 0.0
    unknown = soap(
        "GetSaldo", {"GbCode": "9999", "KostenPlaatsId": 0, "DatumVan": None, "DatumTot": None}
    )
    assert error_code(unknown) == "MUT_007" and unknown.Saldo == 0.0

    saldi = items(
        soap(
            "GetSaldi", {"KostenPlaatsId": 0, "DatumVan": None, "DatumTot": None, "Categorie": "VW"}
        ),
        "Saldi",
        "cSaldo",
    )
    assert {s.Code: s.Saldo for s in saldi if s.Saldo} == {"8000": -100.0, "8010": -50.0}
    assert {s.Categorie for s in saldi} == {"VW"}
    everything = items(
        soap("GetSaldi", {"KostenPlaatsId": 0, "DatumVan": None, "DatumTot": None}),
        "Saldi",
        "cSaldo",
    )
    assert sum(Decimal(str(s.Saldo)) for s in everything) == 0  # double entry balances


# --- in-band errors on bad input ----------------------------------------------------------


def _purchase(vat_code: str, **fields: Any) -> dict[str, Any]:
    return mutation(
        "FactuurOntvangen", [line("100.00", "21.00", vat_code, "4000")], Rekening="1600", **fields
    )


@pytest.mark.parametrize(
    ("mutation_input", "code"),
    [
        (sales_invoice(Rekening="1299"), "MUT_007"),
        (sales_invoice(Rekening="1100"), "MUT_011"),
        (sales_invoice(Rekening=None), "MUTA_001"),
        (
            mutation("FactuurVerstuurd", [line("100.00", "21.00", "HOOG_VERK_21", "8999")]),
            "MUT_104",
        ),
        (
            mutation("FactuurVerstuurd", [line("100.00", "21.00", "HOOG_VERK_21", "1100")]),
            "MUT_106",
        ),
        (mutation("FactuurVerstuurd", [line("100.00", "21.00", "HOOG_VERK_22")]), "MUT_109"),
        (mutation("FactuurVerstuurd", [line("100.00", "21.00", "HOOG_INK_21")]), "MUT_111"),
        (_purchase("HOOG_VERK_21"), "MUT_110"),
        (_purchase("VERL_INK", InExBTW="IN"), "MUT_026"),
        (sales_invoice(RelatieCode="NOBODY"), "MUT_013"),
        (sales_invoice(RelatieCode=None), "MUT_012"),
        (sales_invoice(Factuurnummer=None), "MUT_002"),
        (sales_invoice(InExBTW="INCL"), "MUT_017"),
        (sales_invoice(MutatieRegels=None), "MUT_100"),
        (
            mutation(
                "FactuurVerstuurd", [line("100.00", "21.00", "HOOG_VERK_21", cost_centre=999)]
            ),
            "MUT_117",
        ),
        (
            mutation(
                "FactuurVerstuurd",
                [line("100.00", "21.00", "HOOG_VERK_21") | {"BedragBTW": Decimal("20.00")}],
            ),
            "ERR_002",
        ),
        (
            mutation("FactuurVerstuurd", [line("100.00", "21.00", "HOOG_VERK_21")], InExBTW="IN"),
            "ERR_002",
        ),
        (
            mutation(
                "FactuurbetalingOntvangen",
                [line("5.00", "0", "GEEN", "1300", rate="0")],
                Rekening="1100",
            ),
            "MUT_115",
        ),
        (
            mutation(
                "FactuurbetalingOntvangen",
                [line("5.00", "0", "GEEN", "8000", rate="0")],
                Rekening="1100",
            ),
            "MUT_108",
        ),
        (sales_invoice(Datum=None), "MUT_003"),
    ],
)
def test_mutation_input_errors_are_in_band(
    sandbox: EBoekhoudenSandbox, soap: Soap, mutation_input: dict[str, Any], code: str
) -> None:
    sandbox.add_relation("R1", "Bakkerij Jansen B.V.")
    if mutation_input["Datum"] is None:
        # zeep insists on minOccurs=1 elements; SkipValue sends the request without it.
        mutation_input = mutation_input | {"Datum": zeep.xsd.SkipValue}
    result = soap("AddMutatie", mutation_input)
    assert error_code(result) == code
    assert result.Mutatienummer == 0
    assert sandbox.mutations == []


def test_duplicate_invoices_are_booked_unless_refusal_is_on(
    sandbox: EBoekhoudenSandbox, soap: Soap, make_service: ServiceFactory
) -> None:
    sandbox.add_relation("R1", "Bakkerij Jansen B.V.")
    assert_ok(soap("AddMutatie", sales_invoice()))
    assert_ok(soap("AddMutatie", sales_invoice()))  # the service does not stop a double booking
    assert [i.amount for i in sandbox.open_items()] == [Decimal("351.00")]

    strict = EBoekhoudenSandbox(reject_duplicate_invoices=True)
    strict.add_relation("R1", "Bakkerij Jansen B.V.")
    client = Soap(make_service(strict))
    assert_ok(client("AddMutatie", sales_invoice()))
    assert error_code(client("AddMutatie", sales_invoice(Factuurnummer="f2024-001"))) == "MUT_020"


def test_unknown_enum_value_is_a_soap_fault(sandbox: EBoekhoudenSandbox, soap: Soap) -> None:
    sandbox.add_relation("R1", "Bakkerij Jansen B.V.")
    # zeep does not check enumerations; the .NET service refuses to read the request.
    with pytest.raises(zeep.exceptions.Fault, match="not a valid value for enMutatieSoorten"):
        soap("AddMutatie", sales_invoice(Soort="Verkoop"))
    with pytest.raises(zeep.exceptions.Fault, match="enOpenpostenSoort"):
        soap("GetOpenPosten", "Debtors")
    assert sandbox.mutations == []


def test_operations_not_emulated_answer_in_band(soap: Soap) -> None:
    result = soap("GetArtikelen", {})
    assert error_code(result) == "SANDBOX_001"
    bare = soap("UpdateGrootboekrekening", {"ID": 1})
    assert error_code(bare) == "SANDBOX_001"


# --- faults -------------------------------------------------------------------------------


def test_ambiguous_write_in_process(sandbox: EBoekhoudenSandbox, soap: Soap) -> None:
    sandbox.add_relation("R1", "Bakkerij Jansen B.V.")
    sandbox.fail_next(1, "drop_after", "AddMutatie")
    assert_ok(soap("GetRelaties", {"ID": 0}))  # other operations are not hit
    with pytest.raises(
        requests.exceptions.ConnectionError, match="closed connection without response"
    ):
        soap("AddMutatie", sales_invoice())
    # The client saw nothing, yet the invoice is booked: look before booking again.
    [booked] = sandbox.mutations
    assert booked.invoice_number == "F2024-001"
    found = items(
        soap("GetMutaties", all_mutations(Factuurnummer="F2024-001")), "Mutaties", "cMutatieList"
    )
    assert [m.MutatieNr for m in found] == [1]
    assert sandbox.stats.faults == {"drop_after": 1}
    assert sandbox.faults.pending == 0


def test_ambiguous_write_over_loopback(
    sandbox: EBoekhoudenSandbox, make_service: ServiceFactory
) -> None:
    sandbox.add_relation("R1", "Bakkerij Jansen B.V.")
    with sandbox.serve() as url:
        service = make_service(sandbox, url + "/soap.asmx", in_process=False)
        client = Soap(service)
        sandbox.fail_next(1, "drop_after", "AddMutatie")
        with pytest.raises(requests.exceptions.ConnectionError):
            client("AddMutatie", sales_invoice())
        assert [m.number for m in sandbox.mutations] == [1]
        # The connection is gone, the session is not: the client goes on.
        assert len(items(client("GetMutaties", all_mutations()), "Mutaties", "cMutatieList")) == 1
    assert sandbox.stats.requests["AddMutatie"] == 1


def test_ambiguous_write_through_the_httpx_transport(sandbox: EBoekhoudenSandbox) -> None:
    session_id = re.search(r"<SessionID>(\w+)</SessionID>", post(sandbox, open_session_xml()).text)
    assert session_id is not None
    add = envelope(
        f'<AddRelatie xmlns="{SOAP_NAMESPACE}"><SessionID>{session_id.group(1)}</SessionID>'
        f"<SecurityCode2>{CODE_2}</SecurityCode2><oRel><ID>0</ID><AddDatum>2024-01-01</AddDatum>"
        "<Code>R7</Code><Bedrijf>Zeven</Bedrijf><Gb_ID>0</Gb_ID><GeenEmail>0</GeenEmail>"
        "<NieuwsbriefgroepenCount>0</NieuwsbriefgroepenCount></oRel></AddRelatie>"
    )
    sandbox.fail_next(1, "drop_after", "AddRelatie")
    with pytest.raises(httpx.RemoteProtocolError):
        post(sandbox, add, action="AddRelatie")
    assert [r.code for r in sandbox.relations] == ["R7"]


def test_injected_errors_and_rate_limit(sandbox: EBoekhoudenSandbox, soap: Soap) -> None:
    sandbox.fail_next(1, "500", "GetKostenplaatsen")
    with pytest.raises(zeep.exceptions.Fault, match="Server was unable to process request"):
        soap("GetKostenplaatsen", {})
    sandbox.fail_next(1, "503")
    with pytest.raises(zeep.exceptions.TransportError) as unavailable:
        soap("GetKostenplaatsen", {})
    assert unavailable.value.status_code == 503
    sandbox.fail_next(1, "timeout", "GetKostenplaatsen")
    with pytest.raises(requests.exceptions.ReadTimeout):
        soap("GetKostenplaatsen", {})
    assert_ok(soap("GetKostenplaatsen", {}))
    assert sandbox.stats.faults == {"500": 1, "503": 1, "timeout": 1}

    sandbox.faults.rate_limit = 1
    assert_ok(soap("GetKostenplaatsen", {}))
    with pytest.raises(zeep.exceptions.TransportError) as limited:
        soap("GetKostenplaatsen", {})
    assert limited.value.status_code == 429
    assert sandbox.stats.rate_limited == 1

    with pytest.raises(ValueError, match="unknown operation"):
        sandbox.fail_next(1, "500", "DeleteRelatie")


# --- safe XML and the SOAP envelope -------------------------------------------------------

BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">'
        for n in range(1, 10)
    )
    + "]>"
)


@pytest.mark.parametrize(
    "body",
    [
        envelope(
            f'<OpenSession xmlns="{SOAP_NAMESPACE}"><Username>&lol9;</Username></OpenSession>',
            BILLION_LAUGHS,
        ),
        envelope(
            f'<OpenSession xmlns="{SOAP_NAMESPACE}"><Username>&xxe;</Username></OpenSession>',
            '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        ),
        envelope(
            f'<OpenSession xmlns="{SOAP_NAMESPACE}"><Username>x</Username></OpenSession>',
            '<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">',
        ),
    ],
    ids=["billion-laughs", "external-entity", "external-dtd"],
)
def test_dtds_are_refused_never_expanded(sandbox: EBoekhoudenSandbox, body: str) -> None:
    response = post(sandbox, body)
    assert response.status_code == 500
    assert "<faultcode>soap:Client</faultcode>" in response.text
    assert "DTD is prohibited" in response.text
    assert "lollol" not in response.text and "root:" not in response.text
    assert len(response.content) < 2000
    assert sandbox.sessions_opened == 0


@pytest.mark.parametrize(
    ("body", "headers", "status", "needle"),
    [
        ("<not xml", {}, 500, "There is an error in XML document"),
        ("", {}, 500, "error in XML document"),
        (envelope("<OpenSession/>"), {}, 500, "no element of the e-Boekhouden namespace"),
        (
            open_session_xml(),
            {"SOAPAction": f'"{SOAP_NAMESPACE}/DeleteRelatie"'},
            500,
            "did not recognize",
        ),
        (
            open_session_xml(),
            {"SOAPAction": f'"{SOAP_NAMESPACE}/CloseSession"'},
            500,
            "was not expected",
        ),
        (open_session_xml(), {"Content-Type": "application/json"}, 415, "Unsupported Media Type"),
        ("<a>" * 40 + "</a>" * 40, {}, 500, "nested too deeply"),
    ],
    ids=[
        "malformed",
        "empty",
        "unqualified-body",
        "unknown-action",
        "action-mismatch",
        "content-type",
        "deep",
    ],
)
def test_unreadable_requests(
    sandbox: EBoekhoudenSandbox, body: str, headers: dict[str, str], status: int, needle: str
) -> None:
    response = post(sandbox, body, **headers)
    assert response.status_code == status
    assert needle in response.text


def test_elements_outside_the_namespace_are_ignored(sandbox: EBoekhoudenSandbox) -> None:
    # As ASP.NET does: unqualified children count as absent, so the login fails in-band.
    body = envelope(
        f'<ns:OpenSession xmlns:ns="{SOAP_NAMESPACE}"><Username>{DEMO_USERNAME}</Username>'
        f"<SecurityCode1>{DEMO_SECURITY_CODE_1}</SecurityCode1><SecurityCode2>{CODE_2}</SecurityCode2>"
        "</ns:OpenSession>"
    )
    response = post(sandbox, body)
    assert response.status_code == 200
    assert "<LastErrorCode>SECURITY_010</LastErrorCode>" in response.text
    good = post(sandbox, open_session_xml())
    assert good.headers["content-type"] == "text/xml; charset=utf-8"
    assert good.text.startswith('<?xml version="1.0" encoding="utf-8"?><soap:Envelope')
    assert (
        '<OpenSessionResponse xmlns="http://www.e-boekhouden.nl/soap"><OpenSessionResult>'
        in good.text
    )
    assert "<ErrorMsg><LastErrorCode /><LastErrorDescription /></ErrorMsg><SessionID>" in good.text


def test_dates_with_an_offset_are_read_in_dutch_time(
    sandbox: EBoekhoudenSandbox, soap: Soap
) -> None:
    sandbox.add_relation("R1", "Bakkerij Jansen B.V.")
    assert_ok(
        soap(
            "AddMutatie",
            sales_invoice(
                Datum=dt.datetime(2024, 3, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
            ),
        )
    )
    assert sandbox.mutations[0].date == dt.date(2024, 2, 29)  # .NET: converted to local time


def test_soap_12(sandbox: EBoekhoudenSandbox, make_service: ServiceFactory) -> None:
    client = Soap(make_service(sandbox, binding=BINDING_12))
    assert_ok(client("AddRelatie", relation("R1")))
    assert [r.Code for r in items(client("GetRelaties", {"ID": 0}), "Relaties", "cRelatie")] == [
        "R1"
    ]
    with pytest.raises(zeep.exceptions.Fault, match="enOpenpostenSoort"):
        client("GetOpenPosten", "Debtors")


def test_wsdl_of_the_package_is_served_with_its_address(
    sandbox: EBoekhoudenSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    own = tmp_path / "soap.wsdl"
    own.write_text(
        '<definitions><service><port><soap:address location="https://soap.e-boekhouden.nl/soap.asmx" /></port></service></definitions>'
    )
    monkeypatch.setattr(eb_module, "_own_wsdl", lambda: own)
    with httpx.Client(transport=sandbox.transport(), base_url="http://127.0.0.1:8124") as client:
        served = client.get("/soap.asmx", params={"WSDL": ""})
        assert served.status_code == 200
        assert 'location="http://127.0.0.1:8124/soap.asmx"' in served.text
        assert client.get("/elsewhere").status_code == 404
        assert client.get("/soap.asmx").status_code == 405
    monkeypatch.setattr(eb_module, "_own_wsdl", lambda: tmp_path / "missing.wsdl")
    with httpx.Client(transport=sandbox.transport(), base_url="http://x") as client:
        assert client.get("/soap.asmx?wsdl").status_code == 404


# --- data API, threads, VAT table, command line -------------------------------------------


def test_data_api_checks_like_the_service(sandbox: EBoekhoudenSandbox) -> None:
    sandbox.add_relation("R1", "Bakkerij Jansen B.V.", city="Utrecht")
    with pytest.raises(InBandError) as taken:
        sandbox.add_relation("r1", "Ander")
    assert taken.value.code == "REL_049"
    with pytest.raises(ValueError, match="unknown relation fields"):
        sandbox.add_relation("R2", "X", town="Utrecht")
    with pytest.raises(InBandError) as wrong_vat:
        sandbox.add_mutation(
            "FactuurOntvangen",
            ledger_code="1600",
            relation_code="R1",
            invoice_number="I1",
            lines=[LineRecord.of("10", "HOOG_VERK_21", "4000")],
        )
    assert wrong_vat.value.code == "MUT_110"
    assert LineRecord.of(
        "10.00", "LAAG_VERK", "8010", date=dt.date(2018, 12, 31)
    ).vat_amount == Decimal("0.60")
    assert LineRecord.of(
        "10.00", "LAAG_VERK", "8010", date=dt.date(2019, 1, 1)
    ).vat_amount == Decimal("0.90")
    assert LineRecord.of("12.10", "HOOG_VERK_21", "8000", in_ex="IN").amount_excl == Decimal(
        "10.00"
    )
    assert LineRecord.of("100", "VERL_VERK", "8020").vat_amount == Decimal("0.00")
    assert {code for code, vat in VAT_CODES.items() if vat.kind == "sale"} >= {
        "HOOG_VERK_21",
        "LAAG_VERK_9",
        "BI_EU_VERK",
        "BU_EU_VERK",
        "VERL_VERK",
    }
    assert VAT_CODES["GEEN"].kind == "none"


def test_concurrent_clients(
    sandbox: EBoekhoudenSandbox, wsdl: str, http_sessions: list[requests.Session]
) -> None:
    sandbox.add_relation("R1", "Bakkerij Jansen B.V.")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            session = sandbox.requests_session()
            http_sessions.append(session)
            client = zeep.Client(wsdl, transport=zeep.Transport(session=session))
            service = Soap(client.create_service(BINDING, REMOTE_URL))
            for n in range(10):
                assert_ok(service("AddRelatie", relation(f"W{worker}-{n}", "Werker")))
                assert_ok(service("AddMutatie", sales_invoice(Factuurnummer=f"W{worker}-{n}")))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(sandbox.relations) == 61
    assert [m.number for m in sandbox.mutations] == list(range(1, 61))
    assert sandbox.sessions_opened == 6


def test_cli_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crmconnect.sandbox", "eboekhouden", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for option in (
        "--port",
        "--username",
        "--security-code-1",
        "--security-code-2",
        "--latency",
        "--rate-limit",
    ):
        assert option in done.stdout
    assert DEMO_CREDENTIALS.security_code_1 in done.stdout  # the demo login is documented


def test_cli_refuses_partial_credentials() -> None:
    from crmconnect.sandbox.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["eboekhouden", "--port", "0", "--username", "jan"])
    assert exited.value.code == 2


def test_cli_serves_with_custom_credentials_and_hides_them(
    wsdl: str, http_sessions: list[requests.Session]
) -> None:
    secret_1, secret_2 = "cli-secret-code-one", "cli-secret-code-two"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "crmconnect.sandbox", "eboekhouden", "--port", "0",
            "--username", "jan.jansen", "--security-code-1", secret_1, "--security-code-2", secret_2,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = re.search(r"http://\S+", first)
        assert url is not None, first
        while "Ctrl-C" not in first:  # read the banner here: communicate() skips buffered lines
            first += process.stdout.readline()
        session = requests.Session()
        http_sessions.append(session)
        client = zeep.Client(wsdl, transport=zeep.Transport(session=session))
        service = client.create_service(BINDING, url.group(0) + "/soap.asmx")
        assert_ok(service.OpenSession("jan.jansen", secret_1, secret_2, "cli"))
        assert (
            error_code(service.OpenSession(DEMO_USERNAME, DEMO_SECURITY_CODE_1, CODE_2))
            == "SECURITY_010"
        )
    finally:
        process.terminate()
        output, errors = process.communicate(timeout=10)
    shown = first + output + errors
    # The username identifies the account: masked like the codes.
    assert "jan.jansen" not in shown
    assert secret_1 not in shown and secret_2 not in shown


# --- the ready VAT table and the requests extra ----------------------------------------


def test_demo_vat_table_is_a_ready_table() -> None:
    from crmconnect.mapping import VatTable
    from crmconnect.models import Invoice, InvoiceLine
    from crmconnect.sandbox import DEMO_VAT_TABLE, DEMO_VAT_TABLE_TOML

    assert isinstance(DEMO_VAT_TABLE, VatTable)
    assert VatTable.from_toml(DEMO_VAT_TABLE_TOML) == DEMO_VAT_TABLE
    invoice = Invoice(
        number="F1",
        relation_code="1001",
        date=INVOICE_DATE,
        lines=[InvoiceLine(description="Boek", unit_price="10.00", vat_category="nl_low")],
    )
    [line] = vat_breakdown(invoice, DEMO_VAT_TABLE)
    assert (line.vat_code, line.ledger) == ("LAAG_VERK_9", "8010")


def test_requests_session_without_requests_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "requests", None)  # as if it were not installed
    with pytest.raises(ConfigurationError, match=r"crmconnect\[eboekhouden\]") as caught:
        EBoekhoudenSandbox().requests_session()
    assert caught.value.__context__ is None
