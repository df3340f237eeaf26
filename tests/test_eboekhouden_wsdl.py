"""The package's own e-Boekhouden WSDL is wire-compatible with the real one.

For every SOAP operation crmconnect uses, zeep built from the package's WSDL and
zeep built from the third-party WSDL in ``../shared/reference/eboekhouden`` must
produce the same request XML (canonicalised) and parse the same responses into
the same values. Both are loaded offline, with a transport that refuses any
request. The comparisons skip when the reference folder is absent; the tests of
the package's WSDL alone always run.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import pytest
import requests
import zeep
import zeep.helpers
from lxml import etree
from zeep import xsd
from zeep.xsd.elements.indicators import OrderIndicator

NS = "http://www.e-boekhouden.nl/soap"
BINDING = f"{{{NS}}}soapAppSoap"
ADDRESS = "https://soap.e-boekhouden.nl/soap.asmx"

USED_OPERATIONS = frozenset(
    {
        "OpenSession",
        "OpenSessionSub",
        "CloseSession",
        "AddRelatie",
        "UpdateRelatie",
        "GetRelaties",
        "AddMutatie",
        "GetMutaties",
        "GetOpenPosten",
        "GetGrootboekrekeningen",
        "GetKostenplaatsen",
        "GetAdministraties",
        "GetSaldo",
        "GetSaldi",
    }
)
"""The operations crmconnect calls: exactly those the package's WSDL describes."""

SESSION = {"SessionID": "5f0c6a4e-2b1d-4c3e-9f8a-7b6c5d4e3f2a", "SecurityCode2": "C2-GUID-0000"}


# -- loading ------------------------------------------------------------------------------


class _NoNetwork(requests.Session):
    """A session for zeep's transport that fails the test on any request."""

    def request(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError(f"network access attempted: {args!r}")

    def send(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError(f"network access attempted: {args!r}")


def _our_wsdl() -> Path:
    resource = importlib.resources.files("crmconnect.eboekhouden") / "wsdl" / "soap.wsdl"
    return Path(str(resource))


def _load(path: Path) -> zeep.Client:
    # A plain path (no file:// URL): zeep reads it from disk, never through the session.
    return zeep.Client(
        wsdl=str(path),
        transport=zeep.Transport(session=_NoNetwork()),
        settings=zeep.Settings(strict=True, xml_huge_tree=False),
    )


@pytest.fixture(scope="module")
def ours() -> zeep.Client:
    """zeep on the package's own WSDL."""
    return _load(_our_wsdl())


@pytest.fixture(scope="module")
def real_wsdl(reference_dir: Path) -> Path:
    """The third-party WSDL (skips when the reference folder is absent)."""
    path = reference_dir / "eboekhouden" / "soap.wsdl"
    if not path.is_file():
        pytest.skip(f"real e-Boekhouden WSDL not found at {path}")
    return path


@pytest.fixture(scope="module")
def real(real_wsdl: Path) -> zeep.Client:
    """zeep on the real WSDL."""
    return _load(real_wsdl)


def _request(client: zeep.Client, operation: str, kwargs: dict[str, Any]) -> bytes:
    service = client.create_service(BINDING, ADDRESS)
    envelope = client.create_message(service, operation, **kwargs)
    return bytes(etree.tostring(envelope, method="c14n"))


class _Reply:
    """The parts of a `requests.Response` zeep reads when it processes a reply."""

    def __init__(self, body: str) -> None:
        self.status_code = 200
        self.headers = {"Content-Type": "text/xml; charset=utf-8"}
        self.content = body.encode("utf-8")
        self.encoding = "utf-8"


def _parse(client: zeep.Client, operation: str, body: str) -> Any:
    """What ``client.service.<operation>(...)`` would return for this reply."""
    binding: Any = client.wsdl.bindings[BINDING]  # a SoapBinding: it has process_reply
    result = binding.process_reply(client, binding.get(operation), _Reply(body))
    return zeep.helpers.serialize_object(result, dict)


# -- request cases --------------------------------------------------------------------------

FULL_RELATION: dict[str, Any] = {
    "ID": 0,
    "AddDatum": dt.datetime(2026, 3, 1, 9, 30, 15),
    "Code": "R-1001",
    "Bedrijf": "Bakkerij Ünal & Zn. <Groningen> B.V.",
    "Contactpersoon": "Zoë van 't Hoff-Ĳsselmeer",
    "Geslacht": "v",
    "Adres": "Kerkstraat 12-bis",
    "Postcode": "9711 AB",
    "Plaats": "Groningen",
    "Land": "Nederland",
    "Adres2": "Postbus 1234",
    "Postcode2": "9700 AA",
    "Plaats2": "Groningen",
    "Land2": "NL",
    "Telefoon": "+31 50 123 4567",
    "GSM": "06-12345678",
    "FAX": "",
    "Email": "zoë@bakkerij-ünal.nl",
    "Site": "https://bakkerij.example/?a=1&b=2",
    "Notitie": 'Levering via achterom; "niet" bellen > 18:00 & zondag <gesloten>',
    "Bankrekening": "",
    "Girorekening": "",
    "BTWNummer": "NL001234567B01",
    "KvkNummer": "12345678",
    "Aanhef": "Geachte mevrouw Van 't Hoff",
    "IBAN": "NL91ABNA0417164300",
    "BIC": "ABNANL2A",
    "BP": "B",
    **{f"Def{n}": f"vrij veld {n} – é" for n in range(1, 11)},
    "LA": "0",
    "Gb_ID": 1300,
    "GeenEmail": 1,
    "NieuwsbriefgroepenCount": 0,
}

MINIMAL_RELATION: dict[str, Any] = {
    "ID": 0,
    "AddDatum": dt.date(2026, 3, 1),
    "Code": "P-7",
    "Bedrijf": "J. de Vries",
    "BP": "P",
    "Gb_ID": 0,
    "GeenEmail": 0,
    "NieuwsbriefgroepenCount": 0,
}


def _line(excl: str, vat: str, incl: str, code: str, pct: str, ledger: str, **extra: Any) -> Any:
    return {
        "BedragInvoer": Decimal(incl),
        "BedragExclBTW": Decimal(excl),
        "BedragBTW": Decimal(vat),
        "BedragInclBTW": Decimal(incl),
        "BTWCode": code,
        "BTWPercentage": Decimal(pct),
        "TegenrekeningCode": ledger,
        "KostenplaatsID": 0,
        **extra,
    }


SALES_INVOICE: dict[str, Any] = {
    "MutatieNr": 0,
    "Soort": "FactuurVerstuurd",
    "Datum": dt.date(2026, 3, 1),
    "Rekening": "1300",
    "RelatieCode": "R-1001",
    "Factuurnummer": "F2026-0001",
    "Boekstuk": "F2026-0001",
    "Omschrijving": "Factuur F2026-0001 – brood & banket <maart>",
    "Betalingstermijn": "30",
    "Betalingskenmerk": "1234 5678 9012 3456",
    "InExBTW": "IN",
    "MutatieRegels": {
        "cMutatieRegel": [
            _line("100.00", "21.00", "121.00", "HOOG_VERK_21", "21", "8000"),
            _line("0.01", "0.00", "0.01", "LAAG_VERK_9", "9.00", "8011"),
            _line("12.34", "0.00", "12.34", "BU_EU_VERK", "0", "8014", KostenplaatsID=7),
        ]
    },
}

CREDIT_NOTE: dict[str, Any] = {
    "MutatieNr": 0,
    "Soort": "FactuurOntvangen",
    "Datum": dt.datetime(2018, 12, 31, 0, 0),
    "Rekening": "1600",
    "RelatieCode": "LEV-3",
    "Factuurnummer": "CN-18/77",
    "InExBTW": "EX",
    "MutatieRegels": {
        "cMutatieRegel": [_line("-50.00", "-3.00", "-53.00", "LAAG_INK", "6", "7000")]
    },
}

REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "OpenSession",
        "all-fields",
        {
            "Username": "jan.de.vries",
            "SecurityCode1": "0123456789abcdef0123456789abcdef",
            "SecurityCode2": "a1b2c3d4-e5f6-4a5b-8c7d-9e0f1a2b3c4d",
            "Source": "crmconnect",
        },
    ),
    (
        "OpenSession",
        "no-source",
        {"Username": "jan", "SecurityCode1": "c1&<x>", "SecurityCode2": "c2"},
    ),
    (
        "OpenSessionSub",
        "administration",
        {
            "Username": "accountant@kantoor.nl",
            "SecurityCode1": "0123456789abcdef0123456789abcdef",
            "SecurityCode2": "a1b2c3d4-e5f6-4a5b-8c7d-9e0f1a2b3c4d",
            "Source": "crmconnect",
            "AdministratieGUID": "{7C9E6679-7425-40DE-944B-E07FC1F90AE7}",
        },
    ),
    ("CloseSession", "session", {"SessionID": SESSION["SessionID"]}),
    ("AddRelatie", "full", {**SESSION, "oRel": FULL_RELATION}),
    ("AddRelatie", "minimal", {**SESSION, "oRel": MINIMAL_RELATION}),
    ("UpdateRelatie", "full", {**SESSION, "oRel": {**FULL_RELATION, "ID": 4711}}),
    ("GetRelaties", "by-code", {**SESSION, "cFilter": {"Code": "R-1001", "ID": 0}}),
    (
        "GetRelaties",
        "by-keyword",
        {**SESSION, "cFilter": {"Trefwoord": "Ünal & Zn <", "ID": 0}},
    ),
    ("GetRelaties", "by-id", {**SESSION, "cFilter": {"ID": 4711}}),
    ("AddMutatie", "sales-invoice", {**SESSION, "oMut": SALES_INVOICE}),
    ("AddMutatie", "purchase-credit-note", {**SESSION, "oMut": CREDIT_NOTE}),
    (
        "GetMutaties",
        "by-invoice",
        {
            **SESSION,
            "cFilter": {
                "MutatieNr": 0,
                "Factuurnummer": "F2026-0001",
                "DatumVan": dt.date(1900, 1, 1),
                "DatumTm": dt.date(2200, 1, 1),
            },
        },
    ),
    (
        "GetMutaties",
        "by-range",
        {
            **SESSION,
            "cFilter": {
                "MutatieNr": 0,
                "MutatieNrVan": 100,
                "MutatieNrTm": 599,
                "DatumVan": dt.datetime(2026, 1, 1, 0, 0),
                "DatumTm": dt.datetime(2026, 12, 31, 23, 59, 59),
            },
        },
    ),
    ("GetOpenPosten", "debtors", {**SESSION, "OpSoort": "Debiteuren"}),
    ("GetOpenPosten", "creditors", {**SESSION, "OpSoort": "Crediteuren"}),
    (
        "GetGrootboekrekeningen",
        "by-code",
        {**SESSION, "cFilter": {"ID": 0, "Code": "8000"}},
    ),
    (
        "GetGrootboekrekeningen",
        "by-category",
        {**SESSION, "cFilter": {"ID": 0, "Categorie": "VW"}},
    ),
    ("GetKostenplaatsen", "no-filter", {**SESSION, "cFilter": {}}),
    (
        "GetKostenplaatsen",
        "filter",
        {
            **SESSION,
            "cFilter": {"KostenplaatsID": 7, "KostenplaatsParentID": 0, "Omschrijving": "Café"},
        },
    ),
    ("GetAdministraties", "session", SESSION),
    (
        "GetSaldo",
        "dates",
        {
            **SESSION,
            "cFilter": {
                "GbCode": "1300",
                "KostenPlaatsId": 0,
                "DatumVan": dt.date(2026, 1, 1),
                "DatumTot": dt.date(2026, 12, 31),
            },
        },
    ),
    (
        "GetSaldo",
        "nil-dates",
        {**SESSION, "cFilter": {"KostenPlaatsId": 3, "DatumVan": None, "DatumTot": None}},
    ),
    (
        "GetSaldi",
        "category",
        {
            **SESSION,
            "cFilter": {
                "KostenPlaatsId": 0,
                "DatumVan": dt.datetime(2026, 1, 1, 0, 0),
                "DatumTot": None,
                "Categorie": "DEB",
            },
        },
    ),
    (
        "GetSaldi",
        "all",
        {
            **SESSION,
            "cFilter": {"KostenPlaatsId": 0, "DatumVan": None, "DatumTot": dt.date(2026, 6, 30)},
        },
    ),
]


# -- response cases -------------------------------------------------------------------------


def _envelope(operation: str, result: str | None) -> str:
    """A reply as the ASP.NET service writes it (default namespace, no prefixes)."""
    inner = "" if result is None else f"<{operation}Result>{result}</{operation}Result>"
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f'<soap:Body><{operation}Response xmlns="{NS}">{inner}</{operation}Response>'
        "</soap:Body></soap:Envelope>"
    )


NO_ERROR = "<ErrorMsg><LastErrorCode /><LastErrorDescription /></ErrorMsg>"


def _error(code: str, text: str) -> str:
    return (
        f"<ErrorMsg><LastErrorCode>{code}</LastErrorCode>"
        f"<LastErrorDescription>{text}</LastErrorDescription></ErrorMsg>"
    )


def _relation_xml(rel_id: int, code: str, name: str, extra: str = "") -> str:
    return (
        f"<cRelatie><ID>{rel_id}</ID><AddDatum>2024-02-29T13:45:00</AddDatum>"
        f"<Code>{code}</Code><Bedrijf>{name}</Bedrijf><Contactpersoon />"
        "<Geslacht>m</Geslacht><Adres>Dorpsstraat 1</Adres><Postcode>1234 AB</Postcode>"
        "<Plaats>&#39;s-Hertogenbosch</Plaats><Land>NL</Land><Adres2 /><Postcode2 />"
        "<Plaats2 /><Land2 /><Telefoon /><GSM /><FAX /><Email>info@example.nl</Email>"
        "<Site /><Notitie>regel 1&#xD;\nregel 2 &amp; meer</Notitie><Bankrekening />"
        "<Girorekening /><BTWNummer>NL001234567B01</BTWNummer><KvkNummer>12345678</KvkNummer>"
        "<Aanhef /><IBAN>NL91ABNA0417164300</IBAN><BIC>ABNANL2A</BIC><BP>B</BP>"
        "<Def1>één</Def1><Def2 /><Def3 /><Def4 /><Def5 /><Def6 /><Def7 /><Def8 /><Def9 />"
        f"<Def10>tien</Def10><LA>0</LA>{extra}<Gb_ID>1300</Gb_ID><GeenEmail>0</GeenEmail>"
        "<NieuwsbriefgroepenCount>0</NieuwsbriefgroepenCount></cRelatie>"
    )


def _list_line(excl: str, vat: str, incl: str, code: str, pct: str, invoice: str) -> str:
    return (
        f"<cMutatieListRegel><BedragInvoer>{incl}</BedragInvoer>"
        f"<BedragExclBTW>{excl}</BedragExclBTW><BedragBTW>{vat}</BedragBTW>"
        f"<BedragInclBTW>{incl}</BedragInclBTW><BTWCode>{code}</BTWCode>"
        f"<BTWPercentage>{pct}</BTWPercentage><Factuurnummer>{invoice}</Factuurnummer>"
        "<TegenrekeningCode>8000</TegenrekeningCode><KostenplaatsID>0</KostenplaatsID>"
        "</cMutatieListRegel>"
    )


def _open_post(date: str, invoice: str, code: str, name: str, amounts: tuple[str, ...]) -> str:
    total, paid, still_open = amounts
    return (
        f"<cOpenPost><MutDatum>{date}</MutDatum><MutFactuur>{invoice}</MutFactuur>"
        f"<RelCode>{code}</RelCode><RelBedrijf>{name}</RelBedrijf><Bedrag>{total}</Bedrag>"
        f"<Voldaan>{paid}</Voldaan><Openstaand>{still_open}</Openstaand></cOpenPost>"
    )


RESPONSES: list[tuple[str, str, str]] = [
    (
        "OpenSession",
        "ok",
        _envelope("OpenSession", f"{NO_ERROR}<SessionID>{SESSION['SessionID']}</SessionID>"),
    ),
    (
        "OpenSession",
        "error",
        _envelope(
            "OpenSession",
            _error("ERR_LOGIN", "Ongeldige gebruikersnaam &amp; beveiligingscode &lt;1&gt;"),
        ),
    ),
    (
        "OpenSessionSub",
        "ok",
        _envelope("OpenSessionSub", f"{NO_ERROR}<SessionID>sub-session-42</SessionID>"),
    ),
    ("CloseSession", "empty", _envelope("CloseSession", None)),
    ("AddRelatie", "ok", _envelope("AddRelatie", f"{NO_ERROR}<Rel_ID>4711</Rel_ID>")),
    (
        "AddRelatie",
        "duplicate",
        _envelope("AddRelatie", _error("E0001", "Code bestaat al") + "<Rel_ID>0</Rel_ID>"),
    ),
    (
        "UpdateRelatie",
        "ok",
        _envelope("UpdateRelatie", "<LastErrorCode /><LastErrorDescription />"),
    ),
    (
        "UpdateRelatie",
        "error",
        _envelope(
            "UpdateRelatie",
            "<LastErrorCode>E0002</LastErrorCode><LastErrorDescription>Relatie niet gevonden"
            "</LastErrorDescription>",
        ),
    ),
    (
        "GetRelaties",
        "several",
        _envelope(
            "GetRelaties",
            NO_ERROR
            + "<Relaties>"
            + _relation_xml(1, "R-1", "Bakkerij Ünal &amp; Zn.")
            + _relation_xml(2, "R-2", "Café &lt;De Kroon&gt;")
            + "</Relaties>",
        ),
    ),
    ("GetRelaties", "none", _envelope("GetRelaties", NO_ERROR)),
    (
        "AddMutatie",
        "ok",
        _envelope("AddMutatie", f"{NO_ERROR}<Mutatienummer>123456</Mutatienummer>"),
    ),
    (
        "AddMutatie",
        "error",
        _envelope(
            "AddMutatie",
            _error("M006", "Factuurnummer F2026-0001 bestaat al")
            + "<Mutatienummer>0</Mutatienummer>",
        ),
    ),
    (
        "GetMutaties",
        "several",
        _envelope(
            "GetMutaties",
            NO_ERROR
            + "<Mutaties><cMutatieList><MutatieNr>501</MutatieNr><Soort>FactuurVerstuurd</Soort>"
            "<Datum>2026-03-01T00:00:00</Datum><Rekening>1300</Rekening>"
            "<RelatieCode>R-1</RelatieCode><Factuurnummer>F2026-0001</Factuurnummer>"
            "<Boekstuk /><Omschrijving>Brood &amp; banket</Omschrijving>"
            "<Betalingstermijn>30</Betalingstermijn><InExBTW>IN</InExBTW><MutatieRegels>"
            + _list_line("100.00", "21.00", "121.00", "HOOG_VERK_21", "21.00", "")
            + _list_line("-0.01", "0.00", "-0.01", "LAAG_VERK_9", "9", "")
            + "</MutatieRegels></cMutatieList>"
            "<cMutatieList><MutatieNr>502</MutatieNr><Soort>FactuurbetalingOntvangen</Soort>"
            "<Datum>2026-03-15T00:00:00</Datum><Rekening>1100</Rekening>"
            "<RelatieCode>R-1</RelatieCode><Factuurnummer>F2026-0001</Factuurnummer>"
            "<Boekstuk /><Omschrijving /><Betalingstermijn /><InExBTW>EX</InExBTW>"
            "<MutatieRegels>"
            + _list_line("121.00", "0", "121.00", "GEEN", "0.0000", "F2026-0001")
            + "</MutatieRegels></cMutatieList></Mutaties>",
        ),
    ),
    (
        "GetMutaties",
        "error",
        _envelope("GetMutaties", _error("X01", "Maximum aantal calls per maand bereikt")),
    ),
    (
        "GetOpenPosten",
        "several",
        _envelope(
            "GetOpenPosten",
            NO_ERROR
            + "<Openposten>"
            + _open_post(
                "2026-03-01T00:00:00", "F2026-0001", "R-1", "Ünal &amp; Zn", ("121", "0", "121")
            )
            + _open_post(
                "2026-02-01T00:00:00", "F2026-0002", "R-2", "De Kroon", ("100.1", "50.05", "50.05")
            )
            + '<cOpenPost xsi:nil="true" />'
            + _open_post("2026-01-15T00:00:00", "CN-1", "R-3", "X", ("-12.5", "0", "-12.5"))
            + "</Openposten>",
        ),
    ),
    ("GetOpenPosten", "none", _envelope("GetOpenPosten", f"{NO_ERROR}<Openposten />")),
    (
        "GetGrootboekrekeningen",
        "several",
        _envelope(
            "GetGrootboekrekeningen",
            NO_ERROR
            + "<Rekeningen>"
            + "".join(
                f"<cGrootboekrekening><ID>{i}</ID><Code>{code}</Code>"
                f"<Omschrijving>{text}</Omschrijving><Categorie>{cat}</Categorie><Groep />"
                "</cGrootboekrekening>"
                for i, code, text, cat in [
                    (11, "1300", "Debiteuren", "DEB"),
                    (12, "8000", "Omzet hoog &amp; laag", "VW"),
                    (13, "8014", "Omzet buiten de EU", "VW"),
                ]
            )
            + "</Rekeningen>",
        ),
    ),
    (
        "GetKostenplaatsen",
        "several",
        _envelope(
            "GetKostenplaatsen",
            NO_ERROR + "<Kostenplaatsen><cKostenplaats><KostenplaatsId>7</KostenplaatsId>"
            "<Omschrijving>Filiaal Zuid</Omschrijving><KostenplaatsParentId>0"
            "</KostenplaatsParentId></cKostenplaats><cKostenplaats><KostenplaatsId>8"
            "</KostenplaatsId><Omschrijving>Café</Omschrijving><KostenplaatsParentId>7"
            "</KostenplaatsParentId></cKostenplaats></Kostenplaatsen>",
        ),
    ),
    (
        "GetAdministraties",
        "several",
        _envelope(
            "GetAdministraties",
            NO_ERROR + "<Administraties><cAdministratie><Bedrijf>Bakkerij Ünal</Bedrijf>"
            "<Plaats>Groningen</Plaats><Guid>7C9E6679-7425-40DE-944B-E07FC1F90AE7</Guid>"
            "<StartBoekjaar>2020</StartBoekjaar></cAdministratie><cAdministratie>"
            "<Bedrijf>Smit &amp; Zn</Bedrijf><Plaats /><Guid>0F8FAD5B-D9CB-469F-A165-70867728950E"
            "</Guid><StartBoekjaar /></cAdministratie></Administraties>",
        ),
    ),
    (
        "GetAdministraties",
        "error",
        _envelope("GetAdministraties", _error("S01", "Sessie verlopen")),
    ),
    ("GetSaldo", "ok", _envelope("GetSaldo", f"{NO_ERROR}<Saldo>-1234.56</Saldo>")),
    ("GetSaldo", "exponent", _envelope("GetSaldo", f"{NO_ERROR}<Saldo>1.5E3</Saldo>")),
    (
        "GetSaldi",
        "several",
        _envelope(
            "GetSaldi",
            NO_ERROR + "<Saldi><cSaldo><ID>11</ID><Code>1300</Code><Categorie>DEB</Categorie>"
            "<Saldo>121</Saldo></cSaldo><cSaldo><ID>12</ID><Code>8000</Code>"
            "<Categorie>VW</Categorie><Saldo>-100.1</Saldo></cSaldo><cSaldo><ID>13</ID>"
            "<Code /><Categorie /><Saldo>0</Saldo></cSaldo></Saldi>",
        ),
    ),
]


def _response(operation: str, name: str) -> str:
    return next(body for op, case, body in RESPONSES if (op, case) == (operation, name))


def _ids(cases: list[tuple[str, str, Any]]) -> list[str]:
    return [f"{operation}-{name}" for operation, name, _ in cases]


# -- the package's WSDL alone (always runs) --------------------------------------------------


def test_our_wsdl_is_package_data_and_loads_offline() -> None:
    path = _our_wsdl()
    assert path.is_file(), path
    assert path.parts[-3:] == ("eboekhouden", "wsdl", "soap.wsdl")
    client = _load(path)
    binding = client.wsdl.bindings[BINDING]
    assert set(binding.all()) == USED_OPERATIONS
    assert {op.soapaction for op in binding.all().values()} == {
        f"{NS}/{name}" for name in USED_OPERATIONS
    }
    # The service's own address is the https one.
    assert client.service._binding_options["address"] == ADDRESS
    service = client.create_service(BINDING, "http://127.0.0.1:9/soap.asmx")
    assert service._binding_options["address"] == "http://127.0.0.1:9/soap.asmx"


def test_our_wsdl_serialises_the_documented_request(ours: zeep.Client) -> None:
    xml = _request(ours, "AddMutatie", {**SESSION, "oMut": SALES_INVOICE})
    doc = etree.fromstring(xml)
    ns = {"eb": NS}
    header = doc.find(".//eb:AddMutatie/eb:oMut", ns)
    assert header is not None
    assert [etree.QName(child).localname for child in header] == [
        "MutatieNr",
        "Soort",
        "Datum",
        "Rekening",
        "RelatieCode",
        "Factuurnummer",
        "Boekstuk",
        "Omschrijving",
        "Betalingstermijn",
        "Betalingskenmerk",
        "InExBTW",
        "MutatieRegels",
    ]
    assert header.findtext("eb:Datum", namespaces=ns) == "2026-03-01"
    assert header.findtext("eb:Omschrijving", namespaces=ns) == (
        "Factuur F2026-0001 – brood & banket <maart>"
    )
    assert b"&amp; banket &lt;maart&gt;" in xml
    lines = header.findall("eb:MutatieRegels/eb:cMutatieRegel", ns)
    assert [line.findtext("eb:BedragInclBTW", namespaces=ns) for line in lines] == [
        "121.00",
        "0.01",
        "12.34",
    ]
    assert [line.findtext("eb:KostenplaatsID", namespaces=ns) for line in lines] == ["0", "0", "7"]


def test_our_wsdl_requires_the_minoccurs_1_elements(ours: zeep.Client) -> None:
    incomplete = {k: v for k, v in SALES_INVOICE.items() if k != "MutatieNr"}
    with pytest.raises(zeep.exceptions.ValidationError, match="MutatieNr"):
        _request(ours, "AddMutatie", {**SESSION, "oMut": incomplete})
    with pytest.raises(zeep.exceptions.ValidationError, match="ID"):
        _request(ours, "GetRelaties", {**SESSION, "cFilter": {"Code": "R-1"}})


def test_our_wsdl_parses_doubles_as_float_and_decimals_as_decimal(ours: zeep.Client) -> None:
    posts = _parse(ours, "GetOpenPosten", _response("GetOpenPosten", "several"))
    items = posts["Openposten"]["cOpenPost"]
    assert len(items) == 4
    # zeep turns an xsi:nil item into an object whose fields are all None.
    assert set(items[2].values()) == {None}
    assert items[1]["Bedrag"] == pytest.approx(100.1) and isinstance(items[1]["Bedrag"], float)
    assert items[0]["MutDatum"] == dt.datetime(2026, 3, 1)
    assert posts["ErrorMsg"] == {"LastErrorCode": None, "LastErrorDescription": None}

    mutations = _parse(ours, "GetMutaties", _response("GetMutaties", "several"))
    first = mutations["Mutaties"]["cMutatieList"][0]
    assert first["Soort"] == "FactuurVerstuurd"
    assert first["MutatieRegels"]["cMutatieListRegel"][1]["BedragInvoer"] == Decimal("-0.01")

    error = _parse(ours, "OpenSession", _response("OpenSession", "error"))
    assert error["SessionID"] is None
    assert error["ErrorMsg"]["LastErrorDescription"] == (
        "Ongeldige gebruikersnaam & beveiligingscode <1>"
    )
    assert _parse(ours, "CloseSession", _response("CloseSession", "empty")) is None


def test_every_used_operation_has_request_and_response_cases() -> None:
    assert {op for op, _, _ in REQUESTS} == USED_OPERATIONS
    assert {op for op, _, _ in RESPONSES} == USED_OPERATIONS


# -- against the real WSDL (skips without ../shared/reference) -------------------------------


@pytest.mark.reference
@pytest.mark.parametrize(("operation", "name", "kwargs"), REQUESTS, ids=_ids(REQUESTS))
def test_same_request_xml(
    ours: zeep.Client, real: zeep.Client, operation: str, name: str, kwargs: dict[str, Any]
) -> None:
    assert _request(ours, operation, kwargs) == _request(real, operation, kwargs)


@pytest.mark.reference
@pytest.mark.parametrize(("operation", "name", "body"), RESPONSES, ids=_ids(RESPONSES))
def test_same_parsed_response(
    ours: zeep.Client, real: zeep.Client, operation: str, name: str, body: str
) -> None:
    expected = _parse(real, operation, body)
    assert _parse(ours, operation, body) == expected
    if operation != "CloseSession":
        assert expected, "the reply parses into something"


def _describe_type(type_: Any, seen: frozenset[str]) -> Any:
    if isinstance(type_, xsd.ComplexType):
        name = type_.qname.text if type_.qname is not None else None
        if name is not None and name in seen:
            return ("complex", name, "...")
        inner = seen | {name} if name is not None else seen
        return (
            "complex",
            name,
            _describe(type_._element, inner) if type_._element is not None else None,
            [attr.qname for _, attr in type_.attributes],
        )
    mro = [
        cls.__name__ for cls in type(type_).__mro__ if cls.__module__.startswith("zeep.xsd.types")
    ]
    return ("simple", type_.qname.text if type_.qname is not None else None, mro)


def _describe(node: Any, seen: frozenset[str] = frozenset()) -> Any:
    """What zeep knows of an element tree: names, order, occurrences, nillable, types."""
    if isinstance(node, OrderIndicator):
        return (
            type(node).__name__,
            node.min_occurs,
            node.max_occurs,
            [_describe(c, seen) for c in node],
        )
    if isinstance(node, xsd.Element):
        return (
            node.qname.text,
            node.min_occurs,
            node.max_occurs,
            node.nillable,
            _describe_type(node.type, seen),
        )
    raise AssertionError(f"unexpected schema node {node!r}")


@pytest.mark.reference
@pytest.mark.parametrize("operation", sorted(USED_OPERATIONS))
def test_same_schema_and_soap_action(ours: zeep.Client, real: zeep.Client, operation: str) -> None:
    mine = ours.wsdl.bindings[BINDING].get(operation)
    theirs = real.wsdl.bindings[BINDING].get(operation)
    assert mine.soapaction == theirs.soapaction
    assert _describe(mine.input.body) == _describe(theirs.input.body)
    assert _describe(mine.output.body) == _describe(theirs.output.body)
    assert mine.input.signature() == theirs.input.signature()
    assert mine.output.signature(as_output=True) == theirs.output.signature(as_output=True)


def _enumerations(path: Path) -> dict[str, list[str]]:
    tree = etree.parse(str(path))
    xs = "http://www.w3.org/2001/XMLSchema"
    return {
        simple.get("name"): [e.get("value") for e in simple.iter(f"{{{xs}}}enumeration")]
        for simple in tree.iter(f"{{{xs}}}simpleType")
    }


@pytest.mark.reference
def test_same_enumerations(real_wsdl: Path) -> None:
    # zeep drops xsd:enumeration facets, so compare them in the XML itself.
    mine = _enumerations(_our_wsdl())
    theirs = _enumerations(real_wsdl)
    assert mine == {name: theirs[name] for name in mine}
    assert set(mine) == {"enMutatieSoorten", "enOpenpostenSoort"}


@pytest.mark.reference
def test_our_wsdl_is_not_a_copy(real_wsdl: Path) -> None:
    ours_text = _our_wsdl().read_text(encoding="utf-8")
    normalised = re.sub(r"\s+", " ", ours_text)
    copied = [
        line.strip()
        for line in real_wsdl.read_text(encoding="utf-8").splitlines()
        if len(line.strip()) >= 60 and re.sub(r"\s+", " ", line.strip()) in normalised
    ]
    assert copied == [], f"{len(copied)} long lines of the third-party WSDL appear verbatim"


def test_our_wsdl_says_what_it_is() -> None:
    head = "\n".join(_our_wsdl().read_text(encoding="utf-8").splitlines()[:40])
    assert "written for crmconnect" in head.lower()
    assert "test_eboekhouden_wsdl.py" in head
    assert "soap.e-boekhouden.nl/soap.asmx?wsdl" not in head.lower()
