"""What the sync engine needs of DigitaleFactuur: an index of owned fields, bulk look-ups by
number, and updates that change some fields only (read-modify-write), against the sandbox."""

from __future__ import annotations

import doctest
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from crmconnect import NotFoundError, ValidationError
from crmconnect.digitalefactuur import (
    RELATION_FIELDS,
    AsyncDigitaleFactuurClient,
    DigitaleFactuurClient,
    FieldTable,
    Relation,
    _models,
    relation_fingerprint,
    relation_values,
)
from crmconnect.errors import MalformedResponseError
from crmconnect.sandbox import DigitaleFactuurSandbox, generate_relations

ACCOUNT, CODE = "98765", "s3cr3t-access-code-xyz"
OWNED = frozenset({"number", "kind", "name", "address", "postcode", "city", "email"})
"""The fields a CRM owns in these tests; phone, IBAN, KvK number and the rest are DF's."""


@pytest.fixture
def sandbox() -> DigitaleFactuurSandbox:
    sandbox = DigitaleFactuurSandbox(ACCOUNT, CODE)
    for values in generate_relations(250):
        sandbox.add_relation(**values)
    return sandbox


@pytest.fixture
def df(sandbox: DigitaleFactuurSandbox) -> Iterator[DigitaleFactuurClient]:
    with DigitaleFactuurClient(
        ACCOUNT, CODE, transport=sandbox.transport(), rate_limit=None
    ) as client:
        yield client


def mock(body: str, **kwargs: Any) -> DigitaleFactuurClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body)

    return DigitaleFactuurClient(
        ACCOUNT, CODE, transport=httpx.MockTransport(answer), rate_limit=None, **kwargs
    )


def calls(sandbox: DigitaleFactuurSandbox) -> dict[str, int]:
    return {action: n for action, n in sandbox.stats.requests.items() if n}


# -- the index ------------------------------------------------------------------------------------


def test_the_index_gives_id_number_and_the_owned_fingerprint_in_one_listing(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    index = df.relations_index(fields=OWNED)
    assert calls(sandbox) == {"klanten": 4}  # three pages and the empty one: one listing
    relations = df.relations()
    assert list(index) == [r.id for r in relations] and index.fields == OWNED
    for relation in relations:
        assert relation.id is not None
        entry = index[relation.id]
        assert (entry.id, entry.number) == (relation.id, relation.number)
        assert entry.fingerprint == relation_fingerprint(relation, fields=OWNED)
        assert entry.fingerprint != relation_fingerprint(relation)  # not every field
    everything = df.relations_index()
    assert {key: e.digest for key, e in everything.items()} == df.relations_snapshot()
    assert all(re.fullmatch("[0-9a-f]{32}", e.digest) for e in everything.values())


def test_a_change_to_a_field_the_caller_does_not_own_leaves_its_fingerprint(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    before, snapshot = df.relations_index(fields=OWNED), df.relations_snapshot()
    first, second = list(before)[:2]
    sandbox.edit_relation(first, telefoonnummer="030 123 45 67", kvk_nummer="69599084")
    sandbox.edit_relation(second, plaats="Elders")
    after = df.relations_index(fields=OWNED)
    changed = {key for key in before if before[key].fingerprint != after[key].fingerprint}
    assert changed == {second}
    assert {key for key in before if before[key].digest != after[key].digest} == {first, second}
    now = df.relations_snapshot()
    assert {key for key in snapshot if snapshot[key] != now[key]} == {first, second}


def test_the_index_fingerprint_is_the_models_for_odd_values_too() -> None:
    odd = [
        ("naam", "  Bakkerij \t De\n Zon  "),
        ("naam", "Bakkerij&#x200b; &#x80;De Zon"),
        ("postcode", " 3511 aa "),
        ("contactpersoon_email", "Info@Bakkerij.EXAMPLE"),
        ("type", ""),
        ("type", "crediteur"),
        ("plaats", "&#x2060;"),
        ("telefoonnummer", "030 - 1234"),
    ]
    body = "<klanten>" + "".join(
        f"<klant><id>{n}</id><relatienummer> {1000 + n}&#xfeff;</relatienummer>"
        f"<{element}>{value}</{element}></klant>"
        for n, (element, value) in enumerate(odd, 1)
    ) + "</klanten>"  # fmt: skip
    for fields in (OWNED, {"kind"}, {"postcode", "email"}, set(), None):
        with mock(body) as df:
            index = df.relations_index(fields=fields)
            relations = df.relations()
        assert len(index) == len(odd)
        for relation in relations:
            assert relation.id is not None
            assert index[relation.id].number == relation.number
            assert index[relation.id].fingerprint == relation_fingerprint(relation, fields=fields)
            dumped = relation.model_dump()
            assert relation_fingerprint(dumped, fields) == index[relation.id].fingerprint


def test_field_values_compare_field_by_field_as_the_fingerprint_does() -> None:
    before = Relation(number=1001, name="Bakkerij", postcode="3511 aa", email="Info@Zon.NL")
    after = Relation(number=1001, name="Bakkerij ", postcode="3511AA", email="info@zon.nl")
    assert relation_values(before, OWNED) == relation_values(after, OWNED)
    assert relation_fingerprint(before, OWNED) == relation_fingerprint(after, OWNED)
    moved = after.model_copy(update={"city": "Ede", "postcode": None})
    was, now = relation_values(before, OWNED), relation_values(moved, OWNED)
    assert set(was) == OWNED and (was["city"], now["postcode"]) == ("", "")
    assert {name for name in OWNED if was[name] != now[name]} == {"city", "postcode"}
    assert relation_fingerprint(moved, OWNED) != relation_fingerprint(before, OWNED)
    assert relation_values(moved.model_dump(), OWNED) == now


def test_the_docstring_examples_hold() -> None:
    assert doctest.testmod(_models).failed == 0


@pytest.mark.parametrize("fields", [{"nmae"}, {"id"}, {"unknown"}, "name", [1]])
def test_fields_that_are_not_mapped_are_refused_before_any_call(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient, fields: Any
) -> None:
    requests = sandbox.stats.total
    with pytest.raises(ValidationError) as caught:
        df.relations_index(fields=fields)
    assert caught.value.field == "fields"
    assert sandbox.stats.total == requests
    with pytest.raises(ValidationError):
        relation_fingerprint({"name": "x"}, fields=fields)


def test_a_narrower_table_limits_what_can_be_owned() -> None:
    table = FieldTable("klant", [spec for spec in RELATION_FIELDS if spec.attribute != "fax"])
    with (
        mock("<klanten/>", relation_fields=table) as df,
        pytest.raises(ValidationError, match="fax"),
    ):
        df.relations_index(fields={"name", "fax"})


def test_the_index_gives_the_full_relation_from_the_listing_without_a_call(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    index = df.relations_index(fields=OWNED)
    requests = sandbox.stats.total
    some = list(index)[123]
    relation = index.relation(some)
    assert sandbox.stats.total == requests
    assert relation == df.relation(some) and index.relation(int(some)) == relation
    with pytest.raises(KeyError):
        index.relation("1")


def test_one_bad_relation_fails_only_itself() -> None:
    body = (
        "<klanten>"
        "<klant><id>1</id><relatienummer>1001</relatienummer><naam>Goed</naam></klant>"
        "<klant><id>2</id><relatienummer>1002</relatienummer><type>leverancier</type></klant>"
        "<klant><id>3</id><relatienummer>&#x200b;</relatienummer><naam>Geen nummer</naam></klant>"
        "</klanten>"
    )
    with mock(body) as df:
        index = df.relations_index(fields=OWNED)
        assert [(e.id, e.number) for e in index.values()] == [
            ("1", "1001"), ("2", "1002"), ("3", None),
        ]  # fmt: skip
        assert index.relation("1").name == "Goed"
        with pytest.raises(MalformedResponseError, match="relation 2: kind") as caught:
            index.relation("2")
        assert caught.value.context["action"] == "klanten" and "leverancier" in caught.value.excerpt
        assert df.relation_by_number(1001) is not None  # the bad one does not stop a look-up
        assert set(df.relations_by_number([1001, 1003])) == {"1001"}
        assert set(index.by_number()) == {"1001", "1002"}


# -- look-ups by number ---------------------------------------------------------------------------


def test_many_numbers_are_looked_up_in_one_listing(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    found = df.relations_by_number([1001, "1100", " 2003 ", 9999])
    assert calls(sandbox) == {"klanten": 4}
    assert set(found) == {"1001", "1100", "2003"}
    assert all(relation.number == number for number, relation in found.items())
    index = df.relations_index(fields=OWNED).by_number()
    assert {number: index[number].id for number in found} == {
        number: relation.id for number, relation in found.items()
    }
    assert df.relations_by_number([]) == {}


@pytest.mark.parametrize("numbers", ["1001", 1001, [None], ["\u200b"], ["1" * 33]])
def test_bad_numbers_are_refused_before_any_call(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient, numbers: Any
) -> None:
    requests = sandbox.stats.total
    with pytest.raises(ValidationError) as caught:
        df.relations_by_number(numbers)
    assert caught.value.field == "numbers" and sandbox.stats.total == requests


def test_a_number_listed_twice_gives_its_first_relation() -> None:
    body = (
        "<klanten><klant><id>1</id><relatienummer>1001</relatienummer><naam>Eerste</naam></klant>"
        "<klant><id>2</id><relatienummer>1001</relatienummer><naam>Tweede</naam></klant></klanten>"
    )
    with mock(body) as df:
        assert df.relations_by_number(["1001"])["1001"].id == "1"
        assert df.relations_index().by_number()["1001"].id == "1"
        assert len(df.relations_index()) == 2  # both listed: the engine sees the double


# -- updates of some fields -----------------------------------------------------------------------


def test_an_unowned_field_written_remotely_survives_an_update_of_an_owned_one(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    some = sandbox.relations[7]["id"]
    sandbox.edit_relation(some, telefoonnummer="030 123 45 67", kvk_nummer="69599084")
    index = df.relations_index(fields=OWNED)
    written = df.update_relation_fields(some, {"city": "Ede"}, current=index.relation(some))
    stored = next(r for r in sandbox.relations if r["id"] == some)
    assert (stored["plaats"], stored["telefoonnummer"], stored["kvk_nummer"]) == (
        "Ede", "030 123 45 67", "69599084",
    )  # fmt: skip
    assert stored["rekeningnummer"] == "NL91ABNA0417164300"  # an unowned field of the seed too
    # What was written fingerprints to what DF now lists: no read-back, no echo.
    assert df.relations_index(fields=OWNED)[some].fingerprint == relation_fingerprint(
        written, fields=OWNED
    )


def test_a_field_can_be_cleared_and_the_current_record_is_read_when_not_given(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    some = sandbox.relations[3]["id"]
    sandbox.edit_relation(some, telefoonnummer="030 123 45 67")
    written = df.update_relation_fields(int(some), {"email": None, "address": None})
    assert calls(sandbox) == {"klanten": 1, "klant_updaten": 1}  # one read (by ID), one write
    stored = next(r for r in sandbox.relations if r["id"] == some)
    assert (stored["contactpersoon_email"], stored["adres"]) == ("", "")
    assert stored["telefoonnummer"] == "030 123 45 67" and stored["naam"]
    assert written.email is None and written.phone == "030 123 45 67"


def test_a_change_that_changes_nothing_writes_nothing(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    some = sandbox.relations[0]["id"]
    current = df.relation(some)
    assert current is not None
    same = df.update_relation_fields(some, {"city": f" {current.city} "}, current=current)
    assert same == current and "klant_updaten" not in calls(sandbox)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"nmae": "x"}, "nmae"),
        ({"id": "9"}, "id"),
        ({"unknown": {}}, "unknown"),
        ({"name": "x" * 256}, "name"),
        ({"kind": "leverancier"}, "kind"),
        ({"kind": None}, "kind"),
        ({"number": "\u200b"}, "number"),
        (["name"], "changes"),
    ],
)
def test_bad_changes_are_refused_naming_the_field_before_any_write(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient, changes: Any, field: str
) -> None:
    some = sandbox.relations[0]["id"]
    current = df.relation(some)
    with pytest.raises(ValidationError) as caught:
        df.update_relation_fields(some, changes, current=current)
    assert caught.value.field == field
    assert "klant_updaten" not in calls(sandbox)


def test_current_must_be_the_same_relation_and_a_missing_one_is_not_found(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient
) -> None:
    first, second = (df.relation(r["id"]) for r in sandbox.relations[:2])
    assert first is not None and second is not None and first.id is not None
    with pytest.raises(ValidationError) as caught:
        df.update_relation_fields(first.id, {"city": "Ede"}, current=second)
    assert caught.value.field == "current"
    with pytest.raises(NotFoundError) as missing:
        df.update_relation_fields(1, {"city": "Ede"})
    shown = f"{missing.value} {missing.value!r} {vars(missing.value)}"
    assert ACCOUNT not in shown and CODE not in shown
    assert "klant_updaten" not in calls(sandbox)


def test_elements_the_table_does_not_map_are_written_back_not_wiped(
    sandbox: DigitaleFactuurSandbox,
) -> None:
    # A host whose table leaves out fax: DF's faxnummer is read into `unknown`, and
    # since klant_updaten replaces the whole record it is sent back as read.
    table = FieldTable("klant", [spec for spec in RELATION_FIELDS if spec.attribute != "fax"])
    some = sandbox.relations[5]["id"]
    sandbox.edit_relation(some, faxnummer="030 765 43 21")
    with DigitaleFactuurClient(
        ACCOUNT, CODE, transport=sandbox.transport(), rate_limit=None, relation_fields=table
    ) as df:
        current = df.relation(some)
        assert current is not None and current.unknown["faxnummer"] == "030 765 43 21"
        df.update_relation_fields(some, {"city": "Ede"}, current=current)
        df.update_relation(current.model_copy(update={"name": "Hernoemd B.V."}))
        stored = next(r for r in sandbox.relations if r["id"] == some)
        assert (stored["faxnummer"], stored["naam"], stored["plaats"]) == (
            "030 765 43 21", "Hernoemd B.V.", current.city,
        )  # fmt: skip
        # An upsert of a relation built from CRM data cannot know them either.
        df.upsert_relation(Relation(number=current.number, name="Opnieuw B.V."))
    stored = next(r for r in sandbox.relations if r["id"] == some)
    assert (stored["faxnummer"], stored["naam"], stored["plaats"]) == (
        "030 765 43 21", "Opnieuw B.V.", "",
    )  # fmt: skip


@pytest.mark.parametrize("name", ["a><naam>x</naam><b", "", "1abc", "a b", "x:y"])
def test_unknown_elements_that_are_not_xml_names_are_refused(
    sandbox: DigitaleFactuurSandbox, df: DigitaleFactuurClient, name: str
) -> None:
    some = sandbox.relations[0]["id"]
    relation = Relation(id=some, number=1001, name="Bakkerij", unknown={name: "x"})
    with pytest.raises(ValidationError) as caught:
        df.update_relation(relation)
    assert (caught.value.field, caught.value.value) == ("unknown", name)
    assert "klant_updaten" not in calls(sandbox)


# -- the async twin -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_async_client_does_the_same(sandbox: DigitaleFactuurSandbox) -> None:
    some = sandbox.relations[9]["id"]
    sandbox.edit_relation(some, telefoonnummer="030 123 45 67")
    async with AsyncDigitaleFactuurClient(
        ACCOUNT, CODE, transport=sandbox.transport(), rate_limit=None
    ) as df:
        index = await df.relations_index(fields=OWNED)
        found = await df.relations_by_number(["1001", "2003"])
        written = await df.update_relation_fields(
            some, {"name": "Nieuw B.V."}, current=index.relation(some)
        )
        after = await df.relations_index(fields=OWNED)
    assert len(index) == 250 and set(found) == {"1001", "2003"}
    assert after[some].fingerprint == relation_fingerprint(written, fields=OWNED)
    stored = next(r for r in sandbox.relations if r["id"] == some)
    assert (stored["naam"], stored["telefoonnummer"]) == ("Nieuw B.V.", "030 123 45 67")


def test_the_new_reads_check_every_answer_like_the_others() -> None:
    reads: list[Callable[[DigitaleFactuurClient], object]] = [
        lambda df: df.relations_index(),
        lambda df: df.relations_by_number([1001]),
    ]
    for read in reads:  # every new read checks the answer's shape like the old ones
        with mock("<html><h1>Onderhoud</h1></html>") as df:
            with pytest.raises(MalformedResponseError, match="root element is <html>"):
                read(df)
