"""REST cassettes in cassettes/eboekhouden/rest/ replayed through the real REST client (vcrpy).

Recorded by scripts/record_eboekhouden_cassettes.py against the sandbox: the
access token, the session tokens and the ``Authorization`` header are scrubbed.
They replay because requests are matched on method and URI (with the query),
never on headers or bodies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import vcr
import yaml
from scripts.record_eboekhouden_cassettes import RELATION, TABLE, invoice

from crmconnect import AuthenticationError
from crmconnect.eboekhouden import PaymentState
from crmconnect.eboekhouden.rest import DEFAULT_REST_URL, EBoekhoudenRestClient
from crmconnect.sandbox import DEMO_ACCESS_TOKEN

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes" / "eboekhouden" / "rest"
NAMES = {"relations", "book_invoice", "payment_status", "session_expired", "bad_credentials"}
TOKEN_PLACEHOLDER = "SCRUBBED-SESSION-TOKEN"

replay = vcr.VCR(
    cassette_library_dir=str(CASSETTES), record_mode="none", match_on=["method", "uri"]
)


@contextmanager
def session(name: str, token: str = DEMO_ACCESS_TOKEN) -> Iterator[EBoekhoudenRestClient]:
    """The real client (default URL, its own httpx client) over one cassette, all of it played."""
    with replay.use_cassette(f"{name}.yaml") as cassette:
        with EBoekhoudenRestClient(token) as books:
            assert books.base_url == DEFAULT_REST_URL == "https://api.e-boekhouden.nl"
            yield books
        assert cassette.all_played, f"{name}: the client made fewer calls than recorded"


def test_relations_upsert_get_update() -> None:
    with session("relations") as books:
        created = books.upsert_relation(RELATION)
        found = books.relation_by_code("CRMC-1001")
        updated = books.upsert_relation(RELATION.model_copy(update={"city": "Zeist"}))
        again = books.relation_by_code("CRMC-1001")
        missing = books.relation_by_code("CRMC-9999")
    assert found is not None and found.id == created.id == updated.id
    assert (found.company, found.postcode, found.iban) == (
        "Bakkerij Jansen & Zn B.V.",
        "3511 AA",
        "NL91ABNA0417164300",
    )
    assert again is not None and again.city == "Zeist"
    assert missing is None


def test_book_invoice_once_with_two_rates() -> None:
    with session("book_invoice") as books:
        first = books.book_invoice(invoice("CRMC-F2026-001"), TABLE, relation=RELATION)
        again = books.book_invoice(invoice("CRMC-F2026-001"), TABLE, relation=RELATION)
        listed = books.mutations(invoice_number="CRMC-F2026-001")
    assert first.created and not again.created
    assert [m.number for m in listed] == [first.mutation_number]
    assert listed[0].lines == []  # REST list items carry no rows


def test_payment_status_open_partly_paid_paid() -> None:
    with session("payment_status") as books:
        books.book_invoice(invoice("CRMC-F2026-010"), TABLE, relation=RELATION)
        opened = books.payment_status(["CRMC-F2026-010"])["CRMC-F2026-010"]
        partly = books.payment_status(["CRMC-F2026-010"])["CRMC-F2026-010"]
        final = books.payment_status(["CRMC-F2026-010", "CRMC-NOPE"])
    assert (opened.state, opened.outstanding) == (PaymentState.OPEN, Decimal("252.90"))
    assert (partly.state, partly.outstanding) == (PaymentState.PARTLY_PAID, Decimal("152.90"))
    assert final["CRMC-F2026-010"].state is PaymentState.PAID
    assert final["CRMC-NOPE"].state is PaymentState.UNKNOWN


def test_expired_session_is_renewed_once() -> None:
    with session("session_expired") as books:
        first = books.ledgers(category="DEB")
        second = books.ledgers(category="DEB")
        assert books.sessions_opened == 2
    assert [ledger.code for ledger in first] == [ledger.code for ledger in second] == ["1300"]


def test_bad_token_is_an_authentication_error() -> None:
    with (
        session("bad_credentials", "not-the-token") as books,
        pytest.raises(AuthenticationError) as caught,
    ):
        books.ledgers()
    assert caught.value.code == "SECURITY_010"


def cassettes() -> list[Path]:
    return sorted(CASSETTES.glob("*.yaml"))


def test_every_session_is_recorded() -> None:
    assert {path.stem for path in cassettes()} == NAMES


@pytest.mark.parametrize("path", cassettes(), ids=lambda p: p.stem)
def test_cassette_holds_no_secrets(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert DEMO_ACCESS_TOKEN not in text and "wrong-access-token" not in text
    assert set(re.findall(r'"token":"([^"]*)"', text)) <= {TOKEN_PLACEHOLDER}
    assert set(re.findall(r'"accessToken":"([^"]*)"', text)) == {"***"}
    assert "127.0.0.1" not in text and "localhost" not in text
    for interaction in yaml.safe_load(text)["interactions"]:
        request, response = interaction["request"], interaction["response"]
        assert request["uri"].startswith(DEFAULT_REST_URL + "/v1/")
        names = {n.lower() for n in request["headers"]} | {n.lower() for n in response["headers"]}
        assert not names & {"authorization", "cookie", "set-cookie", "host"}
