"""DigitaleFactuur cassettes (scripts/record_digitalefactuur_cassettes.py) replayed through the client.

The recorded URIs have both credential segments scrubbed to ``***``; requests
are matched on method, the URI with the credentials scrubbed the same way, and
the posted form, so they replay for a client with any credentials.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import vcr
import yaml

# The very data the cassettes were recorded with.
from scripts.record_digitalefactuur_cassettes import RELATION

from crmconnect import AuthenticationError
from crmconnect.digitalefactuur import DigitaleFactuurClient, PaymentStatus, Relation, RelationKind
from crmconnect.sandbox import DEMO_ACCESS_CODE, DEMO_ACCOUNT_ID

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes" / "digitalefactuur"
_CREDENTIALS = re.compile(r"/api/[^/]+/[^/]+/")


def scrubbed_uri(r1: Any, r2: Any) -> None:
    def bare(uri: str) -> str:
        return _CREDENTIALS.sub("/api/***/***/", uri)

    if bare(r1.uri) != bare(r2.uri):
        raise AssertionError(f"{bare(r1.uri)} != {bare(r2.uri)}")


def form(r1: Any, r2: Any) -> None:
    def fields(request: Any) -> dict[str, list[str]]:
        body = request.body or b""
        return urllib.parse.parse_qs(body.decode() if isinstance(body, bytes) else body)

    if fields(r1) != fields(r2):
        raise AssertionError("the posted XML differs")


replay = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=["method", "scrubbed_uri", "form"],
)
replay.register_matcher("scrubbed_uri", scrubbed_uri)
replay.register_matcher("form", form)


@contextmanager
def session(name: str, code: str = "any-other-code") -> Iterator[DigitaleFactuurClient]:
    with replay.use_cassette(f"{name}.yaml") as cassette:
        with DigitaleFactuurClient("424242", code, rate_limit=None) as df:
            yield df
        assert cassette.all_played, f"{name}: fewer calls than recorded"


def test_relations_session() -> None:
    with session("relations") as df:
        debtor = df.create_relation(RELATION)
        creditor = df.create_relation(
            Relation(number="2001", name="Groothandel Smit", kind=RelationKind.CREDITOR)
        )
        listed = df.relations()
        df.update_relation(debtor.model_copy(update={"city": "Zeist"}))
        assert debtor.id and creditor.id
        read = df.relation(debtor.id)
        df.delete_relation(creditor.id)
    assert [r.number for r in listed] == ["1001", "2001"]
    assert read is not None and (read.name, read.city) == ('Bakkerij "De Zon" & Zn B.V.', "Zeist")


def test_invoices_session() -> None:
    with session("invoices") as df:
        [invoice] = df.invoices(status="openstaand")
        assert invoice.id
        df.record_payment(invoice.id, amount=Decimal("100.00"), date=dt.date(2026, 3, 10))
        partly = df.invoice(invoice.id)
        df.record_payment(invoice.id, date=dt.date(2026, 3, 20))
        paid = df.invoices(status="betaald")
        df.undo_payment(invoice.id)
    assert invoice.total == Decimal("242.00")
    assert partly is not None and partly.outstanding == Decimal("142.00")
    assert [i.payment_status for i in paid] == [PaymentStatus.PAID]


def test_bad_credentials_session() -> None:
    with session("bad_credentials") as df, pytest.raises(AuthenticationError) as caught:
        df.relations()
    assert caught.value.code == "401"


@pytest.mark.parametrize("path", sorted(CASSETTES.glob("*.yaml")), ids=lambda p: p.stem)
def test_cassettes_hold_no_credentials(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert DEMO_ACCESS_CODE not in text and "wrong-code" not in text and "127.0.0.1" not in text
    for interaction in yaml.safe_load(text)["interactions"]:
        assert interaction["request"]["uri"].startswith(
            "https://administratie.digitalefactuur.nl/api/***/***/"
        )
    assert f"/{DEMO_ACCOUNT_ID}/" not in text
