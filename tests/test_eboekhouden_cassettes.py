"""Cassettes in cassettes/eboekhouden/ (recorded by scripts/record_eboekhouden_cassettes.py) replayed with vcrpy.

The cassettes are scrubbed: security codes and username are ``***`` and every
session ID is the same fake one. They still replay through the real client,
because requests are matched on method, URI and ``SOAPAction``, never on the
body (which carries the session ID and the codes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import vcr
import yaml

# The very data the cassettes were recorded with.
from scripts.record_eboekhouden_cassettes import (
    DEMO,
    RELATION,
    SESSION_PLACEHOLDER,
    TABLE,
    WRONG_CODES,
    invoice,
)

from crmconnect import AuthenticationError
from crmconnect.eboekhouden import DEFAULT_URL, EBoekhoudenClient, PaymentState
from crmconnect.sandbox import DEMO_CREDENTIALS

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes" / "eboekhouden"
NAMES = {"relations", "book_invoice", "payment_status", "session_expired", "bad_credentials"}
USER, CODE1, CODE2 = DEMO


def soap_action(r1: Any, r2: Any) -> None:
    """Match on the SOAP operation: every call goes to the same URI."""
    a1, a2 = r1.headers.get("SOAPAction"), r2.headers.get("SOAPAction")
    if a1 != a2:
        raise AssertionError(f"SOAPAction {a1} != {a2}")


replay = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=["method", "uri", "soap_action"],
)
replay.register_matcher("soap_action", soap_action)


@contextmanager
def session(name: str, *login: str) -> Iterator[EBoekhoudenClient]:
    """The real client (default URL and requests session) over one cassette, all of it played."""
    with replay.use_cassette(f"{name}.yaml") as cassette:
        with EBoekhoudenClient(*(login or (USER, CODE1, CODE2))) as books:
            assert books.url == DEFAULT_URL == "https://soap.e-boekhouden.nl/soap.asmx"
            yield books
        assert cassette.all_played, f"{name}: the client made fewer calls than recorded"


def test_relations_upsert_get_update() -> None:
    with session("relations") as books:
        created = books.upsert_relation(RELATION)
        found = books.relation_by_code("CRMC-1001")
        updated = books.upsert_relation(RELATION.model_copy(update={"city": "Zeist"}))
        again = books.relation_by_code("CRMC-1001")
        missing = books.relation_by_code("CRMC-9999")
    assert created.id > 0
    assert found is not None and found.id == created.id
    assert (found.company, found.city, found.iban, found.postcode) == (
        "Bakkerij Jansen & Zn B.V.",
        "Utrecht",
        "NL91ABNA0417164300",
        "3511 AA",
    )
    assert found.email == "administratie@bakkerij-jansen.example"
    assert updated.id == created.id
    assert again is not None and again.city == "Zeist" and again.id == created.id
    assert missing is None


def test_book_invoice_with_two_vat_rates_once() -> None:
    with session("book_invoice") as books:
        first = books.book_invoice(invoice("CRMC-F2026-001"), TABLE, relation=RELATION)
        again = books.book_invoice(invoice("CRMC-F2026-001"), TABLE, relation=RELATION)
        [booked] = books.mutations(invoice_number="CRMC-F2026-001")
    assert first.created and first.mutation_number > 0
    assert not again.created and again.mutation_number == first.mutation_number
    assert booked.number == first.mutation_number
    assert (booked.ledger_code, booked.relation_code) == ("1300", "CRMC-1001")
    lines = {line.vat_code: line for line in booked.lines}
    assert set(lines) == {"HOOG_VERK_21", "LAAG_VERK_9"}
    assert lines["HOOG_VERK_21"].amount_incl == Decimal("242.00")
    assert lines["LAAG_VERK_9"].amount_incl == Decimal("10.90")
    assert booked.total_incl == Decimal("252.90")


def test_payment_status_open_partly_paid_paid() -> None:
    with session("payment_status") as books:
        books.book_invoice(invoice("CRMC-F2026-010"), TABLE, relation=RELATION)
        opened = books.payment_status(["CRMC-F2026-010"])["CRMC-F2026-010"]
        partly = books.payment_status(["CRMC-F2026-010"])["CRMC-F2026-010"]
        final = books.payment_status(["CRMC-F2026-010", "CRMC-NOPE"])
    assert opened.state is PaymentState.OPEN and opened.outstanding == Decimal("252.90")
    assert partly.state is PaymentState.PARTLY_PAID
    assert (partly.paid, partly.outstanding) == (Decimal("100.00"), Decimal("152.90"))
    assert final["CRMC-F2026-010"].state is PaymentState.PAID
    assert final["CRMC-F2026-010"].outstanding == Decimal("0.00")
    assert final["CRMC-NOPE"].state is PaymentState.UNKNOWN


def test_expired_session_is_reopened_once() -> None:
    with session("session_expired") as books:
        first = books.ledgers(category="DEB")
        second = books.ledgers(category="DEB")
    assert [ledger.code for ledger in first] == [ledger.code for ledger in second] == ["1300"]


def test_bad_credentials_are_an_authentication_error() -> None:
    wrong = ("someone", "not-the-code-1", "not-the-code-2")
    with session("bad_credentials", *wrong) as books, pytest.raises(AuthenticationError) as caught:
        books.ledgers()
    assert caught.value.code == "SECURITY_010"
    assert not any(secret in str(caught.value) for secret in wrong[1:])


# -- the cassettes themselves ------------------------------------------------------------


def cassettes() -> list[Path]:
    return sorted(CASSETTES.glob("*.yaml"))


def element_values(name: str, text: str) -> set[str]:
    return set(re.findall(rf"<(?:[\w.-]+:)?{name}(?:\s[^<>]*)?(?<!/)>([^<]*)<", text))


def test_every_session_is_recorded() -> None:
    assert {path.stem for path in cassettes()} == NAMES


@pytest.mark.parametrize("path", cassettes(), ids=lambda p: p.stem)
def test_cassette_holds_no_secrets(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    secrets = {
        CODE1,
        CODE2,
        DEMO_CREDENTIALS.security_code_1,
        DEMO_CREDENTIALS.security_code_2,
        *WRONG_CODES,
    }
    assert not [secret for secret in secrets if secret in text]
    assert element_values("SessionID", text) <= {SESSION_PLACEHOLDER}
    assert element_values("Username", text) == {"***"}
    assert element_values("SecurityCode1", text) == {"***"}
    assert element_values("SecurityCode2", text) == {"***"}
    assert "127.0.0.1" not in text and "localhost" not in text
    data = yaml.safe_load(text)
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        assert request["uri"] == DEFAULT_URL
        headers = {name.lower() for name in request["headers"]} | {
            name.lower() for name in response["headers"]
        }
        assert not headers & {"cookie", "set-cookie", "authorization", "host"}
        # The scrubbed bodies still carry their true lengths.
        for part, body in ((request, request["body"]), (response, response["body"]["string"])):
            lengths = {k.lower(): v for k, v in part["headers"].items()}.get("content-length")
            if lengths is not None and body is not None:
                assert int(lengths[0]) == len(body.encode("utf-8"))
