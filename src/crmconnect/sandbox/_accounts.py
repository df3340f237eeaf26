"""Many accounts behind one sandbox handler: each account its own sandbox, books and counters.

`MultiAccountSandbox` is the shared part of `DigitaleFactuurMultiSandbox` and
`EBoekhoudenMultiSandbox`. Each account is a complete single-account sandbox
(its books, its `Faults`, its `SandboxStats`), found from the credentials of
each request; the multi-account sandbox is the `Handler` that is served, and
it has `Faults` and `SandboxStats` of its own for the whole process.

A request passes the process's faults first (latency, random errors, one-shot
faults of any account), then its account's (its rate limit, its one-shot
faults), then the account's sandbox answers. Requests with no account (bad
URLs, unknown or malformed credentials) are answered by a *fallback* sandbox
whose credentials nobody knows, so they are refused exactly as a
single-account sandbox refuses them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from ._control import ControlApi, Scope
from ._core import (
    FaultKind,
    Faults,
    SandboxRequest,
    SandboxResponse,
    SandboxStats,
    SandboxTransport,
    ServiceHandler,
    _Pipeline,
    serve,
)

__all__ = ["MultiAccountSandbox", "load_accounts"]


class _AccountSandbox(ServiceHandler, Scope, Protocol):
    """What an account's sandbox offers: a service handler with faults and counters."""


A = TypeVar("A", bound=_AccountSandbox)


class MultiAccountSandbox(Generic[A]):
    """Routes each request to its account's sandbox; opens accounts on first use if asked.

    Subclasses say how a request names its account (`_route`) and how an
    account is shown (`_label`), and open accounts with `_register`.

    Args:
        fallback: Answers requests that belong to no account (it refuses them).
        any_account: Open fresh books for any well-formed credentials.
        latency: Seconds added to every answer (the whole process).
        rate_limit: Requests per second per account before 429; none when ``None``.
        error_rate: Share (0..1) of all requests that get a random fault.

    Attributes:
        faults: The process's faults: latency, random errors, one-shot faults
            of any account. Each account's own are ``account(...).faults``.
        stats: Counters of every request; each account's are ``account(...).stats``.
    """

    many = True

    def __init__(
        self,
        fallback: A,
        *,
        any_account: bool,
        latency: float,
        rate_limit: float | None,
        error_rate: float = 0.0,
    ) -> None:
        self.any_account = any_account
        self.faults = Faults(latency=latency, error_rate=error_rate)
        self.stats = SandboxStats()
        self._fallback = fallback
        self._rate_limit = rate_limit
        self._lock = threading.RLock()
        self._accounts: dict[str, A] = {}
        self._pipelines: dict[int, _Pipeline] = {}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(accounts={len(self._accounts)}, "
            f"any_account={self.any_account!r}, faults={self.faults!r})"
        )

    # --- what subclasses provide ---------------------------------------------------

    def _route(self, request: SandboxRequest) -> A | None:
        """The account a request belongs to (opening it if allowed), or ``None``."""
        raise NotImplementedError

    def _label(self, sandbox: A) -> str:
        """How an account is shown: masked."""
        raise NotImplementedError

    def find(self, key: str) -> A | None:
        """The account with this key, or ``None``."""
        raise NotImplementedError

    def _control(self) -> ControlApi[Any]:
        """What answers ``/_control/`` when served."""
        return ControlApi(self)

    def _register(self, key: str, sandbox: A) -> A:
        """Store a new account under ``key``, with the per-account rate limit."""
        with self._lock:
            if key in self._accounts:
                raise ValueError("this account exists already")
            sandbox.faults.rate_limit = self._rate_limit
            self._accounts[key] = sandbox
            self._pipelines[id(sandbox)] = _Pipeline(sandbox, sandbox.faults, sandbox.stats)
            return sandbox

    # --- the accounts ---------------------------------------------------------------

    @property
    def accounts(self) -> list[A]:
        """Every account's sandbox, in the order they were opened."""
        with self._lock:
            return list(self._accounts.values())

    def listing(self) -> list[tuple[str, A]]:
        """Every account with its masked label."""
        return [(self._label(sandbox), sandbox) for sandbox in self.accounts]

    def process(self) -> Scope:
        """The whole process as a control scope (its faults and counters)."""
        return self

    def fail_next(
        self, count: int = 1, kind: FaultKind = "500", operation: str | None = None
    ) -> None:
        """Queue faults for the next ``count`` requests of any account; see the subclass."""
        raise NotImplementedError

    @property
    def rate_limit(self) -> float | None:
        """The per-account rate limit (requests per second), new accounts included."""
        return self._rate_limit

    def set_rate_limit(self, value: float | None) -> None:
        """Set every account's rate limit, and that of accounts opened later."""
        with self._lock:
            self._rate_limit = value
            for sandbox in self._accounts.values():
                sandbox.faults.rate_limit = value

    # --- running it ----------------------------------------------------------------

    def transport(self) -> SandboxTransport:
        """An httpx transport (sync and async) answering every account in-process."""
        return SandboxTransport(self, self.faults, self.stats)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False
    ) -> contextlib.AbstractContextManager[str]:
        """Serve every account over loopback HTTP in a ``with`` block; yields the root URL.

        The control endpoint ``/_control/`` is served too (loopback clients only).
        """
        return serve(
            self, self.faults, host, port, stats=self.stats, allow_remote=allow_remote,
            control=self._control(),
        )  # fmt: skip

    # --- the Handler protocol ------------------------------------------------------

    def _account_pipeline(self, request: SandboxRequest) -> _Pipeline | None:
        """The faults and counters of the request's account (see `crmconnect.sandbox._core`)."""
        sandbox = self._route(request)
        if sandbox is None:
            return None
        with self._lock:
            return self._pipelines[id(sandbox)]

    def __call__(self, request: SandboxRequest) -> SandboxResponse:
        """Answer one request from its account's books (the fallback refuses the rest)."""
        return (self._route(request) or self._fallback)(request)

    def render_error(
        self, request: SandboxRequest, status: int, retry_after: int | None = None
    ) -> SandboxResponse:
        """Injected errors as the service shapes them."""
        return self._fallback.render_error(request, status, retry_after)

    def route_path(self, request: SandboxRequest) -> str:
        """The path faults and counters see, as the single-account sandbox's."""
        route_path: Callable[[SandboxRequest], str] | None = getattr(
            self._fallback, "route_path", None
        )
        return route_path(request) if route_path is not None else request.path

    def path_family(self, path: str) -> str:
        """The counter of a route path, as the single-account sandbox's."""
        return self._fallback.path_family(path)


def load_accounts(path: str | Path) -> list[dict[str, str]]:
    """Read a list of accounts: JSON (``.json``) or TOML (anything else).

    JSON: a list of objects, or ``{"accounts": [...]}``. TOML: ``[[accounts]]``
    tables. Each account is an object of strings (numbers are taken as their text).

    Raises:
        ValueError: The file is not such a list (the message names no value).
    """
    file = Path(path)
    text = file.read_text("utf-8")
    data: Any = json.loads(text) if file.suffix.lower() == ".json" else tomllib.loads(text)
    if isinstance(data, dict):
        data = data.get("accounts")
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise ValueError(f"{file.name}: expected a list of accounts ([[accounts]] in TOML)")
    found = []
    for number, entry in enumerate(data, start=1):
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in entry.values()):
            raise ValueError(f"{file.name}: account {number} has a value that is not text")
        found.append({str(k): str(v) for k, v in entry.items()})
    return found
