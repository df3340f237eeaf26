"""A field the CRM cleared is cleared in e-Boekhouden too, on both backends (SOAP and REST).

``owned`` names the fields the caller owns: those are compared and written as
the relation holds them (``None`` clears the remote value); every other field
keeps what e-Boekhouden holds. Without ``owned`` nothing changes for existing
callers: an empty field never clears a remote one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from crmconnect import ValidationError
from crmconnect.eboekhouden import BooksClient, EBoekhoudenClient, Relation
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.sandbox import DEMO_CREDENTIALS, EBoekhoudenSandbox

OWNED = frozenset({"company", "city", "phone", "email", "kvk_number", "contact_person"})
WRITES = ("UpdateRelatie", "PATCH /v1/relation/{id}", "AddRelatie", "POST /v1/relation")


def make_client(backend: str, sandbox: EBoekhoudenSandbox, **options: object) -> BooksClient:
    if backend == "soap":
        session = options.get("session") or sandbox.requests_session()
        assert isinstance(session, requests.Session)
        return EBoekhoudenClient(
            DEMO_CREDENTIALS.username,
            DEMO_CREDENTIALS.security_code_1,
            DEMO_CREDENTIALS.security_code_2,
            session=session,
        )
    return EBoekhoudenRestClient(DEMO_CREDENTIALS.access_token, transport=sandbox.transport())


@pytest.fixture(params=["soap", "rest"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sandbox() -> EBoekhoudenSandbox:
    books = EBoekhoudenSandbox()
    books.add_relation(
        "1001",
        "Bakkerij Jansen B.V.",
        city="Utrecht",
        phone="030-1234567",
        email="info@jansen.example",
        kvk_number="69599084",
        iban="NL91ABNA0417164300",
        note="Set in e-Boekhouden",
    )
    return books


@pytest.fixture
def books(backend: str, sandbox: EBoekhoudenSandbox) -> Iterator[BooksClient]:
    with make_client(backend, sandbox) as client:
        yield client


def stored(sandbox: EBoekhoudenSandbox, name: str) -> str:
    """What the sandbox holds for relation 1001's field (``""`` for nothing)."""
    return sandbox.relations[0].get(name) or ""


def writes(sandbox: EBoekhoudenSandbox) -> int:
    return sum(sandbox.stats.requests[name] for name in WRITES)


def crm_relation(**changes: str | None) -> Relation:
    """Relation 1001 as the CRM holds it; keyword ``None`` means the CRM cleared it."""
    values: dict[str, str | None] = {
        "code": "1001",
        "company": "Bakkerij Jansen B.V.",
        "city": "Utrecht",
        "phone": "030-1234567",
        "email": "info@jansen.example",
        "kvk_number": "69599084",
    }
    values.update(changes)
    return Relation(**values)


def test_owned_fields_the_crm_cleared_are_cleared_remotely(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    result = books.push_relations([crm_relation(phone=None, kvk_number=None)], owned=OWNED)
    found = books.relation_by_code("1001")
    assert result.updated == ("1001",) and not result.failed
    assert (stored(sandbox, "phone"), stored(sandbox, "kvk_number")) == ("", "")
    assert found is not None and not found.phone and not found.kvk_number
    # The fields the CRM does not own keep what e-Boekhouden holds.
    assert stored(sandbox, "iban") == "NL91ABNA0417164300"
    assert stored(sandbox, "note") == "Set in e-Boekhouden"
    assert stored(sandbox, "city") == "Utrecht"


def test_without_owned_a_cleared_field_is_left_standing_as_before(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    result = books.push_relations([crm_relation(phone=None)])
    assert result.unchanged == ("1001",) and writes(sandbox) == 0
    assert stored(sandbox, "phone") == "030-1234567"


def test_a_cleared_field_is_cleared_once_then_nothing_is_written(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    first = books.push_relations([crm_relation(email=None)], owned=OWNED)
    written = writes(sandbox)
    again = books.push_relations([crm_relation(email=None), crm_relation(email="")], owned=OWNED)
    assert first.updated == ("1001",) and written == 1
    assert again.unchanged == ("1001", "1001") and writes(sandbox) == written  # no echo


def test_fields_not_owned_are_not_written_even_when_the_relation_sets_them(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    relation = crm_relation(note="the CRM's note", iban="NL02ABNA0123456789")
    result = books.push_relations([relation], owned=OWNED)
    assert result.unchanged == ("1001",) and writes(sandbox) == 0
    assert stored(sandbox, "note") == "Set in e-Boekhouden"


def test_upsert_with_owned_clears_and_writes_only_a_change(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    cleared = books.upsert_relation(crm_relation(city=None), owned=OWNED)
    written = writes(sandbox)
    same = books.upsert_relation(crm_relation(city=None), owned=OWNED)
    assert written == 1 and writes(sandbox) == written
    assert stored(sandbox, "city") == "" and stored(sandbox, "iban") == "NL91ABNA0417164300"
    assert not cleared.city and not same.city and same.id == cleared.id > 0


def test_a_new_relation_with_owned_fields_is_created_once(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    new = Relation(code="1002", company="Garage De Vries", city=None, phone="033-7654321")
    first = books.push_relations([new], owned=OWNED)
    again = books.push_relations([new], owned=OWNED)
    assert first.created == ("1002",) and again.unchanged == ("1002",)
    assert [r.code for r in sandbox.relations] == ["1001", "1002"]


@pytest.mark.parametrize(
    "owned", [{"city", "colour"}, {"id"}, {"added"}, "city"], ids=["unknown", "id", "added", "text"]
)
def test_owned_must_name_writable_fields(
    books: BooksClient, sandbox: EBoekhoudenSandbox, owned: set[str] | str
) -> None:
    before = sandbox.stats.total
    with pytest.raises(ValidationError) as refused:
        books.push_relations([crm_relation(city=None)], owned=owned)
    with pytest.raises(ValidationError):
        books.upsert_relation(crm_relation(city=None), owned=owned)
    assert refused.value.field == "owned"
    assert refused.value.value in ({"colour", "id", "added"} | {"city"})
    assert sandbox.stats.total == before  # refused before any call
    assert stored(sandbox, "city") == "Utrecht"


def test_clearing_the_name_is_refused_and_reported(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    result = books.push_relations([crm_relation(company=None)], owned=OWNED)
    assert [code for code, _ in result.failed] == ["1001"]
    assert stored(sandbox, "company") == "Bakkerij Jansen B.V."


def test_soap_sends_a_cleared_field_as_an_empty_element(sandbox: EBoekhoudenSandbox) -> None:
    # Whether UpdateRelatie blanks an element left out is unverified
    # (eboekhouden.md §5): a cleared field is sent empty, not left out.
    bodies: list[bytes] = []
    session = sandbox.requests_session()
    session.hooks["response"].append(lambda answer, **_: bodies.append(answer.request.body))
    with make_client("soap", sandbox, session=session) as books:
        books.push_relations([crm_relation(phone=None)], owned=OWNED)
    update = next(body for body in bodies if b"UpdateRelatie" in body)
    assert b"<ns0:Telefoon></ns0:Telefoon>" in update or b"<ns0:Telefoon/>" in update
    assert b"030-1234567" not in update and b"NL91ABNA0417164300" in update


def test_rest_refuses_to_own_what_a_patch_cannot_write(sandbox: EBoekhoudenSandbox) -> None:
    # member and newsletter_groups are not on REST; a ledger_id of 0 is left out of the
    # body: owning one would find a difference on every run and write it again and again.
    with make_client("rest", sandbox) as books:
        for name in ("member", "newsletter_groups", "ledger_id"):
            with pytest.raises(ValidationError) as refused:
                books.push_relations([crm_relation()], owned={*OWNED, name})
            assert (refused.value.field, refused.value.value) == ("owned", name)
    with make_client("soap", sandbox) as books:
        owned = {*OWNED, "member", "ledger_id"}
        first = books.push_relations(
            [crm_relation().model_copy(update={"member": "0"})], owned=owned
        )
        again = books.push_relations(
            [crm_relation().model_copy(update={"member": "0"})], owned=owned
        )
    assert first.updated == ("1001",) and again.unchanged == ("1001",)
    assert stored(sandbox, "member") == "0"


def test_an_empty_text_clears_once_without_owned_too(
    books: BooksClient, sandbox: EBoekhoudenSandbox
) -> None:
    # "" clears a field without owned as well; read back as absent (REST) or empty
    # (SOAP), it must not count as a change on the next run.
    first = books.push_relations([crm_relation(phone="")])
    written = writes(sandbox)
    again = books.push_relations([crm_relation(phone="")])
    assert first.updated == ("1001",) and stored(sandbox, "phone") == ""
    assert again.unchanged == ("1001",) and writes(sandbox) == written
