"""The one HTTP core of crmconnect, on httpx.

`SyncHTTP` and `AsyncHTTP` share `BaseHTTP`, which does no I/O: URLs,
headers, redaction, logging and the mapping of failures onto
`crmconnect.errors`. The two subclasses add only the sending, with the
rate limiter and the retry policy around it.

Ownership: a client passed in as ``http_client`` is borrowed and never closed
here; one created here (optionally on an injected ``transport``) is closed by
`close()`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs
import httpx
import tenacity

from ._answers import DEFAULT_MAX_ANSWER_BYTES, Answer
from ._ratelimit import RateLimiter, TokenBucket
from ._redact import Redactor
from ._retry import RetryPolicy
from ._version import __version__
from .errors import APIError, ConnectError, TimeoutError, TransportError

__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "AsyncHTTP",
    "BaseHTTP",
    "ErrorParser",
    "HTTPSettings",
    "QueryParams",
    "SyncHTTP",
    "parse_retry_after",
]

logger = logging.getLogger("crmconnect.http")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = f"crmconnect/{__version__} httpx/{httpx.__version__}"

QueryParams: TypeAlias = Sequence[tuple[str, str]]
ErrorParser: TypeAlias = Callable[[httpx.Response, Redactor], APIError | None]
"""Turns an error response into the service's typed error; ``None`` means no error."""


@attrs.frozen
class HTTPSettings:
    """What one service's HTTP core needs to know.

    Attributes:
        service: Short name used in errors and logs, e.g. ``"kvk"``.
        base_url: Root URL; request paths are appended to it.
        headers: Headers sent with every request (secrets included: they are
            registered with the redactor by the caller).
        timeout: httpx timeout for a client created here.
        retry: The retry policy.
        limiter: The token bucket that spaces requests.
        error_parser: The service's mapping of error responses.
        on_response: Called with every response before error mapping
            (e.g. to surface deprecation headers).
        max_answer_bytes: The largest body read (decoded); a larger one is a
            `MalformedResponseError`, so a hostile or broken server cannot
            exhaust memory.
    """

    service: str
    base_url: str
    error_parser: ErrorParser
    headers: Mapping[str, str] = attrs.field(factory=dict)
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    limiter: RateLimiter = attrs.field(factory=lambda: TokenBucket(None))
    on_response: Callable[[httpx.Response], None] | None = None
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES


class BaseHTTP:
    """Everything but the I/O: URLs, headers, redaction, error mapping."""

    def __init__(self, settings: HTTPSettings, redactor: Redactor) -> None:
        self.settings = settings
        self.redact = redactor
        self._closed = False

    def url(self, path: str) -> str:
        """Join the base URL and a path, always keeping the base path (a full URL stays)."""
        if path.startswith(("https://", "http://")):
            return path
        return self.settings.base_url.rstrip("/") + "/" + path.lstrip("/")

    def build_request(
        self,
        client: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        params: QueryParams | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Request:
        """Build the request with the service's headers and our user agent."""
        if self._closed:
            raise RuntimeError(f"the {self.settings.service} client is closed")
        merged = {"User-Agent": USER_AGENT, **self.settings.headers, **(headers or {})}
        return client.build_request(
            method, self.url(path), params=list(params or ()), content=content, headers=merged
        )

    def transport_error(self, exc: httpx.TransportError) -> TransportError:
        """Map an httpx failure onto our tree, with secrets (e.g. in URLs) masked."""
        service = self.settings.service
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        url = self._request_url(exc)
        message = self.redact(f"{service}: {what} ({url})")
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return ConnectError(message, service=service)
        if isinstance(exc, httpx.TimeoutException):
            return TimeoutError(message, service=service)
        return TransportError(message, service=service)

    def check(self, response: httpx.Response, started: float) -> httpx.Response:
        """Log the response, run the hook, and raise the mapped error if it is one."""
        elapsed = (time.monotonic() - started) * 1000
        logger.debug(
            "%s %s -> %s (%.0f ms)",
            response.request.method,
            self.redact(str(response.request.url)),
            response.status_code,
            elapsed,
        )
        if self.settings.on_response is not None:
            self.settings.on_response(response)
        error = self.settings.error_parser(response, self.redact)
        if error is not None:
            raise self.redact.scrub(error)
        return response

    def too_large(self, response: httpx.Response, size: int | None) -> None:
        """Fail when a body is (or says it is) larger than ``max_answer_bytes``."""
        cap = self.settings.max_answer_bytes
        if size is not None and size > cap:
            answer = Answer(self.settings.service, response.status_code, b"", self.redact)
            answer.fail(f"the body is larger than max_answer_bytes ({cap:,} bytes)")

    def declared_size(self, response: httpx.Response) -> int | None:
        """The ``Content-Length`` a response declares, when it is a number."""
        value = response.headers.get("Content-Length", "")
        return int(value) if value.isdigit() else None

    def retrying_kwargs(self, idempotent: bool) -> dict[str, Any]:
        """Tenacity arguments: everything retriable, or only unsent requests."""
        return self.settings.retry.tenacity_kwargs(only=None if idempotent else ConnectError)

    @staticmethod
    def _request_url(exc: httpx.TransportError) -> str:
        try:
            return str(exc.request.url)
        except RuntimeError:  # httpx raises when no request is attached
            return "no request"


class SyncHTTP(BaseHTTP):
    """Blocking HTTP core."""

    def __init__(
        self,
        settings: HTTPSettings,
        redactor: Redactor,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(settings, redactor)
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(transport=transport, timeout=settings.timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
    ) -> httpx.Response:
        """Send a request with rate limiting and the retry policy.

        Args:
            method: HTTP method.
            path: Path below the base URL.
            params: Query parameters in order (repeat a name for list values).
            content: Request body.
            headers: Extra headers for this request.
            idempotent: ``False`` for creates: then only unsent requests are retried.

        Returns:
            The successful response.
        """
        for attempt in tenacity.Retrying(**self.retrying_kwargs(idempotent)):
            with attempt:
                return self._send_once(method, path, params, content, headers)
        raise AssertionError("unreachable: tenacity re-raises")  # pragma: no cover

    def _send_once(
        self,
        method: str,
        path: str,
        params: QueryParams | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        request = self.build_request(self._client, method, path, params, content, headers)
        self.settings.limiter.acquire()
        started = time.monotonic()
        try:
            response = self._client.send(request, stream=True)
            try:
                self._read_capped(response)
            finally:
                response.close()
        except httpx.TransportError as exc:
            error = self.transport_error(exc)
        else:
            return self.check(response, started)
        raise error  # outside the except: the httpx error (with the raw URL) is not chained

    def _read_capped(self, response: httpx.Response) -> None:
        self.too_large(response, self.declared_size(response))
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            self.too_large(response, size)
            chunks.append(chunk)
        response._content = b"".join(chunks)  # what httpx's own read() stores

    def close(self) -> None:
        """Close the underlying client if it was created here."""
        if self._owns_client and not self._closed:
            self._client.close()
        self._closed = True


class AsyncHTTP(BaseHTTP):
    """Asynchronous HTTP core (asyncio or trio, through anyio)."""

    def __init__(
        self,
        settings: HTTPSettings,
        redactor: Redactor,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(settings, redactor)
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            transport=transport, timeout=settings.timeout
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
    ) -> httpx.Response:
        """Send a request with rate limiting and the retry policy (see `SyncHTTP.request`)."""
        async for attempt in tenacity.AsyncRetrying(**self.retrying_kwargs(idempotent)):
            with attempt:
                return await self._send_once(method, path, params, content, headers)
        raise AssertionError("unreachable: tenacity re-raises")  # pragma: no cover

    async def _send_once(
        self,
        method: str,
        path: str,
        params: QueryParams | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        request = self.build_request(self._client, method, path, params, content, headers)
        await self.settings.limiter.acquire_async()
        started = time.monotonic()
        try:
            response = await self._client.send(request, stream=True)
            try:
                await self._read_capped(response)
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            error = self.transport_error(exc)
        else:
            return self.check(response, started)
        raise error  # outside the except: the httpx error (with the raw URL) is not chained

    async def _read_capped(self, response: httpx.Response) -> None:
        self.too_large(response, self.declared_size(response))
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            self.too_large(response, size)
            chunks.append(chunk)
        response._content = b"".join(chunks)  # what httpx's own aread() stores

    async def aclose(self) -> None:
        """Close the underlying client if it was created here."""
        if self._owns_client and not self._closed:
            await self._client.aclose()
        self._closed = True


def parse_retry_after(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header: seconds, or an HTTP date.

    Args:
        value: The header value, or ``None``.

    Returns:
        Seconds to wait (never negative), or ``None`` when absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
