"""The reference host CRM: SqliteCRM, on SQLite, implementing HostCRM."""

from __future__ import annotations

import datetime as dt
import doctest
import sqlite3
import subprocess
import sys
import textwrap
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from crmconnect.contrib import sqlite_crm
from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.errors import ConfigurationError, ValidationError
from crmconnect.models import (
    Address,
    AddressKind,
    BankAccount,
    ContactDetails,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    Organisation,
    Person,
    RelationType,
    SbiActivity,
)
from crmconnect.sync import (
    HostCRM,
    Party,
    PaymentState,
    RemoteBooking,
    RemotePayment,
    ReviewFlagHost,
    Role,
)

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
def crm():
    with SqliteCRM(":memory:") as store:
        yield store


def full_organisation() -> Organisation:
    """An organisation with every kind of field filled."""
    return Organisation(
        id="ignored-on-add",
        name="Bakkerij Jansen",
        statutory_name="Bakkerij Jansen B.V.",
        trade_names=["Bakkerij Jansen", "Jansen Brood"],
        legal_form="Besloten Vennootschap",
        kvk_number="6959 9084",
        branch_number="000037178598",
        rsin="857587973",
        vat_number="NL004495445B01",
        registration_date=dt.date(2014, 2, 10),
        addresses=[
            Address(
                kind=AddressKind.VISITING,
                street="Hizzaarderlaan",
                house_number=3,
                house_letter="A",
                postcode="8823 sj",
                city="Lollum",
            ),
            Address(kind=AddressKind.POSTAL, po_box=200, postcode="1000AE", city="Rommeldam"),
            Address(
                kind=AddressKind.INVOICE,
                street="Rue Neuve",
                house_number=1,
                postcode="B-1000",
                city="Brussel",
                country="be",
            ),
        ],
        sbi_activities=[SbiActivity(code="01241", description="Teelt van appels", main=True)],
        employees_total=3,
        employees_full_time=1,
        employees_part_time=2,
        employee_class="02",
        websites=["https://jansen.example"],
        non_mailing=True,
        is_main_branch=True,
        contact=ContactDetails(email="info@jansen.example", phone="+31 515 123 456", fax="0515-1"),
        contacts=[
            Person(
                id="c1",
                first_name="Jan",
                last_name="Jansen",
                role="owner",
                share_percentage=Decimal("62.5"),
                active=False,
            )
        ],
        bank_accounts=[BankAccount(iban="NL91 ABNA 0417 1643 00", bic="ABNANL2A")],
        debtor_number=1001,
        creditor_number="2001",
        relation_type=RelationType.CUSTOMER,
    )


def full_person() -> Person:
    return Person(
        initials="J.P.",
        first_name="Jan Pieter",
        infix="van der",
        last_name="Berg",
        contact=ContactDetails(email="jp@example.org", mobile="06-12345678"),
        addresses=[
            Address(
                kind=AddressKind.PRIVATE,
                street="Dorpsstraat",
                house_number=12,
                house_number_addition="bis",
                postcode="3511AB",
                city="Utrecht",
            )
        ],
        share_percentage=Decimal("33.333333"),
        bank_accounts=[BankAccount(iban="NL91ABNA0417164300", bic="ABNANL2A")],
        bsn="111222333",
        debtor_number="1002",
        relation_type=RelationType.TO_ASSESS,
        active=False,
    )


def stored(crm: SqliteCRM, host_id: str) -> Party:
    party = crm.get(host_id)
    assert party is not None
    return party


def org(crm: SqliteCRM, host_id: str) -> Organisation:
    party = crm.get(host_id)
    assert isinstance(party, Organisation)
    return party


def name(party: Party) -> str:
    return party.name if isinstance(party, Organisation) else party.full_name()


def id_of(party: Party | None) -> str | None:
    return None if party is None else party.id


def sales_invoice(number: str, relation_code: str, price: str = "100.00") -> Invoice:
    return Invoice(
        number=number,
        relation_code=relation_code,
        date=dt.date(2024, 3, 1),
        lines=[InvoiceLine(description="Advice", unit_price=price, vat_category="nl_high")],
    )


# --- the protocol and the lifetime -------------------------------------------------------


def test_it_is_a_host_crm_with_the_protocol_names(crm: SqliteCRM) -> None:
    assert isinstance(crm, HostCRM)
    host_id = crm.create_party(Organisation(name="A"))
    assert crm.party(host_id) == crm.get(host_id)
    renamed = org(crm, host_id).model_copy(update={"name": "B"})
    crm.save_party(renamed)
    assert org(crm, host_id).name == "B"


def test_memory_database_and_context_manager_close_it() -> None:
    with SqliteCRM(":memory:") as crm:
        crm.add(Organisation(name="A"))
        assert len(crm.parties()) == 1
    with pytest.raises(sqlite3.ProgrammingError):
        crm.parties()


def test_two_memory_crms_are_separate() -> None:
    with SqliteCRM(":memory:") as one, SqliteCRM(":memory:") as two:
        one.add(Organisation(name="A"))
        assert two.parties() == []


def test_the_module_examples_run() -> None:
    assert doctest.testmod(sqlite_crm).failed == 0


# --- parties --------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [full_organisation, full_person])
def test_a_full_party_comes_back_as_it_went_in_with_its_id(crm: SqliteCRM, make) -> None:
    party = make()
    host_id = crm.add(party)
    assert crm.get(host_id) == party.model_copy(update={"id": host_id})
    assert party == make(), "the party given is not changed"


@pytest.mark.parametrize("make", [full_organisation, full_person])
def test_a_full_party_survives_reopening_the_file(tmp_path: Path, make) -> None:
    path = tmp_path / "crm.sqlite"
    with SqliteCRM(path) as crm:
        host_id = crm.add(make())
    with SqliteCRM(path) as crm:
        assert crm.get(host_id) == make().model_copy(update={"id": host_id})


def test_add_gives_new_ids_and_ignores_the_given_one(crm: SqliteCRM) -> None:
    first = crm.add(Organisation(id="X", name="A"))
    second = crm.add(Organisation(id="X", name="B"))
    assert first != second
    assert org(crm, first).name == "A" and org(crm, second).name == "B"
    assert crm.get("X") is None


@pytest.mark.parametrize("host_id", ["99", "abc", "", "1.0", " 1", "1 "])
def test_get_of_an_id_this_crm_did_not_give_is_none(crm: SqliteCRM, host_id: str) -> None:
    crm.add(Organisation(name="A"))  # ID "1"
    assert crm.get(host_id) is None


def test_save_stores_the_changes_and_can_change_the_kind(crm: SqliteCRM) -> None:
    host_id = crm.add(Organisation(name="A"))
    crm.save(Person(id=host_id, last_name="Berg", debtor_number="1001"))
    assert crm.get(host_id) == Person(id=host_id, last_name="Berg", debtor_number="1001")
    assert crm.find_by_number(Role.DEBTOR, "1001") == crm.get(host_id)


@pytest.mark.parametrize("host_id", [None, "42", "abc"])
def test_save_of_an_unknown_party_is_refused(crm: SqliteCRM, host_id: str | None) -> None:
    with pytest.raises(ValidationError) as refused:
        crm.save(Organisation(id=host_id, name="A"))
    assert (refused.value.field, refused.value.value) == ("id", host_id)
    assert crm.parties() == []


def test_a_party_invalid_by_a_bypassed_check_is_refused(crm: SqliteCRM) -> None:
    # model_copy(update=...) skips pydantic's checks; the CRM checks again before it stores.
    host_id = crm.add(Organisation(name="A"))
    bad = org(crm, host_id).model_copy(update={"kvk_number": "123"})
    with pytest.raises(ValidationError) as refused:
        crm.save(bad)
    assert refused.value.field == "kvk_number"
    assert org(crm, host_id).kvk_number is None


def test_something_not_a_party_is_refused(crm: SqliteCRM) -> None:
    with pytest.raises(ValidationError) as refused:
        crm.add(sales_invoice("1", "1001"))  # type: ignore[arg-type]
    assert (refused.value.field, refused.value.value) == ("party", "Invoice")


def test_parties_lists_every_party_in_the_order_added(crm: SqliteCRM) -> None:
    ids = [crm.add(Organisation(name=name)) for name in "CAB"]
    crm.save(org(crm, ids[0]).model_copy(update={"name": "Z"}))
    assert [(p.id, name(p)) for p in crm.parties()] == list(zip(ids, "ZAB", strict=True))


# --- the change counter ----------------------------------------------------------------------


def test_changed_parties_gives_what_changed_after_the_bookmark(crm: SqliteCRM) -> None:
    a, b = crm.add(Organisation(name="A")), crm.add(Organisation(name="B"))
    everything, mark = crm.changed_parties(None)
    assert [p.id for p in everything] == [a, b]
    assert crm.changed_parties(mark) == ([], mark)

    crm.save(org(crm, a).model_copy(update={"name": "A2"}))
    c = crm.add(Person(last_name="C"))
    changed, later = crm.changed_parties(mark)
    assert [(p.id, name(p)) for p in changed] == [(a, "A2"), (c, "C")]
    assert int(later) > int(mark)
    assert crm.changed_parties(later) == ([], later)


def test_an_empty_crm_gives_an_empty_list_and_a_bookmark(crm: SqliteCRM) -> None:
    changed, mark = crm.changed_parties(None)
    assert changed == []
    crm.add(Organisation(name="A"))
    assert [name(p) for p in crm.changed_parties(mark)[0]] == ["A"]


def test_saving_a_party_unchanged_is_no_change(crm: SqliteCRM) -> None:
    host_id = crm.add(full_organisation())
    _, mark = crm.changed_parties(None)
    crm.save(stored(crm, host_id))
    crm.set_number(host_id, Role.DEBTOR, "1001")  # the number it has
    assert crm.changed_parties(mark) == ([], mark)


def test_a_change_that_is_undone_in_the_same_save_is_no_change(crm: SqliteCRM) -> None:
    # The comparison is on the checked model: "6959 9084" is stored as "69599084".
    host_id = crm.add(Organisation(name="A", kvk_number="69599084"))
    _, mark = crm.changed_parties(None)
    party = org(crm, host_id)
    party.kvk_number = "6959 9084"
    crm.save(party)
    assert crm.changed_parties(mark) == ([], mark)


@pytest.mark.parametrize("bookmark", ["x", "-1", "1.5", "", "١"])
def test_a_bookmark_this_crm_did_not_give_is_refused(crm: SqliteCRM, bookmark: str) -> None:
    with pytest.raises(ValidationError) as refused:
        crm.changed_parties(bookmark)
    assert (refused.value.field, refused.value.value) == ("bookmark", bookmark)


def test_a_bookmark_ahead_of_the_crm_is_refused(crm: SqliteCRM) -> None:
    # E.g. the engine's state belongs to another database: asking "after 10" would miss 1..10.
    crm.add(Organisation(name="A"))
    with pytest.raises(ValidationError, match="ahead"):
        crm.changed_parties("10")


def test_the_counter_is_shared_by_connections_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    with SqliteCRM(path) as one, SqliteCRM(path) as two:
        a = one.add(Organisation(name="A"))
        _, mark = two.changed_parties(None)
        b = two.add(Organisation(name="B"))
        one.save(org(one, a).model_copy(update={"name": "A2"}))
        changed, _ = one.changed_parties(mark)
        assert [p.id for p in changed] == [b, a]
        assert org(two, a).name == "A2"


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from crmconnect.contrib.sqlite_crm import SqliteCRM
    from crmconnect.models import Organisation

    with SqliteCRM(sys.argv[2]) as crm:
        for index in range(int(sys.argv[4])):
            host_id = crm.add(Organisation(name=f"{sys.argv[3]}-{index}"))
            party = crm.get(host_id)
            crm.save(party.model_copy(update={"name": party.name + "-saved"}))
    """
)


def test_a_reader_following_bookmarks_misses_no_change_of_other_processes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crm.sqlite"
    count = 60
    SqliteCRM(path).close()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(SRC), str(path), name, str(count)])
        for name in ("one", "two")
    ]
    seen: dict[str, str] = {}
    marks: list[int] = []
    with SqliteCRM(path) as reader:
        mark = None
        while True:
            done = all(w.poll() is not None for w in writers)  # before the read: none after
            changed, mark = reader.changed_parties(mark)
            seen.update({str(p.id): name(p) for p in changed})
            marks.append(int(mark))
            if done:
                break
        assert [w.returncode for w in writers] == [0, 0]
        final = {str(p.id): name(p) for p in reader.parties()}
    assert len(final) == 2 * count
    assert seen == final, "the last state of every party reached the reader"
    assert all(name.endswith("-saved") for name in seen.values())
    assert marks == sorted(marks)
    assert marks[-1] == 4 * count, "one counter value per change, none skipped or shared"


def test_threads_may_share_one_crm(tmp_path: Path) -> None:
    with SqliteCRM(tmp_path / "crm.sqlite") as crm:

        def add_some(prefix: str) -> None:
            for index in range(25):
                crm.add(Organisation(name=f"{prefix}{index}", debtor_number=f"{prefix}{index}"))

        threads = [threading.Thread(target=add_some, args=(p,)) for p in ("1", "2", "3")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        changed, mark = crm.changed_parties(None)
        assert len(changed) == len({p.id for p in changed}) == 75
        assert mark == "75"


# --- numbers ------------------------------------------------------------------------------------


def test_find_by_number_per_role(crm: SqliteCRM) -> None:
    org_id = crm.add(Organisation(name="A", debtor_number="1001", creditor_number="2001"))
    person = crm.add(Person(last_name="B", creditor_number="1001"))
    assert id_of(crm.find_by_number(Role.DEBTOR, "1001")) == org_id
    assert id_of(crm.find_by_number(Role.CREDITOR, "2001")) == org_id
    assert id_of(crm.find_by_number(Role.CREDITOR, "1001")) == person
    assert crm.find_by_number(Role.DEBTOR, "2001") is None
    assert id_of(crm.find_by_number("creditor", "1001")) == person  # type: ignore[arg-type]


def test_an_unknown_role_is_refused(crm: SqliteCRM) -> None:
    with pytest.raises(ValidationError) as refused:
        crm.find_by_number("customer", "1001")  # type: ignore[arg-type]
    assert (refused.value.field, refused.value.value) == ("role", "customer")


def test_set_number_sets_and_clears_and_counts_as_a_change(crm: SqliteCRM) -> None:
    host_id = crm.add(Person(last_name="B"))
    _, mark = crm.changed_parties(None)
    crm.set_number(host_id, Role.DEBTOR, "1001")
    crm.set_number(host_id, Role.CREDITOR, "2001")
    assert (stored(crm, host_id).debtor_number, stored(crm, host_id).creditor_number) == (
        "1001",
        "2001",
    )
    changed, mark = crm.changed_parties(mark)
    assert [p.id for p in changed] == [host_id]
    crm.set_number(host_id, Role.DEBTOR, None)
    assert stored(crm, host_id).debtor_number is None
    assert crm.find_by_number(Role.DEBTOR, "1001") is None
    assert [p.id for p in crm.changed_parties(mark)[0]] == [host_id]


def test_set_number_refuses_a_bad_number_and_keeps_the_old_one(crm: SqliteCRM) -> None:
    host_id = crm.add(Organisation(name="A", debtor_number="1001"))
    _, mark = crm.changed_parties(None)
    with pytest.raises(ValidationError) as refused:
        crm.set_number(host_id, Role.DEBTOR, "1" * 16)
    assert (refused.value.field, refused.value.value) == ("debtor_number", "1" * 16)
    assert stored(crm, host_id).debtor_number == "1001"
    assert crm.changed_parties(mark) == ([], mark)


def test_set_number_of_an_unknown_party_is_refused(crm: SqliteCRM) -> None:
    with pytest.raises(ValidationError) as refused:
        crm.set_number("7", Role.DEBTOR, "1001")
    assert (refused.value.field, refused.value.value) == ("id", "7")


def test_numbers_are_unique_per_role_and_a_refused_write_leaves_nothing(crm: SqliteCRM) -> None:
    holder = crm.add(Organisation(name="A", debtor_number="1001", creditor_number="2001"))
    other = crm.add(Organisation(name="B"))
    _, mark = crm.changed_parties(None)
    with pytest.raises(ValidationError) as refused:
        crm.add(Person(last_name="C", debtor_number="1001"))
    assert (refused.value.field, refused.value.value) == ("debtor_number", "1001")
    assert f"party {holder}" in refused.value.reason
    with pytest.raises(ValidationError):
        crm.save(org(crm, other).model_copy(update={"name": "B2", "creditor_number": "2001"}))
    with pytest.raises(ValidationError):
        crm.set_number(other, Role.CREDITOR, "2001")
    assert [name(p) for p in crm.parties()] == ["A", "B"]
    assert crm.changed_parties(mark) == ([], mark)
    assert crm.add(Person(last_name="D")) == str(int(other) + 1), "no ID used up by a refusal"


# --- review flags -----------------------------------------------------------------------------------


def test_flags_are_listed_per_party_and_cleared(crm: SqliteCRM) -> None:
    a, b = crm.add(Organisation(name="A")), crm.add(Organisation(name="B"))
    crm.flag_for_review(a, "digitalefactuur", "removed in DigitaleFactuur (debtor 1001)")
    crm.flag_for_review(a, "digitalefactuur", "removed in DigitaleFactuur (debtor 1001)")
    crm.flag_for_review(a, "kvk", "removed from the register")
    crm.flag_for_review(b, "eboekhouden", "removed in e-Boekhouden")
    flags = crm.review_flags(a)
    assert [(f.host_id, f.service) for f in flags] == [(a, "digitalefactuur"), (a, "kvk")]
    assert flags[0].reason == "removed in DigitaleFactuur (debtor 1001)"
    assert flags[0].flagged_at.tzinfo is not None
    assert len(crm.review_flags()) == 3
    assert crm.clear_flags(a, "kvk") == 1
    assert [f.service for f in crm.review_flags(a)] == ["digitalefactuur"]
    assert crm.clear_flags(a) == 1
    assert [f.host_id for f in crm.review_flags()] == [b]
    assert crm.review_flags("nope") == []


def test_flagged_parties_are_those_with_a_flag_of_the_service_not_cleared(
    crm: SqliteCRM,
) -> None:
    a, b = crm.add(Organisation(name="A")), crm.add(Organisation(name="B"))
    assert isinstance(crm, ReviewFlagHost)
    crm.flag_for_review(a, "digitalefactuur", "removed in digitalefactuur")
    crm.flag_for_review(a, "digitalefactuur", "changed on both sides: email")
    crm.flag_for_review(b, "eboekhouden", "removed in eboekhouden")
    assert crm.flagged_parties("digitalefactuur") == [a]
    assert crm.flagged_parties("eboekhouden") == [b] and crm.flagged_parties("kvk") == []
    crm.clear_flags(a, "digitalefactuur")
    assert crm.flagged_parties("digitalefactuur") == []


def test_flagging_an_unknown_party_is_refused(crm: SqliteCRM) -> None:
    with pytest.raises(ValidationError) as refused:
        crm.flag_for_review("3", "kvk", "gone")
    assert (refused.value.field, refused.value.value) == ("id", "3")


# --- invoices, bookings, payments ----------------------------------------------------------------


@pytest.fixture
def customers(crm: SqliteCRM) -> SqliteCRM:
    crm.add(Organisation(name="A", debtor_number="1001"))
    crm.add(Organisation(name="B", debtor_number="1002", creditor_number="2002"))
    return crm


def test_an_invoice_comes_back_as_it_went_in(customers: SqliteCRM) -> None:
    invoice = sales_invoice("X1", "1001", price="33.335")
    customers.add_invoice(invoice)
    assert customers.invoice("X1") == invoice
    assert customers.invoices_to_book("eboekhouden") == [invoice]


def test_an_invoice_needs_a_party_with_its_relation_code_in_its_role(customers: SqliteCRM) -> None:
    with pytest.raises(ValidationError) as refused:
        customers.add_invoice(sales_invoice("X1", "2002"))  # 2002 is a creditor number
    assert (refused.value.field, refused.value.value) == ("relation_code", "2002")
    purchase = sales_invoice("P1", "2002").model_copy(update={"kind": InvoiceKind.PURCHASE})
    customers.add_invoice(purchase)
    assert customers.invoice("P1").kind is InvoiceKind.PURCHASE


def test_an_invoice_number_is_unique_per_relation(customers: SqliteCRM) -> None:
    customers.add_invoice(sales_invoice("X1", "1001"))
    customers.add_invoice(sales_invoice("X1", "1002", price="5"))
    with pytest.raises(ValidationError) as refused:
        customers.add_invoice(sales_invoice("X1", "1001", price="7"))
    assert (refused.value.field, refused.value.value) == ("number", "X1")
    assert customers.invoice("X1", relation_code="1001").lines[0].unit_price == Decimal("100.00")
    with pytest.raises(ValidationError) as ambiguous:
        customers.invoice("X1")
    assert (ambiguous.value.field, ambiguous.value.value) == ("invoice_number", "X1")
    assert "1001, 1002" in ambiguous.value.reason


def test_only_sent_invoices_are_to_be_booked(customers: SqliteCRM) -> None:
    customers.add_invoice(sales_invoice("D1", "1001"), sent=False)
    customers.add_invoice(sales_invoice("S1", "1001"))
    assert [i.number for i in customers.invoices_to_book("eboekhouden")] == ["S1"]
    customers.mark_sent("D1")
    assert [i.number for i in customers.invoices_to_book("eboekhouden")] == ["D1", "S1"]


def test_a_booking_is_per_service(customers: SqliteCRM) -> None:
    customers.add_invoice(sales_invoice("X1", "1001"))
    customers.add_invoice(sales_invoice("X1", "1002"))
    customers.record_booking("eboekhouden", RemoteBooking("X1", "1002", "M-17", created=True))
    assert [(i.relation_code, i.number) for i in customers.invoices_to_book("eboekhouden")] == [
        ("1001", "X1")
    ]
    assert len(customers.invoices_to_book("other")) == 2
    ref = customers.booking_reference("eboekhouden", "X1", relation_code="1002")
    assert ref == "M-17"
    assert customers.booking_reference("eboekhouden", "X1", relation_code="1001") is None
    assert customers.booking_reference("other", "X1", relation_code="1002") is None


def test_a_booking_of_an_unknown_invoice_is_refused(customers: SqliteCRM) -> None:
    customers.add_invoice(sales_invoice("X1", "1001"))
    with pytest.raises(ValidationError) as refused:
        customers.record_booking("eboekhouden", RemoteBooking("X1", "1002", "M-1", created=True))
    assert (refused.value.field, refused.value.value) == ("invoice_number", "X1")
    assert "relation 1002" in refused.value.reason
    assert len(customers.invoices_to_book("eboekhouden")) == 1


def book(crm: SqliteCRM, number: str, code: str, service: str = "eboekhouden") -> None:
    crm.add_invoice(sales_invoice(number, code))
    crm.record_booking(service, RemoteBooking(number, code, f"M-{number}-{code}", created=True))


def test_payment_state_is_matched_by_relation_and_number(customers: SqliteCRM) -> None:
    # Invoice X1 paid by relation 1001 and open for 1002 reads as paid and open, each.
    book(customers, "X1", "1001")
    book(customers, "X1", "1002")
    customers.record_payment(
        "eboekhouden", RemotePayment("X1", "1001", PaymentState.PAID, Decimal("0"))
    )
    assert customers.payment_state("X1", relation_code="1001") == "paid"
    assert customers.payment_state("X1", relation_code="1002") == "open"
    assert customers.open_invoices("eboekhouden") == [("1002", "X1")]
    with pytest.raises(ValidationError):
        customers.payment_state("X1")


def test_partly_paid_stays_open_with_what_is_outstanding(customers: SqliteCRM) -> None:
    book(customers, "X1", "1001")
    assert customers.payment_state("X1") == PaymentState.OPEN
    assert customers.outstanding("X1") is None
    customers.record_payment(
        "eboekhouden", RemotePayment("X1", "1001", PaymentState.PARTLY_PAID, Decimal("21.005"))
    )
    assert customers.payment_state("X1") == "partly_paid"
    assert customers.outstanding("X1") == Decimal("21.005")
    assert customers.open_invoices("eboekhouden") == [("1001", "X1")]


def test_an_unknown_payment_state_keeps_the_known_one(customers: SqliteCRM) -> None:
    book(customers, "X1", "1001")
    customers.record_payment(
        "eboekhouden", RemotePayment("X1", "1001", PaymentState.PARTLY_PAID, Decimal("5"))
    )
    customers.record_payment(
        "eboekhouden", RemotePayment("X1", "1001", PaymentState.UNKNOWN, error="timed out")
    )
    assert customers.payment_state("X1") == "partly_paid"
    assert customers.outstanding("X1") == Decimal("5")


def test_open_invoices_are_those_booked_in_the_service_and_not_paid(customers: SqliteCRM) -> None:
    book(customers, "A", "1001")
    book(customers, "B", "1001", service="other")
    customers.add_invoice(sales_invoice("C", "1001"))  # sent, not booked
    book(customers, "D", "1002")
    customers.record_payment("eboekhouden", RemotePayment("D", "1002", PaymentState.PAID))
    assert customers.open_invoices("eboekhouden") == [("1001", "A")]
    assert customers.open_invoices("other") == [("1001", "B")]


def test_a_payment_of_an_unknown_invoice_is_refused(customers: SqliteCRM) -> None:
    with pytest.raises(ValidationError) as refused:
        customers.record_payment("eboekhouden", RemotePayment("Y", "1001", PaymentState.PAID))
    assert (refused.value.field, refused.value.value) == ("invoice_number", "Y")
    with pytest.raises(ValidationError, match="no invoice has this number"):
        customers.payment_state("Y")


# --- KvK updates -----------------------------------------------------------------------------------


def test_kvk_updates_are_stored_listed_and_replaced(crm: SqliteCRM) -> None:
    a, b = crm.add(Organisation(name="A")), crm.add(Organisation(name="B"))
    address = Address(street="Hizzaarderlaan", house_number=3, postcode="8823SJ", city="Lollum")
    assert crm.store_kvk_update(a, "visiting_address", None, address)
    assert crm.store_kvk_update(a, "employees_total", 1, 3)
    assert crm.store_kvk_update(b, "rsin", None, "857587973")
    assert crm.store_kvk_update(a, "employees_total", 1, 4), "a newer value replaces"
    pending = crm.pending_kvk_updates()
    assert [(u.host_id, u.field, u.crm_value, u.kvk_value) for u in pending] == [
        (a, "employees_total", 1, 4),
        (a, "visiting_address", None, address.model_dump(mode="json")),
        (b, "rsin", None, "857587973"),
    ]
    assert Address.model_validate(pending[1].kvk_value) == address
    assert [u.field for u in crm.pending_kvk_updates(b)] == ["rsin"]


def test_a_rejected_value_is_not_proposed_again_until_kvk_changes_it(crm: SqliteCRM) -> None:
    host_id = crm.add(Organisation(name="A"))
    crm.store_kvk_update(host_id, "registration_date", None, dt.date(2014, 2, 10))
    crm.reject_kvk_update(host_id, "registration_date")
    assert crm.pending_kvk_updates() == []
    assert crm.is_rejected(host_id, "registration_date", dt.date(2014, 2, 10))
    assert crm.is_rejected(host_id, "registration_date", "2014-02-10"), "compared as JSON"
    assert not crm.store_kvk_update(host_id, "registration_date", None, dt.date(2014, 2, 10))
    assert crm.pending_kvk_updates() == []

    assert crm.store_kvk_update(host_id, "registration_date", None, dt.date(2015, 1, 1))
    assert not crm.is_rejected(host_id, "registration_date", dt.date(2014, 2, 10))
    assert [u.kvk_value for u in crm.pending_kvk_updates()] == ["2015-01-01"]
    # Back to the old value: KvK changed it again, so it is proposed again.
    assert crm.store_kvk_update(host_id, "registration_date", None, dt.date(2014, 2, 10))


def test_a_rejected_address_is_recognised_whatever_its_field_order(crm: SqliteCRM) -> None:
    host_id = crm.add(Organisation(name="A"))
    address = Address(street="Hizzaarderlaan", house_number=3, postcode="8823SJ", city="Lollum")
    crm.store_kvk_update(host_id, "visiting_address", None, address)
    crm.reject_kvk_update(host_id, "visiting_address")
    as_dict = dict(reversed(address.model_dump(mode="json").items()))
    assert crm.is_rejected(host_id, "visiting_address", as_dict)
    assert not crm.is_rejected(
        host_id, "visiting_address", address.model_copy(update={"city": "X"})
    )
    assert not crm.is_rejected(host_id, "postal_address", address)


def test_an_accepted_update_leaves_the_list_and_is_not_remembered(crm: SqliteCRM) -> None:
    host_id = crm.add(Organisation(name="A"))
    crm.store_kvk_update(host_id, "rsin", None, "857587973")
    update = crm.accept_kvk_update(host_id, "rsin")
    assert (update.host_id, update.field, update.kvk_value) == (host_id, "rsin", "857587973")
    assert update.stored_at.tzinfo is not None
    assert crm.pending_kvk_updates() == []
    assert not crm.is_rejected(host_id, "rsin", "857587973")


def test_rejecting_what_is_not_pending_is_refused(crm: SqliteCRM) -> None:
    host_id = crm.add(Organisation(name="A"))
    for decide in (crm.reject_kvk_update, crm.accept_kvk_update):
        with pytest.raises(ValidationError) as refused:
            decide(host_id, "rsin")
        assert (refused.value.field, refused.value.value) == ("field", "rsin")
    with pytest.raises(ValidationError) as unknown:
        crm.store_kvk_update("9", "rsin", None, "857587973")
    assert (unknown.value.field, unknown.value.value) == ("id", "9")


def test_kvk_updates_do_not_count_as_changes_of_the_party(crm: SqliteCRM) -> None:
    host_id = crm.add(Organisation(name="A"))
    _, mark = crm.changed_parties(None)
    crm.store_kvk_update(host_id, "rsin", None, "857587973")
    crm.reject_kvk_update(host_id, "rsin")
    crm.flag_for_review(host_id, "kvk", "removed from the register")
    assert crm.changed_parties(mark) == ([], mark)


def test_add_many_stores_all_in_order_or_none(crm: SqliteCRM) -> None:
    ids = crm.add_many([Organisation(name="A", debtor_number="1001"), full_person()])
    assert [name(stored(crm, host_id)) for host_id in ids] == ["A", "Jan Pieter van der Berg"]
    _, mark = crm.changed_parties(None)
    with pytest.raises(ValidationError) as refused:
        crm.add_many([Organisation(name="B", debtor_number="1003"), Person(debtor_number="1003")])
    assert (refused.value.field, refused.value.value) == ("debtor_number", "1003")
    assert len(crm.parties()) == 2
    assert crm.changed_parties(mark) == ([], mark)


def test_texts_sqlite_cannot_encode_are_stored(crm: SqliteCRM) -> None:
    # A lone surrogate (half of a broken emoji in a remote answer) is not UTF-8.
    host_id = crm.add(Organisation(name="A"))
    crm.flag_for_review(host_id, "digitalefactuur", "removed: \ud83d naam\u200b")
    assert [f.reason for f in crm.review_flags()] == ["removed:  naam"]
    assert crm.store_kvk_update(host_id, "name", "A", "B\ud83d")
    assert [u.kvk_value for u in crm.pending_kvk_updates()] == ["B\ud83d"]
    crm.reject_kvk_update(host_id, "name")
    assert crm.is_rejected(host_id, "name", "B\ud83d")


# --- deleted parties ------------------------------------------------------------------------------


def test_a_deleted_party_is_gone_with_its_flags_and_kvk_updates(crm: SqliteCRM) -> None:
    a = crm.add(full_organisation())
    b = crm.add(Organisation(name="B"))
    crm.flag_for_review(a, "kvk", "removed from the register")
    crm.flag_for_review(b, "kvk", "removed from the register")
    crm.store_kvk_update(a, "rsin", None, "857587973")
    crm.store_kvk_update(a, "name", "A", "B")
    crm.reject_kvk_update(a, "name")

    crm.delete(a)

    assert crm.get(a) is None
    assert [p.id for p in crm.parties()] == [b]
    assert [f.host_id for f in crm.review_flags()] == [b]
    assert crm.pending_kvk_updates() == []
    assert not crm.is_rejected(a, "name", "B")
    assert crm.deleted_parties(None) == [a]


@pytest.mark.parametrize("host_id", ["7", "nope", ""])
def test_deleting_an_unknown_party_is_refused_naming_the_id(crm: SqliteCRM, host_id: str) -> None:
    crm.add(Organisation(name="A"))
    with pytest.raises(ValidationError) as refused:
        crm.delete(host_id)
    assert (refused.value.field, refused.value.value) == ("id", host_id)
    assert len(crm.parties()) == 1 and crm.deleted_parties(None) == []


def test_a_party_deleted_before_is_refused_as_deleted(crm: SqliteCRM) -> None:
    host_id = crm.add(Organisation(name="A"))
    crm.delete(host_id)
    for act in (crm.delete, lambda i: crm.save(Organisation(id=i, name="A2"))):
        with pytest.raises(ValidationError, match="deleted") as refused:
            act(host_id)
        assert (refused.value.field, refused.value.value) == ("id", host_id)
    assert crm.deleted_parties(None) == [host_id], "one tombstone"


def test_deletions_and_changes_share_one_bookmark(crm: SqliteCRM) -> None:
    a, b, c = (crm.add(Organisation(name=n)) for n in "ABC")
    _, start = crm.changed_parties(None)
    assert crm.deleted_parties(start) == []

    crm.delete(b)
    changed, after_b = crm.changed_parties(start)
    assert changed == [] and int(after_b) > int(start), "a deletion moves the bookmark"
    assert crm.deleted_parties(start) == [b]
    assert crm.deleted_parties(after_b) == []
    assert crm.changed_parties(after_b) == ([], after_b)

    crm.save(org(crm, a).model_copy(update={"name": "A2"}))
    crm.delete(c)
    d = crm.add(Person(last_name="D"))
    changed, later = crm.changed_parties(after_b)
    assert [p.id for p in changed] == [a, d]
    assert crm.deleted_parties(after_b) == [c]
    assert crm.deleted_parties(None) == [b, c], "in the order deleted"
    assert crm.deleted_parties(later) == []
    assert crm.changed_parties(later) == ([], later)


def test_deleted_parties_refuses_a_bookmark_not_given(crm: SqliteCRM) -> None:
    crm.delete(crm.add(Organisation(name="A")))
    for bookmark, reason in (("x", "not a bookmark"), ("99", "ahead")):
        with pytest.raises(ValidationError, match=reason) as refused:
            crm.deleted_parties(bookmark)
        assert (refused.value.field, refused.value.value) == ("bookmark", bookmark)


def test_a_deleted_partys_invoices_stay_and_its_number_is_free(customers: SqliteCRM) -> None:
    book(customers, "X1", "1001")
    [a] = [p.id for p in customers.parties() if p.debtor_number == "1001"]
    assert a is not None
    customers.delete(a)

    # Bookkeeping history: the invoice, its booking and its payment state stay.
    assert customers.invoice("X1").relation_code == "1001"
    assert customers.booking_reference("eboekhouden", "X1") == "M-X1-1001"
    assert customers.open_invoices("eboekhouden") == [("1001", "X1")]
    customers.record_payment(
        "eboekhouden", RemotePayment("X1", "1001", PaymentState.PAID, Decimal("0.00"))
    )
    assert customers.payment_state("X1") is PaymentState.PAID
    with pytest.raises(ValidationError):
        customers.add_invoice(sales_invoice("X2", "1001"))  # no party has the number
    assert customers.find_by_number(Role.DEBTOR, "1001") is None
    again = customers.add(Organisation(name="A again", debtor_number="1001"))
    assert again != a and id_of(customers.find_by_number(Role.DEBTOR, "1001")) == again


def test_deletions_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    with SqliteCRM(path) as crm:
        a, b = crm.add(Organisation(name="A")), crm.add(full_person())
        _, mark = crm.changed_parties(None)
        crm.delete(b)
    with SqliteCRM(path) as crm:
        assert crm.get(b) is None and [p.id for p in crm.parties()] == [a]
        assert crm.deleted_parties(mark) == [b]
        _, later = crm.changed_parties(mark)
        assert crm.deleted_parties(later) == []
        c = crm.add(Organisation(name="C"))
        assert c not in (a, b), "an ID is never given out again"


def test_a_file_of_schema_version_0_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    with SqliteCRM(path) as crm:
        a = crm.add(Organisation(name="A", debtor_number="1001"))
        crm.add_invoice(sales_invoice("X1", "1001"))
        _, mark = crm.changed_parties(None)
    with sqlite3.connect(path) as old:  # as the files were before deletions were kept
        old.execute("DROP TABLE deleted_parties")
        old.execute("PRAGMA user_version = 0")
    old.close()

    with SqliteCRM(path) as crm:
        assert org(crm, a).debtor_number == "1001"
        assert crm.invoice("X1").relation_code == "1001"
        assert crm.changed_parties(mark) == ([], mark)
        assert crm.deleted_parties(None) == []
        crm.delete(a)
        assert crm.deleted_parties(mark) == [a]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (sqlite_crm.SCHEMA_VERSION,)
    db.close()


def test_a_file_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    SqliteCRM(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {sqlite_crm.SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ConfigurationError, match="newer"):
        SqliteCRM(path)
