"""Record the DigitaleFactuur cassettes in ``cassettes/digitalefactuur/`` (vcrpy).

The answers come from the DigitaleFactuur sandbox served on loopback (or, with
``--real``, from DigitaleFactuur itself, with ``CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID``
and ``..._ACCESS_CODE``; that WRITES relations: use a test account). Both
credentials sit in the URL path, so every URI is rewritten to
``https://administratie.digitalefactuur.nl/api/***/***/<action>`` before anything
is written; then each cassette is searched for the literal secrets and the
loopback address, and a hit deletes it and stops the script.

    .venv/bin/python scripts/record_digitalefactuur_cassettes.py [--real]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import vcr

from crmconnect import AuthenticationError
from crmconnect.digitalefactuur import DEFAULT_URL, DigitaleFactuurClient, Relation, RelationKind
from crmconnect.sandbox import DEMO_ACCESS_CODE, DEMO_ACCOUNT_ID, DigitaleFactuurSandbox

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes" / "digitalefactuur"
SCRUBBED = f"{DEFAULT_URL}/***/***/"
_CREDENTIALS = re.compile(r"^.*?/api/[^/]+/[^/]+/")

RELATION = Relation(
    number="1001",
    name='Bakkerij "De Zon" & Zn B.V.',
    contact_name="Jan Jansen",
    email="administratie@bakkerij-dezon.example",
    address="Oudegracht 1",
    postcode="3511 AA",
    city="Utrecht",
    iban="NL91ABNA0417164300",
)


def scrub_uri(uri: str) -> str:
    """Origin and both credential segments → ``https://…/api/***/***/``."""
    return _CREDENTIALS.sub(SCRUBBED, uri)


def recorder() -> vcr.VCR:
    def request(request: Any) -> Any:
        request.uri = scrub_uri(request.uri)
        return request

    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all",
        filter_headers=["host", "cookie", "authorization"],
        before_record_request=request,
        decode_compressed_response=True,
    )


def relations(df: DigitaleFactuurClient, sandbox: DigitaleFactuurSandbox | None) -> None:
    """Create a debtor and a creditor, list, update, read, delete."""
    debtor = df.create_relation(RELATION)
    creditor = df.create_relation(
        Relation(number="2001", name="Groothandel Smit", kind=RelationKind.CREDITOR)
    )
    df.relations()
    df.update_relation(debtor.model_copy(update={"city": "Zeist"}))
    assert debtor.id and creditor.id
    df.relation(debtor.id)
    df.delete_relation(creditor.id)


def invoices(df: DigitaleFactuurClient, sandbox: DigitaleFactuurSandbox | None) -> None:
    """Open invoices, a part payment, the full payment, an undo."""
    if sandbox is not None:  # the real account needs an invoice made in its screens
        relation = sandbox.add_relation(naam="Bakkerij De Zon")
        sandbox.add_invoice(
            relation["id"], "F2026-001", [("Advies", 2, "100.00", "0.21")], date=dt.date(2026, 3, 1)
        )
    [invoice] = df.invoices(status="openstaand")
    assert invoice.id
    df.record_payment(invoice.id, amount=Decimal("100.00"), date=dt.date(2026, 3, 10))
    df.invoice(invoice.id)
    df.record_payment(invoice.id, date=dt.date(2026, 3, 20))
    df.invoices(status="betaald")
    df.undo_payment(invoice.id)


def bad_credentials(df: DigitaleFactuurClient, sandbox: DigitaleFactuurSandbox | None) -> None:
    with contextlib.suppress(AuthenticationError):
        df.relations()


Session = Callable[[DigitaleFactuurClient, DigitaleFactuurSandbox | None], None]
SESSIONS: dict[str, tuple[Session, bool]] = {
    "relations": (relations, True),
    "invoices": (invoices, True),
    "bad_credentials": (bad_credentials, False),
}


def record(name: str, session: Session, account: str, code: str, real: bool) -> None:
    path = CASSETTES / f"{name}.yaml"
    path.unlink(missing_ok=True)
    sandbox = None if real else DigitaleFactuurSandbox(DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE)
    with contextlib.ExitStack() as stack:
        base = None if sandbox is None else stack.enter_context(sandbox.serve()) + "/api"
        stack.enter_context(recorder().use_cassette(path.name))
        with DigitaleFactuurClient(account, code, base_url=base, max_retries=0) as df:
            session(df, sandbox)
    text = path.read_text(encoding="utf-8")
    if account in text or code in text or "127.0.0.1" in text:
        path.unlink()
        raise SystemExit(f"{path.name}: scrubbing missed a secret or the loopback address")
    print(f"recorded {path.relative_to(CASSETTES.parents[1])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="record DigitaleFactuur itself")
    args = parser.parse_args()
    CASSETTES.mkdir(parents=True, exist_ok=True)
    account, code = DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE
    if args.real:
        account = os.environ.get("CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID", "")
        code = os.environ.get("CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE", "")
        if not account or not code:
            raise SystemExit("--real needs CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID and _ACCESS_CODE")
    for name, (session, good_login) in SESSIONS.items():
        record(
            name, session, account, code if good_login else "wrong-code-do-not-record", args.real
        )


if __name__ == "__main__":
    main()
