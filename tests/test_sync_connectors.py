"""The two connector adapters the sync engine talks to, against the in-process sandboxes.

`DigitaleFactuurConnector` (relations both ways) and `EBoekhoudenConnector`
(relations out, bookings, payment states; SOAP and REST): listing with roles,
values normalised alike on both sides (a create listed back compares equal: no
echo), updates of owned fields that keep every other remote value, look-up by
number, invoices booked exactly once, payment states by relation and invoice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from crmconnect import ConfigurationError, ValidationError
from crmconnect.digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector
from crmconnect.eboekhouden import BooksClient, EBoekhoudenClient, EBoekhoudenConnector
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.errors import MalformedResponseError, MappingError
from crmconnect.mapping import DIGITALEFACTUUR_RELATIONS, RelationMapping, VatRow, VatTable
from crmconnect.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    Organisation,
    Person,
    RelationType,
)
from crmconnect.sandbox import (
    DEMO_CREDENTIALS,
    DEMO_VAT_TABLE,
    DigitaleFactuurSandbox,
    EBoekhoudenSandbox,
)
from crmconnect.sync import (
    AccountingConnector,
    Capability,
    NumberCheckingConnector,
    PaymentState,
    RemoteRelation,
    RemovingConnector,
    Role,
)

ACCOUNT, CODE = "98765", "s3cr3t-access-code-xyz"
SECRETS = [
    CODE,
    DEMO_CREDENTIALS.security_code_1,
    DEMO_CREDENTIALS.security_code_2,
    DEMO_CREDENTIALS.access_token or "?",
]


def organisation(number: str = "1002", **changes: object) -> Organisation:
    data: dict[str, object] = {
        "name": "Garage  De Vries",
        "kvk_number": "69599084",
        "contact": {"email": "Info@Garage-DeVries.NL", "phone": "071-5123456"},
        "addresses": [
            {"kind": "invoice", "street": "Haagweg", "house_number": 4, "house_letter": "G",
             "postcode": "2311 AA", "city": "Leiden"},
            {"kind": "visiting", "street": "Stationsplein", "house_number": 1,
             "postcode": "2312 AJ", "city": "Leiden"},
        ],
        "debtor_number": number,
        **changes,
    }  # fmt: skip
    return Organisation.model_validate(data)


def person() -> Person:
    return Person.model_validate(
        {
            "first_name": "Jan Pieter",
            "infix": "van der",
            "last_name": "Berg",
            "contact": {"email": "jp@berg.example"},
            "addresses": [{"kind": "private", "postcode": "6711 AA", "city": "Ede"}],
            "creditor_number": "2001",
        }
    )


def by_id(listing: list[RemoteRelation] | tuple[RemoteRelation, ...]) -> dict[str, RemoteRelation]:
    return {relation.remote_id: relation for relation in listing}


# == DigitaleFactuur ============================================================================


@pytest.fixture
def df_sandbox() -> DigitaleFactuurSandbox:
    sandbox = DigitaleFactuurSandbox(ACCOUNT, CODE)
    sandbox.add_relation(
        relatienummer="1001",
        naam="Bakkerij  Jansen B.V.",
        contactpersoon_email="Info@Jansen.NL",
        telefoonnummer="030-1234567",
        postcode="3511 aa",
        plaats="Utrecht",
        land="NL",
        tenaamstelling="B. Jansen",  # no table maps it: DF's own
        contactpersoon_afdeling="Inkoop",  # no table maps it either
    )
    sandbox.add_relation(relatienummer="2001", naam="Groothandel Smit")  # type left debiteur
    sandbox.add_relation(relatienummer="5001", naam="Buiten de reeksen", type="crediteur")
    return sandbox


@pytest.fixture
def df_client(df_sandbox: DigitaleFactuurSandbox) -> Iterator[DigitaleFactuurClient]:
    with DigitaleFactuurClient(
        ACCOUNT, CODE, transport=df_sandbox.transport(), rate_limit=None
    ) as client:
        yield client


@pytest.fixture
def df(df_client: DigitaleFactuurClient) -> DigitaleFactuurConnector:
    return DigitaleFactuurConnector(df_client)


def df_calls(sandbox: DigitaleFactuurSandbox) -> dict[str, int]:
    return {action: n for action, n in sandbox.stats.requests.items() if n}


def df_stored(sandbox: DigitaleFactuurSandbox, number: str) -> dict[str, str]:
    return next(r for r in sandbox.relations if r["relatienummer"] == number)


def test_df_is_an_accounting_connector_with_the_directions_asked(
    df_client: DigitaleFactuurClient,
) -> None:
    both = DigitaleFactuurConnector(df_client)
    assert isinstance(both, AccountingConnector) and isinstance(both, RemovingConnector)
    assert both.service == "digitalefactuur"
    assert both.capabilities == {
        Capability.RELATIONS_TO_REMOTE,
        Capability.RELATIONS_FROM_REMOTE,
        Capability.RELATION_REMOVAL,  # klant_verwijderen, for on_host_removal="remove"
    }
    pull_only = DigitaleFactuurConnector(df_client, to_remote=False)
    assert pull_only.capabilities == {Capability.RELATIONS_FROM_REMOTE}
    assert CODE not in repr(both)


def test_df_listing_gives_number_role_and_normalised_values_in_one_listing(
    df_sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurConnector
) -> None:
    listing = {relation.number: relation for relation in df.relations()}
    assert df_calls(df_sandbox) == {"klanten": 2}  # one page and the empty one
    assert {number: r.role for number, r in listing.items()} == {
        "1001": Role.DEBTOR,
        "2001": Role.CREDITOR,  # the number range, though DF's type says debiteur
        "5001": Role.CREDITOR,  # in no range: DF's type
    }
    bakery = listing["1001"]
    assert bakery.remote_id == df_stored(df_sandbox, "1001")["id"]
    assert set(bakery.values) == df.fields
    assert {name: text for name, text in bakery.values.items() if text} == {
        "name": "Bakkerij Jansen B.V.",
        "email": "info@jansen.nl",
        "phone": "030-1234567",
        "postcode": "3511AA",
        "city": "Utrecht",
        "country": "NL",
    }
    assert "account_holder" not in bakery.values and "contact_department" not in bakery.values
    assert listing["2001"].fingerprint != bakery.fingerprint


def test_df_an_unreadable_relation_fails_alone_and_is_named(
    df_sandbox: DigitaleFactuurSandbox,
    df: DigitaleFactuurConnector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    odd = df_sandbox.add_relation(relatienummer="1500", naam="x" * 300)  # typed into DF
    outside = df_sandbox.add_relation(relatienummer="7001", naam="y" * 300)  # in no range
    listing = {remote.number: remote for remote in df.relations()}
    assert sorted(listing) == ["1001", "1500", "2001", "5001"]  # read when its values are
    assert listing["1001"].values["name"] and listing["1500"].digest
    with pytest.raises(MalformedResponseError) as caught:
        dict(listing["1500"].values)
    assert "name" in str(caught.value) and odd["id"] in str(caught.value)
    assert CODE not in str(caught.value)
    # A number in no range needs DF's type, so its values are read at once: it is left out.
    assert list(df.unreadable) == [outside["id"]]
    assert CODE not in str(df.unreadable[outside["id"]]) and CODE not in caplog.text
    assert outside["id"] in caplog.text


@pytest.mark.parametrize(
    ("party", "role", "number", "kind"),
    [(organisation(), Role.DEBTOR, "1002", "debiteur"), (person(), Role.CREDITOR, "2002", "crediteur")],
)  # fmt: skip
def test_df_create_then_list_gives_the_values_written_no_echo(
    df_sandbox: DigitaleFactuurSandbox,
    df: DigitaleFactuurConnector,
    party: Organisation | Person,
    role: Role,
    number: str,
    kind: str,
) -> None:
    wanted = df.outbound_values(party, role)
    created = df.create_relation(role, number, wanted)
    stored = df_stored(df_sandbox, number)
    assert (created.remote_id, created.number, created.role) == (stored["id"], number, role)
    assert stored["type"] == kind
    listed = by_id(list(df.relations()))[created.remote_id]
    assert listed == created
    assert listed.fingerprint == created.fingerprint  # the same values, the same fingerprint
    assert created.digest is None and listed.digest  # only a listing knows the record's bytes
    assert {name: listed.values[name] for name in wanted} == wanted  # what the host would write


def test_df_outbound_values_follow_the_seed_rules_normalised_as_the_listing(
    df: DigitaleFactuurConnector,
) -> None:
    values = df.outbound_values(organisation(), Role.DEBTOR)
    assert values["address"] == "Haagweg 4G"  # the invoice address, not the visiting one
    assert (values["postcode"], values["city"]) == ("2311AA", "Leiden")
    assert values["name"] == "Garage De Vries"
    assert values["email"] == "info@garage-devries.nl"
    named = df.outbound_values(person(), Role.CREDITOR)
    assert named["name"] == "Jan Pieter van der Berg"
    initials = DigitaleFactuurConnector(df.client, name_style="initials")
    assert initials.outbound_values(person(), Role.CREDITOR)["name"] == "J.P. van der Berg"


def test_df_update_writes_only_the_changes_over_this_runs_listing(
    df_sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurConnector
) -> None:
    bakery = next(r for r in df.relations() if r.number == "1001")
    before = df_calls(df_sandbox)
    updated = df.update_relation(bakery, {"city": "Amersfoort", "email": None})
    assert df_calls(df_sandbox) == {**before, "klant_updaten": 1}  # no read: the listing's record
    stored = df_stored(df_sandbox, "1001")
    assert (stored["plaats"], stored["contactpersoon_email"]) == ("Amersfoort", "")
    # Every other field keeps what DF holds, mapped or not.
    assert stored["telefoonnummer"] == "030-1234567"
    assert (stored["tenaamstelling"], stored["contactpersoon_afdeling"]) == ("B. Jansen", "Inkoop")
    assert updated.values == {**bakery.values, "city": "Amersfoort", "email": None}
    assert by_id(list(df.relations()))[bakery.remote_id] == updated
    # Again, and again with nothing new: the last write is the base, and an unchanged value writes nothing.
    df.update_relation(updated, {"phone": "030-7654321"})
    df.update_relation(updated, {"phone": "030-7654321"})
    assert df_sandbox.stats.requests["klant_updaten"] == 2
    assert df_stored(df_sandbox, "1001")["plaats"] == "Amersfoort"


def test_df_update_sets_the_type_of_the_role(
    df_sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurConnector
) -> None:
    smit = next(r for r in df.relations() if r.number == "2001")  # a creditor left debiteur
    df.update_relation(smit, {"city": "Zeist"})
    assert (df_stored(df_sandbox, "2001")["type"], df_stored(df_sandbox, "2001")["plaats"]) == (
        "crediteur",
        "Zeist",
    )
    odd = next(r for r in df.relations() if r.number == "5001")  # no range: its type stays
    df.update_relation(odd, {"city": "Ede"})
    assert df_stored(df_sandbox, "5001")["type"] == "crediteur"


def test_df_update_after_a_stale_listing_reads_the_record_first(
    df_sandbox: DigitaleFactuurSandbox, df_client: DigitaleFactuurClient
) -> None:
    df = DigitaleFactuurConnector(df_client, listing_max_age=0)
    bakery = next(r for r in df.relations() if r.number == "1001")
    df_sandbox.edit_relation(bakery.remote_id, tenaamstelling="Jansen Holding", bic="ABNANL2A")
    df.update_relation(bakery, {"city": "Amersfoort"})
    stored = df_stored(df_sandbox, "1001")
    assert (stored["plaats"], stored["tenaamstelling"], stored["bic"]) == (
        "Amersfoort",
        "Jansen Holding",
        "ABNANL2A",
    )


def test_df_find_by_number(
    df_sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurConnector
) -> None:
    found = df.find_relation(Role.CREDITOR, "2001")
    assert found is not None
    assert (found.number, found.role, found.values["name"]) == (
        "2001",
        Role.CREDITOR,
        "Groothandel Smit",
    )
    assert found == by_id(list(df.relations()))[found.remote_id]
    assert df.find_relation(Role.DEBTOR, "1999") is None


def test_df_a_lost_create_is_looked_up_not_sent_again(
    df_sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurConnector
) -> None:
    wanted = df.outbound_values(organisation(), Role.DEBTOR)
    df_sandbox.fail_next(1, "drop_after", action="klant_aanmaken")
    created = df.create_relation(Role.DEBTOR, "1002", wanted)
    assert [r["relatienummer"] for r in df_sandbox.relations].count("1002") == 1
    assert created == by_id(list(df.relations()))[created.remote_id]


def test_df_inbound_makes_a_new_party_with_its_number_and_relation_type(
    df: DigitaleFactuurConnector,
) -> None:
    listing = {relation.number: relation for relation in df.relations()}
    bakery = df.inbound_party(listing["1001"], None)
    assert isinstance(bakery, Organisation)
    assert (bakery.name, bakery.debtor_number, bakery.creditor_number) == (
        "Bakkerij Jansen B.V.",
        "1001",
        None,
    )
    assert bakery.relation_type is RelationType.CUSTOMER
    assert {a.kind.value: (a.postcode, a.city) for a in bakery.addresses} == {
        "invoice": ("3511AA", "Utrecht"),
        "postal": ("3511AA", "Utrecht"),
    }
    supplier = df.inbound_party(listing["2001"], None)
    assert (supplier.creditor_number, supplier.debtor_number) == ("2001", None)
    assert supplier.relation_type is RelationType.SUPPLIER
    # An existing party gets the mapped values; what no row maps stays.
    known = organisation("1001", name="Old name", legal_form="Besloten Vennootschap")
    merged = df.inbound_party(listing["1001"], known)
    assert isinstance(merged, Organisation)
    assert (merged.name, merged.legal_form, merged.debtor_number) == (
        "Bakkerij Jansen B.V.",
        "Besloten Vennootschap",
        "1001",
    )


def test_df_refuses_a_number_in_the_other_roles_range_before_any_write(
    df_sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurConnector
) -> None:
    assert isinstance(df, NumberCheckingConnector)
    values = df.outbound_values(organisation(), Role.DEBTOR)
    with pytest.raises(ValidationError) as caught:
        df.create_relation(Role.DEBTOR, "2500", values)  # listed as a creditor later
    assert (caught.value.field, caught.value.value) == ("debtor_number", "2500")
    assert "creditor range 2000-2999" in caught.value.reason
    assert "1000-1999" in caught.value.reason
    assert df_sandbox.stats.requests["klant_aanmaken"] == 0
    df.check_number(Role.DEBTOR, "1500")
    df.check_number(Role.DEBTOR, "5002")  # in no range: DF's type says the role


def test_df_refuses_fields_the_mapping_does_not_compare(df: DigitaleFactuurConnector) -> None:
    bakery = next(r for r in df.relations() if r.number == "1001")
    with pytest.raises(ValidationError) as refused:
        df.update_relation(bakery, {"account_holder": "Someone"})
    assert refused.value.field == "account_holder"
    with pytest.raises(ValidationError) as refused:
        df.create_relation(Role.DEBTOR, "1003", {"name": 42})  # type: ignore[dict-item]
    assert refused.value.field == "name"


def test_df_a_table_row_may_not_map_the_number_or_an_unknown_field(
    df_client: DigitaleFactuurClient,
) -> None:
    data = DIGITALEFACTUUR_RELATIONS.to_dict()
    data["organisation"] = [
        *data["organisation"],
        {"canonical": "debtor_number", "remote": "number", "direction": "to_remote"},
    ]
    with pytest.raises(ConfigurationError, match="'number' is set by the connector"):
        DigitaleFactuurConnector(df_client, mapping=RelationMapping.from_dict(data))
    data = DIGITALEFACTUUR_RELATIONS.to_dict()
    data["remote_fields"] = [*data["remote_fields"], "website"]
    data["organisation"] = [
        *data["organisation"],
        {"canonical": "contact.website", "remote": "website"},
    ]
    with pytest.raises(ConfigurationError, match="'website' is not a field"):
        DigitaleFactuurConnector(df_client, mapping=RelationMapping.from_dict(data))


def test_df_books_nothing_and_says_so_per_invoice(df: DigitaleFactuurConnector) -> None:
    result = df.book_invoices([sales_invoice("X1", "1001")])
    assert not result.bookings and [number for number, _ in result.failed] == ["X1"]
    (payment,) = df.payment_states([("1001", "X1")])
    assert payment.state is PaymentState.UNKNOWN and payment.error


# == e-Boekhouden ===============================================================================


def sales_invoice(
    number: str, relation_code: str, price: str = "100.00", category: str = "nl_high"
) -> Invoice:
    """A sales invoice of ``price`` plus VAT."""
    return Invoice(
        number=number,
        relation_code=relation_code,
        date=dt.date(2026, 3, 1),
        kind=InvoiceKind.SALES,
        lines=[InvoiceLine(description="Advies", unit_price=price, vat_category=category)],
    )


def make_books(backend: str, sandbox: EBoekhoudenSandbox) -> BooksClient:
    if backend == "soap":
        return EBoekhoudenClient(
            DEMO_CREDENTIALS.username,
            DEMO_CREDENTIALS.security_code_1,
            DEMO_CREDENTIALS.security_code_2,
            session=sandbox.requests_session(),
        )
    return EBoekhoudenRestClient(DEMO_CREDENTIALS.access_token, transport=sandbox.transport())


WRITES = ("UpdateRelatie", "PATCH /v1/relation/{id}", "AddRelatie", "POST /v1/relation")


def eb_writes(sandbox: EBoekhoudenSandbox) -> int:
    return sum(sandbox.stats.requests[name] for name in WRITES)


@pytest.fixture(params=["soap", "rest"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def eb_sandbox() -> EBoekhoudenSandbox:
    sandbox = EBoekhoudenSandbox()
    sandbox.add_relation(
        "1001",
        "Bakkerij  Jansen B.V.",
        postcode="3511 aa",
        city="Utrecht",
        email="Info@Jansen.NL",
        iban="NL91ABNA0417164300",
        note="Set in e-Boekhouden",  # no table maps it: e-Boekhouden's own
        def1="Vrij veld",
    )
    sandbox.add_relation("R7", "Buiten de reeksen")
    return sandbox


@pytest.fixture
def books(backend: str, eb_sandbox: EBoekhoudenSandbox) -> Iterator[BooksClient]:
    with make_books(backend, eb_sandbox) as client:
        yield client


@pytest.fixture
def eb(books: BooksClient) -> EBoekhoudenConnector:
    return EBoekhoudenConnector(books, DEMO_VAT_TABLE)


def eb_stored(sandbox: EBoekhoudenSandbox, code: str) -> dict[str, str]:
    record = next(r for r in sandbox.relations if r.get("code") == code)
    return {
        name: record.get(name) or ""
        for name in ("company", "city", "postcode", "note", "def1", "iban", "email")
    }


def test_eb_is_an_accounting_connector_for_relations_out_bookings_and_payments(
    eb: EBoekhoudenConnector,
) -> None:
    assert isinstance(eb, AccountingConnector)
    assert eb.service == "eboekhouden"
    assert not any(secret in repr(eb) for secret in SECRETS)
    out = {Capability.RELATIONS_TO_REMOTE, Capability.BOOKINGS, Capability.PAYMENTS}
    assert eb.capabilities == out | {Capability.RELATION_CHANGES_FROM_REMOTE}
    quiet = EBoekhoudenConnector(eb.books, DEMO_VAT_TABLE, changes_from_remote=False)
    assert quiet.capabilities == out
    with pytest.raises(ConfigurationError):
        EBoekhoudenConnector(eb.books, {"nl_high": "8000"})  # type: ignore[arg-type]


def test_eb_listing_gives_roles_by_number_range_and_normalised_values(
    eb: EBoekhoudenConnector,
) -> None:
    listing = list(eb.relations())
    assert sorted((r.number, r.role.value) for r in listing) == [
        ("1001", "debtor"),
        ("R7", "creditor"),  # in no range: listed under both roles, so either link finds it
        ("R7", "debtor"),
    ]
    bakery = next(r for r in listing if r.number == "1001")
    assert set(bakery.values) == eb.fields
    assert {name: text for name, text in bakery.values.items() if text} == {
        "company": "Bakkerij Jansen B.V.",
        "postcode": "3511AA",
        "city": "Utrecht",
        "email": "info@jansen.nl",
        "iban": "NL91ABNA0417164300",
        "type": "B",
    }
    assert "note" not in bakery.values


@pytest.mark.parametrize(
    ("party", "role", "number", "kind"),
    [(organisation(), Role.DEBTOR, "1002", "B"), (person(), Role.CREDITOR, "2001", "P")],
)  # fmt: skip
def test_eb_create_then_list_gives_the_values_written_no_echo(
    eb_sandbox: EBoekhoudenSandbox,
    eb: EBoekhoudenConnector,
    party: Organisation | Person,
    role: Role,
    number: str,
    kind: str,
) -> None:
    wanted = eb.outbound_values(party, role)
    assert wanted["type"] == kind  # BP follows the party's kind
    created = eb.create_relation(role, number, wanted)
    assert (created.number, created.role) == (number, role)
    assert eb_writes(eb_sandbox) == 1
    listed = {(r.remote_id, r.role): r for r in eb.relations()}[(created.remote_id, role)]
    assert listed == created
    assert {name: listed.values[name] for name in wanted} == wanted


def test_eb_person_name_in_the_configured_style(books: BooksClient) -> None:
    initials = EBoekhoudenConnector(books, DEMO_VAT_TABLE, name_style="initials")
    assert initials.outbound_values(person(), Role.CREDITOR)["company"] == "J.P. van der Berg"
    last = EBoekhoudenConnector(books, DEMO_VAT_TABLE, name_style="last_name")
    assert last.outbound_values(person(), Role.CREDITOR)["company"] == "Van der Berg"


def test_eb_update_of_owned_fields_keeps_every_other_remote_value(
    eb_sandbox: EBoekhoudenSandbox, eb: EBoekhoudenConnector
) -> None:
    bakery = next(r for r in eb.relations() if r.number == "1001")
    updated = eb.update_relation(bakery, {"city": "Amersfoort", "postcode": None})
    assert eb_writes(eb_sandbox) == 1
    assert eb_stored(eb_sandbox, "1001") == {
        "company": "Bakkerij  Jansen B.V.",
        "city": "Amersfoort",
        "postcode": "",  # the CRM cleared it: cleared there too
        "note": "Set in e-Boekhouden",
        "def1": "Vrij veld",
        "iban": "NL91ABNA0417164300",
        "email": "Info@Jansen.NL",
    }
    assert updated.values == {**bakery.values, "city": "Amersfoort", "postcode": None}
    assert [r for r in eb.relations() if r.number == "1001"] == [updated]
    eb.update_relation(updated, {"city": "Amersfoort"})  # nothing changes: nothing written
    assert eb_writes(eb_sandbox) == 1


def test_eb_create_of_a_code_that_exists_writes_over_it_once(
    eb_sandbox: EBoekhoudenSandbox, eb: EBoekhoudenConnector
) -> None:
    created = eb.create_relation(
        Role.DEBTOR, "1001", {"company": "Bakkerij Jansen", "city": "Zeist"}
    )
    assert [r.get("code") for r in eb_sandbox.relations].count("1001") == 1
    assert eb_stored(eb_sandbox, "1001")["city"] == "Zeist"
    assert eb_stored(eb_sandbox, "1001")["note"] == "Set in e-Boekhouden"
    assert created.values["city"] == "Zeist"


def test_eb_refuses_a_code_in_the_other_roles_range_before_any_write(
    eb_sandbox: EBoekhoudenSandbox, eb: EBoekhoudenConnector
) -> None:
    assert isinstance(eb, NumberCheckingConnector)
    before = len(eb_sandbox.relations)
    with pytest.raises(ValidationError) as caught:
        eb.create_relation(Role.CREDITOR, "1500", eb.outbound_values(person(), Role.CREDITOR))
    assert (caught.value.field, caught.value.value) == ("creditor_number", "1500")
    assert "debtor range 1000-1999" in caught.value.reason
    assert len(eb_sandbox.relations) == before
    eb.check_number(Role.CREDITOR, "R8")  # in no range: listed under both roles


def test_eb_find_by_number(eb: EBoekhoudenConnector) -> None:
    found = eb.find_relation(Role.DEBTOR, "1001")
    assert found is not None
    assert (found.number, found.role, found.values["company"]) == (
        "1001",
        Role.DEBTOR,
        "Bakkerij Jansen B.V.",
    )
    assert eb.find_relation(Role.DEBTOR, "1999") is None
    odd = eb.find_relation(Role.CREDITOR, "R7")  # no range: the role asked for
    assert odd is not None and odd.role is Role.CREDITOR


def test_eb_books_each_invoice_exactly_once_with_its_mutation_number(
    eb_sandbox: EBoekhoudenSandbox, eb: EBoekhoudenConnector
) -> None:
    eb.create_relation(Role.DEBTOR, "1002", eb.outbound_values(organisation(), Role.DEBTOR))
    invoices = [sales_invoice("X1", "1001"), sales_invoice("X1", "1002")]
    first = eb.book_invoices(invoices)
    assert not first.failed
    assert [(b.invoice_number, b.relation_code, b.created) for b in first.bookings] == [
        ("X1", "1001", True),
        ("X1", "1002", True),
    ]
    numbers = {m.number for m in eb_sandbox.mutations}
    assert {int(b.reference) for b in first.bookings} == numbers and len(numbers) == 2
    again = eb.book_invoices(invoices)
    assert [(b.reference, b.created) for b in again.bookings] == [
        (b.reference, False) for b in first.bookings
    ]
    assert len(eb_sandbox.mutations) == 2


def test_eb_a_failing_invoice_is_reported_and_stops_no_other(
    eb_sandbox: EBoekhoudenSandbox, books: BooksClient
) -> None:
    high_only = VatTable(
        [VatRow("sales", "nl_high", "HOOG_VERK_21", "8000")], required_categories=["nl_high"]
    )
    eb = EBoekhoudenConnector(books, high_only)
    result = eb.book_invoices(
        [
            sales_invoice("X1", "1999"),  # no such relation
            sales_invoice("X2", "1001", category="nl_low"),  # not in the VAT table
            sales_invoice("X3", "1001"),
        ]
    )
    assert [b.invoice_number for b in result.bookings] == ["X3"]
    failed = dict(result.failed)
    assert set(failed) == {"X1", "X2"}
    assert isinstance(failed["X2"], MappingError)
    assert len(eb_sandbox.mutations) == 1


def test_eb_a_lost_booking_answer_is_looked_up_not_booked_again(
    backend: str, eb_sandbox: EBoekhoudenSandbox, eb: EBoekhoudenConnector
) -> None:
    eb_sandbox.fail_next(
        1, "drop_after", "AddMutatie" if backend == "soap" else "POST /v1/mutation"
    )
    result = eb.book_invoices([sales_invoice("X1", "1001")])
    assert [(b.invoice_number, b.created) for b in result.bookings] == [("X1", True)]
    assert result.bookings[0].reference == str(eb_sandbox.mutations[0].number)
    assert len(eb_sandbox.mutations) == 1


def test_eb_payment_states_by_relation_and_invoice_number(
    eb_sandbox: EBoekhoudenSandbox, eb: EBoekhoudenConnector
) -> None:
    eb.create_relation(Role.DEBTOR, "1002", eb.outbound_values(organisation(), Role.DEBTOR))
    eb.book_invoices(
        [
            sales_invoice("X1", "1001"),
            sales_invoice("X1", "1002"),
            sales_invoice("X2", "1001", "200.00"),
        ]
    )
    eb_sandbox.pay("X1", "121.00", relation_code="1001")
    eb_sandbox.pay("X2", "42.00", relation_code="1001")
    states = {(p.relation_code, p.invoice_number): p for p in eb.payment_states(
        [("1001", "X1"), ("1002", "X1"), ("1001", "X2")]
    )}  # fmt: skip
    assert (states[("1001", "X1")].state, states[("1001", "X1")].outstanding) == (
        PaymentState.PAID,
        Decimal("0.00"),
    )
    assert (states[("1002", "X1")].state, states[("1002", "X1")].outstanding) == (
        PaymentState.OPEN,
        Decimal("121.00"),
    )
    assert (states[("1001", "X2")].state, states[("1001", "X2")].outstanding) == (
        PaymentState.PARTLY_PAID,
        Decimal("200.00"),
    )


def test_eb_payment_state_of_a_code_in_no_range_and_of_an_unbooked_invoice(
    eb_sandbox: EBoekhoudenSandbox, books: BooksClient
) -> None:
    eb = EBoekhoudenConnector(books, DEMO_VAT_TABLE, check_closed_bookings=True)
    eb.book_invoices([sales_invoice("X9", "R7")])
    (odd, never) = eb.payment_states([("R7", "X9"), ("1001", "NOPE")])
    assert (odd.state, odd.outstanding) == (
        PaymentState.OPEN,
        Decimal("121.00"),
    )  # found among debtors
    assert (never.state, never.error) == (PaymentState.UNKNOWN, None)


def test_eb_a_failed_payment_look_up_is_unknown_with_the_reason_and_no_secret(
    backend: str, eb_sandbox: EBoekhoudenSandbox, eb: EBoekhoudenConnector
) -> None:
    operation = "GetOpenPosten" if backend == "soap" else "GET /v1/mutation/invoice/outstanding"
    eb_sandbox.fail_next(10, "500", operation)
    (state,) = eb.payment_states([("1001", "X1")])
    assert state.state is PaymentState.UNKNOWN and state.error
    assert not any(secret in state.error for secret in SECRETS)
