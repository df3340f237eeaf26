"""`EBoekhoudenMultiSandbox`: one e-Boekhouden for many accounts, and e-Boekhouden's control calls.

Each account is an `EBoekhoudenSandbox` of its own (its administrations,
sessions, faults and counters), found from each request's credentials:

* SOAP: ``OpenSession``/``OpenSessionSub`` by ``Username`` (case-insensitive,
  as the single-account sandbox compares it); every other call by the
  ``SessionID`` that login returned;
* REST: ``POST /v1/session`` by ``accessToken``; every other call by the
  session token in ``Authorization``.

With ``any_account=True``, an unknown username with well-formed security
codes opens a fresh account with empty books (that login's codes are the
account's from then on); so does an unknown well-formed access token, for a
REST-only account. An account listed with both a SOAP login and an access
token reaches the same books over both.

Well-formed (an assumption, wide enough for the demo credentials and the real
shapes: security code 1 is 32 hex digits, code 2 a GUID): a username of 1 to
64 characters without spaces or control characters; security codes of 8 to
64 letters, digits or ``-``; an access token of 8 to 512 characters of
``A-Za-z0-9._~+/=-``. Anything else is refused as an unknown login is
(``SECURITY_010`` in-band over SOAP, 401 ``SECURITY_010`` over REST).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._redact import mask_secret
from ..errors import ConfigurationError
from ._accounts import MultiAccountSandbox
from ._control import Args, Call, ControlApi, ControlError, Directory
from ._core import FaultKind, SandboxRequest, _Pipeline
from ._eboekhouden import (
    _ENV11,
    _ENV12,
    REST_PREFIX,
    SOAP_PATH,
    EBoekhoudenCredentials,
    EBoekhoudenSandbox,
    _parse_xml,
    _requests_adapter,
    _SoapFault,
    _string,
    operation_prefix,
)
from ._eboekhouden_data import OPEN_ITEM_KINDS, AdministrationRecord, MutationRecord
from ._eboekhouden_rest import _bearer

if TYPE_CHECKING:
    import requests

__all__ = ["EBoekhoudenControl", "EBoekhoudenMultiSandbox", "well_formed_login"]

_USERNAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")
_CODE = re.compile(r"[A-Za-z0-9-]{8,64}")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{8,512}")
_MAX_SESSION_INDEX = 100_000


def well_formed_login(username: str, security_code_1: str, security_code_2: str) -> bool:
    """Whether ``--any-account`` opens books for this SOAP login (see the module docstring)."""
    return bool(
        _USERNAME.fullmatch(username)
        and _CODE.fullmatch(security_code_1)
        and _CODE.fullmatch(security_code_2)
    )


def _well_formed_token(token: str) -> bool:
    return bool(_TOKEN.fullmatch(token))


class EBoekhoudenMultiSandbox(MultiAccountSandbox[EBoekhoudenSandbox]):
    """One e-Boekhouden sandbox (SOAP and REST) for many accounts, each with its own books.

    A wrong security code or a wrong session for a known account is refused
    as by `EBoekhoudenSandbox`; so are unknown logins and tokens, unless
    ``any_account`` is on and they are well-formed.

    Args:
        accounts: The accounts to open now: each its SOAP login and/or REST
            access token (an empty ``username`` for a REST-only account).
        any_account: Open fresh, empty books for any well-formed login or token.
        latency: Seconds added to every answer (the whole process).
        rate_limit: Requests per second **per account** before 429; none when ``None``.
        error_rate: Share (0..1) of all requests that get a random fault.
        session_ttl: Idle seconds before a session expires (every account); never when ``None``.
        reject_duplicate_invoices: Every account refuses a second booking of an
            invoice (``MUT_020``).
        clock: Monotonic clock in seconds (session expiry in tests).

    Attributes:
        faults: The process's faults (latency, random errors, one-shot faults
            of any account); each account's are ``account(name).faults``.
        stats: Counters of all requests; each account's are ``account(name).stats``.

    Example:
        ```python
        sandbox = EBoekhoudenMultiSandbox(any_account=True, rate_limit=10)
        with sandbox.serve() as url:
            ...  # every username (or access token) gets its own administration
        sandbox.account("tenant-07").pay("F2026-001", "121.00")
        ```
    """

    def __init__(
        self,
        accounts: Iterable[EBoekhoudenCredentials] = (),
        *,
        any_account: bool = False,
        latency: float = 0.0,
        rate_limit: float | None = None,
        error_rate: float = 0.0,
        session_ttl: float | None = None,
        reject_duplicate_invoices: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._options: dict[str, Any] = {
            "session_ttl": session_ttl,
            "reject_duplicate_invoices": reject_duplicate_invoices,
            "clock": clock,
        }
        super().__init__(
            EBoekhoudenSandbox(_unknowable(), **self._options),
            any_account=any_account, latency=latency, rate_limit=rate_limit,
            error_rate=error_rate,
        )  # fmt: skip
        self._tokens: dict[str, str] = {}  # access token → account key
        self._session_index: dict[str, str] = {}  # session id → account key
        for credentials in accounts:
            self.add_account(credentials)

    def add_account(
        self,
        credentials: EBoekhoudenCredentials,
        *,
        administrations: Iterable[AdministrationRecord] | None = None,
    ) -> EBoekhoudenSandbox:
        """Open an account with empty books; returns its sandbox.

        Args:
            credentials: Its SOAP login and/or access token; an empty
                ``username`` makes a REST-only account.
            administrations: Its administrations (`DEMO_ADMINISTRATION` when omitted).

        Raises:
            ValueError: The username or the token belongs to an account already,
                or neither a login nor a token is given.
        """
        token = credentials.access_token or None
        if not credentials.username and token is None:
            raise ValueError("give a SOAP login or an access token")
        if credentials.username:
            key = "u:" + credentials.username.strip().casefold()
            login = credentials
        else:  # REST-only: a SOAP login nobody can know
            key = "t:" + secrets.token_hex(8)
            login = EBoekhoudenCredentials(*_unknowable_login(), access_token=token)
        with self._lock:
            if token is not None and token in self._tokens:
                raise ValueError("this access token belongs to an account already")
            sandbox = EBoekhoudenSandbox(login, administrations=administrations, **self._options)
            self._register(key, sandbox)
            if token is not None:
                self._tokens[token] = key
            return sandbox

    def account(self, key: str) -> EBoekhoudenSandbox:
        """The sandbox (books, sessions, faults, counters) of one account.

        Args:
            key: Its username, or its access token.

        Raises:
            KeyError: No such account.
        """
        found = self.find(key)
        if found is None:
            raise KeyError("no such account")
        return found

    def find(self, key: str) -> EBoekhoudenSandbox | None:
        """The account with this username or access token, or ``None``."""
        with self._lock:
            by_token = self._tokens.get(key)
            return self._accounts.get(by_token or "u:" + key.strip().casefold())

    def fail_next(
        self, count: int = 1, kind: FaultKind = "500", operation: str | None = None
    ) -> None:
        """Queue faults for the next ``count`` calls of any account (of one operation, if given).

        ``operation`` as for `EBoekhoudenSandbox.fail_next`; one account's:
        ``sandbox.account(name).fail_next(...)``.

        Raises:
            ValueError: For an unknown operation, a count below 1 or an unknown kind.
        """
        self.faults.fail_next(count, kind, path_prefix=operation_prefix(operation))

    def expire_sessions(self) -> int:
        """End every open session of every account; returns how many."""
        return sum(sandbox.expire_sessions() for sandbox in self.accounts)

    def requests_session(self) -> requests.Session:
        """A `requests.Session` answered in-process by every account (for zeep's Transport).

        Raises:
            ConfigurationError: ``requests`` is not installed.
        """
        try:
            import requests
        except ImportError:
            missing = True
        else:
            missing = False
        if missing:
            raise ConfigurationError(
                "EBoekhoudenMultiSandbox.requests_session() needs requests: "
                "pip install 'crmconnect[eboekhouden]' (the SOAP extra brings it)"
            )
        session = requests.Session()
        adapter = _requests_adapter(_Pipeline(self, self.faults, self.stats))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _label(self, sandbox: EBoekhoudenSandbox) -> str:
        username = sandbox.credentials.username
        with self._lock:
            soap = self._accounts.get("u:" + username.strip().casefold()) is sandbox
        return mask_secret(username if soap else sandbox.credentials.access_token)

    def _control(self) -> ControlApi[Any]:
        return EBoekhoudenControl(self, multi=self)

    # --- finding a request's account ---------------------------------------------------

    def _route(self, request: SandboxRequest) -> EBoekhoudenSandbox | None:
        if request.path.startswith(REST_PREFIX):
            if request.path.rstrip("/") == "/v1/session" and request.method == "POST":
                return self._by_token(_json_text(request.body, "accessToken"))
            return self._by_session(_bearer(request))
        if request.method == "POST" and request.path.lower() == SOAP_PATH:
            return self._route_soap(request)
        return None

    def _route_soap(self, request: SandboxRequest) -> EBoekhoudenSandbox | None:
        try:
            root = _parse_xml(request.body)
        except _SoapFault:
            return None  # the fallback answers the fault
        bodies = [n for n in root.children if n.tag in (f"{{{_ENV11}}}Body", f"{{{_ENV12}}}Body")]
        call = bodies[0].children[0] if bodies and bodies[0].children else None
        session = _string(call, "SessionID")
        if session:
            return self._by_session(session)
        username = _string(call, "Username")
        if not username:
            return None
        codes = (_string(call, "SecurityCode1") or "", _string(call, "SecurityCode2") or "")
        return self._by_login(username.strip(), *codes)

    def _by_login(self, username: str, code_1: str, code_2: str) -> EBoekhoudenSandbox | None:
        with self._lock:
            found = self._accounts.get("u:" + username.casefold())
            if found is not None or not self.any_account:
                return found
            if not well_formed_login(username, code_1, code_2):
                return None  # the fallback refuses it: SECURITY_010
            return self.add_account(EBoekhoudenCredentials(username, code_1, code_2))

    def _by_token(self, token: str | None) -> EBoekhoudenSandbox | None:
        if not token:
            return None
        with self._lock:
            key = self._tokens.get(token)
            if key is not None:
                return self._accounts[key]
            if not self.any_account or not _well_formed_token(token):
                return None
            return self.add_account(EBoekhoudenCredentials("", "", "", token))

    def _by_session(self, session_id: str) -> EBoekhoudenSandbox | None:
        """The account that opened a session: indexed when first seen (a scan of the accounts)."""
        if not session_id:
            return None
        with self._lock:
            key = self._session_index.get(session_id)
            if key is not None:
                return self._accounts[key]
            accounts = list(self._accounts.items())
        for key, sandbox in accounts:
            if sandbox._holds_session(session_id):
                with self._lock:
                    if len(self._session_index) >= _MAX_SESSION_INDEX:
                        self._session_index.clear()  # closed and expired ones pile up
                    self._session_index[session_id] = key
                return sandbox
        return None


def _unknowable_login() -> tuple[str, str, str]:
    return secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16)


def _unknowable() -> EBoekhoudenCredentials:
    return EBoekhoudenCredentials(*_unknowable_login())


def _json_text(body: bytes, name: str) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


class EBoekhoudenControl(ControlApi[EBoekhoudenSandbox]):
    """The control calls of a served e-Boekhouden sandbox (one account or many).

    Besides faults and counters: ``pay``, ``add_relation``, ``relations``,
    ``open_items``, ``expire_sessions`` and, with many accounts, ``add_account``.
    An account is named by its username or its access token.
    """

    def __init__(
        self,
        directory: Directory[EBoekhoudenSandbox],
        *,
        multi: EBoekhoudenMultiSandbox | None = None,
    ) -> None:
        super().__init__(directory, "eboekhouden")
        self._multi = multi

    def calls(self) -> dict[str, Call]:
        found = super().calls() | {
            "pay": self._pay,
            "add_relation": self._add_relation,
            "relations": self._relations,
            "open_items": self._open_items,
            "expire_sessions": self._expire_sessions,
        }
        if self._multi is not None:
            found["add_account"] = self._add_account
        return found

    def _pay(self, args: Args) -> dict[str, Any]:
        sandbox = self.account(args)
        number = args.text("invoice_number", required=True) or ""
        relation = args.text("relation_code")
        guid = args.text("administration")
        amount = args.amount("amount")
        if amount is None:  # in full: what is outstanding
            items = [
                item
                for kind in OPEN_ITEM_KINDS
                for item in sandbox.open_items(kind, include_settled=True, guid=guid)
                if item.invoice_number.casefold() == number.casefold()
                and (relation is None or item.relation_code.casefold() == relation.casefold())
            ]
            if not items:
                raise ControlError(404, "no invoice has this number", "invoice_number")
            if len(items) > 1:
                raise ControlError(409, "several invoices: give relation_code", "relation_code")
            if not items[0].outstanding:
                raise ControlError(409, "nothing is outstanding on this invoice", "amount")
            amount = items[0].outstanding
        paid = sandbox.pay(number, amount, args.date("date"), relation, guid=guid)
        return _mutation_json(paid)

    def _add_relation(self, args: Args) -> dict[str, Any]:
        sandbox = self.account(args)
        code = args.text("code", required=True) or ""
        company = args.text("company", required=True) or ""
        values = args.mapping("values")
        relation = sandbox.add_relation(code, company, guid=args.text("administration"), **values)
        return {"id": relation.id, "code": relation.code, **relation.values}

    def _relations(self, args: Args) -> list[dict[str, Any]]:
        books = self.account(args).books(args.text("administration"))
        return [{"id": r.id, "code": r.code, **r.values} for r in books.relations]

    def _open_items(self, args: Args) -> list[dict[str, Any]]:
        sandbox = self.account(args)
        kind = args.text("kind") or "Debiteuren"
        if kind not in OPEN_ITEM_KINDS:
            raise ControlError(400, f"kind must be one of {list(OPEN_ITEM_KINDS)}", "kind")
        items = sandbox.open_items(
            kind,
            include_settled=bool(args.raw("include_settled")),
            guid=args.text("administration"),
        )
        return [
            {
                "invoice_number": item.invoice_number,
                "relation_code": item.relation_code,
                "date": item.date.isoformat(),
                "amount": str(item.amount),
                "paid": str(item.paid),
                "outstanding": str(item.outstanding),
                "state": item.state,
            }
            for item in items
        ]

    def _expire_sessions(self, args: Args) -> dict[str, int]:
        if args.has("account") or self._multi is None:
            return {"expired": self.account(args).expire_sessions()}
        return {"expired": self._multi.expire_sessions()}

    def _add_account(self, args: Args) -> dict[str, str]:
        assert self._multi is not None
        credentials = EBoekhoudenCredentials(
            args.text("username") or "",
            args.text("security_code_1") or "",
            args.text("security_code_2") or "",
            args.text("access_token"),
        )
        if credentials.username and not all(
            (credentials.security_code_1, credentials.security_code_2)
        ):
            raise ControlError(400, "a username needs both security codes", "security_code_1")
        try:
            added = self._multi.add_account(credentials)
        except ValueError as refused:
            raise ControlError(409, str(refused), "username") from None
        return {"account": self._multi._label(added)}


def _mutation_json(mutation: MutationRecord) -> dict[str, Any]:
    return {
        "number": mutation.number,
        "kind": mutation.kind,
        "date": mutation.date.isoformat() if mutation.date else None,
        "invoice_number": mutation.invoice_number,
        "relation_code": mutation.relation_code,
        "amount": str(mutation.total_incl),
    }
