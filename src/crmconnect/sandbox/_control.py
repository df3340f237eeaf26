"""The control endpoint of a served sandbox (``/_control/<call>``, JSON) and its Python client.

A sandbox served with `serve` answers, besides its service's paths, a small
JSON API under ``/_control/`` so that tests and demos in *other* processes can
do what in-process code does with the sandbox object: inject or clear faults,
read and reset the counters, and (per service) register a payment or edit a
relation. `SandboxControl` is the client for it.

Safety:

* only clients on loopback are answered (the socket's peer address is
  checked, whatever address the server is bound to), and only when the
  ``Host`` header names a loopback host too (so a web page cannot reach it by
  DNS rebinding); ``POST`` bodies must be ``application/json`` (a browser
  cannot send that cross-origin without a preflight, which is refused);
* it exists on the loopback server only: the in-process transports
  (`SandboxTransport`, ``requests_session``) pass ``/_control/`` to the
  sandbox like any unknown path;
* no faults apply to it and it is not counted;
* it shows no secret: accounts appear masked (``"***"`` or their first four
  characters), and are named in requests, never in answers.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Protocol, TypeVar, get_args

import attrs
import httpx

from .._redact import mask_secret
from ..errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    ConnectError,
    NotFoundError,
    RemoteValidationError,
    TransportError,
)
from ._core import (
    CONTROL_PATH,
    FaultKind,
    Faults,
    SandboxRequest,
    SandboxResponse,
    SandboxStats,
    is_control_path,
    is_loopback,
)

__all__ = [
    "CONTROL_PATH",
    "ControlApi",
    "ControlError",
    "Directory",
    "OneAccount",
    "SandboxControl",
    "Scope",
    "is_loopback_peer",
]

_SERVICE = "sandbox-control"


class ControlError(Exception):
    """A control call refused: its HTTP status, text and (for bad arguments) the field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


class Scope(Protocol):
    """What faults and counters act on: a whole sandbox process, or one account of it."""

    @property
    def faults(self) -> Faults:
        """Latency, rate limit, one-shot and random faults."""
        ...

    @property
    def stats(self) -> SandboxStats:
        """The counters."""
        ...

    def fail_next(self, count: int, kind: FaultKind, operation: str | None, /) -> None:
        """Queue one-shot faults (of one operation or action, when named)."""
        ...


S = TypeVar("S", bound=Scope)


class Directory(Protocol[S]):
    """How a control finds the accounts of a sandbox (one, or many)."""

    @property
    def many(self) -> bool:
        """Whether the sandbox serves many accounts (the process is then not an account)."""
        ...

    def process(self) -> Scope:
        """The whole process: faults before any account's, counters of all requests."""
        ...

    def find(self, key: str) -> S | None:
        """The account with this key (account id, username or token), if any."""
        ...

    def listing(self) -> list[tuple[str, S]]:
        """Every account with its masked label, in the order they were opened."""
        ...

    def set_rate_limit(self, value: float | None) -> None:
        """Set the rate limit where the service limits: per account, new ones included."""
        ...


@attrs.frozen
class _PlainScope:
    """A sandbox without accounts (KvK, VIES): one-shot faults by path prefix."""

    faults: Faults
    stats: SandboxStats

    def fail_next(self, count: int, kind: FaultKind, operation: str | None, /) -> None:
        self.faults.fail_next(count, kind, path_prefix=operation)


class OneAccount(Generic[S]):
    """A single-account sandbox as a `Directory`: the process is its one account.

    Args:
        sandbox: The sandbox.
        key: Its account key, compared to a call's ``account`` (when given).
        aliases: Other keys that name it (e-Boekhouden's access token).
        fold: Compare ``key`` case-insensitively (e-Boekhouden's usernames).
    """

    many = False

    def __init__(
        self, sandbox: S, key: str, *, aliases: Iterable[str | None] = (), fold: bool = False
    ) -> None:
        self.sandbox = sandbox
        self._key = key
        self._aliases = [alias for alias in aliases if alias]
        self._fold = fold

    def process(self) -> Scope:
        return self.sandbox

    def find(self, key: str) -> S | None:
        mine, given = (self._key, key) if not self._fold else (self._key.casefold(), key.casefold())
        found = hmac.compare_digest(mine.encode(), given.encode())
        for alias in self._aliases:
            found |= hmac.compare_digest(alias.encode(), key.encode())
        return self.sandbox if found else None

    def listing(self) -> list[tuple[str, S]]:
        return [(mask_secret(self._key), self.sandbox)]

    def set_rate_limit(self, value: float | None) -> None:
        self.sandbox.faults.rate_limit = value


class _NoAccounts:
    """The `Directory` of a sandbox without accounts."""

    many = False

    def __init__(self, scope: _PlainScope) -> None:
        self._scope = scope

    def process(self) -> Scope:
        return self._scope

    def find(self, key: str) -> Scope | None:
        return None

    def listing(self) -> list[tuple[str, Scope]]:
        return []

    def set_rate_limit(self, value: float | None) -> None:
        self._scope.faults.rate_limit = value


def is_loopback_peer(peer: str) -> bool:
    """Tell whether a socket peer (an IP address) is on loopback; names are never trusted."""
    return peer.lower() != "localhost" and is_loopback(peer)


def _host_name(host: str) -> str:
    """The name in a ``Host`` header, without the port (``[::1]:80`` → ``::1``)."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class Args:
    """The JSON object of one control call, read with typed getters.

    Every getter marks its name as used; `done` refuses names no getter read.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)
        self._used: set[str] = set()

    def has(self, name: str) -> bool:
        """Whether the call gives ``name`` (``null`` included)."""
        self._used.add(name)
        return name in self.data

    def raw(self, name: str) -> Any:
        """The value as sent (``None`` when absent)."""
        self._used.add(name)
        return self.data.get(name)

    def text(self, name: str, *, required: bool = False) -> str | None:
        """A string (a number is taken as its text)."""
        value = self.raw(name)
        if value is None:
            if required:
                raise ControlError(400, f"{name} is required", name)
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ControlError(400, f"{name} must be a string, got {value!r}", name)
        return str(value)

    def number(self, name: str) -> float | None:
        """A number, or ``None`` when absent or ``null``."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ControlError(400, f"{name} must be a number, got {value!r}", name)
        return float(value)

    def amount(self, name: str) -> Decimal | None:
        """A money amount: a decimal string or an integer (floats are refused)."""
        value = self.raw(name)
        if value is None:
            return None
        try:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise InvalidOperation
            amount = Decimal(value)
        except InvalidOperation:
            raise ControlError(
                400, f"{name} must be a decimal string, got {value!r}", name
            ) from None
        if not amount.is_finite():
            raise ControlError(400, f"{name} must be a finite amount, got {value!r}", name)
        return amount

    def date(self, name: str) -> dt.date | None:
        """A date as ``YYYY-MM-DD``."""
        text = self.text(name)
        if text is None:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ControlError(400, f"{name} must be YYYY-MM-DD, got {text!r}", name) from None

    def mapping(self, name: str) -> dict[str, str]:
        """An object of strings (e.g. a relation's elements)."""
        value = self.raw(name)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value.values()
        ):
            raise ControlError(400, f"{name} must be an object of strings", name)
        return {str(k): str(v) for k, v in value.items()}

    def done(self) -> None:
        """Refuse arguments no getter read (a typo would otherwise be ignored)."""
        unknown = sorted(set(self.data) - self._used)
        if unknown:
            raise ControlError(400, f"unknown arguments: {', '.join(unknown)}", unknown[0])


Call = Callable[[Args], Any]
_READS = frozenset({"info", "accounts", "stats", "faults"})
"""Calls that may also be made with ``GET`` (no arguments)."""


def faults_json(faults: Faults) -> dict[str, Any]:
    """A `Faults`' settings as JSON."""
    return {
        "latency": faults.latency,
        "rate_limit": faults.rate_limit,
        "error_rate": faults.error_rate,
        "error_kinds": list(faults.error_kinds),
        "pending": faults.pending,
    }


class ControlApi(Generic[S]):
    """The server side of ``/_control/``: faults and counters, per account where there are some.

    Services add their own calls (payments, relations) by extending `calls`.

    Args:
        directory: The accounts of the sandbox (see `OneAccount`).
        service: The service's name, shown by ``info``.
    """

    def __init__(self, directory: Directory[S], service: str = "sandbox") -> None:
        self.directory = directory
        self.service = service

    @classmethod
    def plain(cls, faults: Faults, stats: SandboxStats) -> ControlApi[Scope]:
        """The control of a sandbox without accounts: its faults and counters only."""
        return ControlApi(_NoAccounts(_PlainScope(faults, stats)))

    # --- HTTP --------------------------------------------------------------------------

    def answer(self, request: SandboxRequest, peer: str) -> SandboxResponse:
        """Answer one request under ``/_control``; ``peer`` is the client's IP address."""
        try:
            self._guard(request, peer)
            name = request.path[len(CONTROL_PATH) :].strip("/") or "info"
            call = self.calls().get(name)
            if call is None:
                raise ControlError(404, f"no control call {name!r}; GET {CONTROL_PATH}/ lists them")
            args = Args(self._body(request, name))
            result = call(args)
            args.done()
            return _json(200, result)
        except ControlError as refused:
            error = {"error": refused.message, "status": refused.status}
            return _json(
                refused.status, error | ({"field": refused.field} if refused.field else {})
            )
        except (KeyError, ValueError) as refused:  # a sandbox method's refusal (its text)
            text = refused.args[0] if refused.args else type(refused).__name__
            status = 404 if isinstance(refused, KeyError) else 409
            what = "not found" if status == 404 else "refused"
            return _json(status, {"error": f"{what}: {text}", "status": status})
        except Exception as error:  # a sandbox bug: an answer, not a dead connection
            return _json(500, {"error": f"control failed: {type(error).__name__}", "status": 500})

    def _guard(self, request: SandboxRequest, peer: str) -> None:
        if not is_loopback_peer(peer):
            raise ControlError(403, "the control endpoint answers clients on loopback only")
        if not is_loopback(_host_name(request.headers.get("Host", ""))):
            raise ControlError(403, "the control endpoint answers loopback host names only")
        if not is_control_path(request.path):
            raise ControlError(404, "not a control path")

    def _body(self, request: SandboxRequest, name: str) -> dict[str, Any]:
        if request.method == "GET":
            if name not in _READS:
                raise ControlError(405, f"{name} is called with POST")
            return {}
        if request.method != "POST":
            raise ControlError(405, "the control endpoint takes GET and POST")
        if not request.body.strip():
            return {}
        if not request.headers.get("Content-Type", "").startswith("application/json"):
            raise ControlError(415, "POST a JSON object (Content-Type: application/json)")
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError):
            raise ControlError(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise ControlError(400, "the body must be a JSON object")
        return data

    # --- the calls -------------------------------------------------------------------------

    def calls(self) -> dict[str, Call]:
        """Every call by name; services extend this."""
        return {
            "info": self._info,
            "accounts": self._accounts,
            "stats": self._stats,
            "reset_stats": self._reset_stats,
            "faults": self._faults,
            "set_faults": self._set_faults,
            "fail_next": self._fail_next,
            "clear_faults": self._clear_faults,
        }

    def scope(self, args: Args) -> Scope:
        """The scope a call names with ``account``: that account, else the process."""
        key = args.text("account")
        if key is None:
            return self.directory.process()
        return self.account(args)

    def account(self, args: Args) -> S:
        """The account a call names with ``account`` (required with many accounts)."""
        key = args.text("account")
        if key is None:
            if self.directory.many:
                raise ControlError(400, "account is required: this sandbox serves many", "account")
            listing = self.directory.listing()
            if not listing:
                raise ControlError(404, "this sandbox has no accounts")
            return listing[0][1]
        found = self.directory.find(key)
        if found is None:
            raise ControlError(404, "no such account", "account")
        return found

    def _info(self, args: Args) -> dict[str, Any]:
        return {
            "service": self.service,
            "many_accounts": self.directory.many,
            "accounts": len(self.directory.listing()),
            "calls": sorted(self.calls()),
        }

    def _accounts(self, args: Args) -> list[dict[str, Any]]:
        return [
            {"account": label, "requests": scope.stats.total}
            for label, scope in self.directory.listing()
        ]

    def _stats(self, args: Args) -> dict[str, Any]:
        named = args.has("account")
        scope = self.scope(args)
        found = scope.stats.snapshot()
        if not named and self.directory.many:
            found["accounts"] = [
                {"account": label, **account.stats.snapshot()}
                for label, account in self.directory.listing()
            ]
        return found

    def _reset_stats(self, args: Args) -> dict[str, Any]:
        for scope in self._scopes(args):
            scope.stats.reset()
        return {"reset": True}

    def _scopes(self, args: Args) -> list[Scope]:
        """The named account, or the process and (with many accounts) every account."""
        if args.has("account"):
            return [self.scope(args)]
        return [self.directory.process(), *(s for _, s in self.directory.listing())]

    def _faults(self, args: Args) -> dict[str, Any]:
        return faults_json(self.scope(args).faults)

    def _set_faults(self, args: Args) -> dict[str, Any]:
        named = args.has("account")
        faults = self.scope(args).faults
        try:
            if args.has("latency"):
                faults.latency = args.number("latency") or 0.0
            if args.has("error_rate"):
                faults.error_rate = args.number("error_rate") or 0.0
            if args.has("error_kinds"):
                faults.error_kinds = list(args.raw("error_kinds") or ())
            if args.has("rate_limit"):
                limit = args.number("rate_limit")
                if named or not self.directory.many:
                    faults.rate_limit = limit
                else:  # the services limit per account: set every account's limit
                    self.directory.set_rate_limit(limit)
        except (TypeError, ValueError) as refused:
            raise ControlError(400, str(refused)) from None
        return faults_json(faults)

    def _fail_next(self, args: Args) -> dict[str, Any]:
        scope = self.scope(args)
        count = args.number("count")
        kind = args.text("kind") or "500"
        if kind not in get_args(FaultKind):
            raise ControlError(400, f"kind must be one of {sorted(get_args(FaultKind))}", "kind")
        try:
            scope.fail_next(int(count or 1), kind, args.text("operation"))  # type: ignore[arg-type]
        except ValueError as refused:
            raise ControlError(400, str(refused)) from None
        return {"pending": scope.faults.pending}

    def _clear_faults(self, args: Args) -> dict[str, Any]:
        scopes = self._scopes(args)
        if not args.has("account") and self.directory.many:
            self.directory.set_rate_limit(None)
        for scope in scopes:
            scope.faults.latency = 0.0
            scope.faults.rate_limit = None
            scope.faults.error_rate = 0.0
            scope.faults.clear()
        return {"cleared": len(scopes)}


def _json(status: int, data: Any) -> SandboxResponse:
    return SandboxResponse.from_json(status, data, headers=[("Cache-Control", "no-store")])


# --- the client -----------------------------------------------------------------------------


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Any = _Unset()


class SandboxControl:
    """Drive a served sandbox's control endpoint from another process (or thread).

    Args:
        url: The sandbox's root URL as served, e.g. ``"http://127.0.0.1:8124"``.
        timeout: Seconds to wait for an answer.
        transport: An httpx transport (for tests); a plain one when omitted.

    Raises (from every call):
        NotFoundError: No such account, invoice or relation (HTTP 404).
        AuthenticationError: Refused: the client is not on loopback (403).
        RemoteValidationError: A bad argument, named in ``field`` (400).
        ConflictError: A refusal of the sandbox, e.g. an invoice already paid (409).
        APIError: Any other refusal.
        ConnectError: Nothing listens at ``url``.

    Example:
        ```python
        with SandboxControl("http://127.0.0.1:8124") as control:
            control.fail_next(2, "503", "AddMutatie", account="tenant-07")
            control.pay("F2026-001", "60.50", account="tenant-07")  # partly paid
            print(control.stats(account="tenant-07")["requests"])
        ```
    """

    def __init__(
        self, url: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        root = url.rstrip("/").removesuffix(CONTROL_PATH)
        self.url = root
        self._client = httpx.Client(base_url=f"{root}{CONTROL_PATH}/", timeout=timeout,
                                    transport=transport)  # fmt: skip

    def __enter__(self) -> SandboxControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection."""
        self._client.close()

    def __repr__(self) -> str:
        return f"SandboxControl({self.url!r})"

    def call(self, name: str, /, **arguments: Any) -> Any:
        """Make any control call with JSON arguments (``_UNSET`` ones are left out).

        Returns:
            The decoded JSON answer.
        """
        body = {k: v for k, v in arguments.items() if v is not _UNSET}
        try:
            response = self._client.post(name, json=body)
        except httpx.ConnectError as error:
            raise ConnectError(
                f"no sandbox answers at {self.url}: {error}", service=_SERVICE
            ) from None
        except httpx.TransportError as error:
            raise TransportError(f"sandbox control failed: {error}", service=_SERVICE) from None
        if response.status_code == 200:
            return response.json()
        raise _refusal(name, response)

    def info(self) -> dict[str, Any]:
        """The service, whether it serves many accounts, how many, and the calls it takes."""
        return dict(self.call("info"))

    def accounts(self) -> list[dict[str, Any]]:
        """Every account, masked, with its number of requests."""
        return list(self.call("accounts"))

    def stats(self, account: str | None = None) -> dict[str, Any]:
        """Counters: ``total``, ``requests`` per action, ``statuses``, ``faults``, ``rate_limited``.

        Args:
            account: One account's counters; the whole process's when omitted
                (with many accounts, plus ``accounts``: each one's, masked).
        """
        return dict(self.call("stats", account=_given(account)))

    def reset_stats(self, account: str | None = None) -> None:
        """Set counters back to zero: one account's, or all."""
        self.call("reset_stats", account=_given(account))

    def faults(self, account: str | None = None) -> dict[str, Any]:
        """Fault settings: latency, rate_limit, error_rate, error_kinds, pending."""
        return dict(self.call("faults", account=_given(account)))

    def set_faults(
        self,
        account: str | None = None,
        *,
        latency: float = _UNSET,
        rate_limit: float | None = _UNSET,
        error_rate: float = _UNSET,
        error_kinds: list[FaultKind] = _UNSET,
    ) -> dict[str, Any]:
        """Change fault settings; those not given stay.

        Args:
            account: One account's; the process's when omitted. With many
                accounts a ``rate_limit`` without ``account`` is set on every
                account (the services limit per account); ``None`` lifts it.
            latency: Seconds added to every answer.
            rate_limit: Requests per second before 429; ``None`` for no limit.
            error_rate: Share (0..1) of requests that get a random fault.
            error_kinds: The kinds random faults are drawn from.

        Returns:
            The settings now in force.
        """
        return dict(
            self.call(
                "set_faults", account=_given(account), latency=latency,
                rate_limit=rate_limit, error_rate=error_rate, error_kinds=error_kinds,
            )
        )  # fmt: skip

    def fail_next(
        self,
        count: int = 1,
        kind: FaultKind = "500",
        operation: str | None = None,
        *,
        account: str | None = None,
    ) -> int:
        """Queue faults for the next ``count`` requests (of one operation or action, if given).

        ``operation`` is what the sandbox's ``fail_next`` takes: a SOAP
        operation or ``"POST /v1/mutation"`` (e-Boekhouden), an action such as
        ``"klant_aanmaken"`` (DigitaleFactuur), a path prefix (others).

        Returns:
            How many one-shot faults are now queued in that scope.
        """
        found = self.call("fail_next", account=_given(account), count=count, kind=kind,
                          operation=_given(operation))  # fmt: skip
        return int(found["pending"])

    def clear_faults(self, account: str | None = None) -> None:
        """No latency, rate limit, random or queued faults: one account's, or everywhere."""
        self.call("clear_faults", account=_given(account))

    def pay(
        self, invoice_number: str, amount: Decimal | str | int | None = None, *,
        account: str | None = None, **details: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """Register a payment on an invoice: in full when ``amount`` is omitted, else a part.

        Args:
            invoice_number: The invoice's number.
            amount: The amount paid incl. VAT; what is outstanding when omitted.
            account: The account (required when the sandbox serves many).
            **details: e-Boekhouden: ``date`` (``YYYY-MM-DD``), ``relation_code``,
                ``administration`` (GUID).

        Returns:
            The invoice (DigitaleFactuur) or the payment booked (e-Boekhouden).
        """
        shown = None if amount is None else str(amount)
        return dict(self.call("pay", invoice_number=invoice_number, amount=_given(shown),
                              account=_given(account), **details))  # fmt: skip

    def edit_relation(
        self, relation_id: str, *, account: str | None = None, **elements: str
    ) -> dict[str, Any]:
        """DigitaleFactuur: change some elements of a relation, as a person does in DF's screens."""
        return dict(self.call("edit_relation", relation_id=relation_id, elements=elements,
                              account=_given(account)))  # fmt: skip

    def add_account(self, **credentials: str) -> dict[str, Any]:
        """Open an account on a many-account sandbox (its credentials, by name).

        DigitaleFactuur: ``account_id``, ``access_code``. e-Boekhouden:
        ``username``, ``security_code_1``, ``security_code_2`` and/or ``access_token``.
        """
        return dict(self.call("add_account", **credentials))


def _given(value: Any) -> Any:
    return _UNSET if value is None else value


def _refusal(name: str, response: httpx.Response) -> APIError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    text = str(body.get("error") or response.text[:200]) if isinstance(body, dict) else ""
    status = response.status_code
    message = f"sandbox control call {name!r} refused: {text}"
    kwargs: dict[str, Any] = {"service": _SERVICE, "status_code": status, "remote_message": text}
    if status == 400:
        return RemoteValidationError(message, field=str(body.get("field") or ""), **kwargs)
    kinds: dict[int, type[APIError]] = {
        403: AuthenticationError,
        404: NotFoundError,
        409: ConflictError,
    }
    return kinds.get(status, APIError)(message, **kwargs)
