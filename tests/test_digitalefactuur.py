"""The DigitaleFactuur client against its sandbox and against hand-made answers."""

from __future__ import annotations

import datetime as dt
import logging
import urllib.parse
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from crmconnect import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    NotFoundError,
    RemoteValidationError,
    ServerError,
    TimeoutError,
    ValidationError,
)
from crmconnect._cli_app import app
from crmconnect.digitalefactuur import (
    RELATION_FIELDS,
    AsyncDigitaleFactuurClient,
    DigitaleFactuurClient,
    Invoice,
    PaymentStatus,
    Relation,
    RelationKind,
    parse_date,
    relation_fingerprint,
)
from crmconnect.errors import MalformedResponseError
from crmconnect.sandbox import DigitaleFactuurSandbox, generate_relations

from .sandbox_cli import serve_cli

ACCOUNT, CODE = "98765", "s3cr3t-access-code-xyz"
BASE = "https://administratie.digitalefactuur.nl/api"


@pytest.fixture
def sandbox() -> DigitaleFactuurSandbox:
    return DigitaleFactuurSandbox(ACCOUNT, CODE)


@pytest.fixture
def df(sandbox: DigitaleFactuurSandbox) -> Iterator[DigitaleFactuurClient]:
    with DigitaleFactuurClient(
        ACCOUNT, CODE, transport=sandbox.transport(), rate_limit=None
    ) as client:
        yield client


def mock(
    handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> DigitaleFactuurClient:
    return DigitaleFactuurClient(
        ACCOUNT, CODE, transport=httpx.MockTransport(handler), rate_limit=None, **kwargs
    )


def xml_answer(body: str) -> httpx.Response:
    return httpx.Response(200, text=body, headers={"Content-Type": "text/xml"})


# -- relations --------------------------------------------------------------------------


def test_relations_over_every_page(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    for values in generate_relations(250):
        sandbox.add_relation(**values)
    found = df.relations()
    assert len(found) == 250 and len({r.id for r in found}) == 250
    assert sandbox.stats.requests["klanten"] == 4  # three pages and the empty one
    assert {r.kind for r in found} == {RelationKind.DEBTOR, RelationKind.CREDITOR}
    assert found[0].unknown == {"aanmaakdatum": dt.date.today().isoformat()}  # kept, not dropped


def test_create_numbers_get_update_delete(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    debtor = df.create_relation(Relation(number="1001", name="Bakkerij Jansen", city="Utrecht"))
    creditor = df.create_relation(
        Relation(number="2001", name="Groothandel Smit", kind=RelationKind.CREDITOR)
    )
    assert debtor.id and creditor.id and debtor.id != creditor.id
    read = df.relation(creditor.id)
    assert read is not None and (read.number, read.kind) == ("2001", RelationKind.CREDITOR)
    df.update_relation(debtor.model_copy(update={"city": None, "postcode": "3511 AA"}))
    stored = next(r for r in sandbox.relations if r["id"] == debtor.id)
    assert (stored["plaats"], stored["postcode"]) == ("", "3511 AA")  # every element was sent
    df.delete_relation(creditor.id)
    assert df.relation(creditor.id) is None
    with pytest.raises(NotFoundError):
        df.delete_relation(creditor.id)


def test_upsert_goes_by_number(sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient) -> None:
    first = df.upsert_relation(Relation(number="1001", name="Bakkerij Jansen"))
    second = df.upsert_relation(Relation(number="1001", name="Bakkerij Jansen & Zn"))
    assert first.id == second.id and len(sandbox.relations) == 1
    assert sandbox.relations[0]["naam"] == "Bakkerij Jansen & Zn"
    assert df.relation_by_number("1001") is not None and df.relation_by_number("9999") is None


def test_special_characters_survive_the_round_trip(df: DigitaleFactuurClient) -> None:
    name, address = 'Bakkerij "De Zon" & <Zn> B.V.', "Rue d'Été 1 & 2"
    created = df.create_relation(
        Relation(number="1001", name=name, address=address, city="Zaandam")
    )
    assert created.id is not None
    read = df.relation(created.id)
    assert read is not None and (read.name, read.address) == (name, address)


def test_create_without_number_or_with_id_is_refused_before_any_call(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    with pytest.raises(ValidationError, match="number"):
        df.create_relation(Relation(name="Zonder nummer"))
    with pytest.raises(ValidationError, match="id"):
        df.create_relation(Relation(id="5", number="1001", name="Al bekend"))
    assert sandbox.stats.total == 0


def test_taken_number_and_missing_name_are_typed(df: DigitaleFactuurClient) -> None:
    df.create_relation(Relation(number="1001", name="Eerste"))
    with pytest.raises(ConflictError) as taken:
        df.create_relation(Relation(number="1001", name="Tweede"))
    assert taken.value.code == "409"
    with pytest.raises(RemoteValidationError) as nameless:
        df.create_relation(Relation(number="1002"))
    assert (nameless.value.code, nameless.value.field) == ("422", "name")


# -- writes are never done twice ------------------------------------------------------------


def test_lost_create_answer_is_found_by_number(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    sandbox.fail_next(1, "drop_after", "klant_aanmaken")  # created, then the connection drops
    created = df.create_relation(Relation(number="1001", name="Bakkerij"))
    assert [r["relatienummer"] for r in sandbox.relations] == ["1001"]
    assert created.id == sandbox.relations[0]["id"]
    assert sandbox.stats.requests["klant_aanmaken"] == 1


def test_dropped_create_is_checked_then_sent_once_more(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    sandbox.fail_next(1, "drop", "klant_aanmaken")  # dropped before DF saw it
    created = df.create_relation(Relation(number="1001", name="Bakkerij"))
    assert len(sandbox.relations) == 1 and created.id == sandbox.relations[0]["id"]
    assert sandbox.stats.requests["klant_aanmaken"] == 2


def test_writes_are_not_retried_reads_are(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    sandbox.fail_next(1, "500", "klant_aanmaken")
    with pytest.raises(ServerError):
        df.create_relation(Relation(number="1001", name="Bakkerij"))
    assert sandbox.relations == [] and sandbox.stats.requests["klant_aanmaken"] == 1
    sandbox.add_relation(naam="Bakkerij")
    sandbox.fail_next(2, "503", "klanten")
    assert len(df.relations()) == 1


# -- invoices and payments ------------------------------------------------------------------


def test_invoices_by_status_and_number_with_payments(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    relation = sandbox.add_relation(naam="Bakkerij")
    first = sandbox.add_invoice(
        relation["id"], "F2026-001", [("Advies", 2, "100.00", "0.21")], date=dt.date(2026, 3, 1)
    )
    sandbox.add_invoice(
        relation["id"], "F2026-002", [("Boek", 1, "10.00", "0.09")], date=dt.date(2026, 3, 2)
    )
    [one] = df.invoices(number="F2026-001")
    assert (one.total, one.date, one.payment_status) == (
        Decimal("242.00"),
        dt.date(2026, 3, 1),
        PaymentStatus.OPEN,
    )
    assert one.lines[0].vat == Decimal("0.210") and one.lines[0].price == Decimal("100.000")
    df.record_payment(first.id, amount=Decimal("100.00"), date=dt.date(2026, 3, 10))
    partly = df.invoice(first.id)
    assert partly is not None and (partly.paid, partly.outstanding) == (
        Decimal("100.00"),
        Decimal("142.00"),
    )
    df.record_payment(first.id)
    assert [i.number for i in df.invoices(status="betaald")] == ["F2026-001"]
    assert [i.number for i in df.invoices(status=PaymentStatus.OPEN)] == ["F2026-002"]
    df.undo_payment(first.id)
    undone = df.invoice(first.id)
    assert undone is not None and undone.payment_status is PaymentStatus.OPEN and undone.paid == 0
    assert df.invoice("424242") is None
    with pytest.raises(ValueError):
        df.invoices(status="misschien")


# -- the wire format ------------------------------------------------------------------------


def test_parameters_are_glued_on_with_ampersands_and_writes_are_one_form_field() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if b"klant_aanmaken" in request.url.raw_path:
            return xml_answer("<klant><id>77</id></klant>")
        return xml_answer("<facturen/>")

    with mock(handler) as df:
        df.invoices(number='A&B <1> "é"')
        created = df.create_relation(
            Relation(number="1001", name="Bakker & Zn <BV>", city="Zaandam")
        )
    get, post = seen[0], seen[1]
    raw = get.url.raw_path.decode()
    assert "?" not in raw
    assert (
        raw
        == "/api/98765/s3cr3t-access-code-xyz/facturen&factuurnummer=A%26B%20%3C1%3E%20%22%C3%A9%22&page=1"
    )
    assert (
        post.method == "POST"
        and post.headers["content-type"] == "application/x-www-form-urlencoded"
    )
    form = urllib.parse.parse_qs(post.content.decode())
    assert list(form) == ["xml"]
    assert "<naam>Bakker &amp; Zn &lt;BV&gt;</naam>" in form["xml"][0]
    assert "<kvk_nummer />" in form["xml"][0]  # every mapped element, also the empty ones
    assert created.id == "77"


def test_corrected_element_names_are_used_on_the_wire(tmp_path: Path) -> None:
    bodies: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(urllib.parse.parse_qs(request.content.decode())["xml"][0])
        return httpx.Response(200, text="5")

    toml = tmp_path / "df.toml"
    toml.write_text('[klant]\nkvk_number = "kvknummer"\n', encoding="utf-8")
    fields = RELATION_FIELDS.override_from_toml(toml)
    assert not any(spec.attribute == "kvk_number" for spec in fields.assumed)
    with mock(handler, relation_fields=fields) as df:
        created = df.create_relation(Relation(number="1001", name="B", kvk_number="69599084"))
    assert "<kvknummer>69599084</kvknummer>" in bodies[0] and "kvk_nummer" not in bodies[0]
    assert created.id == "5"  # a bare number answer is the new ID
    with pytest.raises(ConfigurationError, match="kvk_nummber"):
        RELATION_FIELDS.override({"kvk_nummber": "x"})
    with pytest.raises(ConfigurationError, match="used twice"):
        RELATION_FIELDS.override({"kvk_number": "naam"})


# -- paging edge cases ----------------------------------------------------------------------


def pages(
    answer: Callable[[int], str],
) -> tuple[Callable[[httpx.Request], httpx.Response], list[int]]:
    asked: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.raw_path.decode().rsplit("page=", 1)[1])
        asked.append(page)
        return xml_answer(answer(page))

    return handler, asked


def klanten(*ids: int) -> str:
    return (
        "<klanten>"
        + "".join(f"<klant><id>{i}</id><naam>R{i}</naam></klant>" for i in ids)
        + "</klanten>"
    )


def test_empty_first_page_is_an_empty_list() -> None:
    handler, asked = pages(lambda page: "<klanten/>")
    with mock(handler) as df:
        assert df.relations() == []
    assert asked == [1]


def test_a_service_that_ignores_page_is_read_once() -> None:
    handler, asked = pages(lambda page: klanten(1, 2, 3))
    with mock(handler) as df:
        assert [r.id for r in df.relations()] == ["1", "2", "3"]
    assert asked == [1, 2]


def test_a_page_that_comes_back_later_stops_the_loop() -> None:
    handler, asked = pages(lambda page: klanten(page % 2, 10 + page % 2))
    with mock(handler) as df:
        assert len(df.relations()) == 4
    assert asked == [1, 2, 3]


def test_endless_pages_hit_the_hard_cap() -> None:
    handler, asked = pages(lambda page: klanten(page))
    with mock(handler, max_pages=5) as df, pytest.raises(APIError, match="more than 5 pages"):
        df.relations()
    assert asked == [1, 2, 3, 4, 5]


def test_a_single_relation_without_wrapper_is_one_record() -> None:
    handler, _ = pages(
        lambda page: "<klant><id>9</id><naam>Solo</naam></klant>" if page == 1 else "<klanten/>"
    )
    with mock(handler) as df:
        assert [r.name for r in df.relations()] == ["Solo"]


# -- errors and secrets ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "kind", "code"),
    [
        (httpx.Response(200, text="401 Ongeldige toegangscode"), AuthenticationError, "401"),
        (httpx.Response(200, text="404: Klant niet gevonden"), NotFoundError, "404"),
        (httpx.Response(200, text="409 relatienummer bestaat al"), ConflictError, "409"),
        (httpx.Response(200, text="777 Iets onbekends"), APIError, "777"),
        (httpx.Response(400, text="Bad Request"), APIError, None),
        (httpx.Response(403, text="403 verboden"), AuthenticationError, "403"),
        (httpx.Response(502, text="<html>Bad gateway</html>"), ServerError, None),
        (httpx.Response(200, text="Hallo, dit is geen XML"), MalformedResponseError, None),
    ],
)
def test_error_answers_are_typed_and_hold_no_secrets(
    answer: httpx.Response, kind: type[APIError], code: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with mock(lambda request: answer, max_retries=1) as df, pytest.raises(kind) as caught:
        df.relations()
    assert type(caught.value) is kind and caught.value.code == code
    shown = " ".join(
        [str(caught.value), repr(caught.value), repr(df), caplog.text, str(caught.value.context)]
    )
    assert ACCOUNT not in shown and CODE not in shown
    assert "httpx" in caplog.text or kind is APIError  # httpx did log the URL, masked


def test_transport_failures_hold_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused: {request.url}", request=request)

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timed out: {request.url}", request=request)

    for handler, kind in ((refuse, ConnectError), (hang, TimeoutError)):
        with mock(handler, max_retries=0) as df, pytest.raises(kind) as caught:
            df.relations()
        shown = str(caught.value) + repr(caught.value) + caplog.text
        assert ACCOUNT not in shown and CODE not in shown and "***" in str(caught.value)


def test_billion_laughs_and_external_entities_are_refused() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        "<klanten><klant><id>1</id><naam>&lol3;</naam></klant></klanten>"
    )
    external = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><klanten><klant><naam>&e;</naam></klant></klanten>'
    for body in (laughs, external):

        def answer(request: httpx.Request, body: str = body) -> httpx.Response:
            return xml_answer(body)

        with mock(answer) as df, pytest.raises(APIError, match="refused") as caught:
            df.relations()
        assert ACCOUNT not in str(caught.value) and CODE not in str(caught.value)


def test_the_sandbox_refuses_a_dtd_and_bad_credentials(sandbox: DigitaleFactuurSandbox) -> None:
    with httpx.Client(transport=sandbox.transport()) as raw:
        evil = '<?xml version="1.0"?><!DOCTYPE k [<!ENTITY a "b">]><klant><naam>&a;</naam></klant>'
        refused = raw.post(f"{BASE}/{ACCOUNT}/{CODE}/klant_aanmaken", data={"xml": evil})
        wrong = raw.get(f"{BASE}/{ACCOUNT}/wrong/klanten")
        nothing = raw.post(f"{BASE}/{ACCOUNT}/{CODE}/klant_aanmaken", data={})
    assert refused.text.startswith("422") and sandbox.relations == []
    assert wrong.text.startswith("401") and nothing.text.startswith("422")
    with (
        DigitaleFactuurClient(ACCOUNT, "wrong", transport=sandbox.transport()) as df,
        pytest.raises(AuthenticationError),
    ):
        df.relations()


def test_repr_and_missing_credentials() -> None:
    client = DigitaleFactuurClient(ACCOUNT, CODE)
    assert CODE not in repr(client) and ACCOUNT not in repr(client)
    with pytest.raises(ConfigurationError, match="access code"):
        DigitaleFactuurClient(ACCOUNT, "")
    with pytest.raises(ConfigurationError, match="malformed"):
        DigitaleFactuurClient("1/2", CODE)


# -- change detection -----------------------------------------------------------------------


def test_snapshot_digests_change_with_the_record_and_fingerprints_with_its_values(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    for values in generate_relations(120):
        sandbox.add_relation(**values)
    before, index = df.relations_snapshot(), df.relations_index()
    relation = df.relations()[5]
    assert relation.id is not None
    assert index[relation.id].fingerprint == relation_fingerprint(
        relation.model_dump(exclude={"id", "unknown"})
    )
    df.update_relation(
        relation.model_copy(update={"postcode": (relation.postcode or "").lower().replace(" ", "")})
    )
    respelled = df.relations_snapshot()  # the record's bytes changed: its digest shows it
    assert {key for key in before if before[key] != respelled[key]} == {relation.id}
    assert df.relations_index()[relation.id].fingerprint == index[relation.id].fingerprint
    df.update_relation(relation.model_copy(update={"city": "Elders"}))
    after = df.relations_snapshot()
    assert {key for key in before if before[key] != after[key]} == {relation.id}
    assert df.relations_index()[relation.id].fingerprint != index[relation.id].fingerprint


def test_dates_amounts_and_statuses_in_both_spellings() -> None:
    assert parse_date("02-06-2010") == parse_date("2010-06-02") == dt.date(2010, 6, 2)
    assert parse_date("") is None and parse_date("0000-00-00") is None
    invoice = Invoice.model_validate(
        {"totaal": "12,50", "voldaan": "2.5", "betaalstatus": "Betaald "}
    )
    assert (invoice.total, invoice.paid, invoice.payment_status) == (
        Decimal("12.50"),
        Decimal("2.5"),
        PaymentStatus.PAID,
    )
    assert Invoice.model_validate({"betaalstatus": "deels"}).payment_status == "deels"  # as sent


# -- the async twin and the command line ------------------------------------------------------


@pytest.mark.anyio
async def test_async_client_does_the_same(sandbox: DigitaleFactuurSandbox) -> None:
    sandbox.fail_next(1, "drop_after", "klant_aanmaken")
    async with AsyncDigitaleFactuurClient(
        ACCOUNT, CODE, transport=sandbox.transport(), rate_limit=None
    ) as df:
        created = await df.create_relation(Relation(number="1001", name="Bakkerij"))
        listed = await df.relations()
        snapshot = await df.relations_snapshot()
    assert [r.id for r in listed] == [created.id] and list(snapshot) == [created.id]
    assert len(sandbox.relations) == 1


def test_inspect_prints_the_raw_xml_and_the_assumptions() -> None:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["digitalefactuur", "inspect", "--sandbox"]
    )
    assert result.exit_code == 0, result.output
    assert "<kvk_nummer>69599084</kvk_nummer>" in result.output
    assert "assumed" in result.output and "aanmaakdatum" in result.output


def test_sandbox_cli_hides_custom_credentials() -> None:
    process, url, banner = serve_cli(
        "digitalefactuur", "--account-id", ACCOUNT, "--access-code", CODE, "--synthetic", "3"
    )
    try:
        with DigitaleFactuurClient(ACCOUNT, CODE, base_url=url + "/api") as df:
            found = df.relations()
    finally:
        process.terminate()
        output, errors = process.communicate(timeout=10)
    assert [r.number for r in found] == ["1000", "1001", "1002"]
    shown = banner + output + errors
    assert ACCOUNT not in shown and CODE not in shown


def test_a_three_digit_id_is_an_answer_not_an_error() -> None:
    with mock(lambda request: httpx.Response(200, text="123\n")) as df:
        created = df.create_relation(Relation(number="1001", name="Bakkerij"))
    assert created.id == "123"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("iban", "NL00ABNA0000000000"),
        ("vat_number", "NL123"),
        ("kvk_number", "123"),
        ("bic", "ABNA"),
        ("citty", "Elders"),
    ],
)
def test_a_relation_the_host_builds_is_checked_like_every_other(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Relation(number="1001", name="Bakkerij", **{field: value})
    assert (refused.value.field, refused.value.value) == (field, value)


def test_identifiers_are_normalised_when_built_and_read_as_they_are() -> None:
    built = Relation(
        number="1001", name="Bakkerij", kvk_number="6959 9084", iban="nl91 abna 0417 1643 00"
    )
    assert (built.kvk_number, built.iban) == ("69599084", "NL91ABNA0417164300")
    # What a person typed into DigitaleFactuur is read, not refused (one odd
    # IBAN must not fail a listing); sending it back is checked.
    read = Relation.from_elements({"id": "7", "relatienummer": "1001", "rekeningnummer": "n/a"})
    assert read.iban == "n/a"
    with pytest.raises(ValidationError, match="iban"):
        Relation.model_validate(read.model_dump())
