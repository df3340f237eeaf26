"""The Mutatieservice calls of `KvKClient` and `AsyncKvKClient` (mixins), and its errors.

Three GETs below ``/v1/abonnementen`` (kvk.md §7, next-gen.md §7):

* ``/v1/abonnementen``: the customer's subscriptions (their ids never change);
* ``/v1/abonnementen/{id}?vanaf=&tot=&pagina=&aantal=``: a window of signals, paged;
* ``/v1/abonnementen/{id}/signalen/{signaalId}``: one signal's metadata.

They go through the client's HTTP core (rate limit, retries, answer cap) like
every KvK call, are never cached (a feed must be read fresh) and are counted
in ``usage.signal_calls``: the Mutatieservice is billed by its own contract,
not per query like the profiles (whether per request is not documented).

The Mutatieservice answers 401/403 with an RFC 7807 ``ProblemDetail``
(``{type, title, status, detail, instance}``), not KvK's ``fout`` list;
`parse_kvk_answer_error` reads both.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pydantic

from .._answers import Answer, _model_reason, excerpt
from .._redact import Redactor
from ..errors import (
    APIError,
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    RemoteValidationError,
    ServerError,
)
from ..errors import ValidationError as CrmValidationError
from ._errors import NO_RESULTS, parse_kvk_error
from ._signal_models import (
    SIGNAL_NAMES,
    Signal,
    SignalDetail,
    SignalNames,
    SignalPage,
    Subscription,
    SubscriptionList,
    UnreadableSignal,
)

if TYPE_CHECKING:
    from .._http import AsyncHTTP, QueryParams, SyncHTTP
    from ._client import KvKUsage

__all__ = ["AsyncSignalsMixin", "SignalsMixin", "parse_kvk_answer_error", "signal_time"]

DEFAULT_PER_PAGE = 100
"""KvK's default ``aantal`` (per a third-party source)."""

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
"""Subscription and signal ids go into the path: UUID-like text only."""
_M = TypeVar("_M", bound=pydantic.BaseModel)
_log = logging.getLogger(__name__)

OnUnreadable = Callable[[UnreadableSignal], None]
"""Told of each item of a window that cannot be read as a `Signal`."""


def _log_unreadable(item: UnreadableSignal) -> None:
    _log.warning("KvK signal %s cannot be read, skipped: %s", item.id or "(no id)", item.reason)


def signal_time(value: dt.datetime, field: str) -> str:
    """A window bound as KvK's ``vanaf``/``tot`` text: UTC, whole seconds (``...T15:25:13Z``).

    Raises:
        ValidationError: Not a datetime with a time zone (a naive one is ambiguous).
    """
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise CrmValidationError(field, value, "must be a datetime with a time zone (e.g. UTC)")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _identifier(field: str, value: object) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise CrmValidationError(field, value, "must be an id as KvK gives it (letters, digits, -)")
    return value


def _window_params(
    since: dt.datetime, until: dt.datetime | None, page: int, per_page: int, names: SignalNames
) -> list[tuple[str, str]]:
    params = [("vanaf", signal_time(since, "since"))]
    if until is not None:
        if signal_time(until, "until") <= params[0][1]:
            raise CrmValidationError("until", until, "must be later than since")
        params.append(("tot", signal_time(until, "until")))
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise CrmValidationError("page", page, "must be a whole number from 1")
    low, high = names.min_per_page, names.max_per_page
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not low <= per_page <= high:
        raise CrmValidationError("per_page", per_page, f"must be between {low} and {high}")
    return [*params, ("pagina", str(page)), ("aantal", str(per_page))]


def _read(
    text: str, status: int, redact: Redactor, model: type[_M], path: str, names: SignalNames
) -> _M:
    answer = Answer("kvk", status, text, redact)
    try:
        data = answer.as_object(answer.json(), f"the answer to {path}")
        try:
            return model.model_validate(data, context={"names": names})
        except (pydantic.ValidationError, RecursionError) as exc:
            reason = _model_reason(model, exc)
        answer.fail(reason)
    except MalformedResponseError as exc:
        exc.context["path"] = path
        error = exc
    raise error  # outside the except block: nothing chained


def _last(page: SignalPage, new: int, number: int, per_page: int, empty_before: bool) -> bool:
    """Whether a page ends the walk.

    The answer's ``totaalPaginas`` is followed, past an empty page too; an
    empty page ends the walk only when the answer gives no total (or after
    an empty page: a guard against a total that never comes). A page of only
    repeats ends it too: no endless loop on a server that ignores ``pagina``.
    """
    items = len(page.signals) + len(page.unreadable)
    if items and new == 0:
        return True
    if page.total_pages is not None:
        return number >= page.total_pages or (items == 0 and empty_before)
    return items < per_page


class _Walk:
    """One window's walk over pages: each item once, unreadable ones told apart."""

    def __init__(self, on_unreadable: OnUnreadable | None) -> None:
        self.seen: set[str] = set()
        self.told: list[Any] = []
        self.on_unreadable = on_unreadable or _log_unreadable
        self.empty_before = False

    def take(self, page: SignalPage, number: int, per_page: int) -> tuple[list[Signal], bool]:
        """The page's new signals (telling its new unreadable items) and whether it is the last."""
        new = [s for s in page.signals if s.id not in self.seen]
        self.seen.update(s.id for s in new)
        fresh = [u for u in page.unreadable if u.raw not in self.told]
        for item in fresh:
            self.told.append(item.raw)
            self.on_unreadable(item)
        last = _last(page, len(new) + len(fresh), number, per_page, self.empty_before)
        self.empty_before = not (page.signals or page.unreadable)
        return new, last


_NO_RESULTS_TEXT = re.compile(r"geen (gegevens|resultaten|signalen)|no results", re.IGNORECASE)


def _empty_window(error: NotFoundError, page: int) -> SignalPage:
    """A 404 that says "no results" as an empty page; any other not-found raised again.

    Assumption: how the Mutatieservice answers an empty window is not documented
    (next-gen.md §7); KvK's Zoeken answers "no results" with 404 IPD5200, so that
    code, or a text saying so, is taken as an empty window. A 404 for an unknown
    subscription (e.g. IPD0001) still raises `NotFoundError`.
    """
    text = error.remote_message or ""
    if error.code != NO_RESULTS and not _NO_RESULTS_TEXT.search(text):
        raise error
    return SignalPage(pagina=page, totaal=0, totaalPaginas=0)


class _SignalCalls:
    """What the mixins share: paths, parameters and parsing (no I/O)."""

    _redact: Redactor
    usage: KvKUsage

    @staticmethod
    def _page_path(subscription_id: str) -> str:
        return f"v1/abonnementen/{_identifier('subscription_id', subscription_id)}"

    @staticmethod
    def _detail_path(subscription_id: str, signal_id: str) -> str:
        sub = _identifier("subscription_id", subscription_id)
        return f"v1/abonnementen/{sub}/signalen/{_identifier('signal_id', signal_id)}"

    def _parse(
        self,
        response: httpx.Response,
        model: type[_M],
        path: str,
        names: SignalNames = SIGNAL_NAMES,
    ) -> _M:
        self.usage.count_signal_call()
        return _read(response.text, response.status_code, self._redact, model, path, names)


class SignalsMixin(_SignalCalls):
    """The Mutatieservice on the blocking `KvKClient`."""

    _http: SyncHTTP

    def _get(self, path: str, params: QueryParams = ()) -> httpx.Response:
        return self._http.request("GET", path, params=params, idempotent=True)

    def subscriptions(self) -> list[Subscription]:
        """The customer's active Mutatieservice subscriptions (fetch once: ids never change).

        Raises:
            AuthenticationError: The key has no Mutatieservice contract (401/403).
        """
        path = "v1/abonnementen"
        return self._parse(self._get(path), SubscriptionList, path).subscriptions

    def signal_page(
        self,
        subscription_id: str,
        *,
        since: dt.datetime,
        until: dt.datetime | None = None,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
        names: SignalNames = SIGNAL_NAMES,
    ) -> SignalPage:
        """One page of a subscription's signals in a window (see `signals` for all).

        A 404 saying "no results" (IPD5200, as KvK's Zoeken) is an empty page (assumed).
        """
        path = self._page_path(subscription_id)
        params = _window_params(since, until, page, per_page, names)
        try:
            response = self._get(path, params)
        except NotFoundError as exc:
            self.usage.count_signal_call()
            return _empty_window(exc, page)
        return self._parse(response, SignalPage, path, names)

    def signals(
        self,
        subscription_id: str,
        *,
        since: dt.datetime,
        until: dt.datetime | None = None,
        per_page: int = DEFAULT_PER_PAGE,
        names: SignalNames = SIGNAL_NAMES,
        on_unreadable: OnUnreadable | None = None,
    ) -> Iterator[Signal]:
        """Yield every signal of a window (``vanaf``/``tot``), page after page, each once.

        Args:
            subscription_id: The subscription's id (from `subscriptions`).
            since: Start of the window (aware datetime; sent in whole UTC seconds).
            until: End of the window; open (up to now) when omitted.
            per_page: Signals per request (``aantal``; 10 to 500 by `SignalNames`).
            names: The wire names and signal types to read with.
            on_unreadable: Told of each item that cannot be read as a `Signal`
                (an `UnreadableSignal`); logged as a warning when omitted. Such
                an item never fails the window.

        Raises:
            ValidationError: A bad id, window or page size; nothing was sent.
            AuthenticationError: No Mutatieservice contract for the key.
            NotFoundError: No such subscription.
        """
        _window_params(since, until, 1, per_page, names)  # checked before the first request
        walk = _Walk(on_unreadable)
        number = 1
        while True:
            page = self.signal_page(
                subscription_id,
                since=since,
                until=until,
                page=number,
                per_page=per_page,
                names=names,
            )
            new, last = walk.take(page, number, per_page)
            yield from new
            if last:
                return
            number += 1

    def signal(self, subscription_id: str, signal_id: str) -> SignalDetail:
        """One signal's detail: which data of the registration changed (not the new values)."""
        path = self._detail_path(subscription_id, signal_id)
        return self._parse(self._get(path), SignalDetail, path)


class AsyncSignalsMixin(_SignalCalls):
    """The Mutatieservice on `AsyncKvKClient` (see `SignalsMixin`)."""

    _http: AsyncHTTP

    async def _get(self, path: str, params: QueryParams = ()) -> httpx.Response:
        return await self._http.request("GET", path, params=params, idempotent=True)

    async def subscriptions(self) -> list[Subscription]:
        """The customer's subscriptions (see `KvKClient.subscriptions`)."""
        path = "v1/abonnementen"
        return self._parse(await self._get(path), SubscriptionList, path).subscriptions

    async def signal_page(
        self,
        subscription_id: str,
        *,
        since: dt.datetime,
        until: dt.datetime | None = None,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
        names: SignalNames = SIGNAL_NAMES,
    ) -> SignalPage:
        """One page of signals (see `KvKClient.signal_page`)."""
        path = self._page_path(subscription_id)
        params = _window_params(since, until, page, per_page, names)
        try:
            response = await self._get(path, params)
        except NotFoundError as exc:
            self.usage.count_signal_call()
            return _empty_window(exc, page)
        return self._parse(response, SignalPage, path, names)

    async def signals(
        self,
        subscription_id: str,
        *,
        since: dt.datetime,
        until: dt.datetime | None = None,
        per_page: int = DEFAULT_PER_PAGE,
        names: SignalNames = SIGNAL_NAMES,
        on_unreadable: OnUnreadable | None = None,
    ) -> AsyncIterator[Signal]:
        """Yield every signal of a window, each once (see `KvKClient.signals`)."""
        _window_params(since, until, 1, per_page, names)
        walk = _Walk(on_unreadable)
        number = 1
        while True:
            page = await self.signal_page(
                subscription_id,
                since=since,
                until=until,
                page=number,
                per_page=per_page,
                names=names,
            )
            new, last = walk.take(page, number, per_page)
            for signal in new:
                yield signal
            if last:
                return
            number += 1

    async def signal(self, subscription_id: str, signal_id: str) -> SignalDetail:
        """One signal's detail (see `KvKClient.signal`)."""
        path = self._detail_path(subscription_id, signal_id)
        return self._parse(await self._get(path), SignalDetail, path)


# --- errors ---------------------------------------------------------------------------------

_PROBLEM_KEYS = frozenset({"type", "title", "status", "detail", "instance"})


def parse_kvk_answer_error(response: httpx.Response, redact: Redactor) -> APIError | None:
    """KvK's error answers in either shape: ``fout`` (IPD codes) or RFC 7807 ``ProblemDetail``.

    A ``ProblemDetail`` (the Mutatieservice's 401/403, and whatever else uses
    it) maps by status like the ``fout`` shape: 401/403 `AuthenticationError`,
    404 `NotFoundError`, 400/422 `RemoteValidationError`, 5xx `ServerError`
    (retried), 429 `RateLimitError`; its ``title``/``detail`` become the
    remote message. Every other answer goes to the ``fout`` parser.
    """
    problem = _problem(response, redact) if response.status_code >= 400 else None
    if problem is None or response.status_code == 429:
        return parse_kvk_error(response, redact)
    status = response.status_code
    text = redact(problem)
    kwargs: dict[str, Any] = {
        "service": "kvk",
        "status_code": status,
        "remote_message": text,
        "context": {"url": redact(str(response.request.url))},
    }
    message = f"KvK answered {status}: {text}"
    if status >= 500:
        return ServerError(message, **kwargs)
    if status in (401, 403):
        return AuthenticationError(message, **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status in (400, 422):
        return RemoteValidationError(message, field="", **kwargs)
    return APIError(message, **kwargs)


def _problem(response: httpx.Response, redact: Redactor) -> str | None:
    """``title: detail`` of a ProblemDetail body (masked, one line), or ``None``."""
    try:
        body = Answer.of(response, service="kvk", redact=redact).json()
    except MalformedResponseError:
        return None
    if not isinstance(body, dict) or "fout" in body or "meldingen" in body:
        return None
    if not _PROBLEM_KEYS & set(body) or not ({"title", "detail"} & set(body)):
        return None
    parts = [body.get("title"), body.get("detail")]
    text = ": ".join(str(p) for p in parts if isinstance(p, str | int) and str(p).strip())
    return " ".join(excerpt(text or "(no detail)", redact).split())
