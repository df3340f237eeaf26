"""KvK officers (Functionarissen): the assumed table, reading answers, contact persons,
updates of contacts, the sandbox's endpoint and ``crmconnect kvk inspect-officers``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import anyio
import attrs
import httpx
import pytest
from typer.testing import CliRunner

from crmconnect._cli_app import app
from crmconnect.errors import (
    APIError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    ValidationError,
)
from crmconnect.kvk import (
    OFFICER_FIELDS,
    PERFECTVIEW_CONTACT_FUNCTIONS,
    PREPROD_BASE_URL,
    AsyncKvKClient,
    ContactFunctions,
    KvKClient,
    RegistrationStatus,
    UpdateService,
    read_officers,
)
from crmconnect.models import Organisation, Person
from crmconnect.sandbox import KvKSandbox, OfficerRecord

runner = CliRunner(env={"COLUMNS": "220"})


@pytest.fixture
def sandbox() -> KvKSandbox:
    return KvKSandbox()


@pytest.fixture
def kvk(sandbox: KvKSandbox) -> Iterator[KvKClient]:
    with KvKClient(
        environment="test",
        transport=sandbox.transport(),
        contact_functions=PERFECTVIEW_CONTACT_FUNCTIONS,
    ) as client:
        yield client


def names(persons: list[Person]) -> list[tuple[str | None, str | None, str | None, str | None]]:
    return [(p.initials, p.infix, p.last_name, p.role) for p in persons]


# --- reading an answer through the table ---------------------------------------------------


def test_name_parts_are_read_and_initials_made_from_first_names() -> None:
    answer = {
        "kvkNummer": "68750110",
        "functionarissen": [
            {
                "typeFunctionaris": "Bestuursfunctie",
                "functie": "Bestuurder",
                "functietitel": "Directeur",
                "persoon": {
                    "voornamen": "Jan Pieter",
                    "voorvoegselGeslachtsnaam": "van der",
                    "geslachtsnaam": "Berg",
                },
                "datumAanvang": "20150300",
            }
        ],
    }
    officers = read_officers(answer)
    officer = officers.officers[0]
    assert officers.kvk_number == "68750110"
    assert (officer.kind, officer.function, officer.role) == (
        "Bestuursfunctie",
        "Bestuurder",
        "Directeur",
    )
    assert officer.start_date == dt.date(2015, 3, 1)  # KvK's 00 for an unknown day
    person = officers.persons()[0]
    assert (person.initials, person.first_name, person.infix, person.last_name) == (
        "J.P.",
        "Jan Pieter",
        "van der",
        "Berg",
    )
    assert person.role == "Directeur"


@pytest.mark.parametrize(
    ("full_name", "expected"),
    [
        ("J.P. van der Berg", ("J.P.", "van der", "Berg")),
        ("Berg, J.P. van der", ("J.P.", "van der", "Berg")),
        ("Henk 't Hart", ("H.", "'t", "Hart")),
        ("Ester van der Ven-van Dijk", ("E.", "van der", "Ven-van Dijk")),
    ],
)
def test_a_single_name_is_split_the_dutch_way(
    full_name: str, expected: tuple[str, str, str]
) -> None:
    answer = {
        "functionarissen": [{"functie": "Bestuurder", "persoon": {"volledigeNaam": full_name}}]
    }
    person = read_officers(answer).persons()[0]
    assert (person.initials, person.infix, person.last_name) == expected


def test_unknown_fields_are_kept_never_an_error() -> None:
    answer = {
        "kvkNummer": "68750110",
        "totaal": 1,
        "functionarissen": [
            {
                "functie": "Bestuurder",
                "persoon": {"geslachtsnaam": "Duck", "geboortedatum": "19340609"},
                "bevoegdheid": {"soort": "Gezamenlijk bevoegd", "beperking": None},
                "datumAanvang": "not a date",
                "functietitel": {"code": "DIR"},  # a known name holding something else
                "_links": {"self": {"href": "x"}},
            },
            "not an officer",
        ],
        "_links": {"self": {"href": "x"}},
    }
    officers = read_officers(answer)
    officer = officers.officers[0]
    assert officer.name.last_name == "Duck"
    assert officer.start_date is None and officer.title is None
    assert officer.unknown == {
        "persoon.geboortedatum": "19340609",
        "bevoegdheid.soort": "Gezamenlijk bevoegd",
        "bevoegdheid.beperking": None,
        "datumAanvang": "not a date",
        "functietitel.code": "DIR",
    }
    assert officers.unknown == {"totaal": 1, "functionarissen[1]": "not an officer"}
    assert "geboortedatum" not in repr(officer)  # personal data stays out of reprs


def test_the_owner_apart_gets_its_kind_and_iso_dates_are_read() -> None:
    answer = {
        "eigenaar": {
            "persoon": {"volledigeNaam": "Dagobert Duck"},
            "datumAanvang": "2017-01-08",
            "datumEinde": "2999-12-31",
        }
    }
    officer = read_officers(answer).officers[0]
    assert officer.kind == "Eigenaar" and officer.role == "Eigenaar"
    assert officer.start_date == dt.date(2017, 1, 8)
    assert officer.is_current()  # an end date still ahead
    assert not officer.is_current(dt.date(3000, 1, 1))


def test_officers_without_a_name_and_those_who_left_are_no_persons() -> None:
    answer = {
        "functionarissen": [
            {"functie": "Bestuurder"},
            {
                "functie": "Bestuurder",
                "persoon": {"geslachtsnaam": "Vries"},
                "datumEinde": "20200101",
            },
        ]
    }
    officers = read_officers(answer)
    assert len(officers.officers) == 2
    assert officers.persons() == []
    assert [p.last_name for p in officers.persons(current=False)] == ["Vries"]


# --- the table ---------------------------------------------------------------------------


def test_every_default_name_is_assumed_and_an_override_confirms_it() -> None:
    assert OFFICER_FIELDS.assumed and len(OFFICER_FIELDS.assumed_fields) == len(
        OFFICER_FIELDS.fields
    )
    table = OFFICER_FIELDS.override({"last_name": "persoon.achternaam"})
    assert table.path("last_name") == "persoon.achternaam"
    assert [f.attribute for f in table.fields if not f.assumed] == ["last_name"]
    assert OFFICER_FIELDS.path("last_name") == "persoon.geslachtsnaam"  # unchanged
    answer = {"functionarissen": [{"persoon": {"achternaam": "Duck"}, "functie": "Bestuurder"}]}
    assert read_officers(answer, table).persons()[0].last_name == "Duck"
    assert read_officers(answer).persons() == []  # the default table does not see it
    assert read_officers(answer).officers[0].unknown["persoon.achternaam"] == "Duck"


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ({"surname": "x"}, "unknown attributes"),
        ({"last_name": "functie"}, "used twice"),
        ({"last_name": "persoon..naam"}, "not a dotted field name"),
    ],
)
def test_a_wrong_table_is_refused(paths: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        OFFICER_FIELDS.override(paths)


def test_corrections_come_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "officers.toml"
    path.write_text(
        '[functionarissen]\nlast_name = "achternaam"\nkvk_number = "kvknummer"\n\n'
        '[functionarissen.lists]\nbestuurders = "Bestuurder"\n',
        encoding="utf-8",
    )
    table = OFFICER_FIELDS.override_from_toml(path)
    assert table.lists == (("bestuurders", "Bestuurder"),)
    assert table.kvk_number == "kvknummer" and not table.assumed
    answer = {"kvknummer": "68750110", "bestuurders": [{"achternaam": "Duck"}]}
    officers = read_officers(answer, table)
    assert officers.kvk_number == "68750110"
    assert names(officers.persons()) == [(None, None, "Duck", "Bestuurder")]
    path.write_text("[functionarissen]\nlast_name = 3\n", encoding="utf-8")
    with pytest.raises(ConfigurationError):
        OFFICER_FIELDS.override_from_toml(path)


# --- which officers are contact persons ------------------------------------------------------


def test_functions_count_by_their_words_in_any_case() -> None:
    functions = ContactFunctions(["bestuurder", "Algemeen Directeur"])
    assert functions.counts_role("Statutair bestuurder")
    assert functions.counts_role("ALGEMEEN DIRECTEUR")
    assert not functions.counts_role("Directeur")  # both words are needed
    assert not functions.counts_role("Bestuursfunctie")
    assert not functions.counts_role(None)
    assert PERFECTVIEW_CONTACT_FUNCTIONS.counts_role("Mede-eigenaar")
    assert not PERFECTVIEW_CONTACT_FUNCTIONS.counts_role("Commissaris")
    assert not PERFECTVIEW_CONTACT_FUNCTIONS.counts_role("Maatschap")  # a word, not a prefix
    with pytest.raises(ConfigurationError):
        ContactFunctions(["bestuurder", "--"])


def test_contact_functions_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "contacts.toml"
    path.write_text('[contacts]\nfunctions = ["bestuurder"]\nlegal_persons = true\n', "utf-8")
    functions = ContactFunctions.from_toml(path)
    assert functions.names == ("bestuurder",) and functions.legal_persons
    path.write_text("[contacts]\n", "utf-8")
    with pytest.raises(ConfigurationError):
        ContactFunctions.from_toml(path)


# --- the client against the sandbox ------------------------------------------------------


def test_officers_are_persons_with_their_function(kvk: KvKClient) -> None:
    assert names(kvk.officers("69599084")) == [
        ("D.", None, "Duck", "Eigenaar"),
        ("G.", None, "Geluk", "Bedrijfsleider"),
        ("G.", None, "Gans", "Gevolmachtigde"),
    ]
    assert names(kvk.officers("90001354")) == [
        (None, None, "Test Holding Joyflex B.V.", "Bestuurder"),
        ("W.", "van der", "Wortel", "Algemeen directeur"),
    ]


def test_the_officer_list_has_dates_and_those_who_left(kvk: KvKClient) -> None:
    officers = kvk.officer_list("68727720")
    assert [(o.name.last_name, o.start_date, o.end_date) for o in officers.officers] == [
        ("Duck", dt.date(2014, 1, 20), None),
        ("Vries", dt.date(2014, 1, 20), dt.date(2020, 1, 1)),
    ]
    assert [p.last_name for p in kvk.officers("68727720")] == ["Duck"]


def test_officers_are_a_paid_call_made_once(kvk: KvKClient, sandbox: KvKSandbox) -> None:
    kvk.officers("68750110")
    kvk.officers("68750110")
    assert (kvk.usage.profile_calls, kvk.usage.cache_hits) == (1, 1)
    assert sandbox.stats.requests["functionarissen"] == 1


def test_organisation_adds_the_counted_officers_as_contacts(kvk: KvKClient) -> None:
    emz = kvk.organisation("69599084")
    assert names(emz.contacts) == [
        ("D.", None, "Duck", "Eigenaar"),
        ("G.", None, "Geluk", "Bedrijfsleider"),
    ]
    bv = kvk.organisation("90001354")  # the holding is a legal person: not a contact
    assert names(bv.contacts) == [("W.", "van der", "Wortel", "Algemeen directeur")]
    vof = kvk.organisation("69599076")
    assert [p.first_name for p in vof.contacts] == ["Kwik", "Kwek"]


def test_contacts_carry_the_date_they_took_up_their_function(kvk: KvKClient) -> None:
    emz = kvk.organisation("69599084")
    assert [(p.last_name, p.start_date) for p in emz.contacts] == [
        ("Duck", dt.date(2017, 1, 8)),
        ("Geluk", dt.date(2018, 3, 1)),
    ]
    answer = {"functionarissen": [{"functie": "Bestuurder", "persoon": {"geslachtsnaam": "Mol"}}]}
    (undated,) = read_officers(answer).persons()
    assert undated.start_date is None, "where the answer gives no date of entry"


def test_a_persons_start_date_is_a_date_or_refused() -> None:
    assert Person(last_name="Mol", start_date="2019-01-01").start_date == dt.date(2019, 1, 1)
    with pytest.raises(ValidationError) as refused:
        Person(last_name="Mol", start_date="1 januari")
    assert refused.value.field == "start_date"


def test_without_the_setting_no_officers_are_fetched(sandbox: KvKSandbox) -> None:
    with KvKClient(environment="test", transport=sandbox.transport()) as plain:
        org = plain.organisation("69599084")
        assert org.contacts == []
        assert sandbox.stats.requests["functionarissen"] == 0


def test_a_list_of_names_is_a_setting_too(sandbox: KvKSandbox) -> None:
    with KvKClient(
        environment="test", transport=sandbox.transport(), contact_functions=["commissaris"]
    ) as kvk:
        assert names(kvk.organisation("68750110").contacts) == [("K.", None, "Duck", "Commissaris")]


@pytest.mark.anyio
async def test_the_async_client_does_the_same(sandbox: KvKSandbox) -> None:
    async with AsyncKvKClient(
        environment="test",
        transport=sandbox.transport(),
        contact_functions=PERFECTVIEW_CONTACT_FUNCTIONS,
    ) as kvk:
        assert [p.last_name for p in await kvk.officers("69599076")] == ["Duck", "Duck"]
        org = await kvk.organisation("68750110")
        assert names(org.contacts) == [("D.", None, "Duck", "Directeur")]
        assert (await kvk.officer_list("68727720")).officers[1].end_date == dt.date(2020, 1, 1)


def test_an_unknown_number_is_not_found_and_a_bad_one_is_never_sent(
    kvk: KvKClient, sandbox: KvKSandbox
) -> None:
    with pytest.raises(NotFoundError):
        kvk.officers("12345678")
    with pytest.raises(ValidationError):
        kvk.officers("1234")
    assert sandbox.stats.requests["functionarissen"] == 1


def test_another_registrations_answer_is_malformed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"kvkNummer": "11111111", "functionarissen": []})

    with KvKClient(environment="test", transport=httpx.MockTransport(handler)) as kvk:
        with pytest.raises(MalformedResponseError, match="11111111"):
            kvk.officers("68750110")


def test_officers_not_found_beside_a_profile_fail_the_check_not_remove_it(
    sandbox: KvKSandbox,
) -> None:
    inner = sandbox.transport()

    def handler(request: httpx.Request) -> httpx.Response:
        if "/functionarissen/" in request.url.path:  # e.g. no Functionarissen subscription
            return httpx.Response(404, json={"fout": [{"code": "IPD0005", "omschrijving": "x"}]})
        return inner.handle_request(request)

    with KvKClient(
        environment="test", transport=httpx.MockTransport(handler), contact_functions=["eigenaar"]
    ) as kvk:
        with pytest.raises(APIError) as caught:
            kvk.organisation("69599084")
        assert not isinstance(caught.value, NotFoundError)
        summary = UpdateService(kvk).check_updates_many(
            [Organisation(name="x", kvk_number="69599084")]
        )
        assert summary.errors == 1 and summary.removals == 0


def test_client_and_sandbox_share_a_corrected_table(sandbox: KvKSandbox) -> None:
    table = OFFICER_FIELDS.override(
        {"last_name": "naam.achternaam", "function": "rol"}, lists={"bestuurders": None}
    )
    sandbox.officer_fields = table
    with KvKClient(environment="test", transport=sandbox.transport(), officer_fields=table) as kvk:
        assert names(kvk.officers("68750110"))[0] == ("D.", None, "Duck", "Directeur")
    with KvKClient(environment="test", transport=sandbox.transport()) as stale:
        officers = stale.officer_list("68750110")  # the old names: nothing read, no error
        assert officers.officers == ()
        assert "bestuurders" in officers.unknown


def test_hal_links_are_not_unknown_fields(sandbox: KvKSandbox) -> None:
    with KvKClient(
        environment="test", transport=sandbox.transport(), accept="application/hal+json"
    ) as kvk:
        officers = kvk.officer_list("68750110")
    assert "_links" in officers.raw
    assert officers.unknown == {} and all(not o.unknown for o in officers.officers)


# --- the sandbox's officers ------------------------------------------------------------------


def test_sandbox_officers_change_and_each_change_is_signalled(sandbox: KvKSandbox) -> None:
    before = len(sandbox.signals)
    sandbox.add_officer(
        "68750110", OfficerRecord("Bestuurder", first_names="Jan", last_name="Dijk")
    )
    left = sandbox.remove_officer("68750110", "duck", "Donald", date="20260101")
    assert left.end_date is None  # as it was served
    gone = sandbox.remove_officer("68750110", "Dijk")
    assert gone.first_names == "Jan"
    officers = sandbox.officers("68750110")
    assert [(o.last_name, o.end_date) for o in officers] == [
        ("Duck", None),  # Katrien, commissaris
        ("Duck", "20260101"),
    ]
    signals = sandbox.signals.signals[before:]
    assert len(signals) == 3
    assert {s.type for s in signals} == {"SignaalGewijzigdeInschrijving"}
    assert signals[0].changed["functionarissen"] == {"indicatieGewijzigd": "J"}
    with pytest.raises(KeyError):
        sandbox.remove_officer("68750110", "Dijk")
    with pytest.raises(KeyError):
        sandbox.add_officer("12345678", left)


def test_every_registration_has_officers_that_fit_its_form() -> None:
    from crmconnect.sandbox import generate_companies

    companies = generate_companies(30, seed=3)
    sandbox = KvKSandbox(companies)
    for company in companies:
        officers = sandbox.officers(company.kvk_number)
        assert officers and all(o.last_name for o in officers)
        if "eenmanszaak" in company.legal_form.casefold():
            assert [o.function for o in officers] == ["Eigenaar"]
    again = KvKSandbox(companies)
    assert all(again.officers(c.kvk_number) == sandbox.officers(c.kvk_number) for c in companies)


# --- updates of contact persons ---------------------------------------------------------------


def crm_record(kvk: KvKClient, number: str) -> Organisation:
    return kvk.organisation(number).model_copy(update={"id": "crm-1"})


def test_an_officer_who_joined_or_left_is_a_change_to_accept(
    kvk: KvKClient, sandbox: KvKSandbox
) -> None:
    crm = crm_record(kvk, "68750110")
    secretary = Person(first_name="Lies", last_name="Mol", role="Secretaresse")
    crm = crm.model_copy(update={"contacts": [*crm.contacts, secretary]})
    sandbox.remove_officer("68750110", "Duck", "Donald", date="20260101")
    sandbox.add_officer(
        "68750110", OfficerRecord("Bestuurder", first_names="Jan", infix="van", last_name="Dijk")
    )
    report = UpdateService(kvk).check_updates(crm)
    assert report.fields == [
        "contacts:joined:J. van Dijk (Bestuurder)",
        "contacts:left:D. Duck (Directeur)",
    ]
    assert "contacts" in report.compared
    everything = report.apply(accept=["contacts"])
    assert [(p.full_name(), p.active) for p in everything.contacts] == [
        ("Donald Duck", False),  # kept, made inactive
        ("Lies Mol", True),  # the CRM's own contact: never proposed
        ("Jan van Dijk", True),
    ]
    joined_only = report.apply(accept=[report.fields[0]])
    assert [(p.full_name(), p.active) for p in joined_only.contacts] == [
        ("Donald Duck", True),
        ("Lies Mol", True),
        ("Jan van Dijk", True),
    ]
    assert report.apply(accept=["employees_total"]).contacts == crm.contacts  # rejected
    assert "Contact joined" in report._repr_html_()


def test_a_contact_who_comes_back_is_made_active_again(kvk: KvKClient) -> None:
    crm = crm_record(kvk, "68750110")
    left = {"active": False, "initials": None, "start_date": None}
    donald = crm.contacts[0].model_copy(update=left)
    report = UpdateService(kvk).check_updates(crm.model_copy(update={"contacts": [donald]}))
    assert report.fields == ["contacts:joined:D. Duck (Directeur)"]
    (back,) = report.apply(accept=["contacts"]).contacts
    assert (back.first_name, back.active, back.role) == ("Donald", True, "Directeur")
    assert back.start_date == dt.date(2014, 1, 20), "the date of entry of the function taken up"


def test_no_contact_changes_without_the_setting(sandbox: KvKSandbox) -> None:
    with KvKClient(environment="test", transport=sandbox.transport()) as plain:
        crm = Organisation(
            name="Test BV Donald",
            kvk_number="68750110",
            contacts=[Person(last_name="Weg", role="Bestuurder")],
        )
        report = UpdateService(plain).check_updates(crm)
        assert not any(f.startswith("contacts") for f in report.fields)
        assert report.status is RegistrationStatus.ACTIVE
        with pytest.raises(ValidationError):
            report.apply(accept=["contacts"])


# --- the command line ----------------------------------------------------------------------


def test_inspect_officers_shows_the_answer_beside_the_table() -> None:
    result = runner.invoke(app, ["kvk", "inspect-officers", "69599084", "--sandbox"])
    assert result.exit_code == 0, result.output
    for text in ("KvK's answer", "persoon.geslachtsnaam", "assumed", "3 of 3", "Dagobert Duck"):
        assert text in result.output


def test_inspect_officers_tries_corrected_names(tmp_path: Path) -> None:
    path = tmp_path / "officers.toml"
    path.write_text('[functionarissen]\nlast_name = "persoon.achternaam"\n', "utf-8")
    result = runner.invoke(
        app, ["kvk", "inspect-officers", "69599084", "--sandbox", "--fields", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "persoon.achternaam" in result.output and "confirmed" in result.output
    assert "0 of 3" in result.output
    assert "fields no row reads: persoon.geslachtsnaam" in result.output


def test_inspect_officers_refuses_a_bad_number() -> None:
    result = runner.invoke(app, ["kvk", "inspect-officers", "123", "--sandbox"])
    assert result.exit_code == 1
    result = runner.invoke(app, ["kvk", "inspect-officers", "12345678", "--sandbox"])
    assert result.exit_code == 3, result.output


# --- the sync engine's KvK flow ------------------------------------------------------------


def test_the_kvk_flow_stores_contact_changes_a_person_accepts_or_rejects(
    kvk: KvKClient, sandbox: KvKSandbox
) -> None:
    from crmconnect.contrib.sqlite_crm import SqliteCRM
    from crmconnect.kvk import KvKUpdates
    from crmconnect.sync import SqliteStateStore, SyncEngine

    with SqliteCRM(":memory:") as crm:
        host_id = crm.add(kvk.organisation("68750110"))
        sync = SyncEngine(crm, [], state=SqliteStateStore(":memory:"), kvk=KvKUpdates(kvk))
        assert sync.run().pending == 0
        sandbox.add_officer(
            "68750110",
            OfficerRecord("Bestuurder", first_names="Jan", infix="van", last_name="Dijk"),
        )
        sandbox.remove_officer("68750110", "Duck", "Donald")
        assert sync.run().pending == 1  # one organisation, two fields pending
        joined, left = (
            "contacts:joined:J. van Dijk (Bestuurder)",
            "contacts:left:D. Duck (Directeur)",
        )
        assert sorted(u.field for u in crm.pending_kvk_updates()) == [joined, left]

        crm.accept_kvk_update(host_id, joined)
        crm.reject_kvk_update(host_id, left)
        org = crm.get(host_id)
        assert isinstance(org, Organisation)
        assert [(p.full_name(), p.active) for p in org.contacts] == [
            ("Donald Duck", True),
            ("Jan van Dijk", True),
        ]
        assert sync.run().pending == 0, "a rejected departure is not proposed again"
        assert crm.pending_kvk_updates() == []


def test_an_accepted_departure_makes_the_contact_inactive(
    kvk: KvKClient, sandbox: KvKSandbox
) -> None:
    from crmconnect.kvk import apply_kvk_update

    org = kvk.organisation("68750110")
    sandbox.remove_officer("68750110", "Duck", "Donald")
    (change,) = UpdateService(kvk).check_updates(org).changes
    stored = change.kvk_value.model_dump(mode="json")  # as a host keeps it
    updated = apply_kvk_update(org, change.field, stored)
    assert [(p.full_name(), p.active) for p in updated.contacts] == [("Donald Duck", False)]
    with pytest.raises(ValidationError):
        apply_kvk_update(org, change.field, {"colour": "blue"})


def test_father_and_son_with_the_same_initials_are_two_people(
    kvk: KvKClient, sandbox: KvKSandbox
) -> None:
    jan = OfficerRecord("Bestuurder", kind="Bestuursfunctie", first_names="Jan", last_name="Jansen")
    joost = attrs.evolve(jan, first_names="Joost")
    sandbox.set_officers("68750110", [jan, joost])
    both = crm_record(kvk, "68750110")
    sandbox.remove_officer("68750110", "Jansen", "Joost")
    left = UpdateService(kvk).check_updates(both)
    assert left.fields == ["contacts:left:J. Jansen (Bestuurder)"]
    after = left.apply(accept=["contacts"]).contacts
    assert [(p.first_name, p.active) for p in after] == [("Jan", True), ("Joost", False)]
    sandbox.set_officers("68750110", [])  # both leave: each its own change
    gone = UpdateService(kvk).check_updates(both)
    assert gone.fields == [
        "contacts:left:Jan Jansen (Bestuurder)",
        "contacts:left:Joost Jansen (Bestuurder)",
    ]
    only_joost = gone.apply(accept=[gone.fields[1]]).contacts
    assert [(p.first_name, p.active) for p in only_joost] == [("Jan", True), ("Joost", False)]
    sandbox.set_officers("68750110", [jan, joost])
    father = both.model_copy(update={"contacts": both.contacts[:1]})
    joined = UpdateService(kvk).check_updates(father)
    assert joined.fields == ["contacts:joined:J. Jansen (Bestuurder)"]


def test_a_first_name_that_starts_the_registers_names_is_the_same_person(
    kvk: KvKClient, sandbox: KvKSandbox
) -> None:
    jan = OfficerRecord(
        "Bestuurder", kind="Bestuursfunctie", first_names="Jan Pieter", last_name="Jansen"
    )
    sandbox.set_officers("68750110", [jan])
    crm = crm_record(kvk, "68750110")
    short = crm.contacts[0].model_copy(update={"first_name": "jan"})
    report = UpdateService(kvk).check_updates(crm.model_copy(update={"contacts": [short]}))
    assert not [f for f in report.fields if f.startswith("contacts")]


@pytest.mark.parametrize("asynchronous", [False, True])
def test_the_test_environment_asks_preprod_for_officers(asynchronous: bool) -> None:
    # The old test environment does not serve Functionarissen (it answers IPD0001).
    asked: list[str] = []

    def answers(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, json={"functionarissen": []})

    transport = httpx.MockTransport(answers)
    if asynchronous:
        anyio.run(AsyncKvKClient(environment="test", transport=transport).officers, "42084128")
    else:
        KvKClient(environment="test", transport=transport).officers("42084128")
        given = "https://kvk.example/test/api"
        KvKClient(environment="test", base_url=given, transport=transport).officers("42084128")
        KvKClient(transport=transport, api_key="k").officers("42084128")
    assert asked[0] == f"{PREPROD_BASE_URL}/v1/functionarissen/kvknummer/42084128"
    if not asynchronous:
        assert asked[1:] == [
            "https://kvk.example/test/api/v1/functionarissen/kvknummer/42084128",
            "https://api.kvk.nl/api/v1/functionarissen/kvknummer/42084128",
        ]
