"""DigitaleFactuur answers: every one checked for its shape, hostile ones typed and bounded.

The maintenance page of issue 9 (HTML with HTTP 200) once parsed as a relation
with every field ``None``; a create after it returned ``Relation(id=None)`` and
an upsert then created again. Here every answer of every action is held to
its shape, an unreadable create is looked up (never sent twice), and a sweep
of hostile bodies yields a result or a typed error, in bounded time and memory.
"""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
import urllib.parse
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from crmconnect import ConfigurationError, CrmConnectError, NotFoundError, ValidationError
from crmconnect.digitalefactuur import (
    ANSWER_ELEMENTS,
    DigitaleFactuurClient,
    Relation,
    relation_fingerprint,
)
from crmconnect.errors import APIError, MalformedResponseError
from crmconnect.sandbox import DigitaleFactuurSandbox, generate_relations

ACCOUNT, CODE = "98765", "s3cr3t-access-code-xyz"
MAINTENANCE = (
    "<html><head><title>Onderhoud</title></head>"
    "<body><h1>DigitaleFactuur is even in onderhoud</h1></body></html>"
)


def mock(
    handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> DigitaleFactuurClient:
    options: dict[str, Any] = {"rate_limit": None, "max_retries": 0, **kwargs}
    return DigitaleFactuurClient(ACCOUNT, CODE, transport=httpx.MockTransport(handler), **options)


def always(body: str | bytes, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    content = body.encode() if isinstance(body, str) else body
    return lambda request: httpx.Response(status, content=content)


def action(request: httpx.Request) -> str:
    return request.url.raw_path.decode().rsplit("/", 1)[-1].split("&", 1)[0]


def reachable(error: BaseException) -> Iterator[BaseException]:
    """The error and everything an error reporter reaches from it."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]


def assert_no_secrets(error: BaseException) -> None:
    for item in reachable(error):
        shown = " ".join([str(item), repr(item), repr(vars(item)), repr(item.args)])
        assert ACCOUNT not in shown and CODE not in shown, shown


# -- the maintenance page, and the shape of every answer ---------------------------------------


def test_a_maintenance_page_is_a_malformed_answer_with_context() -> None:
    with mock(always(MAINTENANCE)) as df, pytest.raises(MalformedResponseError) as caught:
        df.relations()
    error = caught.value
    assert (error.service, error.status_code) == ("digitalefactuur", 200)
    assert "onderhoud" in error.excerpt and "<html>" in str(error)
    assert error.context["action"] == "klanten" and "root element is <html>" in str(error)
    assert_no_secrets(error)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (MAINTENANCE, "root element is <html>"),
        ("<relaties><klant><id>1</id></klant></relaties>", "root element is <relaties>"),
        ("<klanten><klant><id></id><naam>Leeg</naam></klant></klanten>", "without <id>"),
        ("<klant><id></id></klant>", "without <id>"),
        ("<klanten><klant><naam>Geen id</naam></klant></klanten>", "without <id>"),
        ("<klanten><product><id>1</id></product></klanten>", "<product> where a <klant>"),
        ("<klanten>" + "<klant>" * 3 + "</klant>" * 3 + "</klanten>", "without <id>"),
        ("<klanten><klant><id>1</id>", "not well-formed"),
        (f"<klanten><klant><id>{'9' * 10_000}</id></klant></klanten>", "10000 characters"),
    ],
)
def test_wrong_roots_empty_ids_and_deep_xml_fail_every_read(body: str, reason: str) -> None:
    reads: list[Callable[[DigitaleFactuurClient], object]] = [
        lambda df: df.relations(),
        lambda df: df.relations_snapshot(),
        lambda df: df.relations_index(fields={"name"}),
        lambda df: df.relation(1),
        lambda df: df.relation_by_number(1001),
        lambda df: df.relations_by_number([1001, 1002]),
        lambda df: df.update_relation_fields(1, {"city": "Ede"}),
        lambda df: df.raw_relation_xml(),
    ]
    for call in reads:
        with mock(always(body)) as df, pytest.raises(MalformedResponseError, match=reason):
            call(df)


def test_a_record_nested_too_deep_is_listed_and_fails_where_its_values_are_read() -> None:
    """A listing reads IDs and digests only: the record fails when its values are read."""
    deep = "<klant><id>2</id>" + "<a>" * 50 + "</a>" * 50 + "</klant>"
    body = f"<klanten><klant><id>1</id><naam>Vlak</naam></klant>{deep}</klanten>"
    with mock(always(body)) as df:
        assert list(df.relations_snapshot()) == ["1", "2"]
        index = df.relations_index(fields={"name"})
        assert index.relation(1).name == "Vlak"
        with pytest.raises(MalformedResponseError, match="relation 2: nested deeper"):
            index.relation(2)
    values: list[Callable[[DigitaleFactuurClient], object]] = [
        lambda df: df.relations(),
        lambda df: df.relation(2),
        lambda df: df.relations_by_number([1001]),
    ]
    body = f"<klanten>{deep}</klanten>".replace("</id>", "</id><relatienummer>1001</relatienummer>")
    for call in values:
        with mock(always(body)) as df, pytest.raises(MalformedResponseError, match="deeper"):
            call(df)


@pytest.mark.parametrize(
    "body",
    [
        MAINTENANCE,
        "<klanten><klant><id>1</id></klant></klanten>",  # the klanten root, not an invoice list
        "<facturen><factuur><nummer>F1</nummer></factuur></facturen>",
        "<facturen><factuur><id>1</id><factuurdatum>99-99-2026</factuurdatum></factuur></facturen>",
        "<facturen><factuur><id>1</id><totaal>1e999999</totaal></factuur></facturen>",
        "<facturen><factuur><id>1</id><voldaan>NaN</voldaan></factuur></facturen>",
        "<facturen><factuur><id>1</id><factuurregels><factuurregel><prijs>-Infinity</prijs>"
        "</factuurregel></factuurregels></factuur></facturen>",
    ],
)
def test_invoice_answers_are_checked_too(body: str) -> None:
    with mock(always(body)) as df:
        for call in (df.invoices, lambda: df.invoice(1)):
            with pytest.raises(MalformedResponseError) as caught:
                call()
            assert caught.value.context["action"] == "facturen"


def test_write_answers_must_name_the_record_written() -> None:
    relation = Relation(id=5002, number=1001, name="Bakkerij")
    cases: list[tuple[str, Callable[[DigitaleFactuurClient], object]]] = [
        ("<klant><id>5003</id></klant>", lambda df: df.update_relation(relation)),
        (MAINTENANCE, lambda df: df.update_relation(relation)),
        ("<klant><id>5003</id></klant>", lambda df: df.delete_relation(5002)),
        ("<klant><verwijderd>ja</verwijderd></klant>", lambda df: df.delete_relation(5002)),
        ("<facturen><factuur><id>8</id></factuur></facturen>", lambda df: df.record_payment(7)),
        ("<facturen/>", lambda df: df.undo_payment(7)),
        ("", lambda df: df.record_payment(7, amount=Decimal("1.00"))),
    ]
    for body, call in cases:
        with mock(always(body)) as df, pytest.raises(MalformedResponseError):
            call(df)


def test_write_answers_in_the_sandbox_shape_are_accepted(df: DigitaleFactuurClient) -> None:
    created = df.create_relation(Relation(number=1001, name="Bakkerij"))
    assert created.id is not None
    df.update_relation(created.model_copy(update={"city": "Ede"}))
    df.delete_relation(int(created.id))


@pytest.fixture
def sandbox() -> DigitaleFactuurSandbox:
    return DigitaleFactuurSandbox(ACCOUNT, CODE)


@pytest.fixture
def df(sandbox: DigitaleFactuurSandbox) -> Iterator[DigitaleFactuurClient]:
    with DigitaleFactuurClient(
        ACCOUNT, CODE, transport=sandbox.transport(), rate_limit=None
    ) as client:
        yield client


# -- a create whose answer is unreadable is looked up, never sent twice ------------------------


def behind(
    sandbox: DigitaleFactuurSandbox,
    answer: Callable[[httpx.Request, httpx.Response], httpx.Response],
) -> Callable[[httpx.Request], httpx.Response]:
    """The sandbox's answers, with klant_aanmaken's replaced by ``answer(request, real)``."""
    transport = sandbox.transport()

    def handler(request: httpx.Request) -> httpx.Response:
        real = transport.handle_request(request)
        real.read()
        return answer(request, real) if action(request) == "klant_aanmaken" else real

    return handler


def test_an_unreadable_create_that_took_effect_is_found_not_sent_again(
    sandbox: DigitaleFactuurSandbox,
) -> None:
    handler = behind(sandbox, lambda request, real: httpx.Response(200, text=MAINTENANCE))
    with mock(handler) as df:
        created = df.create_relation(Relation(number="1001", name="Bakkerij"))
    assert created.id == sandbox.relations[0]["id"] and len(sandbox.relations) == 1
    assert sandbox.stats.requests["klant_aanmaken"] == 1


def test_an_empty_id_in_a_create_answer_is_looked_up(sandbox: DigitaleFactuurSandbox) -> None:
    handler = behind(
        sandbox, lambda request, real: httpx.Response(200, text="<klant><id></id></klant>")
    )
    with mock(handler) as df:
        created = df.create_relation(Relation(number="1001", name="Bakkerij"))
    assert created.id == sandbox.relations[0]["id"]


def test_an_unreadable_create_that_did_not_take_effect_raises_and_is_not_repeated(
    sandbox: DigitaleFactuurSandbox,
) -> None:
    sent: list[str] = []
    transport = sandbox.transport()

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(action(request))
        if action(request) == "klant_aanmaken" and sent.count("klant_aanmaken") == 1:
            return httpx.Response(200, text=MAINTENANCE)  # DF never saw it
        real = transport.handle_request(request)
        real.read()
        return real

    with mock(handler) as df:
        with pytest.raises(MalformedResponseError) as caught:
            df.create_relation(Relation(number="1001", name="Bakkerij"))
        assert sent.count("klant_aanmaken") == 1 and sandbox.relations == []
        assert "not created" in caught.value.context["looked_up"]
        upserted = df.upsert_relation(Relation(number="1001", name="Bakkerij"))
    assert sent.count("klant_aanmaken") == 2 and [r["id"] for r in sandbox.relations] == [
        upserted.id
    ]


def test_an_oversized_create_answer_is_looked_up_too(sandbox: DigitaleFactuurSandbox) -> None:
    big = "<klant><id>1</id><x>" + "x" * 20_000 + "</x></klant>"
    handler = behind(sandbox, lambda request, real: httpx.Response(200, text=big))
    with mock(handler, max_answer_bytes=10_000) as df:
        created = df.create_relation(Relation(number="1001", name="Bakkerij"))
    assert created.id == sandbox.relations[0]["id"]
    assert sandbox.stats.requests["klant_aanmaken"] == 1


def test_max_answer_bytes_caps_every_read(sandbox: DigitaleFactuurSandbox) -> None:
    for values in generate_relations(120):
        sandbox.add_relation(**values)
    transport = sandbox.transport()
    with DigitaleFactuurClient(
        ACCOUNT, CODE, transport=transport, rate_limit=None, max_answer_bytes=10_000
    ) as small:
        with pytest.raises(MalformedResponseError, match="max_answer_bytes"):
            small.relations()
    with DigitaleFactuurClient(ACCOUNT, CODE, transport=transport, rate_limit=None) as default:
        assert len(default.relations()) == 120


# -- the root names are data, correctable without a release ------------------------------------


def test_answer_roots_can_be_corrected(tmp_path: Path) -> None:
    body = "<xml><klant><id>7</id><naam>Bakkerij</naam></klant></xml>"
    assert {spec.attribute for spec in ANSWER_ELEMENTS.assumed} >= {"relation_list", "written"}
    with mock(always(body)) as df, pytest.raises(MalformedResponseError, match="<xml>"):
        df.relations()
    toml = tmp_path / "df.toml"
    toml.write_text('[answers]\nrelation_list = "xml"\n', encoding="utf-8")
    for elements in (ANSWER_ELEMENTS.override({"relation_list": "xml"}),
                     ANSWER_ELEMENTS.override_from_toml(toml)):  # fmt: skip
        with mock(always(body), answer_elements=elements) as df:
            assert [r.name for r in df.relations()] == ["Bakkerij"]
            assert list(df.relations_snapshot()) == ["7"]


# -- ids as numbers ------------------------------------------------------------------------


def test_ids_and_numbers_may_be_ints_everywhere(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    created = df.create_relation(Relation(number=1001, name="Bakkerij"))
    assert created.id is not None and created.number == "1001"
    relation_id = int(created.id)
    read = df.relation(relation_id)
    assert read is not None and read.id == created.id
    assert df.relation_by_number(1001) == read
    assert "<naam>Bakkerij</naam>" in df.raw_relation_xml(relation_id)
    invoice = sandbox.add_invoice(created.id, "F1", [("Brood", 1, "10.00", "0.09")])
    assert df.invoice(int(invoice.id)) is not None
    df.record_payment(int(invoice.id), amount=5, date=dt.date(2026, 3, 1))
    df.undo_payment(int(invoice.id))
    assert df.invoices(number="F1")[0].paid == 0
    df.delete_relation(relation_id)
    assert df.relation(relation_id) is None
    assert Relation(id=5002, number=1001).model_dump()["id"] == "5002"


@pytest.mark.parametrize("bad", [True, -1, 1.5, None, "", "\u200b", "1" * 21, b"5002"])
def test_a_bad_id_is_refused_before_any_call(
    bad: Any, sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    for call in (df.relation, df.delete_relation, df.invoice, df.undo_payment):
        with pytest.raises(ValidationError) as caught:
            call(bad)
        assert caught.value.field in ("relation_id", "invoice_id")
    assert sandbox.stats.total == 0


# -- the base URL -----------------------------------------------------------------------------


def test_a_base_url_without_a_path_gets_api(sandbox: DigitaleFactuurSandbox) -> None:
    sandbox.add_relation(naam="Bakkerij")
    for url in ("http://sandbox.test", "http://sandbox.test/", "http://sandbox.test/api/"):
        with DigitaleFactuurClient(
            ACCOUNT, CODE, base_url=url, transport=sandbox.transport(), rate_limit=None
        ) as df:
            assert df.base_url == "http://sandbox.test/api"
            assert len(df.relations()) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://sandbox.test/v1",
        f"http://sandbox.test/api/{ACCOUNT}/{CODE}",
        f"http://sandbox.test/api/{ACCOUNT}/{CODE}/klanten",
        "http://sandbox.test/api?x=1",
        "ftp://sandbox.test/api",
        "administratie.digitalefactuur.nl/api",
    ],
)
def test_a_wrong_base_url_is_refused_naming_it_without_secrets(url: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url") as caught:
        DigitaleFactuurClient(ACCOUNT, CODE, base_url=url)
    assert "/api" in str(caught.value)
    assert_no_secrets(caught.value)


def test_an_unknown_url_is_a_configuration_error_not_a_missing_record(
    sandbox: DigitaleFactuurSandbox,
) -> None:
    relation = sandbox.add_relation(naam="Bakkerij")
    # A path the sandbox does not serve: it answers "404 Onbekende URL", as for a base URL typo.
    with DigitaleFactuurClient(
        ACCOUNT, CODE, base_url="http://sandbox.test/df/api", transport=sandbox.transport()
    ) as df:
        for call in (df.relations, lambda: df.relation(relation["id"]), lambda: df.invoice(1)):
            with pytest.raises(ConfigurationError, match="base_url") as caught:
                call()
            assert "/api" in str(caught.value)
            assert_no_secrets(caught.value)
    for body, status in [("404 Onbekende actie klanten", 200), ("<h1>Not Found</h1>", 404)]:
        with mock(always(body, status)) as df, pytest.raises(ConfigurationError, match="base_url"):
            df.relation(5002)
    with mock(always("404 Klant niet gevonden")) as df:  # a missing record stays one
        assert df.relation(5002) is None
        with pytest.raises(NotFoundError):
            df.delete_relation(5002)


# -- the shared text rules ------------------------------------------------------------------


def test_text_sent_follows_the_shared_rules(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    relation = Relation(number="1001", name="Bakkerij\x00 De\u200b Zon\x1b", city="Ede\x7f")
    assert (relation.name, relation.city) == ("Bakkerij De Zon", "Ede")
    refused: list[dict[str, Any]] = [
        {"number": "1" * 10_000},
        {"number": "\u200b\x00"},
        {"name": "x" * 256},
        {"number": True},
        {"id": "5\n2" * 20},
    ]
    for values in refused:
        with pytest.raises(ValidationError) as caught:
            Relation(**values)
        assert caught.value.field == next(iter(values))
    sneaked = relation.model_copy(update={"name": "a" * 300})  # model_copy skips validation
    with pytest.raises(ValidationError, match="name"):
        df.create_relation(sneaked)
    with pytest.raises(ValidationError, match="number"):
        df.invoices(number="F" * 10_000)
    with pytest.raises(ValidationError, match="status"):
        df.invoices(status="misschien")
    for amount in ("1e400", "NaN", "-5", "abc", 0):
        with pytest.raises(ValidationError, match="amount"):
            df.record_payment(1, amount=amount)
    assert sandbox.stats.total == 0
    created = df.create_relation(relation)
    assert sandbox.relations[0]["naam"] == "Bakkerij De Zon" and created.name == relation.name


# -- the snapshot path gives the models' fingerprints ---------------------------------------------


def test_the_index_fingerprints_of_odd_records_equal_the_models_fingerprints() -> None:
    odd = [
        ("naam", "  Bakkerij \t De\n Zon  "),
        ("naam", "Bakkerij&#x200b; &#x80;De Zon"),
        ("naam", "Caf\u00e9 &amp; Zn\u00a0B.V."),
        ("postcode", " 3511 aa "),
        ("contactpersoon_email", "Info@Bakkerij.EXAMPLE"),
        ("land", "nl"),
        ("type", ""),
        ("type", "crediteur"),
        ("adres", "Straat  1 &#x2060;"),
    ]
    body = "<klanten>" + "".join(
        f"<klant><id>{n}</id><relatienummer>{1000 + n}</relatienummer><{e}>{v}</{e}></klant>"
        for n, (e, v) in enumerate(odd, 1)
    ) + "</klanten>"  # fmt: skip
    with mock(always(body)) as df:
        snapshot, index = df.relations_snapshot(), df.relations_index()
        relations = df.relations()
    assert list(snapshot) == [relation.id for relation in relations] == list(index)
    for relation in relations:
        assert relation.id is not None
        expected = relation_fingerprint(relation.model_dump(exclude={"id", "unknown"}))
        assert index[relation.id].fingerprint == expected, relation


# -- the sweep of hostile bodies ----------------------------------------------------------------


def _deep(levels: int) -> str:
    return "<klanten><klant><id>1</id>" + "<a>" * levels + "</a>" * levels + "</klant></klanten>"


def _hostile() -> list[tuple[str, bytes, int]]:
    record = "<klant><id>5002</id><relatienummer>1001</relatienummer><naam>Bakkerij</naam></klant>"
    invoice = "<factuur><id>7</id><factuurnummer>F1</factuurnummer>{}</factuur>"
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE k [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        "<klanten><klant><id>1</id><naam>&c;</naam></klant></klanten>"
    )
    texts: dict[str, str] = {
        "maintenance page": MAINTENANCE,
        "html5 page": "<!DOCTYPE html><html><body><p>Onderhoud<br></body></html>",
        "html fragment": "<p>Even geduld</p>",
        "unclosed html": "<html><body><h1>Onderhoud",
        "empty": "",
        "whitespace": " \r\n\t ",
        "plain text": "OK",
        "dutch text": "Er is iets misgegaan, probeer het later opnieuw.",
        "json object": '{"klanten": []}',
        "json empty object": "{}",
        "json list": "[]",
        "json null": "null",
        "json list of numbers": "[1, 2, 3]",
        "json string": '"klanten"',
        "json true": "true",
        "a float": "1.5",
        "a negative number": "-1",
        "a huge number": "9" * 10_000,
        "an exponent": "1e999999",
        "zero": "0",
        "wrong root": "<foo/>",
        "wrong root with records": f"<foo>{record}</foo>",
        "xml wrapper": f"<xml><klanten>{record}</klanten></xml>",
        "record without id": "<klanten><klant><naam>x</naam></klant></klanten>",
        "empty id": "<klant><id></id></klant>",
        "blank id": "<klant><id>   </id></klant>",
        "empty record": "<klanten><klant/></klanten>",
        "text record": "<klanten><klant>tekst</klant></klanten>",
        "stray element": "<klanten><foo><id>1</id></foo></klanten>",
        "stray leaf": f"<klanten><totaal>1</totaal>{record}</klanten>",
        "id as attribute": '<klanten><klant id="1"/></klanten>',
        "nested id": "<klanten><klant><id><id>1</id></id></klant></klanten>",
        "id of 10,000 digits": f"<klanten><klant><id>{'9' * 10_000}</id></klant></klanten>",
        "id of 21 digits": f"<klant><id>{'1' * 21}</id></klant>",
        "deep 9": _deep(9),
        "deep 1,000": _deep(1_000),
        "deep 100,000": _deep(100_000),
        "deep without record": "<a>" * 100_000 + "</a>" * 100_000,
        "unclosed deep": "<klanten>" + "<klant>" * 50_000,
        "wide: 5,000 records": "<klanten>"
        + "".join(f"<klant><id>{n}</id><naam>R{n}</naam></klant>" for n in range(5_000))
        + "</klanten>",
        "wide: 200,000 siblings": "<klanten><klant><id>1</id>"
        + "<x/>" * 200_000
        + "</klant></klanten>",
        "long name": f"<klanten><klant><id>1</id><naam>{'x' * 500_000}</naam></klant></klanten>",
        "repeated ids": f"<klanten>{record}{record}</klanten>",
        "two roots": f"{record}{record}",
        "truncated": f"<klanten>{record}<klant><id>5003</id><naam>Bak",
        "billion laughs": laughs,
        "external entity": '<?xml version="1.0"?><!DOCTYPE k [<!ENTITY e SYSTEM '
        '"file:///etc/passwd">]><klanten><klant><id>1</id><naam>&e;</naam></klant></klanten>',
        "parameter entity": '<!DOCTYPE k [<!ENTITY % p SYSTEM "http://example.com/x">%p;]><k/>',
        "external dtd": '<!DOCTYPE klanten SYSTEM "http://example.com/k.dtd"><klanten/>',
        "xinclude": '<klanten xmlns:xi="http://www.w3.org/2001/XInclude">'
        '<xi:include href="file:///etc/passwd"/></klanten>',
        "undefined entity": "<klant><id>1</id><naam>&foo;</naam></klant>",
        "nul reference": "<klant><id>1</id><naam>a&#0;b</naam></klant>",
        "control reference": "<klant><id>1</id><naam>a&#x1;b</naam></klant>",
        "c1 control reference": "<klant><id>1</id><naam>a&#x85;&#x9f;b</naam></klant>",
        "non-character reference": "<klant><id>1</id><naam>&#xFFFF;</naam></klant>",
        "out of range reference": "<klant><id>1</id><naam>&#x110000;</naam></klant>",
        "zero-width text": "<klant><id>1</id><naam>&#x200b;</naam><relatienummer>&#xfeff;</relatienummer></klant>",
        "cdata": "<klanten><klant><id>1</id><naam><![CDATA[<b>&amp;</b>]]></naam></klant></klanten>",
        "comments and PIs": f"<?pi x?><!-- a --><klanten><!-- b -->{record}<?pi y?></klanten>",
        "namespaced root": f'<df:klanten xmlns:df="urn:df">{record}</df:klanten>',
        "default namespace": f'<klanten xmlns="urn:df">{record}</klanten>',
        "bad type": "<klanten><klant><id>1</id><type>leverancier</type></klant></klanten>",
        "bad date": invoice.format("<factuurdatum>31-02-2026</factuurdatum>"),
        "garbage date": invoice.format("<vervaldatum>gisteren</vervaldatum>"),
        "huge total": invoice.format("<totaal>1e999999</totaal>"),
        "NaN total": invoice.format("<totaal>NaN</totaal>"),
        "text total": invoice.format("<totaal>veel</totaal>"),
        "negative infinity paid": invoice.format("<voldaan>-Infinity</voldaan>"),
        "line amounts": invoice.format(
            "<factuurregels><factuurregel><aantal>1e400</aantal></factuurregel></factuurregels>"
        ),
        "deep lines": invoice.format(
            "<factuurregels>" + "<factuurregel>" * 10 + "</factuurregel>" * 10 + "</factuurregels>"
        ),
        "odd status": invoice.format("<betaalstatus>deels&#x0a;betaald</betaalstatus>"),
        "invoice list": f"<facturen>{invoice.format('')}</facturen>",
        "code 401": "401 Ongeldige toegangscode",
        "code 404 record": "404 Klant niet gevonden",
        "code 404 url": "404 Onbekende URL",
        "code 404 action": "404 Onbekende actie",
        "code 409": "409 bestaat al",
        "code 422": "422 naam ontbreekt",
        "code 429": "429 Te veel verzoeken",
        "code 500": "500 Interne fout",
        "code 999": "999 onbekend",
        "code with secret echo": f"422 ongeldig: /api/{ACCOUNT}/{CODE}/klanten",
        "html with secret echo": f"<html><body>{CODE}</body></html>",
    }
    bodies = [(name, text.encode(), 200) for name, text in texts.items()]
    bodies += [
        ("invalid utf-8", b"<klant><id>1</id><naam>\xff\xfe\x80</naam></klant>", 200),
        ("utf-16 with bom", f"<klanten>{record}</klanten>".encode("utf-16"), 200),
        ("utf-8 bom", b"\xef\xbb\xbf" + f"<klanten>{record}</klanten>".encode(), 200),
        (
            "latin-1 declared",
            b'<?xml version="1.0" encoding="ISO-8859-1"?><klant><id>1</id>'
            b"<naam>Caf\xe9</naam></klant>",
            200,
        ),  # fmt: skip
        ("unknown encoding", b'<?xml version="1.0" encoding="x-klingon"?><klant/>', 200),
        ("binary", bytes(range(256)) * 4, 200),
        ("gzip magic", b"\x1f\x8b\x08\x00" + b"\x00" * 64, 200),
        ("too large", b"<klanten>" + b" " * 2_000_000 + b"</klanten>", 200),
        ("404 html", b"<html><h1>404 Not Found</h1></html>", 404),
        ("500 html", MAINTENANCE.encode(), 500),
        ("503 empty", b"", 503),
        ("502 text", b"Bad Gateway", 502),
        ("401 html", b"<html>Unauthorized</html>", 401),
        ("204 no content", b"", 204),
        ("302 no location", b"", 302),
    ]
    return bodies


HOSTILE = _hostile()

OPERATIONS: dict[str, Callable[[DigitaleFactuurClient], object]] = {
    "relations": lambda df: df.relations(),
    "relations_snapshot": lambda df: df.relations_snapshot(),
    "relations_index": lambda df: df.relations_index(fields={"name", "city"}),
    "relation": lambda df: df.relation(5002),
    "relation_by_number": lambda df: df.relation_by_number(1001),
    "relations_by_number": lambda df: df.relations_by_number([1001, 1002]),
    "update_relation_fields": lambda df: df.update_relation_fields(5002, {"city": "Ede"}),
    "create_relation": lambda df: df.create_relation(Relation(number=1001, name="Bakkerij")),
    "update_relation": lambda df: df.update_relation(Relation(id=5002, number=1001, name="B")),
    "upsert_relation": lambda df: df.upsert_relation(Relation(number=1001, name="Bakkerij")),
    "delete_relation": lambda df: df.delete_relation(5002),
    "raw_relation_xml": lambda df: df.raw_relation_xml(),
    "invoices": lambda df: df.invoices(status="openstaand"),
    "invoice": lambda df: df.invoice(7),
    "record_payment": lambda df: df.record_payment(7, amount=Decimal("10.00")),
    "undo_payment": lambda df: df.undo_payment(7),
}


def test_the_sweep_has_the_adversarys_breadth() -> None:
    assert len(HOSTILE) >= 88 and len({name for name, _, _ in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize(("name", "body", "status"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_every_hostile_body_gives_a_result_or_a_typed_error_in_bounded_time_and_memory(
    name: str, body: bytes, status: int
) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with mock(always(body, status), max_answer_bytes=1_000_000) as df:
            for operation, call in OPERATIONS.items():
                try:
                    call(df)
                except CrmConnectError as error:
                    assert_no_secrets(error)
                    if isinstance(error, APIError):
                        assert error.service == "digitalefactuur", (operation, error)
                    if isinstance(error, MalformedResponseError):
                        assert error.status_code == status, (operation, error)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Generous bounds (16 operations, tracing on, a shared machine): a hang or a blow-up
    # fails them; the speed itself is measured in benchmarks/digitalefactuur_snapshot.py.
    assert elapsed < 60, f"{name}: {elapsed:.1f} s"
    assert peak < 150 * 2**20 + 40 * len(body), f"{name}: {peak / 2**20:.0f} MB"


def test_secrets_echoed_by_the_service_are_masked_in_errors() -> None:
    echo = f"<html><body>bad request /api/{ACCOUNT}/{CODE}/klanten {urllib.parse.quote(CODE)}</body></html>"
    with mock(always(echo)) as df, pytest.raises(MalformedResponseError) as caught:
        df.relations()
    assert "***" in caught.value.excerpt
    assert_no_secrets(caught.value)


@pytest.mark.anyio
async def test_the_async_client_checks_answers_and_routes_alike(
    sandbox: DigitaleFactuurSandbox,
) -> None:
    from crmconnect.digitalefactuur import AsyncDigitaleFactuurClient

    async with AsyncDigitaleFactuurClient(
        ACCOUNT, CODE, transport=httpx.MockTransport(always(MAINTENANCE)), rate_limit=None
    ) as df:
        with pytest.raises(MalformedResponseError, match="<html>"):
            await df.relations_snapshot()
    async with AsyncDigitaleFactuurClient(
        ACCOUNT, CODE, base_url="http://sandbox.test/df/api", transport=sandbox.transport()
    ) as df:
        with pytest.raises(ConfigurationError, match="base_url"):
            await df.relation(5002)
    async with AsyncDigitaleFactuurClient(
        ACCOUNT, CODE, transport=sandbox.transport(), rate_limit=None
    ) as df:
        created = await df.create_relation(Relation(number=1001, name="Bakkerij"))
        assert created.id is not None and await df.relation(int(created.id)) is not None
