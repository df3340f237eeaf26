"""Record the e-Boekhouden cassettes in ``cassettes/eboekhouden/`` (vcrpy): SOAP and REST.

SOAP cassettes go to ``cassettes/eboekhouden/``, REST cassettes (the same
sessions through `EBoekhoudenRestClient`) to ``cassettes/eboekhouden/rest/``.

By default the answers come from the e-Boekhouden sandbox served on loopback,
whose address is rewritten to e-Boekhouden's (``https://soap.e-boekhouden.nl``)
so that the cassettes replay for a client with its default URL. With
``--real`` they come from the real service (needs network), with the login
from ``CRMCONNECT_EBOEKHOUDEN_USERNAME``, ``..._SECURITY_CODE_1`` and
``..._SECURITY_CODE_2`` (never printed). Recording against the real service
WRITES a relation and invoices: use a test administration. The sandbox registers
payments between calls (``payment_status``) and expires the session
(``session_expired``); the real service cannot, so those sessions are shorter
there and ``tests/test_eboekhouden_cassettes.py`` expects the sandbox recordings.

Secrets are scrubbed BEFORE anything is written (``before_record_request`` /
``before_record_response``), in the SOAP bodies as well as in the headers:

* ``SecurityCode1``, ``SecurityCode2`` and ``Username`` (personal data) become ``***``;
* ``SessionID`` becomes `SESSION_PLACEHOLDER`, in requests and in answers (OpenSession's
  result carries it). Every session in a cassette thus has the same fake ID, which
  still replays: the replaying client sends whatever ID the cassette's OpenSession
  gave, and the tests match requests on method, URI and ``SOAPAction``, never on body;
* ``Host``, ``Cookie``, ``Set-Cookie`` and ``Authorization`` headers are dropped
  (ASP.NET may set a session cookie), and ``Content-Length`` is recomputed;
* the loopback origin becomes ``https://soap.e-boekhouden.nl``.

Then every cassette is checked for the literal secret values used (both security
codes, also the deliberately wrong ones, each session ID the service handed out,
raw and XML-escaped) and for the loopback address; a hit deletes the cassette and
stops the script.

REST secrets are scrubbed the same way: the ``Authorization`` header is
dropped, ``accessToken`` in the session request becomes ``***`` and the session
``token`` in its answer becomes `REST_TOKEN_PLACEHOLDER`; ``--real`` takes the
token from ``CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN``.

    .venv/bin/python scripts/record_eboekhouden_cassettes.py [--real] [--backend soap|rest|both]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import vcr

from crmconnect import AuthenticationError
from crmconnect.eboekhouden import BooksClient, EBoekhoudenClient, Relation
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.models import Invoice, InvoiceKind, InvoiceLine, VatCategory
from crmconnect.sandbox import DEMO_ACCESS_TOKEN, DEMO_VAT_TABLE, EBoekhoudenSandbox

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes" / "eboekhouden"
REST_CASSETTES = CASSETTES / "rest"
ORIGIN = "https://soap.e-boekhouden.nl"
REST_ORIGIN = "https://api.e-boekhouden.nl"
REST_TOKEN_PLACEHOLDER = "SCRUBBED-SESSION-TOKEN"
"""The fake REST session token in every cassette (also imported by the tests)."""
WRONG_TOKEN = "wrong-access-token-do-not-record"
SOAP_PATH = "/soap.asmx"

DEMO = ("demo", "sandbox-code-1", "sandbox-code-2")
WRONG_CODES = ("wrong-code-1-do-not-record", "wrong-code-2-do-not-record")

PLACEHOLDER = "***"
SESSION_PLACEHOLDER = "SCRUBBED-SESSION-ID"
"""The fake session ID in every cassette (also imported by the tests)."""

SECRET_ELEMENTS = ("SecurityCode1", "SecurityCode2", "Username")
REQUEST_HEADERS_DROPPED = ("host", "cookie", "authorization")
RESPONSE_HEADERS_DROPPED = ("set-cookie", "authorization", "www-authenticate")

# Why a regular expression on the XML text is safe here:
# * the elements are xs:string leaves in the WSDL (no child elements), so their
#   whole value is the text between the start and the end tag;
# * XML text never holds a raw "<" (lxml, zeep's serialiser, and ASP.NET's
#   XmlSerializer escape it as "&lt;"), and neither side writes CDATA sections or
#   comments, so "[^<]*" is exactly the value;
# * the name is matched whole, with any namespace prefix ("ns0:" from zeep, none
#   from ASP.NET) and any attributes, so SecurityCode1 never matches a longer name;
#   a self-closing (empty) element has no value and is left alone;
# * and a backstop (`check`) searches every cassette for the literal secrets
#   afterwards, so a form the pattern missed stops the script instead of leaking.
_ELEMENT = r"(<(?:[\w.-]+:)?{name}(?:\s[^<>]*)?(?<!/)>)[^<]*(</(?:[\w.-]+:)?{name}\s*>)"
SECRETS_RE = re.compile(_ELEMENT.format(name="(?:" + "|".join(SECRET_ELEMENTS) + ")"))
SESSION_RE = re.compile(_ELEMENT.format(name="SessionID"))
_SESSION_VALUE_RE = re.compile(r"<(?:[\w.-]+:)?SessionID(?:\s[^<>]*)?(?<!/)>([^<]*)<")

TABLE = DEMO_VAT_TABLE

RELATION = Relation(
    code="CRMC-1001",
    company="Bakkerij Jansen & Zn B.V.",
    address="Oudegracht 1",
    postcode="3511 AA",
    city="Utrecht",
    email="administratie@bakkerij-jansen.example",
    iban="NL91ABNA0417164300",
    added=dt.datetime(2026, 3, 1),
)


def invoice(number: str) -> Invoice:
    """A sales invoice with two VAT rates: 2 x 100.00 at 21 % and 10.00 at 9 %."""
    return Invoice(
        number=number,
        relation_code="CRMC-1001",
        date=dt.date(2026, 3, 1),
        due_date=dt.date(2026, 3, 31),
        kind=InvoiceKind.SALES,
        lines=[
            InvoiceLine(
                description="Advies",
                quantity=Decimal("2"),
                unit_price=Decimal("100.00"),
                vat_category=VatCategory.NL_HIGH,
            ),
            InvoiceLine(
                description="Boek",
                quantity=Decimal("1"),
                unit_price=Decimal("10.00"),
                vat_category=VatCategory.NL_LOW,
            ),
        ],
    )


# -- scrubbing ------------------------------------------------------------------------


def scrub_xml(text: str) -> str:
    """Security codes and username to ``***``, session IDs to the fixed fake one."""
    text = SECRETS_RE.sub(lambda m: m.group(1) + PLACEHOLDER + m.group(2), text)
    return SESSION_RE.sub(lambda m: m.group(1) + SESSION_PLACEHOLDER + m.group(2), text)


def _set_length(headers: dict[str, Any], body: bytes, *, listed: bool) -> None:
    for name in list(headers):
        if name.lower() == "content-length":
            headers[name] = [str(len(body))] if listed else str(len(body))


class _Recorder:
    """A vcr that scrubs request and response bodies before anything is written."""

    folder = CASSETTES
    target = ORIGIN

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.found: set[str] = set()
        """The secrets handed out during the session (session IDs, tokens), for `check`."""

    def _scrub(self, text: str, *, request: bool) -> str:
        raise NotImplementedError

    def _body(self, body: bytes | str | None, *, request: bool) -> bytes | None:
        if not body:
            return None
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return self._scrub(text, request=request).replace(self.origin, self.target).encode("utf-8")

    def request(self, request: Any) -> Any:
        request.uri = request.uri.replace(self.origin, self.target)
        body = self._body(request.body, request=True)
        if body is not None:
            request.body = body
            _set_length(request.headers, body, listed=False)
        return request

    def response(self, answer: dict[str, Any]) -> dict[str, Any]:
        headers = answer.get("headers", {})
        for name in list(headers):
            if name.lower() in RESPONSE_HEADERS_DROPPED:
                del headers[name]
        body = self._body(answer["body"]["string"], request=False)
        if body is not None:
            answer["body"]["string"] = body
            _set_length(headers, body, listed=True)
        return answer

    def vcr(self) -> vcr.VCR:
        return vcr.VCR(
            cassette_library_dir=str(self.folder),
            record_mode="all",
            filter_headers=list(REQUEST_HEADERS_DROPPED),
            before_record_request=self.request,
            before_record_response=self.response,
            decode_compressed_response=True,
        )


class Recorder(_Recorder):
    """SOAP: codes and username to ``***``, session IDs to the fake one."""

    def _scrub(self, text: str, *, request: bool) -> str:
        self.found.update(
            v for v in _SESSION_VALUE_RE.findall(text) if v and v != SESSION_PLACEHOLDER
        )
        return scrub_xml(text)


class RestRecorder(_Recorder):
    """REST: ``accessToken`` to ``***``, the session ``token`` to the fake one."""

    folder = REST_CASSETTES
    target = REST_ORIGIN

    def _scrub(self, text: str, *, request: bool) -> str:
        data = json.loads(text)
        if isinstance(data, dict):
            if request and "accessToken" in data:
                data["accessToken"] = PLACEHOLDER
            if not request and "token" in data:
                self.found.add(str(data["token"]))
                data["token"] = REST_TOKEN_PLACEHOLDER
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def check(path: Path, secrets: set[str]) -> None:
    """Delete the cassette and stop when a secret (or the loopback address) is in it."""
    text = path.read_text(encoding="utf-8")
    forms = {form for s in secrets if s for form in (s, escape(s))}
    leaked = [form for form in forms if form in text]
    if leaked or "127.0.0.1" in text or "localhost" in text:
        path.unlink()
        # Never print the secret itself: only that something leaked.
        raise SystemExit(f"{path.name}: scrubbing missed a secret or the loopback address")


# -- the sessions -----------------------------------------------------------------------

Session = Callable[[BooksClient, EBoekhoudenSandbox | None], None]
Place = AbstractContextManager[tuple[str, EBoekhoudenSandbox | None]]


def relations(books: BooksClient, sandbox: EBoekhoudenSandbox | None) -> None:
    """Upsert a new relation, read it back, update it, read it again, miss one."""
    books.upsert_relation(RELATION)
    books.relation_by_code("CRMC-1001")
    books.upsert_relation(RELATION.model_copy(update={"city": "Zeist"}))
    books.relation_by_code("CRMC-1001")
    books.relation_by_code("CRMC-9999")


def book_invoice(books: BooksClient, sandbox: EBoekhoudenSandbox | None) -> None:
    """Book a sales invoice with two VAT rates (with its relation), again, and read it."""
    books.book_invoice(invoice("CRMC-F2026-001"), TABLE, relation=RELATION)
    books.book_invoice(invoice("CRMC-F2026-001"), TABLE, relation=RELATION)
    books.mutations(invoice_number="CRMC-F2026-001")


def payment_status(books: BooksClient, sandbox: EBoekhoudenSandbox | None) -> None:
    """Book, then open -> partly paid -> paid as the sandbox registers payments."""
    books.book_invoice(invoice("CRMC-F2026-010"), TABLE, relation=RELATION)
    books.payment_status(["CRMC-F2026-010"])
    if sandbox is None:
        return  # the real service learns of payments from a bank import
    sandbox.pay("CRMC-F2026-010", Decimal("100.00"), dt.date(2026, 3, 10))
    books.payment_status(["CRMC-F2026-010"])
    sandbox.pay("CRMC-F2026-010", Decimal("152.90"), dt.date(2026, 3, 20))
    books.payment_status(["CRMC-F2026-010", "CRMC-NOPE"])


def session_expired(books: BooksClient, sandbox: EBoekhoudenSandbox | None) -> None:
    """A read, the session expires, the next read reopens it once."""
    books.ledgers(category="DEB")
    if sandbox is not None:
        sandbox.expire_sessions()
    books.ledgers(category="DEB")


SESSIONS: dict[str, Session] = {
    "relations": relations,
    "book_invoice": book_invoice,
    "payment_status": payment_status,
    "session_expired": session_expired,
}


# -- recording --------------------------------------------------------------------------


Client = Callable[[str], BooksClient]
"""Opens the client of one backend on an origin."""


def record_session(
    name: str,
    recorder: _Recorder,
    client: Client,
    session: Session,
    secrets: set[str],
    sandbox: EBoekhoudenSandbox | None = None,
) -> None:
    """Record one client session (the client opens and closes it) into ``<name>.yaml``."""
    path = recorder.folder / f"{name}.yaml"
    path.unlink(missing_ok=True)
    with recorder.vcr().use_cassette(path.name):
        with client(recorder.origin) as books:
            session(books, sandbox)
    check(path, secrets | recorder.found)
    print(f"recorded {path.relative_to(CASSETTES.parents[1])}")


def bad_credentials(books: BooksClient, sandbox: EBoekhoudenSandbox | None) -> None:
    """Wrong security codes: OpenSession answers an in-band authentication error."""
    with suppress(AuthenticationError):  # the in-band error is the point
        books.ledgers()


def record_all(backend: str, login: tuple[str, ...], place: Callable[[], Place]) -> None:
    """Every session over one backend, each against a fresh sandbox (or the real service).

    ``login``: username and both codes for SOAP, the access token for REST.
    """
    rest = backend == "rest"
    wrong = (WRONG_TOKEN,) if rest else (login[0], *WRONG_CODES)
    secrets = {*login[1:], *WRONG_CODES} if not rest else {*login, WRONG_TOKEN}

    def opener(credentials: tuple[str, ...]) -> Client:
        if rest:
            return lambda origin: EBoekhoudenRestClient(
                credentials[0], base_url=origin, max_retries=0
            )
        return lambda origin: EBoekhoudenClient(
            *credentials, base_url=origin + SOAP_PATH, max_retries=0
        )

    recorder: type[_Recorder] = RestRecorder if rest else Recorder
    for name, session in SESSIONS.items():
        with place() as (url, sandbox):
            record_session(name, recorder(url), opener(login), session, secrets, sandbox)
    with place() as (url, _):
        record_session("bad_credentials", recorder(url), opener(wrong), bad_credentials, secrets)


@contextmanager
def served() -> Iterator[tuple[str, EBoekhoudenSandbox | None]]:
    """A fresh sandbox on loopback: its root URL and the sandbox."""
    sandbox = EBoekhoudenSandbox()
    with sandbox.serve() as url:
        yield url, sandbox


def real() -> Place:
    """The real service: no sandbox to register payments or expire sessions."""
    return nullcontext((ORIGIN, None))


def real_rest() -> Place:
    """The real REST API."""
    return nullcontext((REST_ORIGIN, None))


def real_token() -> str:
    token = os.environ.get("CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN", "")
    if not token:
        raise SystemExit("--real needs CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN")
    return token


def real_login() -> tuple[str, str, str]:
    names = ("USERNAME", "SECURITY_CODE_1", "SECURITY_CODE_2")
    values = [os.environ.get(f"CRMCONNECT_EBOEKHOUDEN_{name}", "") for name in names]
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise SystemExit("--real needs CRMCONNECT_EBOEKHOUDEN_" + ", _".join(missing))
    return values[0], values[1], values[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--real", action="store_true", help="record e-Boekhouden's real service (writes data!)"
    )
    parser.add_argument("--backend", choices=["soap", "rest", "both"], default="both")
    args = parser.parse_args()
    REST_CASSETTES.mkdir(parents=True, exist_ok=True)
    if args.backend in ("soap", "both"):
        record_all("soap", real_login() if args.real else DEMO, real if args.real else served)
    if args.backend in ("rest", "both"):
        token = real_token() if args.real else DEMO_ACCESS_TOKEN
        record_all("rest", (token,), real_rest if args.real else served)


if __name__ == "__main__":
    main()
